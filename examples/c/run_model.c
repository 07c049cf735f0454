/* Runs any compiled model from C: loads MODEL.so, fills each input with a
 * ramp (a run-time dim becomes 1 unless given as NAME=N after the model),
 * runs it and prints each output's shape and the sum of its elements.
 *
 *   cc run_model.c $(pkg-config --cflags --libs mlc) -o run_model
 *   ./run_model model.so batch=2
 */
#include <mlc/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  fprintf(stderr, "run_model: %s: %s\n", what, mlc_last_error());
  return 1;
}

/* The value of a run-time dim: NAME=N from the command line, else 1. */
static int64_t dimValue(const char *name, int argc, char **argv) {
  size_t n = strlen(name);
  for (int i = 2; i < argc; ++i)
    if (n && strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
      return atoll(argv[i] + n + 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: run_model MODEL.so [DIM=N ...]\n");
    return 2;
  }
  mlc_model *model = NULL;
  if (mlc_model_load(argv[1], &model) != MLC_OK)
    return fail("load");
  size_t ni = mlc_model_num_inputs(model), no = mlc_model_num_outputs(model);
  mlc_tensor *in = calloc(ni, sizeof *in), *out = calloc(no, sizeof *out);
  for (size_t i = 0; i < ni; ++i) {
    mlc_tensor_info info;
    mlc_model_input_info(model, i, &info);
    in[i].dtype = info.dtype;
    in[i].rank = info.rank;
    size_t count = 1;
    for (int32_t d = 0; d < info.rank; ++d) {
      in[i].shape[d] = info.dims[d] >= 0 ? info.dims[d] : dimValue(info.dim_names[d], argc, argv);
      count *= (size_t)in[i].shape[d];
    }
    in[i].size_bytes = count * mlc_dtype_size(info.dtype);
    in[i].data = calloc(count ? count : 1, mlc_dtype_size(info.dtype));
    if (info.dtype == MLC_DTYPE_F32)
      for (size_t k = 0; k < count; ++k)
        ((float *)in[i].data)[k] = (float)(k % 17) / 17.0f - 0.5f;
  }
  mlc_session *session = NULL;
  if (mlc_session_create(model, &session) != MLC_OK)
    return fail("session");
  if (mlc_session_run(session, in, ni, out, no) != MLC_OK)
    return fail("run");
  for (size_t i = 0; i < no; ++i) {
    mlc_tensor_info info;
    mlc_model_output_info(model, i, &info);
    printf("%s: %s [", info.name, mlc_dtype_name(out[i].dtype));
    size_t count = 1;
    for (int32_t d = 0; d < out[i].rank; ++d) {
      printf(d ? "x%lld" : "%lld", (long long)out[i].shape[d]);
      count *= (size_t)out[i].shape[d];
    }
    double sum = 0;
    if (out[i].dtype == MLC_DTYPE_F32)
      for (size_t k = 0; k < count; ++k)
        sum += ((const float *)out[i].data)[k];
    printf("] sum %.6f\n", sum);
    mlc_tensor_release(&out[i]);
  }
  for (size_t i = 0; i < ni; ++i)
    free(in[i].data);
  free(in);
  free(out);
  mlc_session_free(session);
  mlc_model_free(model);
  return 0;
}

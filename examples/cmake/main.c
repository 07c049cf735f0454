/* Classifies two rows with the model compiled by mlc_add_model(mlp ...):
 * the generated header mlp.h gives the library's path, the names and the
 * static sizes of its input and output. */
#include "mlp.h"

#include <math.h>
#include <stdio.h>

int main(void) {
  static float x[MLP_INPUT_0_NUM_ELEMENTS], probs[MLP_OUTPUT_0_NUM_ELEMENTS];
  const int64_t xdims[] = MLP_INPUT_0_DIMS, pdims[] = MLP_OUTPUT_0_DIMS;
  for (int i = 0; i < MLP_INPUT_0_NUM_ELEMENTS; ++i)
    x[i] = (float)(i % 7) / 7.0f - 0.5f;

  mlc_model *model = NULL;
  mlc_session *session = NULL;
  if (mlc_model_load(MLP_SO_PATH, &model) != MLC_OK ||
      mlc_session_create(model, &session) != MLC_OK) {
    fprintf(stderr, "classify: %s\n", mlc_last_error());
    return 1;
  }
  mlc_tensor in = {x, sizeof x, MLP_INPUT_0_DTYPE, MLP_INPUT_0_RANK, {0}};
  mlc_tensor out = {probs, sizeof probs, MLP_OUTPUT_0_DTYPE, MLP_OUTPUT_0_RANK, {0}};
  for (int d = 0; d < MLP_INPUT_0_RANK; ++d)
    in.shape[d] = xdims[d];
  for (int d = 0; d < MLP_OUTPUT_0_RANK; ++d)
    out.shape[d] = pdims[d];
  if (mlc_session_run(session, &in, 1, &out, 1) != MLC_OK) {
    fprintf(stderr, "classify: %s\n", mlc_last_error());
    return 1;
  }
  int ok = 1;
  for (int64_t r = 0; r < pdims[0]; ++r) {
    double sum = 0;
    int best = 0;
    for (int64_t c = 0; c < pdims[1]; ++c) {
      sum += probs[r * pdims[1] + c];
      if (probs[r * pdims[1] + c] > probs[r * pdims[1] + best])
        best = (int)c;
    }
    printf("row %lld: class %d (p=%.4f)\n", (long long)r, best, probs[r * pdims[1] + best]);
    ok &= fabs(sum - 1.0) < 1e-4; /* softmax rows sum to 1 */
  }
  mlc_session_free(session);
  mlc_model_free(model);
  return ok ? 0 : 1;
}

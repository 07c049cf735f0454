/*===- fake_model.c - a hand-written model table, for runtime tests ----===*
 *
 * One input x [n] (symbolic dim "n") and output y = 2x + 2, computed by
 * three kernels through the execution context: "scale" (1000 FLOPs) once,
 * then "offset" (FLOPs unknown) twice. Built with the system C compiler by
 * test/unit/runtime_test.cpp and test/lit/cli/cli.test:
 *   -DV1                  an ABI v1 table (exported as ENTRY, no context)
 *   -DENTRY=mlc_model_vN  the exported entry (default mlc_model_v2)
 *   -DTABLE_VERSION=N     the table's abi_version field (default 2)
 *   -DEXPORT_TABLE        also export the v2 table as data (mlc_model_v2_table)
 *   -DNUM_INPUTS=N        the table's input count (default 1, the list's length)
 *
 *===---------------------------------------------------------------------===*/
#include "mlc/abi.h"
#include <stdint.h>
#include <stdlib.h>

#ifndef ENTRY
#define ENTRY mlc_model_v2
#endif
#ifndef TABLE_VERSION
#define TABLE_VERSION 2
#endif
#ifndef NUM_INPUTS
#define NUM_INPUTS 1
#endif
#ifdef EXPORT_TABLE
#define TABLE mlc_model_v2_table
#else
#define TABLE static table
#endif

static const int64_t dims[1] = {-1};
static const char *const names[1] = {"n"};
static const mlc_abi_tensor_v1 ins[1] = {{"x", 1, 1, dims, names}};
static const mlc_abi_tensor_v1 outs[1] = {{"y", 1, 1, dims, names}};
static const mlc_abi_kernel_v2 kernels[2] = {{"scale", 1000}, {"offset", -1}};
int fake_num_threads, fake_ctx_size;

typedef struct { const float *x; float *y; } job;
static void scale(void *c, int64_t b, int64_t e) {
  job *j = (job *)c;
  for (int64_t i = b; i < e; ++i) j->y[i] = 2.0f * j->x[i];
}
static void offset(void *c, int64_t b, int64_t e) {
  job *j = (job *)c;
  for (int64_t i = b; i < e; ++i) j->y[i] += 1.0f;
}
static float *prepare(void *results, void **args, job *j, int64_t *n) {
  const int64_t *in = (const int64_t *)args[0];
  *n = in[3];
  j->x = (const float *)(intptr_t)in[1] + in[2];
  j->y = (float *)malloc(*n ? *n * 4 : 4);
  int64_t *r = (int64_t *)results;
  r[0] = r[1] = (int64_t)(intptr_t)j->y;
  r[2] = 0; r[3] = *n; r[4] = 1;
  return j->y;
}

#ifdef V1
static void run(void *results, void **args) {
  job j; int64_t n;
  prepare(results, args, &j, &n);
  scale(&j, 0, n); offset(&j, 0, n); offset(&j, 0, n);
}
static const mlc_abi_model_v1 table = {TABLE_VERSION, 1, 1, 0, ins, outs, 0, 64,
                                       "mlc fake", "", "cpu", "", "", run};
const mlc_abi_model_v1 *ENTRY(void) { return &table; }
#else
static void launch(mlc_exec_ctx *ctx, int32_t k, int64_t n, mlc_task_fn fn, job *j) {
  if (ctx->kernel_begin) ctx->kernel_begin(ctx, k);
  ctx->parallel_for(ctx, n, fn, j);
  if (ctx->kernel_end) ctx->kernel_end(ctx, k);
}
static void run(mlc_exec_ctx *ctx, void *results, void **args) {
  job j; int64_t n;
  prepare(results, args, &j, &n);
  fake_num_threads = (int)ctx->num_threads;
  fake_ctx_size = (int)ctx->size;
  launch(ctx, 0, n, scale, &j);
  launch(ctx, 1, n, offset, &j);
  launch(ctx, 1, n, offset, &j);
}
const mlc_abi_model_v2 TABLE = {TABLE_VERSION, NUM_INPUTS, 1, 2, ins, outs, 0, 64,
                                "mlc fake", "", "cpu", "", "", run, kernels};
#ifdef EXPORT_TABLE
const mlc_abi_model_v2 *ENTRY(void) { return &mlc_model_v2_table; }
#else
const mlc_abi_model_v2 *ENTRY(void) { return &table; }
#endif
#endif

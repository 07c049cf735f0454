/*===- mlc/abi.h - the table a compiled model exports (ABI v2) -----------===*
 *
 * Every model.so exports exactly one symbol, mlc_model_v<N>(), returning a
 * pointer to a constant table. The runtime reads it; users go through
 * runtime.h and never need this header. An incompatible table gets a new
 * entry name (mlc_model_v3, ...) so old runtimes refuse it with a message
 * naming both versions, and new runtimes keep loading older tables
 * (v1 models run on one thread without an execution context).
 *
 * Since mlc 0.3 the table is also exported as data (MLC_ABI_TABLE), and the
 * file ends in a trailer (mlc/artifact.h) that lets the runtime check that
 * the file is complete and undamaged before it is loaded.
 *
 *===---------------------------------------------------------------------===*/
#ifndef MLC_ABI_H
#define MLC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLC_ABI_VERSION 2
#define MLC_ABI_ENTRY "mlc_model_v2"
#define MLC_ABI_ENTRY_V1 "mlc_model_v1"
/* The v2 table itself, exported as data (mlc 0.3 on), so that a tool can
 * read a model's description from the file without running its code. */
#define MLC_ABI_TABLE "mlc_model_v2_table"

typedef struct mlc_abi_tensor_v1 {
  const char *name;
  int32_t dtype;                  /* mlc_dtype */
  int32_t rank;
  const int64_t *dims;            /* -1 where the dim is only known at run time */
  const char *const *dim_names;   /* "" where the dim is static or unnamed */
} mlc_abi_tensor_v1;

/*---------------------------------------------------------------------------
 * The execution context: what the runtime lends the generated code for one
 * run. Generated code reads only the fields below; `size` lets the runtime
 * grow the struct without breaking older models.
 *-------------------------------------------------------------------------*/
typedef struct mlc_exec_ctx mlc_exec_ctx;

/* One chunk of a kernel's distribution loop: iterations [begin, end). */
typedef void (*mlc_task_fn)(void *closure, int64_t begin, int64_t end);

struct mlc_exec_ctx {
  uint32_t size;                  /* sizeof(mlc_exec_ctx) of the runtime */
  uint32_t num_threads;           /* threads parallel_for may use (>= 1) */
  void *runtime;                  /* opaque to generated code */
  /* Runs fn over [0, n) split into at most num_threads contiguous chunks of
   * near-equal size, the caller running one of them; returns when every
   * chunk is done. Never null. */
  void (*parallel_for)(mlc_exec_ctx *ctx, int64_t n, mlc_task_fn fn,
                       void *closure);
  /* Profiling hooks: when non-null, called on the calling thread right
   * before and after each kernel of the host schedule (index into the
   * model's kernel list). */
  void (*kernel_begin)(mlc_exec_ctx *ctx, int32_t kernel);
  void (*kernel_end)(mlc_exec_ctx *ctx, int32_t kernel);
  void *cuda_stream;              /* CUDA targets: the session's stream */
  /* CUDA targets: the runtime's device services (below); null otherwise. */
  const struct mlc_cuda_api *cuda;
  /* CPU targets (mlc 0.3.1 on): every buffer the generated code allocates
   * while it runs (outputs, buffers of run-time size, scratch) comes from
   * alloc (bytes, aligned to `alignment`, a power of two) and goes back
   * through free. alloc never returns null: when memory runs out it does
   * not return, the runtime abandons the run, frees what the run had
   * allocated and reports MLC_ERROR_OUT_OF_MEMORY. Null in older runtimes
   * (the code then calls malloc and free itself). Callable from any thread
   * running the model's code, parallel_for's tasks included. */
  void *(*alloc)(mlc_exec_ctx *ctx, uint64_t bytes, uint64_t alignment);
  void (*free)(mlc_exec_ctx *ctx, void *ptr);
  void *reserved[1];
};

/*---------------------------------------------------------------------------
 * The device services a CUDA model's host schedule calls (target "cuda").
 * Every call runs on the session's stream, in order. A call that fails
 * records the error in the session and returns null; later calls of the
 * same run do nothing, and the run returns the first error.
 *-------------------------------------------------------------------------*/
typedef struct mlc_cuda_api {
  uint32_t size;                  /* sizeof(mlc_cuda_api) of the runtime */
  uint32_t reserved;
  /* The loaded module of a kernel image (a fatbin, cubin or PTX embedded
   * in the model); loaded once per model, then cached. */
  void *(*module_load)(mlc_exec_ctx *ctx, const void *image, uint64_t size);
  void *(*module_function)(mlc_exec_ctx *ctx, void *module, const char *name);
  void (*launch)(mlc_exec_ctx *ctx, void *function, int64_t grid_x, int64_t grid_y,
                 int64_t grid_z, int64_t block_x, int64_t block_y, int64_t block_z,
                 int32_t shared_bytes, void **params);
  /* Device memory, stream-ordered. */
  void *(*alloc)(mlc_exec_ctx *ctx, uint64_t bytes);
  void (*free)(mlc_exec_ctx *ctx, void *ptr);
  /* The device copy of constant `index` (weights), uploaded on first use
   * from `host` (bytes long) and kept as long as the model is loaded. */
  void *(*constant)(mlc_exec_ctx *ctx, const void *host, uint64_t bytes, int64_t index);
  /* Copies `bytes` of device memory to the host, waiting for the stream:
   * the host schedule reads a scalar it needs (a shape, an axis). */
  void (*read)(mlc_exec_ctx *ctx, void *host, const void *device, uint64_t bytes);
  /* C[b] += op(A[b]) * op(B[b]) for b < batch, float32, row-major (M x N
   * results; op transposes when trans_* is 1; leading dimensions and batch
   * strides in elements, a stride of 0 broadcasts), through cuBLAS. */
  void (*gemm)(mlc_exec_ctx *ctx, int64_t trans_a, int64_t trans_b, int64_t m, int64_t n,
               int64_t k, int64_t batch, const float *a, int64_t lda, int64_t stride_a,
               const float *b, int64_t ldb, int64_t stride_b, float *c, int64_t ldc,
               int64_t stride_c);
} mlc_cuda_api;

/* One kernel of the host schedule. */
typedef struct mlc_abi_kernel_v2 {
  const char *name;
  int64_t flops;                  /* per call; -1 when it depends on run-time dims */
} mlc_abi_kernel_v2;

/* `results` receives one memref descriptor per output, in order, each
 * {void *allocated, void *aligned, int64_t offset, int64_t sizes[rank],
 * int64_t strides[rank]}; every output buffer is owned by the caller: made
 * by ctx->alloc when the runtime sets it, by malloc otherwise. `args`
 * points to one such descriptor per input, then one rank-1 i8 descriptor
 * for the activation arena (arena_size bytes, aligned). */
typedef void (*mlc_abi_run_fn_v2)(mlc_exec_ctx *ctx, void *results, void **args);

typedef struct mlc_abi_model_v2 {
  uint32_t abi_version;           /* 2 */
  uint32_t num_inputs;
  uint32_t num_outputs;
  uint32_t num_kernels;
  const mlc_abi_tensor_v1 *inputs;
  const mlc_abi_tensor_v1 *outputs;
  uint64_t arena_size;            /* bytes, from the compile-time memory plan */
  uint64_t arena_alignment;
  const char *compiler_version;
  const char *compile_options;
  const char *target;             /* "cpu" */
  const char *cpu_name;
  const char *cpu_features;       /* comma-separated ISA features the code uses */
  mlc_abi_run_fn_v2 run;
  const mlc_abi_kernel_v2 *kernels;
} mlc_abi_model_v2;

typedef const mlc_abi_model_v2 *(*mlc_abi_entry_v2)(void);

/*---------------------------------------------------------------------------
 * ABI v1 (mlc 0.1): still loaded by the runtime.
 *-------------------------------------------------------------------------*/
typedef void (*mlc_abi_run_fn)(void *results, void **args);

typedef struct mlc_abi_model_v1 {
  uint32_t abi_version;           /* 1 */
  uint32_t num_inputs;
  uint32_t num_outputs;
  uint32_t reserved;
  const mlc_abi_tensor_v1 *inputs;
  const mlc_abi_tensor_v1 *outputs;
  uint64_t arena_size;
  uint64_t arena_alignment;
  const char *compiler_version;
  const char *compile_options;
  const char *target;
  const char *cpu_name;
  const char *cpu_features;
  mlc_abi_run_fn run;
} mlc_abi_model_v1;

typedef const mlc_abi_model_v1 *(*mlc_abi_entry_v1)(void);

#ifdef __cplusplus
}
#endif

#endif /* MLC_ABI_H */

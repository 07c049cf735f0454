/*===- mlc/runtime.h - the mlc runtime C API (stable) --------------------===*
 *
 * Load a model compiled by `mlc compile`, describe its inputs and outputs,
 * and run it. Every call returns an mlc_status; on failure
 * mlc_last_error() gives a message for this thread.
 *
 * Threads: an mlc_model is immutable after loading and may be shared. Run
 * it from several threads at once with one mlc_session per thread (each
 * session owns its activation arena and its thread pool), or with
 * mlc_model_run, which uses a fresh arena per call and runs on the calling
 * thread only.
 *
 *===---------------------------------------------------------------------===*/
#ifndef MLC_RUNTIME_H
#define MLC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MLC_API __attribute__((visibility("default")))
#else
#define MLC_API
#endif

#define MLC_RUNTIME_VERSION "0.3.1"
#define MLC_MAX_RANK 8

typedef enum mlc_status {
  MLC_OK = 0,
  MLC_ERROR_INVALID_ARGUMENT = 1, /* bad input tensor, index, or null pointer */
  MLC_ERROR_LOAD = 2,             /* file missing or not an mlc model */
  MLC_ERROR_ABI = 3,              /* model built for another ABI version */
  MLC_ERROR_UNSUPPORTED_CPU = 4,  /* the CPU lacks a feature the code needs */
  MLC_ERROR_OUT_OF_MEMORY = 5,
  MLC_ERROR_INTERNAL = 6,
  MLC_ERROR_DEVICE = 7            /* CUDA models: no usable GPU or driver, or a
                                   * CUDA call failed (the message names it) */
} mlc_status;

/* Element types: float32, float64, float16, int64, int32, int16, int8,
 * uint8, uint16, uint32, uint64, bool (the table, with sizes and ONNX
 * numbers, is mlc/dtypes.def). */
typedef enum mlc_dtype {
  MLC_DTYPE_INVALID = 0,
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE) MLC_DTYPE_##ENUM = VALUE,
#include "mlc/dtypes.def"
} mlc_dtype;

typedef struct mlc_model mlc_model;
typedef struct mlc_session mlc_session;

/* A dense row-major tensor. For inputs, all fields are read. For outputs,
 * set data = NULL to have the runtime allocate it (free it with
 * mlc_tensor_release), or point data at size_bytes of your own memory. */
typedef struct mlc_tensor {
  void *data;
  size_t size_bytes;
  mlc_dtype dtype;
  int32_t rank;
  int64_t shape[MLC_MAX_RANK];
} mlc_tensor;

/* Describes one input or output of a model. dims[i] is -1 for a dim that is
 * only known at run time; dim_names[i] is its symbolic name ("" if none). */
typedef struct mlc_tensor_info {
  const char *name;
  mlc_dtype dtype;
  int32_t rank;
  const int64_t *dims;
  const char *const *dim_names;
} mlc_tensor_info;

MLC_API const char *mlc_last_error(void);
MLC_API const char *mlc_status_name(mlc_status status);
MLC_API const char *mlc_dtype_name(mlc_dtype dtype);
MLC_API size_t mlc_dtype_size(mlc_dtype dtype);

/* Loads a compiled model. The file is checked first (a complete, undamaged
 * ELF shared object for this machine with a sane model table); a file that
 * fails is refused with MLC_ERROR_LOAD, never handed to the dynamic loader. */
MLC_API mlc_status mlc_model_load(const char *path, mlc_model **model);
/* Reads a model's description (inputs, outputs, metadata, kernels) from the
 * file without loading it or running any of its code, so it works on a
 * machine that lacks the CPU features the model needs. The result cannot
 * run: sessions and mlc_model_run refuse it. Models from mlc older than 0.3
 * give MLC_ERROR_ABI (load them to describe them). */
MLC_API mlc_status mlc_model_load_info(const char *path, mlc_model **model);
MLC_API void mlc_model_free(mlc_model *model);

MLC_API size_t mlc_model_num_inputs(const mlc_model *model);
MLC_API size_t mlc_model_num_outputs(const mlc_model *model);
MLC_API mlc_status mlc_model_input_info(const mlc_model *model, size_t index,
                                        mlc_tensor_info *info);
MLC_API mlc_status mlc_model_output_info(const mlc_model *model, size_t index,
                                         mlc_tensor_info *info);
/* key: "compiler_version", "compile_options", "target", "cpu",
 * "cpu_features", "abi_version" (of the model's table: "1" or "2"),
 * "arena_size", "num_kernels". NULL if unknown. */
MLC_API const char *mlc_model_metadata(const mlc_model *model, const char *key);

/* The kernels of the model's host schedule (ABI v2 models; 0 for v1). The
 * name points into the model and lives as long as it. */
typedef struct mlc_kernel_info {
  const char *name;
  int64_t flops; /* per call; -1 when unknown (depends on run-time dims) */
} mlc_kernel_info;

MLC_API size_t mlc_model_num_kernels(const mlc_model *model);
MLC_API mlc_status mlc_model_kernel_info(const mlc_model *model, size_t index,
                                         mlc_kernel_info *info);

/* A session runs on its own thread pool. Its thread count defaults to the
 * number of CPUs this process may run on (sched_getaffinity), or to the
 * environment variable MLC_NUM_THREADS when set (a whole number >= 1; any
 * other value makes mlc_session_create fail with INVALID_ARGUMENT). */
MLC_API mlc_status mlc_session_create(const mlc_model *model,
                                      mlc_session **session);
MLC_API void mlc_session_free(mlc_session *session);
/* Sets the threads runs of this session use (the caller plus n-1 workers);
 * 0 restores the default. Restarts the pool; not while a run is in flight. */
MLC_API mlc_status mlc_session_set_num_threads(mlc_session *session,
                                               int32_t num_threads);
/* The threads a run of this session uses; 1 for ABI v1 models, which run
 * on the calling thread only. 0 for a null session. */
MLC_API int32_t mlc_session_num_threads(const mlc_session *session);
/* inputs: one per model input, in order. outputs: one per model output. */
MLC_API mlc_status mlc_session_run(mlc_session *session,
                                   const mlc_tensor *inputs, size_t num_inputs,
                                   mlc_tensor *outputs, size_t num_outputs);
/* Same as a session run with a temporary arena, on the calling thread only
 * (no thread pool); safe from any thread. */
MLC_API mlc_status mlc_model_run(const mlc_model *model,
                                 const mlc_tensor *inputs, size_t num_inputs,
                                 mlc_tensor *outputs, size_t num_outputs);
/* Frees an output the runtime allocated and clears data/size_bytes. */
MLC_API void mlc_tensor_release(mlc_tensor *tensor);

/*---------------------------------------------------------------------------
 * CUDA models (compiled with --target cuda). mlc_session_run and
 * mlc_model_run take and return host memory (copied to and from the GPU).
 * The calls below keep data on the GPU: every data pointer is a device
 * pointer (CUdeviceptr) of the model's GPU ($MLC_CUDA_DEVICE, default 0).
 * Inputs are read in place. An output with data = NULL receives a device
 * buffer the caller frees with mlc_device_free; otherwise the result is
 * copied into the device buffer given. Runs are synchronous: when a run
 * returns, its outputs are complete. A CPU model refuses these calls.
 *-------------------------------------------------------------------------*/
MLC_API mlc_status mlc_session_run_device(mlc_session *session,
                                          const mlc_tensor *inputs, size_t num_inputs,
                                          mlc_tensor *outputs, size_t num_outputs);
MLC_API mlc_status mlc_device_alloc(const mlc_model *model, size_t bytes, void **ptr);
MLC_API mlc_status mlc_device_free(const mlc_model *model, void *ptr);
/* Copies between host and device memory of the model's GPU; `to_device`
 * picks the direction. */
MLC_API mlc_status mlc_device_copy(const mlc_model *model, void *dst, const void *src,
                                   size_t bytes, int to_device);
/* The session's CUDA stream (a CUstream), for ordering the caller's own
 * work; NULL for CPU models. */
MLC_API void *mlc_session_cuda_stream(const mlc_session *session);

/*---------------------------------------------------------------------------
 * Profiling: with profiling on, each mlc_session_run records one event per
 * kernel call (kernel = its index in the model's kernel list) and one event
 * for the whole run (kernel = -1, around the model's run function; ABI v1
 * models record only these). Times are nanoseconds of the steady clock
 * (CLOCK_MONOTONIC).
 *-------------------------------------------------------------------------*/
typedef struct mlc_profile_event {
  int32_t kernel; /* index into the kernel list, or -1 for a whole run */
  int32_t reserved;
  int64_t begin_ns;
  int64_t end_ns;
} mlc_profile_event;

/* Turns recording on or off from the next run on. Turning it on when it
 * was off drops the events of earlier recordings; turning it off keeps them
 * for reading. */
MLC_API mlc_status mlc_session_set_profiling(mlc_session *session, int enabled);
/* Every event recorded since profiling was enabled or the last clear, in
 * order of completion; *events stays valid until the next run, clear or
 * free of the session. */
MLC_API size_t mlc_session_profile_events(const mlc_session *session,
                                          const mlc_profile_event **events);
MLC_API void mlc_session_clear_profile(mlc_session *session);

#ifdef __cplusplus
}
#endif

#endif /* MLC_RUNTIME_H */

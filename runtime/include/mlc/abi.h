/*===- mlc/abi.h - the table a compiled model exports (ABI v1) -----------===*
 *
 * Every model.so exports exactly one symbol, mlc_model_v1(), returning a
 * pointer to a constant mlc_abi_model_v1. The runtime reads it; users go
 * through runtime.h and never need this header. A future incompatible
 * table gets a new entry name (mlc_model_v2) so old runtimes refuse it
 * cleanly and new runtimes can still load v1 models.
 *
 *===---------------------------------------------------------------------===*/
#ifndef MLC_ABI_H
#define MLC_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MLC_ABI_VERSION 1
#define MLC_ABI_ENTRY "mlc_model_v1"

typedef struct mlc_abi_tensor_v1 {
  const char *name;
  int32_t dtype;                  /* mlc_dtype */
  int32_t rank;
  const int64_t *dims;            /* -1 where the dim is only known at run time */
  const char *const *dim_names;   /* "" where the dim is static or unnamed */
} mlc_abi_tensor_v1;

/* `results` receives one memref descriptor per output, in order, each
 * {void *allocated, void *aligned, int64_t offset, int64_t sizes[rank],
 * int64_t strides[rank]}; every output buffer is malloc'ed and owned by the
 * caller. `args` points to one such descriptor per input, then one rank-1
 * i8 descriptor for the activation arena (arena_size bytes, aligned). */
typedef void (*mlc_abi_run_fn)(void *results, void **args);

typedef struct mlc_abi_model_v1 {
  uint32_t abi_version;           /* MLC_ABI_VERSION */
  uint32_t num_inputs;
  uint32_t num_outputs;
  uint32_t reserved;
  const mlc_abi_tensor_v1 *inputs;
  const mlc_abi_tensor_v1 *outputs;
  uint64_t arena_size;            /* bytes, from the compile-time memory plan */
  uint64_t arena_alignment;
  const char *compiler_version;
  const char *compile_options;
  const char *target;             /* "cpu" */
  const char *cpu_name;
  const char *cpu_features;       /* comma-separated ISA features the code uses */
  mlc_abi_run_fn run;
} mlc_abi_model_v1;

typedef const mlc_abi_model_v1 *(*mlc_abi_entry_v1)(void);

#ifdef __cplusplus
}
#endif

#endif /* MLC_ABI_H */

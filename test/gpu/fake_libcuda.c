/* A stand-in for the NVIDIA driver library (libcuda.so.1) for tests on
 * machines without a GPU: the runtime's CUDA side runs against it through
 * MLC_CUDA_DRIVER. "Device memory" is host memory handed out at an address
 * with bit 46 flipped, which the host cannot touch: a host schedule that
 * read or wrote device memory would crash. Kernels do not run (launches
 * only count). Settings (environment):
 *   FAKE_CUDA_FAIL=NAME   the driver function NAME fails (CUDA_ERROR_UNKNOWN)
 *   FAKE_CUDA_DEVICES=N   GPUs present (default 1)
 *   FAKE_CUDA_CC=NN       compute capability (default 90)
 * Written for mlc's tests; not NVIDIA's code. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned long long dptr;
#define SHADOW(p) ((p) ^ (1ULL << 46))
enum { OK = 0, ERROR_UNKNOWN = 999 };

static int fails(const char *name) {
  const char *f = getenv("FAKE_CUDA_FAIL");
  return f && strcmp(f, name) == 0;
}
#define FAIL_IF(name) if (fails(name)) return ERROR_UNKNOWN

static long launches;
long fake_cuda_launches(void) { return launches; }

int cuInit(unsigned flags) { (void)flags; FAIL_IF("cuInit"); return OK; }
int cuDeviceGetCount(int *n) {
  FAIL_IF("cuDeviceGetCount");
  const char *e = getenv("FAKE_CUDA_DEVICES");
  *n = e ? atoi(e) : 1;
  return OK;
}
int cuDeviceGet(int *d, int ordinal) { FAIL_IF("cuDeviceGet"); *d = ordinal; return OK; }
int cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  const char *e = getenv("FAKE_CUDA_CC");
  int cc = e ? atoi(e) : 90;
  *v = attr == 75 ? cc / 10 : attr == 76 ? cc % 10 : 0;
  return OK;
}
int cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  snprintf(name, len, "Fake GPU");
  return OK;
}
int cuDevicePrimaryCtxRetain(void **c, int d) {
  (void)d;
  FAIL_IF("cuDevicePrimaryCtxRetain");
  *c = (void *)0x1;
  return OK;
}
int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return OK; }
int cuCtxSetCurrent(void *c) { (void)c; return OK; }
int cuModuleLoadData(void **m, const void *image) {
  FAIL_IF("cuModuleLoadData");
  *m = (void *)image;
  return OK;
}
int cuModuleUnload(void *m) { (void)m; return OK; }
int cuModuleGetFunction(void **f, void *m, const char *name) {
  (void)m;
  FAIL_IF("cuModuleGetFunction");
  *f = (void *)name;
  return OK;
}
int cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                   unsigned bz, unsigned smem, void *stream, void **params, void **extra) {
  (void)f; (void)gx; (void)gy; (void)gz; (void)bx; (void)by; (void)bz; (void)smem;
  (void)stream; (void)params; (void)extra;
  FAIL_IF("cuLaunchKernel");
  ++launches;
  return OK;
}
int cuStreamCreate(void **s, unsigned flags) { (void)flags; FAIL_IF("cuStreamCreate"); *s = (void *)0x2; return OK; }
int cuStreamDestroy_v2(void *s) { (void)s; return OK; }
int cuStreamSynchronize(void *s) { (void)s; FAIL_IF("cuStreamSynchronize"); return OK; }
static int alloc(dptr *p, size_t bytes) {
  void *h = calloc(1, bytes ? bytes : 1);
  if (!h) return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
  *p = SHADOW((dptr)(uintptr_t)h);
  return OK;
}
int cuMemAlloc_v2(dptr *p, size_t b) { FAIL_IF("cuMemAlloc_v2"); return alloc(p, b); }
int cuMemAllocAsync(dptr *p, size_t b, void *s) { (void)s; FAIL_IF("cuMemAllocAsync"); return alloc(p, b); }
int cuMemFree_v2(dptr p) { free((void *)(uintptr_t)SHADOW(p)); return OK; }
int cuMemFreeAsync(dptr p, void *s) { (void)s; free((void *)(uintptr_t)SHADOW(p)); return OK; }
#define HOST(p) ((void *)(uintptr_t)SHADOW(p))
int cuMemcpyHtoDAsync_v2(dptr d, const void *h, size_t b, void *s) { (void)s; FAIL_IF("cuMemcpyHtoDAsync_v2"); memcpy(HOST(d), h, b); return OK; }
int cuMemcpyDtoHAsync_v2(void *h, dptr d, size_t b, void *s) { (void)s; FAIL_IF("cuMemcpyDtoHAsync_v2"); memcpy(h, HOST(d), b); return OK; }
int cuMemcpyDtoDAsync_v2(dptr a, dptr b, size_t n, void *s) { (void)s; memcpy(HOST(a), HOST(b), n); return OK; }
int cuMemcpyHtoD_v2(dptr d, const void *h, size_t b) { memcpy(HOST(d), h, b); return OK; }
int cuMemcpyDtoH_v2(void *h, dptr d, size_t b) { memcpy(h, HOST(d), b); return OK; }
int cuGetErrorName(int r, const char **s) { *s = r == ERROR_UNKNOWN ? "CUDA_ERROR_UNKNOWN" : "CUDA_ERROR"; return OK; }
int cuGetErrorString(int r, const char **s) { (void)r; *s = "unknown error (fake driver)"; return OK; }

/* cuBLAS (point MLC_CUBLAS at this library too): handles and products that
 * do nothing; they fail on request like the driver's calls. */
static long gemms;
long fake_cublas_gemms(void) { return gemms; }
int cublasCreate_v2(void **h) { FAIL_IF("cublasCreate_v2"); *h = (void *)0x3; return 0; }
int cublasDestroy_v2(void *h) { (void)h; return 0; }
int cublasSetStream_v2(void *h, void *s) { (void)h; (void)s; return 0; }
int cublasSgemmStridedBatched(void *h, int ta, int tb, int m, int n, int k, const float *alpha,
                              const float *a, int lda, long long sa, const float *b, int ldb,
                              long long sb, const float *beta, float *c, int ldc, long long sc,
                              int batch) {
  (void)h; (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
  (void)sa; (void)b; (void)ldb; (void)sb; (void)beta; (void)c; (void)ldc; (void)sc; (void)batch;
  FAIL_IF("cublasSgemmStridedBatched");
  ++gemms;
  return 0;
}

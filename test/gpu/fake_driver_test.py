"""The runtime's CUDA side without a GPU, against a stand-in driver
(fake_libcuda.c: device memory the host cannot touch, kernels that do not
run, any driver call made to fail on request).

Checks that a CUDA model loads, runs with host and with device tensors
without the host touching device memory, launches its kernels, uploads its
weights once per model; and that every failure (no driver, no GPU, an older
GPU, each failing driver call) is a status with a message, never a crash.

    fake_driver_test.py --mlc build/bin/mlc --runtime libmlc_runtime.so \
        --fake libfake_cuda.so --work DIR
"""
import argparse
import ctypes
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cuda_cases import Runtime, Tensor  # noqa: E402

MLC_ERROR_INVALID_ARGUMENT, MLC_ERROR_DEVICE = 1, 7
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def child(a, env, code):
    """Runs `code` in a fresh process (the driver is loaded once per
    process) with the fake driver and `env`; returns (exit, output)."""
    e = dict(os.environ, MLC_CUDA_DRIVER=a.fake, MLC_CUBLAS=a.fake, PYTHONPATH=HERE)
    e.update(env)
    prog = ("import sys, numpy as np\nfrom cuda_cases import Runtime\n"
            "rt = Runtime(%r)\n" % a.runtime) + code
    p = subprocess.run([sys.executable, "-c", prog], env=e, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


RUN_ONE = """
try:
    m, s = rt.load(%r)
    out = rt.run(m, s, [np.ones((2, 4), np.float32), np.array([1], np.int64)])
    print("ran", [o.shape for o in out])
except RuntimeError as e:
    print("error:", e)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    onnx_path = os.path.join(a.work, "mix.onnx")
    so = os.path.join(a.work, "mix_cuda.so")
    cpu_so = os.path.join(a.work, "mix_cpu.so")
    make = os.path.join(HERE, "..", "lit", "Inputs", "make_model.py")
    subprocess.run([sys.executable, make, "cuda_mix", onnx_path], check=True)
    env = dict(os.environ, MLC_CACHE_DIR="off")
    r = subprocess.run([a.mlc, "compile", onnx_path, "--target", "cuda", "-o", so, "-q"], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0 and "needs the CUDA toolkit" in r.stderr:
        print("skipped: %s" % r.stderr.strip())
        return 0
    check(r.returncode == 0, "compile --target cuda: %s" % r.stderr.strip())
    subprocess.run([a.mlc, "compile", onnx_path, "-o", cpu_so, "-q"], env=env, check=True)

    # A run: host memory in and out; the shapes come back (kernels do not
    # run under the fake driver, so values are not checked here).
    code, out = child(a, {}, RUN_ONE % so)
    check(code == 0 and "ran [(2, 3)," in out, "host run with the fake driver: %s" % out.strip())

    # Device tensors: inputs uploaded by the caller, outputs handed over.
    code, out = child(a, {}, """
import ctypes
from cuda_cases import Tensor, NP_TO_MLC
L = rt.lib
m, s = rt.load(%r)
L.mlc_device_alloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
L.mlc_device_copy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
L.mlc_device_free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
L.mlc_session_run_device.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t, ctypes.POINTER(Tensor), ctypes.c_size_t]
L.mlc_session_cuda_stream.argtypes = [ctypes.c_void_p]
L.mlc_session_cuda_stream.restype = ctypes.c_void_p
xs = [np.ones((2, 4), np.float32), np.array([1], np.int64)]
ins = (Tensor * 2)()
for t, x in zip(ins, xs):
    p = ctypes.c_void_p()
    assert L.mlc_device_alloc(m, x.nbytes, ctypes.byref(p)) == 0
    assert L.mlc_device_copy(m, p, x.ctypes.data, x.nbytes, 1) == 0
    t.data, t.size_bytes, t.dtype, t.rank = p.value, x.nbytes, NP_TO_MLC[x.dtype], x.ndim
    for k, d in enumerate(x.shape): t.shape[k] = d
outs = (Tensor * 2)()
st = L.mlc_session_run_device(s, ins, 2, outs, 2)
host = np.zeros(6, np.float32)
st2 = L.mlc_device_copy(m, host.ctypes.data, outs[0].data, 24, 0)
print("device run", st, st2, outs[0].rank, outs[0].shape[0], outs[0].shape[1],
      bool(L.mlc_session_cuda_stream(s)))
for o in outs: L.mlc_device_free(m, o.data)
""" % so)
    check(code == 0 and "device run 0 0 2 2 3 True" in out, "device tensors: %s" % out.strip())

    # A CPU model refuses the device calls; a CUDA model never touches the
    # CPU model's path.
    code, out = child(a, {}, """
import ctypes
from cuda_cases import Tensor
m, s = rt.load(%r)
rt.lib.mlc_session_run_device.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
print("status", rt.lib.mlc_session_run_device(s, None, 0, None, 0), rt.error())
""" % cpu_so)
    check("status 1 mlc_session_run_device:" in out and "is not a CUDA model" in out,
          "CPU model refuses device runs: %s" % out.strip())

    # Load-time failures: no driver, no GPU, a GPU older than the code.
    for env, want, what in [
            ({"MLC_CUDA_DRIVER": os.path.join(a.work, "missing.so")},
             "the NVIDIA driver library", "no driver"),
            ({"FAKE_CUDA_DEVICES": "0"}, "this machine has no GPU", "no GPU"),
            ({"FAKE_CUDA_CC": "80"}, "was compiled for sm_90, but GPU 0 (Fake GPU) is sm_80; "
             "recompile with --target cuda:sm_80", "older GPU"),
            ({"MLC_CUDA_DEVICE": "3"}, "MLC_CUDA_DEVICE is 3, but this machine has 1 GPU(s)",
             "GPU number out of range"),
            ({"FAKE_CUDA_FAIL": "cuInit"}, "the NVIDIA driver did not start", "cuInit fails")]:
        code, out = child(a, env, RUN_ONE % so)
        check(code == 0 and "error:" in out and want in out, "%s: %s" % (what, out.strip()))

    # Every driver call that fails during a run becomes the run's status.
    for fn, want in [("cuModuleLoadData", "loading the model's GPU code"),
                     ("cuModuleGetFunction", "finding kernel"),
                     ("cuLaunchKernel", "launching a kernel"),
                     ("cuMemAllocAsync", "on the GPU"),
                     ("cuMemcpyHtoDAsync_v2", "copying an input to the GPU"),
                     ("cuMemcpyDtoHAsync_v2", "from the GPU"),
                     ("cuStreamSynchronize", "CUDA_ERROR_UNKNOWN"),
                     ("cuStreamCreate", "creating a CUDA stream"),
                     ("cublasCreate_v2", "creating a cuBLAS handle failed"),
                     ("cublasSgemmStridedBatched", "a cuBLAS matrix product failed")]:
        code, out = child(a, {"FAKE_CUDA_FAIL": fn}, RUN_ONE % so)
        check(code == 0 and "error:" in out and want in out and
              ("CUDA_ERROR_UNKNOWN" in out or fn.startswith("cublas")),
              "%s fails: %s" % (fn, out.strip()))
    # The model's matrix product needs cuBLAS: without it, a clear error.
    code, out = child(a, {"MLC_CUBLAS": os.path.join(a.work, "missing-cublas.so")}, RUN_ONE % so)
    check(code == 0 and "runs its matrix products on cuBLAS, which cannot be loaded" in out,
          "no cuBLAS: %s" % out.strip())

    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU benchmark: mlc's CUDA models against PyTorch eager and torch.compile,
measured in the same run on the same GPU.

Runs where the GPU is (see test/gpu/cuda_cases.py for why the build
machine cannot): each CASE is a model compiled by `mlc compile --target cuda`
(a .so or .so.gz), the torch_models.py builder of the same architecture, and
the input shapes. mlc runs through the runtime's C API with inputs and
outputs on the GPU (mlc_session_run_device), so no copy is timed; PyTorch
runs the same architecture on CUDA tensors. fp32 throughout, TF32 off (the
mlc kernels do not use tensor cores). Prints median latency per run and
the ratio mlc / torch.compile (below 1: mlc is faster).

    python3 test/bench/cuda_bench.py --runtime libmlc_runtime.so.1 \
        resnet50=.gpu/bench/resnet50.so.gz:1x3x224x224 \
        resnet50=.gpu/bench/resnet50.so.gz:32x3x224x224 \
        bert_base=.gpu/bench/bert_base.so.gz:1x128
"""
import argparse
import ctypes
import gzip
import os
import shutil
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, os.path.join(HERE, "..", "gpu"))


def timed(fn, sync, warmup, iters):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def mlc_latency(rt, so, inputs, warmup, iters):
    from cuda_cases import NP_TO_MLC, Tensor
    L = rt.lib
    L.mlc_device_alloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_void_p)]
    L.mlc_device_copy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.c_size_t, ctypes.c_int]
    L.mlc_device_free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    L.mlc_session_run_device.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor),
                                         ctypes.c_size_t, ctypes.POINTER(Tensor),
                                         ctypes.c_size_t]
    model, session = rt.load(so)
    ins = (Tensor * len(inputs))()
    bufs = []
    for t, x in zip(ins, inputs):
        p = ctypes.c_void_p()
        if L.mlc_device_alloc(model, x.nbytes, ctypes.byref(p)):
            raise RuntimeError(rt.error())
        L.mlc_device_copy(model, p, x.ctypes.data, x.nbytes, 1)
        bufs.append(p)
        t.data, t.size_bytes, t.dtype, t.rank = p.value, x.nbytes, NP_TO_MLC[x.dtype], x.ndim
        for k, d in enumerate(x.shape):
            t.shape[k] = d
    n = L.mlc_model_num_outputs(model)
    outs = (Tensor * n)()

    def run():
        for o in outs:
            if o.data:
                L.mlc_device_free(model, o.data)
            o.data, o.size_bytes = None, 0
        if L.mlc_session_run_device(session, ins, len(inputs), outs, n):
            raise RuntimeError(rt.error())

    ms = timed(run, lambda: None, warmup, iters)  # runs are synchronous
    for o in outs:
        if o.data:
            L.mlc_device_free(model, o.data)
    for p in bufs:
        L.mlc_device_free(model, p)
    rt.close(model, session)
    return ms


def torch_latencies(name, inputs, warmup, iters):
    import types
    import torch
    sys.modules.setdefault("mlc", types.ModuleType("mlc"))  # torch_models imports it
    import torch_models
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    build = dict((m[0], m[1]) for m in torch_models.MODELS)[name]
    model, _ = build()
    model = model.cuda().eval()
    xs = [torch.from_numpy(x).cuda() for x in inputs]
    res = {}
    with torch.no_grad():
        res["eager"] = timed(lambda: model(*xs), torch.cuda.synchronize, warmup, iters)
        compiled = torch.compile(model)
        res["compile"] = timed(lambda: compiled(*xs), torch.cuda.synchronize, warmup, iters)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("cases", nargs="+", help="NAME=MODEL.so[.gz]:DIMS[,DIMS...]")
    a = ap.parse_args()
    from cuda_cases import Runtime, gpu_reason
    why = gpu_reason()
    if why:
        print("skipped: %s" % why)
        return 0
    rt = Runtime(a.runtime)
    rng = np.random.default_rng(0)
    try:
        import torch
        print("device: %s, torch %s" % (torch.cuda.get_device_name(), torch.__version__))
    except Exception:
        pass
    print("%-12s %-16s %10s %10s %10s %8s" % ("model", "input", "mlc ms", "eager ms",
                                            "compile ms", "mlc/comp"))
    for case in a.cases:
        name, rest = case.split("=", 1)
        path, dims = rest.rsplit(":", 1)
        if path.endswith(".gz"):
            so = "/tmp/" + os.path.basename(path)[:-3]
            with gzip.open(path, "rb") as f, open(so, "wb") as g:
                shutil.copyfileobj(f, g)
        else:
            so = path
        shapes = [tuple(int(d) for d in s.split("x")) for s in dims.split(",")]
        if name.startswith(("bert", "gpt")):
            vocab = 30522 if name.startswith("bert") else 8192
            inputs = [rng.integers(0, vocab, s).astype(np.int64) for s in shapes]
        else:
            inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        ms = mlc_latency(rt, so, inputs, a.warmup, a.iters)
        tl = {} if a.no_torch else torch_latencies(name, inputs, a.warmup, a.iters)
        e, c = tl.get("eager", float("nan")), tl.get("compile", float("nan"))
        print("%-12s %-16s %10.3f %10.3f %10.3f %8.2f" % (name, dims, ms, e, c, ms / c),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

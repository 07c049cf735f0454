"""Single-thread latency of mlc against onnxruntime, measured in one run.

Not a test: prints, per model, the median latency of each and the ratio
mlc / onnxruntime (below 1 means mlc is faster). Usage:
  bench_models.py --mlc build/bin/mlc [--iterations 30]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import mlc_ctypes  # noqa: E402
import torch_models  # noqa: E402


def median_ms(fn, warmup, iterations):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "mlc-models"))
    ap.add_argument("--work", default="/tmp/mlc-bench")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated model names")
    a = ap.parse_args()
    import onnxruntime as ort
    build = os.path.dirname(os.path.dirname(os.path.abspath(a.mlc)))
    rt = mlc_ctypes.Runtime(build)
    os.makedirs(a.work, exist_ok=True)
    print("%-14s %6s %12s %12s %10s" % ("model", "opset", "mlc ms", "ort ms", "mlc/ort"))
    only = set(filter(None, a.only.split(",")))
    for name, builder, inputs, dynamic, sizes, kind in torch_models.MODELS:
        if only and name not in only:
            continue
        opset = 13
        onnx_path = torch_models.cached_export(a.cache, name, builder, opset, inputs, dynamic)
        so = os.path.join(a.work, "%s_op%d.so" % (name, opset))
        subprocess.run([a.mlc, "compile", onnx_path, "-o", so], check=True)
        shapes = sizes[0] if dynamic is None else [(1, 128)]
        feeds = torch_models.make_inputs(kind, shapes, np.random.default_rng(0))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        ref = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        named = {i.name: f for i, f in zip(ref.get_inputs(), feeds)}
        s = mlc_ctypes.Session(rt, so)
        mlc_ms = median_ms(lambda: s.run(*feeds), a.warmup, a.iterations)
        ort_ms = median_ms(lambda: ref.run(None, named), a.warmup, a.iterations)
        s.close()
        print("%-14s %6d %12.2f %12.2f %10.2f" % (name, opset, mlc_ms, ort_ms, mlc_ms / ort_ms))


if __name__ == "__main__":
    sys.exit(main())

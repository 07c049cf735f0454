"""Real models exported with torch.onnx.export, compiled by mlc and compared
with onnxruntime on the same random inputs (rtol 1e-3, atol 1e-4).

Exports are cached (keyed by torch version and this file's model list) so
repeated runs stay fast. Prints max abs / rel error per output and the
compile time, then "N passed, N failed".
"""
import argparse
import hashlib
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mlc_ctypes  # noqa: E402

RTOL, ATOL = 1e-3, 1e-4


def export_resnet18(path, opset):
    import torch
    import torchvision
    torch.manual_seed(0)
    m = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"],
                      output_names=["logits"])


MODELS = [
    # name, exporter, opset, input shapes
    ("resnet18", export_resnet18, 13, {"input": (1, 3, 224, 224)}),
]


def cached_export(cache, name, fn, opset):
    import torch
    key = hashlib.sha256(("%s %s %d" % (torch.__version__, name, opset)).encode()).hexdigest()[:12]
    path = os.path.join(cache, "%s_op%d_%s.onnx" % (name, opset, key))
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        tmp = path + ".tmp"
        fn(tmp, opset)
        os.replace(tmp, path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    import onnxruntime as ort
    build = os.path.dirname(os.path.dirname(os.path.abspath(a.mlc)))
    rt = mlc_ctypes.Runtime(build)
    os.makedirs(a.work, exist_ok=True)
    passed = failed = 0
    for name, fn, opset, shapes in MODELS:
        onnx_path = cached_export(a.cache, name, fn, opset)
        so = os.path.join(a.work, "%s_op%d.so" % (name, opset))
        t0 = time.perf_counter()
        subprocess.run([a.mlc, "compile", onnx_path, "-o", so], check=True)
        compile_s = time.perf_counter() - t0
        # Same model, same options: a byte-identical artifact.
        so2 = so + ".again"
        subprocess.run([a.mlc, "compile", onnx_path, "-o", so2], check=True)
        same = open(so, "rb").read() == open(so2, "rb").read()
        os.remove(so2)
        if not same:
            print("%s opset %d: two compilations differ" % (name, opset))
        rng = np.random.default_rng(0)
        feeds = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
        so_opts = ort.SessionOptions()
        so_opts.intra_op_num_threads = 1
        ref = ort.InferenceSession(onnx_path, so_opts, providers=["CPUExecutionProvider"])
        want = ref.run(None, feeds)
        s = mlc_ctypes.Session(rt, so)
        got = s.run(*[feeds[i.name] for i in ref.get_inputs()])
        s.close()
        ok = True
        for o, g, w in zip(ref.get_outputs(), got, want):
            abs_err = float(np.max(np.abs(g - w)))
            rel_err = float(np.max(np.abs(g - w) / (np.abs(w) + 1e-12)))
            good = g.shape == w.shape and np.allclose(g, w, rtol=RTOL, atol=ATOL)
            ok &= good
            print("%s opset %d output %s: max abs %.3g, max rel %.3g, compile %.1f s: %s"
                  % (name, opset, o.name, abs_err, rel_err, compile_s, "ok" if good else "MISMATCH"))
        ok &= same
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

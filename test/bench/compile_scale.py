"""Compile time against graph size: long chains of elementwise nodes (static
and symbolic dims) and a graph with many outputs, each compiled with
`mlc compile` and run once against NumPy.

  compile_scale.py --mlc build/bin/mlc [--sizes 1000,5000,20000] [--outputs 2000]
                   [--distinct-outputs 500] [--check]

Prints, for each model, the node count, the compile time, the time per
1,000 nodes and its ratio to the smallest chain's (1.0 means linear
growth). With --check it is a test: it fails when a model does not compile
or computes the wrong values; the times are printed, never judged.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def chain(n, symbolic):
    """x -> n nodes cycling Add(c) / Mul(c) / Relu / Neg -> y."""
    dims = ["batch", 64] if symbolic else [2, 64]
    c = numpy_helper.from_array(np.full((64,), 0.5, np.float32), "c")
    one = numpy_helper.from_array(np.full((64,), 1.0, np.float32), "one")
    nodes, prev = [], "x"
    for i in range(n):
        out = "y" if i == n - 1 else "t%d" % i
        kind = i % 4
        if kind == 0:
            nodes.append(helper.make_node("Add", [prev, "c"], [out], name="n%d" % i))
        elif kind == 1:
            nodes.append(helper.make_node("Mul", [prev, "one"], [out], name="n%d" % i))
        elif kind == 2:
            nodes.append(helper.make_node("Relu", [prev], [out], name="n%d" % i))
        else:
            nodes.append(helper.make_node("Neg", [prev], [out], name="n%d" % i))
        prev = out
    g = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)], [c, one])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def chain_reference(x, n):
    for i in range(n):
        kind = i % 4
        x = x + 0.5 if kind == 0 else x * 1.0 if kind == 1 else np.maximum(x, 0) if kind == 2 else -x
    return x


def many_outputs(k):
    nodes = [helper.make_node("Relu" if i % 2 else "Neg", ["x"], ["y%d" % i], name="n%d" % i)
             for i in range(k)]
    g = helper.make_graph(nodes, "outputs", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y%d" % i, TensorProto.FLOAT, [4]) for i in range(k)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def distinct_outputs(k):
    """k outputs y_i = x + i: each its own kernel, all reading x."""
    inits = [numpy_helper.from_array(np.array([float(i)], np.float32), "c%d" % i) for i in range(k)]
    nodes = [helper.make_node("Add", ["x", "c%d" % i], ["y%d" % i], name="n%d" % i) for i in range(k)]
    g = helper.make_graph(nodes, "distinct", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                          [helper.make_tensor_value_info("y%d" % i, TensorProto.FLOAT, [4]) for i in range(k)],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def compile_and_run(mlc, work, name, model, x):
    path = os.path.join(work, name + ".onnx")
    onnx.save(model, path)
    so = os.path.join(work, name + ".so")
    t0 = time.perf_counter()
    r = subprocess.run([mlc, "compile", path, "-o", so], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode:
        return seconds, None, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "exit %d" % r.returncode
    np.save(os.path.join(work, "x.npy"), x)
    out = os.path.join(work, name + "_out")
    r = subprocess.run([mlc, "run", so, "--input", "x=" + os.path.join(work, "x.npy"), "--output-dir", out],
                       capture_output=True, text=True)
    if r.returncode:
        return seconds, None, r.stderr.strip()
    return seconds, out, None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--sizes", default="1000,5000,20000")
    ap.add_argument("--outputs", type=int, default=2000)
    ap.add_argument("--distinct-outputs", type=int, default=500)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--work")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="mlc-scale-")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    rows, failures = [], []
    for symbolic in (False, True):
        base = None
        for n in [int(s) for s in a.sizes.split(",")]:
            x = rng.standard_normal((2, 64)).astype(np.float32)
            name = "chain%d_%s" % (n, "symbolic" if symbolic else "static")
            seconds, out, err = compile_and_run(a.mlc, work, name, chain(n, symbolic), x)
            if err is None:
                got = np.load(os.path.join(out, "y.npy"))
                if not np.allclose(got, chain_reference(x, n), rtol=1e-5, atol=1e-5):
                    err = "wrong values"
            per_k = seconds / n * 1000
            base = base or per_k
            rows.append((name, n, seconds, per_k, per_k / base, err))
    if a.outputs:
        x = rng.standard_normal((4,)).astype(np.float32)
        name = "outputs%d" % a.outputs
        seconds, out, err = compile_and_run(a.mlc, work, name, many_outputs(a.outputs), x)
        if err is None:
            for i in (0, 1, a.outputs - 1):
                want = np.maximum(x, 0) if i % 2 else -x
                if not np.array_equal(np.load(os.path.join(out, "y%d.npy" % i)), want):
                    err = "wrong values in y%d" % i
        rows.append((name, a.outputs, seconds, seconds / a.outputs * 1000, float("nan"), err))
    if a.distinct_outputs:
        k = a.distinct_outputs
        x = rng.standard_normal((4,)).astype(np.float32)
        name = "distinct_outputs%d" % k
        seconds, out, err = compile_and_run(a.mlc, work, name, distinct_outputs(k), x)
        if err is None:
            for i in (0, 1, k - 1):
                if not np.array_equal(np.load(os.path.join(out, "y%d.npy" % i)), x + np.float32(i)):
                    err = "wrong values in y%d" % i
        rows.append((name, k, seconds, seconds / k * 1000, float("nan"), err))

    print("%-24s %7s %10s %12s %8s  %s" % ("model", "nodes", "compile s", "s/1k nodes", "vs 1st", "result"))
    for name, n, s, per_k, ratio, err in rows:
        print("%-24s %7d %10.2f %12.3f %8.2f  %s" % (name, n, s, per_k, ratio, err or "ok"))
        if err:
            failures.append(name)
    if failures:
        print("FAILED: " + ", ".join(failures))
    return 1 if (failures and a.check) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Runs ONNX's own node tests (Debian's libonnx-testdata) through mlc.

Every test whose model uses only operators mlc supports is compiled with
`mlc compile` and run on each of its data sets with `mlc run`; outputs are
compared with the stored expected outputs (rtol 1e-3, atol 1e-5). The tests
that pass are recorded in node_tests_passing.txt: one of them failing is a
regression and fails this test. Prints the tally as "N passed, N failed".
"""
import argparse
import concurrent.futures as cf
import glob
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "/usr/share/libonnx-testdata/data/node"
RECORD = os.path.join(HERE, "node_tests_passing.txt")
SUPPORTED = {
    "Sqrt", "Erf", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Not", "HardSwish", "HardSigmoid",
    "Clip", "Cast", "Pow", "Max", "Min", "Sum", "And", "Or", "Equal", "Less", "LessOrEqual",
    "Greater", "GreaterOrEqual", "Where", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
    "ReduceProd", "LayerNormalization", "Dropout", "Slice", "Split", "Expand", "Range",
    "Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "Sigmoid", "Tanh",
    "Softmax", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
    "Flatten", "Reshape", "Transpose", "Concat", "Constant", "Identity", "Shape",
    "Gather", "Unsqueeze", "Squeeze",
}
RTOL, ATOL = 1e-3, 1e-5


def candidates():
    out = []
    for d in sorted(glob.glob(os.path.join(DATA, "test_*"))):
        path = os.path.join(d, "model.onnx")
        if not os.path.exists(path):
            continue
        m = onnx.load(path, load_external_data=False)
        ops = {n.op_type for n in m.graph.node}
        if ops and ops <= SUPPORTED:
            out.append(d)
    return out


def run_one(mlc, work, d):
    name = os.path.basename(d)
    wd = os.path.join(work, name)
    os.makedirs(wd, exist_ok=True)
    so = os.path.join(wd, "model.so")
    r = subprocess.run([mlc, "compile", os.path.join(d, "model.onnx"), "-o", so],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return name, False, "compile: " + (r.stderr.strip().splitlines() or ["?"])[0]
    m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inputs = [i.name for i in m.graph.input if i.name not in inits]
    outputs = [o.name for o in m.graph.output]
    for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
        args = [mlc, "run", so, "--output-dir", os.path.join(wd, "out")]
        for k, inp in enumerate(inputs):
            args += ["--input", "%s=%s" % (inp, os.path.join(ds, "input_%d.pb" % k))]
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            return name, False, "run: " + (r.stderr.strip().splitlines() or ["?"])[0]
        for k, out in enumerate(outputs):
            t = onnx.TensorProto()
            with open(os.path.join(ds, "output_%d.pb" % k), "rb") as f:
                t.ParseFromString(f.read())
            want = numpy_helper.to_array(t)
            got = np.load(os.path.join(wd, "out", out.replace("/", "_") + ".npy"))
            if got.shape != want.shape:
                return name, False, "output %s shape %s, expected %s" % (out, got.shape, want.shape)
            if not np.allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True):
                err = np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))
                return name, False, "output %s differs (max abs %.3g)" % (out, err)
    return name, True, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--update", action="store_true", help="rewrite the passing record")
    a = ap.parse_args()
    tests = candidates()
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        results = list(ex.map(lambda d: run_one(a.mlc, a.work, d), tests))
    recorded = set()
    if os.path.exists(RECORD):
        recorded = {l.strip() for l in open(RECORD) if l.strip() and not l.startswith("#")}
    passed = sorted(n for n, ok, _ in results if ok)
    failed = [(n, why) for n, ok, why in results if not ok]
    for n, why in failed:
        print("FAIL %s: %s" % (n, why))
    regressions = sorted(recorded - set(passed))
    new = sorted(set(passed) - recorded)
    if new:
        print("newly passing (run with --update to record): " + ", ".join(new))
    if a.update:
        with open(RECORD, "w") as f:
            f.write("# ONNX node tests that mlc passes; written by node_tests.py --update\n")
            f.writelines(n + "\n" for n in passed)
    print("node tests for supported ops: %d candidates" % len(tests))
    if regressions and not a.update:
        print("REGRESSIONS: " + ", ".join(regressions))
    print("%d passed, %d failed" % (len(passed), len(failed)))
    return 1 if regressions and not a.update else 0


if __name__ == "__main__":
    sys.exit(main())

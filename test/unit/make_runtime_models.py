"""Builds and compiles the small models runtime_test.cpp runs against."""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def add_relu():
    # out = Relu(x + y); x, y: [batch, 4] sharing the symbolic dim "batch".
    nodes = [helper.make_node("Add", ["x", "y"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["out"], name="relu")]
    vi = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 4])
    g = helper.make_graph(nodes, "add_relu", [vi("x"), vi("y")], [vi("out")])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def mlp():
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((16, 32)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal((32,)).astype(np.float32), "b")
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], name="gemm"),
             helper.make_node("Tanh", ["h"], ["out"], name="tanh")]
    g = helper.make_graph(nodes, "mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 16])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 32])],
                          [w, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, model in [("add_relu", add_relu()), ("mlp", mlp())]:
        path = os.path.join(a.out, name + ".onnx")
        onnx.save(model, path)
        subprocess.run([a.mlc, "compile", path, "-o", os.path.join(a.out, name + ".so")],
                       check=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())

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


def outer():
    # y = x[:, None] + x[None, :] and z = ReduceSum(Softmax(Exp(x[:, None] *
    # x[None, :])), 1): every buffer has a run-time size n x n, so a long
    # enough x makes the generated code's allocations fail.
    ax = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [1], [v])
    nodes = [helper.make_node("Unsqueeze", ["x", "ax1"], ["col"]),
             helper.make_node("Unsqueeze", ["x", "ax0"], ["row"]),
             helper.make_node("Add", ["col", "row"], ["y"]),
             helper.make_node("Mul", ["col", "row"], ["p"]),
             helper.make_node("Exp", ["p"], ["e"]),
             helper.make_node("Softmax", ["e"], ["s"], axis=1),
             helper.make_node("ReduceSum", ["s", "ax1"], ["z"], keepdims=0)]
    vi = lambda n, d: helper.make_tensor_value_info(n, TensorProto.FLOAT, d)
    g = helper.make_graph(nodes, "outer", [vi("x", ["n"])], [vi("y", ["n", "n"]), vi("z", ["n"])],
                          [ax("ax1", 1), ax("ax0", 0)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def norm_mlp():
    # Gelu(LayerNorm(x) @ w), x: [b, s, 64]: its kernels' parallel tasks
    # allocate scratch of run-time size, as well as the host.
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.standard_normal((64, 96)).astype(np.float32), "w"),
             numpy_helper.from_array(np.ones(64, np.float32), "g"),
             numpy_helper.from_array(np.zeros(64, np.float32), "b")]
    nodes = [helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], axis=-1),
             helper.make_node("MatMul", ["n", "w"], ["m"]),
             helper.make_node("Gelu", ["m"], ["out"])]
    g = helper.make_graph(nodes, "norm_mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "s", 64])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["b", "s", 96])],
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name, model in [("add_relu", add_relu()), ("mlp", mlp()), ("outer", outer()),
                        ("norm_mlp", norm_mlp())]:
        path = os.path.join(a.out, name + ".onnx")
        onnx.save(model, path)
        subprocess.run([a.mlc, "compile", path, "-o", os.path.join(a.out, name + ".so")],
                       check=True)
    print("1 passed, 0 failed")


if __name__ == "__main__":
    sys.exit(main())

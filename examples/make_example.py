"""Writes the bundled example: a small MLP classifier with a symbolic batch
dim (examples/mlp.onnx) and an input batch (examples/x.npy)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(42)
w1 = numpy_helper.from_array((rng.standard_normal((16, 32)) * 0.3).astype(np.float32), "fc1.weight")
b1 = numpy_helper.from_array(rng.standard_normal(32).astype(np.float32) * 0.1, "fc1.bias")
w2 = numpy_helper.from_array((rng.standard_normal((4, 32)) * 0.3).astype(np.float32), "fc2.weight")
b2 = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "fc2.bias")
nodes = [
    helper.make_node("MatMul", ["x", "fc1.weight"], ["h"], name="fc1"),
    helper.make_node("Add", ["h", "fc1.bias"], ["h_b"], name="fc1_bias"),
    helper.make_node("Relu", ["h_b"], ["a"], name="relu"),
    helper.make_node("Gemm", ["a", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
]
graph = helper.make_graph(
    nodes, "mlp_example",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 4])],
    [w1, b1, w2, b2])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="mlc examples")
onnx.save(model, os.path.join(HERE, "mlp.onnx"))
np.save(os.path.join(HERE, "x.npy"), rng.standard_normal((3, 16)).astype(np.float32))

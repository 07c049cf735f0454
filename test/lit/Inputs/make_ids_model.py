"""A model with integer ids and a mask: Gather rows of a 50-row table by
`ids`, weight them by `attention_mask`, sum over the sequence."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

table = numpy_helper.from_array(
    np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32), "table")
axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
seq_axis = numpy_helper.from_array(np.array([1], np.int64), "seq_axis")
nodes = [
    helper.make_node("Gather", ["table", "ids"], ["rows"]),
    helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
    helper.make_node("Unsqueeze", ["maskf", "axes"], ["mask3"]),
    helper.make_node("Mul", ["rows", "mask3"], ["weighted"]),
    helper.make_node("ReduceSum", ["weighted", "seq_axis"], ["pooled"], keepdims=0),
]
graph = helper.make_graph(
    nodes, "ids",
    [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
     helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
    [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 8])],
    [table, axes, seq_axis])
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])

"""Writes small ONNX models for the import tests: make_model.py CASE OUT."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "test", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def case_mlp(out):
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    # typed (non-raw) initializer data
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], [0.5, 1.5, 2.5])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["y"], name="bias")]
    # "b" is also listed as a graph input (IR < 4 style): it stays a weight.
    onnx.save(model(nodes, [vi("x", ["batch", 4]), vi("b", [3])], [vi("y", ["batch", 3])],
                    [w, b]), out)


def case_unsupported(out):
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("Foo", ["a"], ["b"], name="first_bad"),
             helper.make_node("MaxPool", ["x4"], ["p"], name="bad_attr", kernel_shape=[2, 2],
                              storage_order=1),
             helper.make_node("Bar", ["b"], ["y"], name="second_bad", domain="com.example")]
    m = model(nodes, [vi("x", [2, 2]), vi("x4", [1, 1, 4, 4])], [vi("y", [2, 2]), vi("p", None)])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    onnx.save(m, out)


def case_external(out, location="weights.bin", size=None):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    d = os.path.dirname(out)
    raw = w.tobytes()
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(raw[: size] if size is not None else raw)
    if location.startswith(".."):  # the escaping file exists, so only the escape is wrong
        with open(os.path.join(d, location), "wb") as f:
            f.write(raw)
    t = onnx.TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([2, 3])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", str(len(raw)))):
        e = t.external_data.add()
        e.key, e.value = k, v
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    onnx.save(model(nodes, [vi("x", [1, 2])], [vi("y", [1, 3])], [t]), out)


def case_constant_of_shape(out, dynamic=False):
    # Weights made by ConstantOfShape from an initializer shape (as the
    # "light" zoo models are written), or from a run-time shape.
    shape = numpy_helper.from_array(np.array([4, 3], np.int64), "wshape")
    value = numpy_helper.from_array(np.array([0.25], np.float32), "value")
    nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"], name="cos", value=value),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    outputs = [vi("y", ["batch", 3])]
    if dynamic:
        nodes += [helper.make_node("Shape", ["x"], ["xs"], name="shape"),
                  helper.make_node("ConstantOfShape", ["xs"], ["z"], name="dynamic_cos")]
        outputs.append(vi("z", None))
    onnx.save(model(nodes, [vi("x", ["batch", 4])], outputs, [shape], opset=9), out)


def case_cuda_mix(out):
    """MatMul + bias + Softmax, and a ReduceSum whose axes are a run-time
    input (the host reads them from the device)."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, "w")
    b = numpy_helper.from_array(np.array([0.5, 1.5, 2.5], np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["h2"], name="bias"),
             helper.make_node("Softmax", ["h2"], ["y"], name="sm", axis=-1),
             helper.make_node("ReduceSum", ["x", "axes"], ["s"], name="rs", keepdims=0)]
    onnx.save(model(nodes, [vi("x", ["batch", 4]), vi("axes", [1], TensorProto.INT64)],
                    [vi("y", ["batch", 3]), vi("s", None)], [w, b]), out)


def case_attention(out):
    """Attention (opset 23) with symbolic batch and sequence dims: grouped
    heads (8 query, 2 kv), a past cache, a boolean mask and causal."""
    d = 16
    nodes = [helper.make_node("Attention", ["q", "k", "v", "mask", "past_k", "past_v"],
                              ["y", "present_k", "present_v"], name="attn", is_causal=1)]
    inputs = [vi("q", ["batch", 8, "seq", d]), vi("k", ["batch", 2, "seq", d]),
              vi("v", ["batch", 2, "seq", d]), vi("mask", ["seq", "total"], TensorProto.BOOL),
              vi("past_k", ["batch", 2, "past", d]), vi("past_v", ["batch", 2, "past", d])]
    outputs = [vi("y", ["batch", 8, "seq", d]), vi("present_k", ["batch", 2, "total", d]),
               vi("present_v", ["batch", 2, "total", d])]
    onnx.save(model(nodes, inputs, outputs, opset=23), out)


def case_attention_3d(out):
    """Attention on (batch, seq, heads * head_size) inputs with a float
    mask, a scale and a soft cap."""
    nodes = [helper.make_node("Attention", ["q", "k", "v", "mask"], ["y"], name="attn",
                              q_num_heads=4, kv_num_heads=4, scale=0.3, softcap=2.0)]
    inputs = [vi("q", ["batch", "seq", 32]), vi("k", ["batch", "kv", 32]),
              vi("v", ["batch", "kv", 24]), vi("mask", ["seq", "kv"])]
    onnx.save(model(nodes, inputs, [vi("y", ["batch", "seq", 24])], opset=23), out)


def case_window1d(out):
    """1-D Conv, pools and ConvTranspose on (batch, C, length)."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((6, 2, 3)).astype(np.float32), "w")
    wt = numpy_helper.from_array(rng.standard_normal((6, 2, 4)).astype(np.float32), "wt")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1d", group=2,
                              strides=[2], pads=[1, 1]),
             helper.make_node("MaxPool", ["c"], ["m"], name="maxpool1d", kernel_shape=[3],
                              strides=[2], ceil_mode=1),
             helper.make_node("AveragePool", ["c"], ["a"], name="avgpool1d",
                              kernel_shape=[2], pads=[1, 0], count_include_pad=1),
             helper.make_node("ConvTranspose", ["c", "wt"], ["t"], name="convT1d",
                              strides=[2], pads=[1, 1])]
    outputs = [vi("m", ["batch", 6, None]), vi("a", ["batch", 6, None]),
               vi("t", ["batch", 2, None])]
    onnx.save(model(nodes, [vi("x", ["batch", 4, 17])], outputs, [w, wt], opset=18), out)


def case_split_dynamic(out):
    """Split into equal chunks of a run-time dim (num_outputs), and by
    sizes computed at run time."""
    nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], name="chunks", axis=1,
                              num_outputs=3),
             helper.make_node("Split", ["x", "sizes"], ["p", "q"], name="by_sizes", axis=1)]
    outputs = [vi(o, None) for o in ["a", "b", "c", "p", "q"]]
    onnx.save(model(nodes, [vi("x", ["n", "len"]), vi("sizes", [2], TensorProto.INT64)],
                    outputs, opset=18), out)


def small_convnet():
    """Conv-Relu-Conv-Relu-MatMul-Add on (n, 3, 8, 8), float."""
    rng = np.random.default_rng(0)

    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32) * 0.5
    inits = [numpy_helper.from_array(f(8, 3, 3, 3), "w1"), numpy_helper.from_array(f(8), "b1"),
             numpy_helper.from_array(f(8, 8, 3, 3), "w2"), numpy_helper.from_array(f(8), "b2"),
             numpy_helper.from_array(f(128, 10), "w3"), numpy_helper.from_array(f(10), "b3"),
             numpy_helper.from_array(np.array([0, -1], np.int64), "flat")]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]),
             helper.make_node("Reshape", ["r2", "flat"], ["fl"]),
             helper.make_node("MatMul", ["fl", "w3"], ["mm"]),
             helper.make_node("Add", ["mm", "b3"], ["y"])]
    return model(nodes, [vi("x", ["n", 3, 8, 8])], [vi("y", ["n", 10])], inits, opset=17)


def case_quant_ort(out, mode):
    """The small convnet quantized by onnxruntime's own tools, as users
    quantize: static QDQ (per-channel int8 weights, uint8 activations) or
    dynamic (DynamicQuantizeLinear, ConvInteger, MatMulInteger)."""
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_dynamic, quantize_static)
    import logging
    logging.getLogger().setLevel(logging.ERROR)
    src = out + ".float.onnx"
    onnx.save(small_convnet(), src)
    if mode == "dynamic":
        quantize_dynamic(src, out, weight_type=QuantType.QUInt8)
        return
    rng = np.random.default_rng(1)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)}
                                 for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)
    quantize_static(src, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)


def case_quant_ops(out):
    """The standard quantized operators written by hand: QuantizeLinear,
    QLinearConv (per-channel int8 weight, int32 bias), QLinearMatMul, a
    blocked int8 DequantizeLinear weight (the weight-only LLM pattern) and
    an int32 MatMul. Weights stay within +-60: onnxruntime's uint8 x int8
    kernels saturate pairs of products at int16 beyond that, where mlc
    (and the ONNX reference) compute exactly."""
    rng = np.random.default_rng(2)

    def t(name, a):
        return numpy_helper.from_array(np.asarray(a), name)
    inits = [t("xs", np.float32(0.02)), t("xz", np.uint8(128)),
             t("w", rng.integers(-60, 61, (4, 3, 3, 3), dtype=np.int8)),
             t("ws", rng.uniform(0.005, 0.02, 4).astype(np.float32)),
             t("wz", np.zeros(4, np.int8)),
             t("cs", np.float32(0.05)), t("cz", np.uint8(10)),
             t("bias", rng.integers(-500, 500, 4, dtype=np.int32)),
             t("flat", np.array([0, -1], np.int64)),
             t("m", rng.integers(0, 256, (144, 6), dtype=np.uint8)),
             t("ms", np.float32(0.01)), t("mz", np.uint8(120)),
             t("ys", np.float32(0.1)), t("yz", np.uint8(100)),
             t("bw", rng.integers(-8, 8, (6, 40), dtype=np.int8)),
             t("bs", rng.uniform(0.01, 0.1, (6, 3)).astype(np.float32)),
             t("iw", rng.integers(-3, 4, (6, 5), dtype=np.int32))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "cs", "cz",
                                              "bias"], ["cq"], pads=[1, 1, 1, 1]),
             helper.make_node("Reshape", ["cq", "flat"], ["fq"]),
             helper.make_node("QLinearMatMul", ["fq", "cs", "cz", "m", "ms", "mz", "ys", "yz"],
                              ["yq"]),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
             helper.make_node("DequantizeLinear", ["bw", "bs"], ["bwf"], axis=1, block_size=16),
             helper.make_node("MatMul", ["y", "bwf"], ["z"]),
             helper.make_node("MatMul", ["k", "iw"], ["ki"])]
    inputs = [vi("x", ["n", 3, 6, 6]), vi("k", ["n", 6], TensorProto.INT32)]
    outputs = [vi("y", ["n", 6]), vi("z", ["n", 40]), vi("ki", ["n", 5], TensorProto.INT32)]
    onnx.save(model(nodes, inputs, outputs, inits, opset=21), out)


def case_einsum(out):
    """Einsum equations of every kind: batched matmuls (attention), a
    contraction with two left-only labels (broadcast product), three
    operands, an implicit output with ellipsis broadcasting, a diagonal, a
    trace, an outer product, a full sum."""
    eqs = [("bhqd,bhkd->bhqk", [[2, 3, 4, 8], [2, 3, 5, 8]]),
           ("abc,cd->abd", [[2, 3, 4], [4, 5]]),
           ("ij,jk,kl->il", [[3, 4], [4, 5], [5, 2]]),
           ("...ij,...jk", [[2, 1, 3, 4], [1, 5, 4, 2]]),
           ("bii->bi", [[2, 4, 4]]),
           ("ii", [[5, 5]]),
           ("i,j->ij", [[3], [4]]),
           ("bn,anm,bm->ba", [[2, 3], [4, 3, 5], [2, 5]]),
           ("ijk->", [[2, 3, 4]]),
           ("b i d, b j d -> b i j", [[2, 3, 4], [2, 5, 4]])]
    nodes, inputs, outputs = [], [], []
    for n, (eq, shapes) in enumerate(eqs):
        names = ["e%d_%d" % (n, i) for i in range(len(shapes))]
        inputs += [vi(x, s) for x, s in zip(names, shapes)]
        nodes.append(helper.make_node("Einsum", names, ["y%d" % n], equation=eq))
        outputs.append(vi("y%d" % n, None))
    onnx.save(model(nodes, inputs, outputs, opset=12), out)


def case_axes_runtime(out):
    """Unsqueeze and Squeeze by axes given at run time, and a Slice whose
    axes and steps are given at run time."""
    nodes = [helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
             helper.make_node("Squeeze", ["u", "ax"], ["s"]),
             helper.make_node("Slice", ["x", "st", "en", "sax", "sp"], ["sl"])]
    i64 = TensorProto.INT64
    inputs = [vi("x", ["a", "b"]), vi("ax", [1], i64), vi("st", [1], i64), vi("en", [1], i64),
              vi("sax", [1], i64), vi("sp", [1], i64)]
    onnx.save(model(nodes, inputs, [vi("u", None), vi("s", None), vi("sl", None)], opset=13),
              out)


def case_gathernd(out):
    """GatherND with and without batch dims, on symbolic shapes."""
    nodes = [helper.make_node("GatherND", ["x", "i"], ["g"]),
             helper.make_node("GatherND", ["x", "j"], ["h"], batch_dims=1)]
    inputs = [vi("x", ["n", 3, 4]), vi("i", ["m", 2], TensorProto.INT64),
              vi("j", ["n", "p", 1], TensorProto.INT64)]
    onnx.save(model(nodes, inputs, [vi("g", None), vi("h", None)], opset=13), out)


def case_scatter(out):
    """ScatterND writing rows into a cache (the KV-cache update) and adding
    into elements, ScatterElements with max and with negative indices, on
    symbolic shapes."""
    nodes = [helper.make_node("ScatterND", ["cache", "pos", "rows"], ["c"]),
             helper.make_node("ScatterND", ["cache", "cell", "val"], ["d"], reduction="add"),
             helper.make_node("ScatterElements", ["x", "ei", "eu"], ["e"], axis=1,
                              reduction="max"),
             helper.make_node("ScatterElements", ["x", "ei", "eu"], ["f"], axis=-1)]
    inputs = [vi("cache", ["len", 4]), vi("pos", ["n", 1], TensorProto.INT64),
              vi("rows", ["n", 4]), vi("cell", ["m", 2], TensorProto.INT64), vi("val", ["m"]),
              vi("x", ["a", 5]), vi("ei", ["a", "k"], TensorProto.INT64), vi("eu", ["a", "k"])]
    outputs = [vi(o, None) for o in "cdef"]
    onnx.save(model(nodes, inputs, outputs, opset=18), out)


def case_select(out):
    """Data-dependent selections: TopK (run-time and constant k, largest and
    smallest, integer ties), NonZero and Compress, on symbolic shapes."""
    k2 = numpy_helper.from_array(np.array([2], np.int64), "k2")
    nodes = [helper.make_node("TopK", ["x", "k"], ["tv", "ti"], axis=1),
             helper.make_node("TopK", ["q", "k2"], ["sv", "si"], axis=0, largest=0),
             helper.make_node("NonZero", ["q"], ["nz"]),
             helper.make_node("Greater", ["x", "zero"], ["pos"]),
             helper.make_node("NonZero", ["pos"], ["nzf"]),
             helper.make_node("Compress", ["x", "c"], ["cx"], axis=0),
             helper.make_node("Compress", ["x", "c"], ["cf"])]
    zero = numpy_helper.from_array(np.array(0, np.float32), "zero")
    inputs = [vi("x", ["n", "m"]), vi("k", [1], TensorProto.INT64),
              vi("q", ["a", 3], TensorProto.INT32), vi("c", ["l"], TensorProto.BOOL)]
    i64, i32 = TensorProto.INT64, TensorProto.INT32
    outputs = [vi(o, None, t) for o, t in [("tv", TensorProto.FLOAT), ("ti", i64), ("sv", i32),
                                           ("si", i64), ("nz", i64), ("nzf", i64),
                                           ("cx", TensorProto.FLOAT), ("cf", TensorProto.FLOAT)]]
    onnx.save(model(nodes, inputs, outputs, [k2, zero], opset=13), out)


def case_rotary(out):
    """RotaryEmbedding (opset 23) on (B, H, S, D) with position ids, as
    halves, and on (B, S, H * D) interleaved over part of the head."""
    nodes = [helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"]),
             helper.make_node("RotaryEmbedding", ["z", "cos2", "sin2"], ["w"], interleaved=1,
                              num_heads=2, rotary_embedding_dim=4)]
    inputs = [vi("x", ["b", 2, "s", 8]), vi("cos", ["p", 4]), vi("sin", ["p", 4]),
              vi("pos", ["b", "s"], TensorProto.INT64), vi("z", ["b", "s", 12]),
              vi("cos2", ["b", "s", 2]), vi("sin2", ["b", "s", 2])]
    onnx.save(model(nodes, inputs, [vi("y", None), vi("w", None)], opset=23), out)


def case_resize_cubic(out):
    """Bicubic Resize: scales on a symbolic image (half_pixel), sizes with
    align_corners and exclude_outside, and torch's A = -0.75."""
    sc = numpy_helper.from_array(np.array([1, 1, 2.0, 1.5], np.float32), "sc")
    sz = numpy_helper.from_array(np.array([1, 2, 5, 3], np.int64), "sz")
    nodes = [helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="cubic"),
             helper.make_node("Resize", ["x", "", "", "sz"], ["z"], mode="cubic",
                              coordinate_transformation_mode="align_corners",
                              cubic_coeff_a=-0.5, exclude_outside=1)]
    onnx.save(model(nodes, [vi("x", [1, 2, "h", "w"])], [vi("y", None), vi("z", None)],
                    [sc, sz], opset=13), out)


def case_grid_sample(out):
    """A spatial transformer: AffineGrid from theta, then GridSample in each
    mode with each padding mode, on symbolic image sizes."""
    size = numpy_helper.from_array(np.array([2, 3, 5, 6], np.int64), "size")
    nodes = [helper.make_node("AffineGrid", ["theta", "size"], ["grid"]),
             helper.make_node("GridSample", ["x", "grid"], ["a"], mode="linear"),
             helper.make_node("GridSample", ["x", "grid"], ["b"], mode="cubic",
                              padding_mode="border", align_corners=1),
             helper.make_node("GridSample", ["x", "g"], ["c"], mode="nearest",
                              padding_mode="reflection"),
             helper.make_node("GridSample", ["x", "g"], ["d"], padding_mode="reflection")]
    inputs = [vi("x", [2, 3, "h", "w"]), vi("theta", [2, 2, 3]), vi("g", [2, "p", "q", 2])]
    outputs = [vi(o, None) for o in "abcd"]
    onnx.save(model(nodes, inputs, outputs, [size], opset=20), out)


def case_nms(out):
    """NonMaxSuppression on symbolic box and class counts: corner boxes with
    IoU and score thresholds, centre boxes without a score filter."""
    inits = [numpy_helper.from_array(np.array([3], np.int64), "maxo"),
             numpy_helper.from_array(np.array([0.3], np.float32), "iou"),
             numpy_helper.from_array(np.array([-0.2], np.float32), "sthr")]
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "maxo", "iou", "sthr"],
                              ["sel"]),
             helper.make_node("NonMaxSuppression", ["boxes", "scores", "maxo", "iou"], ["selc"],
                              center_point_box=1)]
    inputs = [vi("boxes", ["b", "n", 4]), vi("scores", ["b", "c", "n"])]
    outputs = [vi("sel", None, TensorProto.INT64), vi("selc", None, TensorProto.INT64)]
    onnx.save(model(nodes, inputs, outputs, inits, opset=11), out)


def case_center_crop_pad(out):
    """CenterCropPad to a constant size (crop one axis, pad the other) and to
    a size given at run time."""
    hw = numpy_helper.from_array(np.array([4, 7], np.int64), "hw")
    nodes = [helper.make_node("CenterCropPad", ["x", "hw"], ["y"], axes=[-3, -2]),
             helper.make_node("CenterCropPad", ["x", "s"], ["z"], axes=[1])]
    inputs = [vi("x", ["h", "w", 3]), vi("s", [1], TensorProto.INT64)]
    onnx.save(model(nodes, inputs, [vi("y", None), vi("z", None)], [hw], opset=18), out)


def case_narrow(out):
    """Narrow types as exporters and quantizers write them: a weight-only
    int4 MatMul (blocked scales, an odd element count so the packed data
    ends in half a byte), a float8 QDQ pair around data movement, Casts to
    float8 with and without saturation, to int4 (onnxruntime
    has no float4 Cast: the node tests cover it), and a uint4 weight of
    three elements."""
    rng = np.random.default_rng(5)
    w4 = rng.integers(-8, 8, (6, 7)).astype(np.int8)
    inits = [helper.make_tensor("w4", TensorProto.INT4, [6, 7], w4.flatten().tolist()),
             numpy_helper.from_array(rng.uniform(0.05, 0.2, (2, 7)).astype(np.float32), "s4"),
             numpy_helper.from_array(np.float32(0.05), "s8"),
             helper.make_tensor("z8", TensorProto.FLOAT8E4M3FN, [], [0.0]),
             helper.make_tensor("w2", TensorProto.UINT4, [3], [15, 1, 6]),
             numpy_helper.from_array(np.float32(0.5), "s2"),
             numpy_helper.from_array(np.float32(7), "seven"),
             numpy_helper.from_array(np.float32(-8), "lo4"),
             numpy_helper.from_array(np.float32(7), "hi4"),
             numpy_helper.from_array(np.float32(300), "big")]
    nodes = [helper.make_node("DequantizeLinear", ["w4", "s4"], ["wf"], axis=0, block_size=4),
             helper.make_node("MatMul", ["x", "wf"], ["y"]),
             helper.make_node("QuantizeLinear", ["x", "s8", "z8"], ["xq"]),
             helper.make_node("Transpose", ["xq"], ["xqt"], perm=[1, 0]),
             helper.make_node("DequantizeLinear", ["xqt", "s8", "z8"], ["xd"]),
             helper.make_node("Cast", ["x"], ["x52"], to=TensorProto.FLOAT8E5M2, saturate=0),
             helper.make_node("Cast", ["x52"], ["c52"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["x", "x"], ["xx"]),
             helper.make_node("Cast", ["xx"], ["x43"], to=TensorProto.FLOAT8E4M3FN),
             helper.make_node("Cast", ["x43"], ["c43"], to=TensorProto.FLOAT),
             # within int4's range, integer-valued: out of range is undefined
             # and onnxruntime rounds where ONNX's reference truncates
             helper.make_node("Mul", ["x", "seven"], ["x7"]),
             helper.make_node("Round", ["x7"], ["x7r"]),
             helper.make_node("Clip", ["x7r", "lo4", "hi4"], ["x7c"]),
             helper.make_node("Cast", ["x7c"], ["xi4"], to=TensorProto.INT4),
             # saturates at 448
             helper.make_node("Mul", ["x", "big"], ["xb"]),
             helper.make_node("Cast", ["xb"], ["xb43"], to=TensorProto.FLOAT8E4M3FN),
             helper.make_node("Cast", ["xb43"], ["cb43"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["xi4"], ["ci4"], to=TensorProto.FLOAT),
             helper.make_node("DequantizeLinear", ["w2", "s2"], ["w2f"])]
    outputs = [vi("y", ["n", 7]), vi("xd", [6, "n"]), vi("c52", ["n", 6]),
               vi("c43", ["n", 6]), vi("ci4", ["n", 6]), vi("cb43", ["n", 6]), vi("w2f", [3])]
    onnx.save(model(nodes, [vi("x", ["n", 6])], outputs, inits, opset=21), out)


def case_narrow_io(out):
    """Narrow graph inputs and outputs: an int4 input (five values, so the
    packed .pb ends in half a byte) dequantized and passed through, and a
    float8 output; next to the model, q.pb holds an input and e5.pb one of
    the wrong narrow type. Also bad.onnx: an Add on float8, which ONNX does
    not define, and quantizers whose zero point is uint8 where the other
    side is float8 (its bytes are not uint8 values)."""
    nodes = [helper.make_node("DequantizeLinear", ["q", "s"], ["y"]),
             helper.make_node("Reshape", ["q", "shape"], ["qt"]),
             helper.make_node("Cast", ["y"], ["y8"], to=TensorProto.FLOAT8E5M2)]
    inits = [numpy_helper.from_array(np.float32(0.5), "s"),
             numpy_helper.from_array(np.array([5, 1], np.int64), "shape")]
    outputs = [vi("y", [5]), vi("qt", [5, 1], TensorProto.INT4),
               vi("y8", [5], TensorProto.FLOAT8E5M2)]
    onnx.save(model(nodes, [vi("q", [5], TensorProto.INT4)], outputs, inits, opset=21), out)
    d = os.path.dirname(os.path.abspath(out))
    q = helper.make_tensor("q", TensorProto.INT4, [5], [-8, 7, -1, 0, 3])
    with open(os.path.join(d, "q.pb"), "wb") as f:
        f.write(q.SerializeToString())
    e5 = helper.make_tensor("q", TensorProto.FLOAT8E5M2, [5], [1, 2, 3, 4, 5])
    with open(os.path.join(d, "e5.pb"), "wb") as f:
        f.write(e5.SerializeToString())
    bad = [helper.make_node("Cast", ["x"], ["x8"], to=TensorProto.FLOAT8E4M3FN),
           helper.make_node("Add", ["x8", "x8"], ["y"], name="add8"),
           helper.make_node("QuantizeLinear", ["x", "s", "zu8"], ["q8"], name="q8",
                            output_dtype=TensorProto.FLOAT8E4M3FN),
           helper.make_node("DequantizeLinear", ["x8", "s", "zu8"], ["d8"], name="d8")]
    zu8 = numpy_helper.from_array(np.uint8(0), "zu8")
    s = numpy_helper.from_array(np.float32(0.5), "s")
    onnx.save(model(bad, [vi("x", [3])], [vi("y", [3], TensorProto.FLOAT8E4M3FN),
                                          vi("q8", [3], TensorProto.FLOAT8E4M3FN),
                                          vi("d8", [3])], [zu8, s], opset=21),
              os.path.join(d, "bad.onnx"))


def case_long_chain(out, n=600):
    """A chain of n elementwise nodes (Add, Mul, Relu, Neg, Tanh in turn):
    more than one fused kernel may hold."""
    c = numpy_helper.from_array(np.full((8,), 0.25, np.float32), "c")
    nodes, prev = [], "x"
    for i in range(n):
        o = "y" if i == n - 1 else "t%d" % i
        k = i % 5
        op = ["Add", "Mul", "Relu", "Neg", "Tanh"][k]
        nodes.append(helper.make_node(op, [prev, "c"] if k < 2 else [prev], [o]))
        prev = o
    onnx.save(model(nodes, [vi("x", ["n", 8])], [vi("y", ["n", 8])], [c]), out)


def case_many_outputs(out, k=300):
    """k outputs, each its own kernel (x + c_i), plus outputs that are the
    input itself, and one value returned twice."""
    inits = [numpy_helper.from_array(np.array([float(i)], np.float32), "c%d" % i) for i in range(k)]
    nodes = [helper.make_node("Add", ["x", "c%d" % i], ["y%d" % i]) for i in range(k)]
    nodes.append(helper.make_node("Identity", ["x"], ["same"]))
    nodes.append(helper.make_node("Identity", ["y0"], ["y0_again"]))
    outs = [vi("y%d" % i, [16]) for i in range(k)] + [vi("same", [16]), vi("y0_again", [16])]
    onnx.save(model(nodes, [vi("x", [16])], outs, inits), out)


def case_tfidf(out):
    """TfIdfVectorizer in its three modes, with and without weights, on a
    2-D int64 batch and a 1-D int32 row."""
    pool = [2, 3, 5, 4, 5, 6, 7, 8, 6, 7, 2, 3, 5]
    common = dict(min_gram_length=1, max_gram_length=3, max_skip_count=2,
                  ngram_counts=[0, 4, 10], ngram_indexes=[7, 6, 5, 4, 3, 2, 1, 0],
                  pool_int64s=pool)
    w = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0]
    nodes = [helper.make_node("TfIdfVectorizer", ["x"], ["tf"], mode="TF", **common),
             helper.make_node("TfIdfVectorizer", ["x"], ["idf"], mode="IDF", weights=w, **common),
             helper.make_node("TfIdfVectorizer", ["x"], ["tfidf"], mode="TFIDF", weights=w, **common),
             helper.make_node("TfIdfVectorizer", ["r"], ["row"], mode="IDF", **common)]
    onnx.save(model(nodes, [vi("x", [2, 12], TensorProto.INT64), vi("r", [7], TensorProto.INT32)],
                    [vi("tf", [2, 8]), vi("idf", [2, 8]), vi("tfidf", [2, 8]), vi("row", [8])],
                    opset=13), out)


def case_bf16(out):
    """bfloat16 end to end, on a symbolic batch: a MatMul with a bf16
    weight and bias, Tanh, Softmax, a ReduceSum and Erf, and a Cast to
    float32. Next to the model: x.npy (an ml_dtypes bfloat16 input) and
    want_*.npy, NumPy's result rounding to bfloat16 after each op as ONNX's
    reference does."""
    import ml_dtypes
    bf = ml_dtypes.bfloat16
    rng = np.random.default_rng(7)
    w = rng.uniform(-1, 1, (16, 8)).astype(bf)
    b = rng.uniform(-1, 1, (8,)).astype(bf)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Tanh", ["a"], ["t"]),
             helper.make_node("Softmax", ["t"], ["y"], axis=-1),
             helper.make_node("ReduceSum", ["t", "axes"], ["r"], keepdims=0),
             helper.make_node("Erf", ["r"], ["e"]),
             helper.make_node("Cast", ["e"], ["f"], to=TensorProto.FLOAT)]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array([1], np.int64), "axes")]
    BF = TensorProto.BFLOAT16
    onnx.save(model(nodes, [vi("x", ["n", 16], BF)],
                    [vi("y", ["n", 8], BF), vi("e", ["n"], BF), vi("f", ["n"])], inits), out)
    d = os.path.dirname(os.path.abspath(out))
    x = rng.uniform(-1, 1, (5, 16)).astype(bf)
    np.save(os.path.join(d, "x.npy"), x)
    f32 = lambda v: np.asarray(v, np.float32)
    r16 = lambda v: f32(v).astype(bf).astype(np.float32)
    t = r16(np.tanh(r16(r16(f32(x) @ f32(w)) + f32(b))))
    ex = np.exp(t - t.max(-1, keepdims=True))
    y = r16(ex / ex.sum(-1, keepdims=True))
    import math
    e = r16([math.erf(v) for v in r16(t.sum(-1))])
    for name, v in (("y", y), ("e", e), ("f", e)):
        np.save(os.path.join(d, "want_%s.npy" % name), v)


def case_signal(out):
    """DFT and STFT as exporters write them (constant axis, length and
    step): a one-sided DFT of a real signal zero-padded to 20 points, an
    inverse complex DFT along the batch axis, an irfft back to 20 points,
    and a Hann-windowed STFT with a run-time frame count's worth of frames,
    on a symbolic batch."""
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    nodes = [helper.make_node("DFT", ["x", "n20", "ax1"], ["rfft"], onesided=1),
             helper.make_node("DFT", ["c", "", "ax0"], ["inv"], inverse=1),
             helper.make_node("DFT", ["rfft", "", "ax1"], ["irfft"], onesided=1, inverse=1),
             helper.make_node("STFT", ["x", "step", "win"], ["spec"])]
    win = numpy_helper.from_array(np.hanning(8).astype(np.float32), "win")
    inits = [i64("n20", 20), i64("ax1", 1), i64("ax0", 0), i64("step", 3), win]
    onnx.save(model(nodes, [vi("x", ["b", 16, 1]), vi("c", [3, 5, 2])],
                    [vi("rfft", ["b", 11, 2]), vi("inv", [3, 5, 2]), vi("irfft", ["b", 20, 1]),
                     vi("spec", ["b", 3, 5, 2])], inits, opset=20), out)


def case_control_flow(out):
    """If, Loop and Scan as exporters write them, on a symbolic batch:
    an If on a run-time flag whose branches yield different widths; a
    Loop with a trip count and an early exit, a carried history that grows
    by a row per iteration, a nested If, and scan outputs of static and
    of run-time element shape; a reversed Scan whose output is stacked
    along axis 1 in reverse."""
    f32 = lambda name, v: numpy_helper.from_array(np.array(v, np.float32), name)
    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    then_g = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "two"], ["t_out"])],
        "then", [], [vi("t_out", ["b", 4])])
    else_g = helper.make_graph(
        [helper.make_node("Slice", ["x", "s0", "s2", "s1"], ["e_out"])],
        "else", [], [vi("e_out", ["b", 2])])
    half_g = helper.make_graph([helper.make_node("Mul", ["s_in", "half"], ["h_out"])],
                               "half", [], [vi("h_out", ["b", 4])])
    same_g = helper.make_graph([helper.make_node("Identity", ["s_in"], ["i_out"])],
                               "same", [], [vi("i_out", ["b", 4])])
    body = helper.make_graph(
        [helper.make_node("Greater", ["i", "two_i"], ["late"]),
         helper.make_node("If", ["late"], ["s_if"], then_branch=half_g, else_branch=same_g),
         helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
         helper.make_node("Tanh", ["s_if"], ["s_t"]),
         helper.make_node("Add", ["s_t", "i_f"], ["s_out"]),
         helper.make_node("ReduceSum", ["s_out", "ax0"], ["row"], keepdims=1),
         helper.make_node("Concat", ["hist_in", "row"], ["hist_out"], axis=0),
         helper.make_node("ReduceSum", ["s_out", "ax0"], ["col"], keepdims=0),
         helper.make_node("Less", ["i", "five"], ["c_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
                 vi("s_in", ["b", 4]), vi("hist_in", [None, 4])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         vi("s_out", ["b", 4]), vi("hist_out", [None, 4]), vi("col", [4]),
         vi("s_out", ["b", 4])])
    scan_body = helper.make_graph(
        [helper.make_node("Mul", ["xr", "two"], ["x2"]),
         helper.make_node("Add", ["acc_in", "x2"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["y"])],
        "scan_body", [vi("acc_in", [4]), vi("xr", [4])], [vi("acc_out", [4]), vi("y", [4])])
    nodes = [helper.make_node("If", ["flag"], ["branch"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Loop", ["n", "", "x", "hist0"],
                              ["s_final", "hist", "cols", "states"], body=body),
             helper.make_node("Scan", ["acc0", "x"], ["acc", "ys"], body=scan_body,
                              num_scan_inputs=1, scan_input_directions=[1],
                              scan_output_directions=[1], scan_output_axes=[1])]
    inits = [f32("two", 2.0), f32("half", 0.5), i64("s0", [0]), i64("s1", [1]),
             i64("s2", [2]), i64("two_i", 2), i64("five", 5), i64("ax0", [0]),
             numpy_helper.from_array(np.zeros((0, 4), np.float32), "hist0"),
             f32("acc0", [0, 0, 0, 0])]
    inputs = [vi("x", ["b", 4]), helper.make_tensor_value_info("n", TensorProto.INT64, []),
              helper.make_tensor_value_info("flag", TensorProto.BOOL, [])]
    outputs = [vi("branch", ["b", None]), vi("s_final", ["b", 4]), vi("hist", [None, 4]),
               vi("cols", [None, 4]), vi("states", [None, "b", 4]), vi("acc", [4]),
               vi("ys", [4, "b"])]
    onnx.save(model(nodes, inputs, outputs, inits, opset=16), out)


CASES = {
    "control_flow": case_control_flow,
    "signal": case_signal,
    "bf16": case_bf16,
    "tfidf": case_tfidf,
    "long_chain": case_long_chain,
    "many_outputs": case_many_outputs,
    "narrow_io": case_narrow_io,
    "narrow": case_narrow,
    "center_crop_pad": case_center_crop_pad,
    "nms": case_nms,
    "grid_sample": case_grid_sample,
    "resize_cubic": case_resize_cubic,
    "rotary": case_rotary,
    "select": case_select,
    "scatter": case_scatter,
    "gathernd": case_gathernd,
    "axes_runtime": case_axes_runtime,
    "einsum": case_einsum,
    "quant_qdq": lambda o: case_quant_ort(o, "qdq"),
    "quant_dynamic": lambda o: case_quant_ort(o, "dynamic"),
    "quant_ops": case_quant_ops,
    "split_dynamic": case_split_dynamic,
    "attention": case_attention,
    "attention_3d": case_attention_3d,
    "window1d": case_window1d,
    "cuda_mix": case_cuda_mix,
    "constant_of_shape": case_constant_of_shape,
    "constant_of_shape_dynamic": lambda o: case_constant_of_shape(o, dynamic=True),
    "mlp": case_mlp,
    "unsupported": case_unsupported,
    "external": case_external,
    "external_escape": lambda o: case_external(o, location="../weights.bin"),
    "external_short": lambda o: case_external(o, size=10),
}

if __name__ == "__main__":
    out = sys.argv[2]
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    CASES[sys.argv[1]](out)

"""Hostile inputs: invalid models, files, run-time inputs and artifacts fed to
the mlc CLI. mlc must never crash (a signal), hang or silently accept them.

Each case writes its files into WORK/<case>, runs one mlc command there (with
a timeout and an address-space limit, so a runaway allocation fails inside
mlc instead of taking the machine down) and checks the outcome against what
a correct compiler must do:

  exit code  0 accepted (and, for verify, correct), 1 user error, 2 internal
             error; a signal or a timeout is always a failure. A few cases
             accept either 0 or 1 (both are defensible); the table shows
             which one happened.
  message    a regex that must match stdout+stderr: the message names the
             node, tensor or file at fault and the rule that was broken.

Prints a Markdown table (case | command | expected rc | actual rc | first
line of message | result) and a summary; exits 1 when any case fails.
"""
import argparse
import concurrent.futures as cf
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
INT64_MIN = -2 ** 63


# --------------------------------------------------------------------------
# Helpers for writing models and files


def model(nodes, inputs, outputs, inits=(), opset=13):
    g = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def node(op, ins, outs, name, **attrs):
    return helper.make_node(op, ins, outs, name=name, **attrs)


def const(name, values, dtype=None):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def save(m, path):
    """Writes the proto as is: no checker, no external-data handling."""
    with open(path, "wb") as f:
        f.write(m.SerializeToString())
    return os.path.basename(path)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return os.path.basename(path)


def relu_model(name="inp", shape=(2, 3)):
    return model([node("Relu", [name], ["out"], "relu")], [vi(name, list(shape))],
                 [vi("out", list(shape))])


def mlp_model():
    """A model of some size (an initializer), so that half of it cuts the graph."""
    w = const("fc_weight", np.arange(64, dtype=np.float32).reshape(8, 8))
    return model([node("MatMul", ["inp", "fc_weight"], ["out"], "mm")], [vi("inp", [1, 8])],
                 [vi("out", [1, 8])], [w])


def npy_raw(header, data=b""):
    """An .npy (version 1.0) with the given header dict text, padded as numpy does."""
    h = header.encode("latin1")
    pad = 64 - (10 + len(h) + 1) % 64
    h += b" " * (pad % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def npy_bytes(arr):
    import io
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def external_model(wd, offset="0", length=None, location="weights.bin", fifo=False,
                   model_dir="."):
    """MatMul with a weight in an external file, with the given (maybe hostile)
    external_data entries; returns the model path relative to wd."""
    raw = np.arange(6, dtype=np.float32).reshape(2, 3).tobytes()
    d = os.path.join(wd, model_dir)
    os.makedirs(d, exist_ok=True)
    target = os.path.normpath(os.path.join(d, location))
    if fifo:
        os.mkfifo(target)
    else:
        write(target, raw)
    t = onnx.TensorProto(name="fc_weight", data_type=TensorProto.FLOAT, dims=[2, 3],
                         data_location=TensorProto.EXTERNAL)
    for k, v in (("location", location), ("offset", offset),
                 ("length", str(len(raw)) if length is None else length)):
        e = t.external_data.add()
        e.key, e.value = k, v
    m = model([node("MatMul", ["inp", "fc_weight"], ["out"], "mm")], [vi("inp", [1, 2])],
              [vi("out", [1, 3])], [t])
    save(m, os.path.join(d, "model.onnx"))
    return os.path.normpath(os.path.join(model_dir, "model.onnx"))


class Setup(Exception):
    """A case's preparation (e.g. compiling the valid model it runs) failed."""


class Ctx:
    def __init__(self, wd, mlc, runner):
        self.wd, self.mlc, self.runner = wd, mlc, runner

    def path(self, name):
        return os.path.join(self.wd, name)

    def compile(self, m, name="model"):
        """Compiles a valid model; returns the .so name."""
        save(m, self.path(name + ".onnx"))
        rc, out, _ = self.runner(["compile", name + ".onnx", "-o", name + ".so"], self.wd)
        if rc != 0:
            raise Setup("compiling the valid %s.onnx: rc %s: %s" % (name, rc, first_line(out)))
        return name + ".so"

    def npy(self, name, arr):
        np.save(self.path(name), arr)
        return name


# --------------------------------------------------------------------------
# The cases: each generator writes its files and returns the mlc arguments.


def R(*parts):
    """A regex matching text that contains every one of the parts (any order)."""
    return "(?is)" + "".join("(?=.*(?:%s))" % p for p in parts)


BAD_FILE = r"pars|truncat|corrupt|invalid|malformed|not a valid|decod|protobuf|read"
BAD_SO = (r"invalid|truncat|corrupt|load|ELF|not an? |mlc_model|checksum|damaged|"
          r"open|short|read|symbol|format")
CASES = []


def case(name, expect, timeout=None, env=None):
    """expect: {accepted exit code: regex the output must match}."""
    if isinstance(expect, int):
        expect = {expect: ""}

    def deco(fn):
        CASES.append(dict(name=name, make=fn, expect=expect, timeout=timeout, env=env))
        return fn
    return deco


def C(name, expect, make, **kw):
    case(name, expect, **kw)(make)


# 1. Files -----------------------------------------------------------------


def _truncated(c):
    b = mlp_model().SerializeToString()
    return ["compile", write(c.path("half.onnx"), b[:len(b) // 2]), "-o", "out.so"]


def _random_onnx(c):
    return ["compile", write(c.path("random.onnx"), np.random.RandomState(1).bytes(1000)),
            "-o", "out.so"]


def _directory(c):
    os.makedirs(c.path("modeldir.onnx"))
    return ["compile", "modeldir.onnx", "-o", "out.so"]


C("file_truncated_half", {1: R(r"half\.onnx", BAD_FILE)}, _truncated)
C("file_random_bytes", {1: R(r"random\.onnx", BAD_FILE)}, _random_onnx)
C("file_empty", {1: R(r"empty\.onnx", r"empty|no graph|" + BAD_FILE)},
  lambda c: ["compile", write(c.path("empty.onnx"), b""), "-o", "out.so"])
C("file_is_directory", {1: R(r"modeldir\.onnx", r"directory")}, _directory)
C("file_missing", {1: R(r"nope\.onnx", r"no such|not found|does not exist|cannot open|"
                        r"can't open|missing")},
  lambda c: ["compile", "nope.onnx", "-o", "out.so"])
EXT = r"fc_weight|weights\.bin"
C("ext_data_fifo", {1: R(r"w\.fifo", r"regular|not a file|fifo|pipe|special")},
  lambda c: ["compile", external_model(c.wd, location="w.fifo", fifo=True), "-o", "out.so"],
  timeout=15)
C("ext_offset_abc", {1: R(EXT, r"offset", r"abc|number|integer|invalid")},
  lambda c: ["compile", external_model(c.wd, offset="abc"), "-o", "out.so"])
C("ext_length_abc", {1: R(EXT, r"length", r"abc|number|integer|invalid")},
  lambda c: ["compile", external_model(c.wd, length="abc"), "-o", "out.so"])
C("ext_offset_huge", {1: R(EXT, r"offset", r"9{23}|range|overflow|too (large|big)|invalid|"
                           r"beyond|past|exceed")},
  lambda c: ["compile", external_model(c.wd, offset="9" * 23), "-o", "out.so"])
C("ext_length_huge", {1: R(EXT, r"length", r"9{23}|range|overflow|too (large|big)|invalid|"
                           r"beyond|past|exceed")},
  lambda c: ["compile", external_model(c.wd, length="9" * 23), "-o", "out.so"])
C("ext_length_negative", {1: R(EXT, r"length", r"-4|negative|invalid")},
  lambda c: ["compile", external_model(c.wd, length="-4"), "-o", "out.so"])
C("ext_location_escapes", {1: R(r"\.\./x\.bin", r"outside|escap|not allowed|parent|within|"
                                r"beneath|under")},
  lambda c: ["compile", external_model(c.wd, location="../x.bin", model_dir="sub"),
             "-o", "out.so"])

# 2. Graph rules -----------------------------------------------------------


def compile_model(m):
    return lambda c: ["compile", save(m, c.path("model.onnx")), "-o", "out.so"]


X = [vi("x", [2, 3])]
C("graph_two_writers", {1: R(r"y_dup", r"first_writer|second_writer",
                             r"more than once|twice|duplicate|already|multiple|both|single|defined once")},
  compile_model(model([node("Relu", ["x"], ["y_dup"], "first_writer"),
                       node("Neg", ["x"], ["y_dup"], "second_writer")], X,
                      [vi("y_dup", [2, 3])])))
C("graph_reads_own_output", {1: R(r"selfish", r"cycle|own output|itself|not (yet )?(produced|"
                                  r"defined|available)|before|topolog|undefined|unknown")},
  compile_model(model([node("Add", ["x", "s"], ["s"], "selfish")], X, [vi("s", [2, 3])])))
C("graph_duplicate_inputs", {1: R(r"in_twice", r"duplicate|twice|more than once|already|"
                                  r"multiple")},
  compile_model(model([node("Add", ["in_twice", "in_twice"], ["y"], "add")],
                      [vi("in_twice", [2, 3]), vi("in_twice", [2, 3])], [vi("y", [2, 3])])))
C("graph_undefined_input", {1: R(r"ghost", r"reader", r"undefined|not (produced|defined|found)|"
                                 r"unknown|no (node|producer)|nobody|missing|does not exist")},
  compile_model(model([node("Add", ["x", "ghost"], ["y"], "reader")], X, [vi("y", [2, 3])])))


def _dup_attr(c):
    n = node("LeakyRelu", ["x"], ["y"], "leaky")
    n.attribute.extend([helper.make_attribute("alpha", 0.1), helper.make_attribute("alpha", 0.2)])
    return compile_model(model([n], X, [vi("y", [2, 3])]))(c)


C("graph_duplicate_attribute", {1: R(r"leaky", r"alpha", r"twice|duplicate|more than once|"
                                     r"already|repeated|multiple")}, _dup_attr)
C("graph_opset_99", {1: R(r"\b99\b", r"opset|version")},
  compile_model(model([node("Relu", ["x"], ["y"], "relu")], X, [vi("y", [2, 3])], opset=99)))
C("graph_output_type_mismatch", {1: R(r"y_typed", r"int64", r"float")},
  compile_model(model([node("Relu", ["x"], ["y_typed"], "relu")], X,
                      [vi("y_typed", [2, 3], TensorProto.INT64)])))
C("graph_cycle", {1: R(r"cycl", r"cyc_a", r"cyc_b")},
  compile_model(model([node("Add", ["x", "b_out"], ["a_out"], "cyc_a"),
                       node("Relu", ["a_out"], ["b_out"], "cyc_b")], X, [vi("b_out", [2, 3])])))


def _out_of_order(c):
    m = model([node("Relu", ["a"], ["y"], "second"), node("Neg", ["x"], ["a"], "first")], X,
              [vi("y", [2, 3])])
    return ["verify", save(m, c.path("model.onnx"))]


# onnxruntime runs unsorted graphs, so `verify` checks the result when mlc accepts.
C("graph_not_topological", {0: R(r"PASS"), 1: R(r"second|\ba\b", r"topolog|order|before|"
                                                 r"after|later")},
  _out_of_order, env="verify")

# 3. Attributes and shapes -------------------------------------------------
X4 = [vi("x", [1, 1, 4, 4])]
Y4 = ["n", "c", "h", "w"]  # outputs need a shape (the checker says), not a right one
C("maxpool_kernel_0", {1: R(r"pool_k0", r"kernel_shape", r"0|zero|positive|must")},
  compile_model(model([node("MaxPool", ["x"], ["y"], "pool_k0", kernel_shape=[0, 0])], X4,
                      [vi("y", Y4)])))
C("maxpool_strides_0", {1: R(r"pool_s0", r"strides", r"0|zero|positive|must")},
  compile_model(model([node("MaxPool", ["x"], ["y"], "pool_s0", kernel_shape=[2, 2],
                            strides=[0, 0])], X4, [vi("y", Y4)])))
C("conv_strides_0", {1: R(r"conv_s0", r"strides", r"0|zero|positive|must")},
  compile_model(model([node("Conv", ["x", "w"], ["y"], "conv_s0", kernel_shape=[2, 2],
                            strides=[0, 0])], X4, [vi("y", Y4)],
                      [const("w", np.ones((1, 1, 2, 2)), np.float32)])))
C("split_sizes_wrong_sum", {1: R(r"split_bad", r"sum|add up|total|\b6\b|\b4\b")},
  compile_model(model([node("Split", ["x", "sizes"], ["p", "q"], "split_bad", axis=0)],
                      [vi("x", [6])], [vi("p", ["p0"]), vi("q", ["q0"])],
                      [const("sizes", [2, 2], np.int64)])))
C("input_dim_minus_5", {1: R(r"x_neg", r"-5|negative")},
  compile_model(relu_model("x_neg", (2, -5))))
C("input_dim_int64_min", {1: R(r"x_min", r"-9223372036854775808|negative|invalid|range")},
  compile_model(relu_model("x_min", (INT64_MIN, 3))))
C("input_elements_overflow", {1: R(r"x_big", r"overflow|too (large|big|many)|exceed|range|more than 2\^48 bytes")},
  compile_model(relu_model("x_big", (2 ** 40, 2 ** 40))))


def _huge_init(c):
    t = onnx.TensorProto(name="huge_w", data_type=TensorProto.FLOAT, dims=[2 ** 31, 2 ** 31])
    m = model([node("Add", ["x", "huge_w"], ["y"], "add")], [vi("x", [1, 1])],
              [vi("y", ["a", "b"])], [t])
    return ["compile", save(m, c.path("model.onnx")), "-o", "out.so"]


C("initializer_huge_no_data", {1: R(r"huge_w", r"data|size|bytes|overflow|too (large|big)|"
                                    r"exceed|missing|empty|values|needs|holds")},
  _huge_init)
C("input_rank_9", {1: R(r"x_r", r"rank", r"\b8\b|\b9\b|max|at most|exceed|limit|too")},
  compile_model(relu_model("x_r", (1,) * 9)))
C("expand_scalar_shape", {1: R(r"expand0", r"shape", r"rank|1-?D|scalar|one-dimensional|"
                               r"vector")},
  compile_model(model([node("Expand", ["x", "shp"], ["y"], "expand0")], X, [vi("y", ["a", "b"])],
                      [const("shp", 3, np.int64)])))
C("batchnorm_empty_mean_var", {1: R(r"bn_empty", r"mean|var",
                                    r"shape|size|channel|\b3\b|\b0\b|empty|expect")},
  compile_model(model([node("BatchNormalization", ["x", "sc", "bi", "mean", "var"], ["y"],
                            "bn_empty")], [vi("x", [1, 3, 2, 2])], [vi("y", [1, 3, 2, 2])],
                      [const("sc", np.ones(3), np.float32), const("bi", np.zeros(3), np.float32),
                       const("mean", np.zeros(0), np.float32),
                       const("var", np.zeros(0), np.float32)])))


def _short_weight(c):
    w = onnx.TensorProto(name="conv_w", data_type=TensorProto.FLOAT, dims=[2, 1, 3, 3],
                         raw_data=b"\0" * 20)  # 72 bytes expected
    m = model([node("Conv", ["x", "conv_w"], ["y"], "conv")], [vi("x", [1, 1, 4, 4])],
              [vi("y", [1, 2, 2, 2])], [w])
    return ["compile", save(m, c.path("model.onnx")), "-o", "out.so"]


C("conv_weight_raw_data_short", {1: R(r"conv_w", r"raw_data|bytes|size|short|expect|truncat|"
                                      r"\b72\b|\b20\b")}, _short_weight)
# A 32 GiB constant of which 4 elements are used: folding it lazily (exit 0) or
# refusing it with a message (exit 1) are both fine; dying of bad_alloc is not.
C("slice_of_huge_constant", {0: "", 1: R(r"cos_huge|slice_huge", r"large|size|memory|exceed|"
                                         r"overflow|too|limit")},
  compile_model(model([node("ConstantOfShape", ["shp"], ["big"], "cos_huge",
                            value=numpy_helper.from_array(np.array([1.5], np.float32))),
                       node("Slice", ["big", "st", "en"], ["sl"], "slice_huge"),
                       node("Add", ["x", "sl"], ["y"], "add")],
                      [vi("x", [4])], [vi("y", [4])],
                      [const("shp", [1 << 33], np.int64), const("st", [0], np.int64),
                       const("en", [4], np.int64)])))
C("range_delta_0", {1: R(r"range0", r"delta", r"zero|\b0\b")},
  compile_model(model([node("Range", ["start", "limit", "delta"], ["r"], "range0"),
                       node("Relu", ["x"], ["y"], "relu")], [vi("x", [10])],
                      [vi("r", ["n"], TensorProto.INT64), vi("y", [10])],
                      [const("start", 0, np.int64), const("limit", 10, np.int64),
                       const("delta", 0, np.int64)], opset=11)))


# Constant folding of integer division (not in the brief; same SIGFPE hazard
# at compile time): either outcome is fine, a signal is not.
def _fold_div(a, b):
    return compile_model(model([node("Div", ["ca", "cb"], ["q"], "div_const"),
                                node("Add", ["x", "q"], ["y"], "add")],
                               [vi("x", [1], TensorProto.INT32)], [vi("y", [1], TensorProto.INT32)],
                               [const("ca", [a], np.int32), const("cb", [b], np.int32)]))


C("fold_int_div_by_zero", {0: "", 1: R(r"div_const", r"zero|divis")}, _fold_div(7, 0))
C("fold_int_div_min_by_minus_1", {0: "", 1: R(r"div_const", r"overflow|divis")},
  _fold_div(-2 ** 31, -1))

# 4. Run time --------------------------------------------------------------


def _run_div(a, b):
    def make(c):
        so = c.compile(model([node("Div", ["a", "b"], ["q"], "div")],
                             [vi("a", [4], TensorProto.INT32), vi("b", [4], TensorProto.INT32)],
                             [vi("q", [4], TensorProto.INT32)]))
        return ["run", so, "--input", "a=" + c.npy("a.npy", np.array(a, np.int32)),
                "--input", "b=" + c.npy("b.npy", np.array(b, np.int32))]
    return make


C("run_int_div_by_zero", {0: r"q", 1: R(r"zero|divis")}, _run_div([7, 8, 9, 10], [1, 0, 2, 0]))
C("run_int_div_min_by_minus_1", {0: r"q", 1: R(r"overflow|divis")},
  _run_div([-2 ** 31, 5, -2 ** 31, 6], [-1, 1, -1, 2]))


def _run_relu_with(fname, data):
    def make(c):
        so = c.compile(relu_model())
        write(c.path(fname), data(c) if callable(data) else data)
        return ["run", so, "--input", "inp=" + fname]
    return make


def _run_outer(c):
    # y = x[:, None] + x[None, :]: an input of 2^22 elements asks for a
    # 64 TiB output, which the generated code cannot allocate.
    ax = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [1], [v])
    m = model([node("Unsqueeze", ["x", "ax1"], ["col"], "col"),
               node("Unsqueeze", ["x", "ax0"], ["row"], "row"),
               node("Add", ["col", "row"], ["y"], "outer_sum")],
              [vi("x", ["n"])], [vi("y", ["n", "n"])], [ax("ax1", 1), ax("ax0", 0)])
    so = c.compile(m)
    return ["run", so, "--input", "x=" + c.npy("long.npy", np.ones(2 ** 22, np.float32))]


C("run_output_too_large_to_allocate", {1: R(r"out of memory", r"70368744177664|bytes")}, _run_outer)
C("npy_header_dims_abc", {1: R(r"dims_abc\.npy", r"header|shape|dim|abc|pars|invalid")},
  _run_relu_with("dims_abc.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, "
                                         "'shape': ('abc', 3), }", b"\0" * 24)))
C("npy_header_dim_huge", {1: R(r"dims_huge\.npy", r"header|shape|dim|range|overflow|too|"
                               r"invalid|size")},
  _run_relu_with("dims_huge.npy", npy_raw("{'descr': '<f4', 'fortran_order': False, "
                                          "'shape': (99999999999999999999, 3), }", b"\0" * 24)))
C("npy_wrong_dtype", {1: R(r"inp|f64\.npy", r"float64|f8|double", r"float32|f4|float\b")},
  _run_relu_with("f64.npy", npy_bytes(np.ones((2, 3), np.float64))))
C("npy_wrong_shape", {1: R(r"inp|shape32\.npy", r"shape|dim", r"3.{0,3}2|2.{0,3}3")},
  _run_relu_with("shape32.npy", npy_bytes(np.ones((3, 2), np.float32))))
C("npy_truncated", {1: R(r"trunc\.npy", r"truncat|short|size|bytes|expect|end of file|eof|"
                         r"read")},
  _run_relu_with("trunc.npy", npy_bytes(np.ones((2, 3), np.float32))[:-10]))

# 5. Artifacts -------------------------------------------------------------


def _artifact(fname, mangle):
    def make(c, command):
        so = c.compile(relu_model())
        good = open(c.path(so), "rb").read()
        write(c.path(fname), mangle(good))
        c.npy("x.npy", np.ones((2, 3), np.float32))
        if command == "run":
            return ["run", fname, "--input", "inp=x.npy"]
        return ["inspect", fname]
    return make


def _scribble(b):
    mid = len(b) // 2 - 2048
    return b[:mid] + np.random.RandomState(2).bytes(4096) + b[mid + 4096:]


def _libm(_):
    for p in ("/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib/x86_64-linux-gnu/libm.so.6",
              "/usr/lib64/libm.so.6", "/lib64/libm.so.6"):
        if os.path.exists(p):
            return open(p, "rb").read()
    raise Setup("no libm.so.6 found")


for fname, mangle in (("half.so", lambda b: b[:len(b) // 2]), ("small.so", lambda b: b[:100]),
                      ("zero.so", lambda b: b""), ("scribbled.so", _scribble),
                      ("x.so", lambda b: np.random.RandomState(3).bytes(len(b))),
                      ("libm.so", _libm)):
    for command in ("run", "inspect"):
        make = _artifact(fname, mangle)
        C("so_%s_%s" % (fname[:-3], command), {1: R(re.escape(fname), BAD_SO)},
          (lambda m, cmd: lambda c: m(c, cmd))(make, command))

# 6. verify ----------------------------------------------------------------
C("verify_rank0_output", {0: R(r"PASS")},
  lambda c: ["verify", save(model([node("ReduceSum", ["x"], ["total"], "sum_all", keepdims=0)],
                                  X, [vi("total", [])]), c.path("model.onnx"))],
  env="verify")


# --------------------------------------------------------------------------
# Running


def first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


SIGNALS = {-s.value: s.name for s in signal.Signals}


def make_runner(mlc, timeout, mem_gb, python):
    def run(args, cwd, case_timeout=None, env_kind=None):
        env = dict(os.environ)
        if env_kind == "verify":
            env["MLC_PYTHON"] = python
        argv = [mlc] + args
        if mem_gb:  # an address-space limit; exec keeps mlc's exit status
            argv = ["sh", "-c", 'ulimit -v %d && exec "$@"' % (mem_gb << 20), "sh"] + argv
        t = min(timeout, case_timeout or timeout)
        tries = 10  # the binary may be replaced under us while it is relinked
        for attempt in range(tries):
            try:
                p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
            except OSError as e:  # ETXTBSY, ENOENT, EACCES
                if attempt == tries - 1:
                    return "spawn", str(e), 0.0
                time.sleep(3)
                continue
            t0 = time.time()
            try:
                out, _ = p.communicate(timeout=t)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
                return "timeout", out.decode("utf-8", "replace"), time.time() - t0
            text = out.decode("utf-8", "replace")
            if (p.returncode in (126, 127) and attempt < tries - 1 and mlc in text
                    and re.search(r"not found|busy|denied|No such file", text)):
                time.sleep(3)  # the shell could not exec mlc
                continue
            return p.returncode, text, time.time() - t0
        return "spawn", "", 0.0
    return run


def run_case(cs, args, runner):
    wd = os.path.join(args.work, cs["name"])
    shutil.rmtree(wd, ignore_errors=True)
    os.makedirs(wd)
    ctx = Ctx(wd, args.mlc, lambda a, cwd: runner(a, cwd))
    try:
        argv = cs["make"](ctx)
    except Setup as e:
        return dict(cmd="(setup)", rc="setup", msg=str(e), ok=False, why="setup failed", secs=0)
    rc, out, secs = runner(argv, wd, cs["timeout"], cs["env"])
    cmd = "mlc " + " ".join(shlex.quote(a) for a in argv)
    msg = first_line(out)
    if rc == "timeout":
        ok, why = False, "hang (killed after %.0f s)" % secs
    elif rc == "spawn":
        ok, why = False, "could not start mlc: " + out
    elif rc < 0:
        ok, why = False, "killed by %s" % SIGNALS.get(rc, "signal %d" % -rc)
    elif rc not in cs["expect"]:
        ok, why = False, "wrong exit code"
    elif not re.search(cs["expect"][rc], out):
        ok, why = False, "message lacks the node/file or the rule"
    else:
        ok, why = True, ""
    if isinstance(rc, int) and rc < 0:
        rc = SIGNALS.get(rc, rc)
    return dict(cmd=cmd, rc=rc, msg=msg, ok=ok, why=why, secs=secs, out=out)


def md(s, limit=110):
    s = str(s).replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= limit else s[:limit - 3] + "..."


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlc", default=os.path.join(ROOT, "build", "bin", "mlc"))
    ap.add_argument("--work", default="/tmp/mlc-hostile")
    ap.add_argument("--filter", help="only cases whose name matches this regex")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per mlc command")
    ap.add_argument("--mem-limit-gb", type=int, default=8,
                    help="address-space limit for mlc (0: none)")
    ap.add_argument("--python", default=os.environ.get("MLC_PYTHON") or sys.executable,
                    help="MLC_PYTHON for `mlc verify` (needs onnxruntime)")
    ap.add_argument("--show", action="store_true", help="print the whole output of failures")
    a = ap.parse_args()
    a.mlc = os.path.abspath(a.mlc)
    a.work = os.path.abspath(a.work)
    cases = [c for c in CASES if not a.filter or re.search(a.filter, c["name"])]
    os.makedirs(a.work, exist_ok=True)
    runner = make_runner(a.mlc, a.timeout, a.mem_limit_gb, a.python)
    t0 = time.time()
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        results = list(ex.map(lambda cs: run_case(cs, a, runner), cases))

    print("| case | command | expected rc | actual rc | first line of message | result |")
    print("|---|---|---|---|---|---|")
    for cs, r in zip(cases, results):
        exp = " or ".join(str(k) for k in sorted(cs["expect"]))
        res = "PASS" if r["ok"] else "FAIL: " + r["why"]
        print("| %s | `%s` | %s | %s | %s | %s |" % (cs["name"], md(r["cmd"], 90), exp, r["rc"],
                                                     md(r["msg"]), res))
    fails = [(cs, r) for cs, r in zip(cases, results) if not r["ok"]]
    either = [(cs, r) for cs, r in zip(cases, results) if len(cs["expect"]) > 1 and r["ok"]]
    print()
    print("%d of %d cases passed, %d failed (%.0f s)" % (len(cases) - len(fails), len(cases),
                                                         len(fails), time.time() - t0))
    kinds = {}
    for cs, r in fails:
        k = r["why"].split(" (")[0]
        kinds.setdefault(k, []).append(cs["name"])
    for k, names in sorted(kinds.items()):
        print("  %s: %s" % (k, ", ".join(names)))
    if either:
        print("cases where either outcome is accepted: " +
              ", ".join("%s -> %s" % (cs["name"], r["rc"]) for cs, r in either))
    if a.show:
        for cs, r in fails:
            print("\n--- %s: %s\n%s" % (cs["name"], r["cmd"], r.get("out", r["msg"]).rstrip()))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()

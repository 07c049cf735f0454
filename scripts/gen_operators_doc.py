"""Generates docs/operators.md from the converter registrations in
compiler/import/ops/*.cpp and the conformance driver's per-operator results
(test/e2e/node_tests_summary.json, written by node_tests.py --update)."""
import collections
import glob
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTES = {
    "If": "branches may yield different static shapes (the result keeps the dims they agree on) but not different ranks or types; a condition known at compile time imports only the branch taken; tensor outputs only (no sequence or optional); not on the cuda target",
    "Loop": "trip count and/or condition, carried values whose dims may change between iterations (their rank and type may not), scan outputs (a trip count is needed when there are any); tensor values only; not on the cuda target",
    "Scan": "opset 9+ (opset 8's batched form is not supported): scan input/output axes and directions; not on the cuda target",
    "Conv": "1-D (NCL, run as 2-D) and 2-D (NCHW); groups and dilations; auto_pad SAME needs static spatial dims",
    "MaxPool": "1-D, 2-D and 3-D (3-D as two separable 2-D pools); float and integer inputs; ceil_mode (a window starting in the end padding is dropped), dilations; no Indices output, storage_order 0",
    "AveragePool": "1-D, 2-D and 3-D (3-D as two separable 2-D pools); ceil_mode, count_include_pad, dilations",
    "DFT": "real and complex, one-sided, inverse, irfft (one-sided inverse), dft_length; a static transformed axis, lowered to MatMuls with constant f64 cosine/sine matrices; an axis given at run time only where every signal axis gives one output shape",
    "STFT": "real signals, a window, constant or run-time frame_step; frame_length (or the window's length) must be constant",
    "Attention": "opsets 23-25: 3-D and 4-D inputs, past K/V (present outputs), grouped-query heads, bool/float masks (shorter masks padded), is_causal, left/right windows, nonpad_kv_seqlen, scale, softcap, softmax_precision, every qk_matmul_output_mode; needs static head counts, and a static head size without scale",
    "Split": "sizes constant, computed at run time, or equal chunks (num_outputs) of a static or run-time dim",
    "BatchNormalization": "folded into a preceding Conv at inference; training_mode 1 normalises with the batch statistics and returns the updated running mean and variance",
    "TfIdfVectorizer": "integer tokens (pool_int64s) with a static row length; weights per pool n-gram, as the spec and onnxruntime have them",
    "Softmax": "opset < 13 semantics (2-D coercion) kept for old models",
    "Reshape": "target shape constant or computed at run time; 0 and -1; allowzero",
    "Squeeze": "axes constant, or given at run time (a run-time reshape; static count)",
    "Unsqueeze": "axes constant, or given at run time (a run-time reshape; static count)",
    "Gather": "negative indices wrap; out-of-range indices are clamped",
    "ScatterND": "every reduction; a sequential loop over the updates (the last write wins); indices wrap and are clamped",
    "ScatterElements": "every reduction; a sequential loop over the updates (the last write wins); indices wrap and are clamped",
    "Scatter": "opset 9-10 form of ScatterElements",
    "TopK": "k constant or known at run time; sorted output (ties by index); O(k * n) per row",
    "NonZero": "row-major coordinates; the count is known at run time",
    "Compress": "with and without axis (a Gather of NonZero's positions)",
    "GridSample": "2-D and 3-D; nearest, linear and cubic; zeros, border and reflection padding; align_corners (cubic pads each tap, as onnxruntime and PyTorch do)",
    "AffineGrid": "2-D and 3-D, size constant or known at run time",
    "NonMaxSuppression": "corner and centre boxes, IoU and score thresholds; one sequential kernel, candidates visited by score without a sort",
    "CenterCropPad": "sizes constant or known at run time",
    "GatherND": "batch_dims; the last dim of indices static; negative indices wrap, out-of-range ones are clamped",
    "Constant": "value, value_float, value_int, value_ints",
    "ConstantOfShape": "constant or run-time shape",
    "Resize": "nearest (every nearest_mode), linear and cubic (cubic_coeff_a, exclude_outside), every coordinate transformation; keep_aspect_ratio_policy (not_larger, not_smaller; sizes known at run time too); no antialias yet",
    "Upsample": "opset 9 (scales as an input)",
    "Pad": "constant/reflect/edge/wrap; pads constant or run-time; axes constant",
    "ReduceSum": "axes constant or given at run time (all the Reduce ops from opset 18)",
    "CumSum": "axis constant or run-time; exclusive, reverse",
    "CumProd": "as CumSum",
    "BitCast": "between types of the same width (bool as a byte)",
    "RotaryEmbedding": "3-D (num_heads) and 4-D inputs, position_ids, interleaved, rotary_embedding_dim; a static head size",
    "LayerNormalization": "Mean and InvStdDev outputs; stash_type",
    "DepthToSpace": "4-D with static C, H, W",
    "ConvTranspose": "1-D and 2-D with a static weight and static C, H, W; groups, strides, dilations, pads, output_padding, output_shape, auto_pad",
    "Slice": "negative steps; starts/ends may be run-time; axes and steps constant, or known at run time (a gathering slice)",
    "SpaceToDepth": "4-D with static C, H, W",
    "Mod": "fmod 0 (integers, and floats as numpy.mod) and 1",
    "BitShift": "unsigned and (opset 28) signed types; right shifts of signed values are arithmetic; shifts out of range give 0 (or -1)",
    "Add": "float, signed and unsigned integer types, numpy broadcasting",
    "Sub": "float, signed and unsigned integer types, numpy broadcasting",
    "Mul": "float, signed and unsigned integer types, numpy broadcasting",
    "Div": "float, signed and unsigned integer types, numpy broadcasting; integer division by 0 gives x (never traps)",
    "MatMul": "float and integer types; half-precision inputs accumulate in float32 and round once",
    "QuantizeLinear": "int8/uint8/int16/uint16 and narrow (int4, uint4, int2, uint2, float8, float4) outputs; per tensor, per axis and blocked (block_size) scales; output_dtype, precision, saturate; rounds half to even and saturates",
    "DequantizeLinear": "8-, 16- and 32-bit integer and narrow (int4, uint4, int2, uint2, float8, float4) inputs; per tensor, per axis and blocked scales; output_dtype",
    "Cast": "every numeric type, the narrow ones included (float8 with saturate, float8e8m0 with round_mode, float4, int4, uint4, int2, uint2) and bfloat16 (rounding to nearest even); not string",
    "CastLike": "as Cast",
    "DynamicQuantizeLinear": "uint8, as the ONNX reference computes scale and zero point",
    "MatMulInteger": "int8/uint8 with scalar, per-row (A) and per-column (B) zero points; exact int32 accumulation",
    "ConvInteger": "as Conv, with int8/uint8 inputs and exact int32 accumulation",
    "QLinearMatMul": "int8/uint8; float32 or float16 scales; exact int32 products, requantized in float64",
    "QLinearConv": "as Conv; per-channel weight scales and zero points, int32 bias",
    "LSTM": "unrolled over a static sequence length (give --shape for a symbolic one); every direction, layout, sequence_lens, initial states, peepholes, clip, input_forget, and the ONNX activation functions",
    "GRU": "unrolled over a static sequence length; every direction, layout, sequence_lens, linear_before_reset, clip, activations",
    "RNN": "unrolled over a static sequence length; every direction, layout, sequence_lens, clip, activations",
    "LpPool": "1-D, 2-D and 3-D, dilations; no ceil_mode",
    "Dropout": "inference: the identity, and a mask that keeps every element; training mode only with a constant ratio of 0",
    "LRN": "a static channel dim",
    "ReverseSequence": "time and batch axes 0 and 1 in either order",
    "Einsum": "any number of operands, ellipsis, implicit output, diagonals; pairs with at most one left-only, right-only and contracted label run as one batched MatMul, others as a broadcast product and sum",
    "GroupNormalization": "opset 18 (per-group scale) and 21 (per-channel); stash_type",
}

ops = collections.defaultdict(list)
for f in sorted(glob.glob(os.path.join(ROOT, "compiler/import/ops/*.cpp"))):
    for op, since in re.findall(r'registerConverter\("(\w+)",\s*(\d+)', open(f).read()):
        ops[op].append(int(since))
summary = {}
path = os.path.join(ROOT, "test/e2e/node_tests_summary.json")
if os.path.exists(path):
    summary = json.load(open(path))
lines = ["# Supported operators", "",
         "Generated by `scripts/gen_operators_doc.py` from the converter registry and the",
         "conformance driver's results (`test/e2e/node_tests.py --update` writes",
         "`test/e2e/node_tests_summary.json`); do not edit by hand. Default ONNX domain;",
         "\"since\" is the first opset accepted. Node tests: the ONNX node tests (onnx 1.12",
         "from Debian and onnx 1.23.2 generated, `_expanded` variants included) whose",
         "model contains the op, and how many of them pass; opsets and input dtypes are",
         "those of the passing tests. Why the others fail is in",
         "`test/e2e/node_tests_xfail.txt`.", "",
         "| operator | since opset | node tests passing | opsets passing | input dtypes passing | notes |",
         "| --- | --- | --- | --- | --- | --- |"]
for op in sorted(ops):
    e = summary.get(op, {"tests": 0, "passed": 0, "opsets": [], "dtypes": []})
    lines.append("| %s | %d | %d of %d | %s | %s | %s |" % (
        op, min(ops[op]), e["passed"], e["tests"], ", ".join(map(str, e["opsets"])),
        ", ".join(e["dtypes"]), NOTES.get(op, "")))
lines.append("")
missing = sorted(op for op, e in summary.items() if op not in ops)
lines.append("%d operators. Every other operator is reported by `mlc inspect` and"
             " `mlc compile` as unsupported, with the node name." % len(ops))
lines.append("")
lines.append("Operators the node tests use that have no converter yet: " + ", ".join(missing) + ".")
open(os.path.join(ROOT, "docs/operators.md"), "w").write("\n".join(lines) + "\n")

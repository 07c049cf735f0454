//===- MlcOps.td - the mlc graph-level dialect -----------------*- tablegen -*-===//
//
// Graph-level ops with ONNX semantics on tensors. Result types may start
// unranked at import; the shape propagation pass refines them (static or
// dynamic dims). Attributes are already normalised to the latest opset form.
//
//===----------------------------------------------------------------------===//

#ifndef MLC_OPS
#define MLC_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

def Mlc_Dialect : Dialect {
  let name = "mlc";
  let cppNamespace = "::mlc";
  let summary = "Graph-level ONNX semantics on tensors";
  let hasConstantMaterializer = 0;
  let useDefaultAttributePrinterParser = 1;
}

//===-- Decisions ----------------------------------------------------------===//

def Mlc_LoweringConfigAttr : AttrDef<Mlc_Dialect, "LoweringConfig"> {
  let mnemonic = "lowering_config";
  let summary = "The tiling decisions for one op of a kernel";
  let description = [{
    Tile sizes per loop of the op (0 = that loop is not tiled at this
    level); a level that is absent was not decided.
    - distribution: the loops cut into the kernel's scf.forall, whose
      iterations the runtime splits across threads (for a contraction this
      is also its cache tile);
    - reduction: the blocking of a contraction's reduction loop;
    - vector: the register tile that is then vectorised.
  }];
  let parameters = (ins
    OptionalParameter<"::mlir::DenseI64ArrayAttr">:$distribution,
    OptionalParameter<"::mlir::DenseI64ArrayAttr">:$reduction,
    OptionalParameter<"::mlir::DenseI64ArrayAttr">:$vector);
  let assemblyFormat = "`<` struct(params) `>`";
  let extraClassDeclaration = [{
    ::llvm::ArrayRef<int64_t> distributionTiles() const {
      return getDistribution() ? getDistribution().asArrayRef() : ::llvm::ArrayRef<int64_t>();
    }
    ::llvm::ArrayRef<int64_t> reductionTiles() const {
      return getReduction() ? getReduction().asArrayRef() : ::llvm::ArrayRef<int64_t>();
    }
    ::llvm::ArrayRef<int64_t> vectorTiles() const {
      return getVector() ? getVector().asArrayRef() : ::llvm::ArrayRef<int64_t>();
    }
  }];
}

class Mlc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Mlc_Dialect, mnemonic, !listconcat(traits, [Pure])> {
  // Every op carries the ONNX node name it came from, for error messages.
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

//===-- Elementwise --------------------------------------------------------===//

class Mlc_BinaryOp<string mnemonic> : Mlc_Op<mnemonic> {
  let arguments = (ins AnyTensor:$lhs, AnyTensor:$rhs);
  let results = (outs AnyTensor:$result);
}
def Mlc_AddOp : Mlc_BinaryOp<"add">;
def Mlc_SubOp : Mlc_BinaryOp<"sub">;
def Mlc_MulOp : Mlc_BinaryOp<"mul">;
def Mlc_DivOp : Mlc_BinaryOp<"div">;

class Mlc_UnaryOp<string mnemonic> : Mlc_Op<mnemonic> {
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$result);
}
def Mlc_ReluOp : Mlc_UnaryOp<"relu">;
def Mlc_SigmoidOp : Mlc_UnaryOp<"sigmoid">;
def Mlc_TanhOp : Mlc_UnaryOp<"tanh">;
def Mlc_IdentityOp : Mlc_UnaryOp<"identity">;
def Mlc_SqrtOp : Mlc_UnaryOp<"sqrt">;
def Mlc_ErfOp : Mlc_UnaryOp<"erf">;
def Mlc_ExpOp : Mlc_UnaryOp<"exp">;
def Mlc_LogOp : Mlc_UnaryOp<"log">;
def Mlc_NegOp : Mlc_UnaryOp<"neg">;
def Mlc_AbsOp : Mlc_UnaryOp<"abs">;
def Mlc_ReciprocalOp : Mlc_UnaryOp<"reciprocal">;
def Mlc_NotOp : Mlc_UnaryOp<"not">;
def Mlc_HardSwishOp : Mlc_UnaryOp<"hard_swish">;

// The elementwise math family: one op, the function picked by an enum.
// alpha/beta carry the function's parameters where it has some (Elu alpha,
// Selu alpha/gamma, LeakyRelu alpha, Shrink lambd/bias, IsInf detect
// positive/negative, Gelu: beta 1 for the tanh approximation).
def Mlc_MathKind : I32EnumAttr<"MathKind", "an elementwise math function", [
    I32EnumAttrCase<"Sin", 0, "sin">, I32EnumAttrCase<"Cos", 1, "cos">,
    I32EnumAttrCase<"Tan", 2, "tan">, I32EnumAttrCase<"Asin", 3, "asin">,
    I32EnumAttrCase<"Acos", 4, "acos">, I32EnumAttrCase<"Atan", 5, "atan">,
    I32EnumAttrCase<"Sinh", 6, "sinh">, I32EnumAttrCase<"Cosh", 7, "cosh">,
    I32EnumAttrCase<"Asinh", 8, "asinh">, I32EnumAttrCase<"Acosh", 9, "acosh">,
    I32EnumAttrCase<"Atanh", 10, "atanh">, I32EnumAttrCase<"Floor", 11, "floor">,
    I32EnumAttrCase<"Ceil", 12, "ceil">, I32EnumAttrCase<"Round", 13, "round">,
    I32EnumAttrCase<"Sign", 14, "sign">, I32EnumAttrCase<"Softplus", 15, "softplus">,
    I32EnumAttrCase<"Softsign", 16, "softsign">, I32EnumAttrCase<"IsNaN", 17, "isnan">,
    I32EnumAttrCase<"IsInf", 18, "isinf">, I32EnumAttrCase<"Elu", 19, "elu">,
    I32EnumAttrCase<"Selu", 20, "selu">, I32EnumAttrCase<"LeakyRelu", 21, "leaky_relu">,
    I32EnumAttrCase<"ThresholdedRelu", 22, "thresholded_relu">,
    I32EnumAttrCase<"Celu", 23, "celu">, I32EnumAttrCase<"Mish", 24, "mish">,
    I32EnumAttrCase<"Gelu", 25, "gelu">, I32EnumAttrCase<"Swish", 26, "swish">,
    I32EnumAttrCase<"Shrink", 27, "shrink">]> {
  let cppNamespace = "::mlc";
  let genSpecializedAttr = 0;
}
def Mlc_MathKindAttr : EnumAttr<Mlc_Dialect, Mlc_MathKind, "math_kind">;

def Mlc_MathOp : Mlc_Op<"math"> {
  let arguments = (ins AnyTensor:$input, Mlc_MathKindAttr:$kind,
                   DefaultValuedAttr<F64Attr, "0.0">:$alpha,
                   DefaultValuedAttr<F64Attr, "0.0">:$beta);
  let results = (outs AnyTensor:$result);
}

// Clip with constant bounds (±inf when absent).
def Mlc_ClipOp : Mlc_Op<"clip"> {
  let arguments = (ins AnyTensor:$input, F64Attr:$min, F64Attr:$max);
  let results = (outs AnyTensor:$result);
}

// y = max(0, min(1, alpha * x + beta))
def Mlc_HardSigmoidOp : Mlc_Op<"hard_sigmoid"> {
  let arguments = (ins AnyTensor:$input, F64Attr:$alpha, F64Attr:$beta);
  let results = (outs AnyTensor:$result);
}

def Mlc_CastOp : Mlc_Op<"cast"> {
  let arguments = (ins AnyTensor:$input, TypeAttr:$to);
  let results = (outs AnyTensor:$result);
}

// The bits of each element reinterpreted as `to` (of the same width; bool
// as a byte).
def Mlc_BitCastOp : Mlc_Op<"bitcast"> {
  let arguments = (ins AnyTensor:$input, TypeAttr:$to);
  let results = (outs AnyTensor:$result);
}
def Mlc_PowOp : Mlc_BinaryOp<"pow">;
def Mlc_MaxOp : Mlc_BinaryOp<"max">;
def Mlc_MinOp : Mlc_BinaryOp<"min">;
// And/Or/Xor: logical on bool tensors, bitwise on integer tensors.
def Mlc_AndOp : Mlc_BinaryOp<"and">;
def Mlc_OrOp : Mlc_BinaryOp<"or">;
def Mlc_XorOp : Mlc_BinaryOp<"xor">;
// Mod: the remainder takes the divisor's sign (ONNX fmod=0, integers);
// FMod: it takes the dividend's sign (C fmod).
def Mlc_ModOp : Mlc_BinaryOp<"mod">;
def Mlc_FModOp : Mlc_BinaryOp<"fmod">;
// PRelu: x < 0 ? slope * x : x, slope broadcast to x.
def Mlc_PReluOp : Mlc_BinaryOp<"prelu">;
def Mlc_ShlOp : Mlc_BinaryOp<"shl">;
def Mlc_ShrOp : Mlc_BinaryOp<"shr">;

// Comparisons produce i1 tensors. predicate: "eq" | "ne" | "lt" | "le" | "gt" | "ge".
def Mlc_CompareOp : Mlc_Op<"compare"> {
  let arguments = (ins AnyTensor:$lhs, AnyTensor:$rhs, StrAttr:$predicate);
  let results = (outs AnyTensor:$result);
}

def Mlc_WhereOp : Mlc_Op<"where"> {
  let arguments = (ins AnyTensor:$condition, AnyTensor:$x, AnyTensor:$y);
  let results = (outs AnyTensor:$result);
}

//===-- Contractions and NN ops --------------------------------------------===//

def Mlc_MatMulOp : Mlc_Op<"matmul"> {
  let arguments = (ins AnyTensor:$a, AnyTensor:$b);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

def Mlc_GemmOp : Mlc_Op<"gemm"> {
  let arguments = (ins AnyTensor:$a, AnyTensor:$b, Optional<AnyTensor>:$c,
                   F32Attr:$alpha, F32Attr:$beta, BoolAttr:$transA,
                   BoolAttr:$transB);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

// 2-D convolution, NCHW / FCHW. pads = [top, left, bottom, right].
def Mlc_ConvOp : Mlc_Op<"conv"> {
  let arguments = (ins AnyTensor:$x, AnyTensor:$w, Optional<AnyTensor>:$b,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, I64Attr:$group);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

def Mlc_MaxPoolOp : Mlc_Op<"max_pool"> {
  let arguments = (ins AnyTensor:$x, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations, BoolAttr:$ceil_mode);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

// The average over the window's elements inside the input (or, with
// count_include_pad, inside the padded input); dilated windows count the
// positions they take.
def Mlc_AveragePoolOp : Mlc_Op<"average_pool"> {
  let arguments = (ins AnyTensor:$x, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
                   DenseI64ArrayAttr:$dilations,
                   BoolAttr:$ceil_mode, BoolAttr:$count_include_pad);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

def Mlc_GlobalAveragePoolOp : Mlc_Op<"global_average_pool"> {
  let arguments = (ins AnyTensor:$x);
  let results = (outs AnyTensor:$result);
}

def Mlc_BatchNormOp : Mlc_Op<"batch_norm"> {
  let arguments = (ins AnyTensor:$x, AnyTensor:$scale, AnyTensor:$bias,
                   AnyTensor:$mean, AnyTensor:$var, F32Attr:$epsilon);
  let results = (outs AnyTensor:$result);
}

// Softmax over `axis` (opset >= 13). With `coerce_2d` (opset < 13) the input
// is viewed as 2-D at `axis` and the normalisation runs over all trailing dims.
def Mlc_SoftmaxOp : Mlc_Op<"softmax"> {
  // log: LogSoftmax (x - max - log(sum(exp(x - max)))).
  let arguments = (ins AnyTensor:$input, I64Attr:$axis, BoolAttr:$coerce_2d, BoolAttr:$log);
  let results = (outs AnyTensor:$result);
}

// Reduction over `axes` (sorted, non-negative). kind: "sum" | "mean" | "max"
// | "l1" | "l2" | "sum_square" | "log_sum" | "log_sum_exp"
// | "min" | "prod".
// ArgMax (max = true) / ArgMin along one axis: int64 indices.
def Mlc_ArgReduceOp : Mlc_Op<"arg_reduce"> {
  let arguments = (ins AnyTensor:$input, I64Attr:$axis, BoolAttr:$keepdims,
                   BoolAttr:$select_last_index, BoolAttr:$max);
  let results = (outs AnyTensor:$result);
}

// With `axes_input` (a run-time 1-D int64 tensor) the axes are known only
// at run time: `axes` is then empty, and `noop_empty` says whether an empty
// axes tensor leaves the input as it is (noop_with_empty_axes) or reduces
// every dim.
def Mlc_ReduceOp : Mlc_Op<"reduce"> {
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$axes_input,
                   DenseI64ArrayAttr:$axes, BoolAttr:$keepdims, StrAttr:$kind,
                   DefaultValuedAttr<BoolAttr, "false">:$noop_empty);
  let results = (outs AnyTensor:$result);
}

// Normalises over dims [axis, rank): (x - mean) / sqrt(var + eps) * scale + bias.
def Mlc_LayerNormOp : Mlc_Op<"layer_norm"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$scale, Optional<AnyTensor>:$bias,
                   I64Attr:$axis, F32Attr:$epsilon);
  let results = (outs AnyTensor:$result);
}

//===-- Data movement and shapes -------------------------------------------===//

def Mlc_ConstantOp : Mlc_Op<"constant", [ConstantLike]> {
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyTensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasFolder = 1;
}

def Mlc_FlattenOp : Mlc_Op<"flatten"> {
  let arguments = (ins AnyTensor:$input, I64Attr:$axis);
  let results = (outs AnyTensor:$result);
}

def Mlc_ReshapeOp : Mlc_Op<"reshape"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$shape, BoolAttr:$allowzero);
  let results = (outs AnyTensor:$result);
}

def Mlc_TransposeOp : Mlc_Op<"transpose"> {
  let arguments = (ins AnyTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyTensor:$result);
  let hasVerifier = 1;
}

def Mlc_ConcatOp : Mlc_Op<"concat"> {
  let arguments = (ins Variadic<AnyTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyTensor:$result);
}

def Mlc_ShapeOp : Mlc_Op<"shape"> {
  let arguments = (ins AnyTensor:$input, I64Attr:$start, I64Attr:$end);
  let results = (outs AnyTensor:$result);
}

def Mlc_GatherOp : Mlc_Op<"gather"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, I64Attr:$axis);
  let results = (outs AnyTensor:$result);
}

// Axes are normalised to non-negative, sorted values of the output rank.
def Mlc_UnsqueezeOp : Mlc_Op<"unsqueeze"> {
  let arguments = (ins AnyTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyTensor:$result);
}

// Empty axes: squeeze every static 1.
def Mlc_SqueezeOp : Mlc_Op<"squeeze"> {
  let arguments = (ins AnyTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyTensor:$result);
}

// Slice along `axes` (non-negative, distinct) with constant positive steps;
// starts/ends are 1-D integer tensors, constant or computed at run time,
// with ONNX's clamping of out-of-range and negative values.
def Mlc_SliceOp : Mlc_Op<"slice"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$starts, AnyTensor:$ends,
                   DenseI64ArrayAttr:$axes, DenseI64ArrayAttr:$steps);
  let results = (outs AnyTensor:$result);
}

// Numpy broadcast of `input` against the 1-D `shape` tensor.
// Pad: `pads` (int64, run-time or constant) holds the begin pads of `axes`
// then their end pads; negative pads crop. mode: constant (with
// `value`, a scalar, or 0), reflect, edge or wrap.
def Mlc_PadMode : I32EnumAttr<"PadMode", "how Pad fills", [
    I32EnumAttrCase<"Constant", 0, "constant">, I32EnumAttrCase<"Reflect", 1, "reflect">,
    I32EnumAttrCase<"Edge", 2, "edge">, I32EnumAttrCase<"Wrap", 3, "wrap">]> {
  let cppNamespace = "::mlc";
  let genSpecializedAttr = 0;
}
def Mlc_PadModeAttr : EnumAttr<Mlc_Dialect, Mlc_PadMode, "pad_mode">;
def Mlc_PadOp : Mlc_Op<"pad"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$pads, Optional<AnyTensor>:$value,
                   DenseI64ArrayAttr:$axes, Mlc_PadModeAttr:$mode);
  let results = (outs AnyTensor:$result);
}

// Resize/Upsample. Output dims: `sizes` if given, else floor(dim * scale).
// `scales`/`sizes`/`roi` are run-time or constant tensors over `axes`.
// mode: nearest | linear; coord: half_pixel | pytorch_half_pixel |
// align_corners | asymmetric | half_pixel_symmetric | tf_crop_and_resize;
// nearest: round_prefer_floor | round_prefer_ceil | floor | ceil.
def Mlc_ResizeOp : Mlc_Op<"resize", [AttrSizedOperandSegments]> {
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$roi,
                   Optional<AnyTensor>:$scales, Optional<AnyTensor>:$sizes,
                   DenseI64ArrayAttr:$axes, StrAttr:$mode, StrAttr:$coord,
                   StrAttr:$nearest, F64Attr:$extrapolation, F64Attr:$cubic_a,
                   BoolAttr:$exclude_outside);
  let results = (outs AnyTensor:$result);
}

// NonMaxSuppression: [selected, 3] (batch, class, box) rows, per batch
// and class the boxes in descending score (ties: lower index first) that
// beat score_threshold and overlap no box selected before by more than
// iou_threshold, at most max_output_boxes_per_class of them. The scalars
// are one-element tensors; boxes are corners (center_point_box 0, either
// order) or centre and size (1).
def Mlc_NonMaxSuppressionOp : Mlc_Op<"non_max_suppression"> {
  let arguments = (ins AnyTensor:$boxes, AnyTensor:$scores, AnyTensor:$max_output,
                   AnyTensor:$iou_threshold, AnyTensor:$score_threshold,
                   BoolAttr:$center_point_box);
  let results = (outs AnyTensor:$result);
}

// Slice whose axes and steps are known at run time only: starts, ends,
// axes and steps are 1-D integer tensors of one length (ONNX's clamping;
// a step of 0 gives an empty dim). Every result dim is known at run time.
def Mlc_SliceDynamicOp : Mlc_Op<"slice_dynamic"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$starts, AnyTensor:$ends,
                   AnyTensor:$axes, AnyTensor:$steps);
  let results = (outs AnyTensor:$result);
}

// GridSample: out[n, c, o..] samples x[n, c] at the normalised position
// grid[n, o.., :] (x, y[, z] = last spatial dim first); mode "nearest",
// "linear" or "cubic", padding "zeros", "border" or "reflection".
def Mlc_GridSampleOp : Mlc_Op<"grid_sample"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$grid, StrAttr:$mode, StrAttr:$padding,
                   BoolAttr:$align_corners);
  let results = (outs AnyTensor:$result);
}

// Tile: out dim d = dim d * repeats[d] (`repeats` run-time or constant).
def Mlc_TileOp : Mlc_Op<"tile"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$repeats);
  let results = (outs AnyTensor:$result);
}

// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the
// last two dims; `k` is an optional run-time int64 scalar (0 when absent).
def Mlc_TriluOp : Mlc_Op<"trilu"> {
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$k, BoolAttr:$upper);
  let results = (outs AnyTensor:$result);
}

// CumSum (or, with `product`, CumProd) along `axis` (or, given, the
// run-time scalar `axis_input`); exclusive leaves out the element itself,
// reverse accumulates from the end.
def Mlc_CumSumOp : Mlc_Op<"cumsum"> {
  let arguments = (ins AnyTensor:$input, Optional<AnyTensor>:$axis_input, I64Attr:$axis,
                   BoolAttr:$exclusive, BoolAttr:$reverse,
                   DefaultValuedAttr<BoolAttr, "false">:$product);
  let results = (outs AnyTensor:$result);
}

// out[i] = data[i with i[axis] replaced by indices[i]]; shape of indices.
def Mlc_GatherElementsOp : Mlc_Op<"gather_elements"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, I64Attr:$axis);
  let results = (outs AnyTensor:$result);
}
// out[b.., i.., r..] = data[b.., indices[b.., i.., 0..K), r..] with K the
// last dim of indices (static); data and indices share their first
// batch_dims dims.
def Mlc_GatherNDOp : Mlc_Op<"gather_nd"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, I64Attr:$batch_dims);
  let results = (outs AnyTensor:$result);
}
// data with updates written at the positions indices name (ScatterND:
// indices [..., K] address data's first K dims; ScatterElements: indices
// replace the `axis` coordinate of each update's own position), combined
// with what is there by `reduction` ("none", "add", "mul", "max", "min").
// Lowered to a sequential loop over the updates: the last write wins.
def Mlc_ScatterNDOp : Mlc_Op<"scatter_nd"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   StrAttr:$reduction);
  let results = (outs AnyTensor:$result);
}
def Mlc_ScatterElementsOp : Mlc_Op<"scatter_elements"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   I64Attr:$axis, StrAttr:$reduction);
  let results = (outs AnyTensor:$result);
}
// The coordinates of the non-zero elements, [rank, count], in row-major
// order; count is known at run time only.
def Mlc_NonZeroOp : Mlc_Op<"nonzero"> {
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$result);
}
// The k largest (or smallest) elements along `axis` and their indices
// (int64), ordered by value, equal values by index; k is a one-element
// integer tensor, constant or known at run time.
def Mlc_TopKOp : Mlc_Op<"topk"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$k, I64Attr:$axis, BoolAttr:$largest);
  let results = (outs AnyTensor:$values, AnyTensor:$indices);
}
def Mlc_ExpandOp : Mlc_Op<"expand"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$shape);
  let results = (outs AnyTensor:$result);
}

// [start, limit) by delta; scalar operands.
def Mlc_RangeOp : Mlc_Op<"range"> {
  let arguments = (ins AnyTensor:$start, AnyTensor:$limit, AnyTensor:$delta);
  let results = (outs AnyTensor:$result);
}

//===-- Control flow -------------------------------------------------------===//
//
// ONNX's If and Loop (Scan is imported as a Loop) carry their subgraphs as
// single-block regions. A region reads the values of the enclosing graph
// directly; it ends in mlc.yield.

def Mlc_YieldOp : Op<Mlc_Dialect, "yield", [Pure, Terminator, ReturnLike,
    ParentOneOf<["IfOp", "LoopOp"]>]> {
  let arguments = (ins Variadic<AnyTensor>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

// Runs one of its regions: `then` when the one-element bool `cond` is
// true. The branches may yield different static shapes; a result's type
// keeps what both agree on.
def Mlc_IfOp : Op<Mlc_Dialect, "if", [RecursiveMemoryEffects, NoRegionArguments,
    SingleBlock]> {
  let arguments = (ins AnyTensor:$cond);
  let results = (outs Variadic<AnyTensor>:$results);
  let regions = (region SizedRegion<1>:$then_region, SizedRegion<1>:$else_region);
  let hasVerifier = 1;
}

// ONNX Loop: runs its body while the iteration number (from 0) is below
// `max_trip` (an int64 scalar) and `cond` (a bool scalar) holds. The body's
// arguments are the iteration number (tensor<i64>), the condition
// (tensor<i1>) and the carried values; it yields the next condition, the
// next carried values and one element per scan output. The results are the
// final carried values, then the scan outputs: the yielded elements of every
// iteration stacked along a new leading axis. A carried value's argument
// type is what every iteration agrees on (fixed at import).
def Mlc_LoopOp : Op<Mlc_Dialect, "loop", [RecursiveMemoryEffects,
    SingleBlock]> {
  let arguments = (ins AnyTensor:$max_trip, AnyTensor:$cond, Variadic<AnyTensor>:$carried);
  let results = (outs Variadic<AnyTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let hasVerifier = 1;
}

#endif // MLC_OPS

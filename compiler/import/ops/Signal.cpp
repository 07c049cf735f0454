//===- Signal.cpp - converters: DFT, STFT --------------------------------===//
//
// A discrete Fourier transform of static length N is a product with an
// N-column matrix of cosines and sines, so DFT and STFT are MatMuls with
// constant matrices built here (in f64, whatever the input type: sums of
// hundreds of terms keep the error of a float64 FFT, which ONNX's expected
// outputs come from, within the tolerances). A transform along one axis
// moves that axis last, multiplies, and moves it back.
//
// Real signals carry a last dim of 1, complex ones of 2 (real, imaginary);
// the output is complex (last dim 2) except for the inverse of a one-sided
// spectrum (irfft), which is real (last dim 1).
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NodeBinder.h"

#include "mlir/IR/Matchers.h"

#include <cmath>

using namespace mlir;
using namespace mlc;

namespace {

struct Transform {
  bool inverse = false;
  bool onesided = false;
  int64_t length = 0; // N
};

/// The factors c + i s that input bin j (a row) contributes to output bin
/// k (a column) with: the output is (a + ib)(c + is) summed over j, i.e.
/// real a c - b s and imaginary a s + b c.
struct DftMatrices {
  int64_t rows, cols;
  std::vector<double> cos, sin;
};

DftMatrices dftMatrices(const Transform &t, int64_t inBins) {
  const int64_t n = t.length;
  bool irfft = t.inverse && t.onesided;
  DftMatrices m;
  m.rows = std::min(inBins, irfft ? n / 2 + 1 : n);
  m.cols = irfft || !t.onesided ? n : n / 2 + 1;
  m.cos.resize(m.rows * m.cols);
  m.sin.resize(m.rows * m.cols);
  double sign = t.inverse ? 1 : -1, scale = t.inverse ? 1.0 / double(n) : 1;
  for (int64_t j = 0; j < m.rows; ++j)
    for (int64_t k = 0; k < m.cols; ++k) {
      // j * k mod n keeps the angle exact for long transforms.
      double angle = 2 * M_PI * double((j * k) % n) / double(n);
      double c = std::cos(angle) * scale, s = sign * std::sin(angle) * scale;
      // An irfft's bin j stands for itself and its mirror n - j (their
      // sum is twice its real part), except for bin 0 and bin n / 2.
      if (irfft && j != 0 && !(n % 2 == 0 && j == n / 2)) {
        c *= 2;
        s *= 2;
      }
      m.cos[j * m.cols + k] = c;
      m.sin[j * m.cols + k] = s;
    }
  return m;
}

/// The transform of `x` (float, rank r >= 2, last dim 1 or 2) along `axis`
/// (in [0, r - 2], a static dim); the result has the input's element type.
Value fourier(NodeBinder &b, Value x, int64_t axis, const Transform &t) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t r = type.getRank(), parts = type.getDimSize(r - 1), bins = type.getDimSize(axis);
  if (parts != 1 && parts != 2)
    return b.error("the last dim must be 1 (real) or 2 (complex)"), nullptr;
  if (ShapedType::isDynamic(bins))
    return b.error("the transformed axis must have a static size"), nullptr;
  if (t.length <= 0)
    return b.error("the transform length must be positive"), nullptr;
  if (t.onesided && !t.inverse && parts == 2)
    return b.error("a one-sided transform needs a real input"), nullptr;
  // Cosine and sine matrices of [bins, N] elements: a bound on what the
  // compiler holds in memory.
  if (double(std::min(bins, t.length)) * double(t.length) > double(1 << 24))
    return b.error("the transform is too long (its matrices would exceed 2^24 elements)"),
           nullptr;
  Type elem = NodeBinder::elementType(x);
  Type f64 = b.builder.getF64Type();
  Value wide = b.cast(x, f64);
  // Move the axis last, the complex dim dropped.
  SmallVector<int64_t> perm;
  for (int64_t i = 0; i < r - 1; ++i)
    if (i != axis)
      perm.push_back(i);
  perm.push_back(axis);
  SmallVector<int64_t> backPerm(r - 1);
  for (int64_t i = 0; i < r - 1; ++i)
    backPerm[perm[i]] = i;
  DftMatrices m = dftMatrices(t, bins);
  auto part = [&](int64_t p) {
    Value v = b.transpose(b.squeeze(b.slice(wide, r - 1, p, p + 1), {r - 1}), perm);
    return m.rows < bins ? b.slice(v, r - 2, 0, m.rows) : v;
  };
  auto matrix = [&](const std::vector<double> &values) {
    auto mt = RankedTensorType::get({m.rows, m.cols}, f64);
    return b.constant(DenseElementsAttr::get(mt, ArrayRef<double>(values)));
  };
  Value re = part(0), im = parts == 2 ? part(1) : Value();
  Value cos = matrix(m.cos), sin = matrix(m.sin);
  auto back = [&](Value y) { return b.unsqueeze(b.transpose(y, backPerm), {r - 1}); };
  // real: a c - b s
  Value y = b.create<MatMulOp>(re, cos);
  if (im)
    y = b.create<SubOp>(y, b.create<MatMulOp>(im, sin));
  y = back(y);
  if (!(t.inverse && t.onesided)) {
    // imaginary: a s + b c
    Value imag = b.create<MatMulOp>(re, sin);
    if (im)
      imag = b.create<AddOp>(imag, b.create<MatMulOp>(im, cos));
    y = b.create<ConcatOp>(ValueRange{y, back(imag)}, b.builder.getI64IntegerAttr(r - 1));
  }
  return b.cast(y, elem);
}

/// A scalar input (a length, an axis, a step): its value when constant,
/// `dflt` when absent. Where `runtime` is given, an input known only at run
/// time (an int64 scalar) is handed back there instead.
bool scalarInput(NodeBinder &b, size_t idx, const char *name, int64_t dflt, int64_t &out,
                 Value *runtime = nullptr) {
  Value v;
  out = dflt;
  if (runtime)
    *runtime = nullptr;
  if (b.optTensor(idx, v))
    return true;
  if (!v)
    return false;
  if (runtime && !matchPattern(v, m_Constant())) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || !t.hasStaticShape() || t.getNumElements() != 1 || !t.getElementType().isInteger(64))
      return b.error(std::string(name) + " must be an int64 scalar");
    *runtime = v;
    return false;
  }
  SmallVector<int64_t> values;
  if (b.constInts(idx, values))
    return true;
  if (values.size() != 1)
    return b.error(std::string(name) + " must hold one value");
  out = values[0];
  return false;
}

/// The DFT of `x` along `axis` (in [0, r - 2]).
Value dftAlong(NodeBinder &b, Value x, int64_t axis, bool inverse, bool onesided) {
  int64_t bins = cast<RankedTensorType>(x.getType()).getDimSize(axis), length;
  // An irfft of m bins is a signal of 2 (m - 1), as numpy's irfft has it.
  int64_t dflt = inverse && onesided ? 2 * (bins - 1) : bins;
  if (scalarInput(b, 1, "dft_length", dflt, length))
    return nullptr;
  return fourier(b, x, axis, Transform{inverse, onesided, length});
}

/// DFT (17, 19: `axis` an attribute; 20: an input, default -2). The signal
/// axes are [0, r - 2]; a negative axis counts from the back. An axis given
/// at run time is taken where every signal axis gives a result of one
/// shape: each is computed and the one asked for selected (NaN for an axis
/// out of range).
LogicalResult dft(NodeBinder &b) {
  Value x, axisInput;
  int64_t inverse, onesided, axis = 1, rank;
  if (b.tensors(x) || b.rank(x, rank) || b.attr("inverse", inverse, 0) ||
      b.attr("onesided", onesided, 0))
    return failure();
  if (rank < 2)
    return b.error("the input needs rank >= 2"), failure();
  if (!isa<FloatType>(NodeBinder::elementType(x)))
    return b.error("the input must be a float tensor"), failure();
  if (b.opset < 20 ? b.attr("axis", axis, 1) : scalarInput(b, 2, "axis", -2, axis, &axisInput))
    return failure();
  if (!axisInput) {
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis > rank - 2)
      return b.error("axis " + std::to_string(axis) + " is not a signal axis"), failure();
    Value y = dftAlong(b, x, axis, inverse != 0, onesided != 0);
    if (!y)
      return failure();
    b.setResults({y});
    return success();
  }
  Type i64 = b.builder.getI64Type();
  Value a = b.reshape(axisInput, {});
  Value y;
  Type elem = NodeBinder::elementType(x);
  for (int64_t i = rank - 2; i >= 0; --i) {
    Value yi = dftAlong(b, x, i, inverse != 0, onesided != 0);
    if (!yi)
      return failure();
    if (!y)
      y = b.create<MulOp>(yi, b.scalar(elem, NAN)); // no axis matched
    else if (yi.getType() != y.getType())
      return b.error("a run-time axis needs every signal axis to give one output shape; "
                     "make the axis a constant"),
             failure();
    auto is = [&](int64_t v) {
      return b.create<CompareOp>(a, b.scalar(i64, double(v)), b.builder.getStringAttr("eq"));
    };
    y = b.create<WhereOp>(b.create<OrOp>(is(i), is(i - rank)), yi, y);
  }
  b.setResults({y});
  return success();
}

/// STFT: frames of `frame_length` samples every `frame_step` samples,
/// each multiplied by the window and transformed (one-sided by default).
LogicalResult stft(NodeBinder &b) {
  Value x, window, stepInput;
  int64_t onesided, step = 1, frameLength, rank;
  // frame_step is required (tensors), constant or known at run time.
  if (b.tensors(x, stepInput) || b.rank(x, rank) || b.attr("onesided", onesided, 1) ||
      b.optTensor(2, window) || scalarInput(b, 1, "frame_step", 0, step, &stepInput))
    return failure();
  if (rank != 3)
    return b.error("the signal must be [batch, length, 1 or 2]"), failure();
  int64_t windowLength = -1;
  if (window) {
    auto wt = cast<RankedTensorType>(window.getType());
    if (wt.getRank() != 1 || wt.isDynamicDim(0))
      return b.error("the window must be 1-D with a static length"), failure();
    windowLength = wt.getDimSize(0);
  }
  if (scalarInput(b, 3, "frame_length", windowLength, frameLength))
    return failure();
  int64_t samples = cast<RankedTensorType>(x.getType()).getDimSize(1);
  if (ShapedType::isDynamic(samples))
    return b.error("the signal length must be static"), failure();
  if ((!stepInput && step <= 0) || frameLength <= 0 || frameLength > samples)
    return b.error("frame_step must be positive and the frame length in [1, signal length]"),
           failure();
  if (window && windowLength != frameLength)
    return b.error("the window's length differs from frame_length"), failure();
  if (!isa<FloatType>(NodeBinder::elementType(x)))
    return b.error("the signal must be a float tensor"), failure();
  // frames[f][j] = x[f * step + j]: a Gather along the samples of a
  // [frames, frame_length] index table, constant when the step is; from a
  // run-time step (clamped to >= 1) the frame count is a run-time dim.
  Value table;
  Type i64 = b.builder.getI64Type();
  if (!stepInput) {
    int64_t frames = 1 + (samples - frameLength) / step;
    if (double(frames) * double(frameLength) > double(1 << 24))
      return b.error("too many frames"), failure();
    std::vector<int64_t> idx;
    for (int64_t f = 0; f < frames; ++f)
      for (int64_t j = 0; j < frameLength; ++j)
        idx.push_back(f * step + j);
    auto it = RankedTensorType::get({frames, frameLength}, i64);
    table = b.constant(DenseElementsAttr::get(it, ArrayRef<int64_t>(idx)));
  } else {
    Value s = b.create<MaxOp>(b.reshape(stepInput, {}), b.scalar(i64, 1));
    Value frames = b.create<AddOp>(
        b.create<DivOp>(b.scalar(i64, double(samples - frameLength)), s), b.scalar(i64, 1));
    table = b.create<AddOp>(b.create<MulOp>(b.iota(frames, 1), s),
                            b.iota(b.scalar(i64, double(frameLength))));
  }
  Value framed = b.create<GatherOp>(x, table, b.builder.getI64IntegerAttr(1)); // [B, F, L, c]
  if (window)
    framed = b.create<MulOp>(framed, b.unsqueeze(b.cast(window, NodeBinder::elementType(x)),
                                                 {1}));
  Value y = fourier(b, framed, 2, Transform{false, onesided != 0, frameLength});
  if (!y)
    return failure();
  b.setResults({y});
  return success();
}

} // namespace

void registerSignalConverters() {
  registerConverter("DFT", 17, dft);
  registerConverter("STFT", 17, stft);
}

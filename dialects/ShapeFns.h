//===- ShapeFns.h - shape functions written once --------------*- C++ -*-===//
//
// Each ONNX shape rule is written once, as a template over a dimension
// domain `S`. StaticDims (here) evaluates it on integers for type inference,
// with ShapedType::kDynamic as "unknown"; the lowering instantiates it with
// a domain over OpFoldResult that emits index arithmetic for dims only known
// at run time. A domain provides:
//   Dim cst(int64_t); std::optional<int64_t> known(Dim);
//   Dim add(Dim, Dim); Dim sub(Dim, Dim); Dim mul(Dim, Dim);
//   Dim floorDiv(Dim, int64_t); Dim ceilDiv(Dim, int64_t); Dim div(Dim, Dim);
//   Dim min(Dim, Dim);
//
//===----------------------------------------------------------------------===//
#ifndef MLC_DIALECTS_SHAPEFNS_H
#define MLC_DIALECTS_SHAPEFNS_H

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallVector.h"
#include <algorithm>
#include <optional>
#include <string>

namespace mlc::shape {

using llvm::ArrayRef;
using llvm::SmallVector;

/// Integer domain; kDynamic is absorbing.
struct StaticDims {
  using Dim = int64_t;
  static constexpr int64_t kDyn = mlir::ShapedType::kDynamic;
  Dim cst(int64_t v) { return v; }
  std::optional<int64_t> known(Dim d) {
    return d == kDyn ? std::nullopt : std::optional<int64_t>(d);
  }
  // A result that overflows is no dim a real model has: it becomes unknown
  // (later checks reject it), never undefined behaviour.
  Dim add(Dim a, Dim b) {
    Dim r;
    return a == kDyn || b == kDyn || __builtin_add_overflow(a, b, &r) ? kDyn : r;
  }
  Dim sub(Dim a, Dim b) {
    Dim r;
    return a == kDyn || b == kDyn || __builtin_sub_overflow(a, b, &r) ? kDyn : r;
  }
  Dim mul(Dim a, Dim b) {
    if (a == 0 || b == 0)
      return 0;
    Dim r;
    return a == kDyn || b == kDyn || __builtin_mul_overflow(a, b, &r) ? kDyn : r;
  }
  Dim div(Dim a, Dim b) {
    return a == kDyn || b == kDyn || b == 0 ? kDyn : a / b;
  }
  Dim floorDiv(Dim a, int64_t b) {
    if (a == kDyn)
      return kDyn;
    return a >= 0 ? a / b : -((-a + b - 1) / b);
  }
  Dim min(Dim a, Dim b) { return a == kDyn || b == kDyn ? kDyn : std::min(a, b); }
  Dim ceilDiv(Dim a, int64_t b) {
    if (a == kDyn)
      return kDyn;
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
  }
};

/// Shape rules fail with a message instead of a LogicalResult so that both
/// the type inference and the lowering can report it their own way.
struct ShapeError {
  std::string message;
};

template <typename S> using Dims = SmallVector<typename S::Dim, 6>;

/// Numpy-style multidirectional broadcasting. A dim not known statically is
/// taken to equal the other side unless that side is a known 1.
template <typename S>
std::optional<ShapeError> broadcast(S &s, ArrayRef<Dims<S>> shapes,
                                    Dims<S> &out) {
  size_t rank = 0;
  for (const auto &sh : shapes)
    rank = std::max(rank, sh.size());
  out.assign(rank, s.cst(1));
  SmallVector<bool> set(rank, false);
  for (const auto &sh : shapes) {
    size_t off = rank - sh.size();
    for (size_t i = 0; i < sh.size(); ++i) {
      auto d = sh[i];
      auto kd = s.known(d);
      if (kd && *kd == 1)
        continue;
      if (!set[off + i]) {
        out[off + i] = d;
        set[off + i] = true;
        continue;
      }
      auto ko = s.known(out[off + i]);
      if (kd && ko && *kd != *ko)
        return ShapeError{"dimensions " + std::to_string(*ko) + " and " +
                          std::to_string(*kd) + " cannot be broadcast"};
      if (kd && !ko)
        out[off + i] = d; // prefer the static size
    }
  }
  return std::nullopt;
}

/// Output size of a sliding window (convolution or pooling).
/// In ceil mode a window that would start inside the end padding is
/// dropped (ONNX and PyTorch): the last start must be < in + padBegin.
template <typename S>
typename S::Dim windowOut(S &s, typename S::Dim in, int64_t kernel,
                          int64_t stride, int64_t padBegin, int64_t padSum,
                          int64_t dilation, bool ceilMode) {
  // Kernel dims come from the weight's shape: saturate rather than overflow
  // (a span beyond any input makes the output size negative, an error).
  int64_t span;
  if (__builtin_mul_overflow(dilation, kernel - 1, &span) || span > (int64_t(1) << 62))
    span = int64_t(1) << 62;
  span += 1;
  auto num = s.add(in, s.cst(padSum - span));
  auto q = ceilMode ? s.ceilDiv(num, stride) : s.floorDiv(num, stride);
  if (ceilMode)
    q = s.min(q, s.floorDiv(s.add(in, s.cst(padBegin - 1)), stride));
  return s.add(q, s.cst(1));
}

/// NCHW convolution or pooling output. `channels` is the output channels.
template <typename S>
std::optional<ShapeError>
window2d(S &s, const Dims<S> &x, typename S::Dim channels,
         ArrayRef<int64_t> kernel, ArrayRef<int64_t> strides,
         ArrayRef<int64_t> pads, ArrayRef<int64_t> dilations, bool ceilMode,
         Dims<S> &out) {
  out = {x[0], channels};
  for (size_t i = 0; i < 2; ++i) {
    int64_t dil = dilations.empty() ? 1 : dilations[i];
    if (kernel[i] <= 0 || strides[i] <= 0 || dil <= 0 || pads[i] < 0 || pads[i + 2] < 0)
      return ShapeError{"kernel, strides and dilations must be > 0 and pads >= 0"};
    auto d = windowOut(s, x[2 + i], kernel[i], strides[i], pads[i],
                       pads[i] + pads[i + 2], dil, ceilMode);
    if (auto k = s.known(d); k && *k <= 0)
      return ShapeError{"window larger than the padded input"};
    out.push_back(d);
  }
  return std::nullopt;
}

/// ONNX MatMul (numpy matmul): 1-D operands are promoted and the promoted
/// dim removed again; batch dims broadcast.
template <typename S>
std::optional<ShapeError> matmul(S &s, Dims<S> a, Dims<S> b, Dims<S> &out) {
  if (a.empty() || b.empty())
    return ShapeError{"MatMul operands need rank >= 1"};
  bool aVec = a.size() == 1, bVec = b.size() == 1;
  if (aVec)
    a.insert(a.begin(), s.cst(1));
  if (bVec)
    b.push_back(s.cst(1));
  auto ka = s.known(a.back()), kb = s.known(b[b.size() - 2]);
  if (ka && kb && *ka != *kb)
    return ShapeError{"inner dimensions " + std::to_string(*ka) + " and " +
                      std::to_string(*kb) + " differ"};
  Dims<S> ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Dims<S> batch;
  if (auto err = broadcast<S>(s, {ba, bb}, batch))
    return err;
  out = batch;
  if (!aVec)
    out.push_back(a[a.size() - 2]);
  if (!bVec)
    out.push_back(b.back());
  return std::nullopt;
}

template <typename S>
std::optional<ShapeError> gemm(S &s, const Dims<S> &a, const Dims<S> &b,
                               bool transA, bool transB, Dims<S> &out) {
  if (a.size() != 2 || b.size() != 2)
    return ShapeError{"Gemm operands must be 2-D"};
  auto k1 = transA ? a[0] : a[1], k2 = transB ? b[1] : b[0];
  auto x = s.known(k1), y = s.known(k2);
  if (x && y && *x != *y)
    return ShapeError{"inner dimensions " + std::to_string(*x) + " and " +
                      std::to_string(*y) + " differ"};
  out = {transA ? a[1] : a[0], transB ? b[0] : b[1]};
  return std::nullopt;
}

template <typename S>
typename S::Dim product(S &s, ArrayRef<typename S::Dim> dims) {
  auto p = s.cst(1);
  for (auto d : dims)
    p = s.mul(p, d);
  return p;
}

template <typename S>
void flatten(S &s, const Dims<S> &x, int64_t axis, Dims<S> &out) {
  ArrayRef<typename S::Dim> all(x);
  out = {product(s, all.take_front(axis)), product(s, all.drop_front(axis))};
}

/// ONNX Reshape with a known target: 0 copies the input dim (unless
/// allowzero), -1 takes what is left. Copied dims cancel out of the -1
/// (so [0, 0, 4, -1] of (?, ?, 32) infers 8 even with unknown dims).
template <typename S>
std::optional<ShapeError> reshape(S &s, const Dims<S> &x,
                                  ArrayRef<int64_t> target, bool allowZero,
                                  Dims<S> &out) {
  out.clear();
  int inferIdx = -1;
  auto known = s.cst(1);
  SmallVector<bool> copied(x.size(), false);
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t t = target[i];
    if (t == -1) {
      if (inferIdx >= 0)
        return ShapeError{"more than one -1 in the target shape"};
      inferIdx = i;
      out.push_back(s.cst(1));
      continue;
    }
    if (t < -1)
      return ShapeError{"invalid target dimension " + std::to_string(t)};
    typename S::Dim d = s.cst(t);
    if (t == 0 && !allowZero) {
      if (i >= x.size())
        return ShapeError{"0 in the target shape has no input dimension"};
      out.push_back(x[i]);
      copied[i] = true;
      continue;
    }
    out.push_back(d);
    known = s.mul(known, d);
  }
  auto total = s.cst(1);
  for (size_t i = 0; i < x.size(); ++i)
    if (!copied[i])
      total = s.mul(total, x[i]);
  auto kt = s.known(total), kk = s.known(known);
  if (inferIdx >= 0) {
    if (kt && kk && (*kk == 0 || *kt % *kk != 0))
      return ShapeError{"cannot infer -1: " + std::to_string(*kt) +
                        " elements do not divide into " + std::to_string(*kk)};
    out[inferIdx] = s.div(total, known);
  } else if (kt && kk && *kt != *kk) {
    return ShapeError{"cannot reshape " + std::to_string(*kt) + " elements into " +
                      std::to_string(*kk)};
  }
  return std::nullopt;
}

template <typename S>
std::optional<ShapeError> concat(S &s, ArrayRef<Dims<S>> xs, int64_t axis,
                                 Dims<S> &out) {
  out = xs.front();
  for (size_t i = 1; i < xs.size(); ++i) {
    if (xs[i].size() != out.size())
      return ShapeError{"concatenated inputs differ in rank"};
    for (size_t d = 0; d < out.size(); ++d) {
      if ((int64_t)d == axis) {
        out[d] = s.add(out[d], xs[i][d]);
        continue;
      }
      auto a = s.known(out[d]), b = s.known(xs[i][d]);
      if (a && b && *a != *b)
        return ShapeError{"concatenated inputs differ in dim " +
                          std::to_string(d)};
      if (!a && b)
        out[d] = xs[i][d];
    }
  }
  return std::nullopt;
}

template <typename S>
std::optional<ShapeError> gather(S &, const Dims<S> &data, const Dims<S> &indices,
                                 int64_t axis, Dims<S> &out) {
  if (axis < 0 || axis >= (int64_t)data.size())
    return ShapeError{"axis " + std::to_string(axis) + " out of range for rank " +
                      std::to_string(data.size())};
  out.assign(data.begin(), data.begin() + axis);
  out.append(indices.begin(), indices.end());
  out.append(data.begin() + axis + 1, data.end());
  return std::nullopt;
}

/// GatherND: indices' dims but the last (K, static), then data's dims past
/// batch_dims + K.
template <typename S>
std::optional<ShapeError> gatherND(S &s, const Dims<S> &data, const Dims<S> &indices,
                                   int64_t batchDims, Dims<S> &out) {
  int64_t dr = data.size(), ir = indices.size();
  if (ir < 1 || batchDims < 0 || batchDims >= ir || batchDims >= dr)
    return ShapeError{"batch_dims must be below the ranks of data and indices"};
  std::optional<int64_t> k = s.known(indices.back());
  if (!k)
    return ShapeError{"the last dim of GatherND's indices must be static"};
  if (*k < 1 || batchDims + *k > dr)
    return ShapeError{"GatherND indexes " + std::to_string(*k) + " dims of a rank-" +
                      std::to_string(dr) + " tensor after " + std::to_string(batchDims) +
                      " batch dims"};
  out.assign(indices.begin(), indices.end() - 1);
  out.append(data.begin() + batchDims + *k, data.end());
  return std::nullopt;
}

/// A reduction over `axes`: reduced dims are dropped, or kept as 1.
template <typename S>
void reduce(S &s, const Dims<S> &x, ArrayRef<int64_t> axes, bool keepdims, Dims<S> &out) {
  out.clear();
  for (size_t i = 0; i < x.size(); ++i) {
    if (!llvm::is_contained(axes, (int64_t)i))
      out.push_back(x[i]);
    else if (keepdims)
      out.push_back(s.cst(1));
  }
}

template <typename S>
std::optional<ShapeError> unsqueeze(S &s, const Dims<S> &x, ArrayRef<int64_t> axes,
                                    Dims<S> &out) {
  out.clear();
  size_t src = 0, rank = x.size() + axes.size();
  for (int64_t a : axes)
    if (a < 0 || a >= (int64_t)rank || llvm::count(axes, a) != 1)
      return ShapeError{"axes must be distinct and within the result's rank"};
  for (size_t i = 0; i < rank; ++i) {
    if (llvm::is_contained(axes, (int64_t)i))
      out.push_back(s.cst(1));
    else
      out.push_back(x[src++]);
  }
  return std::nullopt;
}

template <typename S>
std::optional<ShapeError> squeeze(S &s, const Dims<S> &x,
                                  ArrayRef<int64_t> axes, Dims<S> &out) {
  out.clear();
  for (size_t i = 0; i < x.size(); ++i) {
    auto k = s.known(x[i]);
    bool listed = llvm::is_contained(axes, (int64_t)i);
    if (listed && k && *k != 1)
      return ShapeError{"cannot squeeze dim " + std::to_string(i) +
                        " of size " + std::to_string(*k)};
    if (listed || (axes.empty() && k && *k == 1))
      continue;
    out.push_back(x[i]);
  }
  return std::nullopt;
}

} // namespace mlc::shape

#endif

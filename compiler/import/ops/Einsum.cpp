//===- Einsum.cpp - converter: Einsum ------------------------------------===//
//
// Einsum composed from mlc ops, one operand pair at a time:
//   1. each operand's repeated labels become its diagonal (an equality
//      mask, then a sum), and labels no other term uses are summed away;
//   2. operands are folded left to right. A pair whose left-only, right-
//      only and contracted labels are at most one each is one batched
//      MatMul (every attention and bilinear einsum); any other pair is a
//      broadcast product summed over the contracted labels;
//   3. the result is summed over labels the output lacks and transposed
//      into the output's order.
// Ellipsis dims are labelled from the right, so they broadcast as numpy's
// einsum does; an implicit output is the ellipsis then the labels used
// once, in alphabetical order.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/NodeBinder.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <map>
#include <set>

using namespace mlir;
using namespace mlc;

namespace {

using Labels = SmallVector<int>;
constexpr int kEllipsisBase = 1000; // ellipsis dim k (from the right): 1000 + k

struct Term {
  Value v;
  Labels labels;
};

/// Parses one term ("b...ij") for an operand of `rank` (-1: the output, whose
/// ellipsis spans `ellipsisRank` dims). Spaces are ignored.
bool parseTerm(NodeBinder &b, StringRef text, int64_t rank, int64_t ellipsisRank, Labels &out) {
  std::string t;
  for (char c : text)
    if (c != ' ')
      t.push_back(c);
  size_t dots = t.find("...");
  std::string before = dots == std::string::npos ? t : t.substr(0, dots);
  std::string after = dots == std::string::npos ? "" : t.substr(dots + 3);
  for (char c : before + after)
    if (!llvm::isAlpha(c))
      return b.error(std::string("invalid einsum label '") + c + "'");
  int64_t explicitCount = before.size() + after.size();
  int64_t ell = 0;
  if (dots != std::string::npos)
    ell = rank >= 0 ? rank - explicitCount : ellipsisRank;
  if (ell < 0 || (rank >= 0 && dots == std::string::npos && explicitCount != rank))
    return b.error("an einsum term's labels do not match its operand's rank");
  for (char c : before)
    out.push_back(c);
  for (int64_t k = ell - 1; k >= 0; --k)
    out.push_back(kEllipsisBase + k);
  for (char c : after)
    out.push_back(c);
  return false;
}

struct Builder {
  NodeBinder &b;

  Value sum(Value x, ArrayRef<int64_t> axes) {
    if (axes.empty())
      return x;
    auto &B = b.builder;
    return b.create<ReduceOp>(x, Value(), B.getDenseI64ArrayAttr(axes), B.getBoolAttr(false),
                              B.getStringAttr("sum"), B.getBoolAttr(false));
  }

  /// `t` transposed so its labels follow `order` (a permutation of them).
  void permute(Term &t, ArrayRef<int> order) {
    SmallVector<int64_t> perm;
    for (int l : order)
      perm.push_back(llvm::find(t.labels, l) - t.labels.begin());
    if (!llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
      t.v = b.transpose(t.v, perm);
    t.labels.assign(order.begin(), order.end());
  }

  /// Sums `t` over every label `keep` rejects.
  void sumUnless(Term &t, llvm::function_ref<bool(int)> keep) {
    SmallVector<int64_t> axes;
    Labels rest;
    for (auto [i, l] : llvm::enumerate(t.labels)) {
      if (keep(l))
        rest.push_back(l);
      else
        axes.push_back(i);
    }
    t.v = sum(t.v, axes);
    t.labels = rest;
  }

  /// Replaces repeated labels by the diagonal.
  void diagonals(Term &t) {
    for (size_t i = 0; i < t.labels.size(); ++i)
      for (size_t j = i + 1; j < t.labels.size(); ++j) {
        if (t.labels[i] != t.labels[j])
          continue;
        int64_t rank = t.labels.size();
        // mask[.., p at i, .., q at j, ..] = p == q
        Value p = b.iota(b.dim(t.v, i), rank - 1 - i);
        Value q = b.iota(b.dim(t.v, j), rank - 1 - j);
        Value eq = b.create<CompareOp>(p, q, b.builder.getStringAttr("eq"));
        Value zero = b.scalar(NodeBinder::elementType(t.v), 0);
        t.v = sum(b.create<WhereOp>(eq, t.v, zero), {int64_t(j)});
        t.labels.erase(t.labels.begin() + j);
        --j;
      }
  }

  /// a (x) b over their shared labels, keeping the labels `keep` accepts.
  Term contract(Term a, Term c, llvm::function_ref<bool(int)> keep) {
    Labels batch, left, right, summed;
    for (int l : a.labels) {
      bool inC = llvm::is_contained(c.labels, l);
      (inC ? (keep(l) ? batch : summed) : left).push_back(l);
    }
    for (int l : c.labels)
      if (!llvm::is_contained(a.labels, l))
        right.push_back(l);
    Labels result = batch;
    result.append(left);
    result.append(right);
    if (left.size() <= 1 && right.size() <= 1 && summed.size() <= 1) {
      // [batch, M, K] x [batch, K, N], unit dims standing in for absent
      // groups, dropped again afterwards.
      Labels ao = batch, co = batch;
      ao.append(left);
      ao.append(summed);
      co.append(summed);
      co.append(right);
      permute(a, ao);
      permute(c, co);
      int64_t nb = batch.size();
      SmallVector<int64_t> aUnits, cUnits, yUnits;
      if (left.empty())
        aUnits.push_back(nb), yUnits.push_back(nb);
      if (summed.empty())
        aUnits.push_back(nb + 1), cUnits.push_back(nb);
      if (right.empty())
        cUnits.push_back(nb + 1), yUnits.push_back(nb + 1);
      Value av = aUnits.empty() ? a.v : b.unsqueeze(a.v, aUnits);
      Value cv = cUnits.empty() ? c.v : b.unsqueeze(c.v, cUnits);
      Value y = b.create<MatMulOp>(av, cv);
      return {yUnits.empty() ? y : b.squeeze(y, yUnits), result};
    }
    // Broadcast product over batch, left, right, summed; then the sum.
    Labels all = result;
    all.append(summed);
    auto spread = [&](Term &t) {
      Labels own;
      SmallVector<int64_t> missing;
      for (auto [i, l] : llvm::enumerate(all)) {
        if (llvm::is_contained(t.labels, l))
          own.push_back(l);
        else
          missing.push_back(i);
      }
      permute(t, own);
      return missing.empty() ? t.v : b.unsqueeze(t.v, missing);
    };
    Value y = b.create<MulOp>(spread(a), spread(c));
    SmallVector<int64_t> axes;
    for (size_t i = result.size(); i < all.size(); ++i)
      axes.push_back(i);
    return {sum(y, axes), result};
  }
};

LogicalResult einsum(NodeBinder &b) {
  std::string eq;
  if (b.attr("equation", eq))
    return failure();
  size_t arrow = eq.find("->");
  std::string lhs = arrow == std::string::npos ? eq : eq.substr(0, arrow);
  SmallVector<StringRef> specs;
  StringRef(lhs).split(specs, ',');
  if (specs.size() != b.numInputs())
    return b.error("the equation has " + std::to_string(specs.size()) + " terms for " +
                   std::to_string(b.numInputs()) + " inputs"),
           failure();
  SmallVector<Term> terms;
  int64_t ellipsisRank = 0;
  std::map<int, int> uses;
  for (auto [i, spec] : llvm::enumerate(specs)) {
    Term t;
    int64_t rank;
    if (b.tensorAt(i, t.v) || b.rank(t.v, rank) || parseTerm(b, spec, rank, 0, t.labels))
      return failure();
    for (int l : t.labels) {
      ++uses[l];
      if (l >= kEllipsisBase)
        ellipsisRank = std::max<int64_t>(ellipsisRank, l - kEllipsisBase + 1);
    }
    terms.push_back(t);
  }
  Labels out;
  if (arrow != std::string::npos) {
    if (parseTerm(b, StringRef(eq).substr(arrow + 2), -1, ellipsisRank, out))
      return failure();
    for (int l : out)
      if (!uses.count(l))
        return b.error("an output label is not in any input"), failure();
  } else {
    for (int64_t k = ellipsisRank - 1; k >= 0; --k)
      out.push_back(kEllipsisBase + k);
    for (auto [l, n] : uses)
      if (l < kEllipsisBase && n == 1)
        out.push_back(l);
  }
  Builder eb{b};
  // Labels still needed after operand `i`: the output's and later terms'.
  auto neededAfter = [&](size_t i) {
    std::set<int> need(out.begin(), out.end());
    for (size_t j = i + 1; j < terms.size(); ++j)
      need.insert(terms[j].labels.begin(), terms[j].labels.end());
    return need;
  };
  for (size_t i = 0; i < terms.size(); ++i) {
    eb.diagonals(terms[i]);
    // Sum labels that no other term and not the output use.
    std::set<int> others(out.begin(), out.end());
    for (size_t j = 0; j < terms.size(); ++j)
      if (j != i)
        others.insert(terms[j].labels.begin(), terms[j].labels.end());
    eb.sumUnless(terms[i], [&](int l) { return others.count(l) > 0; });
  }
  Term acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    std::set<int> need = neededAfter(i);
    acc = eb.contract(acc, terms[i], [&](int l) { return need.count(l) > 0; });
  }
  eb.sumUnless(acc, [&](int l) { return llvm::is_contained(out, l); });
  eb.permute(acc, out);
  b.setResults({acc.v});
  return success();
}

} // namespace

void registerEinsumConverters() { registerConverter("Einsum", 12, einsum); }

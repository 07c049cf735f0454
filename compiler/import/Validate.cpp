//===- Validate.cpp - ONNX's structural rules, checked before import ------===//
//
// One place that checks a ModelProto against the rules every ONNX consumer
// relies on, before any of it is imported: opsets mlc knows, every name
// defined once, every input produced, no cycle, attributes unique, graph
// inputs and outputs with sane dims. Each violation is a user error naming
// the node (or tensor) and the rule. ONNX also requires nodes to be in
// topological order; exporters do not always write them so, and onnxruntime
// accepts any order, so the validator returns one instead of refusing.
//
//===----------------------------------------------------------------------===//
#include "compiler/import/Validate.h"
#include "mlc/runtime.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <deque>

using namespace mlc;

namespace {

/// Nodes are named as the importer names them: their name, or Op_index.
std::string nodeName(const onnx::NodeProto &n, int idx) {
  return n.name().empty() ? absl::StrCat(n.op_type(), "_", idx) : n.name();
}

std::string describe(const onnx::NodeProto &n, int idx) {
  return absl::StrCat("node '", nodeName(n, idx), "' (", n.op_type(), ")");
}

} // namespace

int64_t mlc::elementTypeBytes(int dtype) {
  switch (dtype) {
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::COMPLEX64:
    return 8;
  case onnx::TensorProto::COMPLEX128:
    return 16;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::UINT16:
    return 2;
  default:
    return 1;
  }
}

absl::Status mlc::checkTensorDims(const std::string &what, int dtype,
                                  const std::vector<int64_t> &dims, bool dynamicAllowed) {
  if (dims.size() > MLC_MAX_RANK)
    return absl::InvalidArgumentError(absl::StrCat(what, " has rank ", dims.size(),
                                                   "; mlc supports up to ", MLC_MAX_RANK));
  int64_t bytes = elementTypeBytes(dtype);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = dims[i];
    if (d == -1 && dynamicAllowed)
      continue; // some exporters write -1 for a dynamic dim
    if (d < 0)
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has dim ", i, " = ", d, "; dims must be >= 0",
                       dynamicAllowed ? " (or -1 / a name for a dynamic dim)" : ""));
    if (d && __builtin_mul_overflow(bytes, d, &bytes))
      bytes = INT64_MAX;
    if (bytes > kMaxTensorBytes)
      return absl::InvalidArgumentError(
          absl::StrCat(what, " has dims [", absl::StrJoin(dims, ", "),
                       "]: more than 2^48 bytes, which no machine can hold"));
  }
  return absl::OkStatus();
}

std::vector<const onnx::GraphProto *> mlc::subgraphsOf(const onnx::NodeProto &n) {
  std::vector<const onnx::GraphProto *> graphs;
  for (const auto &a : n.attribute()) {
    if (a.has_g())
      graphs.push_back(&a.g());
    for (const auto &sg : a.graphs())
      graphs.push_back(&sg);
  }
  return graphs;
}

/// Appends to `out` (once each, via `seen`) the names `g` and its
/// subgraphs read that neither they nor `defined` define.
static void collectOuterNames(const onnx::GraphProto &g, const llvm::StringSet<> &defined,
                              std::vector<std::string> &out, llvm::StringSet<> &seen) {
  llvm::StringSet<> local = defined;
  for (const auto &t : g.initializer())
    local.insert(t.name());
  for (const auto &in : g.input())
    local.insert(in.name());
  for (const auto &n : g.node())
    for (const auto &o : n.output())
      local.insert(o);
  auto use = [&](const std::string &name) {
    if (!name.empty() && !local.count(name) && seen.insert(name).second)
      out.push_back(name);
  };
  for (const auto &n : g.node()) {
    for (const auto &in : n.input())
      use(in);
    for (const onnx::GraphProto *sg : subgraphsOf(n))
      collectOuterNames(*sg, local, out, seen);
  }
  for (const auto &o : g.output())
    use(o.name());
}

std::vector<std::string> mlc::implicitInputs(const onnx::NodeProto &n) {
  std::vector<std::string> out;
  llvm::StringSet<> seen;
  for (const onnx::GraphProto *g : subgraphsOf(n))
    collectOuterNames(*g, llvm::StringSet<>(), out, seen);
  return out;
}

/// Every input a node reads, explicit then implicit.
static std::vector<std::string> allInputs(const onnx::NodeProto &n) {
  std::vector<std::string> ins(n.input().begin(), n.input().end());
  for (std::string &name : implicitInputs(n))
    ins.push_back(std::move(name));
  return ins;
}

/// Kahn's algorithm: `order` lists the nodes whose producers all come
/// first; `pending` keeps, for the rest, how many producers are left.
static void kahnOrder(std::vector<int> &pending, const std::vector<std::vector<int>> &users,
                      std::vector<int> &order) {
  order.clear();
  std::deque<int> ready;
  for (size_t i = 0; i < pending.size(); ++i)
    if (!pending[i])
      ready.push_back(i);
  while (!ready.empty()) {
    int i = ready.front();
    ready.pop_front();
    order.push_back(i);
    for (int u : users[i])
      if (--pending[u] == 0)
        ready.push_back(u);
  }
}

bool mlc::topologicalOrder(const onnx::GraphProto &g, std::vector<int> &order) {
  llvm::StringMap<int> producer;
  for (int i = 0; i < g.node_size(); ++i)
    for (const auto &o : g.node(i).output())
      if (!o.empty())
        producer.try_emplace(o, i);
  std::vector<int> pending(g.node_size(), 0);
  std::vector<std::vector<int>> users(g.node_size());
  for (int i = 0; i < g.node_size(); ++i)
    for (const std::string &in : allInputs(g.node(i)))
      if (auto it = producer.find(in); !in.empty() && it != producer.end() && it->second != i) {
        ++pending[i];
        users[it->second].push_back(i);
      }
  kahnOrder(pending, users, order);
  return (int)order.size() == g.node_size();
}

absl::Status mlc::validateModel(const onnx::ModelProto &m, std::vector<int> &order) {
  std::vector<std::string> errors;
  auto fail = [&](std::string msg) { errors.push_back(std::move(msg)); };

  for (const auto &imp : m.opset_import()) {
    bool onnxDomain = imp.domain().empty() || imp.domain() == "ai.onnx";
    if (onnxDomain && (imp.version() < 1 || imp.version() > kMaxOpset))
      fail(absl::StrCat("the model imports opset ", imp.version(),
                        " of the ONNX domain; mlc knows opsets 1 to ", kMaxOpset));
  }

  const onnx::GraphProto &g = m.graph();
  // Where each name comes from: a graph input, an initializer or a node.
  llvm::StringMap<int> producer; // -1: a graph input or initializer
  llvm::StringSet<> inputs, inits;
  for (const auto &t : g.initializer()) {
    if (!inits.insert(t.name()).second)
      fail(absl::StrCat("initializer '", t.name(), "' is defined twice"));
    producer[t.name()] = -1;
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    if (auto s = checkTensorDims("initializer '" + t.name() + "'", t.data_type(), dims, false);
        !s.ok())
      fail(std::string(s.message()));
  }
  for (const auto &in : g.input()) {
    if (!inputs.insert(in.name()).second)
      fail(absl::StrCat("graph input '", in.name(), "' is listed twice"));
    producer[in.name()] = -1; // an initializer may also be listed as an input
  }
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &n = g.node(i);
    for (const std::string &out : n.output()) {
      if (out.empty())
        continue;
      auto [it, fresh] = producer.try_emplace(out, i);
      if (fresh)
        continue;
      if (it->second < 0)
        fail(absl::StrCat(describe(n, i), " writes '", out,
                          "', which is already a graph input or initializer"));
      else
        fail(absl::StrCat(describe(n, i), " writes '", out, "', which ",
                          describe(g.node(it->second), it->second),
                          " also writes; every name must be defined once"));
    }
    llvm::StringSet<> attrs;
    for (const auto &a : n.attribute())
      if (!attrs.insert(a.name()).second)
        fail(absl::StrCat(describe(n, i), " gives attribute '", a.name(), "' twice"));
  }

  // Every input produced; then a topological order (Kahn), or the cycle.
  std::vector<int> pending(g.node_size(), 0);
  std::vector<std::vector<int>> users(g.node_size());
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &n = g.node(i);
    for (const std::string &in : allInputs(n)) {
      if (in.empty())
        continue;
      auto it = producer.find(in);
      if (it == producer.end()) {
        fail(absl::StrCat(describe(n, i), " reads '", in,
                          "', which no node, graph input or initializer produces"));
        continue;
      }
      if (it->second == i) {
        fail(absl::StrCat(describe(n, i), " reads its own output '", in, "'"));
        continue;
      }
      if (it->second >= 0) {
        ++pending[i];
        users[it->second].push_back(i);
      }
    }
  }
  for (const auto &out : g.output())
    if (!producer.count(out.name()))
      fail(absl::StrCat("graph output '", out.name(),
                        "' is not produced by any node, graph input or initializer"));
  if (!errors.empty())
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));

  kahnOrder(pending, users, order);
  if ((int)order.size() != g.node_size()) {
    // Walk back from a node left over along unfinished producers until a
    // node repeats: that is a cycle.
    int start = 0;
    while (!pending[start])
      ++start;
    std::vector<int> path;
    std::vector<int> seen(g.node_size(), -1);
    int cur = start;
    while (seen[cur] < 0) {
      seen[cur] = path.size();
      path.push_back(cur);
      for (const std::string &in : allInputs(g.node(cur))) {
        auto it = producer.find(in);
        if (!in.empty() && it != producer.end() && it->second >= 0 && pending[it->second]) {
          cur = it->second;
          break;
        }
      }
    }
    std::vector<std::string> names;
    for (size_t k = seen[cur]; k < path.size(); ++k)
      names.push_back("'" + nodeName(g.node(path[k]), path[k]) + "'");
    std::reverse(names.begin(), names.end());
    names.push_back(names.front());
    return absl::InvalidArgumentError(
        absl::StrCat("the graph has a cycle: ", absl::StrJoin(names, " -> "),
                     " (each reads the output of the one before)"));
  }
  return absl::OkStatus();
}

//===- Inspect.cpp - mlc inspect: describe an .onnx or a compiled .so ----===//
#include "compiler/import/Importer.h"
#include "tools/mlc/Common.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace mlc::tools {

static const char *kInspectHelp =
    "usage: mlc inspect MODEL.onnx|MODEL.so [--kernels] [--json]\n"
    "\n"
    "For .onnx: inputs/outputs, opset, op histogram, parameters and their\n"
    "bytes, and the nodes mlc cannot compile. For .so: the artifact's table\n"
    "(read from the file: none of its code runs, so it works on a machine\n"
    "that lacks the model's CPU features), the activation memory of its\n"
    "memory plan, FLOPs per run by op type; --kernels lists the kernels\n"
    "(name, FLOPs per call). --json prints the same as one JSON object.\n";

static std::string jsonList(const std::vector<std::string> &items) {
  std::string r = "[";
  for (size_t i = 0; i < items.size(); ++i)
    r += (i ? ", " : "") + items[i];
  return r + "]";
}

/// "12.3 MB".
static std::string bytesText(double b) {
  const char *units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

static int inspectOnnx(const std::string &path, bool json) {
  auto s = summarizeOnnxFile(path);
  if (!s.ok())
    return userError(std::string(s.status().message()));
  if (json) {
    auto tensors = [](const std::vector<ModelSummary::Tensor> &ts) {
      std::vector<std::string> items;
      for (const auto &t : ts) {
        std::vector<std::string> dims;
        for (const std::string &d : t.dims)
          dims.push_back(!d.empty() && (std::isdigit((unsigned char)d[0]) || d[0] == '-') ? d : jsonString(d));
        items.push_back("{\"name\": " + jsonString(t.name) + ", \"dtype\": " + jsonString(t.dtype) +
                        ", \"shape\": " + jsonList(dims) + "}");
      }
      return jsonList(items);
    };
    std::vector<std::string> ops, unsupported;
    for (const auto &[op, n] : s->opHistogram)
      ops.push_back(jsonString(op) + ": " + std::to_string(n));
    for (const auto &u : s->unsupported)
      unsupported.push_back(jsonString(u));
    std::string opsText = "{";
    for (size_t i = 0; i < ops.size(); ++i)
      opsText += (i ? ", " : "") + ops[i];
    std::printf("{\"model\": %s, \"producer\": %s, \"opset\": %lld, \"parameters\": %lld, "
                "\"weight_bytes\": %lld,\n \"inputs\": %s,\n \"outputs\": %s,\n \"ops\": %s},\n "
                "\"unsupported\": %s}\n",
                jsonString(path).c_str(), jsonString(s->producer).c_str(), (long long)s->opset,
                (long long)s->parameters, (long long)s->weightBytes, tensors(s->inputs).c_str(),
                tensors(s->outputs).c_str(), opsText.c_str(), jsonList(unsupported).c_str());
    return kOk;
  }
  std::printf("model: %s\nproducer: %s\nopset: %lld\nparameters: %lld (%s)\n", path.c_str(),
              s->producer.c_str(), (long long)s->opset, (long long)s->parameters,
              bytesText(double(s->weightBytes)).c_str());
  auto dims = [](const ModelSummary::Tensor &t) {
    std::string r = "[";
    for (size_t i = 0; i < t.dims.size(); ++i)
      r += (i ? ", " : "") + t.dims[i];
    return r + "]";
  };
  std::printf("inputs:\n");
  for (const auto &t : s->inputs)
    std::printf("  %s: %s %s\n", t.name.c_str(), t.dtype.c_str(), dims(t).c_str());
  std::printf("outputs:\n");
  for (const auto &t : s->outputs)
    std::printf("  %s: %s %s\n", t.name.c_str(), t.dtype.c_str(), dims(t).c_str());
  std::printf("ops:\n");
  for (const auto &[op, n] : s->opHistogram)
    std::printf("  %-24s %d\n", op.c_str(), n);
  if (s->unsupported.empty()) {
    std::printf("unsupported: none\n");
  } else {
    std::printf("unsupported (%zu):\n", s->unsupported.size());
    for (const auto &u : s->unsupported)
      std::printf("  %s\n", u.c_str());
  }
  return kOk;
}

static void printKernels(const mlc_model *model) {
  size_t n = mlc_model_num_kernels(model);
  if (n == 0) {
    std::printf("kernels: none listed (%s)\n",
                std::strcmp(mlc_model_metadata(model, "abi_version"), "1") == 0
                    ? "an ABI v1 model has no kernel list; recompile it with this mlc"
                    : "the model has no kernels");
    return;
  }
  size_t width = 4;
  for (size_t i = 0; i < n; ++i) {
    mlc_kernel_info k;
    mlc_model_kernel_info(model, i, &k);
    width = std::max(width, std::strlen(k.name));
  }
  std::printf("kernels:\n  %5s  %-*s  %14s\n", "#", (int)width, "name", "FLOPs");
  for (size_t i = 0; i < n; ++i) {
    mlc_kernel_info k;
    mlc_model_kernel_info(model, i, &k);
    std::string flops = k.flops >= 0 ? std::to_string(k.flops) : "unknown";
    std::printf("  %5zu  %-*s  %14s\n", i, (int)width, k.name, flops.c_str());
  }
}

/// The ONNX op type a kernel was made from: "fc1 (MatMul, reduction+2)" ->
/// "MatMul"; the kernel's kind when the name has no op type.
static std::string kernelOpType(const std::string &name) {
  size_t open = name.rfind(" ("), close = name.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return "other";
  std::string inside = name.substr(open + 2, close - open - 2);
  return inside.substr(0, inside.find(", "));
}

static int inspectSoJson(const std::string &path, const mlc_model *m) {
  auto tensor = [](const mlc_tensor_info &t) {
    std::vector<std::string> dims;
    for (int32_t d = 0; d < t.rank; ++d)
      dims.push_back(t.dims[d] >= 0 ? std::to_string(t.dims[d]) : jsonString(t.dim_names[d]));
    return "{\"name\": " + jsonString(t.name) + ", \"dtype\": " + jsonString(mlc_dtype_name(t.dtype)) +
           ", \"shape\": " + jsonList(dims) + "}";
  };
  std::vector<std::string> ins, outs, kernels, meta;
  for (const mlc_tensor_info &t : tensorInfos(m, false))
    ins.push_back(tensor(t));
  for (const mlc_tensor_info &t : tensorInfos(m, true))
    outs.push_back(tensor(t));
  for (size_t i = 0; i < mlc_model_num_kernels(m); ++i) {
    mlc_kernel_info k;
    mlc_model_kernel_info(m, i, &k);
    kernels.push_back("{\"name\": " + jsonString(k.name) + ", \"flops\": " +
                      (k.flops >= 0 ? std::to_string(k.flops) : "null") + "}");
  }
  for (const char *k : {"compiler_version", "compile_options", "abi_version", "target", "cpu",
                        "cpu_features", "arena_size", "num_kernels"})
    if (const char *v = mlc_model_metadata(m, k))
      meta.push_back(jsonString(k) + ": " + jsonString(v));
  std::string metaText;
  for (size_t i = 0; i < meta.size(); ++i)
    metaText += (i ? ", " : "") + meta[i];
  std::printf("{\"model\": %s, %s,\n \"inputs\": %s,\n \"outputs\": %s,\n \"kernels\": %s}\n",
              jsonString(path).c_str(), metaText.c_str(), jsonList(ins).c_str(),
              jsonList(outs).c_str(), jsonList(kernels).c_str());
  return kOk;
}

static int inspectSo(const std::string &path, bool listKernels, bool json) {
  LoadedModel m;
  if (int rc = loadModel(path, m, /*infoOnly=*/true))
    return rc;
  if (json)
    return inspectSoJson(path, m.model);
  std::printf("model: %s\n", path.c_str());
  for (const char *k : {"compiler_version", "compile_options", "abi_version", "target", "cpu",
                        "cpu_features", "arena_size", "num_kernels"})
    std::printf("%s: %s\n", k, mlc_model_metadata(m.model, k));
  auto print = [](const mlc_tensor_info &info) {
    std::printf("  %s: %s [", info.name, mlc_dtype_name(info.dtype));
    for (int32_t d = 0; d < info.rank; ++d) {
      if (d)
        std::printf(", ");
      if (info.dims[d] >= 0)
        std::printf("%lld", (long long)info.dims[d]);
      else
        std::printf("%s", *info.dim_names[d] ? info.dim_names[d] : "?");
    }
    std::printf("]\n");
  };
  std::printf("inputs:\n");
  for (const mlc_tensor_info &info : tensorInfos(m.model, false))
    print(info);
  std::printf("outputs:\n");
  for (const mlc_tensor_info &info : tensorInfos(m.model, true))
    print(info);
  if (const char *arena = mlc_model_metadata(m.model, "arena_size"))
    std::printf("activation memory: %s (the memory plan's arena; outputs are extra)\n",
                bytesText(std::strtod(arena, nullptr)).c_str());
  // FLOPs per run by the op type of each kernel's root (fused elementwise
  // ops count with their root; kernels with run-time shapes are unknown).
  std::map<std::string, int64_t> byKind;
  int64_t total = 0, unknown = 0;
  for (size_t i = 0; i < mlc_model_num_kernels(m.model); ++i) {
    mlc_kernel_info k;
    mlc_model_kernel_info(m.model, i, &k);
    if (k.flops < 0) {
      ++unknown;
      continue;
    }
    byKind[kernelOpType(k.name)] += k.flops;
    total += k.flops;
  }
  if (total > 0) {
    std::printf("flops per run: %lld%s\n", (long long)total,
                unknown ? (" (+" + std::to_string(unknown) + " kernels with run-time shapes)").c_str()
                        : "");
    for (const auto &[kind, f] : byKind)
      std::printf("  %-24s %lld (%.1f%%)\n", kind.c_str(), (long long)f, 100.0 * f / total);
  } else if (unknown) {
    std::printf("flops per run: unknown (run-time shapes; compile with --shape to count them)\n");
  }
  if (listKernels)
    printKernels(m.model);
  return kOk;
}

int cmdInspect(const Args &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kInspectHelp);
    return kOk;
  }
  std::string file;
  bool listKernels = false, json = false;
  for (const std::string &arg : a) {
    if (arg == "--kernels")
      listKernels = true;
    else if (arg == "--json")
      json = true;
    else if (!arg.empty() && arg[0] == '-')
      return userError("unknown option '" + arg + "' (see mlc inspect --help)");
    else if (file.empty())
      file = arg;
    else
      return userError("inspect takes one file (usage: mlc inspect MODEL.onnx|MODEL.so)");
  }
  if (file.empty())
    return userError("inspect takes one file (usage: mlc inspect MODEL.onnx|MODEL.so)");
  if (!endsWith(file, ".so")) {
    if (listKernels)
      return userError("--kernels lists the kernels of a compiled model (.so); compile '" + file +
                       "' first");
    return inspectOnnx(file, json);
  }
  return inspectSo(file, listKernels, json);
}

} // namespace mlc::tools

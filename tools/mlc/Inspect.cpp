//===- Inspect.cpp - mlc inspect: describe an .onnx or a compiled .so ----===//
#include "compiler/import/Importer.h"
#include "tools/mlc/Common.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace mlc::tools {

static const char *kInspectHelp =
    "usage: mlc inspect MODEL.onnx|MODEL.so [--kernels]\n"
    "\n"
    "For .onnx: inputs/outputs, opset, op histogram, parameters and the\n"
    "nodes mlc cannot compile. For .so: the artifact's table, including the\n"
    "number of kernels; --kernels lists them (name, FLOPs per call).\n";

static int inspectOnnx(const std::string &path) {
  auto s = summarizeOnnxFile(path);
  if (!s.ok())
    return userError(std::string(s.status().message()));
  std::printf("model: %s\nproducer: %s\nopset: %lld\nparameters: %lld\n", path.c_str(),
              s->producer.c_str(), (long long)s->opset, (long long)s->parameters);
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

static int inspectSo(const std::string &path, bool listKernels) {
  LoadedModel m;
  if (int rc = loadModel(path, m, /*infoOnly=*/true))
    return rc;
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
  for (size_t i = 0; i < mlc_model_num_inputs(m.model); ++i) {
    mlc_tensor_info info;
    mlc_model_input_info(m.model, i, &info);
    print(info);
  }
  std::printf("outputs:\n");
  for (size_t i = 0; i < mlc_model_num_outputs(m.model); ++i) {
    mlc_tensor_info info;
    mlc_model_output_info(m.model, i, &info);
    print(info);
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
  bool listKernels = false;
  for (const std::string &arg : a) {
    if (arg == "--kernels")
      listKernels = true;
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
    return inspectOnnx(file);
  }
  return inspectSo(file, listKernels);
}

} // namespace mlc::tools

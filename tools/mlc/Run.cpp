//===- Run.cpp - mlc run -------------------------------------------------===//
#include "tools/mlc/Common.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mlc::tools {

static const char *kRunHelp =
    "usage: mlc run MODEL.so --input NAME=FILE ... [--output-dir DIR] [--threads N]\n"
    "\n"
    "  --input NAME=FILE   an input as .npy (or ONNX TensorProto .pb); for a\n"
    "                      model with one input, FILE alone is enough\n"
    "  --output-dir DIR    write each output to DIR/<output name>.npy\n"
    "  --threads N         threads to run on (default: $MLC_NUM_THREADS, or\n"
    "                      every CPU this process may use)\n";

static void printSummary(const std::string &name, const HostTensor &t) {
  std::printf("%s: %s %s", name.c_str(), mlc_dtype_name(t.dtype), shapeText(t.shape).c_str());
  size_t n = t.elements();
  if (n && t.readable()) {
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; ++i) {
      double v = t.at(i);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      sum += v;
    }
    std::printf(" min=%.6g max=%.6g mean=%.6g first=[", mn, mx, sum / n);
    for (size_t i = 0; i < std::min<size_t>(n, 5); ++i)
      std::printf("%s%.6g", i ? ", " : "", t.at(i));
    std::printf("%s]", n > 5 ? ", ..." : "");
  }
  std::printf("\n");
}

int cmdRun(const Args &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kRunHelp);
    return kOk;
  }
  RunArgs r;
  if (int rc = parseRunArgs(a, {"output-dir"}, {}, r, kRunHelp))
    return rc;
  LoadedModel m;
  if (int rc = loadModel(r.model, m))
    return rc;
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, r.files, r.shapes, false, inputs))
    return rc;
  std::vector<HostTensor> outs;
  if (int rc = runToHost(m.model, r.threads, inputs, outs))
    return rc;
  std::string dir = r.values.count("output-dir") ? r.values["output-dir"] : "";
  if (!dir.empty())
    ::mkdir(dir.c_str(), 0755);
  for (size_t i = 0; i < outs.size(); ++i) {
    mlc_tensor_info info;
    mlc_model_output_info(m.model, i, &info);
    const HostTensor &t = outs[i];
    printSummary(info.name, t);
    if (!dir.empty()) {
      std::string err;
      std::string safe = info.name;
      std::replace(safe.begin(), safe.end(), '/', '_');
      if (!writeNpy(dir + "/" + safe + ".npy", t, err))
        return userError(err);
    }
  }
  return kOk;
}

} // namespace mlc::tools

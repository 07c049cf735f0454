//===- Verify.cpp - mlc verify: compare with onnxruntime -----------------===//
#include "compiler/driver/Pipeline.h"
#include "tools/mlc/Common.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mlc::tools {

static const char *kVerifyHelp =
    "usage: mlc verify MODEL.onnx [--so MODEL.so] [--input NAME=FILE]...\n"
    "                  [--shape NAME=DIMS]... [--rtol R] [--atol A] [--threads N]\n"
    "\n"
    "Compiles MODEL.onnx (or uses --so), runs it on the given inputs (random\n"
    "ones otherwise; symbolic dims need --shape), runs onnxruntime on the\n"
    "same inputs and prints max abs / rel error per output. Exits 1 when an\n"
    "output differs beyond |mlc - ort| <= atol + rtol * |ort| (defaults 1e-4,\n"
    "1e-3). onnxruntime is found through the Python in $MLC_PYTHON or python3.\n"
    "--threads N runs mlc on N threads (default: $MLC_NUM_THREADS, or every\n"
    "CPU this process may use).\n";

/// Runs onnxruntime through Python on the inputs in `dir` (in_K.npy) and
/// writes out_K.npy. Returns the script's exit code (3: no onnxruntime).
static int runOnnxRuntime(const std::string &onnx, const std::string &dir) {
  std::string script = dir + "/ort.py";
  {
    std::ofstream f(script);
    f << "import sys\n"
         "try:\n"
         "    import numpy as np, onnxruntime as ort\n"
         "except ImportError:\n"
         "    sys.exit(3)\n"
         "d = sys.argv[2]\n"
         "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
         "feeds = {i.name: np.load('%s/in_%d.npy' % (d, k)) for k, i in enumerate(s.get_inputs())}\n"
         "for k, o in enumerate(s.run(None, feeds)):\n"
         "    np.save('%s/out_%d.npy' % (d, k), np.array(o, order='C'))  # ascontiguousarray makes 0-d arrays 1-d\n";
  }
  const char *py = std::getenv("MLC_PYTHON");
  std::string cmd = std::string("'") + (py && *py ? py : "python3") + "' '" + script + "' '" + onnx +
                    "' '" + dir + "'";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 2;
}

static double elementAt(const HostTensor &t, size_t i) {
  switch (t.dtype) {
  case MLC_DTYPE_F32: return reinterpret_cast<const float *>(t.data.data())[i];
  case MLC_DTYPE_F64: return reinterpret_cast<const double *>(t.data.data())[i];
  case MLC_DTYPE_I64: return (double)reinterpret_cast<const int64_t *>(t.data.data())[i];
  case MLC_DTYPE_I32: return reinterpret_cast<const int32_t *>(t.data.data())[i];
  case MLC_DTYPE_I8: return reinterpret_cast<const int8_t *>(t.data.data())[i];
  case MLC_DTYPE_U8:
  case MLC_DTYPE_BOOL: return reinterpret_cast<const uint8_t *>(t.data.data())[i];
  default: return NAN;
  }
}

int cmdVerify(const Args &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kVerifyHelp);
    return kOk;
  }
  std::string onnx, so;
  std::map<std::string, std::string> files;
  std::map<std::string, std::vector<int64_t>> shapes;
  double rtol = 1e-3, atol = 1e-4;
  int threads = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    if (flagValue(a, i, "--so", v, missing)) {
      so = v;
    } else if (flagValue(a, i, "--input", v, missing)) {
      addInputArg(v, files);
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!missing && !addShapeArg(v, shapes))
        return kUserError;
    } else if (flagValue(a, i, "--rtol", v, missing)) {
      if (!missing && !parseReal("--rtol", v, rtol))
        return kUserError;
    } else if (flagValue(a, i, "--atol", v, missing)) {
      if (!missing && !parseReal("--atol", v, atol))
        return kUserError;
    } else if (flagValue(a, i, "--threads", v, missing)) {
      if (!missing && !parseCount("--threads", v, 1, threads))
        return kUserError;
    } else if (!a[i].empty() && a[i][0] == '-') {
      return userError("unknown option '" + a[i] + "' (see mlc verify --help)");
    } else if (onnx.empty()) {
      onnx = a[i];
    } else {
      return userError("unexpected argument '" + a[i] + "'");
    }
    if (missing)
      return userError("option '" + a[i] + "' needs a value");
  }
  if (onnx.empty() || !endsWith(onnx, ".onnx"))
    return userError("verify needs the ONNX model (usage: mlc verify MODEL.onnx [--so MODEL.so])");
  char tmpl[] = "/tmp/mlc-verify-XXXXXX";
  if (!mkdtemp(tmpl))
    return userError("cannot create a temporary folder");
  std::string dir = tmpl;
  struct RemoveOnExit {
    std::string path;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } cleanup{dir};
  if (so.empty()) {
    CompileOptions o;
    o.input = onnx;
    o.output = dir + "/model.so";
    absl::Status s = compileModel(o);
    if (!s.ok()) {
      std::fprintf(stderr, "mlc: error: %s\n", std::string(s.message()).c_str());
      return s.code() == absl::StatusCode::kInternal ? kInternalError : kUserError;
    }
    so = o.output;
  }
  LoadedModel m;
  if (int rc = loadModel(so, m))
    return rc;
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, files, shapes, true, inputs))
    return rc;
  std::string err;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!writeNpy(dir + "/in_" + std::to_string(i) + ".npy", inputs[i], err))
      return userError(err);
  std::vector<HostTensor> outs;
  if (int rc = runToHost(m.model, threads, inputs, outs))
    return rc;
  int ort = runOnnxRuntime(onnx, dir);
  if (ort == 3)
    return userError("onnxruntime is not installed for this Python; install it with "
                     "'pip install onnxruntime' or point MLC_PYTHON at a Python that has it");
  if (ort != 0)
    return userError("onnxruntime failed on this model (exit code " + std::to_string(ort) + ")");
  std::printf("%-24s %-14s %12s %12s  %s\n", "output", "shape", "max abs", "max rel", "result");
  bool allOk = true;
  for (size_t i = 0; i < outs.size(); ++i) {
    mlc_tensor_info info;
    mlc_model_output_info(m.model, i, &info);
    const HostTensor &got = outs[i];
    HostTensor want;
    if (!readNpy(dir + "/out_" + std::to_string(i) + ".npy", want, err))
      return userError(err);
    bool ok = got.shape == want.shape;
    double maxAbs = 0, maxRel = 0;
    for (size_t e = 0; ok && e < got.elements(); ++e) {
      double g = elementAt(got, e), w = elementAt(want, e), d = std::fabs(g - w);
      if (std::isnan(g) != std::isnan(w) || d > atol + rtol * std::fabs(w))
        ok = std::isnan(g) && std::isnan(w) ? ok : false;
      if (!std::isnan(d)) {
        maxAbs = std::max(maxAbs, d);
        maxRel = std::max(maxRel, d / std::max(std::fabs(w), 1e-12));
      }
    }
    allOk &= ok;
    std::printf("%-24s %-14s %12.3g %12.3g  %s\n", info.name, shapeText(got.shape).c_str(), maxAbs,
                maxRel, ok ? "ok" : (got.shape == want.shape ? "MISMATCH" : "SHAPE MISMATCH"));
  }
  std::printf("%s (rtol %g, atol %g)\n", allOk ? "PASS" : "FAIL", rtol, atol);
  return allOk ? kOk : kUserError;
}

} // namespace mlc::tools

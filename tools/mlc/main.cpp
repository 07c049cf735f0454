//===- main.cpp - the mlc command line -----------------------------------===//
//
//   mlc compile model.onnx -o model.so [options]
//   mlc run model.so --input NAME=FILE.npy ... [--output-dir DIR]
//   mlc bench model.so [--input NAME=FILE] [--shape NAME=DIMS] [--iterations N]
//   mlc inspect model.onnx|model.so
//
// Exit codes: 0 success, 1 user error, 2 internal error.
//
//===----------------------------------------------------------------------===//
#include "compiler/driver/Pipeline.h"
#include "compiler/import/Importer.h"
#include "mlc/runtime.h"
#include "tools/mlc/TensorFiles.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <map>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace mlc;
using namespace mlc::tools;

namespace {

constexpr int kOk = 0, kUserError = 1, kInternalError = 2;

int userError(const std::string &msg) {
  std::fprintf(stderr, "mlc: error: %s\n", msg.c_str());
  return kUserError;
}

const char *kUsage =
    "usage: mlc <command> [options]\n"
    "\n"
    "commands:\n"
    "  compile   compile an ONNX model into a shared library\n"
    "  run       run a compiled model on .npy inputs\n"
    "  bench     time a compiled model\n"
    "  inspect   describe an .onnx model or a compiled .so\n"
    "  verify    compare a compiled model with onnxruntime on the same inputs\n"
    "\n"
    "Run 'mlc <command> --help' for the options of a command.\n";

const char *kCompileHelp =
    "usage: mlc compile MODEL.onnx -o OUTPUT [options]\n"
    "\n"
    "  -o FILE             output file (model.so by default: MODEL with .so)\n"
    "  --target cpu        code generation target (default: cpu)\n"
    "  --cpu NAME          CPU to generate code for (default: this machine's),\n"
    "                      e.g. x86-64-v2, x86-64-v3, skylake-avx512, znver4\n"
    "  --emit KIND         so (default) | mlir (mlc dialect) | linalg (after\n"
    "                      fusion/tiling decisions) | llvm | asm | obj\n"
    "  -O0 .. -O3          optimisation level (default: -O3)\n"
    "  --shape NAME=DIMS   fix an input's shape (NAME=1x3x224x224) or one\n"
    "                      symbolic dim (batch=1); repeatable\n";

const char *kRunHelp =
    "usage: mlc run MODEL.so --input NAME=FILE ... [--output-dir DIR]\n"
    "\n"
    "  --input NAME=FILE   an input as .npy (or ONNX TensorProto .pb); for a\n"
    "                      model with one input, FILE alone is enough\n"
    "  --output-dir DIR    write each output to DIR/<output name>.npy\n";

const char *kBenchHelp =
    "usage: mlc bench MODEL.so [--input NAME=FILE] [--shape NAME=DIMS]\n"
    "                 [--iterations N] [--warmup N]\n"
    "\n"
    "Inputs not given are filled with random values; symbolic dims need\n"
    "--shape. Prints the mean and median latency of one run, in ms.\n";

const char *kVerifyHelp =
    "usage: mlc verify MODEL.onnx [--so MODEL.so] [--input NAME=FILE]...\n"
    "                  [--shape NAME=DIMS]... [--rtol R] [--atol A]\n"
    "\n"
    "Compiles MODEL.onnx (or uses --so), runs it on the given inputs (random\n"
    "ones otherwise; symbolic dims need --shape), runs onnxruntime on the\n"
    "same inputs and prints max abs / rel error per output. Exits 1 when an\n"
    "output differs beyond |mlc - ort| <= atol + rtol * |ort| (defaults 1e-4,\n"
    "1e-3). onnxruntime is found through the Python in $MLC_PYTHON or python3.\n";

const char *kInspectHelp =
    "usage: mlc inspect MODEL.onnx|MODEL.so\n"
    "\n"
    "For .onnx: inputs/outputs, opset, op histogram, parameters and the\n"
    "nodes mlc cannot compile. For .so: the artifact's table.\n";

bool wantsHelp(const std::vector<std::string> &a) {
  return std::any_of(a.begin(), a.end(),
                     [](const std::string &s) { return s == "--help" || s == "-h"; });
}

bool parseDims(const std::string &s, std::vector<int64_t> &dims) {
  dims.clear();
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find_first_of("x,", pos);
    if (end == std::string::npos)
      end = s.size();
    std::string item = s.substr(pos, end - pos);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
      return false;
    dims.push_back(std::stoll(item));
    pos = end + 1;
  }
  return !dims.empty();
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Parses "--flag VALUE" or "--flag=VALUE"; returns true if `a[i]` matched.
bool flagValue(const std::vector<std::string> &a, size_t &i, const char *flag,
               std::string &out, bool &missing) {
  std::string f = flag;
  if (a[i] == f) {
    if (i + 1 >= a.size()) {
      missing = true;
      return true;
    }
    out = a[++i];
    return true;
  }
  if (a[i].rfind(f + "=", 0) == 0) {
    out = a[i].substr(f.size() + 1);
    return true;
  }
  return false;
}

/// `NAME=FILE` (or a bare FILE, keyed "") from --input.
void addInputArg(const std::string &v, std::map<std::string, std::string> &files) {
  size_t eq = v.find('=');
  if (eq == std::string::npos)
    files[""] = v;
  else
    files[v.substr(0, eq)] = v.substr(eq + 1);
}

/// `NAME=DIMS` from --shape; false (after reporting) on bad syntax.
bool addShapeArg(const std::string &v, std::map<std::string, std::vector<int64_t>> &shapes) {
  size_t eq = v.find('=');
  std::vector<int64_t> dims;
  if (eq == std::string::npos || !parseDims(v.substr(eq + 1), dims)) {
    userError("--shape takes NAME=DIMS, e.g. input=1x3x224x224 or batch=1");
    return false;
  }
  shapes[v.substr(0, eq)] = dims;
  return true;
}

//===----------------------------------------------------------------------===//
// compile
//===----------------------------------------------------------------------===//

int cmdCompile(const std::vector<std::string> &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kCompileHelp);
    return kOk;
  }
  CompileOptions o;
  std::string emit = "so";
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    if (flagValue(a, i, "-o", v, missing) || flagValue(a, i, "--output", v, missing)) {
      o.output = v;
    } else if (flagValue(a, i, "--target", v, missing)) {
      o.target = v;
    } else if (flagValue(a, i, "--cpu", v, missing)) {
      o.cpu = v;
    } else if (flagValue(a, i, "--emit", v, missing)) {
      emit = v;
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!addShapeArg(v, o.shapes))
        return kUserError;
    } else if (a[i].size() == 3 && a[i].rfind("-O", 0) == 0 && a[i][2] >= '0' &&
               a[i][2] <= '3') {
      o.optLevel = a[i][2] - '0';
    } else if (!a[i].empty() && a[i][0] == '-') {
      return userError("unknown option '" + a[i] + "' (see mlc compile --help)");
    } else if (o.input.empty()) {
      o.input = a[i];
    } else {
      return userError("more than one model given ('" + o.input + "', '" + a[i] + "')");
    }
    if (missing)
      return userError("option '" + a[i] + "' needs a value");
  }
  if (o.input.empty())
    return userError("no model given (usage: mlc compile MODEL.onnx -o MODEL.so)");
  static const std::map<std::string, EmitKind> kinds = {
      {"so", EmitKind::SharedLibrary}, {"mlir", EmitKind::Mlir},
      {"linalg", EmitKind::Linalg},    {"llvm", EmitKind::LLVM},
      {"asm", EmitKind::Asm},          {"obj", EmitKind::Object}};
  auto k = kinds.find(emit);
  if (k == kinds.end())
    return userError("--emit takes so, mlir, linalg, llvm, asm or obj");
  o.emit = k->second;
  if (o.output.empty()) {
    static const std::map<EmitKind, std::string> ext = {
        {EmitKind::SharedLibrary, ".so"}, {EmitKind::Mlir, ".mlir"},
        {EmitKind::Linalg, ".linalg.mlir"}, {EmitKind::LLVM, ".ll"},
        {EmitKind::Asm, ".s"}, {EmitKind::Object, ".o"}};
    std::string base = o.input;
    if (endsWith(base, ".onnx"))
      base = base.substr(0, base.size() - 5);
    o.output = base + ext.at(o.emit);
  }
  absl::Status s = compileModel(o);
  if (!s.ok()) {
    bool internal = s.code() == absl::StatusCode::kInternal;
    std::fprintf(stderr, "mlc: %s: %s\n", internal ? "internal error" : "error",
                 std::string(s.message()).c_str());
    if (internal)
      std::fprintf(stderr, "mlc: this is a bug in mlc; please report it with the model\n");
    return internal ? kInternalError : kUserError;
  }
  return kOk;
}

//===----------------------------------------------------------------------===//
// run / bench
//===----------------------------------------------------------------------===//

struct LoadedModel {
  mlc_model *model = nullptr;
  ~LoadedModel() { mlc_model_free(model); }
};

std::string shapeText(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + std::to_string(s[i]);
  return r + "]";
}

int loadModel(const std::string &path, LoadedModel &m) {
  if (path.empty())
    return userError("no compiled model given");
  if (endsWith(path, ".onnx"))
    return userError("'" + path + "' is an ONNX model; compile it first: mlc compile " + path +
                     " -o model.so");
  mlc_status s = mlc_model_load(path.c_str(), &m.model);
  if (s != MLC_OK)
    return userError(mlc_last_error());
  return kOk;
}

/// Parses --input NAME=FILE options into tensors in model input order.
int gatherInputs(const mlc_model *model, const std::map<std::string, std::string> &files,
                 const std::map<std::string, std::vector<int64_t>> &shapes, bool randomFill,
                 std::vector<HostTensor> &inputs) {
  size_t n = mlc_model_num_inputs(model);
  std::map<std::string, std::string> byName = files;
  if (byName.count("") && n == 1) {
    mlc_tensor_info info;
    mlc_model_input_info(model, 0, &info);
    byName[info.name] = byName[""];
    byName.erase("");
  } else if (byName.count("")) {
    return userError("the model has " + std::to_string(n) + " inputs; name each with --input NAME=FILE");
  }
  std::mt19937 rng(0);
  std::vector<std::string> known;
  for (size_t i = 0; i < n; ++i) {
    mlc_tensor_info info;
    mlc_model_input_info(model, i, &info);
    known.push_back(info.name);
    HostTensor t;
    auto f = byName.find(info.name);
    if (f != byName.end()) {
      std::string err;
      if (!readTensorFile(f->second, t, err))
        return userError(err);
    } else if (randomFill) {
      t.dtype = info.dtype;
      for (int32_t d = 0; d < info.rank; ++d) {
        int64_t v = info.dims[d];
        if (v < 0) {
          auto s = shapes.find(info.name);
          auto byDim = shapes.find(info.dim_names[d]);
          if (s != shapes.end() && (size_t)d < s->second.size())
            v = s->second[d];
          else if (byDim != shapes.end())
            v = byDim->second[0];
          else
            return userError(std::string("input '") + info.name + "' dim " + std::to_string(d) +
                             " ('" + info.dim_names[d] + "') is symbolic; give it with --shape " +
                             (*info.dim_names[d] ? info.dim_names[d] : info.name) + "=N");
        }
        t.shape.push_back(v);
      }
      t.data.resize(t.elements() * mlc_dtype_size(t.dtype));
      if (t.dtype == MLC_DTYPE_F32) {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        auto *p = reinterpret_cast<float *>(t.data.data());
        for (size_t e = 0; e < t.elements(); ++e)
          p[e] = u(rng);
      }
    } else {
      return userError(std::string("missing input '") + info.name + "' (give it with --input " +
                       info.name + "=FILE.npy)");
    }
    inputs.push_back(std::move(t));
  }
  for (const auto &[name, _] : byName)
    if (std::find(known.begin(), known.end(), name) == known.end())
      return userError("the model has no input named '" + name + "'");
  return kOk;
}

void printSummary(const std::string &name, const HostTensor &t) {
  std::printf("%s: %s %s", name.c_str(), mlc_dtype_name(t.dtype), shapeText(t.shape).c_str());
  size_t n = t.elements();
  if (n && (t.dtype == MLC_DTYPE_F32 || t.dtype == MLC_DTYPE_I64)) {
    double mn = INFINITY, mx = -INFINITY, sum = 0;
    auto at = [&](size_t i) -> double {
      return t.dtype == MLC_DTYPE_F32 ? reinterpret_cast<const float *>(t.data.data())[i]
                                      : (double)reinterpret_cast<const int64_t *>(t.data.data())[i];
    };
    for (size_t i = 0; i < n; ++i) {
      double v = at(i);
      mn = std::min(mn, v);
      mx = std::max(mx, v);
      sum += v;
    }
    std::printf(" min=%.6g max=%.6g mean=%.6g first=[", mn, mx, sum / n);
    for (size_t i = 0; i < std::min<size_t>(n, 5); ++i)
      std::printf("%s%.6g", i ? ", " : "", at(i));
    std::printf("%s]", n > 5 ? ", ..." : "");
  }
  std::printf("\n");
}

int parseRunArgs(const std::vector<std::string> &a, std::string &modelPath,
                 std::map<std::string, std::string> &files,
                 std::map<std::string, std::vector<int64_t>> &shapes,
                 std::map<std::string, std::string> &other, const char *help) {
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    if (flagValue(a, i, "--input", v, missing) || flagValue(a, i, "-i", v, missing)) {
      addInputArg(v, files);
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!addShapeArg(v, shapes))
        return kUserError;
    } else if (flagValue(a, i, "--output-dir", v, missing)) {
      other["output-dir"] = v;
    } else if (flagValue(a, i, "--iterations", v, missing)) {
      other["iterations"] = v;
    } else if (flagValue(a, i, "--warmup", v, missing)) {
      other["warmup"] = v;
    } else if (!a[i].empty() && a[i][0] == '-') {
      return userError("unknown option '" + a[i] + "'\n" + help);
    } else if (modelPath.empty()) {
      modelPath = a[i];
    } else {
      return userError("unexpected argument '" + a[i] + "'");
    }
    if (missing)
      return userError("option '" + a[i] + "' needs a value");
  }
  return kOk;
}

int runOnce(mlc_session *session, const mlc_model *model, std::vector<HostTensor> &inputs,
            std::vector<mlc_tensor> &outs) {
  std::vector<mlc_tensor> in;
  for (const HostTensor &t : inputs)
    in.push_back(t.view());
  outs.assign(mlc_model_num_outputs(model), mlc_tensor{});
  mlc_status s = mlc_session_run(session, in.data(), in.size(), outs.data(), outs.size());
  if (s != MLC_OK) {
    for (auto &o : outs)
      mlc_tensor_release(&o);
    return s == MLC_ERROR_INVALID_ARGUMENT ? userError(mlc_last_error())
                                           : (std::fprintf(stderr, "mlc: error: %s\n", mlc_last_error()),
                                              kInternalError);
  }
  return kOk;
}

/// One run in a fresh session; the outputs come back as host tensors.
int runToHost(const mlc_model *model, std::vector<HostTensor> &inputs,
              std::vector<HostTensor> &outputs) {
  mlc_session *session = nullptr;
  if (mlc_session_create(model, &session) != MLC_OK)
    return userError(mlc_last_error());
  std::vector<mlc_tensor> outs;
  int rc = runOnce(session, model, inputs, outs);
  mlc_session_free(session);
  if (rc)
    return rc;
  for (mlc_tensor &o : outs) {
    HostTensor t;
    t.dtype = o.dtype;
    t.shape.assign(o.shape, o.shape + o.rank);
    t.data.assign((char *)o.data, (char *)o.data + o.size_bytes);
    mlc_tensor_release(&o);
    outputs.push_back(std::move(t));
  }
  return kOk;
}

int cmdRun(const std::vector<std::string> &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kRunHelp);
    return kOk;
  }
  std::string path;
  std::map<std::string, std::string> files, other;
  std::map<std::string, std::vector<int64_t>> shapes;
  if (int rc = parseRunArgs(a, path, files, shapes, other, kRunHelp))
    return rc;
  LoadedModel m;
  if (int rc = loadModel(path, m))
    return rc;
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, files, shapes, false, inputs))
    return rc;
  std::vector<HostTensor> outs;
  if (int rc = runToHost(m.model, inputs, outs))
    return rc;
  std::string dir = other.count("output-dir") ? other["output-dir"] : "";
  if (!dir.empty())
    ::mkdir(dir.c_str(), 0755);
  for (size_t i = 0; i < outs.size(); ++i) {
    mlc_tensor_info info;
    mlc_model_output_info(m.model, i, &info);
    const HostTensor &t = outs[i];
    printSummary(info.name, t);
    if (!dir.empty()) {
      std::string file, err;
      std::string safe = info.name;
      std::replace(safe.begin(), safe.end(), '/', '_');
      file = dir + "/" + safe + ".npy";
      if (!writeNpy(file, t, err))
        return userError(err);
    }
  }
  return kOk;
}

int cmdBench(const std::vector<std::string> &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kBenchHelp);
    return kOk;
  }
  std::string path;
  std::map<std::string, std::string> files, other;
  std::map<std::string, std::vector<int64_t>> shapes;
  if (int rc = parseRunArgs(a, path, files, shapes, other, kBenchHelp))
    return rc;
  int iterations = other.count("iterations") ? std::atoi(other["iterations"].c_str()) : 20;
  int warmup = other.count("warmup") ? std::atoi(other["warmup"].c_str()) : 3;
  if (iterations <= 0 || warmup < 0)
    return userError("--iterations must be positive and --warmup non-negative");
  LoadedModel m;
  if (int rc = loadModel(path, m))
    return rc;
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, files, shapes, true, inputs))
    return rc;
  mlc_session *session = nullptr;
  if (mlc_session_create(m.model, &session) != MLC_OK)
    return userError(mlc_last_error());
  std::vector<double> ms;
  for (int i = 0; i < warmup + iterations; ++i) {
    std::vector<mlc_tensor> outs;
    auto t0 = std::chrono::steady_clock::now();
    int rc = runOnce(session, m.model, inputs, outs);
    auto t1 = std::chrono::steady_clock::now();
    for (auto &o : outs)
      mlc_tensor_release(&o);
    if (rc) {
      mlc_session_free(session);
      return rc;
    }
    if (i >= warmup)
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  mlc_session_free(session);
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double v : ms)
    mean += v / ms.size();
  std::printf("%s: %d runs, mean %.3f ms, median %.3f ms, min %.3f ms\n", path.c_str(),
              iterations, mean, ms[ms.size() / 2], ms.front());
  return kOk;
}


//===----------------------------------------------------------------------===//
// verify
//===----------------------------------------------------------------------===//

/// Runs onnxruntime through Python on the inputs in `dir` (in_K.npy) and
/// writes out_K.npy. Returns the script's exit code (3: no onnxruntime).
int runOnnxRuntime(const std::string &onnx, const std::string &dir) {
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
         "    np.save('%s/out_%d.npy' % (d, k), np.ascontiguousarray(o))\n";
  }
  const char *py = std::getenv("MLC_PYTHON");
  std::string cmd = std::string("'") + (py && *py ? py : "python3") + "' '" + script + "' '" + onnx +
                    "' '" + dir + "'";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 2;
}

double elementAt(const HostTensor &t, size_t i) {
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

int cmdVerify(const std::vector<std::string> &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kVerifyHelp);
    return kOk;
  }
  std::string onnx, so;
  std::map<std::string, std::string> files;
  std::map<std::string, std::vector<int64_t>> shapes;
  double rtol = 1e-3, atol = 1e-4;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    if (flagValue(a, i, "--so", v, missing)) {
      so = v;
    } else if (flagValue(a, i, "--input", v, missing)) {
      addInputArg(v, files);
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!addShapeArg(v, shapes))
        return kUserError;
    } else if (flagValue(a, i, "--rtol", v, missing)) {
      rtol = std::atof(v.c_str());
    } else if (flagValue(a, i, "--atol", v, missing)) {
      atol = std::atof(v.c_str());
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
  if (int rc = runToHost(m.model, inputs, outs))
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

//===----------------------------------------------------------------------===//
// inspect
//===----------------------------------------------------------------------===//

int inspectOnnx(const std::string &path) {
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

int inspectSo(const std::string &path) {
  LoadedModel m;
  if (int rc = loadModel(path, m))
    return rc;
  std::printf("model: %s\n", path.c_str());
  for (const char *k : {"compiler_version", "compile_options", "abi_version", "target", "cpu",
                        "cpu_features", "arena_size"})
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
  return kOk;
}

int cmdInspect(const std::vector<std::string> &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kInspectHelp);
    return kOk;
  }
  if (a.size() != 1)
    return userError("inspect takes one file (usage: mlc inspect MODEL.onnx|MODEL.so)");
  return endsWith(a[0], ".so") ? inspectSo(a[0]) : inspectOnnx(a[0]);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fprintf(stderr, "%s", kUsage);
    return kUserError;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::printf("%s", kUsage);
    return kOk;
  }
  if (cmd == "--version") {
    std::printf("%s\n", compilerVersion());
    return kOk;
  }
  if (cmd == "compile")
    return cmdCompile(args);
  if (cmd == "run")
    return cmdRun(args);
  if (cmd == "bench")
    return cmdBench(args);
  if (cmd == "inspect")
    return cmdInspect(args);
  if (cmd == "verify")
    return cmdVerify(args);
  std::fprintf(stderr, "mlc: error: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return kUserError;
}

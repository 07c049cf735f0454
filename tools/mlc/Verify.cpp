//===- Verify.cpp - mlc verify: compare with onnxruntime -----------------===//
#include "compiler/driver/Pipeline.h"
#include "tools/mlc/Common.h"

#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_join.h"
#include "onnx/onnx_pb.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mlc::tools {

static const char *kVerifyHelp =
    "usage: mlc verify MODEL.onnx [--so MODEL.so] [--input NAME=FILE]...\n"
    "                  [--shape NAME=DIMS]... [--rtol R] [--atol A] [--threads N]\n"
    "                  [--seed N] [--val-range NAME:LO,HI]... [--load-inputs DIR]\n"
    "                  [--save-inputs DIR] [--save-outputs DIR] [--cpu NAME] [-O0..3]\n"
    "\n"
    "Compiles MODEL.onnx (with --shape, --cpu and -O; or uses --so, which must\n"
    "have been compiled from MODEL.onnx), runs it on the given inputs, runs\n"
    "onnxruntime on the same inputs and prints max abs / rel error per output.\n"
    "Exits 1 when an output differs beyond |mlc - ort| <= atol + rtol * |ort|\n"
    "(defaults 1e-4, 1e-3). onnxruntime is found through the Python in\n"
    "$MLC_PYTHON or python3, and runs with graph optimisations off, so it\n"
    "computes the graph as written (its fused integer kernels for quantized\n"
    "models round differently).\n"
    "\n"
    "Inputs not given (--input, or DIR/NAME.npy with --load-inputs) are random\n"
    "(--seed, default 0): floats in [-1, 1); integers in a range derived from\n"
    "the model (an input that indexes a table with Gather: the table's rows;\n"
    "an input whose name says mask: 0 or 1; others: 0..9); bools 0/1.\n"
    "--val-range NAME:LO,HI sets the range ([LO, HI) for floats, [LO, HI] for\n"
    "integers). Symbolic dims need --shape. --save-inputs writes the inputs\n"
    "as DIR/NAME.npy, --save-outputs writes mlc's outputs as DIR/NAME.npy and\n"
    "onnxruntime's as DIR/NAME.onnxruntime.npy. --threads N runs mlc on N\n"
    "threads (default: $MLC_NUM_THREADS, or every CPU this process may use).\n";

/// A file name for a tensor name ("input:0" -> "input_0").
static std::string fileNameFor(const std::string &name) {
  std::string s;
  for (char c : name)
    s += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ? c : '_';
  return s.empty() ? "_" : s;
}

/// Integer inputs' value ranges that the graph implies: an input used as
/// Gather indices into a constant table gets [0, rows - 1]; an input whose
/// name says it is a mask gets [0, 1]. Names in `ranges` are kept.
static void deriveRanges(const onnx::ModelProto &model,
                         std::map<std::string, std::pair<double, double>> &ranges) {
  const onnx::GraphProto &g = model.graph();
  std::map<std::string, const onnx::TensorProto *> init;
  for (const auto &t : g.initializer())
    init[t.name()] = &t;
  for (const auto &in : g.input()) {
    const std::string &name = in.name();
    int elem = in.type().tensor_type().elem_type();
    bool isInt = elem == onnx::TensorProto::INT64 || elem == onnx::TensorProto::INT32 ||
                 elem == onnx::TensorProto::INT16 || elem == onnx::TensorProto::INT8 ||
                 elem == onnx::TensorProto::UINT8;
    if (!isInt || init.count(name) || ranges.count(name))
      continue;
    std::string lower;
    for (char c : name)
      lower += char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("mask") != std::string::npos) {
      ranges[name] = {0, 1};
      continue;
    }
    int64_t rows = -1;
    for (const auto &n : g.node()) {
      if (n.op_type() != "Gather" || n.input_size() < 2 || n.input(1) != name)
        continue;
      auto t = init.find(n.input(0));
      if (t == init.end())
        continue;
      int64_t axis = 0;
      for (const auto &a : n.attribute())
        if (a.name() == "axis")
          axis = a.i();
      int rank = t->second->dims_size();
      if (axis < 0)
        axis += rank;
      if (axis < 0 || axis >= rank)
        continue;
      int64_t d = t->second->dims(int(axis));
      rows = rows < 0 ? d : std::min(rows, d);
    }
    if (rows > 0)
      ranges[name] = {0, double(rows - 1)};
  }
}

/// Runs onnxruntime through Python on the inputs in `dir` (in_K.npy) and
/// writes out_K.npy. Returns the script's exit code (3: no onnxruntime).
/// Graph optimisations are off, so the reference computes what the graph
/// says: with them on, onnxruntime replaces QuantizeLinear/DequantizeLinear
/// pairs by integer kernels whose rounding differs from the graph's.
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
         "so = ort.SessionOptions()\n"
         "so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL\n"
         "s = ort.InferenceSession(sys.argv[1], so, providers=['CPUExecutionProvider'])\n"
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

/// A --so must have been compiled from the model: the same input and output
/// names, in order.
static int checkSameInterface(const onnx::ModelProto &model, const std::string &onnxPath,
                              const std::string &soPath, const mlc_model *m) {
  std::set<std::string> init;
  for (const auto &t : model.graph().initializer())
    init.insert(t.name());
  std::vector<std::string> wantIn, wantOut, gotIn, gotOut;
  for (const auto &i : model.graph().input())
    if (!init.count(i.name()))
      wantIn.push_back(i.name());
  for (const auto &o : model.graph().output())
    wantOut.push_back(o.name());
  for (const mlc_tensor_info &t : tensorInfos(m, false))
    gotIn.push_back(t.name);
  for (const mlc_tensor_info &t : tensorInfos(m, true))
    gotOut.push_back(t.name);
  if (wantIn == gotIn && wantOut == gotOut)
    return kOk;
  auto text = [](const std::vector<std::string> &in, const std::vector<std::string> &out) {
    return "inputs [" + absl::StrJoin(in, ", ") + "], outputs [" + absl::StrJoin(out, ", ") + "]";
  };
  return userError("'" + soPath + "' was not compiled from '" + onnxPath + "': the library has " +
                   text(gotIn, gotOut) + ", the model has " + text(wantIn, wantOut));
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
  int threads = 0, seed = 0;
  std::string cpu, loadDir, saveInputs, saveOutputs;
  int optLevel = 3;
  std::set<std::string> seen;
  RandomInputs random;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    std::string flag = a[i].substr(0, a[i].find('='));
    // Options that take one value may be given once.
    static const std::set<std::string> once = {"--so", "--rtol", "--atol", "--threads", "--seed",
                                               "--cpu", "--load-inputs", "--save-inputs",
                                               "--save-outputs"};
    if (once.count(flag) && !seen.insert(flag).second)
      return userError(flag + " given twice");
    if (flagValue(a, i, "--so", v, missing)) {
      so = v;
    } else if (flagValue(a, i, "--input", v, missing)) {
      if (!missing && !addInputArg(v, files))
        return kUserError;
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!missing && !addShapeArg(v, shapes))
        return kUserError;
    } else if (flagValue(a, i, "--val-range", v, missing)) {
      if (!missing && !addValueRangeArg(v, random.ranges))
        return kUserError;
    } else if (flagValue(a, i, "--seed", v, missing)) {
      if (!missing && !parseCount("--seed", v, 0, seed))
        return kUserError;
    } else if (flagValue(a, i, "--cpu", v, missing)) {
      cpu = v;
    } else if (flagValue(a, i, "--load-inputs", v, missing)) {
      loadDir = v;
    } else if (flagValue(a, i, "--save-inputs", v, missing)) {
      saveInputs = v;
    } else if (flagValue(a, i, "--save-outputs", v, missing)) {
      saveOutputs = v;
    } else if (a[i].size() == 3 && a[i].rfind("-O", 0) == 0 && a[i][2] >= '0' && a[i][2] <= '3') {
      optLevel = a[i][2] - '0';
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
  if (!so.empty() && (!cpu.empty() || optLevel != 3))
    return userError("--cpu and -O apply when verify compiles the model, not to --so");
  if (so.empty()) {
    CompileOptions o;
    o.input = onnx;
    o.output = dir + "/model.so";
    o.shapes = shapes;
    o.cpu = cpu;
    o.optLevel = optLevel;
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
  // The model is read once for the checks and the input ranges; one that
  // does not parse was reported by the compile (or onnxruntime reports it).
  onnx::ModelProto model;
  std::ifstream modelFile(onnx, std::ios::binary);
  if (!modelFile)
    return userError("cannot read '" + onnx + "'");
  bool parsed = model.ParseFromIstream(&modelFile);
  if (parsed)
    if (int rc = checkSameInterface(model, onnx, so, m.model))
      return rc;
  std::vector<mlc_tensor_info> inputInfos = tensorInfos(m.model, false);
  if (!loadDir.empty()) {
    for (const mlc_tensor_info &info : inputInfos) {
      std::string path = loadDir + "/" + fileNameFor(info.name) + ".npy";
      if (!files.count(info.name)) {
        if (!std::filesystem::exists(path))
          return userError("--load-inputs: no '" + path + "' for input '" + info.name + "'");
        files[info.name] = path;
      }
    }
  }
  random.seed = uint32_t(seed);
  if (parsed)
    deriveRanges(model, random.ranges);
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, files, shapes, true, inputs, random))
    return rc;
  std::string err;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!writeNpy(dir + "/in_" + std::to_string(i) + ".npy", inputs[i], err))
      return userError(err);
  auto makeDir = [](const std::string &d) {
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    return !ec;
  };
  if (!saveInputs.empty()) {
    if (!makeDir(saveInputs))
      return userError("cannot create '" + saveInputs + "'");
    for (size_t i = 0; i < inputs.size(); ++i)
      if (!writeNpy(saveInputs + "/" + fileNameFor(inputInfos[i].name) + ".npy", inputs[i], err))
        return userError(err);
  }
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
    if (!saveOutputs.empty()) {
      if (!makeDir(saveOutputs))
        return userError("cannot create '" + saveOutputs + "'");
      std::string base = saveOutputs + "/" + fileNameFor(info.name);
      if (!writeNpy(base + ".npy", got, err) || !writeNpy(base + ".onnxruntime.npy", want, err))
        return userError(err);
    }
    bool ok = got.shape == want.shape;
    double maxAbs = 0, maxRel = 0;
    for (size_t e = 0; ok && e < got.elements(); ++e) {
      double g = got.at(e), w = want.at(e), d = std::fabs(g - w);
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

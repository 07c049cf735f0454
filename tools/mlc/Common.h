//===- Common.h - what the mlc commands share ---------------------*- C++ -*-===//
//
// Exit codes, option parsing, loading a compiled model, gathering its inputs
// and running it. One file per command (Compile.cpp, Run.cpp, ...) holds the
// command's help text and its cmdX function.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_TOOLS_MLC_COMMON_H
#define MLC_TOOLS_MLC_COMMON_H

#include "mlc/runtime.h"
#include "tools/mlc/TensorFiles.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace mlc::tools {

constexpr int kOk = 0, kUserError = 1, kInternalError = 2;

using Args = std::vector<std::string>;

int cmdCompile(const Args &a);
int cmdRun(const Args &a);
int cmdBench(const Args &a);
int cmdInspect(const Args &a);
int cmdVerify(const Args &a);

/// Prints "mlc: error: MSG" and returns kUserError.
int userError(const std::string &msg);

bool wantsHelp(const Args &a);
bool endsWith(const std::string &s, const std::string &suffix);
/// "[2x3]".
std::string shapeText(const std::vector<int64_t> &s);

/// Parses "--flag VALUE" or "--flag=VALUE"; returns true if `a[i]` matched
/// (then `missing` says whether the value was missing).
bool flagValue(const Args &a, size_t &i, const char *flag, std::string &out, bool &missing);
/// `NAME=FILE` (or a bare FILE, keyed "") from --input; false (after
/// reporting) when that input was given already.
bool addInputArg(const std::string &v, std::map<std::string, std::string> &files);
/// `NAME=DIMS` from --shape; false (after reporting) on bad syntax.
bool addShapeArg(const std::string &v, std::map<std::string, std::vector<int64_t>> &shapes);
/// A whole number >= `min` (checked conversion); false (after reporting
/// "OPTION takes a whole number >= MIN, got 'TEXT'") otherwise.
bool parseCount(const std::string &option, const std::string &text, int min, int &out);
/// A real number (checked conversion); false after reporting otherwise.
bool parseReal(const std::string &option, const std::string &text, double &out);

/// The options of the commands that run a compiled model.
struct RunArgs {
  std::string model;
  std::map<std::string, std::string> files;                // --input
  std::map<std::string, std::vector<int64_t>> shapes;      // --shape
  int threads = 0;                                         // --threads; 0: runtime default
  std::map<std::string, std::string> values;               // other "--name VALUE", by name
  std::set<std::string> flags;                             // "--name" switches given
};

/// Parses the model path, --input/-i, --shape, --threads, and the command's
/// own `valueOptions` ("--name VALUE") and `flagOptions` ("--name").
int parseRunArgs(const Args &a, const std::vector<std::string> &valueOptions,
                 const std::vector<std::string> &flagOptions, RunArgs &out, const char *help);

struct LoadedModel {
  mlc_model *model = nullptr;
  LoadedModel() = default;
  LoadedModel(const LoadedModel &) = delete;
  LoadedModel &operator=(const LoadedModel &) = delete;
  ~LoadedModel() { mlc_model_free(model); }
};

struct SessionHandle {
  mlc_session *session = nullptr;
  SessionHandle() = default;
  SessionHandle(const SessionHandle &) = delete;
  SessionHandle &operator=(const SessionHandle &) = delete;
  ~SessionHandle() { mlc_session_free(session); }
};

/// Writes the C header of `mlc compile --header`: the model's inputs and
/// outputs as macros named after `prefixName`.
int writeModelHeader(const mlc_model *model, const std::string &soPath, const std::string &header,
                     const std::string &prefixName);

/// A model's inputs (or, with `outputs`, its outputs) in order.
std::vector<mlc_tensor_info> tensorInfos(const mlc_model *model, bool outputs);

/// `s` as a JSON string literal (quotes, backslashes and control
/// characters escaped).
std::string jsonString(const std::string &s);

/// Loads a compiled model; `infoOnly` reads its description from the file
/// without running its code (falling back to loading for older models).
int loadModel(const std::string &path, LoadedModel &m, bool infoOnly = false);
/// A session on `threads` threads (0: the runtime's default, which honours
/// MLC_NUM_THREADS).
int createSession(const mlc_model *model, int threads, SessionHandle &s);

/// How inputs that are not given are made up: uniform in [lo, hi) for
/// floats and in [lo, hi] for integers, by input name; defaults: floats in
/// [-1, 1), integers in [0, 9], bools 0/1.
struct RandomInputs {
  uint32_t seed = 0;
  std::map<std::string, std::pair<double, double>> ranges;
};

/// `NAME:LO,HI` from --val-range; false (after reporting) on bad syntax.
bool addValueRangeArg(const std::string &v, std::map<std::string, std::pair<double, double>> &out);

/// Reads --input files into tensors in model input order; with randomFill,
/// inputs not given are random (symbolic dims from `shapes`).
int gatherInputs(const mlc_model *model, const std::map<std::string, std::string> &files,
                 const std::map<std::string, std::vector<int64_t>> &shapes, bool randomFill,
                 std::vector<HostTensor> &inputs, const RandomInputs &random = {});

/// One run; on success `outs` holds runtime-allocated outputs (release
/// them with mlc_tensor_release).
int runOnce(mlc_session *session, const mlc_model *model, const std::vector<HostTensor> &inputs,
            std::vector<mlc_tensor> &outs);
/// One run in a fresh session; the outputs come back as host tensors.
int runToHost(const mlc_model *model, int threads, const std::vector<HostTensor> &inputs,
              std::vector<HostTensor> &outputs);

} // namespace mlc::tools

#endif

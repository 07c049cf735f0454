//===- Common.cpp - what the mlc commands share --------------------------===//
#include "tools/mlc/Common.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

namespace mlc::tools {

int userError(const std::string &msg) {
  std::fprintf(stderr, "mlc: error: %s\n", msg.c_str());
  return kUserError;
}

bool wantsHelp(const Args &a) {
  return std::any_of(a.begin(), a.end(),
                     [](const std::string &s) { return s == "--help" || s == "-h"; });
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shapeText(const std::vector<int64_t> &s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i)
    r += (i ? "x" : "") + std::to_string(s[i]);
  return r + "]";
}

static bool parseDims(const std::string &s, std::vector<int64_t> &dims) {
  dims.clear();
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find_first_of("x,", pos);
    if (end == std::string::npos)
      end = s.size();
    std::string item = s.substr(pos, end - pos);
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos)
      return false;
    errno = 0;
    long long v = std::strtoll(item.c_str(), nullptr, 10);
    if (errno == ERANGE)
      return false;
    dims.push_back(v);
    pos = end + 1;
  }
  return !dims.empty();
}

bool flagValue(const Args &a, size_t &i, const char *flag, std::string &out, bool &missing) {
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

bool addInputArg(const std::string &v, std::map<std::string, std::string> &files) {
  size_t eq = v.find('=');
  std::string name = eq == std::string::npos ? "" : v.substr(0, eq);
  if (files.count(name)) {
    userError(name.empty() ? "--input FILE given twice (name inputs with --input NAME=FILE)"
                           : "--input given twice for '" + name + "'");
    return false;
  }
  files[name] = eq == std::string::npos ? v : v.substr(eq + 1);
  return true;
}

bool addShapeArg(const std::string &v, std::map<std::string, std::vector<int64_t>> &shapes) {
  size_t eq = v.find('=');
  std::vector<int64_t> dims;
  if (eq == std::string::npos || !parseDims(v.substr(eq + 1), dims)) {
    userError("--shape takes NAME=DIMS, e.g. input=1x3x224x224 or batch=1");
    return false;
  }
  if (shapes.count(v.substr(0, eq))) {
    userError("--shape given twice for '" + v.substr(0, eq) + "'");
    return false;
  }
  shapes[v.substr(0, eq)] = dims;
  return true;
}

bool parseCount(const std::string &option, const std::string &text, int min, int &out) {
  errno = 0;
  char *end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || errno || *end || v < min || v > INT_MAX ||
      text.find_first_not_of("+-0123456789") != std::string::npos) {
    userError(option + " takes a whole number >= " + std::to_string(min) + ", got '" + text +
              "'");
    return false;
  }
  out = (int)v;
  return true;
}

bool parseReal(const std::string &option, const std::string &text, double &out) {
  errno = 0;
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || errno || *end || std::isnan(v)) {
    userError(option + " takes a number, got '" + text + "'");
    return false;
  }
  out = v;
  return true;
}

int parseRunArgs(const Args &a, const std::vector<std::string> &valueOptions,
                 const std::vector<std::string> &flagOptions, RunArgs &out, const char *help) {
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false, matched = false;
    if (flagValue(a, i, "--input", v, missing) || flagValue(a, i, "-i", v, missing)) {
      if (!missing && !addInputArg(v, out.files))
        return kUserError;
      matched = true;
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!missing && !addShapeArg(v, out.shapes))
        return kUserError;
      matched = true;
    } else if (flagValue(a, i, "--threads", v, missing)) {
      if (out.threads)
        return userError("--threads given twice");
      if (!missing && !parseCount("--threads", v, 1, out.threads))
        return kUserError;
      matched = true;
    }
    for (size_t k = 0; !matched && k < valueOptions.size(); ++k)
      if (flagValue(a, i, ("--" + valueOptions[k]).c_str(), v, missing)) {
        if (out.values.count(valueOptions[k]))
          return userError("--" + valueOptions[k] + " given twice");
        out.values[valueOptions[k]] = v;
        matched = true;
      }
    for (size_t k = 0; !matched && k < flagOptions.size(); ++k)
      if (a[i] == "--" + flagOptions[k]) {
        out.flags.insert(flagOptions[k]);
        matched = true;
      }
    if (matched) {
      if (missing)
        return userError("option '" + a[i] + "' needs a value");
    } else if (!a[i].empty() && a[i][0] == '-') {
      return userError("unknown option '" + a[i] + "'\n" + help);
    } else if (out.model.empty()) {
      out.model = a[i];
    } else {
      return userError("unexpected argument '" + a[i] + "'");
    }
  }
  return kOk;
}

std::vector<mlc_tensor_info> tensorInfos(const mlc_model *model, bool outputs) {
  size_t n = outputs ? mlc_model_num_outputs(model) : mlc_model_num_inputs(model);
  std::vector<mlc_tensor_info> infos(n);
  for (size_t i = 0; i < n; ++i)
    (outputs ? mlc_model_output_info : mlc_model_input_info)(model, i, &infos[i]);
  return infos;
}

std::string jsonString(const std::string &s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      r += '\\';
      r += (char)c;
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      r += buf;
    } else {
      r += (char)c;
    }
  }
  return r + "\"";
}

int loadModel(const std::string &path, LoadedModel &m, bool infoOnly) {
  if (path.empty())
    return userError("no compiled model given");
  if (endsWith(path, ".onnx"))
    return userError("'" + path + "' is an ONNX model; compile it first: mlc compile " + path +
                     " -o model.so");
  mlc_status s = infoOnly ? mlc_model_load_info(path.c_str(), &m.model)
                          : mlc_model_load(path.c_str(), &m.model);
  // A model from an mlc before 0.3 can only describe itself once loaded.
  if (infoOnly && s == MLC_ERROR_ABI)
    s = mlc_model_load(path.c_str(), &m.model);
  if (s != MLC_OK)
    return userError(mlc_last_error());
  return kOk;
}

int createSession(const mlc_model *model, int threads, SessionHandle &s) {
  if (mlc_session_create(model, &s.session) != MLC_OK)
    return userError(mlc_last_error());
  if (threads > 0 && mlc_session_set_num_threads(s.session, threads) != MLC_OK)
    return userError(mlc_last_error());
  return kOk;
}

bool addValueRangeArg(const std::string &v, std::map<std::string, std::pair<double, double>> &out) {
  size_t colon = v.rfind(':'), comma = v.rfind(',');
  double lo = 0, hi = 0;
  if (colon == std::string::npos || comma == std::string::npos || comma < colon || colon == 0 ||
      !parseReal("--val-range", v.substr(colon + 1, comma - colon - 1), lo) ||
      !parseReal("--val-range", v.substr(comma + 1), hi)) {
    if (colon == std::string::npos || comma == std::string::npos || comma < colon || colon == 0)
      userError("--val-range takes NAME:LO,HI (e.g. input_ids:0,30521), got '" + v + "'");
    return false;
  }
  if (!(lo <= hi)) {
    userError("--val-range " + v + ": LO must not be above HI");
    return false;
  }
  std::string name = v.substr(0, colon);
  if (out.count(name)) {
    userError("--val-range given twice for '" + name + "'");
    return false;
  }
  out[name] = {lo, hi};
  return true;
}

namespace {

/// dtypes.def's KIND of `d`.
char kindOf(mlc_dtype d) {
  switch (d) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return KIND;
#include "mlc/dtypes.def"
  default: return 0;
  }
}

/// Fills `t` (dtype and shape set) with values drawn from `rng`.
void fillRandom(HostTensor &t, std::mt19937_64 &rng, const std::pair<double, double> *range) {
  size_t n = t.elements();
  t.data.resize(n * mlc_dtype_size(t.dtype));
  char kind = kindOf(t.dtype);
  auto store = [&](size_t e, auto v) { std::memcpy(t.data.data() + e * sizeof(v), &v, sizeof(v)); };
  if (kind == 'f' || t.dtype == MLC_DTYPE_BF16) {
    std::uniform_real_distribution<double> u(range ? range->first : -1.0,
                                             range ? range->second : 1.0);
    for (size_t e = 0; e < n; ++e) {
      double v = range && range->first == range->second ? range->first : u(rng);
      if (t.dtype == MLC_DTYPE_F32)
        store(e, float(v));
      else if (t.dtype == MLC_DTYPE_F64)
        store(e, v);
      else if (t.dtype == MLC_DTYPE_BF16)
        store(e, floatToBf16(float(v)));
      else
        store(e, _Float16(v));
    }
    return;
  }
  // A narrow type draws 0 or 1, valid in each of them.
  int64_t lo = 0, hi = kind == 'b' || kind == 'V' ? 1 : 9;
  if (range) {
    lo = int64_t(std::ceil(range->first));
    hi = int64_t(std::floor(range->second));
  }
  if (hi < lo)
    hi = lo;
  std::uniform_int_distribution<int64_t> u(lo, hi);
  for (size_t e = 0; e < n; ++e) {
    int64_t v = u(rng);
    switch (mlc_dtype_size(t.dtype)) {
    case 8: store(e, int64_t(v)); break;
    case 4: store(e, int32_t(v)); break;
    case 2: store(e, int16_t(v)); break;
    default: store(e, kind == 'b' ? uint8_t(v != 0) : uint8_t(v)); break;
    }
  }
}

} // namespace

int gatherInputs(const mlc_model *model, const std::map<std::string, std::string> &files,
                 const std::map<std::string, std::vector<int64_t>> &shapes, bool randomFill,
                 std::vector<HostTensor> &inputs, const RandomInputs &random) {
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
  std::mt19937_64 rng(random.seed);
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
      // A .npy file cannot say which narrow type its bytes hold (a .pb
      // can); a bfloat16 input also takes its bits as uint16 (NumPy has no
      // bfloat16 of its own; ONNX 1.12's test data stores it so).
      if ((t.narrowUnknown || (t.dtype == MLC_DTYPE_U16 && info.dtype == MLC_DTYPE_BF16)) &&
          kindOf(info.dtype) == 'V' && mlc_dtype_size(t.dtype) == mlc_dtype_size(info.dtype))
        t.dtype = info.dtype;
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
      auto r = random.ranges.find(info.name);
      fillRandom(t, rng, r == random.ranges.end() ? nullptr : &r->second);
    } else {
      return userError(std::string("missing input '") + info.name + "' (give it with --input " +
                       info.name + "=FILE.npy)");
    }
    inputs.push_back(std::move(t));
  }
  for (const auto &[name, _] : byName)
    if (std::find(known.begin(), known.end(), name) == known.end())
      return userError("the model has no input named '" + name + "'");
  for (const auto &[name, _] : random.ranges)
    if (std::find(known.begin(), known.end(), name) == known.end())
      return userError("--val-range names '" + name + "', which is not an input of the model");
  return kOk;
}

int runOnce(mlc_session *session, const mlc_model *model, const std::vector<HostTensor> &inputs,
            std::vector<mlc_tensor> &outs) {
  std::vector<mlc_tensor> in;
  for (const HostTensor &t : inputs)
    in.push_back(t.view());
  outs.assign(mlc_model_num_outputs(model), mlc_tensor{});
  mlc_status s = mlc_session_run(session, in.data(), in.size(), outs.data(), outs.size());
  if (s != MLC_OK) {
    for (auto &o : outs)
      mlc_tensor_release(&o);
    // Bad inputs, and inputs whose run needs more memory than there is
    // (a dim too large for this machine), are the user's to change.
    if (s == MLC_ERROR_INVALID_ARGUMENT || s == MLC_ERROR_OUT_OF_MEMORY)
      return userError(mlc_last_error());
    std::fprintf(stderr, "mlc: error: %s\n", mlc_last_error());
    return kInternalError;
  }
  return kOk;
}

int runToHost(const mlc_model *model, int threads, const std::vector<HostTensor> &inputs,
              std::vector<HostTensor> &outputs) {
  SessionHandle session;
  if (int rc = createSession(model, threads, session))
    return rc;
  std::vector<mlc_tensor> outs;
  if (int rc = runOnce(session.session, model, inputs, outs))
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

} // namespace mlc::tools

//===- Compile.cpp - mlc compile -----------------------------------------===//
#include "compiler/driver/Pipeline.h"
#include "tools/mlc/Common.h"

#include "compiler/driver/Cache.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <sstream>

namespace mlc::tools {

static const char *kCompileHelp =
    "usage: mlc compile MODEL.onnx -o OUTPUT [options]\n"
    "\n"
    "  -o FILE             output file (model.so by default: MODEL with .so)\n"
    "  --target T          code generation target: cpu (default), or cuda[:sm_XX]\n"
    "                      (NVIDIA GPUs; default sm_90: cubin for it plus PTX\n"
    "                      that newer GPUs compile at load; needs the CUDA\n"
    "                      toolkit to compile, only the driver to run)\n"
    "  --cpu NAME          CPU to generate code for (default: this machine's),\n"
    "                      e.g. x86-64-v2, x86-64-v3, skylake-avx512, znver4\n"
    "  --emit KIND         so (default) | mlir (mlc dialect) | linalg (after\n"
    "                      fusion/tiling decisions) | llvm | asm | obj\n"
    "  --elide-constants N with --emit mlir|linalg: print constants of more\n"
    "                      than N elements as dense_resource placeholders\n"
    "  -O0 .. -O3          optimisation level (default: -O3)\n"
    "  --shape NAME=DIMS   fix an input's shape (NAME=1x3x224x224) or one\n"
    "                      symbolic dim (batch=1); repeatable\n"
    "  --header FILE       also write a C header describing the model (names,\n"
    "                      dtypes, dims, arena size, the library's path)\n"
    "  --header-prefix ID  prefix of the header's macros (default: the output's\n"
    "                      file name)\n"
    "  -j, --jobs N        compiler threads (default: every core; the output\n"
    "                      does not depend on it)\n"
    "  -v, --verbose       print each compiler stage and its time to stderr\n"
    "  -q, --quiet         print nothing but errors (on a terminal, compile\n"
    "                      shows the running stage, then what it wrote)\n"
    "  --no-cache          compile even when the cache has this model\n"
    "                      (cache: $MLC_CACHE_DIR, default ~/.cache/mlc; 'off'\n"
    "                      turns it off; $MLC_CACHE_MAX_MB bounds it, 2048)\n"
    "  --batch LIST        compile many models in this one process: LIST has one\n"
    "                      'MODEL.onnx OUTPUT' pair per line; prints one line per\n"
    "                      model ('ok', 'error' or 'internal', the model, the\n"
    "                      message); exit 0 when every model was attempted\n";

// One line per model of a --batch list, flushed as it is written so that a
// driver reading the output knows which model a crash happened in ("begin").
static int compileBatch(const CompileOptions &base, const std::string &list) {
  std::ifstream in(list);
  if (!in)
    return userError("cannot read batch list '" + list + "'");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    CompileOptions o = base;
    if (!(ls >> o.input >> o.output))
      continue;
    std::printf("begin %s\n", o.input.c_str());
    std::fflush(stdout);
    absl::Status s = compileModel(o);
    std::string msg(s.message());
    for (char &c : msg)
      if (c == '\n')
        c = ' ';
    const char *kind = s.ok() ? "ok" : s.code() == absl::StatusCode::kInternal ? "internal" : "error";
    std::printf("%s %s %s\n", kind, o.input.c_str(), msg.c_str());
    std::fflush(stdout);
  }
  return kOk;
}

int cmdCompile(const Args &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kCompileHelp);
    return kOk;
  }
  CompileOptions o;
  std::string emit = "so", batch, header, headerPrefix;
  bool quiet = false, noCache = false;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string v;
    bool missing = false;
    if (flagValue(a, i, "-o", v, missing) || flagValue(a, i, "--output", v, missing)) {
      o.output = v;
    } else if (flagValue(a, i, "--target", v, missing)) {
      o.target = v;
    } else if (flagValue(a, i, "--cpu", v, missing)) {
      o.cpu = v;
    } else if (flagValue(a, i, "--batch", v, missing)) {
      batch = v;
    } else if (flagValue(a, i, "--emit", v, missing)) {
      emit = v;
    } else if (flagValue(a, i, "--shape", v, missing)) {
      if (!missing && !addShapeArg(v, o.shapes))
        return kUserError;
    } else if (flagValue(a, i, "-j", v, missing) || flagValue(a, i, "--jobs", v, missing)) {
      int jobs = 0;
      if (!missing && !parseCount("--jobs", v, 1, jobs))
        return kUserError;
      o.jobs = unsigned(jobs);
    } else if (flagValue(a, i, "--elide-constants", v, missing)) {
      int n = 0;
      if (!missing && !parseCount("--elide-constants", v, 1, n))
        return kUserError;
      o.elideConstants = n;
    } else if (flagValue(a, i, "--header", v, missing)) {
      header = v;
    } else if (flagValue(a, i, "--header-prefix", v, missing)) {
      headerPrefix = v;
    } else if (a[i] == "-v" || a[i] == "--verbose") {
      o.verbose = true;
    } else if (a[i] == "-q" || a[i] == "--quiet") {
      quiet = true;
    } else if (a[i] == "--no-cache") {
      noCache = true;
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
  static const std::map<std::string, EmitKind> kinds = {
      {"so", EmitKind::SharedLibrary}, {"mlir", EmitKind::Mlir},
      {"linalg", EmitKind::Linalg},    {"llvm", EmitKind::LLVM},
      {"asm", EmitKind::Asm},          {"obj", EmitKind::Object}};
  auto k = kinds.find(emit);
  if (k == kinds.end())
    return userError("--emit takes so, mlir, linalg, llvm, asm or obj");
  o.emit = k->second;
  if (o.elideConstants && o.emit != EmitKind::Mlir && o.emit != EmitKind::Linalg)
    return userError("--elide-constants goes with --emit mlir or --emit linalg");
  if (!header.empty() && o.emit != EmitKind::SharedLibrary)
    return userError("--header goes with --emit so");
  if (!headerPrefix.empty() && header.empty())
    return userError("--header-prefix goes with --header");
  if (quiet && o.verbose)
    return userError("--quiet and --verbose contradict each other");
  if (!noCache)
    o.cacheDir = defaultCacheDir();
  if (!batch.empty()) {
    if (!o.input.empty() || !o.output.empty() || !header.empty())
      return userError("--batch takes its models and outputs from the list, not the command line");
    return compileBatch(o, batch);
  }
  if (o.input.empty())
    return userError("no model given (usage: mlc compile MODEL.onnx -o MODEL.so)");
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
  bool toFile = o.output != "-";
  o.progress = !quiet && toFile && isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  CompileReport report;
  absl::Status s = compileModel(o, &report);
  if (!s.ok()) {
    bool internal = s.code() == absl::StatusCode::kInternal;
    std::fprintf(stderr, "mlc: %s: %s\n", internal ? "internal error" : "error",
                 std::string(s.message()).c_str());
    if (internal)
      std::fprintf(stderr, "mlc: this is a bug in mlc; please report it with the model\n");
    return internal ? kInternalError : kUserError;
  }
  if (!header.empty()) {
    LoadedModel m;
    if (int rc = loadModel(o.output, m, /*infoOnly=*/true))
      return rc;
    std::string prefix = headerPrefix;
    if (prefix.empty()) {
      prefix = o.output.substr(o.output.find_last_of('/') + 1);
      prefix = prefix.substr(0, prefix.find('.'));
    }
    std::string so = o.output;
    if (char *abs = realpath(o.output.c_str(), nullptr)) {
      so = abs;
      std::free(abs);
    }
    if (int rc = writeModelHeader(m.model, so, header, prefix))
      return rc;
  }
  if (!quiet && toFile) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    struct stat st {};
    stat(o.output.c_str(), &st);
    std::fprintf(stderr, "mlc: wrote %s (%.1f KB) in %.2f s%s\n", o.output.c_str(),
                 st.st_size / 1024.0, secs, report.cacheHit ? " (from the cache)" : "");
    if (!header.empty())
      std::fprintf(stderr, "mlc: wrote %s\n", header.c_str());
  }
  return kOk;
}

} // namespace mlc::tools

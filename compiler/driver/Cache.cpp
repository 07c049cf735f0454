//===- Cache.cpp - the compile cache --------------------------------------===//
#include "compiler/driver/Cache.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/xxhash.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <vector>

using namespace llvm;

namespace mlc {
namespace {

constexpr const char *kKeyVersion = "mlc-cache-1";

std::string hex128(XXH128_hash_t h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)h.high64,
                (unsigned long long)h.low64);
  return buf;
}

XXH128_hash_t hashBytes(StringRef s) {
  return xxh3_128bits(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(s.data()), s.size()));
}

/// The compiler build: its version is not enough while developing, so the
/// executable's size and modification time are part of the key.
std::string compilerIdentity() {
  std::string exe = sys::fs::getMainExecutable(nullptr, nullptr);
  sys::fs::file_status st;
  if (exe.empty() || sys::fs::status(exe, st))
    return "unknown";
  return exe + ":" + std::to_string(st.getSize()) + ":" +
         std::to_string(st.getLastModificationTime().time_since_epoch().count());
}

void externalFiles(const onnx::GraphProto &g, std::set<std::string> &out);

void externalFiles(const onnx::TensorProto &t, std::set<std::string> &out) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL)
    return;
  for (const auto &e : t.external_data())
    if (e.key() == "location")
      out.insert(e.value());
}

void externalFiles(const onnx::GraphProto &g, std::set<std::string> &out) {
  for (const auto &t : g.initializer())
    externalFiles(t, out);
  for (const auto &n : g.node())
    for (const auto &a : n.attribute()) {
      if (a.has_t())
        externalFiles(a.t(), out);
      if (a.has_g())
        externalFiles(a.g(), out);
      for (const auto &sub : a.graphs())
        externalFiles(sub, out);
    }
}

} // namespace

std::string defaultCacheDir() {
  if (const char *d = std::getenv("MLC_CACHE_DIR")) {
    std::string s = d;
    return s == "off" ? std::string() : s;
  }
  SmallString<256> dir;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = x;
  else if (!sys::path::cache_directory(dir))
    return "";
  sys::path::append(dir, "mlc");
  return std::string(dir);
}

std::optional<std::string> cacheKey(const std::string &modelPath, const std::string &settings) {
  auto buf = MemoryBuffer::getFile(modelPath, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf)
    return std::nullopt;
  std::string material = std::string(kKeyVersion) + "\n" + compilerIdentity() + "\n" + settings +
                         "\nmodel " + hex128(hashBytes((*buf)->getBuffer())) + "\n";
  // External data: every file the model names, by its name and content.
  onnx::ModelProto model;
  if ((*buf)->getBufferSize() < (size_t(1) << 31) &&
      model.ParseFromArray((*buf)->getBufferStart(), int((*buf)->getBufferSize()))) {
    std::set<std::string> files;
    externalFiles(model.graph(), files);
    StringRef dir = sys::path::parent_path(modelPath);
    for (const std::string &f : files) {
      SmallString<256> p(dir);
      sys::path::append(p, f);
      auto data = MemoryBuffer::getFile(p, false, false);
      if (!data)
        return std::nullopt;
      material += "data " + f + " " + hex128(hashBytes((*data)->getBuffer())) + "\n";
    }
  }
  return hex128(hashBytes(material));
}

static std::string entryPath(const std::string &dir, const std::string &key) {
  SmallString<256> p(dir);
  sys::path::append(p, key + ".so");
  return std::string(p);
}

/// Copies `from` to `to` through a temporary file in `to`'s folder, so that
/// a reader never sees half a file.
static bool copyAtomically(const std::string &from, const std::string &to) {
  SmallString<256> tmp;
  std::string model = to + ".tmp-%%%%%%";
  if (sys::fs::createUniqueFile(model, tmp))
    return false;
  if (sys::fs::copy_file(from, tmp) || sys::fs::rename(tmp, to)) {
    sys::fs::remove(tmp);
    return false;
  }
  return true;
}

bool cacheFetch(const std::string &dir, const std::string &key, const std::string &output) {
  std::string entry = entryPath(dir, key);
  if (!sys::fs::is_regular_file(entry) || !copyAtomically(entry, output))
    return false;
  // Touch the entry: eviction removes the least recently used first.
  if (auto fd = sys::fs::openNativeFileForWrite(entry, sys::fs::CD_OpenExisting, sys::fs::OF_Append)) {
    sys::fs::setLastAccessAndModificationTime(*fd, sys::TimePoint<>(std::chrono::system_clock::now()));
    sys::fs::closeFile(*fd);
  }
  return true;
}

void cacheStore(const std::string &dir, const std::string &key, const std::string &output) {
  if (sys::fs::create_directories(dir) || !copyAtomically(output, entryPath(dir, key)))
    return;
  uint64_t limitMB = 2048;
  if (const char *m = std::getenv("MLC_CACHE_MAX_MB")) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(m, m + std::strlen(m), v);
    if (ec == std::errc() && *end == 0)
      limitMB = v;
  }
  struct Entry {
    std::string path;
    uint64_t size;
    sys::TimePoint<> used;
  };
  std::vector<Entry> entries;
  uint64_t total = 0;
  std::error_code ec;
  for (sys::fs::directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
    if (sys::path::extension(it->path()) != ".so")
      continue;
    sys::fs::file_status st;
    if (sys::fs::status(it->path(), st) || st.type() != sys::fs::file_type::regular_file)
      continue;
    entries.push_back({it->path(), st.getSize(), st.getLastModificationTime()});
    total += st.getSize();
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry &a, const Entry &b) { return a.used < b.used; });
  for (const Entry &e : entries) {
    if (total <= limitMB * 1024 * 1024)
      break;
    if (!sys::fs::remove(e.path))
      total -= e.size;
  }
}

} // namespace mlc

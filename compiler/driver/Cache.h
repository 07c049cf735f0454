//===- Cache.h - the compile cache -------------------------------*- C++ -*-===//
//
// Compiled libraries keyed by what determines them: the model's bytes (and
// its external data files), the options, the resolved target and the
// compiler build. A hit copies the cached library to the output.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_COMPILER_DRIVER_CACHE_H
#define MLC_COMPILER_DRIVER_CACHE_H

#include <cstdint>
#include <optional>
#include <string>

namespace mlc {

/// The cache folder a compile uses by default: $MLC_CACHE_DIR when set
/// ("" or "off" turns the cache off), else $XDG_CACHE_HOME/mlc, else
/// ~/.cache/mlc. Empty when there is none.
std::string defaultCacheDir();

/// The key of a compile, or nullopt when the model cannot be hashed (a
/// missing file: the compile itself reports it). `settings` is every option
/// and target fact that shapes the output.
std::optional<std::string> cacheKey(const std::string &modelPath, const std::string &settings);

/// Copies the cached library for `key` to `output`; false on a miss.
bool cacheFetch(const std::string &dir, const std::string &key, const std::string &output);
/// Stores `output` under `key` (best effort: a cache that cannot be written
/// is skipped), then trims the folder to $MLC_CACHE_MAX_MB (default 2048)
/// by removing the least recently used entries.
void cacheStore(const std::string &dir, const std::string &key, const std::string &output);

} // namespace mlc

#endif

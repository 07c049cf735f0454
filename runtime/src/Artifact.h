//===- Artifact.h - a model .so checked before it is loaded ------*- C++ -*-===//
//
// The runtime never hands a file to dlopen, nor reads a table out of one,
// before it has checked it here: a regular file, a complete ELF shared
// object for this machine, its integrity trailer (mlc/artifact.h) when it
// has one. The model table is then read through a TableView that bounds
// every access by the image's segments, from the file (nothing of the model
// runs) or from the loaded library.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_RUNTIME_ARTIFACT_H
#define MLC_RUNTIME_ARTIFACT_H

#include "mlc/runtime.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mlc::runtime {

struct ModelTable;

/// One loadable segment of the image.
struct Segment {
  uint64_t vaddr, memSize, fileOffset, fileSize;
  bool executable;
};

class ArtifactFile {
public:
  ArtifactFile() = default;
  ArtifactFile(const ArtifactFile &) = delete;
  ArtifactFile &operator=(const ArtifactFile &) = delete;
  ~ArtifactFile();

  /// Maps and checks `path`; on failure sets the error and returns it.
  mlc_status open(const std::string &path);
  /// Checks `size` bytes of a file already in memory, which must outlive
  /// this object (for the fuzzer); `who` names it in messages.
  mlc_status openBytes(const char *data, uint64_t size, const std::string &who);

  /// The value of a dynamic symbol defined by the image; false if absent.
  bool symbol(const char *name, uint64_t &vaddr) const;
  /// Whether the file ended in mlc's integrity trailer (mlc 0.3 and later).
  bool hasTrailer() const { return trailer_; }

  const std::vector<Segment> &segments() const { return segments_; }
  /// Bytes of the file that hold [vaddr, vaddr + n) of the image; null when
  /// that range is not entirely file-backed in one segment.
  const char *fileBytes(uint64_t vaddr, uint64_t n) const;
  /// The target of the pointer stored at `vaddr` as the dynamic loader would
  /// set it (relative relocations applied), as an image address; 0 for null.
  bool filePointer(uint64_t vaddr, uint64_t &target) const;

private:
  mlc_status check(const std::string &who);

  const char *data_ = nullptr; // the whole file, mapped read-only
  uint64_t mapSize_ = 0;
  bool mapped_ = false; // data_ is our mapping
  uint64_t size_ = 0; // the ELF image (without the trailer)
  bool trailer_ = false;
  std::vector<Segment> segments_;
  const char *dynsym_ = nullptr, *dynstr_ = nullptr;
  uint64_t numSyms_ = 0, dynstrSize_ = 0;
  std::unordered_map<uint64_t, uint64_t> relative_; // where -> addend
};

/// Reads the model table at image address `tableVaddr` (ABI `version`)
/// through either the file (base == nullptr: nothing runs) or the library
/// loaded at `base`, checking every count, pointer and string against the
/// image. Strings and dims in `t` point into the file mapping or the loaded
/// library, which must outlive it.
mlc_status readModelTable(const ArtifactFile &file, const char *base, uint64_t tableVaddr,
                          uint32_t version, const std::string &who, ModelTable &t);

} // namespace mlc::runtime

#endif

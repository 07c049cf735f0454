//===- Artifact.cpp - a model .so checked before it is loaded -------------===//
#include "Artifact.h"
#include "Internal.h"
#include "mlc/artifact.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

using namespace mlc::runtime;

/// A dtype number the table defines (checked as a number: an unknown value
/// must not become an mlc_dtype).
static bool knownDtype(int32_t v) {
  switch (v) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case VALUE:                                                                                    \
    return true;
#include "mlc/dtypes.def"
  default: return false;
  }
}

namespace {

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
constexpr uint32_t kRelative = R_X86_64_RELATIVE;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
constexpr uint32_t kRelative = R_AARCH64_RELATIVE;
#else
#error "the mlc runtime knows the ELF machine of x86-64 and AArch64 only"
#endif

/// a + b <= limit, without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

/// n * size, or false on overflow.
bool product(uint64_t n, uint64_t size, uint64_t &out) {
  return !__builtin_mul_overflow(n, size, &out);
}

template <typename T> T read(const char *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

} // namespace

ArtifactFile::~ArtifactFile() {
  if (mapped_)
    munmap(const_cast<char *>(data_), mapSize_);
}

mlc_status ArtifactFile::open(const std::string &path) {
  std::string who = "'" + path + "'";
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": not a regular file");
  }
  if (st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
    ::close(fd);
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": the file is " +
                                        std::to_string(st.st_size) +
                                        " bytes, too short for a shared library");
  }
  mapSize_ = (uint64_t)st.st_size;
  void *p = mmap(nullptr, mapSize_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    mapSize_ = 0;
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": " + std::strerror(errno));
  }
  data_ = static_cast<const char *>(p);
  mapped_ = true;
  return check(who);
}

mlc_status ArtifactFile::openBytes(const char *data, uint64_t size, const std::string &who) {
  if (size < sizeof(Elf64_Ehdr))
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": the file is " +
                                        std::to_string(size) +
                                        " bytes, too short for a shared library");
  data_ = data;
  mapSize_ = size;
  return check(who);
}

mlc_status ArtifactFile::check(const std::string &who) {
  auto bad = [&](const std::string &what) {
    return setError(MLC_ERROR_LOAD, "cannot load " + who + ": " + what);
  };
  auto damaged = [&](const std::string &what) {
    return bad("the file is truncated or damaged (" + what + ")");
  };

  // The trailer first: it catches any damage, wherever it is.
  size_ = mapSize_;
  if (mapSize_ >= MLC_ARTIFACT_TRAILER_SIZE &&
      std::memcmp(data_ + mapSize_ - MLC_ARTIFACT_TRAILER_SIZE, MLC_ARTIFACT_MAGIC, 8) == 0) {
    const char *t = data_ + mapSize_ - MLC_ARTIFACT_TRAILER_SIZE;
    uint64_t length = read<uint64_t>(t + 8), sum = read<uint64_t>(t + 16);
    if (length != mapSize_ - MLC_ARTIFACT_TRAILER_SIZE)
      return damaged("its trailer records " + std::to_string(length) + " bytes, the file has " +
                     std::to_string(mapSize_ - MLC_ARTIFACT_TRAILER_SIZE));
    if (mapped_)
      madvise(const_cast<char *>(data_), mapSize_, MADV_SEQUENTIAL);
    if (mlc_artifact_checksum(data_, length) != sum)
      return damaged("checksum mismatch");
    size_ = length;
    trailer_ = true;
  }

  Elf64_Ehdr eh = read<Elf64_Ehdr>(data_);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
    return bad("not a shared library (no ELF header)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return bad("not a 64-bit little-endian ELF file");
  if (eh.e_type != ET_DYN)
    return bad("an ELF file but not a shared library");
  if (eh.e_machine != kMachine)
    return bad("built for another machine (ELF machine " + std::to_string(eh.e_machine) +
               ", this runtime's is " + std::to_string(kMachine) + ")");

  // Program headers: every loadable segment within the file.
  uint64_t bytes = 0;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
      !product(eh.e_phnum, sizeof(Elf64_Phdr), bytes) || !fits(eh.e_phoff, bytes, size_))
    return damaged("program headers outside the file");
  for (uint16_t i = 0; i < eh.e_phnum; ++i) {
    auto ph = read<Elf64_Phdr>(data_ + eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type != PT_LOAD && ph.p_type != PT_DYNAMIC)
      continue;
    if (!fits(ph.p_offset, ph.p_filesz, size_) || ph.p_filesz > ph.p_memsz ||
        !fits(ph.p_vaddr, ph.p_memsz, UINT64_MAX))
      return damaged("segment " + std::to_string(i) + " extends past the end of the file");
    if (ph.p_type == PT_LOAD)
      segments_.push_back(
          {ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, (ph.p_flags & PF_X) != 0});
  }
  if (segments_.empty())
    return damaged("no loadable segment");

  // Section headers: within the file, and the dynamic symbols and relative
  // relocations the table reader needs.
  if (eh.e_shnum == 0)
    return bad("no section headers (mlc models always have them)");
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || !product(eh.e_shnum, sizeof(Elf64_Shdr), bytes) ||
      !fits(eh.e_shoff, bytes, size_) || eh.e_shstrndx >= eh.e_shnum)
    return damaged("section headers outside the file");
  auto section = [&](uint32_t i) {
    return read<Elf64_Shdr>(data_ + eh.e_shoff + i * sizeof(Elf64_Shdr));
  };
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh = section(i);
    if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
        !fits(sh.sh_offset, sh.sh_size, size_))
      return damaged("section " + std::to_string(i) + " extends past the end of the file");
    if (sh.sh_type == SHT_DYNSYM) {
      if (sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh.e_shnum)
        return damaged("bad dynamic symbol table");
      Elf64_Shdr str = section(sh.sh_link);
      if (str.sh_type != SHT_STRTAB || !fits(str.sh_offset, str.sh_size, size_))
        return damaged("bad dynamic string table");
      dynsym_ = data_ + sh.sh_offset;
      numSyms_ = sh.sh_size / sizeof(Elf64_Sym);
      dynstr_ = data_ + str.sh_offset;
      dynstrSize_ = str.sh_size;
    } else if (sh.sh_type == SHT_RELA) {
      if (sh.sh_entsize != sizeof(Elf64_Rela))
        return damaged("bad relocation section");
      for (uint64_t r = 0; r < sh.sh_size / sizeof(Elf64_Rela); ++r) {
        auto rel = read<Elf64_Rela>(data_ + sh.sh_offset + r * sizeof(Elf64_Rela));
        if (ELF64_R_TYPE(rel.r_info) == kRelative)
          relative_[rel.r_offset] = (uint64_t)rel.r_addend;
      }
    }
  }
  return MLC_OK;
}

bool ArtifactFile::symbol(const char *name, uint64_t &vaddr) const {
  size_t len = std::strlen(name);
  for (uint64_t i = 1; i < numSyms_; ++i) {
    auto sym = read<Elf64_Sym>(dynsym_ + i * sizeof(Elf64_Sym));
    if (sym.st_shndx == SHN_UNDEF || !fits(sym.st_name, len + 1, dynstrSize_))
      continue;
    if (std::memcmp(dynstr_ + sym.st_name, name, len + 1) == 0) {
      vaddr = sym.st_value;
      return true;
    }
  }
  return false;
}

const char *ArtifactFile::fileBytes(uint64_t vaddr, uint64_t n) const {
  for (const Segment &s : segments_)
    if (vaddr >= s.vaddr && fits(vaddr - s.vaddr, n, s.fileSize))
      return data_ + s.fileOffset + (vaddr - s.vaddr);
  return nullptr;
}

bool ArtifactFile::filePointer(uint64_t vaddr, uint64_t &target) const {
  auto it = relative_.find(vaddr);
  if (it != relative_.end()) {
    target = it->second;
    return true;
  }
  const char *p = fileBytes(vaddr, 8);
  if (!p)
    return false;
  target = read<uint64_t>(p); // no relocation: null, or an address the linker resolved
  return true;
}

//===----------------------------------------------------------------------===//
// The model table
//===----------------------------------------------------------------------===//

namespace {

/// Reads the image through the file or through the loaded library, every
/// access bounded by a segment.
struct ImageView {
  const ArtifactFile &file;
  const char *base; // null: the file

  /// Where image address `va` is in this process, and how many bytes of its
  /// segment follow it; null when it is in none.
  const char *span(uint64_t va, uint64_t &avail) const {
    for (const Segment &s : file.segments()) {
      uint64_t size = base ? s.memSize : s.fileSize;
      if (va >= s.vaddr && va - s.vaddr < size) {
        avail = size - (va - s.vaddr);
        return base ? base + va : file.fileBytes(va, avail);
      }
    }
    return nullptr;
  }
  const char *bytes(uint64_t va, uint64_t n) const {
    uint64_t avail = 0;
    const char *p = span(va, avail);
    return p && n <= avail ? p : nullptr;
  }
  bool pointer(uint64_t va, uint64_t &target) const {
    if (!base)
      return file.filePointer(va, target);
    const char *p = bytes(va, 8);
    if (!p)
      return false;
    uint64_t raw = read<uint64_t>(p), b = (uint64_t)(uintptr_t)base;
    if (raw && raw < b)
      return false;
    target = raw ? raw - b : 0;
    return true;
  }
  /// The NUL-terminated string the pointer at `va` points to ("" for null).
  bool string(uint64_t va, const char *&out) const {
    uint64_t target = 0, avail = 0;
    if (!pointer(va, target))
      return false;
    if (!target) {
      out = "";
      return true;
    }
    const char *p = span(target, avail);
    if (!p || !std::memchr(p, 0, avail))
      return false;
    out = p;
    return true;
  }
  bool executable(uint64_t va) const {
    for (const Segment &s : file.segments())
      if (s.executable && va >= s.vaddr && va - s.vaddr < s.memSize)
        return true;
    return false;
  }
};

constexpr uint32_t kMaxTensors = 1u << 16, kMaxKernels = 1u << 24;

static_assert(offsetof(mlc_abi_model_v1, compiler_version) ==
                      offsetof(mlc_abi_model_v2, compiler_version) &&
                  offsetof(mlc_abi_model_v1, run) == offsetof(mlc_abi_model_v2, run) &&
                  offsetof(mlc_abi_model_v1, inputs) == offsetof(mlc_abi_model_v2, inputs),
              "v1 and v2 tables share their leading fields");

} // namespace

mlc_status mlc::runtime::readModelTable(const ArtifactFile &file, const char *base,
                                        uint64_t tableVa, uint32_t version,
                                        const std::string &who, ModelTable &t) {
  using V2 = mlc_abi_model_v2;
  ImageView v{file, base};
  auto malformed = [&](const std::string &what) {
    return setError(MLC_ERROR_LOAD, who + " has a malformed model table (" + what + ")");
  };
  const char *p = v.bytes(tableVa, version == 2 ? sizeof(V2) : sizeof(mlc_abi_model_v1));
  if (!p)
    return malformed("it lies outside the library");
  t.abiVersion = read<uint32_t>(p + offsetof(V2, abi_version));
  if (t.abiVersion != version)
    return setError(MLC_ERROR_ABI,
                    who + " exports " + (version == 2 ? MLC_ABI_ENTRY : MLC_ABI_ENTRY_V1) +
                        " but its table says ABI version " + std::to_string(t.abiVersion) +
                        "; the library is damaged or was not built by mlc");
  uint32_t numIn = read<uint32_t>(p + offsetof(V2, num_inputs));
  uint32_t numOut = read<uint32_t>(p + offsetof(V2, num_outputs));
  uint32_t numKernels = version == 2 ? read<uint32_t>(p + offsetof(V2, num_kernels)) : 0;
  if (numIn > kMaxTensors || numOut > kMaxTensors || numKernels > kMaxKernels)
    return malformed("implausible counts: " + std::to_string(numIn) + " inputs, " +
                     std::to_string(numOut) + " outputs, " + std::to_string(numKernels) +
                     " kernels");
  t.arenaSize = read<uint64_t>(p + offsetof(V2, arena_size));
  t.arenaAlignment = read<uint64_t>(p + offsetof(V2, arena_alignment));
  auto field = [&](size_t offset) { return tableVa + offset; };
  if (!v.string(field(offsetof(V2, compiler_version)), t.compilerVersion) ||
      !v.string(field(offsetof(V2, compile_options)), t.compileOptions) ||
      !v.string(field(offsetof(V2, target)), t.target) ||
      !v.string(field(offsetof(V2, cpu_name)), t.cpuName) ||
      !v.string(field(offsetof(V2, cpu_features)), t.cpuFeatures))
    return malformed("a metadata string outside the library");

  auto tensors = [&](size_t offset, uint32_t n, std::vector<mlc_abi_tensor_v1> &out,
                     const char *what) -> mlc_status {
    using T = mlc_abi_tensor_v1;
    uint64_t list = 0;
    if (!v.pointer(field(offset), list) || (n && (!list || !v.bytes(list, uint64_t(n) * sizeof(T)))))
      return malformed(std::string("the ") + what + " list lies outside the library");
    out.resize(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t at = list + uint64_t(i) * sizeof(T);
      const char *q = v.bytes(at, sizeof(T));
      T &x = out[i];
      x.dtype = read<int32_t>(q + offsetof(T, dtype));
      x.rank = read<int32_t>(q + offsetof(T, rank));
      std::string which = std::string(what) + " " + std::to_string(i);
      if (!v.string(at + offsetof(T, name), x.name))
        return malformed(which + ": name outside the library");
      if (x.rank < 0 || x.rank > MLC_MAX_RANK)
        return malformed(which + ": rank " + std::to_string(x.rank));
      if (!knownDtype(x.dtype))
        return malformed(which + ": unknown dtype " + std::to_string(x.dtype));
      uint64_t dims = 0, names = 0;
      if (!v.pointer(at + offsetof(T, dims), dims) || !v.pointer(at + offsetof(T, dim_names), names))
        return malformed(which + ": dims outside the library");
      x.dims = nullptr;
      if (x.rank) {
        const char *d = dims ? v.bytes(dims, uint64_t(x.rank) * 8) : nullptr;
        if (!d || (uintptr_t)d % alignof(int64_t))
          return malformed(which + ": dims outside the library");
        x.dims = reinterpret_cast<const int64_t *>(d);
      }
      std::vector<const char *> dimNames(MLC_MAX_RANK, "");
      for (int32_t r = 0; names && r < x.rank; ++r)
        if (!v.string(names + uint64_t(r) * 8, dimNames[r]))
          return malformed(which + ": dim name outside the library");
      t.dimNames.push_back(std::move(dimNames));
      x.dim_names = t.dimNames.back().data();
    }
    return MLC_OK;
  };
  if (mlc_status s = tensors(offsetof(V2, inputs), numIn, t.inputs, "input"))
    return s;
  if (mlc_status s = tensors(offsetof(V2, outputs), numOut, t.outputs, "output"))
    return s;

  uint64_t run = 0;
  if (!v.pointer(field(offsetof(V2, run)), run) || !run || !v.executable(run))
    return malformed("no run function in the library's code");
  if (base) {
    if (version == 2)
      t.runV2 = reinterpret_cast<mlc_abi_run_fn_v2>(const_cast<char *>(base + run));
    else
      t.runV1 = reinterpret_cast<mlc_abi_run_fn>(const_cast<char *>(base + run));
  }

  uint64_t kernels = 0;
  using K = mlc_abi_kernel_v2;
  if (numKernels && (!v.pointer(field(offsetof(V2, kernels)), kernels) || !kernels ||
                     !v.bytes(kernels, uint64_t(numKernels) * sizeof(K))))
    return malformed("the kernel list lies outside the library");
  t.kernels.resize(numKernels);
  for (uint32_t i = 0; i < numKernels; ++i) {
    uint64_t at = kernels + uint64_t(i) * sizeof(K);
    t.kernels[i].flops = read<int64_t>(v.bytes(at, sizeof(K)) + offsetof(K, flops));
    if (!v.string(at + offsetof(K, name), t.kernels[i].name))
      return malformed("kernel " + std::to_string(i) + ": name outside the library");
  }
  return MLC_OK;
}

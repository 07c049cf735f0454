//===- fuzz_artifact.cpp - libFuzzer target: the model .so checks --------===//
//
// Runs what mlc_model_load does before dlopen, and what mlc_model_load_info
// does in full: the file checks, the symbol lookups and the table reader.
// When the input ends in an mlc trailer and its first byte is even, the
// trailer is rewritten to match the mutated bytes, so that mutations get
// past the checksum to the ELF and table checks behind it.
//
//===----------------------------------------------------------------------===//
#include "Artifact.h"
#include "Internal.h"
#include "mlc/artifact.h"

#include <cstring>
#include <string>
#include <vector>

using namespace mlc::runtime;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<char> bytes(data, data + size);
  if (size >= 64 + MLC_ARTIFACT_TRAILER_SIZE && !(data[0] & 1)) {
    char *t = bytes.data() + size - MLC_ARTIFACT_TRAILER_SIZE;
    if (std::memcmp(t, MLC_ARTIFACT_MAGIC, 8) == 0) {
      uint64_t length = size - MLC_ARTIFACT_TRAILER_SIZE;
      uint64_t sum = mlc_artifact_checksum(bytes.data(), length);
      std::memcpy(t + 8, &length, 8);
      std::memcpy(t + 16, &sum, 8);
    }
  }
  ArtifactFile file;
  if (file.openBytes(bytes.data(), bytes.size(), "'fuzz.so'") != MLC_OK)
    return 0;
  uint64_t va = 0;
  for (const char *name : {MLC_ABI_ENTRY, MLC_ABI_ENTRY_V1, "mlc_model_v3"})
    file.symbol(name, va);
  if (file.symbol(MLC_ABI_TABLE, va)) {
    ModelTable table;
    if (readModelTable(file, nullptr, va, 2, "'fuzz.so'", table) == MLC_OK) {
      // Everything the table gives out must be readable.
      size_t sum = 0;
      for (const auto *list : {&table.inputs, &table.outputs})
        for (const mlc_abi_tensor_v1 &x : *list) {
          sum += std::strlen(x.name);
          for (int32_t d = 0; d < x.rank; ++d)
            sum += x.dims[d] + std::strlen(x.dim_names[d]);
        }
      for (const mlc_abi_kernel_v2 &k : table.kernels)
        sum += std::strlen(k.name);
      sum += std::strlen(table.compilerVersion) + std::strlen(table.cpuFeatures);
      if (sum == 0x5eed)
        std::memset(bytes.data(), 0, 1); // keep `sum` alive
    }
  }
  return 0;
}

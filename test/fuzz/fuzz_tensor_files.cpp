//===- fuzz_tensor_files.cpp - libFuzzer target: .npy and .pb readers ----===//
//
// The first byte picks the reader (even: .npy, odd: a serialized
// onnx.TensorProto); the rest is the file.
//
//===----------------------------------------------------------------------===//
#include "tools/mlc/TensorFiles.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
  mlc::tools::HostTensor t;
  std::string err;
  bool ok = data[0] & 1 ? mlc::tools::parseTensorProto(bytes, "fuzz.pb", t, err)
                        : mlc::tools::parseNpy(bytes, "fuzz.npy", t, err);
  // A tensor that was read must hold what its shape says.
  if (ok && t.data.size() != t.elements() * mlc_dtype_size(t.dtype))
    __builtin_trap();
  return 0;
}

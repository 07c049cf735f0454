//===- TensorFiles.h - .npy and ONNX TensorProto (.pb) files ----*- C++ -*-===//
#ifndef MLC_TOOLS_TENSORFILES_H
#define MLC_TOOLS_TENSORFILES_H

#include "mlc/runtime.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mlc::tools {

/// A host tensor owned by the CLI.
struct HostTensor {
  mlc_dtype dtype = MLC_DTYPE_INVALID;
  std::vector<int64_t> shape;
  std::vector<char> data;
  /// Read from a .npy of opaque bytes ('|V1', '<V2'): bfloat16 or some
  /// narrow type (float8, int4, ...) that `dtype` only guesses; the
  /// model's input settles it.
  bool narrowUnknown = false;
  size_t elements() const {
    size_t n = 1;
    for (int64_t d : shape)
      n *= (size_t)d;
    return n;
  }
  mlc_tensor view() const;
  /// Element `i` as a double; NaN for a narrow type (float8, int4, ...).
  double at(size_t i) const;
  /// Whether at() reads values: any type but the narrow ones.
  bool readable() const;
};

/// bfloat16 is the high half of a float32 (g++ 12 has no __bf16).
inline float bf16ToFloat(uint16_t bits) {
  uint32_t w = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}
/// Rounds to nearest even, as ml_dtypes and ONNX's reference do; NaN stays
/// a quiet NaN.
inline uint16_t floatToBf16(float f) {
  uint32_t w;
  std::memcpy(&w, &f, 4);
  if ((w & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((w >> 16) | 0x40);
  w += 0x7fffu + ((w >> 16) & 1);
  return uint16_t(w >> 16);
}

/// Reads a NumPy .npy file (C order; little-endian numeric dtypes).
bool readNpy(const std::string &path, HostTensor &t, std::string &err);
bool writeNpy(const std::string &path, const HostTensor &t, std::string &err);
/// Reads a serialized onnx.TensorProto (as in ONNX's node test data).
bool readTensorProto(const std::string &path, HostTensor &t, std::string &err);
/// The same from the file's bytes (`path` names it in messages).
bool parseNpy(const std::string &bytes, const std::string &path, HostTensor &t,
              std::string &err);
bool parseTensorProto(const std::string &bytes, const std::string &path, HostTensor &t,
                      std::string &err);
/// Either of the above, by extension.
bool readTensorFile(const std::string &path, HostTensor &t, std::string &err);

} // namespace mlc::tools

#endif

//===- TensorFiles.h - .npy and ONNX TensorProto (.pb) files ----*- C++ -*-===//
#ifndef MLC_TOOLS_TENSORFILES_H
#define MLC_TOOLS_TENSORFILES_H

#include "mlc/runtime.h"

#include <string>
#include <vector>

namespace mlc::tools {

/// A host tensor owned by the CLI.
struct HostTensor {
  mlc_dtype dtype = MLC_DTYPE_INVALID;
  std::vector<int64_t> shape;
  std::vector<char> data;
  /// Read from a .npy of opaque bytes ('|V1'): some narrow type (float8,
  /// int4, ...) that `dtype` only guesses; the model's input settles it.
  bool narrowUnknown = false;
  size_t elements() const {
    size_t n = 1;
    for (int64_t d : shape)
      n *= (size_t)d;
    return n;
  }
  mlc_tensor view() const;
};

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

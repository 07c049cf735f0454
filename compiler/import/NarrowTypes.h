//===- NarrowTypes.h - float8, float4, int4 and int2 in ONNX tensors ------===//
//
// ONNX packs int4, uint4 and float4e2m1 two elements per byte and int2 and
// uint2 four per byte, low bits first; a float8 takes a byte. mlc holds
// every narrow element in a byte of its own (dtypes.def's STORE column), so
// tensors read from a model or a .pb file are unpacked here. Header-only:
// the importer and the CLI's tensor readers share it.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_COMPILER_IMPORT_NARROWTYPES_H
#define MLC_COMPILER_IMPORT_NARROWTYPES_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlc::narrow {

/// ONNX data type numbers by dtypes.def's ENUM (the system's onnx.proto may
/// predate the narrow ones).
enum OnnxType : int {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE) k##ENUM = ONNX,
#include "mlc/dtypes.def"
};

/// Bits per element of a narrow ONNX type (8, 4 or 2); 0 for other types.
inline int bits(int onnx) {
  switch (onnx) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    return KIND == 'V' && SIZE == 1 ? BITS : 0;
#include "mlc/dtypes.def"
  default: return 0;
  }
}

/// Whether a narrow type is held sign-extended (int4, int2).
inline bool isSigned(int onnx) {
  switch (onnx) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    return KIND == 'V' && SIZE == 1 && STORE == 'i';
#include "mlc/dtypes.def"
  default: return false;
  }
}

/// Bytes that `n` packed elements of a narrow type take.
inline size_t packedBytes(int onnx, size_t n) {
  int b = bits(onnx);
  return b ? (n / (8 / b)) + (n % (8 / b) ? 1 : 0) : 0;
}

/// Unpacks `n` elements of a narrow type from `packed` (packedBytes(n)
/// bytes) into one byte each, sign-extending the signed types.
inline void unpack(int onnx, const unsigned char *packed, size_t n, unsigned char *out) {
  int b = bits(onnx);
  if (!b)
    return;
  int perByte = 8 / b;
  unsigned mask = (1u << b) - 1, sign = 1u << (b - 1);
  bool sext = isSigned(onnx) && b < 8;
  for (size_t i = 0; i < n; ++i) {
    unsigned v = (packed[i / perByte] >> ((i % perByte) * b)) & mask;
    if (sext && (v & sign))
      v |= ~mask;
    out[i] = (unsigned char)v;
  }
}

/// Unpacks a narrow TensorProto's `n` elements into `out`: from `raw`
/// (raw_data or external data) when `hasRaw`, else from `int32s`
/// (int32_data, a packed byte per entry). False when the stored bytes do
/// not match the shape; `got` is how many there were, `need` how many the
/// shape takes.
template <typename Int32s>
bool unpackStored(int onnx, bool hasRaw, std::string_view raw, const Int32s &int32s, size_t n,
                  unsigned char *out, size_t &got, size_t &need) {
  std::string fromInts;
  if (!hasRaw) {
    for (int32_t v : int32s)
      fromInts.push_back(char(v));
    raw = fromInts;
  }
  got = raw.size();
  need = packedBytes(onnx, n);
  if (got != need)
    return false;
  unpack(onnx, reinterpret_cast<const unsigned char *>(raw.data()), n, out);
  return true;
}

} // namespace mlc::narrow

#endif

//===- TensorFiles.cpp - .npy and ONNX TensorProto (.pb) files -----------===//
#include "tools/mlc/TensorFiles.h"
#include "compiler/import/NarrowTypes.h"

#include "llvm/ADT/StringRef.h"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <sys/stat.h>
#include <fstream>
#include <sstream>

using namespace mlc::tools;

mlc_tensor HostTensor::view() const {
  mlc_tensor t{};
  t.data = (void *)data.data();
  t.size_bytes = data.size();
  t.dtype = dtype;
  t.rank = (int32_t)shape.size();
  for (size_t i = 0; i < shape.size() && i < MLC_MAX_RANK; ++i)
    t.shape[i] = shape[i];
  return t;
}

namespace {

struct NpyType {
  std::string descr; // byte order ('|' for one byte), NumPy's kind, size: "<f4"
  mlc_dtype dtype;
};
const std::vector<NpyType> &npyTypes() {
  static const std::vector<NpyType> types = [] {
    std::vector<NpyType> v;
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  v.push_back({std::string(SIZE == 1 ? "|" : "<") + KIND + std::to_string(SIZE), MLC_DTYPE_##ENUM});
#include "mlc/dtypes.def"
    return v;
  }();
  return types;
}

bool readAll(const std::string &path, std::string &out, std::string &err) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    err = "cannot open '" + path + "': " + std::strerror(errno);
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    err = "'" + path + "' is not a regular file";
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    err = "cannot open '" + path + "'";
    return false;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

} // namespace

bool mlc::tools::readNpy(const std::string &path, HostTensor &t, std::string &err) {
  std::string bytes;
  return readAll(path, bytes, err) && parseNpy(bytes, path, t, err);
}

bool mlc::tools::parseNpy(const std::string &bytes, const std::string &path, HostTensor &t,
                          std::string &err) {
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    err = "'" + path + "' is not a .npy file";
    return false;
  }
  int major = (unsigned char)bytes[6];
  size_t headerLen, start;
  if (major == 1) {
    headerLen = (unsigned char)bytes[8] | ((unsigned char)bytes[9] << 8);
    start = 10;
  } else {
    if (bytes.size() < 12) {
      err = "'" + path + "' is truncated";
      return false;
    }
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= (size_t)(unsigned char)bytes[8 + i] << (8 * i);
    start = 12;
  }
  if (start + headerLen > bytes.size()) {
    err = "'" + path + "' is truncated";
    return false;
  }
  std::string header = bytes.substr(start, headerLen);
  auto field = [&](const std::string &key) -> std::string {
    size_t p = header.find("'" + key + "'");
    if (p == std::string::npos)
      return "";
    p = header.find(':', p);
    return p == std::string::npos ? "" : header.substr(p + 1);
  };
  std::string descr = field("descr"), order = field("fortran_order"), shape = field("shape");
  t.dtype = MLC_DTYPE_INVALID;
  // The first match: '|V1' (any narrow type, as ml_dtypes saves them) reads
  // as the first narrow type of the table, marked narrowUnknown for the
  // caller, who knows what the model expects, to settle.
  for (const NpyType &n : npyTypes())
    if (t.dtype == MLC_DTYPE_INVALID &&
        (descr.find(std::string("'") + n.descr + "'") != std::string::npos ||
         (n.descr[0] == '|' &&
          descr.find(std::string("'<") + n.descr.substr(1) + "'") != std::string::npos))) {
      t.dtype = n.dtype;
      t.narrowUnknown = n.descr[1] == 'V';
    }
  if (t.dtype == MLC_DTYPE_INVALID) {
    err = "'" + path + "' has an unsupported dtype " + descr.substr(0, descr.find(','));
    return false;
  }
  if (order.find("True") != std::string::npos &&
      order.find("True") < order.find(',')) {
    err = "'" + path + "' is in Fortran order; save it with C order";
    return false;
  }
  size_t open = shape.find('('), close = shape.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    err = "'" + path + "' has no shape";
    return false;
  }
  t.shape.clear();
  std::stringstream dims(shape.substr(open + 1, close - open - 1));
  std::string item;
  uint64_t need = mlc_dtype_size(t.dtype);
  while (std::getline(dims, item, ',')) {
    llvm::StringRef text = llvm::StringRef(item).trim();
    if (text.empty())
      continue;
    int64_t d = 0;
    if (text.getAsInteger(10, d) || d < 0) {
      err = "'" + path + "' has a bad shape (" + shape.substr(open, close - open + 1) + ")";
      return false;
    }
    if (t.shape.size() == MLC_MAX_RANK) {
      err = "'" + path + "' has more than " + std::to_string(MLC_MAX_RANK) + " dims";
      return false;
    }
    t.shape.push_back(d);
    if (__builtin_mul_overflow(need, (uint64_t)d, &need))
      need = UINT64_MAX;
  }
  size_t dataStart = start + headerLen;
  if (bytes.size() - dataStart < need) {
    err = "'" + path + "' holds fewer bytes than its shape needs";
    return false;
  }
  t.data.assign(bytes.begin() + dataStart, bytes.begin() + dataStart + need);
  return true;
}

bool mlc::tools::writeNpy(const std::string &path, const HostTensor &t, std::string &err) {
  const char *descr = nullptr;
  for (const NpyType &n : npyTypes())
    if (n.dtype == t.dtype)
      descr = n.descr.c_str();
  if (!descr) {
    err = "cannot write dtype to .npy";
    return false;
  }
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i)
    shape += std::to_string(t.shape[i]) + (t.shape.size() == 1 || i + 1 < t.shape.size() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream f(path, std::ios::binary);
  if (!f) {
    err = "cannot write '" + path + "'";
    return false;
  }
  f.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = header.size();
  f.put((char)(len & 0xff));
  f.put((char)(len >> 8));
  f.write(header.data(), header.size());
  f.write(t.data.data(), t.data.size());
  return (bool)f;
}

bool mlc::tools::readTensorProto(const std::string &path, HostTensor &t, std::string &err) {
  std::string bytes;
  return readAll(path, bytes, err) && parseTensorProto(bytes, path, t, err);
}

bool mlc::tools::parseTensorProto(const std::string &bytes, const std::string &path,
                                  HostTensor &t, std::string &err) {
  onnx::TensorProto p;
  if (!p.ParseFromString(bytes)) {
    err = "'" + path + "' is not a serialized onnx.TensorProto";
    return false;
  }
  t.dtype = MLC_DTYPE_INVALID;
  switch (p.data_type()) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case ONNX:                                                                                     \
    t.dtype = MLC_DTYPE_##ENUM;                                                                  \
    break;
#include "mlc/dtypes.def"
  }
  if (t.dtype == MLC_DTYPE_INVALID) {
    err = "'" + path + "' has an unsupported data type";
    return false;
  }
  if (p.dims_size() > MLC_MAX_RANK) {
    err = "'" + path + "' has more than " + std::to_string(MLC_MAX_RANK) + " dims";
    return false;
  }
  uint64_t count = 1;
  for (int64_t d : p.dims())
    if (d < 0 || __builtin_mul_overflow(count, (uint64_t)d, &count)) {
      err = "'" + path + "' has a bad shape";
      return false;
    }
  // Every value takes at least a byte of the file (a packed narrow one, a
  // fraction of one).
  uint64_t perByte = narrow::bits(p.data_type()) ? 8 / narrow::bits(p.data_type()) : 1;
  if (count / perByte > bytes.size()) {
    err = "'" + path + "' holds fewer values than its shape needs";
    return false;
  }
  t.shape.assign(p.dims().begin(), p.dims().end());
  size_t es = mlc_dtype_size(t.dtype), n = t.elements();
  t.data.assign(n * es, 0);
  if (narrow::bits(p.data_type())) {
    // Packed in the file (NarrowTypes.h).
    size_t got, need;
    if (!narrow::unpackStored(p.data_type(), p.has_raw_data(), p.raw_data(), p.int32_data(), n,
                              reinterpret_cast<unsigned char *>(t.data.data()), got, need)) {
      err = "'" + path + "' holds " + std::to_string(got) + " bytes of " +
            mlc_dtype_name(t.dtype) + ", its shape needs " + std::to_string(need);
      return false;
    }
    return true;
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != n * es) {
      err = "'" + path + "' raw data does not match its shape";
      return false;
    }
    if (n * es)
      std::memcpy(t.data.data(), p.raw_data().data(), n * es);
    return true;
  }
  auto fill = [&](const auto &field, auto conv) {
    if ((size_t)field.size() != n) {
      err = "'" + path + "' holds the wrong number of values";
      return false;
    }
    for (size_t i = 0; i < n; ++i)
      conv(field.Get(i), t.data.data() + i * es);
    return true;
  };
  switch (p.data_type()) {
  case onnx::TensorProto::FLOAT:
    return fill(p.float_data(), [](float v, char *o) { std::memcpy(o, &v, 4); });
  case onnx::TensorProto::DOUBLE:
    return fill(p.double_data(), [](double v, char *o) { std::memcpy(o, &v, 8); });
  case onnx::TensorProto::INT64:
    return fill(p.int64_data(), [](int64_t v, char *o) { std::memcpy(o, &v, 8); });
  case onnx::TensorProto::UINT32:
  case onnx::TensorProto::UINT64: // both in uint64_data; the low bytes (little-endian)
    return fill(p.uint64_data(), [es](uint64_t v, char *o) { std::memcpy(o, &v, es); });
  default: // int32 and narrower (also float16 bits) are in int32_data
    if (es > 4) {
      err = "'" + path + "' stores its values in a field mlc does not read; use raw_data";
      return false;
    }
    return fill(p.int32_data(), [es](int32_t v, char *o) { std::memcpy(o, &v, es); });
  }
}

bool mlc::tools::readTensorFile(const std::string &path, HostTensor &t, std::string &err) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".pb") == 0)
    return readTensorProto(path, t, err);
  return readNpy(path, t, err);
}

double mlc::tools::HostTensor::at(size_t i) const {
  const char *p = data.data() + i * mlc_dtype_size(dtype);
  auto read = [p](auto v) {
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto load = [&](auto v) { return double(read(v)); };
  switch (dtype) {
  case MLC_DTYPE_F32: return load(float());
  case MLC_DTYPE_F64: return load(double());
  case MLC_DTYPE_F16: return load(_Float16());
  case MLC_DTYPE_BF16: return bf16ToFloat(read(uint16_t()));
  case MLC_DTYPE_I64: return load(int64_t());
  case MLC_DTYPE_I32: return load(int32_t());
  case MLC_DTYPE_I16: return load(int16_t());
  case MLC_DTYPE_I8: return load(int8_t());
  case MLC_DTYPE_U64: return load(uint64_t());
  case MLC_DTYPE_U32: return load(uint32_t());
  case MLC_DTYPE_U16: return load(uint16_t());
  case MLC_DTYPE_U8:
  case MLC_DTYPE_BOOL: return load(uint8_t());
  default: return NAN;
  }
}

bool mlc::tools::HostTensor::readable() const {
  switch (dtype) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return !(KIND == 'V' && SIZE == 1);
#include "mlc/dtypes.def"
  default: return false;
  }
}

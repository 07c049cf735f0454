//===- module.cpp - mlc._mlc: the runtime for Python (nanobind) -----------===//
//
// A thin layer over the C API: a model, a session, and runs on arrays that
// arrive by the buffer/DLPack protocols (NumPy, torch on the CPU) without a
// copy. Outputs are NumPy arrays that own the runtime's allocation. The GIL
// is released while a model runs; a session runs one call at a time.
//
//===----------------------------------------------------------------------===//
#include "mlc/runtime.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nb = nanobind;

namespace {

PyObject *errorType = nullptr;

struct RuntimeError : std::runtime_error {
  mlc_status status;
  RuntimeError(mlc_status s, const std::string &msg) : std::runtime_error(msg), status(s) {}
};

void check(mlc_status s) {
  if (s != MLC_OK)
    throw RuntimeError(s, mlc_last_error());
}

/// DLPack element type <-> mlc dtype, from the one table.
nb::dlpack::dtype dlpackOf(mlc_dtype d) {
  switch (d) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return {uint8_t(KIND == 'f'   ? nb::dlpack::dtype_code::Float                               \
                    : KIND == 'i' ? nb::dlpack::dtype_code::Int                                 \
                    : KIND == 'u' ? nb::dlpack::dtype_code::UInt                                \
                    : KIND == 'b' ? nb::dlpack::dtype_code::Bool                                \
                                  : nb::dlpack::dtype_code::UInt), /* narrow: its bytes */      \
            uint8_t(SIZE * 8), 1};
#include "mlc/dtypes.def"
  default: throw RuntimeError(MLC_ERROR_INTERNAL, "unknown dtype");
  }
}

/// bfloat16 and the narrow types: NumPy knows them only through ml_dtypes.
bool isNarrow(mlc_dtype d) {
  switch (d) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  case MLC_DTYPE_##ENUM:                                                                         \
    return KIND == 'V';
#include "mlc/dtypes.def"
  default: return false;
  }
}

mlc_dtype mlcOf(nb::dlpack::dtype t) {
#define MLC_DTYPE(ENUM, VALUE, NAME, SIZE, KIND, BITS, ONNX, STORE)                              \
  if (nb::dlpack::dtype e = dlpackOf(MLC_DTYPE_##ENUM);                                          \
      e.code == t.code && e.bits == t.bits && t.lanes == 1)                                      \
    return MLC_DTYPE_##ENUM;
#include "mlc/dtypes.def"
  return MLC_DTYPE_INVALID;
}

/// (name, dtype name, dims with -1 for run-time dims, dim names).
nb::tuple describe(const mlc_tensor_info &t) {
  nb::list dims, names;
  for (int32_t d = 0; d < t.rank; ++d) {
    dims.append(t.dims[d]);
    names.append(t.dim_names[d] ? t.dim_names[d] : "");
  }
  return nb::make_tuple(t.name, mlc_dtype_name(t.dtype), dims, names);
}

class Model {
public:
  Model(const std::string &path, bool infoOnly) {
    check(infoOnly ? mlc_model_load_info(path.c_str(), &model_)
                   : mlc_model_load(path.c_str(), &model_));
  }
  ~Model() { mlc_model_free(model_); }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  nb::list inputs() const { return tensors(mlc_model_num_inputs, mlc_model_input_info); }
  nb::list outputs() const { return tensors(mlc_model_num_outputs, mlc_model_output_info); }
  std::optional<std::string> metadata(const std::string &key) const {
    const char *v = mlc_model_metadata(model_, key.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  }
  nb::list kernels() const {
    nb::list l;
    for (size_t i = 0; i < mlc_model_num_kernels(model_); ++i) {
      mlc_kernel_info k;
      check(mlc_model_kernel_info(model_, i, &k));
      l.append(nb::make_tuple(k.name, k.flops));
    }
    return l;
  }
  const mlc_model *get() const { return model_; }

private:
  nb::list tensors(size_t (*count)(const mlc_model *),
                   mlc_status (*info)(const mlc_model *, size_t, mlc_tensor_info *)) const {
    nb::list l;
    for (size_t i = 0; i < count(model_); ++i) {
      mlc_tensor_info t;
      check(info(model_, i, &t));
      l.append(describe(t));
    }
    return l;
  }

  mlc_model *model_ = nullptr;
};

using InputArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using OutputArray = nb::ndarray<nb::numpy>;

class Session {
public:
  Session(const Model &model, int threads) : model_(model) {
    check(mlc_session_create(model.get(), &session_));
    if (threads > 0)
      setNumThreads(threads);
  }
  ~Session() { mlc_session_free(session_); }
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  int numThreads() const { return mlc_session_num_threads(session_); }
  void setNumThreads(int n) { check(mlc_session_set_num_threads(session_, n)); }

  std::vector<OutputArray> run(const std::vector<InputArray> &arrays) {
    std::vector<mlc_tensor> in(arrays.size());
    for (size_t i = 0; i < arrays.size(); ++i) {
      const InputArray &a = arrays[i];
      if (a.ndim() > MLC_MAX_RANK)
        throw RuntimeError(MLC_ERROR_INVALID_ARGUMENT,
                           "input #" + std::to_string(i) + " has more than " +
                               std::to_string(MLC_MAX_RANK) + " dims");
      mlc_tensor &t = in[i];
      t.data = const_cast<void *>(a.data());
      t.size_bytes = a.nbytes();
      t.dtype = mlcOf(a.dtype());
      // A bfloat16 or narrow input (float8, int4, ...) takes the bytes of
      // an integer array of its size: NumPy has no such types of its own.
      mlc_tensor_info info;
      if ((t.dtype == MLC_DTYPE_U8 || t.dtype == MLC_DTYPE_I8 || t.dtype == MLC_DTYPE_U16) &&
          i < mlc_model_num_inputs(model_.get()) &&
          mlc_model_input_info(model_.get(), i, &info) == MLC_OK && isNarrow(info.dtype) &&
          mlc_dtype_size(info.dtype) == mlc_dtype_size(t.dtype))
        t.dtype = info.dtype;
      t.rank = int32_t(a.ndim());
      for (size_t d = 0; d < a.ndim(); ++d)
        t.shape[d] = int64_t(a.shape(d));
      if (t.dtype == MLC_DTYPE_INVALID)
        throw RuntimeError(MLC_ERROR_INVALID_ARGUMENT,
                           "input #" + std::to_string(i) + " has an element type mlc does not know");
    }
    std::vector<mlc_tensor> out(mlc_model_num_outputs(model_.get()));
    for (mlc_tensor &t : out)
      t = mlc_tensor{}; // data = NULL: the runtime allocates
    mlc_status s;
    std::string err;
    {
      nb::gil_scoped_release released;
      std::lock_guard<std::mutex> lock(mutex_);
      s = mlc_session_run(session_, in.data(), in.size(), out.data(), out.size());
      if (s != MLC_OK)
        err = mlc_last_error(); // thread-local: read it on this thread
    }
    if (s != MLC_OK)
      throw RuntimeError(s, err);
    std::vector<OutputArray> result;
    result.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
      auto *owned = new mlc_tensor(out[i]);
      out[i].data = nullptr;
      nb::capsule owner(owned, [](void *p) noexcept {
        auto *t = static_cast<mlc_tensor *>(p);
        mlc_tensor_release(t);
        delete t;
      });
      size_t shape[MLC_MAX_RANK];
      for (int32_t d = 0; d < owned->rank; ++d)
        shape[d] = size_t(owned->shape[d]);
      result.emplace_back(owned->data, size_t(owned->rank), shape, owner, nullptr,
                          dlpackOf(owned->dtype));
    }
    return result;
  }

private:
  const Model &model_; // kept alive by nb::keep_alive
  mlc_session *session_ = nullptr;
  std::mutex mutex_;
};

} // namespace

NB_MODULE(_mlc, m) {
  m.doc() = "mlc runtime bindings (use the mlc package, not this module)";
  m.attr("runtime_version") = MLC_RUNTIME_VERSION;
  errorType = PyErr_NewException("mlc.Error", PyExc_RuntimeError, nullptr);
  m.attr("Error") = nb::handle(errorType);
  nb::register_exception_translator([](const std::exception_ptr &p, void *) {
    try {
      std::rethrow_exception(p);
    } catch (const RuntimeError &e) {
      nb::object exc = nb::borrow(errorType)(e.what());
      exc.attr("status") = mlc_status_name(e.status);
      PyErr_SetObject(errorType, exc.ptr());
    }
  });

  nb::class_<Model>(m, "Model")
      .def(nb::init<const std::string &, bool>(), nb::arg("path"), nb::arg("info_only") = false)
      .def("inputs", &Model::inputs)
      .def("outputs", &Model::outputs)
      .def("metadata", &Model::metadata)
      .def("kernels", &Model::kernels);
  nb::class_<Session>(m, "Session")
      .def(nb::init<const Model &, int>(), nb::arg("model"), nb::arg("threads") = 0,
           nb::keep_alive<1, 2>())
      .def_prop_rw("num_threads", &Session::numThreads, &Session::setNumThreads)
      .def("run", &Session::run, nb::arg("inputs"));
}

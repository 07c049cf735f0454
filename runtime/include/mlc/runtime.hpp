//===- mlc/runtime.hpp - C++ wrapper over the C runtime API -----*- C++ -*-===//
//
//   mlc::Model model("model.so");
//   mlc::Session session(model);
//   session.setNumThreads(4);                 // optional; default: all CPUs
//   mlc::Tensor x = mlc::Tensor::view(data, {1, 3, 224, 224});
//   std::vector<mlc::Tensor> outs = session.run({&x});
//
// Errors throw mlc::Error carrying the status and message.
//
//===----------------------------------------------------------------------===//
#ifndef MLC_RUNTIME_HPP
#define MLC_RUNTIME_HPP

#include "mlc/runtime.h"

#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mlc {

class Error : public std::runtime_error {
public:
  Error(mlc_status s, const std::string &msg) : std::runtime_error(msg), status_(s) {}
  mlc_status status() const { return status_; }

private:
  mlc_status status_;
};

inline void check(mlc_status s) {
  if (s != MLC_OK)
    throw Error(s, mlc_last_error());
}

/// A tensor that either views caller memory or owns a runtime allocation.
class Tensor {
public:
  Tensor() { raw_ = mlc_tensor{}; }
  template <typename T>
  static Tensor view(T *data, std::vector<int64_t> shape, mlc_dtype dtype) {
    Tensor t;
    t.raw_.data = (void *)data;
    t.raw_.dtype = dtype;
    t.raw_.rank = (int32_t)shape.size();
    size_t n = 1;
    for (size_t i = 0; i < shape.size() && i < MLC_MAX_RANK; ++i) {
      t.raw_.shape[i] = shape[i];
      n *= (size_t)shape[i];
    }
    t.raw_.size_bytes = n * mlc_dtype_size(dtype);
    return t;
  }
  static Tensor view(float *data, std::vector<int64_t> shape) {
    return view(data, std::move(shape), MLC_DTYPE_F32);
  }
  Tensor(Tensor &&o) noexcept : raw_(o.raw_), owned_(o.owned_) {
    o.raw_.data = nullptr;
    o.owned_ = false;
  }
  Tensor &operator=(Tensor &&o) noexcept {
    std::swap(raw_, o.raw_);
    std::swap(owned_, o.owned_);
    return *this;
  }
  Tensor(const Tensor &) = delete;
  Tensor &operator=(const Tensor &) = delete;
  ~Tensor() {
    if (owned_)
      mlc_tensor_release(&raw_);
  }

  std::vector<int64_t> shape() const {
    return std::vector<int64_t>(raw_.shape, raw_.shape + raw_.rank);
  }
  mlc_dtype dtype() const { return raw_.dtype; }
  size_t bytes() const { return raw_.size_bytes; }
  template <typename T = float> T *data() { return static_cast<T *>(raw_.data); }
  template <typename T = float> const T *data() const {
    return static_cast<const T *>(raw_.data);
  }
  mlc_tensor &raw() { return raw_; }
  const mlc_tensor &raw() const { return raw_; }
  void markOwned() { owned_ = true; }

private:
  mlc_tensor raw_;
  bool owned_ = false;
};

/// One kernel of a model's host schedule.
struct KernelInfo {
  std::string name;
  int64_t flops; // per call; -1 when unknown
};

class Model {
public:
  explicit Model(const std::string &path) {
    mlc_model *m = nullptr;
    check(mlc_model_load(path.c_str(), &m));
    model_ = std::shared_ptr<mlc_model>(m, Free());
  }
  size_t numInputs() const { return mlc_model_num_inputs(get()); }
  size_t numOutputs() const { return mlc_model_num_outputs(get()); }
  mlc_tensor_info input(size_t i) const {
    mlc_tensor_info info;
    check(mlc_model_input_info(get(), i, &info));
    return info;
  }
  mlc_tensor_info output(size_t i) const {
    mlc_tensor_info info;
    check(mlc_model_output_info(get(), i, &info));
    return info;
  }
  std::string metadata(const char *key) const {
    const char *v = mlc_model_metadata(get(), key);
    return v ? v : "";
  }
  /// The kernel list (empty for ABI v1 models).
  std::vector<KernelInfo> kernels() const {
    std::vector<KernelInfo> out;
    for (size_t i = 0, n = mlc_model_num_kernels(get()); i < n; ++i) {
      mlc_kernel_info info;
      check(mlc_model_kernel_info(get(), i, &info));
      out.push_back({info.name, info.flops});
    }
    return out;
  }
  const mlc_model *get() const { return model_.get(); }

  // CUDA models: memory on the model's GPU (see runtime.h).
  void *deviceAlloc(size_t bytes) const {
    void *p = nullptr;
    check(mlc_device_alloc(get(), bytes, &p));
    return p;
  }
  void deviceFree(void *p) const { check(mlc_device_free(get(), p)); }
  void copyToDevice(void *device, const void *host, size_t bytes) const {
    check(mlc_device_copy(get(), device, host, bytes, 1));
  }
  void copyToHost(void *host, const void *device, size_t bytes) const {
    check(mlc_device_copy(get(), host, device, bytes, 0));
  }

private:
  struct Free {
    void operator()(mlc_model *m) const { mlc_model_free(m); }
  };
  std::shared_ptr<mlc_model> model_;
};

class Session {
public:
  explicit Session(const Model &model) : model_(model) {
    mlc_session *s = nullptr;
    check(mlc_session_create(model.get(), &s));
    session_.reset(s);
  }
  /// Runs with runtime-allocated outputs.
  std::vector<Tensor> run(const std::vector<const Tensor *> &inputs) {
    std::vector<mlc_tensor> in;
    for (const Tensor *t : inputs)
      in.push_back(t->raw());
    std::vector<Tensor> out(model_.numOutputs());
    std::vector<mlc_tensor> raw(out.size(), mlc_tensor{});
    mlc_status s = mlc_session_run(session_.get(), in.data(), in.size(), raw.data(), raw.size());
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].raw() = raw[i];
      out[i].markOwned();
    }
    check(s);
    return out;
  }
  std::vector<Tensor> run(std::initializer_list<const Tensor *> inputs) {
    return run(std::vector<const Tensor *>(inputs));
  }

  /// CUDA models: every data pointer is GPU memory (mlc_session_run_device).
  /// An output with data == nullptr receives a GPU buffer that the caller
  /// frees with Model::deviceFree.
  void runDevice(const std::vector<mlc_tensor> &inputs, std::vector<mlc_tensor> &outputs) {
    outputs.resize(model_.numOutputs());
    check(mlc_session_run_device(session_.get(), inputs.data(), inputs.size(), outputs.data(),
                                 outputs.size()));
  }
  /// The session's CUDA stream (a CUstream); nullptr for CPU models.
  void *cudaStream() const { return mlc_session_cuda_stream(session_.get()); }

  /// n >= 1 threads for the following runs; 0: the default.
  void setNumThreads(int n) { check(mlc_session_set_num_threads(session_.get(), n)); }
  int numThreads() const { return mlc_session_num_threads(session_.get()); }

  /// Records kernel and run events from the next run on (see runtime.h).
  void setProfiling(bool enabled) { check(mlc_session_set_profiling(session_.get(), enabled)); }
  std::vector<mlc_profile_event> profileEvents() const {
    const mlc_profile_event *events = nullptr;
    size_t n = mlc_session_profile_events(session_.get(), &events);
    return std::vector<mlc_profile_event>(events, events + n);
  }
  void clearProfile() { mlc_session_clear_profile(session_.get()); }
  mlc_session *get() const { return session_.get(); }

private:
  struct Free {
    void operator()(mlc_session *s) const { mlc_session_free(s); }
  };
  const Model &model_;
  std::unique_ptr<mlc_session, Free> session_;
};

} // namespace mlc

#endif

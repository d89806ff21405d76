// torchx: gaitord's additions to gotorch, compiled against the same libtorch.
// See torchx.h for the calling convention.
#include "torchx.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

char *dup(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// guard runs f and turns any C++ exception into a message for Go.
template <typename F>
const char *guard(F f) {
  try {
    f();
    return nullptr;
  } catch (const c10::Error &e) {
    return dup(e.what_without_backtrace());
  } catch (const std::exception &e) {
    return dup(e.what());
  } catch (...) {
    return dup("unknown C++ exception");
  }
}

at::Tensor &T(TxTensor t) { return *static_cast<at::Tensor *>(t); }

void put(TxTensor *out, at::Tensor t) { *out = new at::Tensor(std::move(t)); }

}  // namespace

extern "C" {

void tx_free(void *p) { std::free(p); }

const char *tx_from_float32(const float *data, const int64_t *shape, int64_t ndim, TxTensor *out) {
  return guard([&] {
    at::IntArrayRef sizes(shape, ndim);
    put(out, at::from_blob(const_cast<float *>(data), sizes, at::kFloat).clone());
  });
}

const char *tx_from_int64(const int64_t *data, const int64_t *shape, int64_t ndim, TxTensor *out) {
  return guard([&] {
    at::IntArrayRef sizes(shape, ndim);
    put(out, at::from_blob(const_cast<int64_t *>(data), sizes, at::kLong).clone());
  });
}

const char *tx_zeros(const int64_t *shape, int64_t ndim, TxTensor *out) {
  return guard([&] { put(out, at::zeros(at::IntArrayRef(shape, ndim), at::kFloat)); });
}

const char *tx_copy_float32(TxTensor x, float *dst, int64_t n) {
  return guard([&] {
    at::Tensor c = T(x).detach().to(at::kCPU, at::kFloat).contiguous();
    TORCH_CHECK(c.numel() == n, "copy_float32: tensor has ", c.numel(), " elements, buffer ", n);
    std::memcpy(dst, c.data_ptr<float>(), sizeof(float) * n);
  });
}

const char *tx_numel(TxTensor x, int64_t *out) {
  return guard([&] { *out = T(x).numel(); });
}

const char *tx_to_device(TxTensor x, const char *device, TxTensor *out) {
  return guard([&] { put(out, T(x).to(at::Device(std::string(device)))); });
}

const char *tx_device(TxTensor x, char **out) {
  return guard([&] { *out = dup(T(x).device().str()); });
}

const char *tx_clone(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, T(x).detach().clone()); });
}

const char *tx_copy_(TxTensor dst, TxTensor src) {
  return guard([&] {
    at::NoGradGuard ng;
    T(dst).copy_(T(src));
  });
}

const char *tx_uniform_(TxTensor x, double lo, double hi) {
  return guard([&] {
    at::NoGradGuard ng;
    T(x).uniform_(lo, hi);
  });
}

// Same rule as torch.nn.init.xavier_uniform_: bound = gain*sqrt(6/(fan_in+fan_out)).
const char *tx_xavier_uniform_(TxTensor x, double gain) {
  return guard([&] {
    at::Tensor &t = T(x);
    TORCH_CHECK(t.dim() >= 2, "xavier_uniform_: tensor of ", t.dim(), " dimensions");
    int64_t receptive = 1;
    for (int64_t d = 2; d < t.dim(); d++) receptive *= t.size(d);
    double fan_in = double(t.size(1) * receptive), fan_out = double(t.size(0) * receptive);
    double bound = gain * std::sqrt(6.0 / (fan_in + fan_out));
    at::NoGradGuard ng;
    t.uniform_(-bound, bound);
  });
}

const char *tx_fill_(TxTensor x, double v) {
  return guard([&] {
    at::NoGradGuard ng;
    T(x).fill_(v);
  });
}

const char *tx_set_requires_grad(TxTensor x, bool requires) {
  return guard([&] { T(x).set_requires_grad(requires); });
}

const char *tx_conv2d(TxTensor x, TxTensor w, TxTensor b, int64_t pad_h, int64_t pad_w, TxTensor *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    put(out, at::conv2d(T(x), T(w), bias, {1, 1}, {pad_h, pad_w}));
  });
}

const char *tx_max_pool2d(TxTensor x, int64_t kernel, int64_t stride, TxTensor *out) {
  return guard([&] { put(out, at::max_pool2d(T(x), {kernel, kernel}, {stride, stride})); });
}

const char *tx_leaky_relu(TxTensor x, double slope, TxTensor *out) {
  return guard([&] { put(out, at::leaky_relu(T(x), slope)); });
}

const char *tx_linear(TxTensor x, TxTensor w, TxTensor b, TxTensor *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    put(out, at::linear(T(x), T(w), bias));
  });
}

const char *tx_cat(TxTensor *xs, int64_t n, int64_t dim, TxTensor *out) {
  return guard([&] {
    std::vector<at::Tensor> v;
    v.reserve(n);
    for (int64_t i = 0; i < n; i++) v.push_back(T(xs[i]));
    put(out, at::cat(v, dim));
  });
}

const char *tx_narrow(TxTensor x, int64_t dim, int64_t start, int64_t length, TxTensor *out) {
  return guard([&] { put(out, T(x).narrow(dim, start, length)); });
}

const char *tx_reshape(TxTensor x, const int64_t *shape, int64_t ndim, TxTensor *out) {
  return guard([&] { put(out, T(x).reshape(at::IntArrayRef(shape, ndim))); });
}

const char *tx_dropout(TxTensor x, double p, bool train, TxTensor *out) {
  return guard([&] { put(out, at::dropout(T(x), p, train)); });
}

const char *tx_cumsum(TxTensor x, int64_t dim, TxTensor *out) {
  return guard([&] { put(out, at::cumsum(T(x), dim)); });
}

const char *tx_pow(TxTensor x, double exponent, TxTensor *out) {
  return guard([&] { put(out, at::pow(T(x), exponent)); });
}

const char *tx_clamp(TxTensor x, double lo, double hi, TxTensor *out) {
  return guard([&] { put(out, at::clamp(T(x), lo, hi)); });
}

const char *tx_sigmoid(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, at::sigmoid(T(x))); });
}

const char *tx_softmax(TxTensor x, int64_t dim, TxTensor *out) {
  return guard([&] { put(out, at::softmax(T(x), dim)); });
}

const char *tx_sum_dim(TxTensor x, int64_t dim, bool keepdim, TxTensor *out) {
  return guard([&] { put(out, at::sum(T(x), {dim}, keepdim)); });
}

const char *tx_mean_dim(TxTensor x, int64_t dim, bool keepdim, TxTensor *out) {
  return guard([&] { put(out, at::mean(T(x), {dim}, keepdim)); });
}

const char *tx_mean(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, at::mean(T(x))); });
}

const char *tx_add(TxTensor a, TxTensor b, double alpha, TxTensor *out) {
  return guard([&] { put(out, at::add(T(a), T(b), alpha)); });
}

const char *tx_mul_scalar(TxTensor x, double s, TxTensor *out) {
  return guard([&] { put(out, at::mul(T(x), s)); });
}

const char *tx_add_scalar(TxTensor x, double s, TxTensor *out) {
  return guard([&] { put(out, at::add(T(x), s)); });
}

const char *tx_sub(TxTensor a, TxTensor b, TxTensor *out) {
  return guard([&] { put(out, at::sub(T(a), T(b))); });
}

const char *tx_bce_with_logits(TxTensor logits, TxTensor target, TxTensor *out) {
  return guard([&] {
    put(out, at::binary_cross_entropy_with_logits(T(logits), T(target), {}, {}, at::Reduction::Mean));
  });
}

const char *tx_cross_entropy(TxTensor logits, TxTensor target, TxTensor *out) {
  return guard([&] { put(out, at::cross_entropy_loss(T(logits), T(target))); });
}

const char *tx_backward(TxTensor loss) {
  return guard([&] { torch::autograd::backward({T(loss)}); });
}

const char *tx_grad(TxTensor x, TxTensor *out, bool *defined) {
  return guard([&] {
    const at::Tensor &g = T(x).grad();
    *defined = g.defined();
    if (g.defined()) put(out, g);
  });
}

const char *tx_zero_grad(TxTensor *params, int64_t n) {
  return guard([&] {
    for (int64_t i = 0; i < n; i++) T(params[i]).mutable_grad().reset();
  });
}

bool tx_set_grad_enabled(bool enabled) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(enabled);
  return prev;
}

bool tx_is_grad_enabled(void) { return at::GradMode::is_enabled(); }

const char *tx_adam_step(TxTensor *params, TxTensor *exp_avg, TxTensor *exp_avg_sq, int64_t n,
                         int64_t step, double lr, double beta1, double beta2, double eps,
                         double weight_decay) {
  return guard([&] {
    TORCH_CHECK(step >= 1, "adam: step ", step, " < 1");
    at::NoGradGuard ng;
    const double bc1 = 1.0 - std::pow(beta1, double(step));
    const double bc2 = 1.0 - std::pow(beta2, double(step));
    const double step_size = lr / bc1;
    const double bc2_sqrt = std::sqrt(bc2);
    for (int64_t i = 0; i < n; i++) {
      at::Tensor &p = T(params[i]);
      at::Tensor g = p.grad();
      if (!g.defined()) continue;
      if (weight_decay != 0) g = g.add(p, weight_decay);
      at::Tensor &m = T(exp_avg[i]);
      at::Tensor &v = T(exp_avg_sq[i]);
      m.mul_(beta1).add_(g, 1 - beta1);
      v.mul_(beta2).addcmul_(g, g.conj(), 1 - beta2);
      at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
      p.addcdiv_(m, denom, -step_size);
    }
  });
}

const char *tx_item(TxTensor x, double *out) {
  return guard([&] { *out = T(x).item<double>(); });
}

const char *tx_all_finite(TxTensor x, bool *out) {
  return guard([&] { *out = at::isfinite(T(x).detach()).all().item<bool>(); });
}

void tx_manual_seed(uint64_t seed) { at::manual_seed(seed); }

const char *tx_rng_state_size(int64_t *n) {
  return guard([&] {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    *n = gen.get_state().numel();
  });
}

const char *tx_rng_state(uint8_t *dst, int64_t n) {
  return guard([&] {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    at::Tensor st = gen.get_state().contiguous();
    TORCH_CHECK(st.numel() == n, "rng state has ", st.numel(), " bytes, buffer ", n);
    std::memcpy(dst, st.data_ptr<uint8_t>(), n);
  });
}

const char *tx_set_rng_state(const uint8_t *src, int64_t n) {
  return guard([&] {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    at::Tensor st = at::empty({n}, at::kByte);
    std::memcpy(st.data_ptr<uint8_t>(), src, n);
    gen.set_state(st);
  });
}

void tx_set_num_threads(int n) { at::set_num_threads(n); }

int tx_get_num_threads(void) { return at::get_num_threads(); }

const char *tx_set_num_interop_threads(int n) {
  return guard([&] { at::set_num_interop_threads(n); });
}

int tx_get_num_interop_threads(void) { return at::get_num_interop_threads(); }

void tx_set_mkldnn_enabled(bool on) { at::globalContext().setUserEnabledMkldnn(on); }

bool tx_mkldnn_enabled(void) { return at::globalContext().userEnabledMkldnn(); }

const char *tx_channels_last(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, T(x).contiguous(at::MemoryFormat::ChannelsLast)); });
}

// Re-lays a 4-D leaf parameter out as channels-last in place, keeping its identity.
const char *tx_channels_last_(TxTensor param) {
  return guard([&] {
    at::Tensor &t = T(param);
    if (t.dim() == 4) t.set_data(t.contiguous(at::MemoryFormat::ChannelsLast));
  });
}

bool tx_cuda_available(void) { return at::detail::getCUDAHooks().hasCUDA(); }

int tx_cuda_device_count(void) { return at::detail::getCUDAHooks().getNumGPUs(); }

char *tx_version(void) { return dup(TORCH_VERSION); }

char *tx_build_config(void) { return dup(at::show_config()); }

}  // extern "C"

// torchx: gaitord's additions to gotorch, compiled against the same libtorch.
// See torchx.h for the calling convention.
#include "torchx.h"

#include "guard.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/version.h>

#include <atomic>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using torchx_detail::dup;
using torchx_detail::guard;
using torchx_detail::T;

void put(TxTensor *out, at::Tensor t) { *out = new at::Tensor(std::move(t)); }

// channels_last re-lays a 4-D tensor out channels-last (NHWC strides). For a
// single channel, contiguous(ChannelsLast) is a no-op (the NCHW strides
// (HW, HW, W, 1) already count as channels-last contiguous) and oneDNN then
// still takes its slow NCHW path, so the channel stride is set to 1 instead:
// a zero-copy view with the strides (sN, 1, sH, 1), which oneDNN recognises.
at::Tensor channels_last(const at::Tensor &t) {
  if (t.dim() != 4) return t;
  if (t.size(1) != 1) return t.contiguous(at::MemoryFormat::ChannelsLast);
  at::Tensor c = t.stride(3) == 1 ? t : t.contiguous();
  return c.as_strided(c.sizes(), {c.stride(0), 1, c.stride(2), 1}, c.storage_offset());
}

// conv_block is BasicConv2d: stride-1 conv → leaky_relu(slope) → 2×2/2 max-pool.
//
// On CPU it is computed in the order and layouts that libtorch 1.13 runs
// fastest, with the same values: a single-input-channel conv (the first
// layer) runs channels-last, where oneDNN is ~5× faster than for NCHW (for
// the other convs see level 4 below); the pool runs on a channels-last
// map (~5× faster than NCHW max_pool2d, forward and backward); leaky_relu
// follows the pool, which is exact because leaky_relu is strictly increasing
// (same maxima, same argmax, same gradient) and touches a quarter of the
// values; the result goes back to NCHW for the next conv. Other devices
// (cuDNN) keep the plain order.
//
// Without autograd (NoGrad, InferenceMode: gaitord's inference) a float32 CPU
// block runs in oneDNN's own tensors instead: the input goes to an MKLDNN
// tensor, the convolution leaves its output in oneDNN's blocked layout
// (nChw8c/16c), the 2×2 max-pool runs on that layout, and only the pooled
// map, a quarter of the values, goes back to a dense NCHW tensor, where
// leaky_relu follows (exact, as above). The strided layouts above pay a
// reorder into and out of the blocked layout inside every convolution and
// pool; this path pays one into the conv and one out after the pool. The
// values are the same oneDNN convolution's (measured: identical to the plain
// order at 64×44 and 128×88). Autograd cannot run through MKLDNN tensors in
// libtorch 1.13 (no leaky_relu, no backward of mkldnn_max_pool2d into a dense
// graph), so training keeps the strided layouts. The convolution weights are
// reordered on every call, as the plain op does: keeping them prepacked
// (mkldnn_reorder_conv2d_weight once) measured no faster at batch 256
// (bench/README.md). Below kOneDNNMinBatch samples the two reorders cost more
// than they save (measured, level 3 / level 2 at 64×44: b1 0.71×, b4 0.77×,
// b16 0.71–0.99×, b32 1.57×, b64 1.12–1.25×, b256 1.28–1.40×), so small
// batches (single-GEI predict, a lightly loaded server) keep level 2.
//
// From level 4, under autograd (training), the multi-channel convolutions
// run channels-last as well: input and weight are re-laid out channels-last,
// the output comes out channels-last for the pool, and the pooled map goes
// back to NCHW. On the AVX-512 host of 2026-12-02 oneDNN's channels-last
// forward + backward was faster for all three multi-channel convolutions at
// batch 64 (bench/fp32_levers.py train-blocks: gl_conv2 0.83×, lc_conv2's
// largest strip 0.83×, the fusing conv 0.90× the time; whole training step
// 1.12× at 64×44, 1.07× at 128×88, bench/README.md), where the 2026-11-26 host had them as fast as
// NCHW. Without autograd the forward alone did not pay below
// kOneDNNMinBatch (b1 0.82×, b4 0.85×, b16 1.05×), so inference keeps
// level 2 there. The values are the same convolution's up to the summation
// order.
//
// cpu_layouts (a benchmark lever): 0 = the plain order everywhere, 1 = only
// the channels-last first layer, 2 = every strided layout above, 3 = level 2
// plus the oneDNN-tensor path without autograd from kOneDNNMinBatch samples,
// 4 = level 3 plus channels-last multi-channel convolutions and part blocks
// split into their strips at once (tx_part_block) (the default).
std::atomic<int> cpu_layouts{4};

// onednn_blocks counts the blocks that took the oneDNN-tensor path (tests
// read it to know the path ran).
std::atomic<int64_t> onednn_blocks{0};

// channels_last_convs counts the multi-channel convolutions that ran
// channels-last under autograd (level 4; tests read it).
std::atomic<int64_t> channels_last_convs{0};

constexpr int64_t kOneDNNMinBatch = 32;

bool onednn_block(const at::Tensor &x, const at::Tensor &w) {
  return !at::GradMode::is_enabled() && x.size(0) >= kOneDNNMinBatch && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
         at::globalContext().userEnabledMkldnn() && at::hasMKLDNN();
}

at::Tensor conv_block(const at::Tensor &x, const at::Tensor &w, const c10::optional<at::Tensor> &b,
                      int64_t pad_h, int64_t pad_w, double slope) {
  const int level = cpu_layouts.load(std::memory_order_relaxed);
  if (!x.is_cpu() || x.dim() != 4 || w.dim() != 4 || level == 0) {
    at::Tensor y = at::conv2d(x, w, b, {1, 1}, {pad_h, pad_w});
    return at::max_pool2d(at::leaky_relu(y, slope), {2, 2}, {2, 2});
  }
  if (level >= 3 && onednn_block(x, w)) {
    onednn_blocks.fetch_add(1, std::memory_order_relaxed);
    at::Tensor y = at::mkldnn_convolution(x.to_mkldnn(), w.to_mkldnn(), b, {pad_h, pad_w}, {1, 1}, {1, 1}, 1);
    y = at::max_pool2d(y, {2, 2}, {2, 2});  // mkldnn_max_pool2d on the blocked map
    return at::leaky_relu(y.to_dense(), slope);
  }
  at::Tensor y;
  const bool first = x.size(1) == 1 && w.size(1) == 1 && x.scalar_type() == at::kFloat &&
                     at::globalContext().userEnabledMkldnn();
  if (first) {
    y = at::conv2d(channels_last(x), channels_last(w), b, {1, 1}, {pad_h, pad_w});
  } else if (level >= 4 && at::GradMode::is_enabled() && x.scalar_type() == at::kFloat &&
             at::globalContext().userEnabledMkldnn()) {
    channels_last_convs.fetch_add(1, std::memory_order_relaxed);
    y = at::conv2d(x.contiguous(at::MemoryFormat::ChannelsLast), w.contiguous(at::MemoryFormat::ChannelsLast), b,
                   {1, 1}, {pad_h, pad_w});
  } else {
    y = at::conv2d(x, w, b, {1, 1}, {pad_h, pad_w});
  }
  if (level == 1) {
    y = at::max_pool2d(at::leaky_relu(y, slope), {2, 2}, {2, 2});
    return first ? y.contiguous() : y;
  }
  y = y.contiguous(at::MemoryFormat::ChannelsLast);  // no copy when the conv ran channels-last
  y = at::leaky_relu(at::max_pool2d(y, {2, 2}, {2, 2}), slope);
  return y.contiguous();
}

// adam_chunk is one pass of torch.optim.Adam (amsgrad off, L2 weight decay
// added to the gradient) over n contiguous float32 values of p, g, m, v, with
// the float32 arithmetic of the op-by-op update, operation for operation and
// in the same order (no fused multiply-add):
//   g += wd·p; m = m·β1 + (1−β1)·g; v = v·β2 + ((1−β2)·g)·g;
//   p += −step_size · (m / (√v / √bc2 + eps)).
// SSE2 (every x86-64 CPU) does four values at a time with the same
// correctly rounded operations as the scalar tail.
struct AdamConsts {
  float b1, one_b1, b2, one_b2, wd, bc2_sqrt, eps, neg_step;
};

inline void adam_scalar(float *p, const float *g, float *m, float *v, int64_t i, const AdamConsts &c) {
  float gi = g[i];
  if (c.wd != 0) gi = gi + c.wd * p[i];
  const float mi = m[i] * c.b1 + c.one_b1 * gi;
  const float vi = v[i] * c.b2 + (c.one_b2 * gi) * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] = p[i] + c.neg_step * (mi / (std::sqrt(vi) / c.bc2_sqrt + c.eps));
}

void adam_chunk(float *p, const float *g, float *m, float *v, int64_t n, const AdamConsts &c) {
  int64_t i = 0;
#if defined(__SSE2__)
  const __m128 b1 = _mm_set1_ps(c.b1), one_b1 = _mm_set1_ps(c.one_b1), b2 = _mm_set1_ps(c.b2),
               one_b2 = _mm_set1_ps(c.one_b2), wd = _mm_set1_ps(c.wd), bc2 = _mm_set1_ps(c.bc2_sqrt),
               eps = _mm_set1_ps(c.eps), neg_step = _mm_set1_ps(c.neg_step);
  const bool decay = c.wd != 0;
  for (; i + 4 <= n; i += 4) {
    __m128 pi = _mm_loadu_ps(p + i);
    __m128 gi = _mm_loadu_ps(g + i);
    if (decay) gi = _mm_add_ps(gi, _mm_mul_ps(wd, pi));
    const __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), b1), _mm_mul_ps(one_b1, gi));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), b2), _mm_mul_ps(_mm_mul_ps(one_b2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m128 denom = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), bc2), eps);
    _mm_storeu_ps(p + i, _mm_add_ps(pi, _mm_mul_ps(neg_step, _mm_div_ps(mi, denom))));
  }
#endif
  for (; i < n; i++) adam_scalar(p, g, m, v, i, c);
}

bool fusable(const at::Tensor &p, const at::Tensor &g, const at::Tensor &m, const at::Tensor &v) {
  for (const at::Tensor *t : {&p, &g, &m, &v}) {
    if (!t->is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous() || t->numel() != p.numel())
      return false;
  }
  return true;
}

}  // namespace

extern "C" {

void tx_free(void *p) { std::free(p); }

const char *tx_from_float32(const float *data, const int64_t *shape, int64_t ndim, TxTensor *out) {
  return guard([&] {
    at::IntArrayRef sizes(shape, ndim);
    put(out, at::from_blob(const_cast<float *>(data), sizes, at::kFloat).clone());
  });
}

const char *tx_from_float32_on(const float *data, const int64_t *shape, int64_t ndim, const char *device,
                               TxTensor *out) {
  return guard([&] {
    at::IntArrayRef sizes(shape, ndim);
    at::Tensor host = at::from_blob(const_cast<float *>(data), sizes, at::kFloat);
    const at::Device dev{std::string(device)};
    // A blocking copy: data is only read during this call.
    put(out, dev.is_cpu() ? host.clone() : host.to(dev, at::kFloat, /*non_blocking=*/false, /*copy=*/true));
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

const char *tx_conv_block(TxTensor x, TxTensor w, TxTensor b, int64_t pad_h, int64_t pad_w, double slope,
                          TxTensor *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    put(out, conv_block(T(x), T(w), bias, pad_h, pad_w, slope));
  });
}

const char *tx_part_block(TxTensor x, TxTensor w, TxTensor b, const int64_t *starts, const int64_t *lengths,
                          int64_t n, int64_t pad_h, int64_t pad_w, double slope, TxTensor *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b);
    const at::Tensor &in = T(x);
    std::vector<at::Tensor> strips;
    strips.reserve(n);
    // From level 4, strips that tile the height in order come from one
    // split_with_sizes: under autograd its backward is one concatenation of
    // the strips' gradients, where narrow's is a zero-filled full-size
    // gradient per strip, then summed (lc_conv2's block forward + backward
    // at batch 64: 0.88× the time, identical gradients; bench/fp32_levers.py
    // train-blocks).
    bool tiles = cpu_layouts.load(std::memory_order_relaxed) >= 4 && in.dim() == 4;
    int64_t next = 0;
    for (int64_t i = 0; tiles && i < n; i++) {
      tiles = starts[i] == next;
      next += lengths[i];
    }
    if (tiles && next == in.size(2)) {
      strips = in.split_with_sizes(at::IntArrayRef(lengths, n), 2);
    } else {
      for (int64_t i = 0; i < n; i++) strips.push_back(in.narrow(2, starts[i], lengths[i]));
    }
    std::vector<at::Tensor> parts;
    parts.reserve(n);
    for (const at::Tensor &s : strips) parts.push_back(conv_block(s, T(w), bias, pad_h, pad_w, slope));
    put(out, at::cat(parts, 2));
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

const char *tx_mul(TxTensor a, TxTensor b, TxTensor *out) {
  return guard([&] { put(out, at::mul(T(a), T(b))); });
}

const char *tx_abs(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, at::abs(T(x))); });
}

const char *tx_sum(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, at::sum(T(x))); });
}

const char *tx_log_sigmoid(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, at::log_sigmoid(T(x))); });
}

const char *tx_log_softmax(TxTensor x, int64_t dim, TxTensor *out) {
  return guard([&] { put(out, at::log_softmax(T(x), dim)); });
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

void *tx_inference_mode_enter(void) { return new c10::InferenceMode(true); }

void tx_inference_mode_exit(void *guard) { delete static_cast<c10::InferenceMode *>(guard); }

bool tx_is_inference_mode(void) { return c10::InferenceMode::is_enabled(); }

namespace {
std::atomic<int> adam_mode{1};
}

int tx_set_adam_mode(int mode) { return adam_mode.exchange(mode); }


int tx_set_cpu_layouts(int level) { return cpu_layouts.exchange(level); }

int tx_cpu_layouts(void) { return cpu_layouts.load(); }

int64_t tx_onednn_blocks(void) { return onednn_blocks.load(); }

int64_t tx_channels_last_convs(void) { return channels_last_convs.load(); }

int64_t tx_onednn_min_batch(void) { return kOneDNNMinBatch; }

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
    // Tensors the one-pass CPU loop cannot take (CUDA, non-contiguous) go
    // through libtorch's multi-tensor _foreach_ ops when the fast path is on:
    // the same operations in the same order as op by op, in a handful of
    // kernel launches instead of six per parameter (torch.optim.Adam's
    // foreach implementation, its default on CUDA).
    std::vector<at::Tensor> fp, fg, fm, fv;
    const int mode = adam_mode.load();
    const bool fused_adam = mode == 1;
    for (int64_t i = 0; i < n; i++) {
      at::Tensor &p = T(params[i]);
      at::Tensor g = p.grad();
      if (!g.defined()) continue;
      if (fused_adam && p.is_cpu() && !g.is_contiguous()) g = g.contiguous();
      if (mode == 2 || (fused_adam && !fusable(p, g, T(exp_avg[i]), T(exp_avg_sq[i])))) {
        fp.push_back(p), fg.push_back(g), fm.push_back(T(exp_avg[i])), fv.push_back(T(exp_avg_sq[i]));
        continue;
      }
      if (fused_adam && fusable(p, g, T(exp_avg[i]), T(exp_avg_sq[i]))) {
        float *pp = p.data_ptr<float>(), *mp = T(exp_avg[i]).data_ptr<float>();
        float *vp = T(exp_avg_sq[i]).data_ptr<float>();
        const float *gp = g.data_ptr<float>();
        const AdamConsts c{float(beta1),        float(1 - beta1), float(beta2), float(1 - beta2),
                           float(weight_decay), float(bc2_sqrt), float(eps),  float(-step_size)};
        at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t lo, int64_t hi) {
          adam_chunk(pp + lo, gp + lo, mp + lo, vp + lo, hi - lo, c);
        });
        // the update bypassed the autograd-visible ops: bump the version
        // counters as the in-place ops would, so that stale saved tensors
        // are still detected.
        p.unsafeGetTensorImpl()->bump_version();
        T(exp_avg[i]).unsafeGetTensorImpl()->bump_version();
        T(exp_avg_sq[i]).unsafeGetTensorImpl()->bump_version();
        continue;
      }
      if (weight_decay != 0) g = g.add(p, weight_decay);
      at::Tensor &m = T(exp_avg[i]);
      at::Tensor &v = T(exp_avg_sq[i]);
      m.mul_(beta1).add_(g, 1 - beta1);
      v.mul_(beta2).addcmul_(g, g.conj(), 1 - beta2);
      at::Tensor denom = (v.sqrt() / bc2_sqrt).add_(eps);
      p.addcdiv_(m, denom, -step_size);
    }
    if (!fp.empty()) {
      if (weight_decay != 0) fg = at::_foreach_add(fg, fp, weight_decay);
      at::_foreach_mul_(fm, beta1);
      at::_foreach_add_(fm, fg, 1 - beta1);
      at::_foreach_mul_(fv, beta2);
      at::_foreach_addcmul_(fv, fg, fg, 1 - beta2);
      std::vector<at::Tensor> denom = at::_foreach_sqrt(fv);
      at::_foreach_div_(denom, bc2_sqrt);
      at::_foreach_add_(denom, eps);
      at::_foreach_addcdiv_(fp, fm, denom, -step_size);
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
  return guard([&] { put(out, channels_last(T(x))); });
}

// Re-lays a 4-D leaf parameter out as channels-last in place (a copy with
// NHWC strides, also for one channel), keeping its identity.
const char *tx_channels_last_(TxTensor param) {
  return guard([&] {
    at::Tensor &t = T(param);
    if (t.dim() == 4) {
      at::NoGradGuard ng;
      t.set_data(at::empty_like(t, at::MemoryFormat::ChannelsLast).copy_(t));
    }
  });
}

const char *tx_strides(TxTensor x, int64_t *dst, int64_t n) {
  return guard([&] {
    TORCH_CHECK(T(x).dim() == n, "strides: tensor has ", T(x).dim(), " dimensions, buffer ", n);
    for (int64_t i = 0; i < n; i++) dst[i] = T(x).stride(i);
  });
}

bool tx_cuda_available(void) { return at::detail::getCUDAHooks().hasCUDA(); }

int tx_cuda_device_count(void) { return at::detail::getCUDAHooks().getNumGPUs(); }

char *tx_version(void) { return dup(TORCH_VERSION); }

char *tx_build_config(void) { return dup(at::show_config()); }

}  // extern "C"

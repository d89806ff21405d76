// quant: int8 inference through libtorch's quantized operators; see quant.h.
#include "quant.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <string>
#include <vector>

#include "guard.h"

namespace {

using torchx_detail::dup;
using torchx_detail::guard;
using torchx_detail::T;

void put(TxTensor *out, at::Tensor t) { *out = new at::Tensor(std::move(t)); }

c10::IValue &P(TxPacked p) { return *static_cast<c10::IValue *>(p); }

// call runs the operator name.overload, boxed, and returns its first output.
c10::IValue call(const char *name, const char *overload, std::vector<c10::IValue> args) {
  auto op = c10::Dispatcher::singleton().findSchemaOrThrow(name, overload);
  torch::jit::Stack st(std::move(args));
  op.callBoxed(&st);
  TORCH_CHECK(!st.empty(), name, " returned nothing");
  return st[0];
}

// per_channel_qint8 quantizes w per output channel (dim 0), symmetric, with
// the given scales (internal/quant.WeightScales: the formula lives in Go,
// shared with the ONNX export) and zero points 0; quantize_per_channel
// rounds with quantize_val (internal/quant.QuantizeWeights mirrors it).
at::Tensor per_channel_qint8(const at::Tensor &w, const double *scales, int64_t n) {
  at::Tensor wf = w.detach().to(at::kFloat).contiguous();
  TORCH_CHECK(n == wf.size(0), "per-channel weight: ", n, " scales for ", wf.size(0), " output channels");
  at::Tensor s = at::from_blob(const_cast<double *>(scales), {n}, at::kDouble).clone();
  at::Tensor zp = at::zeros({wf.size(0)}, at::kLong);
  return at::quantize_per_channel(wf, s, zp, 0, at::kQInt8);
}

at::Tensor q_conv_block(const at::Tensor &xq, const c10::IValue &w, double cs, int64_t cz, double slope, double as,
                        int64_t az) {
  at::Tensor y = call("quantized::conv2d", "new", {xq, w, cs, cz}).toTensor();
  y = call("quantized::leaky_relu", "", {y, c10::Scalar(slope), false, as, az}).toTensor();
  // every list spelled out: the quantized pool reads dilation[1] even when
  // given the one-element default
  return at::max_pool2d(y, {2, 2}, {2, 2}, {0, 0}, {1, 1});
}

}  // namespace

extern "C" {

char *tx_q_engines(void) {
  std::string s;
  for (auto e : at::globalContext().supportedQEngines()) {
    std::string n;
    switch (e) {
      case at::QEngine::FBGEMM: n = "fbgemm"; break;
      case at::QEngine::QNNPACK: n = "qnnpack"; break;
      case at::QEngine::ONEDNN: n = "onednn"; break;
      case at::QEngine::X86: n = "x86"; break;
      default: continue;
    }
    if (!s.empty()) s += ",";
    s += n;
  }
  return dup(s);
}

const char *tx_q_set_engine(const char *name) {
  return guard([&] {
    std::string n(name);
    at::QEngine e;
    if (n == "onednn") e = at::QEngine::ONEDNN;
    else if (n == "qnnpack") e = at::QEngine::QNNPACK;
    else if (n == "fbgemm") e = at::QEngine::FBGEMM;
    else if (n == "x86") e = at::QEngine::X86;
    else TORCH_CHECK(false, "unknown quantized engine \"", n, "\"");
    at::globalContext().setQEngine(e);  // throws when this build lacks it
  });
}

const char *tx_q_conv_prepack(TxTensor w, TxTensor b, const double *scales, int64_t n_scales, int64_t pad_h,
                              int64_t pad_w, TxPacked *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b).detach().to(at::kFloat).contiguous();
    c10::List<int64_t> one({1, 1}), pad({pad_h, pad_w});
    c10::IValue p = call("quantized::conv2d_prepack", "",
                         {per_channel_qint8(T(w), scales, n_scales), bias, one, pad, c10::List<int64_t>({1, 1}), int64_t(1)});
    *out = new c10::IValue(std::move(p));
  });
}

const char *tx_q_linear_prepack(TxTensor w, TxTensor b, const double *scales, int64_t n_scales, TxPacked *out) {
  return guard([&] {
    c10::optional<at::Tensor> bias;
    if (b) bias = T(b).detach().to(at::kFloat).contiguous();
    c10::IValue p = call("quantized::linear_prepack", "", {per_channel_qint8(T(w), scales, n_scales), bias});
    *out = new c10::IValue(std::move(p));
  });
}

void tx_q_packed_free(TxPacked p) { delete static_cast<c10::IValue *>(p); }

const char *tx_q_quantize(TxTensor x, double scale, int64_t zero_point, TxTensor *out) {
  return guard([&] { put(out, at::quantize_per_tensor(T(x), scale, zero_point, at::kQUInt8)); });
}

const char *tx_q_dequantize(TxTensor x, TxTensor *out) {
  return guard([&] { put(out, T(x).dequantize()); });
}

const char *tx_q_conv_block(TxTensor xq, TxPacked w, double conv_scale, int64_t conv_zp, double slope,
                            double act_scale, int64_t act_zp, TxTensor *out) {
  return guard([&] { put(out, q_conv_block(T(xq), P(w), conv_scale, conv_zp, slope, act_scale, act_zp)); });
}

const char *tx_q_part_block(TxTensor xq, TxPacked w, const int64_t *starts, const int64_t *lengths, int64_t n,
                            double conv_scale, int64_t conv_zp, double slope, double act_scale, int64_t act_zp,
                            TxTensor *out) {
  return guard([&] {
    std::vector<at::Tensor> parts;
    parts.reserve(n);
    for (int64_t i = 0; i < n; i++)
      parts.push_back(q_conv_block(T(xq).narrow(2, starts[i], lengths[i]), P(w), conv_scale, conv_zp, slope,
                                   act_scale, act_zp));
    // every part has the same parameters: quantized::cat copies the values
    put(out, call("quantized::cat", "", {c10::List<at::Tensor>(parts), int64_t(2), act_scale, act_zp}).toTensor());
  });
}

const char *tx_q_cat(TxTensor *xs, int64_t n, int64_t dim, double scale, int64_t zero_point, TxTensor *out) {
  return guard([&] {
    c10::List<at::Tensor> v;
    for (int64_t i = 0; i < n; i++) v.push_back(T(xs[i]));
    put(out, call("quantized::cat", "", {v, dim, scale, zero_point}).toTensor());
  });
}

const char *tx_q_linear_leaky(TxTensor xq, TxPacked w, double lin_scale, int64_t lin_zp, double slope,
                              double act_scale, int64_t act_zp, TxTensor *out) {
  return guard([&] {
    at::Tensor y = call("quantized::linear", "", {T(xq), P(w), lin_scale, lin_zp}).toTensor();
    put(out, call("quantized::leaky_relu", "", {y, c10::Scalar(slope), false, act_scale, act_zp}).toTensor());
  });
}

const char *tx_aminmax(TxTensor x, double *lo, double *hi) {
  return guard([&] {
    auto mm = at::aminmax(T(x).detach());
    *lo = std::get<0>(mm).item<double>();
    *hi = std::get<1>(mm).item<double>();
  });
}

}  // extern "C"

/* torchx quant: int8 inference through libtorch's quantized engines (onednn,
 * qnnpack), for internal/model's Int8. Same conventions as torchx.h (NULL or a
 * malloc'd message; tensors are at::Tensor * handles released by gotorch).
 *
 * libtorch 1.13's C++ API has no prepare/convert: these functions call the
 * quantized operators (quantized::conv2d_prepack, quantized::conv2d.new,
 * quantized::linear_prepack, quantized::linear, quantized::leaky_relu,
 * quantized::cat) through the dispatcher, boxed. Activations are quint8 with
 * per-tensor affine parameters (scale, zero point) the caller calibrated;
 * weights are qint8, per output channel, symmetric, zero point 0, with the
 * n_scales (= output channels) scales the caller gives (internal/quant's
 * WeightScales), rounded by at::quantize_per_channel; biases stay float32. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "torchx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* TxPacked is a prepacked weight (a c10::IValue holding the engine's packed
 * params), freed with tx_q_packed_free. */
typedef void *TxPacked;

/* the quantized engines this libtorch lists, comma-separated (tx_free it) */
char *tx_q_engines(void);
/* selects the engine ("onednn", "qnnpack", …) for packing and running */
const char *tx_q_set_engine(const char *name);

const char *tx_q_conv_prepack(TxTensor w, TxTensor b, const double *scales, int64_t n_scales, int64_t pad_h,
                              int64_t pad_w, TxPacked *out);
const char *tx_q_linear_prepack(TxTensor w, TxTensor b, const double *scales, int64_t n_scales, TxPacked *out);
void tx_q_packed_free(TxPacked p);

/* x (float32) → quint8 with (scale, zero_point) */
const char *tx_q_quantize(TxTensor x, double scale, int64_t zero_point, TxTensor *out);
const char *tx_q_dequantize(TxTensor x, TxTensor *out);

/* BasicConv2d in int8: conv (stride 1, the packed padding) with its output in
 * (conv_scale, conv_zp) → leaky_relu(slope) requantized to (act_scale, act_zp)
 * → 2×2/2 max-pool (same parameters). */
const char *tx_q_conv_block(TxTensor xq, TxPacked w, double conv_scale, int64_t conv_zp, double slope,
                            double act_scale, int64_t act_zp, TxTensor *out);
/* PartConv2d in int8: tx_q_conv_block on the row strips
 * [starts[i], starts[i]+lengths[i]) with the same parameters, concatenated
 * along the height. */
const char *tx_q_part_block(TxTensor xq, TxPacked w, const int64_t *starts, const int64_t *lengths, int64_t n,
                            double conv_scale, int64_t conv_zp, double slope, double act_scale, int64_t act_zp,
                            TxTensor *out);
/* quantized tensors concatenated along dim, requantized to (scale, zp) */
const char *tx_q_cat(TxTensor *xs, int64_t n, int64_t dim, double scale, int64_t zero_point, TxTensor *out);
/* linear with its output in (lin_scale, lin_zp) → leaky_relu(slope)
 * requantized to (act_scale, act_zp) */
const char *tx_q_linear_leaky(TxTensor xq, TxPacked w, double lin_scale, int64_t lin_zp, double slope,
                              double act_scale, int64_t act_zp, TxTensor *out);

/* the smallest and largest value of a float tensor (calibration) */
const char *tx_aminmax(TxTensor x, double *lo, double *hi);

#ifdef __cplusplus
}
#endif

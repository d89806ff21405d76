/* torchx: the tensor operations gaitord needs beyond gotorch's shim.
 *
 * Plain C as seen from Go. Every tensor handle is an `at::Tensor *` (the same
 * representation gotorch uses), created with `new` and released by gotorch's
 * finalizer (Tensor_Close). Functions that can fail return NULL on success or
 * a malloc'd message (the libtorch error without its C++ backtrace) that the
 * caller frees with tx_free. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *TxTensor;

void tx_free(void *p);

/* construction and copies */
const char *tx_from_float32(const float *data, const int64_t *shape, int64_t ndim, TxTensor *out);
/* tx_from_float32_on copies data straight to device ("cpu", "cuda:N"):
 * one host-to-device copy, no intermediate CPU tensor. */
const char *tx_from_float32_on(const float *data, const int64_t *shape, int64_t ndim, const char *device,
                               TxTensor *out);
const char *tx_from_int64(const int64_t *data, const int64_t *shape, int64_t ndim, TxTensor *out);
const char *tx_zeros(const int64_t *shape, int64_t ndim, TxTensor *out);
const char *tx_copy_float32(TxTensor x, float *dst, int64_t n);
const char *tx_numel(TxTensor x, int64_t *out);
const char *tx_to_device(TxTensor x, const char *device, TxTensor *out);
const char *tx_device(TxTensor x, char **out);
const char *tx_clone(TxTensor x, TxTensor *out);

/* in-place updates, never recorded by autograd */
const char *tx_copy_(TxTensor dst, TxTensor src);
const char *tx_uniform_(TxTensor x, double lo, double hi);
const char *tx_xavier_uniform_(TxTensor x, double gain);
const char *tx_fill_(TxTensor x, double v);
const char *tx_set_requires_grad(TxTensor x, bool requires);

/* differentiable operations */
const char *tx_conv2d(TxTensor x, TxTensor w, TxTensor b, int64_t pad_h, int64_t pad_w, TxTensor *out);
/* BasicConv2d: stride-1 conv (padding pad_h, pad_w) → leaky_relu(slope) →
 * 2×2/2 max-pool, in the layouts fastest on CPU (see torchx.cc); b may be NULL. */
const char *tx_conv_block(TxTensor x, TxTensor w, TxTensor b, int64_t pad_h, int64_t pad_w, double slope,
                          TxTensor *out);
/* PartConv2d: tx_conv_block on n strips x[:, :, starts[i]:starts[i]+lengths[i]]
 * with shared weights, concatenated along the height. */
const char *tx_part_block(TxTensor x, TxTensor w, TxTensor b, const int64_t *starts, const int64_t *lengths,
                          int64_t n, int64_t pad_h, int64_t pad_w, double slope, TxTensor *out);
/* benchmark lever for tx_conv_block on CPU: 0 plain order, 1 channels-last
 * first layer only, 2 all strided layout choices, 3 level 2 plus oneDNN tensors
 * (blocked conv output, pool on it) without autograd for batches of at least
 * tx_onednn_min_batch(), 4 level 3 plus channels-last multi-channel convs
 * under autograd and tiling part strips taken by one split (default);
 * returns the previous level. tx_cpu_layouts reads the current level. */
int tx_set_cpu_layouts(int level);
int tx_cpu_layouts(void);
/* how many blocks have taken the oneDNN-tensor path of level 3 (for tests) */
int64_t tx_onednn_blocks(void);
/* how many multi-channel convolutions have run channels-last under autograd (level 4; for tests) */
int64_t tx_channels_last_convs(void);
/* the smallest batch that takes that path (smaller ones keep level 2) */
int64_t tx_onednn_min_batch(void);
const char *tx_max_pool2d(TxTensor x, int64_t kernel, int64_t stride, TxTensor *out);
const char *tx_leaky_relu(TxTensor x, double slope, TxTensor *out);
const char *tx_linear(TxTensor x, TxTensor w, TxTensor b, TxTensor *out);
const char *tx_cat(TxTensor *xs, int64_t n, int64_t dim, TxTensor *out);
const char *tx_narrow(TxTensor x, int64_t dim, int64_t start, int64_t length, TxTensor *out);
const char *tx_reshape(TxTensor x, const int64_t *shape, int64_t ndim, TxTensor *out);
const char *tx_dropout(TxTensor x, double p, bool train, TxTensor *out);
const char *tx_cumsum(TxTensor x, int64_t dim, TxTensor *out);
const char *tx_pow(TxTensor x, double exponent, TxTensor *out);
const char *tx_clamp(TxTensor x, double lo, double hi, TxTensor *out);
const char *tx_sigmoid(TxTensor x, TxTensor *out);
const char *tx_softmax(TxTensor x, int64_t dim, TxTensor *out);
const char *tx_sum_dim(TxTensor x, int64_t dim, bool keepdim, TxTensor *out);
const char *tx_mean_dim(TxTensor x, int64_t dim, bool keepdim, TxTensor *out);
const char *tx_mean(TxTensor x, TxTensor *out);
const char *tx_add(TxTensor a, TxTensor b, double alpha, TxTensor *out);
const char *tx_mul_scalar(TxTensor x, double s, TxTensor *out);
const char *tx_add_scalar(TxTensor x, double s, TxTensor *out);
const char *tx_sub(TxTensor a, TxTensor b, TxTensor *out);
const char *tx_mul(TxTensor a, TxTensor b, TxTensor *out);
const char *tx_abs(TxTensor x, TxTensor *out);
const char *tx_sum(TxTensor x, TxTensor *out);
const char *tx_log_sigmoid(TxTensor x, TxTensor *out);
const char *tx_log_softmax(TxTensor x, int64_t dim, TxTensor *out);
const char *tx_bce_with_logits(TxTensor logits, TxTensor target, TxTensor *out);
const char *tx_cross_entropy(TxTensor logits, TxTensor target, TxTensor *out);

/* autograd */
const char *tx_backward(TxTensor loss);
const char *tx_grad(TxTensor x, TxTensor *out, bool *defined);
const char *tx_zero_grad(TxTensor *params, int64_t n);
bool tx_set_grad_enabled(bool enabled); /* returns the previous mode */
bool tx_is_grad_enabled(void);
/* c10::InferenceMode on the calling thread: enter returns the guard that
 * exit (on the same thread) deletes, restoring the previous state. */
void *tx_inference_mode_enter(void);
void tx_inference_mode_exit(void *guard);
bool tx_is_inference_mode(void);

/* Adam (torch.optim.Adam, amsgrad=False, L2 weight decay added to the
 * gradient), one call for every parameter. step counts from 1. Contiguous
 * CPU float32 tensors are updated in one fused pass each; the others (CUDA,
 * strided) with multi-tensor _foreach_ ops. tx_set_adam_mode picks the path
 * (a benchmark and test lever): 0 op by op, 1 fused + foreach (the default),
 * 2 foreach for every tensor; it returns the previous mode. */
int tx_set_adam_mode(int mode);
const char *tx_adam_step(TxTensor *params, TxTensor *exp_avg, TxTensor *exp_avg_sq, int64_t n,
                         int64_t step, double lr, double beta1, double beta2, double eps,
                         double weight_decay);

/* scalars and checks */
const char *tx_item(TxTensor x, double *out);
const char *tx_all_finite(TxTensor x, bool *out);

/* runtime */
void tx_manual_seed(uint64_t seed);
/* the default CPU generator's state as bytes: size, copy out, restore */
const char *tx_rng_state_size(int64_t *n);
const char *tx_rng_state(uint8_t *dst, int64_t n);
const char *tx_set_rng_state(const uint8_t *src, int64_t n);
void tx_set_num_threads(int n);
const char *tx_set_num_interop_threads(int n);
int tx_get_num_interop_threads(void);
void tx_set_mkldnn_enabled(bool on);
bool tx_mkldnn_enabled(void);
const char *tx_channels_last(TxTensor x, TxTensor *out);
const char *tx_channels_last_(TxTensor param);
const char *tx_strides(TxTensor x, int64_t *dst, int64_t n);
int tx_get_num_threads(void);
bool tx_cuda_available(void);
int tx_cuda_device_count(void);
char *tx_version(void);
char *tx_build_config(void);

#ifdef __cplusplus
}
#endif

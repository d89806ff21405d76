// Package torchx adds to gotorch the tensor operations gaitord's model and
// losses need (non-square convolutions, concatenation, narrowing, dropout,
// cumulative sums, losses, a no-grad scope, a fused Adam step, seeding and
// thread control, copies to and from Go slices).
//
// The C++ lives in native/torchx and is compiled into libtorchx.so by
// scripts/install_libtorch.sh against the same libtorch as gotorch's shim;
// Go sees only the plain C header. Every tensor returned here is a
// gotorch.Tensor released by gotorch's finalizer, so the usual gotorch rule
// applies: call torch.GC() once per step on the main goroutine and create
// tensors that must outlive a step before the loop.
//
// A libtorch failure (bad shapes, a missing device, …) panics with *Error,
// carrying libtorch's message; Catch turns such a panic back into an error at
// an API boundary.
package torchx

// #cgo CFLAGS: -I${SRCDIR}/../../native/torchx
// #cgo LDFLAGS: -ltorchx
// #include <stdlib.h>
// #include "torchx.h"
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	torch "github.com/wangkuiyi/gotorch"
)

// Tensor is gotorch's tensor handle.
type Tensor = torch.Tensor

// Error is a failure inside libtorch, raised as a panic by the operations of
// this package.
type Error struct {
	Op  string // the torchx operation
	Msg string // libtorch's message, without its C++ backtrace
}

func (e *Error) Error() string { return fmt.Sprintf("libtorch %s: %s", e.Op, e.Msg) }

// Catch runs fn and returns the *Error it panicked with, if any. Other panics
// propagate.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*Error)
			if !ok {
				panic(r)
			}
			err = e
		}
	}()
	fn()
	return nil
}

func check(op string, msg *C.char) {
	if msg == nil {
		return
	}
	s := C.GoString(msg)
	C.tx_free(unsafe.Pointer(msg))
	panic(&Error{Op: op, Msg: firstLine(s)})
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// wrap hands a new at::Tensor* to gotorch's finalizer mechanism.
func wrap(p C.TxTensor) Tensor {
	ptr := unsafe.Pointer(p)
	t := &ptr
	torch.SetTensorFinalizer(t)
	return Tensor{T: t}
}

func h(t Tensor) C.TxTensor {
	if t.T == nil {
		return nil
	}
	return C.TxTensor(*t.T)
}

func shapeArg(shape []int64) (*C.int64_t, C.int64_t) {
	if len(shape) == 0 {
		return nil, 0
	}
	return (*C.int64_t)(unsafe.Pointer(&shape[0])), C.int64_t(len(shape))
}

func numel(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// FromFloat32 copies data into a new CPU float32 tensor of the given shape.
func FromFloat32(data []float32, shape ...int64) Tensor { return FromFloat32On(data, "cpu", shape...) }

// FromFloat32On is FromFloat32 onto device ("cpu", "cuda", "cuda:N"), with
// one copy: on a GPU, straight from Go memory to the device.
func FromFloat32On(data []float32, device string, shape ...int64) Tensor {
	if len(data) != numel(shape) {
		panic(&Error{Op: "from_float32", Msg: fmt.Sprintf("%d values for shape %v", len(data), shape)})
	}
	var out C.TxTensor
	s, n := shapeArg(shape)
	var p *C.float
	if len(data) > 0 {
		p = (*C.float)(unsafe.Pointer(&data[0]))
	}
	if device == "cpu" || device == "" {
		check("from_float32", C.tx_from_float32(p, s, n, &out))
	} else {
		cd := C.CString(device)
		defer C.free(unsafe.Pointer(cd))
		check("from_float32", C.tx_from_float32_on(p, s, n, cd, &out))
	}
	runtime.KeepAlive(data)
	return wrap(out)
}

// FromInt64 copies data into a new CPU int64 tensor of the given shape.
func FromInt64(data []int64, shape ...int64) Tensor {
	if len(data) != numel(shape) {
		panic(&Error{Op: "from_int64", Msg: fmt.Sprintf("%d values for shape %v", len(data), shape)})
	}
	var out C.TxTensor
	s, n := shapeArg(shape)
	var p *C.int64_t
	if len(data) > 0 {
		p = (*C.int64_t)(unsafe.Pointer(&data[0]))
	}
	check("from_int64", C.tx_from_int64(p, s, n, &out))
	runtime.KeepAlive(data)
	return wrap(out)
}

// Zeros returns a new CPU float32 tensor of zeros.
func Zeros(shape ...int64) Tensor {
	var out C.TxTensor
	s, n := shapeArg(shape)
	check("zeros", C.tx_zeros(s, n, &out))
	return wrap(out)
}

// Numel returns the number of elements of t.
func Numel(t Tensor) int {
	defer keep(t)
	var n C.int64_t
	check("numel", C.tx_numel(h(t), &n))
	return int(n)
}

// Float32s copies t (any device, any floating dtype) into a new Go slice.
func Float32s(t Tensor) []float32 {
	dst := make([]float32, Numel(t))
	CopyTo(dst, t)
	return dst
}

// CopyTo copies t into dst, which must have exactly Numel(t) elements.
func CopyTo(dst []float32, t Tensor) {
	defer keep(t)
	var p *C.float
	if len(dst) > 0 {
		p = (*C.float)(unsafe.Pointer(&dst[0]))
	}
	check("copy_float32", C.tx_copy_float32(h(t), p, C.int64_t(len(dst))))
}

// To moves t to a device ("cpu", "cuda", "cuda:1").
func To(t Tensor, device string) Tensor {
	defer keep(t)
	cs := C.CString(device)
	defer C.free(unsafe.Pointer(cs))
	var out C.TxTensor
	check("to", C.tx_to_device(h(t), cs, &out))
	return wrap(out)
}

// Device names the device t lives on, e.g. "cpu" or "cuda:0".
func Device(t Tensor) string {
	defer keep(t)
	var s *C.char
	check("device", C.tx_device(h(t), &s))
	defer C.tx_free(unsafe.Pointer(s))
	return C.GoString(s)
}

// Clone returns a detached copy of t.
func Clone(t Tensor) Tensor {
	defer keep(t)
	var out C.TxTensor
	check("clone", C.tx_clone(h(t), &out))
	return wrap(out)
}

// Copy_ copies src into dst in place (no autograd record).
func Copy_(dst, src Tensor) {
	defer keep(dst, src)
	check("copy_", C.tx_copy_(h(dst), h(src)))
}

// Uniform_ fills t with uniform samples from [lo, hi) drawn from the default generator.
func Uniform_(t Tensor, lo, hi float64) {
	defer keep(t)
	check("uniform_", C.tx_uniform_(h(t), C.double(lo), C.double(hi)))
}

// XavierUniform_ is torch.nn.init.xavier_uniform_: U(−b, b) with
// b = gain·√(6/(fan_in+fan_out)).
func XavierUniform_(t Tensor, gain float64) {
	defer keep(t)
	check("xavier_uniform_", C.tx_xavier_uniform_(h(t), C.double(gain)))
}

// Fill_ sets every element of t to v.
func Fill_(t Tensor, v float64) {
	defer keep(t)
	check("fill_", C.tx_fill_(h(t), C.double(v)))
}

// SetRequiresGrad marks t as a leaf whose gradient autograd accumulates.
func SetRequiresGrad(t Tensor, requires bool) {
	defer keep(t)
	check("set_requires_grad", C.tx_set_requires_grad(h(t), C.bool(requires)))
}

// keep holds tensors alive until the deferred call runs. Every wrapper
// defers keep on its tensor arguments: the C call receives only the
// at::Tensor pointers, and without it the Go handle of an argument not used
// after the call may be collected, and its finalizer free the at::Tensor,
// while libtorch still reads it (a long call, such as a whole convolution
// block, made this visible as a crash after a few hundred steps).
func keep(ts ...Tensor) { runtime.KeepAlive(ts) }

func op1(name string, f func(*C.TxTensor) *C.char) Tensor {
	var out C.TxTensor
	check(name, f(&out))
	return wrap(out)
}

// Conv2d is a stride-1 2-D convolution with per-axis zero padding; b may be
// the zero Tensor for no bias. x: (N, Cin, H, W), w: (Cout, Cin, kh, kw).
func Conv2d(x, w, b Tensor, padH, padW int64) Tensor {
	defer keep(x, w, b)
	return op1("conv2d", func(o *C.TxTensor) *C.char {
		return C.tx_conv2d(h(x), h(w), h(b), C.int64_t(padH), C.int64_t(padW), o)
	})
}

// ConvBlock is BasicConv2d: a stride-1 convolution with per-axis zero
// padding, leaky_relu(slope), then 2×2 max pooling with stride 2; b may be
// the zero Tensor. Its values equal MaxPool2d(LeakyReLU(Conv2d(x, w, b, padH,
// padW), slope), 2, 2); on CPU it runs in the memory layouts libtorch is
// fastest with (channels-last single-channel convolution and pooling; without
// autograd, under NoGrad or InferenceMode, float32 blocks of at least
// OneDNNMinBatch samples run in oneDNN's blocked layout from the convolution
// through the pool; see
// native/torchx/torchx.cc) and returns a contiguous NCHW tensor.
func ConvBlock(x, w, b Tensor, padH, padW int64, slope float64) Tensor {
	defer keep(x, w, b)
	return op1("conv_block", func(o *C.TxTensor) *C.char {
		return C.tx_conv_block(h(x), h(w), h(b), C.int64_t(padH), C.int64_t(padW), C.double(slope), o)
	})
}

// PartBlock is PartConv2d: ConvBlock with shared weights on the row strips
// [start, start+length) of x (strips[i] = {start, length}), concatenated
// along the height.
func PartBlock(x, w, b Tensor, strips [][2]int64, padH, padW int64, slope float64) Tensor {
	defer keep(x, w, b)
	if len(strips) == 0 {
		panic(&Error{Op: "part_block", Msg: "no strips"})
	}
	starts := make([]int64, len(strips))
	lengths := make([]int64, len(strips))
	for i, s := range strips {
		starts[i], lengths[i] = s[0], s[1]
	}
	// The C side only reads the two arrays during the call; cgo pins Go
	// memory passed directly as a pointer argument.
	return op1("part_block", func(o *C.TxTensor) *C.char {
		return C.tx_part_block(h(x), h(w), h(b), (*C.int64_t)(unsafe.Pointer(&starts[0])),
			(*C.int64_t)(unsafe.Pointer(&lengths[0])), C.int64_t(len(strips)), C.int64_t(padH), C.int64_t(padW),
			C.double(slope), o)
	})
}

// SetCPULayouts is a benchmark lever for ConvBlock and PartBlock on CPU:
// 0 runs the plain order (conv, leaky_relu, pool, all NCHW), 1 only the
// channels-last single-channel convolution, 2 every strided layout choice, 3
// level 2 plus, without autograd and from OneDNNMinBatch samples, the oneDNN
// blocked layout from convolution through pool, 4 level 3 plus channels-last
// multi-channel convolutions on the strided path and part blocks whose strips
// tile the height split at once (the default). It returns the previous
// level.
func SetCPULayouts(level int) int { return int(C.tx_set_cpu_layouts(C.int(level))) }

// CPULayouts is the current SetCPULayouts level.
func CPULayouts() int { return int(C.tx_cpu_layouts()) }

// OneDNNBlocks counts the ConvBlock and PartBlock strip calls that have run
// the oneDNN blocked-layout path (level 3 without autograd) in this process;
// tests read it to know that path ran.
func OneDNNBlocks() int64 { return int64(C.tx_onednn_blocks()) }

// ChannelsLastConvs counts the multi-channel convolutions of ConvBlock and
// PartBlock strips that have run channels-last under autograd (level 4) in
// this process; tests read it to know that path ran.
func ChannelsLastConvs() int64 { return int64(C.tx_channels_last_convs()) }

// OneDNNMinBatch is the smallest batch that takes the oneDNN blocked-layout
// path; smaller batches, where its two reorders cost more than they save,
// keep level 2 (figures in native/torchx/torchx.cc and bench/README.md).
func OneDNNMinBatch() int { return int(C.tx_onednn_min_batch()) }

// MaxPool2d is max pooling with a square kernel and stride.
func MaxPool2d(x Tensor, kernel, stride int64) Tensor {
	defer keep(x)
	return op1("max_pool2d", func(o *C.TxTensor) *C.char {
		return C.tx_max_pool2d(h(x), C.int64_t(kernel), C.int64_t(stride), o)
	})
}

// LeakyReLU is max(x, 0) + slope·min(x, 0).
func LeakyReLU(x Tensor, slope float64) Tensor {
	defer keep(x)
	return op1("leaky_relu", func(o *C.TxTensor) *C.char { return C.tx_leaky_relu(h(x), C.double(slope), o) })
}

// Linear is x·wᵀ + b; b may be the zero Tensor.
func Linear(x, w, b Tensor) Tensor {
	defer keep(x, w, b)
	return op1("linear", func(o *C.TxTensor) *C.char { return C.tx_linear(h(x), h(w), h(b), o) })
}

// Cat concatenates tensors along dim.
func Cat(xs []Tensor, dim int64) Tensor {
	defer runtime.KeepAlive(xs)
	hs := (*[1 << 20]C.TxTensor)(C.malloc(C.size_t(len(xs)+1) * C.size_t(unsafe.Sizeof(C.TxTensor(nil)))))
	defer C.free(unsafe.Pointer(hs))
	for i, x := range xs {
		hs[i] = h(x)
	}
	return op1("cat", func(o *C.TxTensor) *C.char { return C.tx_cat(&hs[0], C.int64_t(len(xs)), C.int64_t(dim), o) })
}

// Narrow returns the view x[..., start:start+length, ...] along dim.
func Narrow(x Tensor, dim, start, length int64) Tensor {
	defer keep(x)
	return op1("narrow", func(o *C.TxTensor) *C.char {
		return C.tx_narrow(h(x), C.int64_t(dim), C.int64_t(start), C.int64_t(length), o)
	})
}

// Reshape returns x with a new shape (one dimension may be −1).
func Reshape(x Tensor, shape ...int64) Tensor {
	defer keep(x)
	s, n := shapeArg(shape)
	return op1("reshape", func(o *C.TxTensor) *C.char { return C.tx_reshape(h(x), s, n, o) })
}

// Dropout zeroes elements with probability p and scales the rest by 1/(1−p)
// when train is true; it is the identity otherwise.
func Dropout(x Tensor, p float64, train bool) Tensor {
	defer keep(x)
	return op1("dropout", func(o *C.TxTensor) *C.char { return C.tx_dropout(h(x), C.double(p), C.bool(train), o) })
}

// Cumsum is the cumulative sum along dim.
func Cumsum(x Tensor, dim int64) Tensor {
	defer keep(x)
	return op1("cumsum", func(o *C.TxTensor) *C.char { return C.tx_cumsum(h(x), C.int64_t(dim), o) })
}

// Pow raises every element to exponent.
func Pow(x Tensor, exponent float64) Tensor {
	defer keep(x)
	return op1("pow", func(o *C.TxTensor) *C.char { return C.tx_pow(h(x), C.double(exponent), o) })
}

// Square is Pow(x, 2).
func Square(x Tensor) Tensor { return Pow(x, 2) }

// Clamp limits every element to [lo, hi].
func Clamp(x Tensor, lo, hi float64) Tensor {
	defer keep(x)
	return op1("clamp", func(o *C.TxTensor) *C.char { return C.tx_clamp(h(x), C.double(lo), C.double(hi), o) })
}

// Sigmoid is 1/(1+e^−x).
func Sigmoid(x Tensor) Tensor {
	defer keep(x)
	return op1("sigmoid", func(o *C.TxTensor) *C.char { return C.tx_sigmoid(h(x), o) })
}

// Softmax along dim.
func Softmax(x Tensor, dim int64) Tensor {
	defer keep(x)
	return op1("softmax", func(o *C.TxTensor) *C.char { return C.tx_softmax(h(x), C.int64_t(dim), o) })
}

// SumDim sums over dim.
func SumDim(x Tensor, dim int64, keepdim bool) Tensor {
	defer keep(x)
	return op1("sum", func(o *C.TxTensor) *C.char { return C.tx_sum_dim(h(x), C.int64_t(dim), C.bool(keepdim), o) })
}

// MeanDim averages over dim.
func MeanDim(x Tensor, dim int64, keepdim bool) Tensor {
	defer keep(x)
	return op1("mean", func(o *C.TxTensor) *C.char { return C.tx_mean_dim(h(x), C.int64_t(dim), C.bool(keepdim), o) })
}

// Mean averages every element into a scalar tensor.
func Mean(x Tensor) Tensor {
	defer keep(x)
	return op1("mean", func(o *C.TxTensor) *C.char { return C.tx_mean(h(x), o) })
}

// Add is a + alpha·b.
func Add(a, b Tensor, alpha float64) Tensor {
	defer keep(a, b)
	return op1("add", func(o *C.TxTensor) *C.char { return C.tx_add(h(a), h(b), C.double(alpha), o) })
}

// Sub is a − b.
func Sub(a, b Tensor) Tensor {
	defer keep(a, b)
	return op1("sub", func(o *C.TxTensor) *C.char { return C.tx_sub(h(a), h(b), o) })
}

// Mul is the elementwise product a·b (broadcasting).
func Mul(a, b Tensor) Tensor {
	defer keep(a, b)
	return op1("mul", func(o *C.TxTensor) *C.char { return C.tx_mul(h(a), h(b), o) })
}

// Abs is |x| elementwise.
func Abs(x Tensor) Tensor {
	defer keep(x)
	return op1("abs", func(o *C.TxTensor) *C.char { return C.tx_abs(h(x), o) })
}

// Sum adds every element into a scalar tensor.
func Sum(x Tensor) Tensor {
	defer keep(x)
	return op1("sum", func(o *C.TxTensor) *C.char { return C.tx_sum(h(x), o) })
}

// LogSigmoid is log σ(x) = −log(1 + e^−x), computed stably.
func LogSigmoid(x Tensor) Tensor {
	defer keep(x)
	return op1("log_sigmoid", func(o *C.TxTensor) *C.char { return C.tx_log_sigmoid(h(x), o) })
}

// LogSoftmax is log softmax along dim, computed stably.
func LogSoftmax(x Tensor, dim int64) Tensor {
	defer keep(x)
	return op1("log_softmax", func(o *C.TxTensor) *C.char { return C.tx_log_softmax(h(x), C.int64_t(dim), o) })
}

// MulScalar is s·x.
func MulScalar(x Tensor, s float64) Tensor {
	defer keep(x)
	return op1("mul", func(o *C.TxTensor) *C.char { return C.tx_mul_scalar(h(x), C.double(s), o) })
}

// AddScalar is x + s.
func AddScalar(x Tensor, s float64) Tensor {
	defer keep(x)
	return op1("add", func(o *C.TxTensor) *C.char { return C.tx_add_scalar(h(x), C.double(s), o) })
}

// BCEWithLogits is the mean over all elements of
// −[t·log σ(z) + (1−t)·log(1−σ(z))], computed stably from the logits z.
func BCEWithLogits(logits, target Tensor) Tensor {
	defer keep(logits, target)
	return op1("binary_cross_entropy_with_logits", func(o *C.TxTensor) *C.char {
		return C.tx_bce_with_logits(h(logits), h(target), o)
	})
}

// CrossEntropy is the mean softmax cross-entropy of logits (N, C) against
// int64 class indices (N).
func CrossEntropy(logits, target Tensor) Tensor {
	defer keep(logits, target)
	return op1("cross_entropy", func(o *C.TxTensor) *C.char { return C.tx_cross_entropy(h(logits), h(target), o) })
}

// Backward accumulates the gradients of the scalar loss into the leaves.
func Backward(loss Tensor) {
	defer keep(loss)
	check("backward", C.tx_backward(h(loss)))
}

// Grad returns t's accumulated gradient and whether it is defined.
func Grad(t Tensor) (Tensor, bool) {
	defer keep(t)
	var out C.TxTensor
	var defined C.bool
	check("grad", C.tx_grad(h(t), &out, &defined))
	if !bool(defined) {
		return Tensor{}, false
	}
	return wrap(out), true
}

// ZeroGrad drops the accumulated gradients of params (sets them to None, as
// PyTorch's zero_grad(set_to_none=True)).
func ZeroGrad(params []Tensor) {
	defer runtime.KeepAlive(params)
	if len(params) == 0 {
		return
	}
	hs := handles(params)
	defer C.free(unsafe.Pointer(hs))
	check("zero_grad", C.tx_zero_grad(hs, C.int64_t(len(params))))
}

func handles(ts []Tensor) *C.TxTensor {
	defer runtime.KeepAlive(ts)
	p := (*[1 << 20]C.TxTensor)(C.malloc(C.size_t(len(ts)+1) * C.size_t(unsafe.Sizeof(C.TxTensor(nil)))))
	for i, t := range ts {
		p[i] = h(t)
	}
	return &p[0]
}

// NoGrad runs fn with autograd recording off, restoring the previous mode
// afterwards (also when fn panics). libtorch's grad mode belongs to an OS
// thread, so the goroutine stays locked to its thread meanwhile: otherwise
// the ops of fn could run on another thread with recording on, and the mode
// restored on a third one.
func NoGrad(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev := C.tx_set_grad_enabled(false)
	defer C.tx_set_grad_enabled(prev)
	fn()
}

// InferenceMode runs fn under c10::InferenceMode: no autograd recording and
// no view or version-counter bookkeeping. Tensors created inside are
// inference tensors, which autograd refuses later: use it for forward passes
// whose results are copied out (to Go memory) before fn returns, and never
// for updates of parameters. Like NoGrad it keeps the goroutine on its OS
// thread until fn returns.
func InferenceMode(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	g := C.tx_inference_mode_enter()
	defer C.tx_inference_mode_exit(g)
	fn()
}

// GradEnabled reports whether autograd records on this thread.
func GradEnabled() bool { return bool(C.tx_is_grad_enabled()) }

// InferenceModeEnabled reports whether c10::InferenceMode is on for this thread.
func InferenceModeEnabled() bool { return bool(C.tx_is_inference_mode()) }

// AdamStep applies one step of torch.optim.Adam (amsgrad off, weight decay
// added to the gradient) to every parameter with a gradient, updating the
// moment estimates expAvg and expAvgSq in place. step counts from 1.
func AdamStep(params, expAvg, expAvgSq []Tensor, step int64, lr, beta1, beta2, eps, weightDecay float64) {
	defer runtime.KeepAlive(params)
	defer runtime.KeepAlive(expAvg)
	defer runtime.KeepAlive(expAvgSq)
	if len(params) != len(expAvg) || len(params) != len(expAvgSq) {
		panic(&Error{Op: "adam", Msg: fmt.Sprintf("%d params, %d exp_avg, %d exp_avg_sq", len(params), len(expAvg), len(expAvgSq))})
	}
	if len(params) == 0 {
		return
	}
	p, m, v := handles(params), handles(expAvg), handles(expAvgSq)
	defer C.free(unsafe.Pointer(p))
	defer C.free(unsafe.Pointer(m))
	defer C.free(unsafe.Pointer(v))
	check("adam", C.tx_adam_step(p, m, v, C.int64_t(len(params)), C.int64_t(step),
		C.double(lr), C.double(beta1), C.double(beta2), C.double(eps), C.double(weightDecay)))
}

// AdamMode selects AdamStep's update path (a benchmark and test lever).
type AdamMode int

const (
	AdamOpByOp  AdamMode = 0 // six ops per parameter
	AdamFused   AdamMode = 1 // one pass per contiguous CPU tensor, _foreach_ ops for the rest (default)
	AdamForeach AdamMode = 2 // libtorch's multi-tensor _foreach_ ops for every tensor
)

// SetAdamMode selects AdamStep's path and returns the previous one.
func SetAdamMode(m AdamMode) AdamMode { return AdamMode(C.tx_set_adam_mode(C.int(m))) }

// Item returns the value of a one-element tensor.
func Item(t Tensor) float64 {
	defer keep(t)
	var v C.double
	check("item", C.tx_item(h(t), &v))
	return float64(v)
}

// AllFinite reports whether no element of t is NaN or infinite.
func AllFinite(t Tensor) bool {
	defer keep(t)
	var ok C.bool
	check("isfinite", C.tx_all_finite(h(t), &ok))
	return bool(ok)
}

// ManualSeed seeds libtorch's default CPU generator (initialisation, dropout).
func ManualSeed(seed uint64) { C.tx_manual_seed(C.uint64_t(seed)) }

// RNGStateBytes returns a copy of the default CPU generator's state.
func RNGStateBytes() []byte {
	var n C.int64_t
	check("rng_state", C.tx_rng_state_size(&n))
	b := make([]byte, int(n))
	check("rng_state", C.tx_rng_state((*C.uint8_t)(unsafe.Pointer(&b[0])), n))
	return b
}

// SetRNGStateBytes restores a state returned by RNGStateBytes; a state of the
// wrong size or content is refused with libtorch's message.
func SetRNGStateBytes(b []byte) {
	if len(b) == 0 {
		panic(&Error{Op: "set_rng_state", Msg: "empty state"})
	}
	check("set_rng_state", C.tx_set_rng_state((*C.uint8_t)(unsafe.Pointer(&b[0])), C.int64_t(len(b))))
}

// SetNumThreads sets libtorch's intra-op thread count for this process.
func SetNumThreads(n int) { C.tx_set_num_threads(C.int(n)) }

// NumThreads returns libtorch's intra-op thread count.
func NumThreads() int { return int(C.tx_get_num_threads()) }

// SetInteropThreads sets libtorch's inter-op pool size; it fails once that
// pool has started.
func SetInteropThreads(n int) {
	check("set_num_interop_threads", C.tx_set_num_interop_threads(C.int(n)))
}

// InteropThreads returns libtorch's inter-op pool size.
func InteropThreads() int { return int(C.tx_get_num_interop_threads()) }

// SetMKLDNNEnabled switches libtorch's oneDNN (mkldnn) kernels on or off.
func SetMKLDNNEnabled(on bool) { C.tx_set_mkldnn_enabled(C.bool(on)) }

// MKLDNNEnabled reports whether oneDNN kernels may be used.
func MKLDNNEnabled() bool { return bool(C.tx_mkldnn_enabled()) }

// ChannelsLast returns x laid out channels-last (NHWC strides). A
// single-channel x becomes a zero-copy view with channel stride 1, which
// oneDNN treats as channels-last (contiguous(ChannelsLast) would leave its
// NCHW strides unchanged).
func ChannelsLast(x Tensor) Tensor {
	defer keep(x)
	return op1("channels_last", func(o *C.TxTensor) *C.char { return C.tx_channels_last(h(x), o) })
}

// ChannelsLast_ re-lays a 4-D parameter out channels-last in place.
func ChannelsLast_(p Tensor) {
	defer keep(p)
	check("channels_last_", C.tx_channels_last_(h(p)))
}

// Strides returns t's strides in elements.
func Strides(t Tensor) []int64 {
	defer keep(t)
	s := make([]int64, len(t.Shape()))
	if len(s) == 0 {
		return s
	}
	check("strides", C.tx_strides(h(t), (*C.int64_t)(unsafe.Pointer(&s[0])), C.int64_t(len(s))))
	return s
}

// CUDAAvailable reports whether libtorch was built with CUDA and sees a GPU.
func CUDAAvailable() bool { return bool(C.tx_cuda_available()) }

// CUDADeviceCount returns the number of visible GPUs.
func CUDADeviceCount() int { return int(C.tx_cuda_device_count()) }

// Version returns the libtorch version, e.g. "1.13.0".
func Version() string {
	s := C.tx_version()
	defer C.tx_free(unsafe.Pointer(s))
	return C.GoString(s)
}

// BuildConfig returns libtorch's build configuration (at::show_config), which
// names the BLAS, LAPACK, oneDNN and OpenMP it uses.
func BuildConfig() string {
	s := C.tx_build_config()
	defer C.tx_free(unsafe.Pointer(s))
	return C.GoString(s)
}

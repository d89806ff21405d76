package torchx

// #include <stdlib.h>
// #include "quant.h"
import "C"

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/gaitord/gaitord/internal/quant"
)

// QParams are a quint8 activation's per-tensor parameters (quant.Params).
type QParams = quant.Params

// QuantEngines lists the quantized engines this libtorch was built with
// ("onednn", "qnnpack", …).
func QuantEngines() []string {
	p := C.tx_q_engines()
	defer C.tx_free(unsafe.Pointer(p))
	s := C.GoString(p)
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// SetQuantEngine selects the quantized engine weights are packed for and
// quantized operators run on (process-wide). It returns an error naming the
// engines available when this libtorch lacks name.
func SetQuantEngine(name string) error {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	if msg := C.tx_q_set_engine(cs); msg != nil {
		s := firstLine(C.GoString(msg))
		C.tx_free(unsafe.Pointer(msg))
		return fmt.Errorf("quantized engine %q: %s (this libtorch has: %s)", name, s, strings.Join(QuantEngines(), ", "))
	}
	return nil
}

// Packed is a weight prepacked for the current quantized engine: qint8 per
// output channel, symmetric, with the scales given (quant.WeightScales),
// rounded by libtorch's quantize_per_channel (quant.QuantizeWeights mirrors
// it), with its float32 bias. It holds native memory until Close.
type Packed struct{ p C.TxPacked }

// Close frees the packed weight; a closed or zero Packed is left alone.
func (p *Packed) Close() {
	if p.p != nil {
		C.tx_q_packed_free(p.p)
		p.p = nil
	}
}

// PackConv prepacks a stride-1 convolution's weight (Cout, Cin, kh, kw),
// quantized with one scale per output channel, and bias (Cout, or the zero
// Tensor) with its padding.
func PackConv(w, b Tensor, scales []float32, padH, padW int64) Packed {
	defer keep(w, b)
	s := doubles(scales)
	var out C.TxPacked
	check("q_conv_prepack", C.tx_q_conv_prepack(h(w), h(b), s.p(), C.int64_t(len(s)), C.int64_t(padH), C.int64_t(padW), &out))
	return Packed{p: out}
}

// PackLinear prepacks a linear layer's weight (out, in), quantized with one
// scale per output, and bias (out).
func PackLinear(w, b Tensor, scales []float32) Packed {
	defer keep(w, b)
	s := doubles(scales)
	var out C.TxPacked
	check("q_linear_prepack", C.tx_q_linear_prepack(h(w), h(b), s.p(), C.int64_t(len(s)), &out))
	return Packed{p: out}
}

// float64s holds scales for a C call (exact: every float32 is a double).
type float64s []float64

func doubles(s []float32) float64s {
	d := make(float64s, max(1, len(s))) // never empty: p takes &d[0]
	for i, v := range s {
		d[i] = float64(v)
	}
	return d[:len(s)]
}

func (d float64s) p() *C.double {
	if cap(d) == 0 {
		return nil
	}
	return (*C.double)(unsafe.Pointer(&d[:1][0]))
}

// Quantize converts a float32 tensor to quint8 with q.
func Quantize(x Tensor, q QParams) Tensor {
	defer keep(x)
	return op1("q_quantize", func(o *C.TxTensor) *C.char {
		return C.tx_q_quantize(h(x), C.double(q.Scale), C.int64_t(q.ZeroPoint), o)
	})
}

// Dequantize converts a quantized tensor back to float32.
func Dequantize(x Tensor) Tensor {
	defer keep(x)
	return op1("q_dequantize", func(o *C.TxTensor) *C.char { return C.tx_q_dequantize(h(x), o) })
}

// QConvBlock is ConvBlock on a quint8 input: the convolution's output in
// conv, leaky_relu(slope) requantized to act, then the 2×2 max-pool.
func QConvBlock(xq Tensor, w Packed, conv QParams, slope float64, act QParams) Tensor {
	defer keep(xq)
	return op1("q_conv_block", func(o *C.TxTensor) *C.char {
		return C.tx_q_conv_block(h(xq), w.p, C.double(conv.Scale), C.int64_t(conv.ZeroPoint), C.double(slope),
			C.double(act.Scale), C.int64_t(act.ZeroPoint), o)
	})
}

// QPartBlock is PartBlock on a quint8 input: QConvBlock with the same packed
// weight and parameters on each row strip {start, length}, concatenated
// along the height.
func QPartBlock(xq Tensor, w Packed, strips [][2]int64, conv QParams, slope float64, act QParams) Tensor {
	defer keep(xq)
	if len(strips) == 0 {
		panic(&Error{Op: "q_part_block", Msg: "no strips"})
	}
	starts := make([]int64, len(strips))
	lengths := make([]int64, len(strips))
	for i, s := range strips {
		starts[i], lengths[i] = s[0], s[1]
	}
	return op1("q_part_block", func(o *C.TxTensor) *C.char {
		return C.tx_q_part_block(h(xq), w.p, (*C.int64_t)(unsafe.Pointer(&starts[0])),
			(*C.int64_t)(unsafe.Pointer(&lengths[0])), C.int64_t(len(strips)), C.double(conv.Scale),
			C.int64_t(conv.ZeroPoint), C.double(slope), C.double(act.Scale), C.int64_t(act.ZeroPoint), o)
	})
}

// QCat concatenates quantized tensors along dim, requantized to q.
func QCat(xs []Tensor, dim int64, q QParams) Tensor {
	defer keep(xs...)
	hs := (*[1 << 20]C.TxTensor)(C.malloc(C.size_t(len(xs)+1) * C.size_t(unsafe.Sizeof(C.TxTensor(nil)))))
	defer C.free(unsafe.Pointer(hs))
	for i, x := range xs {
		hs[i] = h(x)
	}
	return op1("q_cat", func(o *C.TxTensor) *C.char {
		return C.tx_q_cat(&hs[0], C.int64_t(len(xs)), C.int64_t(dim), C.double(q.Scale), C.int64_t(q.ZeroPoint), o)
	})
}

// QLinearLeaky is a quantized linear layer with its output in lin, then
// leaky_relu(slope) requantized to act.
func QLinearLeaky(xq Tensor, w Packed, lin QParams, slope float64, act QParams) Tensor {
	defer keep(xq)
	return op1("q_linear_leaky", func(o *C.TxTensor) *C.char {
		return C.tx_q_linear_leaky(h(xq), w.p, C.double(lin.Scale), C.int64_t(lin.ZeroPoint), C.double(slope),
			C.double(act.Scale), C.int64_t(act.ZeroPoint), o)
	})
}

// AMinMax returns the smallest and largest value of a float tensor.
func AMinMax(x Tensor) (lo, hi float64) {
	defer keep(x)
	var l, u C.double
	check("aminmax", C.tx_aminmax(h(x), &l, &u))
	return float64(l), float64(u)
}

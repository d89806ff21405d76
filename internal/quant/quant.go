// Package quant holds gaitord's int8 quantization scheme as numbers: the
// formulas that turn calibrated float32 ranges into quantization parameters
// and float32 weights into int8 ones. Both int8 forms of the network read
// them from here: the libtorch model (internal/model's Int8, through
// native/torchx/quant.cc) and the cgo-free QDQ ONNX export
// (internal/onnx). The package is pure Go (no libtorch) so the exporter
// stays buildable without it.
//
// The scheme (issue 16; why each choice, internal/model's Int8):
//
//   - activations are quint8, per tensor, affine: v ↦ clamp(round(v/s) + z,
//     0, 255); For(lo, hi) covers [min(lo, 0), max(hi, 0)] with 256 steps,
//     s = (hi − lo)/255 (at least 1e-8), z = clamp(⌊−lo/s + ½⌋, 0, 255), so 0
//     is exact (PyTorch's MinMaxObserver for quint8 without reduce_range);
//   - the input has s = 1/255, z = 0 (Input);
//   - a convolution's or hidden linear layer's output: For(lo, hi) of its
//     calibrated range before the activation; the leaky ReLU after it
//     requantizes to For(slope·lo, hi) (Activation); the 2×2 max-pool keeps
//     those parameters;
//   - the global and local branches are requantized to For over the union
//     of their two ranges (Union) when concatenated;
//   - weights are qint8 per output channel (dimension 0), symmetric:
//     s_c = float32(max|w_c|) / 127 computed in float32 (a channel of zeros
//     gets s_c = 1), zero point 0 (WeightScales); each value is
//     clamp(nearbyint(w · float32(1/s_c)), −128, 127), the product and the
//     reciprocal in float32 and nearbyint rounding half to even: libtorch
//     1.13's quantize_val (ATen/native/quantized/AffineQuantizer.cpp, and
//     fbgemm::Quantize where built with it), which quant.cc's
//     quantize_per_channel calls (QuantizeWeights).
package quant

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gaitord/gaitord/internal/glcnn"
)

// Params are the per-tensor affine parameters of a quint8 activation: the
// value v is stored as clamp(round(v/Scale) + ZeroPoint, 0, 255).
type Params struct {
	Scale     float64
	ZeroPoint int64
}

// Input are the input's parameters: scale 1/255, zero point 0, exact for
// GEIs read from 8-bit images (others round to the nearest 1/255).
var Input = Params{Scale: 1.0 / 255, ZeroPoint: 0}

// For covers [min(lo, 0), max(hi, 0)] with 256 steps, zero exactly
// representable (PyTorch's MinMaxObserver for quint8 without reduce_range).
func For(lo, hi float64) Params {
	lo, hi = min(lo, 0), max(hi, 0)
	scale := (hi - lo) / 255
	if scale < 1e-8 {
		scale = 1e-8
	}
	zp := int64(-lo/scale + 0.5)
	return Params{Scale: scale, ZeroPoint: max(0, min(255, zp))}
}

// Range is the real interval the parameters represent.
func (q Params) Range() (lo, hi float64) {
	return -float64(q.ZeroPoint) * q.Scale, float64(255-q.ZeroPoint) * q.Scale
}

// Activation are the parameters of leaky_relu(glcnn.LeakySlope)'s output for
// a layer whose output before the activation spans r = [lo, hi]:
// For(slope·lo, hi).
func Activation(r [2]float64) Params { return For(glcnn.LeakySlope*r[0], r[1]) }

// Union are the parameters covering both a's and b's ranges: what the
// concatenation of the global and local branches is requantized to.
func Union(a, b Params) Params {
	alo, ahi := a.Range()
	blo, bhi := b.Range()
	return For(min(alo, blo), max(ahi, bhi))
}

// WeightScales are the per-output-channel scales of a weight whose
// len(w)/channels values per channel lie contiguously (dimension 0 of a
// row-major (Cout, …) tensor): float32(max|w_c|)/127 in float32, 1 for a
// channel of zeros.
func WeightScales(w []float32, channels int) []float32 {
	per := len(w) / channels
	s := make([]float32, channels)
	for c := range s {
		var m float32
		for _, v := range w[c*per : (c+1)*per] {
			m = max(m, float32(math.Abs(float64(v))))
		}
		if s[c] = m / 127; !(s[c] > 0) {
			s[c] = 1
		}
	}
	return s
}

// QuantizeWeights quantizes w per output channel with scales (one per
// channel, len(w)/len(scales) values each, contiguous) exactly as libtorch's
// quantize_val<qint8> does: clamp(nearbyint(v · (1/s)), −128, 127) with
// 1/s and the product in float32, rounding half to even.
func QuantizeWeights(w []float32, scales []float32) []int8 {
	per := len(w) / len(scales)
	q := make([]int8, len(w))
	for c, s := range scales {
		inv := 1 / s
		for i := c * per; i < (c+1)*per; i++ {
			r := math.RoundToEven(float64(w[i] * inv))
			q[i] = int8(max(-128, min(127, r)))
		}
	}
	return q
}

// Calibration holds, per quantized layer (the Block.Module names gl_conv1 …
// conv and the Linear.Param names linear_layer1, linear_layer2), the range
// [lo, hi] of its float32 output before the activation over the calibration
// GEIs.
type Calibration struct {
	GEIs   int                   `json:"geis"`   // GEIs observed
	Ranges map[string][2]float64 `json:"ranges"` // layer -> [lo, hi]
}

// Range is c's range for one layer, or an error naming what is missing.
func (c Calibration) Range(name string) ([2]float64, error) {
	r, ok := c.Ranges[name]
	if !ok {
		have := make([]string, 0, len(c.Ranges))
		for k := range c.Ranges {
			have = append(have, k)
		}
		sort.Strings(have)
		return r, fmt.Errorf("calibration has no range for layer %s (has: %s)", name, strings.Join(have, ", "))
	}
	if !(r[0] <= r[1]) {
		return r, fmt.Errorf("calibration range of layer %s is [%g, %g]", name, r[0], r[1])
	}
	return r, nil
}

// Layer are one quantized layer's parameters: its output before the
// activation (Out) and the leaky ReLU's output (Act, kept by a max-pool).
type Layer struct {
	Out, Act Params
}

// Plan are the activation parameters of every quantized layer of a network,
// derived from a Calibration: Blocks by Block.Module, Hidden by Linear.Param,
// Cat for the global/local concatenation.
type Plan struct {
	Blocks map[string]Layer
	Cat    Params
	Hidden map[string]Layer
}

// NewPlan derives l's parameters from c's ranges; a missing or empty range
// is an error naming the layer.
func NewPlan(c Calibration, l glcnn.Layers) (Plan, error) {
	p := Plan{Blocks: map[string]Layer{}, Hidden: map[string]Layer{}}
	layer := func(name string) (Layer, error) {
		r, err := c.Range(name)
		if err != nil {
			return Layer{}, err
		}
		return Layer{Out: For(r[0], r[1]), Act: Activation(r)}, nil
	}
	for _, b := range l.Blocks() {
		q, err := layer(b.Module)
		if err != nil {
			return Plan{}, err
		}
		p.Blocks[b.Module] = q
	}
	p.Cat = Union(p.Blocks[l.Global[len(l.Global)-1].Module].Act, p.Blocks[l.Local[len(l.Local)-1].Module].Act)
	for _, h := range l.Hidden {
		q, err := layer(h.Param)
		if err != nil {
			return Plan{}, err
		}
		p.Hidden[h.Param] = q
	}
	return p, nil
}

package model

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/quant"
	"github.com/gaitord/gaitord/internal/torchx"
)

// int8 inference (issue 16): the trained float32 network run through
// libtorch's quantized operators on CPU (native/torchx/quant.cc). libtorch
// 1.13's C++ API has no prepare/convert, so the scheme is gaitord's own,
// post-training and static:
//
//   - input: quint8 with scale 1/255, zero point 0, exact for GEIs read from
//     8-bit images (others round to the nearest 1/255, at most 1/510 off);
//   - every convolution and hidden linear layer: qint8 weights per output
//     channel, symmetric (scale max|w_c|/127), float32 bias; its output in
//     quint8 over the calibrated range [lo, hi] of that layer's float32 output
//     before the activation (one range over a part layer's three strips);
//   - leaky_relu requantizes to [slope·lo, hi], the range of its own output,
//     and the 2×2 max-pool keeps those parameters: a range spent mostly on
//     negatives the activation divides by 100 cost 4× the age error (measured
//     in bench/int8.py);
//   - the global and local branches are requantized to the union of their
//     ranges when concatenated;
//   - the heads (age, gender) run in float32 on the dequantized features, so
//     every loss type's outputs keep their float32 decoding.
//
// Calibration (Observe) runs the float32 layers one by one on training GEIs
// and keeps each layer's smallest and largest output (PyTorch's
// MinMaxObserver). The ranges are a Calibration; Int8 is built from a model
// and one. The formulas (range → parameters, the activation's and the
// concatenation's ranges, the weights' per-channel scales) and the
// Calibration type live in internal/quant, shared with the ONNX export.

// observe widens c's range of layer name by t's values.
func observe(c *quant.Calibration, name string, t Tensor) {
	lo, hi := torchx.AMinMax(t)
	if c.Ranges == nil {
		c.Ranges = map[string][2]float64{}
	}
	if r, ok := c.Ranges[name]; ok {
		lo, hi = min(lo, r[0]), max(hi, r[1])
	}
	c.Ranges[name] = [2]float64{lo, hi}
}

// Observe runs the float32 network on x (N, 1, H, W) layer by layer, in
// evaluation mode, and widens c's ranges by each layer's outputs. It panics
// with *torchx.Error like Forward; call it under torchx.InferenceMode.
func (m *GLCNN) Observe(x Tensor, c *quant.Calibration) {
	l := &m.layers
	block := func(x Tensor, b glcnn.Block) Tensor {
		w, bias := m.p(b.Weight()), m.p(b.Bias())
		one := func(x Tensor) Tensor {
			y := torchx.Conv2d(x, w, bias, b.PH, b.PW)
			observe(c, b.Module, y)
			return torchx.MaxPool2d(torchx.LeakyReLU(y, glcnn.LeakySlope), 2, 2)
		}
		if !b.Part {
			return one(x)
		}
		parts := make([]Tensor, len(b.Strips))
		for i, s := range b.Strips {
			parts[i] = one(torchx.Narrow(x, 2, s[0], s[1]))
		}
		return torchx.Cat(parts, 2)
	}
	gl, lc := x, x
	for _, b := range l.Global {
		gl = block(gl, b)
	}
	for _, b := range l.Local {
		lc = block(lc, b)
	}
	f := torchx.Reshape(block(torchx.Cat([]Tensor{gl, lc}, 1), l.Fuse), -1, l.Flatten)
	for _, h := range l.Hidden {
		f = m.linear(f, h)
		observe(c, h.Param, f)
		f = torchx.LeakyReLU(f, glcnn.LeakySlope)
	}
	c.GEIs += int(x.Shape()[0])
}

// Int8 is a GLCNN for int8 inference on CPU (see the scheme above). It holds
// packed weights in native memory until Close; the heads are the float32
// model's own tensors, so the model must outlive it.
type Int8 struct {
	m      *GLCNN
	cal    quant.Calibration
	global []qblock
	local  []qblock
	fuse   qblock
	cat    quant.Params
	hidden []qlinear
}

type qblock struct {
	b glcnn.Block
	w torchx.Packed
	q quant.Layer
}

type qlinear struct {
	l glcnn.Linear
	w torchx.Packed
	q quant.Layer
}

// weightScales are the per-output-channel scales of m's parameter name
// (quant.WeightScales).
func (m *GLCNN) weightScales(name string) []float32 {
	w := m.p(name)
	return quant.WeightScales(torchx.Float32s(w), int(w.Shape()[0]))
}

// NewInt8 packs m's convolutions and hidden layers for the current quantized
// engine (torchx.SetQuantEngine) with c's ranges (quant.NewPlan). m must be
// on the CPU.
func NewInt8(m *GLCNN, c quant.Calibration) (q *Int8, err error) {
	if d := m.Device(); d != "cpu" && d != "" {
		return nil, fmt.Errorf("int8 inference runs on the CPU; the model is on %s", d)
	}
	l := &m.layers
	plan, err := quant.NewPlan(c, *l)
	if err != nil {
		return nil, err
	}
	q = &Int8{m: m, cal: c, cat: plan.Cat}
	built := q // the returns below set q to nil; what was packed is freed
	defer func() {
		if err != nil {
			built.Close()
		}
	}()
	mk := func(b glcnn.Block) (qblock, error) {
		qb := qblock{b: b, q: plan.Blocks[b.Module]}
		err := torchx.Catch(func() {
			qb.w = torchx.PackConv(m.p(b.Weight()), m.p(b.Bias()), m.weightScales(b.Weight()), b.PH, b.PW)
		})
		return qb, err
	}
	for _, b := range l.Global {
		qb, err := mk(b)
		if err != nil {
			return nil, err
		}
		q.global = append(q.global, qb)
	}
	for _, b := range l.Local {
		qb, err := mk(b)
		if err != nil {
			return nil, err
		}
		q.local = append(q.local, qb)
	}
	if q.fuse, err = mk(l.Fuse); err != nil {
		return nil, err
	}
	for _, h := range l.Hidden {
		ql := qlinear{l: h, q: plan.Hidden[h.Param]}
		if err := torchx.Catch(func() {
			ql.w = torchx.PackLinear(m.p(h.Weight()), m.p(h.Bias()), m.weightScales(h.Weight()))
		}); err != nil {
			return nil, err
		}
		q.hidden = append(q.hidden, ql)
	}
	return q, nil
}

// Close frees the packed weights.
func (q *Int8) Close() {
	for i := range q.global {
		q.global[i].w.Close()
	}
	for i := range q.local {
		q.local[i].w.Close()
	}
	q.fuse.w.Close()
	for i := range q.hidden {
		q.hidden[i].w.Close()
	}
}

// Config is the float32 model's configuration.
func (q *Int8) Config() Config { return q.m.cfg }

// Device is "cpu".
func (q *Int8) Device() string { return "cpu" }

// Train does nothing: an Int8 always runs in evaluation mode.
func (q *Int8) Train(bool) {}

// Training is always false.
func (q *Int8) Training() bool { return false }

// Calibration returns the ranges q was built with.
func (q *Int8) Calibration() quant.Calibration { return q.cal }

func (q *Int8) block(x Tensor, b qblock) Tensor {
	if b.b.Part {
		return torchx.QPartBlock(x, b.w, b.b.Strips[:], b.q.Out, glcnn.LeakySlope, b.q.Act)
	}
	return torchx.QConvBlock(x, b.w, b.q.Out, glcnn.LeakySlope, b.q.Act)
}

// Forward is GLCNN.Forward in int8: float32 GEIs (N, 1, H, W) in, the age
// head's and gender head's float32 outputs out. It panics with *torchx.Error
// on a wrongly shaped input.
func (q *Int8) Forward(x Tensor) (age, gender Tensor) {
	xq := torchx.Quantize(x, quant.Input)
	gl, lc := xq, xq
	for _, b := range q.global {
		gl = q.block(gl, b)
	}
	for _, b := range q.local {
		lc = q.block(lc, b)
	}
	f := q.block(torchx.QCat([]Tensor{gl, lc}, 1, q.cat), q.fuse)
	f = torchx.Reshape(f, -1, q.m.layers.Flatten)
	for _, h := range q.hidden {
		f = torchx.QLinearLeaky(f, h.w, h.q.Out, glcnn.LeakySlope, h.q.Act)
	}
	f = torchx.Dequantize(f)
	return q.m.linear(f, q.m.layers.Age), q.m.linear(f, q.m.layers.Gender)
}

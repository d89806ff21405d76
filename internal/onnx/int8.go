package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/quant"
)

// The int8 export (ExportInt8) is a QDQ model: QuantizeLinear and
// DequantizeLinear nodes (opset 13) around float operators, encoding
// gaitord's int8 scheme (internal/quant) exactly, so ONNX Runtime's QDQ
// transformers turn DQ → Conv → Q into QLinearConv, DQ → LeakyRelu → Q into
// QLinearLeakyRelu, DQ, DQ → Concat → Q into QLinearConcat and
// DQ → Gemm → Q into QGemm:
//
//	gei ─Q(1/255, 0, uint8)─▶ gei_q
//	block:  [Slice strip (uint8)] → DQ → Conv(DQ(W int8, s_w[c], axis 0), DQ(b int32, s_in·s_w[c], axis 0))
//	        → Q(conv: For(lo, hi)) → DQ → LeakyRelu → Q(act: For(slope·lo, hi)) → MaxPool (uint8, params kept)
//	        [→ Concat of the three strips along the height (uint8, same params)]
//	branches: DQ(global), DQ(local) → Concat → Q(Union(act_gl, act_lc))
//	fuse block, Flatten (uint8), then each hidden layer:
//	        DQ → Gemm(DQ(W int8, per output), DQ(b int32)) → Q(lin) → DQ → LeakyRelu → Q(act)
//	heads:  DQ → the float32 Gemms, and the age decoded as in the float32 graph
//
// The weights are quant.QuantizeWeights of the float32 weights with
// quant.WeightScales, bit-identical to what libtorch packs for model.Int8
// (round half to even of w·(1/s) in float32). Each bias is stored as int32
// at scale float32(s_in)·s_w[c], rounded half to even: libtorch keeps it in
// float32, so a bias may differ from model.Int8's by half that step. ONNX
// stores scales in float32: the activations' float64 scales are rounded to
// float32 (a relative 3·10⁻⁸), the weights' scales are float32 already.

// Int8 is what an int8 export needs besides the weights: the calibration
// (model.Int8's, from train.Int8Stored) and the data it observed.
type Int8 struct {
	Calibration quant.Calibration
	Source      string // the calibration data (its root or name)
}

// Metadata keys the int8 export adds after the model's own.
const (
	MetaPrecision       = "precision"
	MetaCalibrationGEIs = "calibration_geis"
	MetaCalibrationData = "calibration_data"
)

// ExportInt8 is ExportWith for an int8 QDQ model (the scheme above); the
// metadata_props gain precision=int8, calibration_geis and calibration_data
// after the model's own and before extra. A calibration missing a layer is
// an error before anything is written.
func ExportInt8(w io.Writer, weights map[string]glcnn.Weight, cfg glcnn.Config, q Int8, extra [][2]string) error {
	return export(w, weights, cfg, &q, extra)
}

// WriteFileInt8 is ExportInt8 to path, atomically (see WriteFile).
func WriteFileInt8(path string, weights map[string]glcnn.Weight, cfg glcnn.Config, q Int8, extra [][2]string) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return ExportInt8(w, weights, cfg, q, extra) }); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	return nil
}

func int8Meta(q *Int8) [][2]string {
	return [][2]string{
		{MetaPrecision, "int8"},
		{MetaCalibrationGEIs, strconv.Itoa(q.Calibration.GEIs)},
		{MetaCalibrationData, q.Source},
	}
}

// qBuilder emits the int8 trunk.
type qBuilder struct {
	*builder
	plan quant.Plan
}

// qparams adds tensor's scale (float) and zero point (uint8) scalars, named
// tensor/scale and tensor/zero_point.
func (b *qBuilder) qparams(tensor string, p quant.Params) (scale, zp string) {
	scale, zp = tensor+"/scale", tensor+"/zero_point"
	b.g.inits = append(b.g.inits,
		&initTensor{name: scale, dtype: dtFloat, f32: []float32{float32(p.Scale)}},
		&initTensor{name: zp, dtype: dtUint8, raw: []byte{byte(p.ZeroPoint)}})
	return scale, zp
}

// quantize emits out = QuantizeLinear(in) with p (uint8); out's scale and
// zero point are added as initializers for its DequantizeLinear nodes.
func (b *qBuilder) quantize(in, out string, p quant.Params) string {
	s, z := b.qparams(out, p)
	b.g.node("QuantizeLinear", out, []string{in, s, z}, []string{out})
	return out
}

// dequantize emits out = DequantizeLinear(in) with in's parameters (added
// by quantize, or by qparams for a tensor that keeps another's).
func (b *qBuilder) dequantize(in, paramsOf, out string) string {
	b.g.node("DequantizeLinear", out, []string{in, paramsOf + "/scale", paramsOf + "/zero_point"}, []string{out})
	return out
}

// qweight adds param name's weight (Cout, …) as int8 per output channel and
// its bias as int32 at scale sIn·s_w[c], each behind a DequantizeLinear
// whose output carries the PyTorch name, and returns those names.
func (b *qBuilder) qweight(weight, bias string, sIn float64) (string, string) {
	w, bb := b.weights[weight], b.weights[bias]
	cout := int(w.Shape[0])
	scales := quant.WeightScales(w.Data, cout)
	q := quant.QuantizeWeights(w.Data, scales)
	raw := make([]byte, len(q))
	for i, v := range q {
		raw[i] = byte(v)
	}
	b.g.inits = append(b.g.inits,
		&initTensor{name: weight + "_quantized", dims: w.Shape, dtype: dtInt8, raw: raw},
		&initTensor{name: weight + "_scale", dims: []int64{int64(cout)}, dtype: dtFloat, f32: scales},
		&initTensor{name: weight + "_zero_point", dims: []int64{int64(cout)}, dtype: dtInt8, raw: make([]byte, cout)})
	b.g.node("DequantizeLinear", weight, []string{weight + "_quantized", weight + "_scale", weight + "_zero_point"},
		[]string{weight}, intAttr("axis", 0))

	bs := make([]float32, cout)
	braw := make([]byte, 0, 4*cout)
	for c := range cout {
		bs[c] = float32(sIn) * scales[c]
		v := math.RoundToEven(float64(bb.Data[c]) / float64(bs[c]))
		braw = binary.LittleEndian.AppendUint32(braw, uint32(int32(max(math.MinInt32, min(math.MaxInt32, v)))))
	}
	b.g.inits = append(b.g.inits,
		&initTensor{name: bias + "_quantized", dims: []int64{int64(cout)}, dtype: dtInt32, raw: braw},
		&initTensor{name: bias + "_scale", dims: []int64{int64(cout)}, dtype: dtFloat, f32: bs},
		&initTensor{name: bias + "_zero_point", dims: []int64{int64(cout)}, dtype: dtInt32, raw: make([]byte, 4*cout)})
	b.g.node("DequantizeLinear", bias, []string{bias + "_quantized", bias + "_scale", bias + "_zero_point"},
		[]string{bias}, intAttr("axis", 0))
	return weight, bias
}

// convBlock emits one strip of blk on the uint8 tensor in (parameters those
// of paramsOf): DQ → Conv → Q → DQ → LeakyRelu → Q → MaxPool, names prefixed
// by scope. It returns the uint8 output, whose parameters are under scope
// + "/leaky_relu_q".
func (b *qBuilder) convBlock(scope string, blk glcnn.Block, in, paramsOf, w, bias string) string {
	q := b.plan.Blocks[blk.Module]
	x := b.dequantize(in, paramsOf, scope+"/input_dq")
	conv := scope + "/conv"
	b.conv(conv, blk, x, w, bias)
	x = b.dequantize(b.quantize(conv, conv+"_q", q.Out), conv+"_q", conv+"_dq")
	act := scope + "/leaky_relu"
	b.g.node("LeakyRelu", act, []string{x}, []string{act}, floatAttr("alpha", glcnn.LeakySlope))
	x = b.quantize(act, act+"_q", q.Act)
	pool := scope + "/max_pool"
	b.maxPool(pool, x)
	return pool
}

// block emits blk on the uint8 tensor in with parameters p (stored under
// paramsOf) and returns its uint8 output and the name its parameters are
// stored under.
func (b *qBuilder) block(blk glcnn.Block, in, paramsOf string, p quant.Params) (out, outParams string) {
	w, bias := b.qweight(blk.Weight(), blk.Bias(), p.Scale)
	if !blk.Part {
		out = b.convBlock(blk.Module, blk, in, paramsOf, w, bias)
		return out, blk.Module + "/leaky_relu_q"
	}
	// every strip has the block's activation parameters: the uint8 values
	// concatenate as they are (quantized::cat in model.Int8 copies them too)
	out = b.partStrips(blk, in, func(_ int, scope, slice string) string {
		return b.convBlock(scope, blk, slice, paramsOf, w, bias)
	})
	b.qparams(out, b.plan.Blocks[blk.Module].Act)
	return out, out
}

// trunk emits the int8 trunk from the input to the last hidden layer's
// dequantized activation, which it returns.
func (b *qBuilder) trunk(l glcnn.Layers) string {
	in := b.quantize(InputName, InputName+"_q", quant.Input)
	chain := func(blocks []glcnn.Block) (string, string, quant.Params) {
		x, xp, p := in, in, quant.Input
		for _, blk := range blocks {
			x, xp = b.block(blk, x, xp, p)
			p = b.plan.Blocks[blk.Module].Act
		}
		return x, xp, p
	}
	gl, glp, _ := chain(l.Global)
	lc, lcp, _ := chain(l.Local)
	cat := "global_local/concat"
	b.g.node("Concat", cat, []string{b.dequantize(gl, glp, gl+"_dq"), b.dequantize(lc, lcp, lc+"_dq")}, []string{cat}, intAttr("axis", 1))
	x := b.quantize(cat, cat+"_q", b.plan.Cat)
	x, xp := b.block(l.Fuse, x, x, b.plan.Cat)
	p := b.plan.Blocks[l.Fuse.Module].Act
	b.g.node("Flatten", "flatten", []string{x}, []string{"flatten"}, intAttr("axis", 1))
	x = "flatten"
	for _, h := range l.Hidden {
		if h.BiasLen != 0 {
			panic(fmt.Sprintf("onnx: hidden layer %s has a shared bias", h.Param))
		}
		w, bias := b.qweight(h.Weight(), h.Bias(), p.Scale)
		mm := h.Param + "/gemm"
		b.g.node("Gemm", mm, []string{b.dequantize(x, xp, h.Param+"/input_dq"), w, bias}, []string{mm},
			floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0), intAttr("transB", 1))
		q := b.plan.Hidden[h.Param]
		y := b.dequantize(b.quantize(mm, mm+"_q", q.Out), mm+"_q", mm+"_dq")
		act := h.Param + "/leaky_relu"
		b.g.node("LeakyRelu", act, []string{y}, []string{act}, floatAttr("alpha", glcnn.LeakySlope))
		x = b.quantize(act, act+"_q", q.Act)
		xp, p = x, q.Act
	}
	return b.dequantize(x, xp, x[:len(x)-len("_q")]+"_dq")
}

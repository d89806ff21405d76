// Package onnx exports the GL-CNN age/gender inference graph as an ONNX
// model (opset 13, IR version 7). The graph is built by walking
// internal/glcnn's layer table, so its layers, strips and parameter names are
// those of the libtorch model by construction, and its "age" output decodes
// the age head as the model's loss type says (metrics.DecodeHead on the
// host):
//
//	type                 age_logits   age [N]
//	odl, ranking, coral  [N, K]       min_age + Σ_k Sigmoid(z_k)
//	corn                 [N, K]       min_age + Σ_k Exp(CumSum_k(−Softplus(−z)))   (Π_{j≤k} σ(z_j))
//	dldl, mean-variance  [N, K+1]     MatMul(Softmax(z), [0 1 … K]) + min_age
//	l1                   [N, 1]       Clip(z, min_age, min_age + K)   (z is the age in years)
//
// The protobuf is encoded directly with protowire; no ONNX runtime,
// generated types or libtorch are needed.
package onnx

import (
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/quant"
	"github.com/gaitord/gaitord/internal/version"
)

// Input and output names of the exported graph.
const (
	InputName          = "gei"
	OutputAgeLogits    = "age_logits"
	OutputGenderLogits = "gender_logits"
	OutputAge          = "age"
)

// Export writes the GL-CNN inference graph (eval mode: no dropout) with the
// given weights to w as an ONNX model, walking glcnn's layer table. The input
// "gei" is float [N,1,H,W] with symbolic batch N; outputs are "age_logits"
// (the age head's outputs, [N, cfg.AgeOutputs()]), "gender_logits" [N,2] and
// "age" [N], decoded by cfg's loss type (see the package documentation).
// Initializers carry the PyTorch parameter names; producer_name is "gaitord
// <version>"; metadata_props hold input_height, input_width, k, min_age and
// loss_type. The weights are checked against cfg first
// (glcnn.Config.CheckWeights), so nothing is written for a misfit.
func Export(w io.Writer, weights map[string]glcnn.Weight, cfg glcnn.Config) error {
	return ExportWith(w, weights, cfg, nil)
}

// ExportWith is Export with extra metadata_props entries (key, value) after
// the model's own, in the order given; a key that repeats another is an
// error, before anything is written.
func ExportWith(w io.Writer, weights map[string]glcnn.Weight, cfg glcnn.Config, extra [][2]string) error {
	return export(w, weights, cfg, nil, extra)
}

// export writes the float32 graph, or with q the int8 QDQ graph (int8.go).
func export(w io.Writer, weights map[string]glcnn.Weight, cfg glcnn.Config, q *Int8, extra [][2]string) error {
	if err := cfg.CheckWeights(weights); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	layers, err := cfg.Layers()
	if err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	meta := [][2]string{
		{"input_height", strconv.Itoa(cfg.InputH)},
		{"input_width", strconv.Itoa(cfg.InputW)},
		{"k", strconv.Itoa(cfg.K)},
		{"min_age", strconv.Itoa(cfg.MinAge)},
		{"loss_type", string(cfg.LossType())},
	}
	var plan *quant.Plan
	if q != nil {
		p, err := quant.NewPlan(q.Calibration, layers)
		if err != nil {
			return fmt.Errorf("onnx export: int8: %w", err)
		}
		plan = &p
		extra = append(int8Meta(q), extra...)
	}
	seen := map[string]bool{}
	for _, kv := range append(slices.Clone(meta), extra...) {
		if seen[kv[0]] {
			return fmt.Errorf("onnx export: metadata key %q given twice", kv[0])
		}
		seen[kv[0]] = true
	}
	meta = append(meta, extra...)
	g := buildGraph(weights, cfg, layers, plan)
	doc := "GL-CNN gait age/gender estimator (Zhu et al. 2020), ordinal age head"
	if t := cfg.LossType(); t != glcnn.LossODL {
		doc = fmt.Sprintf("GL-CNN gait age/gender estimator (Zhu et al. 2020), %s age head", t)
	}
	if plan != nil {
		doc += ", int8 (QDQ: per-channel int8 weights, uint8 activations; heads in float32)"
	}
	if err := writeModel(w, g, producerPrefix+version.Version, doc, meta); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	return nil
}

// WriteFile exports the model to path atomically: it writes a temporary file
// in the same directory, fsyncs it and renames it over path.
func WriteFile(path string, weights map[string]glcnn.Weight, cfg glcnn.Config) error {
	return WriteFileWith(path, weights, cfg, nil)
}

// WriteFileWith is WriteFile with extra metadata_props (see ExportWith).
func WriteFileWith(path string, weights map[string]glcnn.Weight, cfg glcnn.Config, extra [][2]string) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return ExportWith(w, weights, cfg, extra) }); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	return nil
}

// builder accumulates the graph with PyTorch-named initializers.
type builder struct {
	g       *graphProto
	weights map[string]glcnn.Weight
}

func (b *builder) param(name string) string {
	w := b.weights[name]
	b.g.inits = append(b.g.inits, &initTensor{name: name, dims: w.Shape, dtype: dtFloat, f32: w.Data})
	return name
}

func (b *builder) int64Const(name string, vals ...int64) string {
	b.g.inits = append(b.g.inits, &initTensor{name: name, dims: []int64{int64(len(vals))}, dtype: dtInt64, raw: int64Raw(vals...)})
	return name
}

// block emits one glcnn.Block on input in: a convBlock, or for a part block
// a partBlock; node and tensor names are scoped by the block's module name.
func (b *builder) block(blk glcnn.Block, in string) string {
	if blk.Part {
		return b.partBlock(blk, in)
	}
	return b.convBlock(blk.Module, blk, in, false)
}

// convBlock emits Conv → LeakyRelu → MaxPool(2,2) with blk's kernel, padding
// and parameters (added as initializers unless weightsAdded); node and tensor
// names are prefixed by scope.
func (b *builder) convBlock(scope string, blk glcnn.Block, in string, weightsAdded bool) string {
	wName, bName := blk.Weight(), blk.Bias()
	if !weightsAdded {
		b.param(wName)
		b.param(bName)
	}
	conv, act, pool := scope+"/conv", scope+"/leaky_relu", scope+"/max_pool"
	b.conv(conv, blk, in, wName, bName)
	b.g.node("LeakyRelu", act, []string{conv}, []string{act}, floatAttr("alpha", glcnn.LeakySlope))
	b.maxPool(pool, act)
	return pool
}

// conv emits blk's stride-1 Conv of in with weight w and bias, as node and
// output name.
func (b *builder) conv(name string, blk glcnn.Block, in, w, bias string) {
	b.g.node("Conv", name, []string{in, w, bias}, []string{name},
		intsAttr("kernel_shape", blk.KH, blk.KW),
		intsAttr("pads", blk.PH, blk.PW, blk.PH, blk.PW),
		intsAttr("strides", 1, 1),
		intsAttr("dilations", 1, 1),
		intAttr("group", 1))
}

// maxPool emits the blocks' 2×2, stride-2 MaxPool of in, as node and output
// name.
func (b *builder) maxPool(name, in string) {
	b.g.node("MaxPool", name, []string{in}, []string{name},
		intsAttr("kernel_shape", 2, 2),
		intsAttr("strides", 2, 2),
		intsAttr("pads", 0, 0, 0, 0),
		intAttr("ceil_mode", 0))
}

// partBlock emits PartConv2d: the shared conv block on each strip
// (partStrips).
func (b *builder) partBlock(blk glcnn.Block, in string) string {
	return b.partStrips(blk, in, func(i int, scope, slice string) string {
		return b.convBlock(scope, blk, slice, i > 0)
	})
}

// partStrips emits the frame of a part block, for the float32 and the int8
// graph alike: Slice along the height into blk's head, body and feet strips
// (scoped blk.Module/head …), strip(i, scope, slice) on each, and Concat of
// their outputs along the height, whose name it returns.
func (b *builder) partStrips(blk glcnn.Block, in string, strip func(i int, scope, slice string) string) string {
	scope := blk.Module
	axes := b.int64Const(scope+"/slice_axes", 2)
	var outs []string
	for i, part := range []string{"head", "body", "feet"} {
		s := scope + "/" + part
		first, rows := blk.Strips[i][0], blk.Strips[i][1]
		starts := b.int64Const(s+"/slice_starts", first)
		ends := b.int64Const(s+"/slice_ends", first+rows)
		b.g.node("Slice", s+"/slice", []string{in, starts, ends, axes}, []string{s + "/slice"})
		outs = append(outs, strip(i, s, s+"/slice"))
	}
	out := scope + "/concat"
	b.g.node("Concat", out, outs, []string{out}, intAttr("axis", 2))
	return out
}

// gemm emits a linear layer, x·Wᵀ + b, from in to out. A bias longer than
// the output (CORAL's shared row, glcnn.Linear.BiasLen) is added after the
// Gemm by broadcasting, [N, 1] + [K] → [N, K].
func (b *builder) gemm(l glcnn.Linear, in, out string) string {
	attrs := [][]byte{floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0), intAttr("transB", 1)}
	if l.BiasLen != 0 {
		mm := l.Param + "/gemm"
		b.g.node("Gemm", mm, []string{in, b.param(l.Weight())}, []string{mm}, attrs...)
		b.g.node("Add", l.Param+"/add_bias", []string{mm, b.param(l.Bias())}, []string{out})
		return out
	}
	b.g.node("Gemm", l.Param+"/gemm", []string{in, b.param(l.Weight()), b.param(l.Bias())}, []string{out}, attrs...)
	return out
}

// floatConst adds a float initializer: a scalar for one value, else a
// vector.
func (b *builder) floatConst(name string, vals ...float32) string {
	var dims []int64
	if len(vals) != 1 {
		dims = []int64{int64(len(vals))}
	}
	b.g.inits = append(b.g.inits, &initTensor{name: name, dims: dims, dtype: dtFloat, f32: vals})
	return name
}

// decodeAge emits the age output [N] from the age head's outputs, by the
// loss type (the table of the package documentation).
func (b *builder) decodeAge(cfg glcnn.Config) {
	g := b.g
	minAge := func() string { return b.floatConst("min_age", float32(cfg.MinAge)) } // added where first used
	switch t := cfg.LossType(); {
	case t == glcnn.LossL1:
		g.node("Clip", "age/clip", []string{OutputAgeLogits, minAge(), b.floatConst("age/max_age", float32(cfg.MinAge+cfg.K))}, []string{"age/clip"})
		g.node("Reshape", "age/reshape", []string{"age/clip", b.int64Const("age/shape", -1)}, []string{OutputAge})
	case t.Softmax():
		ages := make([]float32, cfg.K+1)
		for j := range ages {
			ages[j] = float32(j)
		}
		g.node("Softmax", "age/softmax", []string{OutputAgeLogits}, []string{"age/softmax"}, intAttr("axis", 1))
		g.node("MatMul", "age/expectation", []string{"age/softmax", b.floatConst("age/ages", ages...)}, []string{"age/expectation"})
		g.node("Add", "age/add_min_age", []string{"age/expectation", minAge()}, []string{OutputAge})
	default:
		p := "age/sigmoid" // P(age > min_age + k) = σ(z_k)
		if t == glcnn.LossCORN {
			// Π_{j≤k} σ(z_j) = exp(Σ_{j≤k} log σ(z_j)), log σ(z) = −softplus(−z)
			g.node("Neg", "age/neg", []string{OutputAgeLogits}, []string{"age/neg"})
			g.node("Softplus", "age/softplus", []string{"age/neg"}, []string{"age/softplus"})
			g.node("Neg", "age/log_sigmoid", []string{"age/softplus"}, []string{"age/log_sigmoid"})
			b.g.inits = append(b.g.inits, &initTensor{name: "age/cumsum_axis", dtype: dtInt64, raw: int64Raw(1)}) // a scalar
			g.node("CumSum", "age/cumsum", []string{"age/log_sigmoid", "age/cumsum_axis"}, []string{"age/cumsum"})
			g.node("Exp", "age/product", []string{"age/cumsum"}, []string{"age/product"})
			p = "age/product"
		} else {
			g.node("Sigmoid", "age/sigmoid", []string{OutputAgeLogits}, []string{"age/sigmoid"})
		}
		g.node("ReduceSum", "age/reduce_sum", []string{p, b.int64Const("age/reduce_axes", 1)},
			[]string{"age/reduce_sum"}, intAttr("keepdims", 0))
		g.node("Add", "age/add_min_age", []string{"age/reduce_sum", minAge()}, []string{OutputAge})
	}
}

// buildGraph walks the layer table: both branches from the input, their
// channel concatenation, the fusing block, flatten, the hidden layers with
// their leaky ReLUs (no dropout: inference), the two heads, and the age
// decoded by the loss type (decodeAge). With a plan the trunk up to the
// heads is the int8 QDQ one (qBuilder.trunk); the heads and the decoding
// are the same float32 nodes.
func buildGraph(weights map[string]glcnn.Weight, cfg glcnn.Config, l glcnn.Layers, plan *quant.Plan) *graphProto {
	b := &builder{g: &graphProto{name: "glcnn"}, weights: weights}
	g := b.g
	g.inputs = append(g.inputs, tensorValueInfo(InputName, "N", 1, cfg.InputH, cfg.InputW))

	var x string
	if plan != nil {
		x = (&qBuilder{builder: b, plan: *plan}).trunk(l)
	} else {
		x = b.trunk(l)
	}
	b.gemm(l.Age, x, OutputAgeLogits)
	b.gemm(l.Gender, x, OutputGenderLogits)

	b.decodeAge(cfg)

	g.outputs = append(g.outputs,
		tensorValueInfo(OutputAgeLogits, "N", cfg.AgeOutputs()),
		tensorValueInfo(OutputGenderLogits, "N", 2),
		tensorValueInfo(OutputAge, "N"))
	return g
}

// trunk emits the float32 graph from the input to the last hidden layer's
// activation, which it returns.
func (b *builder) trunk(l glcnn.Layers) string {
	g := b.g
	gl := InputName
	for _, blk := range l.Global {
		gl = b.block(blk, gl)
	}
	lc := InputName
	for _, blk := range l.Local {
		lc = b.block(blk, lc)
	}
	g.node("Concat", "global_local/concat", []string{gl, lc}, []string{"global_local/concat"}, intAttr("axis", 1))
	x := b.block(l.Fuse, "global_local/concat")
	g.node("Flatten", "flatten", []string{x}, []string{"flatten"}, intAttr("axis", 1))
	x = "flatten"
	for _, h := range l.Hidden {
		x = b.gemm(h, x, h.Param+"/gemm")
		act := h.Param + "/leaky_relu"
		g.node("LeakyRelu", act, []string{x}, []string{act}, floatAttr("alpha", glcnn.LeakySlope))
		x = act
	}
	return x
}

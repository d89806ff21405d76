package onnx

import (
	"fmt"
	"io"
	"strconv"

	"github.com/gaitord/gaitord/internal/atomicfile"
)

const leakySlope = 0.01

// Input and output names of the exported graph.
const (
	InputName          = "gei"
	OutputAgeLogits    = "age_logits"
	OutputGenderLogits = "gender_logits"
	OutputAge          = "age"
)

// Export writes the GL-CNN inference graph (eval mode: no dropout) with the
// given weights to w as an ONNX model. The input "gei" is float [N,1,H,W]
// with symbolic batch N; outputs are "age_logits" [N,K], "gender_logits"
// [N,2] and "age" [N] = MinAge + Σ sigmoid(age_logits). Initializers carry
// the PyTorch parameter names. Weights are validated against cfg first.
func Export(w io.Writer, weights map[string]Weight, cfg ModelConfig) error {
	if err := ValidateWeights(weights, cfg); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	g, err := buildGraph(weights, cfg)
	if err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	producer := cfg.Producer
	if producer == "" {
		producer = defaultProducer
	}
	meta := [][2]string{
		{"input_height", strconv.Itoa(cfg.InputH)},
		{"input_width", strconv.Itoa(cfg.InputW)},
		{"k", strconv.Itoa(cfg.K)},
		{"min_age", strconv.Itoa(cfg.MinAge)},
	}
	doc := "GL-CNN gait age/gender estimator (Zhu et al. 2020), ordinal age head"
	if err := writeModel(w, g, producer, doc, meta); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	return nil
}

// WriteFile exports the model to path atomically: it writes a temporary file
// in the same directory, fsyncs it and renames it over path.
func WriteFile(path string, weights map[string]Weight, cfg ModelConfig) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Export(w, weights, cfg) }); err != nil {
		return fmt.Errorf("write onnx model %s: %w", path, err)
	}
	return nil
}

// builder accumulates the graph with PyTorch-named initializers.
type builder struct {
	g       *graphProto
	weights map[string]Weight
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

// convBlock emits Conv → LeakyRelu → MaxPool(2,2) using parameters
// param+".weight"/".bias"; node and tensor names are prefixed by scope.
func (b *builder) convBlock(scope, param, in string, kh, kw, ph, pw int64, weightsAdded bool) string {
	wName, bName := param+".weight", param+".bias"
	if !weightsAdded {
		b.param(wName)
		b.param(bName)
	}
	conv, act, pool := scope+"/conv", scope+"/leaky_relu", scope+"/max_pool"
	b.g.node("Conv", conv, []string{in, wName, bName}, []string{conv},
		intsAttr("kernel_shape", kh, kw),
		intsAttr("pads", ph, pw, ph, pw),
		intsAttr("strides", 1, 1),
		intsAttr("dilations", 1, 1),
		intAttr("group", 1))
	b.g.node("LeakyRelu", act, []string{conv}, []string{act}, floatAttr("alpha", leakySlope))
	b.g.node("MaxPool", pool, []string{act}, []string{pool},
		intsAttr("kernel_shape", 2, 2),
		intsAttr("strides", 2, 2),
		intsAttr("pads", 0, 0, 0, 0),
		intAttr("ceil_mode", 0))
	return pool
}

// partBlock emits PartConv2d: Slice along height into head/body/feet, the
// shared conv block on each strip, and Concat along height.
func (b *builder) partBlock(scope, in string, h int, kh, kw, ph, pw int64) (string, error) {
	bounds, err := stripBounds(h)
	if err != nil {
		return "", fmt.Errorf("%s: %w", scope, err)
	}
	axes := b.int64Const(scope+"/slice_axes", 2)
	var outs []string
	for i, part := range []string{"head", "body", "feet"} {
		s := scope + "/" + part
		starts := b.int64Const(s+"/slice_starts", int64(bounds[i][0]))
		ends := b.int64Const(s+"/slice_ends", int64(bounds[i][1]))
		b.g.node("Slice", s+"/slice", []string{in, starts, ends, axes}, []string{s + "/slice"})
		outs = append(outs, b.convBlock(s, scope+".conv.0", s+"/slice", kh, kw, ph, pw, i > 0))
	}
	out := scope + "/concat"
	b.g.node("Concat", out, outs, []string{out}, intAttr("axis", 2))
	return out, nil
}

func (b *builder) linear(name, in string) string {
	out := name + "/gemm"
	b.g.node("Gemm", out, []string{in, b.param(name + ".weight"), b.param(name + ".bias")}, []string{out},
		floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0), intAttr("transB", 1))
	return out
}

func buildGraph(weights map[string]Weight, cfg ModelConfig) (*graphProto, error) {
	b := &builder{g: &graphProto{name: "glcnn"}, weights: weights}
	g := b.g
	g.inputs = append(g.inputs, tensorValueInfo(InputName, "N", 1, cfg.InputH, cfg.InputW))

	gl := b.convBlock("gl_conv1", "gl_conv1.conv", InputName, 7, 7, 3, 3, false)
	gl = b.convBlock("gl_conv2", "gl_conv2.conv", gl, 7, 7, 3, 3, false)
	lc, err := b.partBlock("lc_conv1", InputName, cfg.InputH, 7, 7, 3, 3)
	if err != nil {
		return nil, err
	}
	lc, err = b.partBlock("lc_conv2", lc, cfg.InputH/2, 5, 7, 2, 3)
	if err != nil {
		return nil, err
	}
	g.node("Concat", "global_local/concat", []string{gl, lc}, []string{"global_local/concat"}, intAttr("axis", 1))
	x := b.convBlock("conv", "conv.conv", "global_local/concat", 5, 5, 2, 2, false)
	g.node("Flatten", "flatten", []string{x}, []string{"flatten"}, intAttr("axis", 1))

	x = b.linear("linear_layer1", "flatten")
	g.node("LeakyRelu", "linear_layer1/leaky_relu", []string{x}, []string{"linear_layer1/leaky_relu"}, floatAttr("alpha", leakySlope))
	x = b.linear("linear_layer2", "linear_layer1/leaky_relu")
	g.node("LeakyRelu", "linear_layer2/leaky_relu", []string{x}, []string{"linear_layer2/leaky_relu"}, floatAttr("alpha", leakySlope))
	x = "linear_layer2/leaky_relu"

	g.node("Gemm", "linear_age/gemm", []string{x, b.param("linear_age.weight"), b.param("linear_age.bias")},
		[]string{OutputAgeLogits}, floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0), intAttr("transB", 1))
	g.node("Gemm", "linear_gender/gemm", []string{x, b.param("linear_gender.weight"), b.param("linear_gender.bias")},
		[]string{OutputGenderLogits}, floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0), intAttr("transB", 1))

	g.node("Sigmoid", "age/sigmoid", []string{OutputAgeLogits}, []string{"age/sigmoid"})
	g.node("ReduceSum", "age/reduce_sum", []string{"age/sigmoid", b.int64Const("age/reduce_axes", 1)},
		[]string{"age/reduce_sum"}, intAttr("keepdims", 0))
	g.inits = append(g.inits, &initTensor{name: "min_age", dtype: dtFloat, f32: []float32{float32(cfg.MinAge)}})
	g.node("Add", "age/add_min_age", []string{"age/reduce_sum", "min_age"}, []string{OutputAge})

	g.outputs = append(g.outputs,
		tensorValueInfo(OutputAgeLogits, "N", cfg.K),
		tensorValueInfo(OutputGenderLogits, "N", 2),
		tensorValueInfo(OutputAge, "N"))
	return g, nil
}

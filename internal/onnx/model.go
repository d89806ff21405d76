// Package onnx exports the GL-CNN age/gender inference graph as an ONNX
// model (opset 13, IR version 7). The protobuf is encoded directly with
// protowire; no ONNX runtime or generated types are needed.
package onnx

import (
	"fmt"
	"slices"
)

// Weight is one float32 parameter tensor in row-major order.
type Weight struct {
	Shape []int64
	Data  []float32
}

// ModelConfig describes the exported network.
type ModelConfig struct {
	// InputH and InputW are the GEI height and width: 64×44 or 128×88.
	InputH, InputW int
	// K is the number of ordinal age thresholds (age logits).
	K int
	// MinAge is added to the sum of threshold probabilities to decode age.
	MinAge int
	// Producer is written as the model's producer_name; empty means "gaitord".
	Producer string
}

// ParamSpec names one network parameter and its expected shape.
type ParamSpec struct {
	Name  string
	Shape []int64
}

// stripTable gives the head/body/feet strip heights of PartConv2d by the
// height of the feature map it sees.
var stripTable = map[int][3]int{
	32:  {6, 12, 15},
	64:  {10, 24, 30},
	128: {22, 48, 58},
}

// supportedSizes lists the accepted (height, width) GEI sizes.
var supportedSizes = [][2]int{{64, 44}, {128, 88}}

// stripBounds returns the [start, end) row ranges of the three strips for a
// feature map of height h, with end clamped to h (Python slice semantics).
func stripBounds(h int) ([3][2]int, error) {
	var b [3][2]int
	t, ok := stripTable[h]
	if !ok {
		return b, fmt.Errorf("no head/body/feet strip table for feature-map height %d", h)
	}
	a := 0
	for i, s := range t {
		b[i] = [2]int{a, min(a+s, h)}
		a += s
	}
	return b, nil
}

// flatFeatures is the input width of linear_layer1: 128 channels times the
// map size after three 2×2 max-pools (all convolutions preserve size).
func flatFeatures(h, w int) int {
	for range 3 {
		h, w = h/2, w/2
	}
	return 128 * h * w
}

func (c ModelConfig) validate() error {
	if !slices.Contains(supportedSizes, [2]int{c.InputH, c.InputW}) {
		return fmt.Errorf("unsupported input size %d×%d (supported: 64×44, 128×88)", c.InputH, c.InputW)
	}
	if c.K < 1 {
		return fmt.Errorf("invalid number of age thresholds K=%d (must be ≥ 1)", c.K)
	}
	if _, err := stripBounds(c.InputH); err != nil {
		return fmt.Errorf("lc_conv1: %w", err)
	}
	if _, err := stripBounds(c.InputH / 2); err != nil {
		return fmt.Errorf("lc_conv2: %w", err)
	}
	return nil
}

// ParamSpecs returns the network's parameters, named as in the PyTorch
// reference state_dict, in graph order, with the shapes implied by cfg.
func ParamSpecs(cfg ModelConfig) ([]ParamSpec, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	conv := func(name string, cout, cin, kh, kw int64) []ParamSpec {
		return []ParamSpec{
			{name + ".weight", []int64{cout, cin, kh, kw}},
			{name + ".bias", []int64{cout}},
		}
	}
	lin := func(name string, out, in int64) []ParamSpec {
		return []ParamSpec{
			{name + ".weight", []int64{out, in}},
			{name + ".bias", []int64{out}},
		}
	}
	var ps []ParamSpec
	ps = append(ps, conv("gl_conv1.conv", 32, 1, 7, 7)...)
	ps = append(ps, conv("gl_conv2.conv", 64, 32, 7, 7)...)
	ps = append(ps, conv("lc_conv1.conv.0", 32, 1, 7, 7)...)
	ps = append(ps, conv("lc_conv2.conv.0", 64, 32, 5, 7)...)
	ps = append(ps, conv("conv.conv", 128, 128, 5, 5)...)
	ps = append(ps, lin("linear_layer1", 1024, int64(flatFeatures(cfg.InputH, cfg.InputW)))...)
	ps = append(ps, lin("linear_layer2", 1024, 1024)...)
	ps = append(ps, lin("linear_age", int64(cfg.K), 1024)...)
	ps = append(ps, lin("linear_gender", 2, 1024)...)
	return ps, nil
}

// ValidateWeights checks that weights holds exactly the parameters required
// by cfg, each with the expected shape and a matching number of values.
func ValidateWeights(weights map[string]Weight, cfg ModelConfig) error {
	specs, err := ParamSpecs(cfg)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(specs))
	for _, s := range specs {
		want[s.Name] = true
		w, ok := weights[s.Name]
		if !ok {
			return fmt.Errorf("missing tensor %q (want shape %v)", s.Name, s.Shape)
		}
		if !slices.Equal(w.Shape, s.Shape) {
			return fmt.Errorf("tensor %q has shape %v, want %v", s.Name, w.Shape, s.Shape)
		}
		if n := numel(s.Shape); int64(len(w.Data)) != n {
			return fmt.Errorf("tensor %q has %d values, want %d for shape %v", s.Name, len(w.Data), n, s.Shape)
		}
	}
	var extra []string
	for name := range weights {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return fmt.Errorf("unexpected tensors %q", extra)
	}
	return nil
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

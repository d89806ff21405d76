package model

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gaitord/gaitord/internal/torchx"
)

func sqrt(v float64) float64 { return math.Sqrt(v) }

// Weight is one parameter's values on the host, row-major float32.
type Weight struct {
	Shape []int64
	Data  []float32
}

// Weights copies every parameter to the host, keyed by its PyTorch name.
func (m *GLCNN) Weights() map[string]Weight {
	out := make(map[string]Weight, len(m.names))
	for _, s := range m.cfg.Specs() {
		out[s.Name] = Weight{Shape: slices.Clone(s.Shape), Data: torchx.Float32s(m.params[s.Name])}
	}
	return out
}

// SetWeights loads host values into the parameters, like PyTorch's
// load_state_dict(strict=True): every name must be present with the right
// shape and no other name may appear. Nothing is changed unless all match.
func (m *GLCNN) SetWeights(w map[string]Weight) error {
	if err := m.cfg.CheckWeights(w); err != nil {
		return err
	}
	return torchx.Catch(func() {
		for _, s := range m.cfg.Specs() {
			src := torchx.FromFloat32(w[s.Name].Data, s.Shape...)
			if m.device != "cpu" {
				src = torchx.To(src, m.device)
			}
			torchx.Copy_(m.params[s.Name], src)
		}
	})
}

// CheckWeights reports every missing, unexpected or wrongly shaped tensor.
func (c Config) CheckWeights(w map[string]Weight) error {
	var problems []string
	want := map[string]bool{}
	for _, s := range c.Specs() {
		want[s.Name] = true
		got, ok := w[s.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing %s", s.Name))
		case !slices.Equal(got.Shape, s.Shape):
			problems = append(problems, fmt.Sprintf("%s has shape %v, model (%d×%d, K=%d) needs %v", s.Name, got.Shape, c.InputH, c.InputW, c.K, s.Shape))
		case int64(len(got.Data)) != prod(s.Shape):
			problems = append(problems, fmt.Sprintf("%s holds %d values for shape %v", s.Name, len(got.Data), s.Shape))
		}
	}
	var extra []string
	for name := range w {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, n := range extra {
		problems = append(problems, fmt.Sprintf("unexpected %s", n))
	}
	if len(problems) > 0 {
		return fmt.Errorf("weights do not fit the model: %s", strings.Join(problems, "; "))
	}
	return nil
}

func prod(s []int64) int64 {
	p := int64(1)
	for _, d := range s {
		p *= d
	}
	return p
}

// FLOPs is the forward pass's floating-point operation count for one GEI,
// counting a multiply-add as 2 (convolutions and linear layers only; the
// activations and poolings add well under 1%).
func (c Config) FLOPs() int64 {
	var f int64
	conv := func(cout, cin, kh, kw, oh, ow int64) { f += 2 * cout * cin * kh * kw * oh * ow }
	H, W := int64(c.InputH), int64(c.InputW)
	conv(32, 1, 7, 7, H, W)       // gl_conv1, same padding
	conv(64, 32, 7, 7, H/2, W/2)  // gl_conv2
	conv(32, 1, 7, 7, H, W)       // lc_conv1 over the three strips (they tile the height)
	s2, _ := Strips(c.InputH / 2) // lc_conv2 over its strips
	for _, s := range s2 {
		conv(64, 32, 5, 7, s[1], W/2)
	}
	conv(128, 128, 5, 5, H/4, W/4) // conv
	f += 2 * (c.FlattenSize()*1024 + 1024*1024 + 1024*int64(c.K) + 1024*2)
	return f
}

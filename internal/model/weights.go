package model

import (
	"slices"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Weight is one parameter's values on the host (glcnn.Weight).
type Weight = glcnn.Weight

// Weights copies every parameter to the host, keyed by its PyTorch name.
func (m *GLCNN) Weights() map[string]Weight {
	out := make(map[string]Weight, len(m.names))
	for _, s := range m.layers.Specs() {
		out[s.Name] = Weight{Shape: slices.Clone(s.Shape), Data: torchx.Float32s(m.params[s.Name])}
	}
	return out
}

// SetWeights loads host values into the parameters after
// glcnn.Config.CheckWeights (PyTorch's load_state_dict(strict=True), and
// every value finite). Nothing is changed unless all fit.
func (m *GLCNN) SetWeights(w map[string]Weight) error {
	if err := m.cfg.CheckWeights(w); err != nil {
		return err
	}
	return torchx.Catch(func() {
		for _, s := range m.layers.Specs() {
			src := torchx.FromFloat32(w[s.Name].Data, s.Shape...)
			if m.device != "cpu" {
				src = torchx.To(src, m.device)
			}
			torchx.Copy_(m.params[s.Name], src)
		}
	})
}

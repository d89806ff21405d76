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

// FromWeights builds the network on device straight from host values, for a
// model that only runs (predict, eval, serve): each parameter is one copy of
// w's values, where New followed by SetWeights would first fill every
// parameter with random initial values (Xavier-uniform over ~7 million
// values at 64×44, 4× that at 128×88) only to overwrite them. The result is
// the same network as New(cfg, seed, device) + SetWeights(w) for any seed,
// the parameters in the same order, trainable leaves. w must pass
// cfg.CheckWeights; libtorch's generator is left as it is.
func FromWeights(cfg Config, w map[string]Weight, device string) (*GLCNN, error) {
	layers, err := cfg.Layers()
	if err != nil {
		return nil, err
	}
	if err := CheckDevice(device); err != nil {
		return nil, err
	}
	if err := cfg.CheckWeights(w); err != nil {
		return nil, err
	}
	m := &GLCNN{cfg: cfg, layers: layers, device: device, params: map[string]Tensor{}}
	err = torchx.Catch(func() {
		for _, s := range layers.Specs() {
			t := torchx.FromFloat32On(w[s.Name].Data, device, s.Shape...) // one copy, onto the device
			torchx.SetRequiresGrad(t, true)
			m.names = append(m.names, s.Name)
			m.params[s.Name] = t
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

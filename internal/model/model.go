// Package model is the Global-Local CNN (GL-CNN) of Zhu et al., "Ordinal
// Distribution Regression for Gait-based Age Estimation" (Sci China Inf Sci
// 2020, arXiv 1905.11005) on libtorch. What the network is (valid
// configurations, layer and strip tables, parameter names and shapes, counts,
// weight checks) is internal/glcnn's; this package builds its parameters and
// runs it by walking glcnn's layer table, layer for layer as the seed's
// PyTorch GEINet (shared/seed/reference_model.md).
//
// Parameters carry the seed's PyTorch names (gl_conv1.conv.weight, …,
// linear_gender.bias), so weights move between gaitord and PyTorch by name.
package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Tensor is gotorch's tensor handle.
type Tensor = torchx.Tensor

// Config is the network's shape; see glcnn.Config for its fields and ranges.
type Config = glcnn.Config

// DefaultConfig is glcnn.DefaultConfig: 64×44, K = 100, ages 0…100, dropout 0.5.
func DefaultConfig() Config { return glcnn.DefaultConfig() }

// GLCNN is the network. Its parameters are long-lived leaf tensors created
// once, outside any training loop.
type GLCNN struct {
	cfg      Config
	layers   glcnn.Layers
	device   string
	names    []string
	params   map[string]Tensor
	training bool
}

// New builds the network on device ("cpu", "cuda", "cuda:N"), initialised
// reproducibly from seed: Xavier-uniform weights, zero linear biases and
// PyTorch's default U(±1/√fan_in) convolution biases, created in state_dict
// order, with the age head of cfg's loss type (glcnn.LossType). One bias
// starts elsewhere: l1's, whose output is the age in years, at the middle of
// the age range, MinAge + K/2. It seeds libtorch's default generator.
func New(cfg Config, seed uint64, device string) (*GLCNN, error) {
	layers, err := cfg.Layers()
	if err != nil {
		return nil, err
	}
	if err := CheckDevice(device); err != nil {
		return nil, err
	}
	m := &GLCNN{cfg: cfg, layers: layers, device: device, params: map[string]Tensor{}}
	err = torchx.Catch(func() {
		torchx.ManualSeed(seed)
		for _, b := range layers.Blocks() {
			w := torchx.Zeros(b.Out, b.In, b.KH, b.KW)
			torchx.XavierUniform_(w, 1)
			m.add(b.Weight(), w)
			bias := torchx.Zeros(b.Out)
			bound := 1 / math.Sqrt(float64(b.In*b.KH*b.KW))
			torchx.Uniform_(bias, -bound, bound)
			m.add(b.Bias(), bias)
		}
		for _, l := range layers.Linears() {
			w := torchx.Zeros(l.Out, l.In)
			torchx.XavierUniform_(w, 1)
			m.add(l.Weight(), w)
			bias := torchx.Zeros(l.BiasShape()...) // linear biases stay zero…
			if l == layers.Age && cfg.LossType() == glcnn.LossL1 {
				torchx.Fill_(bias, float64(cfg.MinAge)+float64(cfg.K)/2) // …but l1's: the middle of the range
			}
			m.add(l.Bias(), bias)
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// add places a freshly built parameter and records it under name.
func (m *GLCNN) add(name string, t Tensor) {
	m.names = append(m.names, name)
	m.params[name] = m.place(t)
}

// place moves a freshly built CPU tensor to the model's device and makes it a
// trainable leaf.
func (m *GLCNN) place(t Tensor) Tensor {
	if m.device != "cpu" {
		t = torchx.To(t, m.device)
	}
	torchx.SetRequiresGrad(t, true)
	return t
}

// CheckDevice refuses unknown device names and CUDA where libtorch has none.
func CheckDevice(device string) error {
	switch {
	case device == "cpu":
		return nil
	case device == "cuda" || strings.HasPrefix(device, "cuda:"):
		if !torchx.CUDAAvailable() {
			return fmt.Errorf("device %q: CUDA is not available (libtorch %s sees no CUDA GPU; rebuild with LIBTORCH=<CUDA libtorch> scripts/install_libtorch.sh on a GPU machine)", device, torchx.Version())
		}
		if idx := strings.TrimPrefix(device, "cuda:"); idx != device {
			var n int
			if _, err := fmt.Sscanf(idx, "%d", &n); err != nil || n < 0 || n >= torchx.CUDADeviceCount() || fmt.Sprint(n) != idx {
				return fmt.Errorf("device %q: no such GPU (%d visible)", device, torchx.CUDADeviceCount())
			}
		}
		return nil
	default:
		return fmt.Errorf("unknown device %q (use cpu, cuda or cuda:N)", device)
	}
}

// Config returns the model's configuration.
func (m *GLCNN) Config() Config { return m.cfg }

// Device returns the device the parameters live on.
func (m *GLCNN) Device() string { return m.device }

// Train switches dropout on (true) or off (false).
func (m *GLCNN) Train(on bool) { m.training = on }

// Training reports whether dropout is active.
func (m *GLCNN) Training() bool { return m.training }

// Names lists the parameter names in PyTorch's state_dict order.
func (m *GLCNN) Names() []string { return append([]string(nil), m.names...) }

// Params returns the parameter tensors in Names order.
func (m *GLCNN) Params() []Tensor {
	ps := make([]Tensor, len(m.names))
	for i, n := range m.names {
		ps[i] = m.params[n]
	}
	return ps
}

// Param returns one parameter by its PyTorch name.
func (m *GLCNN) Param(name string) (Tensor, bool) {
	t, ok := m.params[name]
	return t, ok
}

func (m *GLCNN) p(name string) Tensor { return m.params[name] }

// block is one glcnn.Block: conv → leaky_relu → 2×2 max-pool as one
// torchx.ConvBlock, or for a part block the same on each of its strips,
// concatenated along the height (torchx.PartBlock). On CPU they pick the fast
// memory layouts; the values are those of the plain ops.
func (m *GLCNN) block(x Tensor, b glcnn.Block) Tensor {
	w, bias := m.p(b.Weight()), m.p(b.Bias())
	if b.Part {
		return torchx.PartBlock(x, w, bias, b.Strips[:], b.PH, b.PW, glcnn.LeakySlope)
	}
	return torchx.ConvBlock(x, w, bias, b.PH, b.PW, glcnn.LeakySlope)
}

// linear is x·Wᵀ + b; a layer whose bias is longer than its output (CORAL's
// shared weight row, BiasLen = K) adds the bias by broadcasting, (N, 1) +
// (K) → (N, K).
func (m *GLCNN) linear(x Tensor, l glcnn.Linear) Tensor {
	if l.BiasLen != 0 {
		return torchx.Add(torchx.Linear(x, m.p(l.Weight()), Tensor{}), m.p(l.Bias()), 1)
	}
	return torchx.Linear(x, m.p(l.Weight()), m.p(l.Bias()))
}

// Forward maps GEIs x of shape (N, 1, H, W) to the age head's outputs
// (N, Config().AgeOutputs(): K ordinal logits for odl, ranking, coral and
// corn, K+1 for the softmax heads, 1 for l1; metrics.DecodeHead reads them)
// and two gender logits (N, 2; index 1 = male), walking glcnn's layer table: both
// branches from x, the fusing block on their channel concatenation, flatten,
// the hidden layers (leaky_relu, then dropout in training mode), the heads.
// It panics with *torchx.Error on a wrongly shaped input; ForwardChecked
// returns that as an error.
func (m *GLCNN) Forward(x Tensor) (age, gender Tensor) {
	l := &m.layers
	gl := x
	for _, b := range l.Global {
		gl = m.block(gl, b)
	}
	lc := x
	for _, b := range l.Local {
		lc = m.block(lc, b)
	}
	f := m.block(torchx.Cat([]Tensor{gl, lc}, 1), l.Fuse)
	f = torchx.Reshape(f, -1, l.Flatten)
	for _, h := range l.Hidden {
		f = torchx.Dropout(torchx.LeakyReLU(m.linear(f, h), glcnn.LeakySlope), m.cfg.Dropout, m.training)
	}
	return m.linear(f, l.Age), m.linear(f, l.Gender)
}

// ForwardChecked is Forward with the input's shape checked first and libtorch
// failures returned as errors.
func (m *GLCNN) ForwardChecked(x Tensor) (age, gender Tensor, err error) {
	sh := x.Shape()
	if len(sh) != 4 || sh[1] != 1 || sh[2] != int64(m.cfg.InputH) || sh[3] != int64(m.cfg.InputW) {
		return Tensor{}, Tensor{}, fmt.Errorf("GEI batch of shape %v, want (N, 1, %d, %d)", sh, m.cfg.InputH, m.cfg.InputW)
	}
	err = torchx.Catch(func() { age, gender = m.Forward(x) })
	return age, gender, err
}

// ForwardSet is the SetBlock form: x of shape (n, s, 1, H, W) holds s GEIs of
// each of n subjects. The set is folded into the batch, and the per-GEI
// outputs are pooled by averaging the probabilities over the set:
// p_k = mean_s σ(z_sk) (n, K), pMale = mean_s softmax(g_s)[1] (n). Its p_k
// are P(age > MinAge+k) for the heads whose outputs are those
// probabilities' logits (odl, ranking, coral); other loss types are refused.
func (m *GLCNN) ForwardSet(x Tensor) (pAge, pMale Tensor, err error) {
	switch t := m.cfg.LossType(); t {
	case glcnn.LossODL, glcnn.LossRanking, glcnn.LossCORAL:
	default:
		return Tensor{}, Tensor{}, fmt.Errorf("set pooling averages σ(z_k); a %s head's outputs are not those logits", t)
	}
	sh := x.Shape()
	if len(sh) != 5 || sh[2] != 1 || sh[3] != int64(m.cfg.InputH) || sh[4] != int64(m.cfg.InputW) {
		return Tensor{}, Tensor{}, fmt.Errorf("GEI set of shape %v, want (n, s, 1, %d, %d)", sh, m.cfg.InputH, m.cfg.InputW)
	}
	n, s := sh[0], sh[1]
	err = torchx.Catch(func() {
		age, gender := m.Forward(torchx.Reshape(x, n*s, 1, sh[3], sh[4]))
		pAge = torchx.MeanDim(torchx.Reshape(torchx.Sigmoid(age), n, s, int64(m.cfg.K)), 1, false)
		pg := torchx.Reshape(torchx.Softmax(gender, 1), n, s, 2)
		pMale = torchx.Reshape(torchx.Narrow(torchx.MeanDim(pg, 1, false), 1, 1, 1), n)
	})
	return pAge, pMale, err
}

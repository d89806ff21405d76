// Package model is the Global-Local CNN (GL-CNN) of Zhu et al., "Ordinal
// Distribution Regression for Gait-based Age Estimation" (Sci China Inf Sci
// 2020, arXiv 1905.11005), layer for layer as the seed's PyTorch GEINet
// (shared/seed/reference_model.md), with the seed's defects fixed: dropout
// acts in training mode only and the flatten size follows the input size.
//
// Parameters carry the seed's PyTorch names (gl_conv1.conv.weight, …,
// linear_gender.bias), so weights move between gaitord and PyTorch by name.
package model

import (
	"fmt"
	"strings"

	"github.com/gaitord/gaitord/internal/torchx"
)

// Tensor is gotorch's tensor handle.
type Tensor = torchx.Tensor

// Config is the model's shape: input size, number of ordinal tasks and the
// youngest age, and the dropout rate of the two hidden linear layers.
type Config struct {
	InputH, InputW int     // 64×44 or 128×88
	K              int     // ordinal tasks "age > MinAge+k", k = 0..K−1
	MinAge         int     // age of the first task's threshold
	Dropout        float64 // dropout probability after linear_layer1 and linear_layer2 (training only)
}

// DefaultConfig is the paper's setting for OU-MVLP GEIs: 64×44, K = 100, ages 0…100.
func DefaultConfig() Config { return Config{InputH: 64, InputW: 44, K: 100, MinAge: 0, Dropout: 0.5} }

// Validate refuses input sizes the part tables do not serve and nonsensical heads.
func (c Config) Validate() error {
	if !(c.InputH == 64 && c.InputW == 44) && !(c.InputH == 128 && c.InputW == 88) {
		return fmt.Errorf("input size %d×%d not supported: the head/body/feet tables serve 64×44 and 128×88", c.InputH, c.InputW)
	}
	// The same ranges as the experiment configuration (internal/config), so
	// that a file's metadata cannot describe a model no config could build.
	if c.K < 2 || c.K > 1000 {
		//lint:ignore ST1005 K is the paper's symbol for the number of ordinal tasks (a name, not a capitalised word); tests/badinput matches this message
		return fmt.Errorf("K = %d ordinal tasks: want 2…1000", c.K)
	}
	if c.MinAge < 0 || c.MinAge > 120 {
		return fmt.Errorf("min_age = %d: want 0…120", c.MinAge)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) { // refuses NaN too
		return fmt.Errorf("dropout = %v: must be in [0, 1)", c.Dropout)
	}
	return nil
}

// FlattenSize is the length of the feature vector entering linear_layer1:
// 128 channels × (H/8) × (W/8) after three 2×2 poolings (5120 for 64×44,
// 22528 for 128×88).
func (c Config) FlattenSize() int64 {
	return int64(128 * (c.InputH / 8) * (c.InputW / 8))
}

// Strips returns the [start, length) rows of the head, body and feet strips a
// PartConv2d cuts from a map of height h (the seed's table; the feet strip is
// cut at the map's end). Heights other than 32, 64 and 128 are refused.
func Strips(h int) ([3][2]int64, error) {
	var parts [3]int64
	switch h {
	case 32:
		parts = [3]int64{6, 12, 15}
	case 64:
		parts = [3]int64{10, 24, 30}
	case 128:
		parts = [3]int64{22, 48, 58}
	default:
		return [3][2]int64{}, fmt.Errorf("part strips: map height %d not in the table (32, 64, 128)", h)
	}
	var out [3][2]int64
	start := int64(0)
	for i, p := range parts {
		length := min(p, int64(h)-start)
		out[i] = [2]int64{start, length}
		start += p
	}
	return out, nil
}

// ParamSpec names one parameter and its shape.
type ParamSpec struct {
	Name  string
	Shape []int64
}

// Specs lists the parameters in PyTorch's state_dict order.
func (c Config) Specs() []ParamSpec {
	conv := func(name string, out, in, kh, kw int64) []ParamSpec {
		return []ParamSpec{{name + ".weight", []int64{out, in, kh, kw}}, {name + ".bias", []int64{out}}}
	}
	lin := func(name string, out, in int64) []ParamSpec {
		return []ParamSpec{{name + ".weight", []int64{out, in}}, {name + ".bias", []int64{out}}}
	}
	var s []ParamSpec
	s = append(s, conv("gl_conv1.conv", 32, 1, 7, 7)...)
	s = append(s, conv("gl_conv2.conv", 64, 32, 7, 7)...)
	s = append(s, conv("lc_conv1.conv.0", 32, 1, 7, 7)...)
	s = append(s, conv("lc_conv2.conv.0", 64, 32, 5, 7)...)
	s = append(s, conv("conv.conv", 128, 128, 5, 5)...)
	s = append(s, lin("linear_layer1", 1024, c.FlattenSize())...)
	s = append(s, lin("linear_layer2", 1024, 1024)...)
	s = append(s, lin("linear_age", int64(c.K), 1024)...)
	s = append(s, lin("linear_gender", 2, 1024)...)
	return s
}

// NumParams counts the model's scalar parameters.
func (c Config) NumParams() int64 {
	var n int64
	for _, s := range c.Specs() {
		p := int64(1)
		for _, d := range s.Shape {
			p *= d
		}
		n += p
	}
	return n
}

// GLCNN is the network. Its parameters are long-lived leaf tensors created
// once, outside any training loop.
type GLCNN struct {
	cfg      Config
	device   string
	names    []string
	params   map[string]Tensor
	training bool
	strips1  [3][2]int64 // lc_conv1 sees the input
	strips2  [3][2]int64 // lc_conv2 sees half of it
}

// New builds the network on device ("cpu", "cuda", "cuda:N"), initialised
// reproducibly from seed: Xavier-uniform weights, zero linear biases and
// PyTorch's default U(±1/√fan_in) convolution biases. It seeds libtorch's
// default generator.
func New(cfg Config, seed uint64, device string) (*GLCNN, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckDevice(device); err != nil {
		return nil, err
	}
	s1, _ := Strips(cfg.InputH)
	s2, err := Strips(cfg.InputH / 2)
	if err != nil {
		return nil, err
	}
	m := &GLCNN{cfg: cfg, device: device, params: map[string]Tensor{}, strips1: s1, strips2: s2}
	err = torchx.Catch(func() {
		torchx.ManualSeed(seed)
		for _, s := range cfg.Specs() {
			t := torchx.Zeros(s.Shape...)
			switch {
			case strings.HasSuffix(s.Name, ".weight"):
				torchx.XavierUniform_(t, 1)
			case strings.HasPrefix(s.Name, "linear"):
				// linear biases stay zero
			default: // conv bias: PyTorch's default U(−1/√fan_in, 1/√fan_in)
				w := cfg.shapeOf(strings.TrimSuffix(s.Name, ".bias") + ".weight")
				bound := 1 / sqrt(float64(w[1]*w[2]*w[3]))
				torchx.Uniform_(t, -bound, bound)
			}
			m.names = append(m.names, s.Name)
			m.params[s.Name] = m.place(t)
		}
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (c Config) shapeOf(name string) []int64 {
	for _, s := range c.Specs() {
		if s.Name == name {
			return s.Shape
		}
	}
	return nil
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

// basic is BasicConv2d: conv → leaky_relu(0.01) → 2×2 max-pool, as one
// torchx.ConvBlock (same values; on CPU it picks the fast memory layouts).
func (m *GLCNN) basic(x Tensor, name string, padH, padW int64) Tensor {
	return torchx.ConvBlock(x, m.p(name+".conv.weight"), m.p(name+".conv.bias"), padH, padW, 0.01)
}

// part is PartConv2d: one shared conv block applied to the head, body and
// feet strips, concatenated along the height.
func (m *GLCNN) part(x Tensor, name string, strips [3][2]int64, padH, padW int64) Tensor {
	return torchx.PartBlock(x, m.p(name+".conv.0.weight"), m.p(name+".conv.0.bias"), strips[:], padH, padW, 0.01)
}

// Forward maps GEIs x of shape (N, 1, H, W) to K age logits (N, K) and two
// gender logits (N, 2; index 1 = male). It panics with *torchx.Error on a
// wrongly shaped input; ForwardChecked returns that as an error.
func (m *GLCNN) Forward(x Tensor) (age, gender Tensor) {
	gl := m.basic(x, "gl_conv1", 3, 3)
	gl = m.basic(gl, "gl_conv2", 3, 3)
	lc := m.part(x, "lc_conv1", m.strips1, 3, 3)
	lc = m.part(lc, "lc_conv2", m.strips2, 2, 3)
	f := m.basic(torchx.Cat([]Tensor{gl, lc}, 1), "conv", 2, 2)
	f = torchx.Reshape(f, -1, m.cfg.FlattenSize())
	f = torchx.Linear(f, m.p("linear_layer1.weight"), m.p("linear_layer1.bias"))
	f = torchx.Dropout(torchx.LeakyReLU(f, 0.01), m.cfg.Dropout, m.training)
	f = torchx.Linear(f, m.p("linear_layer2.weight"), m.p("linear_layer2.bias"))
	f = torchx.Dropout(torchx.LeakyReLU(f, 0.01), m.cfg.Dropout, m.training)
	age = torchx.Linear(f, m.p("linear_age.weight"), m.p("linear_age.bias"))
	gender = torchx.Linear(f, m.p("linear_gender.weight"), m.p("linear_gender.bias"))
	return age, gender
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
// p_k = mean_s σ(z_sk) (n, K), pMale = mean_s softmax(g_s)[1] (n).
func (m *GLCNN) ForwardSet(x Tensor) (pAge, pMale Tensor, err error) {
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

// Package glcnn is the specification of gaitord's network, the Global-Local
// CNN (GL-CNN) of Zhu et al., "Ordinal Distribution Regression for Gait-based
// Age Estimation" (Sci China Inf Sci 2020, arXiv 1905.11005), as the seed's
// PyTorch GEINet (shared/seed/reference_model.md) with the seed's defects
// fixed (dropout in training only, flatten size following the input size).
//
// It is the one place that says what the network is: the valid
// configurations (Config.Validate), the layer table (Config.Layers), the
// head/body/feet strip table (Strips), the parameters' PyTorch names and
// shapes in state_dict order (Config.Specs), the parameter and FLOP counts,
// and the check that a set of host weights fits (Config.CheckWeights).
// internal/model runs the network on libtorch by walking the layer table,
// internal/onnx writes the same table as an ONNX graph, internal/checkpoint
// checks files against it and internal/config validates the experiment's
// model section with it.
//
// Why a package of its own: internal/model needs libtorch (cgo), and before
// this package every pure-Go reader of the network (onnx, checkpoint, config)
// kept its own copy of the tables, and the copies had drifted apart. This
// package imports only the standard library, so file formats and
// configuration are built and tested without libtorch.
//
// # The network, for a 1 × 64 × 44 GEI (128 × 88 in brackets)
//
// A block is Conv2d (stride 1, zero padding) → leaky_relu(LeakySlope) →
// MaxPool2d(2, 2). A part block (PartConv2d) applies one shared block to the
// head, body and feet strips of its input (Strips) and concatenates the three
// results along the height.
//
//	layer          parameters (prefix)   in → out ch  kernel  padding  output map
//	gl_conv1       gl_conv1.conv          1 →  32     7×7     3, 3     32×22  (64×44)
//	gl_conv2       gl_conv2.conv         32 →  64     7×7     3, 3     16×11  (32×22)
//	lc_conv1 part  lc_conv1.conv.0        1 →  32     7×7     3, 3     32×22  (64×44)
//	lc_conv2 part  lc_conv2.conv.0       32 →  64     5×7     2, 3     16×11  (32×22)
//	concat [gl_conv2, lc_conv2] on channels          128 × 16×11 (32×22)
//	conv           conv.conv            128 → 128     5×5     2, 2      8×5   (16×11)
//	flatten                                          F = 128·(H/8)·(W/8) = 5120 (22528)
//	linear_layer1  F → 1024, leaky_relu, dropout (training only)
//	linear_layer2  1024 → 1024, leaky_relu, dropout (training only)
//	linear_age     1024 → K   (logit k: "age > MinAge + k", k = 0…K−1)
//	linear_gender  1024 → 2   (index 1 = male)
//
// linear_age is the age head of the odl and ranking losses; the other members
// of the loss family (Config.Loss) put their own head in its place, named and
// shaped as LossType documents.
//
// Each convolution keeps the map size (padding = (kernel−1)/2), so a block's
// output is ⌊H/2⌋ × ⌊W/2⌋ of its input, and a part block's output height is
// the sum of its strips' ⌊rows/2⌋.
//
// # Formulas
//
// A convolution's parameters are weight [out, in, kh, kw] and bias [out]; a
// linear layer's are weight [out, in] and bias [out]. The forward FLOPs for
// one GEI count a multiply-add as 2 and cover the convolutions and linear
// layers (activations and poolings add well under 1%):
//
//	conv:   2 · out · in · kh · kw · OH · OW   (per strip for a part block)
//	linear: 2 · in · out
//
// which gives 416,854,016 for 64×44, K = 100 and 1,664,671,744 for 128×88,
// K = 90. The parameter count is 6,983,142 for 64×44, K = 100.
//
// python/gaitord_torch.py mirrors the network and the heads of LossType in
// PyTorch for Python users; tests/e2e/pymodule_test.go checks that it loads
// every loss type's export and predicts as gaitord does.
package glcnn

import (
	"fmt"
	"strings"
)

// LeakySlope is the negative slope of every leaky ReLU in the network.
const LeakySlope = 0.01

// Config is the network's shape: input size, number of ordinal tasks, the
// youngest age, the dropout rate of the two hidden linear layers and the loss
// type, which chooses the age head.
type Config struct {
	InputH, InputW int      // GEI height and width: 64×44 or 128×88
	K              int      // ordinal tasks "age > MinAge+k", k = 0…K−1: 2…1000; ages MinAge…MinAge+K are representable
	MinAge         int      // age of the first task's threshold: 0…120
	Dropout        float64  // dropout after linear_layer1 and linear_layer2 (training only): [0, 1)
	Loss           LossType // the age head's loss type; "" reads as LossODL
}

// LossType is c.Loss, LossODL when empty.
func (c Config) LossType() LossType { return c.Loss.Resolved() }

// Canonical is c with the loss type spelled out, for comparing
// configurations ("" and "odl" are the same network).
func (c Config) Canonical() Config {
	c.Loss = c.Loss.Resolved()
	return c
}

// DefaultConfig is the paper's setting for OU-MVLP GEIs: 64×44, K = 100,
// ages 0…100, dropout 0.5. A weights file that does not state its shape is
// read as this.
func DefaultConfig() Config { return Config{InputH: 64, InputW: 44, K: 100, MinAge: 0, Dropout: 0.5} }

// The valid ranges. Sizes are those whose maps every part block's strip
// table covers (Strips); K, MinAge and Dropout bound the heads.
var sizes = [][2]int{{64, 44}, {128, 88}}

const (
	minK, maxK           = 2, 1000
	minMinAge, maxMinAge = 0, 120
)

// RangeError is a Config value outside what the network serves.
type RangeError struct {
	// Key names the value as the experiment configuration's model section
	// and the files' metadata do: "input_height/input_width", "k",
	// "min_age" or "dropout"; or "loss_type", the files' metadata key (the
	// configuration checks its loss.type itself).
	Key string
	// Msg says what is wrong in words that follow the key:
	// "got 1, want 2…1000 ordinal tasks".
	Msg string

	sentence string // Error(): the same fact on its own, "K = 1 ordinal tasks: want 2…1000"
}

func (e *RangeError) Error() string { return e.sentence }

// sizesText lists the served sizes: "64×44, 128×88".
func sizesText() string {
	s := make([]string, len(sizes))
	for i, hw := range sizes {
		s[i] = fmt.Sprintf("%d×%d", hw[0], hw[1])
	}
	return strings.Join(s, ", ")
}

// Validate refuses configurations the network does not serve, with a
// *RangeError for the first value out of range.
func (c Config) Validate() error {
	served := false
	for _, hw := range sizes {
		served = served || (c.InputH == hw[0] && c.InputW == hw[1])
	}
	if !served {
		msg := fmt.Sprintf("%d×%d not supported; supported: %s", c.InputH, c.InputW, sizesText())
		return &RangeError{Key: "input_height/input_width", Msg: msg, sentence: "input size " + msg}
	}
	if c.K < minK || c.K > maxK {
		return &RangeError{Key: "k",
			Msg:      fmt.Sprintf("got %d, want %d…%d ordinal tasks", c.K, minK, maxK),
			sentence: fmt.Sprintf("K = %d ordinal tasks: want %d…%d", c.K, minK, maxK)}
	}
	if c.MinAge < minMinAge || c.MinAge > maxMinAge {
		return &RangeError{Key: "min_age",
			Msg:      fmt.Sprintf("got %d, want %d…%d", c.MinAge, minMinAge, maxMinAge),
			sentence: fmt.Sprintf("min_age = %d: want %d…%d", c.MinAge, minMinAge, maxMinAge)}
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) { // refuses NaN too
		return &RangeError{Key: "dropout",
			Msg:      fmt.Sprintf("got %v, want [0, 1)", c.Dropout),
			sentence: fmt.Sprintf("dropout = %v: want [0, 1)", c.Dropout)}
	}
	if _, err := ParseLossType(string(c.Loss)); err != nil {
		return &RangeError{Key: "loss_type",
			Msg:      fmt.Sprintf("got %q, want %s", c.Loss, LossTypesText()),
			sentence: err.Error()}
	}
	return nil
}

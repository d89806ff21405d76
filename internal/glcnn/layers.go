package glcnn

import "fmt"

// Block is one convolution block: Conv2d (stride 1) → leaky_relu(LeakySlope)
// → MaxPool2d(2, 2). A part block (PartConv2d) applies the one block, with
// shared parameters, to the head, body and feet strips of its input and
// concatenates the three results along the height.
type Block struct {
	Module string // the GEINet attribute, also the ONNX node scope: "gl_conv1"
	Param  string // prefix of its parameters: Param+".weight" [Out, In, KH, KW], Param+".bias" [Out]
	In     int64  // input channels
	Out    int64  // output channels
	KH, KW int64  // kernel height and width
	PH, PW int64  // zero padding above and below, left and right
	Part   bool   // a PartConv2d

	// Set by Config.Layers for the configuration's input size.
	InH, InW   int64       // the map the block sees
	OutH, OutW int64       // the map it produces
	Strips     [3][2]int64 // part blocks: {first row, rows} of head, body and feet in the input (Strips(InH))
}

// Weight is the name of the block's weight tensor.
func (b Block) Weight() string { return b.Param + ".weight" }

// Bias is the name of the block's bias tensor.
func (b Block) Bias() string { return b.Param + ".bias" }

// Linear is a fully connected layer y = x·Wᵀ + b.
type Linear struct {
	Param   string // prefix of its parameters, also its GEINet attribute: "linear_layer1"
	In, Out int64  // weight [Out, In], bias [Out] (or [BiasLen])
	// BiasLen, when not 0, is the bias's length in place of Out: CORAL's head
	// has one weight row shared by every task (Out = 1) and one bias per task
	// (BiasLen = K), y = x·wᵀ + b broadcast to (N, K).
	BiasLen int64
}

// Width is the number of values the layer puts out per sample:
// max(Out, BiasLen).
func (l Linear) Width() int64 { return max(l.Out, l.BiasLen) }

// BiasShape is the shape of the bias: [Out], or [BiasLen] when set.
func (l Linear) BiasShape() []int64 {
	if l.BiasLen != 0 {
		return []int64{l.BiasLen}
	}
	return []int64{l.Out}
}

// Weight is the name of the layer's weight tensor.
func (l Linear) Weight() string { return l.Param + ".weight" }

// Bias is the name of the layer's bias tensor.
func (l Linear) Bias() string { return l.Param + ".bias" }

// Layers is the network for one Config, in forward order, which is also the
// order of PyTorch's state_dict.
type Layers struct {
	Global  []Block  // gl_conv1, gl_conv2: the global branch, on the input
	Local   []Block  // lc_conv1, lc_conv2: the local branch of part blocks, on the input
	Fuse    Block    // conv: on both branches concatenated along channels, global first
	Flatten int64    // length of the feature vector that enters Hidden[0]: Fuse.Out·Fuse.OutH·Fuse.OutW
	Hidden  []Linear // linear_layer1, linear_layer2: each followed by leaky_relu(LeakySlope) and dropout (training only)
	Age     Linear   // the age head of the configuration's loss type (see LossType): linear_age, K ordinal logits z_k for "age > MinAge + k", for odl and ranking
	Gender  Linear   // linear_gender: 2 logits, index 1 = male
}

// The fixed part of the table: channels, kernels and padding. Map sizes and
// the widths that depend on them follow from a Config (Config.Layers).
var (
	globalBranch = []Block{
		{Module: "gl_conv1", Param: "gl_conv1.conv", In: 1, Out: 32, KH: 7, KW: 7, PH: 3, PW: 3},
		{Module: "gl_conv2", Param: "gl_conv2.conv", In: 32, Out: 64, KH: 7, KW: 7, PH: 3, PW: 3},
	}
	localBranch = []Block{
		{Module: "lc_conv1", Param: "lc_conv1.conv.0", In: 1, Out: 32, KH: 7, KW: 7, PH: 3, PW: 3, Part: true},
		{Module: "lc_conv2", Param: "lc_conv2.conv.0", In: 32, Out: 64, KH: 5, KW: 7, PH: 2, PW: 3, Part: true},
	}
	fuseBlock = Block{Module: "conv", Param: "conv.conv", In: 128, Out: 128, KH: 5, KW: 5, PH: 2, PW: 2}
)

// hiddenWidth is the width of linear_layer1 and linear_layer2.
const hiddenWidth = 1024

// stripTable gives the head, body and feet heights by the height of the map a
// part block sees (the seed's table).
var stripTable = map[int][3]int64{
	32:  {6, 12, 15},
	64:  {10, 24, 30},
	128: {22, 48, 58},
}

// Strips returns {first row, rows} of the head, body and feet strips a part
// block cuts from a map of height h. The strips follow each other from row 0
// and the feet strip is cut at the map's end (for h = 32 the table's
// 6 + 12 + 15 rows would need 33, so the feet keep 14). Heights other than
// 32, 64 and 128 are refused.
func Strips(h int) ([3][2]int64, error) {
	parts, ok := stripTable[h]
	if !ok {
		return [3][2]int64{}, fmt.Errorf("part strips: map height %d not in the table (32, 64, 128)", h)
	}
	var out [3][2]int64
	start := int64(0)
	for i, p := range parts {
		out[i] = [2]int64{start, min(p, int64(h)-start)}
		start += p
	}
	return out, nil
}

// Layers returns the layer table for c, every block's map sizes and strips
// worked out. It refuses an invalid c (see Validate).
func (c Config) Layers() (Layers, error) {
	if err := c.Validate(); err != nil {
		return Layers{}, err
	}
	var l Layers
	var err error
	var gh, gw, gc, lh, lw, lc int64
	if l.Global, gh, gw, gc, err = walk(globalBranch, int64(c.InputH), int64(c.InputW), 1); err != nil {
		return Layers{}, err
	}
	if l.Local, lh, lw, lc, err = walk(localBranch, int64(c.InputH), int64(c.InputW), 1); err != nil {
		return Layers{}, err
	}
	if gh != lh || gw != lw {
		return Layers{}, fmt.Errorf("%d×%d input: the global branch ends at %d×%d, the local one at %d×%d: cannot concatenate", c.InputH, c.InputW, gh, gw, lh, lw)
	}
	fuse, _, _, _, err := walk([]Block{fuseBlock}, gh, gw, gc+lc)
	if err != nil {
		return Layers{}, err
	}
	l.Fuse = fuse[0]
	l.Flatten = l.Fuse.Out * l.Fuse.OutH * l.Fuse.OutW
	l.Hidden = []Linear{
		{Param: "linear_layer1", In: l.Flatten, Out: hiddenWidth},
		{Param: "linear_layer2", In: hiddenWidth, Out: hiddenWidth},
	}
	l.Age = ageHead(c.Loss, hiddenWidth, int64(c.K))
	l.Gender = Linear{Param: "linear_gender", In: hiddenWidth, Out: 2}
	return l, nil
}

// walk places a chain of blocks on an h×w map of ch channels and returns the
// placed copies and the final map size and channels.
func walk(chain []Block, h, w, ch int64) (placed []Block, oh, ow, oc int64, err error) {
	for _, b := range chain {
		if b.In != ch {
			return nil, 0, 0, 0, fmt.Errorf("%s takes %d channels, gets %d", b.Module, b.In, ch)
		}
		b.InH, b.InW = h, w
		// stride-1 convolution: n + 2p − k + 1 rows (the same n for these paddings); then 2×2 pooling.
		b.OutW = (w + 2*b.PW - b.KW + 1) / 2
		if b.Part {
			if b.Strips, err = Strips(int(h)); err != nil {
				return nil, 0, 0, 0, fmt.Errorf("%s: %w", b.Module, err)
			}
			for _, s := range b.Strips {
				b.OutH += (s[1] + 2*b.PH - b.KH + 1) / 2
			}
		} else {
			b.OutH = (h + 2*b.PH - b.KH + 1) / 2
		}
		if b.OutH < 1 || b.OutW < 1 {
			return nil, 0, 0, 0, fmt.Errorf("%s: a %d×%d map leaves nothing after the block", b.Module, h, w)
		}
		placed = append(placed, b)
		h, w, ch = b.OutH, b.OutW, b.Out
	}
	return placed, h, w, ch, nil
}

// mustLayers is Layers for the methods that take a configuration already
// validated where it entered the program (config.Load, checkpoint.Load,
// model.New, onnx.Export); an invalid one here is a programming error.
func (c Config) mustLayers(what string) Layers {
	l, err := c.Layers()
	if err != nil {
		panic(fmt.Sprintf("glcnn: %s of an invalid configuration %+v: %v", what, c, err))
	}
	return l
}

// ParamSpec names one parameter and its shape.
type ParamSpec struct {
	Name  string
	Shape []int64
}

// Specs lists the parameters in PyTorch's state_dict order: weight then bias
// of gl_conv1, gl_conv2, lc_conv1, lc_conv2, conv, linear_layer1,
// linear_layer2, the age head (linear_age for odl and ranking, see LossType)
// and linear_gender.
func (l Layers) Specs() []ParamSpec {
	var s []ParamSpec
	for _, b := range l.Blocks() {
		s = append(s, ParamSpec{b.Weight(), []int64{b.Out, b.In, b.KH, b.KW}}, ParamSpec{b.Bias(), []int64{b.Out}})
	}
	for _, f := range l.Linears() {
		s = append(s, ParamSpec{f.Weight(), []int64{f.Out, f.In}}, ParamSpec{f.Bias(), f.BiasShape()})
	}
	return s
}

// Blocks lists the convolution blocks in state_dict order: Global, Local, Fuse.
func (l Layers) Blocks() []Block {
	return append(append(append([]Block(nil), l.Global...), l.Local...), l.Fuse)
}

// Linears lists the linear layers in state_dict order: Hidden, Age, Gender.
func (l Layers) Linears() []Linear {
	return append(append([]Linear(nil), l.Hidden...), l.Age, l.Gender)
}

// NumParams counts the scalar parameters.
func (l Layers) NumParams() int64 {
	var n int64
	for _, s := range l.Specs() {
		n += Numel(s.Shape)
	}
	return n
}

// FLOPs is the forward pass's floating-point operation count for one GEI,
// counting a multiply-add as 2, over the convolutions (2·out·in·kh·kw·OH·OW,
// per strip for a part block) and the linear layers (2·in·out); activations
// and poolings add well under 1% and are left out.
func (l Layers) FLOPs() int64 {
	var f int64
	for _, b := range l.Blocks() {
		rows := []int64{b.InH}
		if b.Part {
			rows = []int64{b.Strips[0][1], b.Strips[1][1], b.Strips[2][1]}
		}
		ow := b.InW + 2*b.PW - b.KW + 1
		for _, r := range rows {
			oh := r + 2*b.PH - b.KH + 1
			f += 2 * b.Out * b.In * b.KH * b.KW * oh * ow
		}
	}
	for _, x := range l.Linears() {
		f += 2 * x.In * x.Out
	}
	return f
}

// Specs is Layers().Specs() for a valid c (it panics on an invalid one).
func (c Config) Specs() []ParamSpec { return c.mustLayers("Specs").Specs() }

// NumParams is Layers().NumParams() for a valid c (it panics on an invalid one).
func (c Config) NumParams() int64 { return c.mustLayers("NumParams").NumParams() }

// FLOPs is Layers().FLOPs() for a valid c (it panics on an invalid one).
func (c Config) FLOPs() int64 { return c.mustLayers("FLOPs").FLOPs() }

// Numel is the number of values of a tensor of the given shape.
func Numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

package glcnn

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var big = Config{InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.25}

// Each range's edges: the last value in and the first value out, with the
// key, the message after the key and the sentence of its own.
func TestValidateRangeEdges(t *testing.T) {
	ok := func(mod func(*Config)) Config { c := DefaultConfig(); mod(&c); return c }
	for _, c := range []Config{
		DefaultConfig(), big,
		ok(func(c *Config) { c.K = 2 }), ok(func(c *Config) { c.K = 1000 }),
		ok(func(c *Config) { c.MinAge = 0 }), ok(func(c *Config) { c.MinAge = 120 }),
		ok(func(c *Config) { c.Dropout = 0 }), ok(func(c *Config) { c.Dropout = math.Nextafter(1, 0) }),
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v refused: %v", c, err)
		}
	}
	for _, c := range []struct {
		cfg           Config
		key, msg, err string
	}{
		{ok(func(c *Config) { c.InputW = 88 }), "input_height/input_width", "64×88 not supported; supported: 64×44, 128×88", "input size 64×88 not supported; supported: 64×44, 128×88"},
		{ok(func(c *Config) { c.InputH, c.InputW = 128, 44 }), "input_height/input_width", "128×44 not supported; supported: 64×44, 128×88", "input size 128×44 not supported"},
		{ok(func(c *Config) { c.InputH, c.InputW = 32, 22 }), "input_height/input_width", "32×22 not supported", "input size 32×22"},
		{ok(func(c *Config) { c.InputH, c.InputW = 100, 50 }), "input_height/input_width", "100×50 not supported", "input size 100×50"},
		{ok(func(c *Config) { c.K = 1 }), "k", "got 1, want 2…1000 ordinal tasks", "K = 1 ordinal tasks: want 2…1000"},
		{ok(func(c *Config) { c.K = 0 }), "k", "got 0, want 2…1000 ordinal tasks", "K = 0 ordinal tasks: want 2…1000"},
		{ok(func(c *Config) { c.K = 1001 }), "k", "got 1001, want 2…1000 ordinal tasks", "K = 1001 ordinal tasks: want 2…1000"},
		{ok(func(c *Config) { c.MinAge = -1 }), "min_age", "got -1, want 0…120", "min_age = -1: want 0…120"},
		{ok(func(c *Config) { c.MinAge = 121 }), "min_age", "got 121, want 0…120", "min_age = 121: want 0…120"},
		{ok(func(c *Config) { c.Dropout = 1 }), "dropout", "got 1, want [0, 1)", "dropout = 1: want [0, 1)"},
		{ok(func(c *Config) { c.Dropout = math.Nextafter(0, -1) }), "dropout", "got -5e-324, want [0, 1)", "dropout = -5e-324: want [0, 1)"},
		{ok(func(c *Config) { c.Dropout = math.NaN() }), "dropout", "got NaN, want [0, 1)", "dropout = NaN: want [0, 1)"},
	} {
		err := c.cfg.Validate()
		var re *RangeError
		if !errors.As(err, &re) {
			t.Errorf("%+v: err = %v, want a *RangeError", c.cfg, err)
			continue
		}
		if re.Key != c.key || !strings.HasPrefix(re.Msg, c.msg) || !strings.HasPrefix(err.Error(), c.err) {
			t.Errorf("%+v: key %q msg %q error %q; want %q, %q, %q", c.cfg, re.Key, re.Msg, err, c.key, c.msg, c.err)
		}
		// Everything built from a configuration refuses it the same way.
		if _, lerr := c.cfg.Layers(); lerr == nil || lerr.Error() != err.Error() {
			t.Errorf("%+v: Layers err = %v, want %v", c.cfg, lerr, err)
		}
		if werr := c.cfg.CheckWeights(nil); werr == nil || werr.Error() != err.Error() {
			t.Errorf("%+v: CheckWeights err = %v, want %v", c.cfg, werr, err)
		}
	}
}

func TestStripsTable(t *testing.T) {
	for h, want := range map[int][3][2]int64{
		32:  {{0, 6}, {6, 12}, {18, 14}}, // feet cut at the map's end: 14 of 15 rows
		64:  {{0, 10}, {10, 24}, {34, 30}},
		128: {{0, 22}, {22, 48}, {70, 58}},
	} {
		got, err := Strips(h)
		if err != nil || got != want {
			t.Errorf("Strips(%d) = %v, %v; want %v", h, got, err, want)
		}
	}
	for _, h := range []int{0, 48, 100, 256} {
		if _, err := Strips(h); err == nil || !strings.Contains(err.Error(), "height "+strconv.Itoa(h)+" not in the table") {
			t.Errorf("Strips(%d) err = %v", h, err)
		}
	}
}

// The layer table's map sizes, as reference_model.md gives them.
func TestLayersMapSizes(t *testing.T) {
	type hw struct{ h, w int64 }
	for _, c := range []struct {
		cfg                       Config
		gl1, gl2, lc1, lc2, fused hw
		strips1, strips2          [3][2]int64
		flatten                   int64
	}{
		{DefaultConfig(), hw{32, 22}, hw{16, 11}, hw{32, 22}, hw{16, 11}, hw{8, 5},
			[3][2]int64{{0, 10}, {10, 24}, {34, 30}}, [3][2]int64{{0, 6}, {6, 12}, {18, 14}}, 5120},
		{big, hw{64, 44}, hw{32, 22}, hw{64, 44}, hw{32, 22}, hw{16, 11},
			[3][2]int64{{0, 22}, {22, 48}, {70, 58}}, [3][2]int64{{0, 10}, {10, 24}, {34, 30}}, 22528},
	} {
		l, err := c.cfg.Layers()
		if err != nil {
			t.Fatal(err)
		}
		out := func(b Block) hw { return hw{b.OutH, b.OutW} }
		if out(l.Global[0]) != c.gl1 || out(l.Global[1]) != c.gl2 || out(l.Local[0]) != c.lc1 || out(l.Local[1]) != c.lc2 || out(l.Fuse) != c.fused {
			t.Errorf("%d×%d: maps %v %v %v %v %v", c.cfg.InputH, c.cfg.InputW, out(l.Global[0]), out(l.Global[1]), out(l.Local[0]), out(l.Local[1]), out(l.Fuse))
		}
		if !l.Local[0].Part || !l.Local[1].Part || l.Global[0].Part || l.Fuse.Part {
			t.Errorf("part flags: %+v", l)
		}
		if l.Local[0].Strips != c.strips1 || l.Local[1].Strips != c.strips2 {
			t.Errorf("strips %v %v", l.Local[0].Strips, l.Local[1].Strips)
		}
		if l.Flatten != c.flatten || l.Hidden[0].In != c.flatten {
			t.Errorf("flatten %d, linear_layer1 in %d, want %d", l.Flatten, l.Hidden[0].In, c.flatten)
		}
		if l.Fuse.In != l.Global[1].Out+l.Local[1].Out || l.Age.Out != int64(c.cfg.K) || l.Gender.Out != 2 {
			t.Errorf("channels/heads: fuse in %d, age %d, gender %d", l.Fuse.In, l.Age.Out, l.Gender.Out)
		}
		// The kernel/padding pairs keep the map size, so the block only pools.
		for _, b := range l.Blocks() {
			if b.KH != 2*b.PH+1 || b.KW != 2*b.PW+1 {
				t.Errorf("%s: kernel %d×%d, padding %d, %d", b.Module, b.KH, b.KW, b.PH, b.PW)
			}
		}
	}
}

// NumParams and FLOPs against counts written out by hand from
// reference_model.md's table.
func TestCounts(t *testing.T) {
	conv := int64(32*1*49+32) + 64*32*49 + 64 + 32*1*49 + 32 + 64*32*35 + 64 + 128*128*25 + 128
	lin := func(f, k int64) int64 { return f*1024 + 1024 + 1024*1024 + 1024 + 1024*k + k + 1024*2 + 2 }
	convFLOPs := func(h, w int64, s2 [3]int64) int64 {
		f := 2*32*1*49*h*w + 2*64*32*49*(h/2)*(w/2) // gl_conv1, gl_conv2
		f += 2 * 32 * 1 * 49 * h * w                // lc_conv1: its strips tile the height
		for _, rows := range s2 {                   // lc_conv2's strips
			f += 2 * 64 * 32 * 35 * rows * (w / 2)
		}
		return f + 2*128*128*25*(h/4)*(w/4) // conv
	}
	linFLOPs := func(f, k int64) int64 { return 2 * (f*1024 + 1024*1024 + 1024*k + 1024*2) }
	for _, c := range []struct {
		cfg            Config
		params, flops  int64
		literalP, litF int64
	}{
		{DefaultConfig(), conv + lin(5120, 100), convFLOPs(64, 44, [3]int64{6, 12, 14}) + linFLOPs(5120, 100), 6983142, 416854016},
		{big, conv + lin(22528, 90), convFLOPs(128, 88, [3]int64{10, 24, 30}) + linFLOPs(22528, 90), 24798684, 1664671744},
	} {
		if got := c.cfg.NumParams(); got != c.params || got != c.literalP {
			t.Errorf("%d×%d: NumParams %d, want %d (%d)", c.cfg.InputH, c.cfg.InputW, got, c.params, c.literalP)
		}
		if got := c.cfg.FLOPs(); got != c.flops || got != c.litF {
			t.Errorf("%d×%d: FLOPs %d, want %d (%d)", c.cfg.InputH, c.cfg.InputW, got, c.flops, c.litF)
		}
	}
}

func TestSpecsOrderAndNames(t *testing.T) {
	var names []string
	for _, s := range DefaultConfig().Specs() {
		names = append(names, s.Name)
	}
	want := []string{
		"gl_conv1.conv.weight", "gl_conv1.conv.bias", "gl_conv2.conv.weight", "gl_conv2.conv.bias",
		"lc_conv1.conv.0.weight", "lc_conv1.conv.0.bias", "lc_conv2.conv.0.weight", "lc_conv2.conv.0.bias",
		"conv.conv.weight", "conv.conv.bias", "linear_layer1.weight", "linear_layer1.bias",
		"linear_layer2.weight", "linear_layer2.bias", "linear_age.weight", "linear_age.bias",
		"linear_gender.weight", "linear_gender.bias",
	}
	if !slices.Equal(names, want) {
		t.Errorf("names %v\nwant %v", names, want)
	}
}

func TestMustLayersPanicsOnInvalidConfig(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "K = 1 ordinal tasks") {
			t.Errorf("recovered %v", r)
		}
	}()
	Config{InputH: 64, InputW: 44, K: 1}.Specs()
}

func weightsOf(c Config) map[string]Weight {
	w := map[string]Weight{}
	for i, s := range c.Specs() {
		d := make([]float32, Numel(s.Shape))
		for j := range d {
			d[j] = float32(i) + float32(j%7)/7
		}
		w[s.Name] = Weight{Shape: s.Shape, Data: d}
	}
	return w
}

func TestCheckWeights(t *testing.T) {
	c := DefaultConfig()
	if err := c.CheckWeights(weightsOf(c)); err != nil {
		t.Fatalf("fitting weights refused: %v", err)
	}
	if err := big.CheckWeights(weightsOf(big)); err != nil {
		t.Fatalf("fitting 128×88 weights refused: %v", err)
	}
	w := weightsOf(c)
	delete(w, "conv.conv.bias")
	w["linear_age.weight"] = Weight{Shape: []int64{90, 1024}, Data: make([]float32, 90*1024)}
	w["gl_conv1.conv.bias"] = Weight{Shape: []int64{32}, Data: make([]float32, 31)}
	w["linear_layer2.weight"].Data[5] = float32(math.NaN())
	w["linear_layer2.weight"].Data[9] = float32(math.Inf(-1))
	w["linear_gender.bias"].Data[1] = float32(math.Inf(1))
	w["extra.weight"] = Weight{Shape: []int64{1}, Data: []float32{0}}
	w["a.bias"] = Weight{Shape: []int64{1}, Data: []float32{0}}
	err := c.CheckWeights(w)
	want := "weights do not fit the model: " +
		"gl_conv1.conv.bias holds 31 values for shape [32]; " +
		"missing conv.conv.bias (shape [128]); " +
		"linear_layer2.weight holds 2 non-finite values (first NaN at index 5); " +
		"linear_age.weight has shape [90 1024], model (64×44, K=100) needs [100 1024]; " +
		"linear_gender.bias holds 1 non-finite values (first +Inf at index 1); " +
		"unexpected a.bias; unexpected extra.weight"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	// 128×88 weights under the 64×44 configuration: linear_layer1 is the one misfit.
	err = c.CheckWeights(weightsOf(big))
	if err == nil || err.Error() != "weights do not fit the model: linear_layer1.weight has shape [1024 22528], model (64×44, K=100) needs [1024 5120]; linear_age.weight has shape [90 1024], model (64×44, K=100) needs [100 1024]; linear_age.bias has shape [90], model (64×44, K=100) needs [100]" {
		t.Fatalf("err = %v", err)
	}
}

// Every loss type's age head: names, shapes, output width, and K read back
// from the bias length; the rest of the network is the same for all.
func TestAgeHeads(t *testing.T) {
	base := DefaultConfig()
	baseSpecs := base.Specs()
	for _, c := range []struct {
		loss          LossType
		param         string
		weight, bias  []int64
		outputs       int
		kBack, distro bool
	}{
		{"", "linear_age", []int64{100, 1024}, []int64{100}, 100, true, true},
		{LossODL, "linear_age", []int64{100, 1024}, []int64{100}, 100, true, true},
		{LossRanking, "linear_age", []int64{100, 1024}, []int64{100}, 100, true, true},
		{LossCORAL, "coral_age", []int64{1, 1024}, []int64{100}, 100, true, true},
		{LossCORN, "corn_age", []int64{100, 1024}, []int64{100}, 100, true, true},
		{LossDLDL, "dldl_age", []int64{101, 1024}, []int64{101}, 101, true, true},
		{LossMeanVariance, "mean_variance_age", []int64{101, 1024}, []int64{101}, 101, true, true},
		{LossL1, "l1_age", []int64{1, 1024}, []int64{1}, 1, false, false},
	} {
		cfg := base
		cfg.Loss = c.loss
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: %v", c.loss, err)
		}
		specs := cfg.Specs()
		if len(specs) != len(baseSpecs) {
			t.Fatalf("%q: %d parameters", c.loss, len(specs))
		}
		for i, s := range specs {
			want := baseSpecs[i]
			switch i {
			case 14:
				want = ParamSpec{c.param + ".weight", c.weight}
			case 15:
				want = ParamSpec{c.param + ".bias", c.bias}
			}
			if s.Name != want.Name || !slices.Equal(s.Shape, want.Shape) {
				t.Errorf("%q: parameter %d is %s %v, want %s %v", c.loss, i, s.Name, s.Shape, want.Name, want.Shape)
			}
		}
		if got := cfg.AgeOutputs(); got != c.outputs {
			t.Errorf("%q: AgeOutputs %d, want %d", c.loss, got, c.outputs)
		}
		if k, ok := KFromAgeBias(cfg.LossType(), c.bias[0]); ok != c.kBack || (ok && k != 100) {
			t.Errorf("%q: KFromAgeBias(%d) = %d, %v", c.loss, c.bias[0], k, ok)
		}
		if cfg.LossType().Distribution() != c.distro {
			t.Errorf("%q: Distribution() = %v", c.loss, !c.distro)
		}
		if err := cfg.CheckWeights(weightsOf(cfg)); err != nil {
			t.Errorf("%q: fitting weights refused: %v", c.loss, err)
		}
		// the parameter count changes by the head alone
		head := Numel(c.weight) + Numel(c.bias)
		if got, want := cfg.NumParams(), base.NumParams()-(100*1024+100)+head; got != want {
			t.Errorf("%q: NumParams %d, want %d", c.loss, got, want)
		}
	}
	// A head of another type does not fit, and the error names the type.
	coral := base
	coral.Loss = LossCORAL
	err := coral.CheckWeights(weightsOf(base))
	if err == nil || !strings.Contains(err.Error(), "missing coral_age.weight (shape [1 1024])") || !strings.Contains(err.Error(), "unexpected linear_age.weight") {
		t.Errorf("odl weights under coral: %v", err)
	}
	corn := base
	corn.Loss, corn.K = LossCORN, 90
	if err := corn.CheckWeights(weightsOf(Config{InputH: 64, InputW: 44, K: 100, Loss: LossCORN})); err == nil ||
		!strings.Contains(err.Error(), "corn_age.bias has shape [100], model (64×44, K=90, corn) needs [90]") {
		t.Errorf("K mismatch under corn: %v", err)
	}
}

func TestLossTypes(t *testing.T) {
	want := []LossType{"odl", "ranking", "coral", "corn", "dldl", "mean-variance", "l1"}
	if got := LossTypes(); !slices.Equal(got, want) {
		t.Fatalf("LossTypes() = %v", got)
	}
	for _, lt := range want {
		if got, err := ParseLossType(string(lt)); err != nil || got != lt {
			t.Errorf("ParseLossType(%q) = %q, %v", lt, got, err)
		}
	}
	if got, err := ParseLossType(""); err != nil || got != LossODL {
		t.Errorf(`ParseLossType("") = %q, %v`, got, err)
	}
	_, err := ParseLossType("CORAL")
	if err == nil || err.Error() != `loss type "CORAL": want odl, ranking, coral, corn, dldl, mean-variance or l1` {
		t.Errorf("ParseLossType(CORAL): %v", err)
	}
	c := DefaultConfig()
	c.Loss = "mse"
	err = c.Validate()
	var re *RangeError
	if !errors.As(err, &re) || re.Key != "loss_type" || re.Msg != `got "mse", want odl, ranking, coral, corn, dldl, mean-variance or l1` {
		t.Errorf("Validate with loss mse: %v", err)
	}
	if (Config{K: 5}).Canonical().Loss != LossODL || (Config{K: 5, Loss: LossL1}).Canonical().Loss != LossL1 {
		t.Error("Canonical does not spell out the loss type")
	}
	if !LossDLDL.Softmax() || !LossMeanVariance.Softmax() || LossCORN.Softmax() || LossType("").Softmax() {
		t.Error("Softmax()")
	}
}

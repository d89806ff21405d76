package quant

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
)

func TestFor(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   Params
	}{
		{-1, 1, Params{2.0 / 255, 128}},       // −lo/s = 127.5 rounds up
		{0.5, 2, Params{2.0 / 255, 0}},        // the range widened to 0
		{-3, -1, Params{3.0 / 255, 255}},      // all negative: zero point at the top
		{0, 0, Params{1e-8, 0}},               // empty range: the smallest scale
		{-0.01 * 4, 6, Params{6.04 / 255, 2}}, // −lo/s = 1.69 → 2
		{-0.25, 0.75, Params{1.0 / 255, 64}},  // 63.75 → 64
	} {
		got := For(c.lo, c.hi)
		if math.Abs(got.Scale-c.want.Scale) > 1e-12 || got.ZeroPoint != c.want.ZeroPoint {
			t.Errorf("For(%g, %g) = %+v, want %+v", c.lo, c.hi, got, c.want)
		}
	}
	lo, hi := For(-1, 3).Range()
	if math.Abs(lo+64*4.0/255) > 1e-12 || math.Abs(hi-191*4.0/255) > 1e-12 {
		t.Errorf("For(-1, 3).Range() = [%g, %g]", lo, hi)
	}
}

// Activation covers [slope·lo, hi]; Union covers both operands' ranges.
func TestActivationAndUnion(t *testing.T) {
	if got, want := Activation([2]float64{-50, 5}), For(-0.5, 5); got != want {
		t.Errorf("Activation([-50, 5]) = %+v, want %+v", got, want)
	}
	a, b := For(-1, 2), For(-0.5, 4)
	u := Union(a, b)
	alo, _ := a.Range()
	_, bhi := b.Range()
	if u != For(alo, bhi) {
		t.Errorf("Union = %+v, want For(%g, %g)", u, alo, bhi)
	}
}

// NewPlan derives every layer's parameters from the calibration and names a
// missing layer.
func TestNewPlan(t *testing.T) {
	l, err := glcnn.DefaultConfig().Layers()
	if err != nil {
		t.Fatal(err)
	}
	c := Calibration{GEIs: 3, Ranges: map[string][2]float64{}}
	for i, b := range l.Blocks() {
		c.Ranges[b.Module] = [2]float64{-float64(i + 1), float64(2 * (i + 1))}
	}
	c.Ranges["linear_layer1"] = [2]float64{-7, 3}
	if _, err := NewPlan(c, l); err == nil || !strings.Contains(err.Error(), "no range for layer linear_layer2") {
		t.Fatalf("NewPlan without linear_layer2: %v", err)
	}
	c.Ranges["linear_layer2"] = [2]float64{-1, 9}
	p, err := NewPlan(c, l)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Blocks["gl_conv2"]; got.Out != For(-2, 4) || got.Act != For(-0.02, 4) {
		t.Errorf("gl_conv2: %+v", got)
	}
	if got := p.Hidden["linear_layer1"]; got.Out != For(-7, 3) || got.Act != For(-0.07, 3) {
		t.Errorf("linear_layer1: %+v", got)
	}
	// the branches end in gl_conv2 [-2, 4] and lc_conv2 [-4, 8]
	if want := Union(For(-0.02, 4), For(-0.04, 8)); p.Cat != want {
		t.Errorf("Cat = %+v, want %+v", p.Cat, want)
	}
	c.Ranges["conv"] = [2]float64{1, -1}
	if _, err := NewPlan(c, l); err == nil || !strings.Contains(err.Error(), "range of layer conv is [1, -1]") {
		t.Fatalf("NewPlan with an empty range: %v", err)
	}
}

const debianPython = "/usr/bin/python3"

// WeightScales and QuantizeWeights give, bit for bit, what libtorch 1.13
// gives: the scales those of w.abs().amax(dims) / 127 in float32 (the
// formula quant.cc used before it moved here), the int8 values those of
// torch.quantize_per_channel with those scales, ties included (values
// placed exactly half-way between two steps round to even).
func TestWeightsMatchLibtorch(t *testing.T) {
	if testing.Short() {
		t.Skip("PyTorch reference run: skipped under -short")
	}
	if out, err := exec.Command(debianPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch (%v: %s): apt-get install python3-torch", debianPython, err, strings.TrimSpace(string(out)))
	}
	const cout, per = 16, 3 * 3 * 5
	rng := rand.New(rand.NewPCG(3, 4))
	w := make([]float32, cout*per)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.05)
	}
	for i := range per { // channel 1: zeros (scale 1); channel 2: ties at scale 1
		w[per+i] = 0
		w[2*per+i] = float32(i%9) - 4 + 0.5
	}
	w[2*per] = 127
	dir := t.TempDir()
	raw := make([]byte, 0, 4*len(w))
	for _, v := range w {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "w.f32"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import json, sys, torch
w = torch.frombuffer(bytearray(open(sys.argv[1], 'rb').read()), dtype=torch.float32).reshape(16, 5, 3, 3)
s = w.abs().amax((1, 2, 3)).div(127.0).to(torch.double)
s = torch.where(s > 0, s, torch.ones_like(s))
q = torch.quantize_per_channel(w, s, torch.zeros(16, dtype=torch.long), 0, torch.qint8)
print(json.dumps({"scales": s.tolist(), "q": q.int_repr().flatten().tolist()}))
`
	out, err := exec.Command(debianPython, "-c", script, filepath.Join(dir, "w.f32")).Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var ref struct {
		Scales []float64 `json:"scales"`
		Q      []int     `json:"q"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	s := WeightScales(w, cout)
	for c := range s {
		if float64(s[c]) != ref.Scales[c] {
			t.Errorf("channel %d: scale %g, libtorch %g", c, s[c], ref.Scales[c])
		}
	}
	q := QuantizeWeights(w, s)
	ties := 0
	for i := range q {
		if int(q[i]) != ref.Q[i] {
			t.Errorf("value %d (%g): %d, libtorch %d", i, w[i], q[i], ref.Q[i])
		}
		if v := w[i] / s[i/per]; v != float32(math.Trunc(float64(v))) && math.Abs(float64(v)-math.Trunc(float64(v))) == 0.5 {
			ties++
		}
	}
	if ties < 20 || s[1] != 1 || s[2] != 1 {
		t.Fatalf("the fixture lost its ties (%d) or its scale-1 channels (%g, %g)", ties, s[1], s[2])
	}
}

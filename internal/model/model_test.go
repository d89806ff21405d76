package model

import (
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/torchx"
)

// The live parameters are the specification's: New builds exactly
// glcnn's names and shapes, in order, for both input sizes.
func TestParametersFollowTheSpec(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}} {
		m, err := New(cfg, 1, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		specs := cfg.Specs()
		if len(m.Names()) != len(specs) {
			t.Fatalf("%d parameters, spec has %d", len(m.Names()), len(specs))
		}
		var n int64
		for i, p := range m.Params() {
			if m.Names()[i] != specs[i].Name || !slices.Equal(p.Shape(), specs[i].Shape) {
				t.Errorf("parameter %d: %s %v, spec %s %v", i, m.Names()[i], p.Shape(), specs[i].Name, specs[i].Shape)
			}
			n += int64(len(torchx.Float32s(p)))
		}
		if n != cfg.NumParams() {
			t.Errorf("%d values, spec counts %d", n, cfg.NumParams())
		}
	}
}

func TestNewRefusesInvalidConfigs(t *testing.T) {
	for _, bad := range []Config{{InputH: 64, InputW: 64, K: 100}, {InputH: 100, InputW: 50, K: 100}, {InputH: 64, InputW: 44, K: 1}, {InputH: 64, InputW: 44, K: 10, Dropout: 1}} {
		if _, err := New(bad, 1, "cpu"); err == nil {
			t.Fatalf("config %+v accepted", bad)
		}
	}
}

func TestForwardShapesAndModes(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}} {
		m, err := New(cfg, 3, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		x := torchx.Zeros(2, 1, int64(cfg.InputH), int64(cfg.InputW))
		torchx.Uniform_(x, 0, 1)
		age, gender, err := m.ForwardChecked(x)
		if err != nil {
			t.Fatal(err)
		}
		if s := age.Shape(); s[0] != 2 || s[1] != int64(cfg.K) {
			t.Fatalf("age logits %v", s)
		}
		if s := gender.Shape(); s[0] != 2 || s[1] != 2 {
			t.Fatalf("gender logits %v", s)
		}
		// eval mode is deterministic; training mode applies dropout.
		a1, _ := m.Forward(x)
		a2, _ := m.Forward(x)
		if !equal(torchx.Float32s(a1), torchx.Float32s(a2)) {
			t.Fatal("eval forward not deterministic: dropout active outside training")
		}
		m.Train(true)
		a3, _ := m.Forward(x)
		if equal(torchx.Float32s(a1), torchx.Float32s(a3)) {
			t.Fatal("training forward equals eval forward: dropout inactive")
		}
		if _, _, err := m.ForwardChecked(torchx.Zeros(2, 1, 32, 22)); err == nil || !strings.Contains(err.Error(), "[2 1 32 22]") {
			t.Fatalf("wrong input accepted or unclear: %v", err)
		}
	}
}

func TestGradientsReachEveryParameter(t *testing.T) {
	m, err := New(DefaultConfig(), 5, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	x := torchx.Zeros(2, 1, 64, 44)
	torchx.Uniform_(x, 0, 1)
	age, gender := m.Forward(x)
	torchx.Backward(torchx.Add(torchx.Mean(age), torchx.Mean(gender), 1))
	for i, p := range m.Params() {
		g, ok := torchx.Grad(p)
		if !ok {
			t.Fatalf("%s has no gradient", m.Names()[i])
		}
		nonzero := false
		for _, v := range torchx.Float32s(g) {
			if v != 0 {
				nonzero = true
				break
			}
		}
		if !nonzero {
			t.Fatalf("%s has an all-zero gradient", m.Names()[i])
		}
	}
}

func TestReproducibleUnderSeedAndWeightsRoundTrip(t *testing.T) {
	a, _ := New(DefaultConfig(), 11, "cpu")
	b, _ := New(DefaultConfig(), 11, "cpu")
	c, _ := New(DefaultConfig(), 12, "cpu")
	wa, wb, wc := a.Weights(), b.Weights(), c.Weights()
	if !equal(wa["conv.conv.weight"].Data, wb["conv.conv.weight"].Data) {
		t.Fatal("same seed, different weights")
	}
	if equal(wa["conv.conv.weight"].Data, wc["conv.conv.weight"].Data) {
		t.Fatal("different seeds, same weights")
	}
	for _, v := range wa["linear_age.bias"].Data {
		if v != 0 {
			t.Fatal("linear bias not zero")
		}
	}
	if err := c.SetWeights(wa); err != nil {
		t.Fatal(err)
	}
	if !equal(c.Weights()["linear_layer1.weight"].Data, wa["linear_layer1.weight"].Data) {
		t.Fatal("SetWeights did not copy")
	}
}

func TestSetWeightsStrict(t *testing.T) {
	m, _ := New(DefaultConfig(), 1, "cpu")
	w := m.Weights()
	delete(w, "conv.conv.bias")
	w["linear_age.weight"] = Weight{Shape: []int64{90, 1024}, Data: make([]float32, 90*1024)}
	w["extra.weight"] = Weight{Shape: []int64{1}, Data: []float32{0}}
	err := m.SetWeights(w)
	if err == nil {
		t.Fatal("mismatched weights accepted")
	}
	for _, want := range []string{"missing conv.conv.bias", "linear_age.weight has shape [90 1024]", "[100 1024]", "unexpected extra.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
}

func TestDevices(t *testing.T) {
	if err := CheckDevice("tpu"); err == nil || !strings.Contains(err.Error(), `unknown device "tpu"`) {
		t.Fatalf("err = %v", err)
	}
	if !torchx.CUDAAvailable() {
		if _, err := New(DefaultConfig(), 1, "cuda"); err == nil || !strings.Contains(err.Error(), "CUDA is not available") {
			t.Fatalf("err = %v", err)
		}
	}
}

func TestForwardSetPoolsProbabilities(t *testing.T) {
	m, _ := New(DefaultConfig(), 2, "cpu")
	x := torchx.Zeros(2, 3, 1, 64, 44)
	torchx.Uniform_(x, 0, 1)
	p, pm, err := m.ForwardSet(x)
	if err != nil {
		t.Fatal(err)
	}
	// independent: run each GEI alone and average σ(z) over the set.
	age, _ := m.Forward(torchx.Reshape(x, 6, 1, 64, 44))
	probs := torchx.Float32s(torchx.Sigmoid(age))
	got := torchx.Float32s(p)
	for n := 0; n < 2; n++ {
		for k := 0; k < 100; k++ {
			want := (probs[(3*n)*100+k] + probs[(3*n+1)*100+k] + probs[(3*n+2)*100+k]) / 3
			if d := got[n*100+k] - want; d > 1e-6 || d < -1e-6 {
				t.Fatalf("pooled p[%d][%d] = %v, want %v", n, k, got[n*100+k], want)
			}
		}
	}
	if s := pm.Shape(); len(s) != 1 || s[0] != 2 {
		t.Fatalf("pMale shape %v", s)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Each loss type's head: the parameters of the spec, the output width,
// CORAL's shared row plus per-task biases computed as such, l1's bias
// starting mid-range, and set pooling refused where σ(z) is not P(age > k).
func TestAgeHeadsOfEveryLossType(t *testing.T) {
	x := torchx.Zeros(2, 1, 64, 44)
	torchx.Uniform_(x, 0, 1)
	for _, lt := range glcnn.LossTypes() {
		cfg := DefaultConfig()
		cfg.K, cfg.Loss = 9, lt
		m, err := New(cfg, 3, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		specs := cfg.Specs()
		for i, name := range m.Names() {
			if name != specs[i].Name || !slices.Equal(m.Params()[i].Shape(), specs[i].Shape) {
				t.Errorf("%s: parameter %d is %s %v, spec %s %v", lt, i, name, m.Params()[i].Shape(), specs[i].Name, specs[i].Shape)
			}
		}
		age, gender, err := m.ForwardChecked(x)
		if err != nil {
			t.Fatal(err)
		}
		if got := age.Shape(); !slices.Equal(got, []int64{2, int64(cfg.AgeOutputs())}) || !slices.Equal(gender.Shape(), []int64{2, 2}) {
			t.Errorf("%s: outputs %v and %v", lt, got, gender.Shape())
		}
		l, _ := cfg.Layers()
		bias := torchx.Float32s(m.p(l.Age.Bias()))
		for _, v := range bias {
			if want := map[bool]float32{true: 4.5, false: 0}[lt == glcnn.LossL1]; v != want { // l1: MinAge + K/2 years
				t.Errorf("%s: age head bias starts at %v, want %v", lt, v, want)
				break
			}
		}
		_, _, err = m.ForwardSet(torchx.Reshape(x, 1, 2, 1, 64, 44))
		if pools := lt == glcnn.LossODL || lt == glcnn.LossRanking || lt == glcnn.LossCORAL; pools != (err == nil) {
			t.Errorf("%s: ForwardSet error %v", lt, err)
		}
	}
	// CORAL: z_k = w·h + b_k, one row w for every task: with distinct biases
	// the K outputs differ by exactly the biases.
	cfg := DefaultConfig()
	cfg.K, cfg.Loss = 4, glcnn.LossCORAL
	m, _ := New(cfg, 5, "cpu")
	w := m.Weights()
	w["coral_age.bias"] = Weight{Shape: []int64{4}, Data: []float32{3, 1, -0.5, -2}}
	if err := m.SetWeights(w); err != nil {
		t.Fatal(err)
	}
	z, _, _ := m.ForwardChecked(x)
	v := torchx.Float32s(z)
	for i := range 2 {
		for k := 1; k < 4; k++ {
			if d := (v[4*i+k] - v[4*i]) - (w["coral_age.bias"].Data[k] - 3); d > 1e-5 || d < -1e-5 {
				t.Errorf("sample %d: z_%d − z_0 = %v, want b_%d − b_0", i, k, v[4*i+k]-v[4*i], k)
			}
		}
	}
}

// FromWeights is New + SetWeights without the random initialisation: the
// same names in the same order, the same values, the same
// forward output bit for bit (both input sizes); it refuses what SetWeights
// refuses, and the values are copied (changing the host slice afterwards
// changes nothing).
func TestFromWeightsEqualsNewAndSetWeights(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}} {
		src, err := New(cfg, 21, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		w := src.Weights()
		ref, _ := New(cfg, 22, "cpu")
		if err := ref.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		m, err := FromWeights(cfg, w, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Names(), ref.Names()) || m.Config() != cfg || m.Device() != "cpu" || m.Training() {
			t.Fatalf("names %v, want %v", m.Names(), ref.Names())
		}
		for i, p := range m.Params() {
			if !equal(torchx.Float32s(p), torchx.Float32s(ref.Params()[i])) {
				t.Fatalf("parameter %s differs", m.Names()[i])
			}
		}
		w["conv.conv.weight"].Data[0] += 1 // FromWeights copied: no effect
		x := torchx.Zeros(3, 1, int64(cfg.InputH), int64(cfg.InputW))
		torchx.Uniform_(x, 0, 1)
		a1, g1 := m.Forward(x)
		a2, g2 := ref.Forward(x)
		if !equal(torchx.Float32s(a1), torchx.Float32s(a2)) || !equal(torchx.Float32s(g1), torchx.Float32s(g2)) {
			t.Fatal("forward differs from New + SetWeights")
		}
	}
	bad := map[string]Weight{}
	for _, s := range DefaultConfig().Specs() {
		bad[s.Name] = Weight{Shape: s.Shape, Data: make([]float32, glcnn.Numel(s.Shape))}
	}
	delete(bad, "conv.conv.bias")
	if _, err := FromWeights(DefaultConfig(), bad, "cpu"); err == nil || !strings.Contains(err.Error(), "missing conv.conv.bias") {
		t.Fatalf("missing bias: %v", err)
	}
	ok, _ := New(DefaultConfig(), 1, "cpu")
	if _, err := FromWeights(DefaultConfig(), ok.Weights(), "nodevice"); err == nil || !strings.Contains(err.Error(), `unknown device "nodevice"`) {
		t.Fatalf("bad device: %v", err)
	}
}

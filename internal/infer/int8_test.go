package infer

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/quant"
	"github.com/gaitord/gaitord/internal/torchx"
)

// int8 inference: calibration records each quantized layer's range as an
// independent float32 computation gives it, and the int8 network's outputs
// follow the float32 network's within the tolerance measured here while
// differing from them (the layers really run in int8).
func TestInt8TracksFloat32(t *testing.T) {
	runtime.LockOSThread() // Calibrate calls GC: libtorch from one OS thread, for good
	defer FinishGC()
	cfg := model.Config{InputH: 64, InputW: 44, K: 30, MinAge: 5, Dropout: 0.5}
	m, err := model.New(cfg, 11, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	const nCal, n = 48, 24
	calib, test := geis(cfg, nCal, 1), geis(cfg, n, 2)
	q, err := NewInt8(m, calib, nCal, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	cal := q.Calibration()
	l, _ := cfg.Layers()
	var want []string
	for _, b := range l.Blocks() {
		want = append(want, b.Module)
	}
	for _, h := range l.Hidden {
		want = append(want, h.Param)
	}
	var got []string
	for k := range cal.Ranges {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if cal.GEIs != nCal || !slices.Equal(got, want) {
		t.Fatalf("calibration: %d GEIs, layers %v; want %d, %v", cal.GEIs, got, nCal, want)
	}
	// gl_conv1's range: the first convolution over every calibration GEI,
	// its extremes found in Go.
	w, _ := m.Param(l.Global[0].Weight())
	b, _ := m.Param(l.Global[0].Bias())
	y := torchx.Float32s(torchx.Conv2d(torchx.FromFloat32(calib, nCal, 1, int64(cfg.InputH), int64(cfg.InputW)), w, b, 3, 3))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range y {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	if r := cal.Ranges["gl_conv1"]; math.Abs(r[0]-lo) > 1e-5 || math.Abs(r[1]-hi) > 1e-5 {
		t.Fatalf("gl_conv1 range %v, the convolution's extremes [%g, %g]", r, lo, hi)
	}

	fp, err := Batch(m, test, n)
	if err != nil {
		t.Fatal(err)
	}
	i8, err := Batch(q, test, n)
	if err != nil {
		t.Fatal(err)
	}
	var maxLogit, maxDiff, maxAge, sumAge float64
	for i := range n {
		for k, v := range fp.AgeLogit[i] {
			maxLogit = max(maxLogit, math.Abs(float64(v)))
			maxDiff = max(maxDiff, math.Abs(float64(v-i8.AgeLogit[i][k])))
		}
		d := math.Abs(fp.Ordinal[i].Age - i8.Ordinal[i].Age)
		maxAge, sumAge = max(maxAge, d), sumAge+d
		if math.Abs(fp.PMale[i]-i8.PMale[i]) > 0.05 {
			t.Errorf("GEI %d: P(male) %.4f in int8, %.4f in fp32", i, i8.PMale[i], fp.PMale[i])
		}
	}
	t.Logf("age logits up to %.3f, int8 differs by up to %.4f; ages differ by %.4f mean, %.4f max",
		maxLogit, maxDiff, sumAge/n, maxAge)
	if maxDiff == 0 {
		t.Fatal("int8 outputs equal fp32's exactly: the layers did not run in int8")
	}
	if maxDiff > 0.05*maxLogit || maxAge > 0.05 {
		t.Fatalf("int8 off fp32 by %.4f in a logit (bound 5%% of %.3f) and %.4f years (bound 0.05)", maxDiff, maxLogit, maxAge)
	}
}

// A calibration without a layer's range is refused, naming the layer.
func TestInt8RefusesIncompleteCalibration(t *testing.T) {
	cfg := model.Config{InputH: 64, InputW: 44, K: 30, MinAge: 5, Dropout: 0.5}
	m, err := model.New(cfg, 11, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if err := torchx.SetQuantEngine(Int8Engine); err != nil {
		t.Fatal(err)
	}
	cal := quant.Calibration{GEIs: 1, Ranges: map[string][2]float64{}}
	for _, b := range []string{"gl_conv1", "gl_conv2", "lc_conv1", "lc_conv2", "conv", "linear_layer1"} {
		cal.Ranges[b] = [2]float64{-1, 1}
	}
	if _, err := model.NewInt8(m, cal); err == nil || !strings.Contains(err.Error(), "linear_layer2") {
		t.Fatalf("NewInt8 without linear_layer2: %v", err)
	}
	if err := torchx.SetQuantEngine("nosuch"); err == nil || !strings.Contains(err.Error(), "onednn") {
		t.Fatalf("SetQuantEngine(nosuch): %v", err)
	}
}

package infer

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
)

// geis returns n random GEI-like images: a bright column of random width
// and height on black, plus noise, so the network's outputs differ per GEI.
func geis(cfg model.Config, n int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	hw := cfg.InputH * cfg.InputW
	out := make([]float32, n*hw)
	for i := range n {
		x0, x1 := r.IntN(cfg.InputW/2), cfg.InputW/2+r.IntN(cfg.InputW/2)
		top := r.IntN(cfg.InputH / 3)
		level := 0.3 + 0.7*r.Float32()
		for y := top; y < cfg.InputH; y++ {
			for x := x0; x < x1; x++ {
				out[i*hw+y*cfg.InputW+x] = level * r.Float32()
			}
		}
	}
	return out
}

// The fused prediction is the mean over the set of each GEI's P(age > k)
// and P(male), computed here in float64 from Batch's per-GEI outputs, and
// decoded with metrics.Decode; a set of one is Batch's output; Sets fuses
// each set on its own; the training mode is restored.
func TestSetIsTheMeanOfPerGEIProbabilities(t *testing.T) {
	cfg := model.Config{InputH: 64, InputW: 44, K: 30, MinAge: 5, Dropout: 0.5}
	m, err := model.New(cfg, 11, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	m.Train(true)
	const s = 4
	hw := cfg.InputH * cfg.InputW
	imgs := geis(cfg, 2*s, 3)

	per, err := Batch(m, imgs, 2*s)
	if err != nil {
		t.Fatal(err)
	}
	spread := 0.0
	for k := range cfg.K {
		spread = math.Max(spread, math.Abs(per.P[0][k]-per.P[1][k]))
	}
	if spread < 1e-3 {
		t.Fatalf("the GEIs give nearly the same outputs (max difference %g): the test would not see a wrong pooling", spread)
	}

	fused, err := Sets(m, imgs, 2, s)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Training() {
		t.Fatal("Sets left the model in evaluation mode")
	}
	if len(fused.P) != 2 || len(fused.PMale) != 2 || len(fused.Ordinal) != 2 || fused.AgeLogit != nil {
		t.Fatalf("Sets output rows: %d P, %d PMale, %d Ordinal, AgeLogit %v", len(fused.P), len(fused.PMale), len(fused.Ordinal), fused.AgeLogit)
	}
	for set := range 2 {
		want := make([]float64, cfg.K)
		wantMale := 0.0
		for j := range s {
			for k := range cfg.K {
				want[k] += per.P[set*s+j][k] / s
			}
			wantMale += per.PMale[set*s+j] / s
		}
		for k := range cfg.K {
			if d := math.Abs(fused.P[set][k] - want[k]); d > 1e-6 {
				t.Fatalf("set %d: p[%d] = %.9f, mean of the GEIs' = %.9f", set, k, fused.P[set][k], want[k])
			}
		}
		if d := math.Abs(fused.PMale[set] - wantMale); d > 1e-6 {
			t.Fatalf("set %d: p_male %.9f, mean %.9f", set, fused.PMale[set], wantMale)
		}
		wd := metrics.Decode(want, cfg.MinAge)
		got := fused.Ordinal[set]
		if math.Abs(got.Age-wd.Age) > 1e-4 || math.Abs(got.Median-wd.Median) > 1e-3 || math.Abs(got.Lo80-wd.Lo80) > 1e-3 || math.Abs(got.Hi80-wd.Hi80) > 1e-3 {
			t.Fatalf("set %d decoded %+v, want %+v", set, got, wd)
		}

		// Set on the set alone gives the same row.
		one, err := Set(m, imgs[set*s*hw:(set+1)*s*hw], s)
		if err != nil {
			t.Fatal(err)
		}
		for k := range cfg.K {
			if one.P[0][k] != fused.P[set][k] {
				t.Fatalf("Set of set %d: p[%d] %v, Sets %v", set, k, one.P[0][k], fused.P[set][k])
			}
		}
	}

	// A set of one GEI is that GEI's prediction.
	one, err := Set(m, imgs[:hw], 1)
	if err != nil {
		t.Fatal(err)
	}
	for k := range cfg.K {
		if d := math.Abs(one.P[0][k] - per.P[0][k]); d > 1e-7 {
			t.Fatalf("set of one: p[%d] %v, Batch %v", k, one.P[0][k], per.P[0][k])
		}
	}
	if math.Abs(one.Ordinal[0].Age-per.Ordinal[0].Age) > 1e-5 || math.Abs(one.PMale[0]-per.PMale[0]) > 1e-7 {
		t.Fatalf("set of one: %+v p_male %v, Batch %+v p_male %v", one.Ordinal[0], one.PMale[0], per.Ordinal[0], per.PMale[0])
	}

	for _, bad := range []struct{ n, s, values int }{{1, 3, 2 * hw}, {0, 1, 0}, {1, 0, 0}} {
		if _, err := Sets(m, make([]float32, bad.values), bad.n, bad.s); err == nil || !strings.Contains(err.Error(), "64×44") {
			t.Fatalf("Sets(%d values, n=%d, s=%d): %v", bad.values, bad.n, bad.s, err)
		}
	}
}

// Only the heads whose outputs are the logits of P(age > k) can be pooled
// over a set; the others are refused in one line naming the loss type, before
// any forward pass.
func TestCanFuseByLossType(t *testing.T) {
	for _, lt := range glcnn.LossTypes() {
		err := CanFuse(glcnn.Config{InputH: 64, InputW: 44, K: 90, Loss: lt})
		switch lt {
		case glcnn.LossODL, glcnn.LossRanking, glcnn.LossCORAL:
			if err != nil {
				t.Errorf("%s: %v", lt, err)
			}
		default:
			want := "a model of loss type " + string(lt) + " cannot fuse GEIs: set pooling averages P(age > k), which its head does not output (odl, ranking and coral do)"
			if err == nil || err.Error() != want {
				t.Errorf("%s: %v, want %q", lt, err, want)
			}
		}
	}
	m, err := model.New(model.Config{InputH: 64, InputW: 44, K: 12, MinAge: 2, Dropout: 0.5, Loss: glcnn.LossDLDL}, 11, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Set(m, make([]float32, 2*64*44), 2); err == nil || !strings.Contains(err.Error(), "loss type dldl cannot fuse") {
		t.Fatalf("Set on a dldl model: %v", err)
	}
}

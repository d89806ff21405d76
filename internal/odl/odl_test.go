package odl

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/torchx"
)

func TestTargetsHandComputed(t *testing.T) {
	got, clamped := Targets([]int{0, 2, 4, 7, -3}, 1, 4)
	want := []float32{
		0, 0, 0, 0, // 0 < min_age 1: clamped to 1 → no task "age > 1" holds
		1, 0, 0, 0, // 2 > 1 only
		1, 1, 1, 0, // 4 > 1, 2, 3
		1, 1, 1, 1, // 7 > 5: clamped to 5
		0, 0, 0, 0, // -3 clamped to 1
	}
	if clamped != 3 {
		t.Fatalf("clamped = %d, want 3", clamped)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("targets = %v, want %v", got, want)
		}
	}
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// reference losses in float64, written independently of libtorch.
func refLosses(z []float64, tg []float32) (rank, odl float64) {
	for i, v := range z {
		tv := float64(tg[i])
		rank += math.Log1p(math.Exp(-math.Abs(v))) + math.Max(v, 0) - v*tv
		d := sigmoid(v) - tv
		odl += d * d
	}
	return rank / float64(len(z)), odl / float64(len(z))
}

func TestLossesAgainstFloat64Reference(t *testing.T) {
	z := []float64{-1.5, 0.3, 2.0, -0.2, 0.9, -3.1}
	tg, _ := Targets([]int{12, 10}, 10, 3)
	zt := torchx.FromFloat32(f32(z), 2, 3)
	tt := torchx.FromFloat32(tg, 2, 3)
	r, err := RankingLoss(zt, tt)
	if err != nil {
		t.Fatal(err)
	}
	o, err := ODL(zt, tt)
	if err != nil {
		t.Fatal(err)
	}
	wr, wo := refLosses(z, tg)
	if math.Abs(torchx.Item(r)-wr) > 1e-6 || math.Abs(torchx.Item(o)-wo) > 1e-6 {
		t.Fatalf("ranking %v odl %v, want %v %v", torchx.Item(r), torchx.Item(o), wr, wo)
	}
}

func TestShapeMismatchNamesBothShapes(t *testing.T) {
	_, err := ODL(torchx.Zeros(2, 3), torchx.Zeros(2, 4))
	if err == nil || !strings.Contains(err.Error(), "[2 3]") || !strings.Contains(err.Error(), "[2 4]") {
		t.Fatalf("err = %v", err)
	}
	_, err = RankingLoss(torchx.Zeros(6), torchx.Zeros(6))
	if err == nil || !strings.Contains(err.Error(), "(N, K)") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = GenderLoss(torchx.Zeros(3, 2), []api.Gender{api.Female, api.Male})
	if err == nil || !strings.Contains(err.Error(), "[3 2] for 2 labels") {
		t.Fatalf("err = %v", err)
	}
}

// numeric gradient of the float64 reference vs libtorch autograd.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	z := []float64{-1.2, 0.4, 1.7, 0.05, -0.6, 2.2, -2.5, 0.8}
	tg, _ := Targets([]int{5, 2}, 0, 4)
	for _, which := range []string{"ranking", "odl"} {
		zt := torchx.FromFloat32(f32(z), 2, 4)
		torchx.SetRequiresGrad(zt, true)
		tt := torchx.FromFloat32(tg, 2, 4)
		var loss Tensor
		var err error
		if which == "ranking" {
			loss, err = RankingLoss(zt, tt)
		} else {
			loss, err = ODL(zt, tt)
		}
		if err != nil {
			t.Fatal(err)
		}
		torchx.Backward(loss)
		g, _ := torchx.Grad(zt)
		auto := torchx.Float32s(g)
		const h = 1e-5
		for i := range z {
			zp := append([]float64(nil), z...)
			zm := append([]float64(nil), z...)
			zp[i] += h
			zm[i] -= h
			rp, op := refLosses(zp, tg)
			rm, om := refLosses(zm, tg)
			num := (rp - rm) / (2 * h)
			if which == "odl" {
				num = (op - om) / (2 * h)
			}
			if math.Abs(float64(auto[i])-num) > 1e-5 {
				t.Fatalf("%s: d/dz[%d] autograd %v, finite differences %v", which, i, auto[i], num)
			}
		}
	}
}

func TestGenderLossSkipsUnknown(t *testing.T) {
	g := torchx.FromFloat32([]float32{2, 0, 0, 1, 5, 5}, 3, 2)
	l, known, err := GenderLoss(g, []api.Gender{api.Female, api.GenderUnknown, api.Male})
	if err != nil || known != 2 {
		t.Fatalf("known %d err %v", known, err)
	}
	// rows 0 (female) and 2 (male): −log softmax
	want := (math.Log(1+math.Exp(-2)) + math.Log(2)) / 2
	if math.Abs(torchx.Item(l)-want) > 1e-6 {
		t.Fatalf("gender loss %v want %v", torchx.Item(l), want)
	}
	l, known, err = GenderLoss(g, []api.Gender{api.GenderUnknown, api.GenderUnknown, api.GenderUnknown})
	if err != nil || known != 0 || torchx.Item(l) != 0 {
		t.Fatalf("all unknown: %v %d %v", torchx.Item(l), known, err)
	}
	if _, _, err = GenderLoss(g, []api.Gender{api.Male, "M", api.Female}); err == nil || !strings.Contains(err.Error(), `label "M" at 1`) {
		t.Fatalf("invalid gender: %v", err)
	}
}

func TestObjectiveWeightsTheTerms(t *testing.T) {
	z := torchx.FromFloat32([]float32{0.5, -0.5, 1, 2, 0, -1}, 2, 3)
	g := torchx.FromFloat32([]float32{1, 0, 0, 1}, 2, 2)
	l, err := Objective(z, g, []int{1, 9}, []api.Gender{api.Female, api.Male}, glcnn.Config{K: 3}, Weights{Lambda: 2, Mu: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if l.Clamped != 1 {
		t.Fatalf("clamped %d, want 1 (age 9 > 0+3)", l.Clamped)
	}
	rank, _ := l.Term("ranking")
	odl, _ := l.Term("odl")
	want := rank + 2*odl + 0.5*l.Gender
	if math.Abs(l.TotalValue-want) > 1e-6 {
		t.Fatalf("total %v, want %v", l.TotalValue, want)
	}
	wantGender := math.Log(1 + math.Exp(-1))
	if math.Abs(l.Gender-wantGender) > 1e-6 {
		t.Fatalf("gender %v, want %v", l.Gender, wantGender)
	}
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i := range v {
		o[i] = float64(v[i])
	}
	return o
}

func f32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i := range v {
		o[i] = float32(v[i])
	}
	return o
}

// A worked example: two people, K = 4 tasks over ages 20…24; the ages are
// decoded as metrics.DecodeHead does for odl, 20 + Σ_k σ(z_k).
func Example() {
	tg, clamped := Targets([]int{22, 30}, 20, 4)
	fmt.Println("targets:", tg, "clamped:", clamped)
	z := torchx.FromFloat32([]float32{3, 1, -1, -3, 4, 3, 2, 1}, 2, 4)
	t := torchx.FromFloat32(tg, 2, 4)
	rank, _ := RankingLoss(z, t)
	odl, _ := ODL(z, t)
	fmt.Printf("ranking %.4f  odl %.4f\n", torchx.Item(rank), torchx.Item(odl))
	cfg := glcnn.Config{K: 4, MinAge: 20}
	logits := torchx.Float32s(z)
	for i := range 2 {
		_, o, _ := metrics.DecodeHead(cfg, f64(logits[4*i:4*i+4]))
		fmt.Printf("age %.2f\n", o.Age)
	}
	// Output:
	// targets: [1 1 0 0 1 1 1 1] clamped: 1
	// ranking 0.1538  odl 0.0298
	// age 22.00
	// age 23.55
}

package video

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sideSignal imitates the lower-body width of a walker seen from the side:
// two bumps per cycle of period frames, a slow trend (perspective), noise,
// and missing samples (merged or border frames).
func sideSignal(n int, period float64, r *rand.Rand) []float64 {
	s := make([]float64, n)
	for t := range s {
		s[t] = 0.25 + 0.12*math.Abs(math.Sin(2*math.Pi*float64(t)/period+0.7)) + 0.0004*float64(t) + 0.01*r.NormFloat64()
		if t%17 == 5 || (t > n/2 && t < n/2+12) {
			s[t] = math.NaN()
		}
	}
	return s
}

func TestGaitPeriodFromSideView(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	nan := make([]float64, 600)
	for i := range nan {
		nan[i] = math.NaN()
	}
	for _, fps := range []float64{25, 30, 60} {
		for _, seconds := range []float64{0.8, 1.05, 1.4} {
			want := seconds * fps
			width := sideSignal(int(4.5*want), want, r)
			got, strength, ok := gaitPeriod(width, nan[:len(width)], fps)
			if !ok || math.Abs(got-want) > 0.3 || strength < 0.5 {
				t.Errorf("%g fps, cycle %.1f frames: got %.2f (strength %.2f, ok %v)", fps, want, got, strength, ok)
			}
		}
	}
}

// Seen from the front, the difference between the feet swings once per cycle.
func TestGaitPeriodFromFrontView(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	const fps, want = 30, 31.7
	n := 150
	width, feet := make([]float64, n), make([]float64, n)
	for t := range width {
		width[t] = 0.3 + 0.01*r.NormFloat64() // no rhythm in the width
		feet[t] = 0.04*math.Sin(2*math.Pi*float64(t)/want) + 0.008*r.NormFloat64()
	}
	got, _, ok := gaitPeriod(width, feet, fps)
	if !ok || math.Abs(got-want) > 0.5 {
		t.Fatalf("got %.2f, ok %v; want %.1f", got, ok, want)
	}
}

func TestGaitPeriodNoRhythm(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	noise := make([]float64, 120)
	for i := range noise {
		noise[i] = r.NormFloat64()
	}
	if p, s, ok := gaitPeriod(noise, noise, 30); ok {
		t.Errorf("white noise: period %.1f, strength %.2f", p, s)
	}
	short := sideSignal(14, 30, r)
	if _, _, ok := gaitPeriod(short, short, 30); ok {
		t.Error("14 samples gave a period")
	}
}

func TestRefinePeak(t *testing.T) {
	// samples of -(x-10.3)² at 9, 10, 11
	R := []float64{0, 0, 0, 0, 0, 0, 0, 0, 0, -1.69, -0.09, -0.49}
	if got := refinePeak(R, 10); math.Abs(got-10.3) > 1e-9 {
		t.Fatalf("got %v, want 10.3", got)
	}
	if got := refinePeak(R, 11); got != 11 {
		t.Fatalf("edge: got %v", got)
	}
}

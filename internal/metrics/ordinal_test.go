package metrics

import (
	"math"
	"testing"
)

const tol = 1e-12

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

func eqSlice(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !near(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestExpectedAndCountAge(t *testing.T) {
	cases := []struct {
		p      []float64
		min    int
		expect float64
		count  int
	}{
		// 0.9+0.8+0.6+0.3+0.1 = 2.7; three entries > 0.5.
		{[]float64{0.9, 0.8, 0.6, 0.3, 0.1}, 20, 22.7, 23},
		// 0.5 is not > 0.5: count 2; sum 0.875+0.75+0.5+0.25+0.125 = 2.5.
		{[]float64{0.875, 0.75, 0.5, 0.25, 0.125}, 20, 22.5, 22},
		// Non-monotone: sum 0.2+0.9+0.1 = 1.2; only 0.9 > 0.5.
		{[]float64{0.2, 0.9, 0.1}, 3, 4.2, 4},
		{nil, 7, 7, 7},
	}
	for _, c := range cases {
		if got := ExpectedAge(c.p, c.min); !near(got, c.expect) {
			t.Errorf("ExpectedAge(%v,%d) = %v, want %v", c.p, c.min, got, c.expect)
		}
		if got := CountAge(c.p, c.min); got != c.count {
			t.Errorf("CountAge(%v,%d) = %v, want %v", c.p, c.min, got, c.count)
		}
	}
}

func TestMonotone(t *testing.T) {
	cases := []struct{ in, want []float64 }{
		{[]float64{0.9, 0.6, 0.7, 0.2}, []float64{0.9, 0.65, 0.65, 0.2}},
		// 0.2<0.4 pool → 0.3, then 0.3<0.9 pool all → (0.2+0.4+0.9)/3 = 0.5.
		{[]float64{0.2, 0.4, 0.9}, []float64{0.5, 0.5, 0.5}},
		// Two separate violations: (0.5,0.7)→0.6, (0.1,0.3)→0.2.
		{[]float64{0.9, 0.5, 0.7, 0.1, 0.3}, []float64{0.9, 0.6, 0.6, 0.2, 0.2}},
		// Cascading merge: 0.8, (0.4,0.6)→0.5, then 0.9 > 0.5 → (0.4+0.6+0.9)/3
		// = 0.6333…, still < 0.8 so stops.
		{[]float64{0.8, 0.4, 0.6, 0.9}, []float64{0.8, 1.9 / 3, 1.9 / 3, 1.9 / 3}},
		// Already non-increasing (ties allowed): unchanged.
		{[]float64{0.7, 0.7, 0.3}, []float64{0.7, 0.7, 0.3}},
		// Out-of-range values are clamped after pooling.
		{[]float64{1.2, -0.1}, []float64{1, 0}},
		{nil, []float64{}},
	}
	for _, c := range cases {
		in := append([]float64(nil), c.in...)
		got := Monotone(c.in)
		if !eqSlice(got, c.want) {
			t.Errorf("Monotone(%v) = %v, want %v", c.in, got, c.want)
		}
		if !eqSlice(in, c.in) {
			t.Errorf("Monotone modified its input: %v", c.in)
		}
	}
}

func TestCDF(t *testing.T) {
	// m = [0.9, 0.65, 0.65, 0.2] → F = 0, 0.1, 0.35, 0.35, 0.8, 1.
	got := CDF([]float64{0.9, 0.6, 0.7, 0.2})
	want := []float64{0, 0.1, 0.35, 0.35, 0.8, 1}
	if !eqSlice(got, want) {
		t.Errorf("CDF = %v, want %v", got, want)
	}
}

func TestQuantile(t *testing.T) {
	p := []float64{0.875, 0.75, 0.5, 0.25, 0.125} // F(19..25) = 0,.125,.25,.5,.75,.875,1
	cases := []struct{ q, want float64 }{
		{0, 20},      // clamped into the representable ages 20…25
		{-1, 20},     // q clamped to 0
		{0.0625, 20}, // interpolates to 19.5 below min_age: clamped
		{0.1, 20},    // 19.8: clamped
		{0.125, 20},  // exactly on a knot
		{0.3, 21.2},  // F(21)=.25, F(22)=.5 → 21 + .05/.25
		{0.5, 22},    // F(22)=.5 exactly
		{0.6, 22.4},  // F(22)=.5, F(23)=.75 → 22 + .1/.25
		{0.9, 24.2},
		{1, 25},
		{2, 25},
	}
	for _, c := range cases {
		if got := Quantile(p, 20, c.q); !near(got, c.want) {
			t.Errorf("Quantile(q=%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Quantile(p, 20, math.NaN()); !math.IsNaN(got) {
		t.Errorf("Quantile(NaN) = %v, want NaN", got)
	}

	// Non-monotone input goes through PAVA: F(9..14) = 0, .1, .35, .35, .8, 1.
	// F(12)=.35 < .5 ≤ F(13)=.8 → 12 + (.5−.35)/(.8−.35) = 12 + 1/3.
	// (The raw p would give F(12)=.3 and median 12 + .2/.5 = 12.4.)
	np := []float64{0.9, 0.6, 0.7, 0.2}
	if got, want := Median(np, 10), 12+1.0/3; !near(got, want) {
		t.Errorf("Median(non-monotone) = %v, want %v", got, want)
	}
	// A point mass at minAge+K: K=2, minAge=10, all p = 1 → F(9..12) = 0,0,0,1
	// → median 11 + .5/1 = 11.5.
	if got := Median([]float64{1, 1}, 10); !near(got, 11.5) {
		t.Errorf("Median(all ones) = %v, want 11.5", got)
	}
	// Empty p: F(minAge−1)=0, F(minAge)=1 → minAge−1+q, clamped to minAge.
	if got := Quantile(nil, 5, 0.25); !near(got, 5) {
		t.Errorf("Quantile(nil) = %v, want 5", got)
	}
	// A model sure of the youngest age (all p ≈ 0) used to give an interval
	// from minAge−0.9 on; now every bound is minAge.
	for _, q := range []float64{0.1, 0.5, 0.9} {
		if got := Quantile([]float64{0.01, 0.001, 0}, 0, q); got < 0 || got > 3 {
			t.Errorf("Quantile(q=%v) = %v outside [0, 3]", q, got)
		}
	}
	if lo, hi := Interval80([]float64{0.02, 0.01}, 0); lo != 0 || hi != 0 {
		t.Errorf("Interval80 near a point mass at min_age = [%v, %v], want [0, 0]", lo, hi)
	}
}

func TestInterval80(t *testing.T) {
	// p = [0.9, 0.6, 0.3], minAge 30: F(29..33) = 0, .1, .4, .7, 1.
	// Q(.1) = 29 + .1/.1 = 30; Q(.9) = 32 + (.9−.7)/.3 = 32.6667.
	lo, hi := Interval80([]float64{0.9, 0.6, 0.3}, 30)
	// 1−0.9 rounds to just below 0.1, hence the looser tolerance.
	if math.Abs(lo-30) > 1e-9 {
		t.Errorf("lo = %v, want 30", lo)
	}
	if math.Abs(hi-(32+0.2/0.3)) > 1e-9 {
		t.Errorf("hi = %v, want %v", hi, 32+0.2/0.3)
	}
}

func TestRankInconsistency(t *testing.T) {
	cases := []struct {
		p           []float64
		viol, pairs int
	}{
		{[]float64{0.9, 0.6, 0.7, 0.2}, 1, 3},
		{[]float64{0.2, 0.4, 0.9}, 2, 2},
		{[]float64{0.5, 0.5, 0.5}, 0, 2}, // ties are not violations
		{[]float64{0.5}, 0, 0},
		{nil, 0, 0},
	}
	for _, c := range cases {
		v, n := RankInconsistency(c.p)
		if v != c.viol || n != c.pairs {
			t.Errorf("RankInconsistency(%v) = %d,%d want %d,%d", c.p, v, n, c.viol, c.pairs)
		}
	}
}

func TestDecode(t *testing.T) {
	got := Decode([]float64{0.875, 0.75, 0.5, 0.25, 0.125}, 20)
	want := Ordinal{Age: 22.5, Median: 22, Lo80: 20, Hi80: 24.2, HasInterval: true, Violations: 0, Pairs: 4}
	if !near(got.Age, want.Age) || !near(got.Median, want.Median) || !near(got.Lo80, want.Lo80) ||
		!near(got.Hi80, want.Hi80) || got.Violations != want.Violations || got.Pairs != want.Pairs || !got.HasInterval {
		t.Errorf("Decode = %+v, want %+v", got, want)
	}
	if iv := got.Interval(); iv == nil || iv[0] != got.Lo80 || iv[1] != got.Hi80 {
		t.Errorf("Interval() = %v", iv)
	}
	if (Ordinal{Age: 3}).Interval() != nil {
		t.Error("an Ordinal without an interval gives one")
	}
}

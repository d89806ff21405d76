package experiment

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"testing"
)

func TestMeanStdByHand(t *testing.T) {
	// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, Σ(x−5)² = 32, sample variance 32/7.
	m, s := MeanStd([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if m != 5 || math.Abs(s-math.Sqrt(32.0/7)) > 1e-15 {
		t.Fatalf("MeanStd = %v, %v; want 5, √(32/7) = %v", m, s, math.Sqrt(32.0/7))
	}
	// a large common offset must not eat the spread: 1e9 + {1, 2, 3} → std 1
	if _, s := MeanStd([]float64{1e9 + 1, 1e9 + 2, 1e9 + 3}); s != 1 {
		t.Fatalf("std of 1e9+{1,2,3} = %v, want 1", s)
	}
	if m, s := MeanStd([]float64{3.5}); m != 3.5 || !math.IsNaN(s) {
		t.Fatalf("one value: %v, %v; want 3.5 and NaN", m, s)
	}
	if m, s := MeanStd(nil); !math.IsNaN(m) || !math.IsNaN(s) {
		t.Fatalf("no value: %v, %v", m, s)
	}
}

// With 1 and 2 degrees of freedom the t distribution's tail has a closed
// form: ν = 1 is the Cauchy distribution, p = 1 − (2/π)·atan|t|; ν = 2 gives
// p = 1 − |t|/√(t² + 2).
func TestPairedTClosedForms(t *testing.T) {
	for _, d := range [][]float64{{0.3, 1.1}, {-2, 0.5}, {1e-3, 5e-3}, {4, 4.000001}} {
		mean, tt, p := PairedT(d)
		m, s := MeanStd(d)
		wantT := m / (s / math.Sqrt2)
		wantP := 1 - 2/math.Pi*math.Atan(math.Abs(wantT))
		if mean != m || math.Abs(tt-wantT) > 1e-12*math.Abs(wantT) || math.Abs(p-wantP) > 1e-12 {
			t.Errorf("PairedT(%v) = %v, t %v, p %v; want %v, t %v, p %v", d, mean, tt, p, m, wantT, wantP)
		}
	}
	for _, d := range [][]float64{{0.3, 1.1, -0.2}, {1, 2, 3.5}, {-0.01, -0.02, -0.04}} {
		_, tt, p := PairedT(d)
		m, s := MeanStd(d)
		wantT := m / (s / math.Sqrt(3))
		wantP := 1 - math.Abs(wantT)/math.Sqrt(wantT*wantT+2)
		if math.Abs(tt-wantT) > 1e-12*math.Abs(wantT) || math.Abs(p-wantP) > 1e-12 {
			t.Errorf("PairedT(%v): t %v, p %v; want t %v, p %v", d, tt, p, wantT, wantP)
		}
	}
}

// Two-sided 5% and 1% critical values from the t table: |t| equal to them
// gives p = 0.05 and 0.01 (the table rounds t to 3 decimals).
func TestPairedTTable(t *testing.T) {
	for _, c := range []struct {
		df   int
		crit float64
		p    float64
	}{
		{1, 12.706, 0.05}, {2, 4.303, 0.05}, {3, 3.182, 0.05}, {4, 2.776, 0.05}, {9, 2.262, 0.05}, {29, 2.045, 0.05},
		{2, 9.925, 0.01}, {4, 4.604, 0.01}, {9, 3.250, 0.01},
	} {
		// n = df+1 differences with mean crit·s/√n: d = crit/√n + s·z with
		// z of mean 0 and sample std 1 (±√((n−1)/n) alternately for even n,
		// plus a 0 for odd n).
		n := c.df + 1
		z := make([]float64, n)
		half := n / 2
		a := math.Sqrt(float64(n-1) / float64(2*half))
		for i := range half {
			z[2*i], z[2*i+1] = a, -a
		}
		d := make([]float64, n)
		for i := range d {
			d[i] = c.crit/math.Sqrt(float64(n)) + z[i]
		}
		_, tt, p := PairedT(d)
		if math.Abs(tt-c.crit) > 1e-9 {
			t.Fatalf("df %d: constructed t = %v, want %v", c.df, tt, c.crit)
		}
		if math.Abs(p-c.p) > 2e-4 {
			t.Errorf("df %d, t = %v: p = %.6f, want %v (t table)", c.df, c.crit, p, c.p)
		}
		// the sign of the difference does not change a two-sided p
		for i := range d {
			d[i] = -d[i]
		}
		if _, tn, pn := PairedT(d); tn != -tt || pn != p {
			t.Errorf("df %d: negated differences give t %v, p %v; want %v, %v", c.df, tn, pn, -tt, p)
		}
	}
}

func TestPairedTDegenerate(t *testing.T) {
	if m, tt, p := PairedT([]float64{0.7}); m != 0.7 || !math.IsNaN(tt) || !math.IsNaN(p) {
		t.Errorf("one pair: %v, %v, %v; want 0.7, NaN, NaN", m, tt, p)
	}
	if m, tt, p := PairedT([]float64{0.5, 0.5, 0.5}); m != 0.5 || !math.IsInf(tt, 1) || p != 0 {
		t.Errorf("constant differences: %v, %v, %v; want 0.5, +Inf, 0", m, tt, p)
	}
	if m, tt, p := PairedT([]float64{0, 0, 0}); m != 0 || !math.IsNaN(tt) || !math.IsNaN(p) {
		t.Errorf("identical results: %v, %v, %v; want 0, NaN, NaN", m, tt, p)
	}
}

// refPy computes, with the Python standard library only, each case's mean
// and sample std of a (statistics.mean, statistics.stdev) and the paired
// t-test of a − b, its p-value by integrating Student's t density
// numerically (composite Simpson's rule): a different method from gonum's
// incomplete beta function.
const refPy = `
import json, math, statistics, sys

def density(x, nu):
    c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    return math.exp(c - (nu + 1) / 2 * math.log1p(x * x / nu))

def two_sided_p(t, nu, n=200000):
    # P(|T| >= |t|) = 1 - 2 * integral_0^|t| density
    a = abs(t)
    h = a / n
    s = density(0, nu) + density(a, nu)
    for i in range(1, n):
        s += (4 if i % 2 else 2) * density(i * h, nu)
    return 1 - 2 * s * h / 3

out = []
for case in json.load(sys.stdin):
    a, b = case["a"], case["b"]
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    t = statistics.mean(d) / (statistics.stdev(d) / math.sqrt(n))
    out.append({"mean": statistics.mean(a), "std": statistics.stdev(a),
                "diff": statistics.mean(d), "t": t, "p": two_sided_p(t, n - 1)})
json.dump(out, sys.stdout)
`

const python = "/usr/bin/python3"

type pyCase struct {
	A []float64 `json:"a"`
	B []float64 `json:"b"`
}

type pyOut struct {
	Mean, Std, Diff, T, P float64
}

func runRefPy(t *testing.T, cases []pyCase) []pyOut {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v (the closed-form and t-table tests still check PairedT)", python, err)
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(python, "-c", refPy)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python reference: %v\n%s", err, stderr.String())
	}
	var out []pyOut
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("python reference output %q: %v", b, err)
	}
	return out
}

// MAE-like figures of a few seeds (cells a and b, paired by seed).
var statCases = []pyCase{
	{A: []float64{6.12, 5.87}, B: []float64{6.40, 6.02}},
	{A: []float64{6.12, 5.87, 6.55}, B: []float64{6.40, 6.02, 6.61}},
	{A: []float64{4.9, 5.3, 5.1, 5.6}, B: []float64{5.0, 5.1, 5.9, 5.2}},
	{A: []float64{7.31, 7.02, 6.95, 7.44, 7.10}, B: []float64{7.90, 7.51, 7.33, 8.02, 7.65}},
	{A: []float64{3.2, 3.9, 4.4, 3.1, 3.3, 3.8, 4.0, 3.6}, B: []float64{3.25, 3.7, 4.1, 3.2, 3.1, 3.9, 3.8, 3.55}},
}

func TestStatsAgainstPython(t *testing.T) {
	ref := runRefPy(t, statCases)
	for i, c := range statCases {
		m, s := MeanStd(c.A)
		d := make([]float64, len(c.A))
		for j := range d {
			d[j] = c.A[j] - c.B[j]
		}
		dm, tt, p := PairedT(d)
		r := ref[i]
		t.Logf("case %d: mean %.6f std %.6f diff %.6f t %.6f p %.9f (python p %.9f)", i, m, s, dm, tt, p, r.P)
		if math.Abs(m-r.Mean) > 1e-12 || math.Abs(s-r.Std) > 1e-12 || math.Abs(dm-r.Diff) > 1e-12 || math.Abs(tt-r.T) > 1e-9*math.Abs(r.T) {
			t.Errorf("case %d: mean %v std %v diff %v t %v; python %+v", i, m, s, dm, tt, r)
		}
		if math.Abs(p-r.P) > 1e-9 {
			t.Errorf("case %d: p %v, python %v", i, p, r.P)
		}
	}
}

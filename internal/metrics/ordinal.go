// Package metrics decodes ordinal age outputs and summarises evaluation
// results for gait-based age and gender estimation (Zhu et al. 2020,
// Global-Local CNN with ordinal distribution regression).
//
// Ordinal convention used throughout: a model's distribution over ages is
// given by K probabilities, k = 0..K−1,
//
//	p_k = P(age > minAge + k),
//
// so ages are supported on the integers minAge .. minAge+K. For the odl,
// ranking and coral loss types p_k = sigmoid(z_k) of the age logits; the
// other types' heads are read into p by DecodeHead (internal/glcnn's
// LossType names them), and l1, which has no distribution, is decoded there
// too. Every age, median and interval bound is within [minAge, minAge+K].
//
// All functions are pure: they never modify their inputs.
package metrics

import "math"

// ExpectedAge returns the ordinal-regression expectation
//
//	E[age] = minAge + Σ_{k=0}^{K−1} p_k,
//
// which follows from E[X] = Σ_{j≥1} P(X ≥ j) applied to X = age − minAge
// with P(X ≥ k+1) = p_k. An empty p yields minAge.
func ExpectedAge(p []float64, minAge int) float64 {
	s := 0.0
	for _, v := range p {
		s += v
	}
	return float64(minAge) + s
}

// CountAge returns the counting-rule estimate
//
//	age = minAge + Σ_{k=0}^{K−1} [p_k > 0.5],
//
// i.e. the number of binary tasks answered "older" (p_k exactly 0.5 counts
// as "not older").
func CountAge(p []float64, minAge int) int {
	n := 0
	for _, v := range p {
		if v > 0.5 {
			n++
		}
	}
	return minAge + n
}

// Monotone returns the least-squares non-increasing fit of p (isotonic
// regression, unit weights), computed with the pool-adjacent-violators
// algorithm (PAVA):
//
//	m = argmin_{m_0 ≥ m_1 ≥ … ≥ m_{K−1}} Σ_k (p_k − m_k)²,
//
// each maximal block of violating neighbours being replaced by its mean.
// Example: [0.9 0.6 0.7 0.2] → [0.9 0.65 0.65 0.2]. The result is then
// clamped to [0, 1]. Unlike a running minimum, PAVA does not bias the
// curve downwards. A new slice is returned; p is not modified.
func Monotone(p []float64) []float64 {
	type block struct {
		sum float64
		n   int
	}
	blocks := make([]block, 0, len(p))
	for _, v := range p {
		blocks = append(blocks, block{sum: v, n: 1})
		// Merge while the last block's mean exceeds its predecessor's mean
		// (a violation of non-increase). Compare sums cross-multiplied to
		// avoid division: mean_prev < mean_last ⇔ s_prev·n_last < s_last·n_prev.
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum*float64(b.n) >= b.sum*float64(a.n) {
				break
			}
			blocks = blocks[:len(blocks)-2]
			blocks = append(blocks, block{sum: a.sum + b.sum, n: a.n + b.n})
		}
	}
	out := make([]float64, 0, len(p))
	for _, b := range blocks {
		m := clamp01(b.sum / float64(b.n))
		for i := 0; i < b.n; i++ {
			out = append(out, m)
		}
	}
	return out
}

func clamp01(v float64) float64 {
	switch {
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// CDF returns the predicted cumulative distribution at the integer ages
// minAge−1, minAge, …, minAge+K (K+2 values, index j ↔ age minAge−1+j):
//
//	F(minAge−1) = 0,
//	F(minAge+k) = 1 − m_k   for k = 0..K−1,  m = Monotone(p),
//	F(minAge+K) = 1.
//
// F is non-decreasing because m is non-increasing and within [0, 1].
func CDF(p []float64) []float64 {
	m := Monotone(p)
	f := make([]float64, len(m)+2)
	for k, v := range m {
		f[k+1] = 1 - v
	}
	f[len(f)-1] = 1
	return f
}

// Quantile returns the age at which the predicted CDF (see CDF) crosses q,
// treating F as piecewise linear between consecutive integer ages and
// clamping the result into the representable ages [minAge, minAge+K]:
//
//	a_j = minAge − 1 + j,  j* = min{ j : F(a_j) ≥ q },
//	Quantile = clamp(a_{j*−1} + (q − F(a_{j*−1})) / (F(a_{j*}) − F(a_{j*−1})), minAge, minAge+K).
//
// Since F(a_{j*−1}) < q ≤ F(a_{j*}) the denominator is positive. Without the
// clamp a q below F(minAge) = P(age = minAge) would interpolate into
// (minAge−1, minAge), an age the model cannot represent (a poorly trained
// model printed an 80% interval starting at −0.24 years for minAge 0). q is
// clamped to [0, 1]; q = 0 yields minAge and q = 1 the smallest age with
// F = 1. A NaN q yields NaN.
func Quantile(p []float64, minAge int, q float64) float64 {
	if math.IsNaN(q) {
		return math.NaN()
	}
	q = clamp01(q)
	f := CDF(p)
	base := float64(minAge - 1)
	lo, hi := float64(minAge), float64(minAge+len(p))
	if q <= 0 {
		return lo
	}
	for j := 1; j < len(f); j++ {
		if f[j] >= q {
			return min(max(base+float64(j-1)+(q-f[j-1])/(f[j]-f[j-1]), lo), hi)
		}
	}
	// Unreachable: f[len(f)-1] = 1 ≥ q.
	return hi
}

// Median returns Quantile(p, minAge, 0.5).
func Median(p []float64, minAge int) float64 {
	return Quantile(p, minAge, 0.5)
}

// Interval80 returns the central 80% predictive interval
// [Quantile(p, minAge, 0.1), Quantile(p, minAge, 0.9)].
func Interval80(p []float64, minAge int) (lo, hi float64) {
	return Quantile(p, minAge, 0.1), Quantile(p, minAge, 0.9)
}

// RankInconsistency counts rank violations of the raw (un-fitted) outputs:
//
//	violations = #{ k ∈ 0..K−2 : p_k < p_{k+1} },  pairs = max(K−1, 0).
//
// Ties are not violations.
func RankInconsistency(p []float64) (violations, pairs int) {
	for k := 0; k+1 < len(p); k++ {
		if p[k] < p[k+1] {
			violations++
		}
		pairs++
	}
	return violations, pairs
}

// Ordinal bundles the per-sample decodings of one ordinal output vector.
type Ordinal struct {
	Age         float64 // ExpectedAge, within [minAge, minAge+K]
	Median      float64 // Median
	Lo80, Hi80  float64 // Interval80; 0 when !HasInterval
	HasInterval bool    // false for a model without a distribution (l1)
	Violations  int     // RankInconsistency violations
	Pairs       int     // RankInconsistency pairs
}

// Interval is [Lo80, Hi80] for a prediction record, nil without one.
func (o Ordinal) Interval() *[2]float64 {
	if !o.HasInterval {
		return nil
	}
	return &[2]float64{o.Lo80, o.Hi80}
}

// Decode computes every per-sample decoding of p at once. The expected age
// is clamped into [minAge, minAge+K] like the quantiles (it lies there for
// any p in [0, 1]; the clamp only guards against rounding and bad input).
func Decode(p []float64, minAge int) Ordinal {
	lo, hi := Interval80(p, minAge)
	v, n := RankInconsistency(p)
	return Ordinal{
		Age:         min(max(ExpectedAge(p, minAge), float64(minAge)), float64(minAge+len(p))),
		Median:      Median(p, minAge),
		Lo80:        lo,
		Hi80:        hi,
		HasInterval: true,
		Violations:  v,
		Pairs:       n,
	}
}

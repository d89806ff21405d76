package experiment

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// MeanStd returns the mean and the sample standard deviation of xs:
//
//	mean = (1/n) Σ x_i
//	std  = √( Σ (x_i − mean)² / (n − 1) )
//
// (two passes, so that a large common offset does not cancel digits). With
// n = 0 both are NaN; with n = 1 std is NaN: one seed says nothing about
// the spread.
func MeanStd(xs []float64) (mean, std float64) {
	n := float64(len(xs))
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= n
	if len(xs) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / (n - 1))
}

// PairedT is the two-sided paired Student t-test of the differences
// d_i = a_i − b_i of n pairs (one per seed):
//
//	t = mean(d) / (std(d) / √n),  ν = n − 1 degrees of freedom
//	p = P(|T_ν| ≥ |t|) = 2·F_ν(−|t|) = I_{ν/(ν+t²)}(ν/2, 1/2)
//
// with F_ν the Student t CDF (gonum's stat/distuv.StudentsT, which
// evaluates it through the regularized incomplete beta function I, as the
// last form says) and std the sample standard deviation (MeanStd). The null
// hypothesis is a mean difference of 0, as scipy.stats.ttest_rel's default.
//
// With n < 2 p is NaN. When every difference is the same (std = 0), t is
// infinite and p is 0, unless that difference is 0 itself (identical
// results: no test, p NaN), as ttest_rel gives.
func PairedT(d []float64) (mean, t, p float64) {
	mean, std := MeanStd(d)
	n := len(d)
	if n < 2 {
		return mean, math.NaN(), math.NaN()
	}
	if std == 0 {
		if mean == 0 {
			return 0, math.NaN(), math.NaN()
		}
		return mean, math.Copysign(math.Inf(1), mean), 0
	}
	t = mean / (std / math.Sqrt(float64(n)))
	dist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}
	return mean, t, 2 * dist.CDF(-math.Abs(t))
}

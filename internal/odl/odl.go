// Package odl is gaitord's ordinal loss family (docs/losses.md): the
// ordinal distribution regression of Zhu et al., "Ordinal Distribution
// Regression for Gait-based Age Estimation" (Sci China Inf Sci 2020, arXiv
// 1905.11005), and the alternatives a researcher ablates it against. Age is
// learned over the K+1 representable ages MinAge…MinAge+K, read as K binary
// tasks "age > MinAge + k", k = 0…K−1, by every type but l1.
//
// Each loss is one small function in the style of coral_pytorch: its formula
// and shapes in the doc comment, the paper cited, a worked Example with exact
// output, and tests against an independent float64 implementation and
// finite-difference gradients.
//
//	type           age term of the objective                        loss functions
//	odl            L_rank + λ·L_odl                                 RankingLoss, ODL
//	ranking        L_rank                                           RankingLoss
//	coral          L_coral / K                                      CoralLoss
//	corn           L_corn                                           CornLoss
//	dldl           KL(q_σ ‖ softmax z)                              DLDLLoss
//	mean-variance  L_softmax + λ₁·L_mean + λ₂·L_variance            MeanVarianceLoss
//	l1             L_l1 / K = mean |z − age| / K                    L1Loss
//
// The objective adds μ·L_gender (GenderLoss) to the age term (Objective).
// The heads' shapes are internal/glcnn's (glcnn.LossType), the decoding of
// their outputs internal/metrics' (metrics.DecodeHead).
//
// Why not a library: no Go library has these losses, and the loss is a few
// tensor operations each; coral_pytorch's documented examples are reproduced
// in this package's examples (ExampleCoralLoss, ExampleCornLoss).
//
// Shapes: N samples, K tasks. Logits z are (N, K) tensors for the binary-task
// heads, (N, K+1) for the softmax heads and (N, 1) for l1; targets are built
// on the host from integer ages by Targets, Labels, GaussianTargets and
// L1Targets, which all clamp an age outside [MinAge, MinAge+K] to the range.
package odl

import (
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Tensor is gotorch's tensor handle.
type Tensor = torchx.Tensor

// Targets encodes integer ages as the (N·K) row-major binary targets (the
// "levels" of CORAL)
//
//	t_ik = 1 if age_i > minAge + k else 0,   k = 0 … K−1.
//
// Ages outside [minAge, minAge+K] are clamped to that range (their targets
// would be the same as the bound's) and counted in clamped; they never fail.
func Targets(ages []int, minAge, k int) (t []float32, clamped int) {
	y, clamped := Labels(ages, minAge, k)
	t = make([]float32, len(ages)*k)
	for i, yi := range y {
		for j := 0; j < yi; j++ {
			t[i*k+j] = 1
		}
	}
	return t, clamped
}

// Labels are the class indices y_i = clamp(age_i, minAge, minAge+K) − minAge
// in 0…K; clamped counts the ages outside the range.
func Labels(ages []int, minAge, k int) (y []int, clamped int) {
	y = make([]int, len(ages))
	for i, a := range ages {
		if a < minAge || a > minAge+k {
			clamped++
			a = min(max(a, minAge), minAge+k)
		}
		y[i] = a - minAge
	}
	return y, clamped
}

// GaussianTargets is DLDL's label distribution: for each age the (K+1)
// probabilities of a Gaussian of standard deviation sigma (years) centred on
// it, over the ages minAge…minAge+K and normalised there,
//
//	q_ij = exp(−(j − y_i)²/(2σ²)) / Σ_l exp(−(l − y_i)²/(2σ²)),   j = 0 … K,
//
// with y the Labels (clamped ages), as an (N·(K+1)) row-major slice. sigma
// must be positive and finite.
func GaussianTargets(ages []int, minAge, k int, sigma float64) (q []float32, clamped int, err error) {
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, 0, fmt.Errorf("DLDL targets: σ = %v, want > 0 and finite", sigma)
	}
	y, clamped := Labels(ages, minAge, k)
	q = make([]float32, len(ages)*(k+1))
	row := make([]float64, k+1)
	for i, yi := range y {
		sum := 0.0
		for j := range row {
			d := float64(j - yi)
			row[j] = math.Exp(-d * d / (2 * sigma * sigma))
			sum += row[j]
		}
		for j, v := range row {
			q[i*(k+1)+j] = float32(v / sum)
		}
	}
	return q, clamped, nil
}

// L1Targets are l1's regression targets, the ages in years clamped into
// [minAge, minAge+K].
func L1Targets(ages []int, minAge, k int) (t []float32, clamped int) {
	y, clamped := Labels(ages, minAge, k)
	t = make([]float32, len(y))
	for i, yi := range y {
		t[i] = float32(minAge + yi)
	}
	return t, clamped
}

func sameShape(what string, z, t Tensor) error {
	zs, ts := z.Shape(), t.Shape()
	if len(zs) != 2 || !slices.Equal(zs, ts) {
		return fmt.Errorf("%s: logits of shape %v and targets of shape %v, want both (N, K)", what, zs, ts)
	}
	return nil
}

// labelsFit checks labels y against logits of shape (N, classes−1) or
// (N, classes): every y_i in 0…K.
func labelsFit(what string, z Tensor, y []int, k int) error {
	zs := z.Shape()
	if len(zs) != 2 || zs[0] != int64(len(y)) {
		return fmt.Errorf("%s: logits of shape %v for %d labels", what, zs, len(y))
	}
	for i, v := range y {
		if v < 0 || v > k {
			return fmt.Errorf("%s: label %d at %d, want 0…%d", what, v, i, k)
		}
	}
	return nil
}

// RankingLoss is the mean over samples and tasks of the binary cross-entropy
// with logits, the ranking loss of ordinal regression by binary tasks (Niu et
// al., "Ordinal Regression with Multiple Output CNN for Age Estimation",
// CVPR 2016; the baseline of Zhu et al. 2020):
//
//	L_rank = 1/(N·K) Σ_i Σ_k −[t_ik·log σ(z_ik) + (1−t_ik)·log(1−σ(z_ik))].
//
// z and t are (N, K); a shape mismatch is an error naming both shapes.
func RankingLoss(z, t Tensor) (Tensor, error) {
	if err := sameShape("ranking loss", z, t); err != nil {
		return Tensor{}, err
	}
	var out Tensor
	err := torchx.Catch(func() { out = torchx.BCEWithLogits(z, t) })
	return out, err
}

// ODL is the ordinal distribution loss: the squared Earth Mover's Distance
// between the predicted and true distributions over ages. With the
// cumulative distributions F_pred(k) = P(age ≤ MinAge+k) = 1 − σ(z_k) and
// F_true(k) = 1 − t_k, squared EMD = Σ_k (F_pred(k) − F_true(k))² =
// Σ_k (σ(z_k) − t_k)². It is reported as a mean over samples and tasks, so
// its scale matches RankingLoss:
//
//	L_odl = 1/(N·K) Σ_i Σ_k (σ(z_ik) − t_ik)².
//
// z and t are (N, K); a shape mismatch is an error naming both shapes.
func ODL(z, t Tensor) (Tensor, error) {
	if err := sameShape("ODL", z, t); err != nil {
		return Tensor{}, err
	}
	var out Tensor
	err := torchx.Catch(func() { out = torchx.Mean(torchx.Square(torchx.Sub(torchx.Sigmoid(z), t))) })
	return out, err
}

// GenderLoss is the mean softmax cross-entropy of gender logits g (N, 2;
// column Gender.Class(): 0 female, 1 male) over the samples whose gender is
// known (api.GenderUnknown rows are left out). With no known gender it is
// zero (a constant, with no gradient) and known is 0.
func GenderLoss(g Tensor, genders []api.Gender) (loss Tensor, known int, err error) {
	gs := g.Shape()
	if len(gs) != 2 || gs[1] != 2 || gs[0] != int64(len(genders)) {
		return Tensor{}, 0, fmt.Errorf("gender loss: logits of shape %v for %d labels, want (%d, 2)", gs, len(genders), len(genders))
	}
	var idx, lab []int64
	for i, v := range genders {
		switch {
		case v.Known():
			idx = append(idx, int64(i))
			lab = append(lab, int64(v.Class()))
		case !v.Valid():
			return Tensor{}, 0, fmt.Errorf("gender loss: label %q at %d, want male, female or unknown", string(v), i)
		}
	}
	err = torchx.Catch(func() {
		dev := torchx.Device(g)
		if len(idx) == 0 {
			loss = onDevice(torchx.Zeros(), dev)
			return
		}
		target := torchx.FromInt64(lab, int64(len(lab)))
		logits := g
		if len(idx) < len(genders) {
			ix := onDevice(torchx.FromInt64(idx, int64(len(idx))), dev)
			logits = g.IndexSelect(0, ix)
			// gotorch passes only the at::Tensor pointers: keep both handles
			// alive through the call (see torchx.keep).
			runtime.KeepAlive(g)
			runtime.KeepAlive(ix)
		}
		loss = torchx.CrossEntropy(logits, onDevice(target, dev))
	})
	return loss, len(idx), err
}

func onDevice(t Tensor, dev string) Tensor {
	if dev == "cpu" {
		return t
	}
	return torchx.To(t, dev)
}

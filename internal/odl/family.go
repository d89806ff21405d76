package odl

import (
	"fmt"
	"math"

	"github.com/gaitord/gaitord/internal/torchx"
)

// CoralLoss is the loss of CORAL, Cao, Mirjalili and Raschka, "Rank
// Consistent Ordinal Regression for Neural Networks with Application to Age
// Estimation" (Pattern Recognition Letters 140, 2020), as coral_pytorch's
// coral_loss computes it: the binary cross-entropy summed over the K tasks
// and averaged over the samples,
//
//	L_coral = 1/N Σ_i Σ_k −[t_ik·log σ(z_ik) + (1−t_ik)·log(1−σ(z_ik))] = K·L_rank.
//
// z are the CORAL head's logits z_ik = w·x_i + b_k (N, K): one weight vector
// shared by every task and one bias per task, which makes the predicted
// P(age > MinAge+k) = σ(z_ik) non-increasing in k whenever the biases are
// (the paper's Theorem 1: the optimum's are). t are the levels (N, K) of
// Targets. A shape mismatch is an error naming both shapes. The objective
// weighs it by 1/K (Weights.Terms), which makes it the mean over tasks, so
// that its scale, and μ's weight on gender, are those of the ranking loss.
func CoralLoss(z, t Tensor) (Tensor, error) {
	if err := sameShape("CORAL loss", z, t); err != nil {
		return Tensor{}, err
	}
	var out Tensor
	err := torchx.Catch(func() { out = torchx.MulScalar(torchx.BCEWithLogits(z, t), float64(z.Shape()[1])) })
	return out, err
}

// CornLoss is the loss of CORN, Shi, Cao and Raschka, "Deep Neural Networks
// for Rank-Consistent Ordinal Regression Based On Conditional Probabilities"
// (Pattern Analysis and Applications 26, 2023; arXiv 2111.08851), as
// coral_pytorch 1.4's corn_loss computes it. Task k is trained only on the
// conditional training set of the samples older than its previous threshold,
// S_k = {i : y_i ≥ k} (S_0 holds every sample), to predict y_i > k:
//
//	L_corn = Σ_k Σ_{i∈S_k} −[t_ik·log σ(z_ik) + (1−t_ik)·log(1−σ(z_ik))] / Σ_k |S_k|,
//
// with t_ik = 1 if y_i > k. σ(z_ik) estimates P(y > k | y > k−1), and the
// decoded P(y > k) = Π_{j≤k} σ(z_ij) cannot increase in k
// (metrics.DecodeHead). z are the logits (N, K); y are the class indices
// 0…K (Labels). coral_pytorch 1.2 and 1.3 divided by the number of classes
// instead of Σ_k |S_k| (their documented example prints 3.4210 where 1.4's
// prints 0.7127); this is 1.4's.
func CornLoss(z Tensor, y []int) (Tensor, error) {
	zs := z.Shape()
	if len(zs) != 2 {
		return Tensor{}, fmt.Errorf("CORN loss: logits of shape %v, want (N, K)", zs)
	}
	k := int(zs[1])
	if err := labelsFit("CORN loss", z, y, k); err != nil {
		return Tensor{}, err
	}
	// Σ m·bce(z, t) = Σ m·(1−t)·z − Σ m·log σ(z), with m_ik = [y_i ≥ k]
	// selecting S_k and t_ik = [y_i > k].
	m := make([]float32, len(y)*k)
	u := make([]float32, len(y)*k) // m·(1−t): 1 only at k = y_i
	count := 0
	for i, yi := range y {
		for j := 0; j < k && j <= yi; j++ {
			m[i*k+j] = 1
			count++
		}
		if yi < k {
			u[i*k+yi] = 1
		}
	}
	var out Tensor
	err := torchx.Catch(func() {
		dev := torchx.Device(z)
		mt := torchx.FromFloat32On(m, dev, zs...)
		ut := torchx.FromFloat32On(u, dev, zs...)
		sum := torchx.Sub(torchx.Sum(torchx.Mul(ut, z)), torchx.Sum(torchx.Mul(mt, torchx.LogSigmoid(z))))
		out = torchx.MulScalar(sum, 1/float64(count))
	})
	return out, err
}

// DLDLLoss is the loss of deep label distribution learning, Gao, Xing, Xie,
// Wu and Geng, "Deep Label Distribution Learning With Label Ambiguity" (IEEE
// TIP 26, 2017) and Gao, Zhou, Wu and Geng, "Age Estimation Using
// Expectation of Label Distribution Learning" (IJCAI 2018): the
// Kullback-Leibler divergence from the label distribution q to the predicted
// p = softmax(z) over the K+1 ages, averaged over the samples,
//
//	L_dldl = 1/N Σ_i Σ_j q_ij·(log q_ij − log p_ij)   (0·log 0 = 0).
//
// z are the logits (N, K+1); q is the (N·(K+1)) row-major label
// distribution of GaussianTargets, each row summing to 1. The loss is ≥ 0
// and 0 exactly when p = q; its gradient is that of the cross-entropy with
// soft targets, p − q. The decoded age is the expectation of p (DLDL-v2's
// rule).
func DLDLLoss(z Tensor, q []float32) (Tensor, error) {
	zs := z.Shape()
	if len(zs) != 2 || int64(len(q)) != zs[0]*zs[1] {
		return Tensor{}, fmt.Errorf("DLDL loss: logits of shape %v and %d target values, want (N, K+1) and N·(K+1)", zs, len(q))
	}
	entropy := 0.0 // Σ q log q, a constant of the data
	for _, v := range q {
		if v > 0 {
			entropy += float64(v) * math.Log(float64(v))
		}
	}
	n := float64(zs[0])
	var out Tensor
	err := torchx.Catch(func() {
		qt := torchx.FromFloat32On(q, torchx.Device(z), zs...)
		cross := torchx.Sum(torchx.Mul(qt, torchx.LogSoftmax(z, 1))) // Σ q log p
		out = torchx.AddScalar(torchx.MulScalar(cross, -1/n), entropy/n)
	})
	return out, err
}

// MeanVarianceLoss is the loss of Pan, Han, Shan and Chen, "Mean-Variance
// Loss for Deep Age Estimation from a Face" (CVPR 2018), over the K+1 ages
// with p = softmax(z), the predicted mean m_i = Σ_j j·p_ij and variance
// v_i = Σ_j p_ij·(j − m_i)² (ages counted from MinAge, which neither moves):
//
//	L_softmax  = 1/N Σ_i −log p_{i,y_i}
//	L_mean     = 1/(2N) Σ_i (m_i − y_i)²
//	L_variance = 1/N Σ_i v_i
//
// The objective is L_softmax + λ₁·L_mean + λ₂·L_variance (the paper's
// λ₁ = 0.2, λ₂ = 0.05 are the defaults); the mean and variance are in years
// and years², as in the paper. z are the logits (N, K+1); y are the class
// indices 0…K (Labels). The decoded age is the mean, MinAge + m_i.
func MeanVarianceLoss(z Tensor, y []int) (softmax, mean, variance Tensor, err error) {
	zs := z.Shape()
	if len(zs) != 2 {
		return Tensor{}, Tensor{}, Tensor{}, fmt.Errorf("mean-variance loss: logits of shape %v, want (N, K+1)", zs)
	}
	classes := int(zs[1])
	if err := labelsFit("mean-variance loss", z, y, classes-1); err != nil {
		return Tensor{}, Tensor{}, Tensor{}, err
	}
	ages := make([]float32, classes)
	for j := range ages {
		ages[j] = float32(j)
	}
	yi := make([]int64, len(y))
	yf := make([]float32, len(y))
	for i, v := range y {
		yi[i], yf[i] = int64(v), float32(v)
	}
	err = torchx.Catch(func() {
		dev := torchx.Device(z)
		softmax = torchx.CrossEntropy(z, onDevice(torchx.FromInt64(yi, int64(len(yi))), dev))
		p := torchx.Softmax(z, 1)
		a := torchx.FromFloat32On(ages, dev, 1, int64(classes))
		m := torchx.SumDim(torchx.Mul(p, a), 1, false) // (N)
		mean = torchx.MulScalar(torchx.Mean(torchx.Square(torchx.Sub(m, torchx.FromFloat32On(yf, dev, int64(len(yf)))))), 0.5)
		d := torchx.Sub(a, torchx.Reshape(m, zs[0], 1)) // (N, K+1): j − m_i
		variance = torchx.Mean(torchx.SumDim(torchx.Mul(p, torchx.Square(d)), 1, false))
	})
	return softmax, mean, variance, err
}

// L1Loss is the plainest baseline, a direct regression of the age: the l1
// head's one output z_i is the age in years (its bias starts at the middle
// of the range, MinAge + K/2; the decoded age is z_i clamped into the
// representable ages), and the loss is the mean absolute error in years,
//
//	L_l1 = 1/N Σ_i |z_i − t_i|,   t_i = age_i clamped into [MinAge, MinAge+K]   (L1Targets).
//
// The objective weighs it by 1/K (Weights.Terms), which keeps its scale, and
// μ's weight on gender, near the other losses'. An L1 loss fits the
// conditional median, which is what the l1 type reports as both age and
// median; it predicts no distribution, so no interval. z is (N, 1); t holds
// N values.
func L1Loss(z Tensor, t []float32) (Tensor, error) {
	zs := z.Shape()
	if len(zs) != 2 || zs[1] != 1 || zs[0] != int64(len(t)) {
		return Tensor{}, fmt.Errorf("L1 loss: output of shape %v for %d targets, want (%d, 1)", zs, len(t), len(t))
	}
	var out Tensor
	err := torchx.Catch(func() {
		out = torchx.Mean(torchx.Abs(torchx.Sub(z, torchx.FromFloat32On(t, torchx.Device(z), zs...))))
	})
	return out, err
}

// Package odl is the ordinal distribution regression of Zhu et al.,
// "Ordinal Distribution Regression for Gait-based Age Estimation" (Sci China
// Inf Sci 2020, arXiv 1905.11005): age is learned as K binary tasks
// "age > MinAge + k", k = 0…K−1, trained with the binary cross-entropy of
// those tasks (the ranking loss) plus the ordinal distribution loss (ODL), a
// squared Earth Mover's Distance between the predicted and the true
// cumulative age distributions, and a gender cross-entropy.
//
// Shapes: N samples, K tasks. Logits z are (N, K) tensors; targets t are
// (N, K) tensors of 0/1 built by Targets.
package odl

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Tensor is gotorch's tensor handle.
type Tensor = torchx.Tensor

// Targets encodes integer ages as the (N·K) row-major binary targets
//
//	t_ik = 1 if age_i > minAge + k else 0,   k = 0 … K−1.
//
// Ages outside [minAge, minAge+K] are clamped to that range (their targets
// would be the same as the bound's) and counted in clamped; they never fail.
func Targets(ages []int, minAge, k int) (t []float32, clamped int) {
	t = make([]float32, len(ages)*k)
	for i, a := range ages {
		if a < minAge || a > minAge+k {
			clamped++
			a = min(max(a, minAge), minAge+k)
		}
		for j := 0; j < a-minAge; j++ {
			t[i*k+j] = 1
		}
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

// RankingLoss is the mean over samples and tasks of the binary cross-entropy
// with logits,
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

// Weights are the loss weights of Total.
type Weights struct {
	Lambda float64 // weight of the ODL
	Mu     float64 // weight of the gender cross-entropy
}

// Losses are the terms of one batch's objective, as tensors (for backward)
// and their values.
type Losses struct {
	Total                    Tensor
	Ranking, ODL, Gender     float64
	TotalValue               float64
	Clamped, GenderKnownRows int
	terms                    Tensor // (ranking, ODL, gender, total), until Read
}

// Objective computes L = L_rank + λ·L_odl + μ·L_gender for a batch: age
// logits z (N, K), gender logits g (N, 2), integer ages and genders.
func Objective(z, g Tensor, ages []int, genders []api.Gender, minAge int, w Weights) (Losses, error) {
	l, err := ObjectiveDeferred(z, g, ages, genders, minAge, w)
	if err != nil {
		return l, err
	}
	return l, l.Read()
}

// Read copies the four loss values to the host (one copy: on a GPU, one
// synchronisation) and fills Ranking, ODL, Gender and TotalValue.
func (l *Losses) Read() error {
	if l.terms.T == nil {
		return nil
	}
	var v []float32
	if err := torchx.Catch(func() { v = torchx.Float32s(l.terms) }); err != nil {
		return err
	}
	l.terms = Tensor{}
	l.Ranking, l.ODL, l.Gender, l.TotalValue = float64(v[0]), float64(v[1]), float64(v[2]), float64(v[3])
	return nil
}

// ObjectiveDeferred is Objective without reading the values: call Read
// when they are needed. A training step on a GPU reads them after the
// backward pass, so that the device never waits for the host in between.
func ObjectiveDeferred(z, g Tensor, ages []int, genders []api.Gender, minAge int, w Weights) (Losses, error) {
	zs := z.Shape()
	if len(zs) != 2 || zs[0] != int64(len(ages)) {
		return Losses{}, fmt.Errorf("objective: age logits of shape %v for %d ages", zs, len(ages))
	}
	k := int(zs[1])
	tv, clamped := Targets(ages, minAge, k)
	var l Losses
	l.Clamped = clamped
	var err error
	if cerr := torchx.Catch(func() {
		t := onDevice(torchx.FromFloat32(tv, int64(len(ages)), int64(k)), torchx.Device(z))
		var rank, odl, gl Tensor
		if rank, err = RankingLoss(z, t); err != nil {
			return
		}
		if odl, err = ODL(z, t); err != nil {
			return
		}
		if gl, l.GenderKnownRows, err = GenderLoss(g, genders); err != nil {
			return
		}
		total := torchx.Add(rank, odl, w.Lambda)
		if l.GenderKnownRows > 0 {
			total = torchx.Add(total, gl, w.Mu)
		}
		l.Total = total
		torchx.NoGrad(func() {
			l.terms = torchx.Cat([]Tensor{torchx.Reshape(rank, 1), torchx.Reshape(odl, 1),
				torchx.Reshape(gl, 1), torchx.Reshape(total, 1)}, 0)
		})
	}); cerr != nil {
		return Losses{}, cerr
	}
	return l, err
}

// DecodeAges turns age logits (N, K) into expected ages
//
//	age_i = MinAge + Σ_k σ(z_ik),
//
// and returns the probabilities p_ik = σ(z_ik) as an (N·K) row-major slice.
func DecodeAges(z Tensor, minAge int) (ages []float64, p []float32, err error) {
	zs := z.Shape()
	if len(zs) != 2 {
		return nil, nil, fmt.Errorf("decode: age logits of shape %v, want (N, K)", zs)
	}
	err = torchx.Catch(func() { p = torchx.Float32s(torchx.Sigmoid(z)) })
	if err != nil {
		return nil, nil, err
	}
	n, k := int(zs[0]), int(zs[1])
	ages = make([]float64, n)
	for i := 0; i < n; i++ {
		s := float64(minAge)
		for _, v := range p[i*k : (i+1)*k] {
			s += float64(v)
		}
		ages[i] = s
	}
	return ages, p, nil
}

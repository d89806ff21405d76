package odl

import (
	"fmt"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Weights are the objective's weights and the loss types' parameters
// (configuration section "loss"); each type reads the ones it names.
type Weights struct {
	Lambda         float64 // odl: weight of the ODL
	Mu             float64 // every type: weight of the gender cross-entropy
	Sigma          float64 // dldl: standard deviation of the Gaussian label distribution, years (> 0)
	MeanWeight     float64 // mean-variance: λ₁, weight of the mean loss
	VarianceWeight float64 // mean-variance: λ₂, weight of the variance loss
}

// Term is one part of the age term of the objective, with its value
// (unweighted: the objective weighs it as Weights.Terms says).
type Term struct {
	Name  string
	Value float64
}

// TermNames lists the parts of a loss type's age term, in the order of
// Losses.Terms: odl "ranking", "odl"; ranking "ranking"; coral "coral"; corn
// "corn"; dldl "kl"; mean-variance "softmax", "mean", "variance"; l1 "l1".
func TermNames(t glcnn.LossType) []string {
	switch t.Resolved() {
	case glcnn.LossRanking:
		return []string{"ranking"}
	case glcnn.LossCORAL:
		return []string{"coral"}
	case glcnn.LossCORN:
		return []string{"corn"}
	case glcnn.LossDLDL:
		return []string{"kl"}
	case glcnn.LossMeanVariance:
		return []string{"softmax", "mean", "variance"}
	case glcnn.LossL1:
		return []string{"l1"}
	}
	return []string{"ranking", "odl"}
}

// Terms are the weights of the age term's parts (TermNames) in the
// objective of loss type t with k tasks: λ for odl's ODL, 1/K for coral's
// L_coral (the mean over tasks) and for l1's L_l1 (the MAE in units of the
// range), λ₁ and λ₂ for mean-variance's mean and variance, 1 for the rest.
func (w Weights) Terms(t glcnn.LossType, k int) []float64 {
	switch t.Resolved() {
	case glcnn.LossODL:
		return []float64{1, w.Lambda}
	case glcnn.LossCORAL, glcnn.LossL1:
		return []float64{1 / float64(k)}
	case glcnn.LossMeanVariance:
		return []float64{1, w.MeanWeight, w.VarianceWeight}
	}
	return []float64{1}
}

// Losses are the terms of one batch's objective, as tensors (for backward)
// and their values.
type Losses struct {
	Total                    Tensor
	Terms                    []Term  // the age term's parts (TermNames), filled by Read
	Gender                   float64 // the gender cross-entropy, filled by Read
	TotalValue               float64 // filled by Read
	Clamped, GenderKnownRows int
	terms                    Tensor // (age parts…, gender, total), until Read
	names                    []string
}

// Term returns the value of the age term's part called name, and whether
// the loss type has one.
func (l Losses) Term(name string) (float64, bool) {
	for _, t := range l.Terms {
		if t.Name == name {
			return t.Value, true
		}
	}
	return 0, false
}

// Objective computes a batch's objective for the model configuration c
// (its loss type, K and MinAge), from the age head's outputs z (N,
// c.AgeOutputs()), gender logits g (N, 2), integer ages and genders:
//
//	odl            L = L_rank + λ·L_odl                       + μ·L_gender
//	ranking        L = L_rank                                 + μ·L_gender
//	coral          L = L_coral/K                              + μ·L_gender
//	corn           L = L_corn                                 + μ·L_gender
//	dldl           L = L_dldl (σ)                             + μ·L_gender
//	mean-variance  L = L_softmax + λ₁·L_mean + λ₂·L_variance  + μ·L_gender
//	l1             L = L_l1/K                                 + μ·L_gender
//
// (the functions of this package; the gender term only when a row has a
// known gender). Ages outside [MinAge, MinAge+K] are clamped and counted.
func Objective(z, g Tensor, ages []int, genders []api.Gender, c glcnn.Config, w Weights) (Losses, error) {
	l, err := ObjectiveDeferred(z, g, ages, genders, c, w)
	if err != nil {
		return l, err
	}
	return l, l.Read()
}

// Read copies the loss values to the host (one copy: on a GPU, one
// synchronisation) and fills Terms, Gender and TotalValue.
func (l *Losses) Read() error {
	if l.terms.T == nil {
		return nil
	}
	var v []float32
	if err := torchx.Catch(func() { v = torchx.Float32s(l.terms) }); err != nil {
		return err
	}
	l.terms = Tensor{}
	l.Terms = make([]Term, len(l.names))
	for i, name := range l.names {
		l.Terms[i] = Term{Name: name, Value: float64(v[i])}
	}
	l.Gender, l.TotalValue = float64(v[len(v)-2]), float64(v[len(v)-1])
	return nil
}

// ObjectiveDeferred is Objective without reading the values: call Read
// when they are needed. A training step on a GPU reads them after the
// backward pass, so that the device never waits for the host in between.
func ObjectiveDeferred(z, g Tensor, ages []int, genders []api.Gender, c glcnn.Config, w Weights) (Losses, error) {
	zs := z.Shape()
	if want := int64(c.AgeOutputs()); len(zs) != 2 || zs[0] != int64(len(ages)) || zs[1] != want {
		return Losses{}, fmt.Errorf("objective: age outputs of shape %v for %d ages, a %s head of K = %d gives (%d, %d)",
			zs, len(ages), c.LossType(), c.K, len(ages), want)
	}
	n, k := int64(len(ages)), c.K
	l := Losses{names: TermNames(c.LossType())}
	var err error
	if cerr := torchx.Catch(func() {
		dev := torchx.Device(z)
		var parts []Tensor // the age term's parts, in TermNames order
		weights := w.Terms(c.LossType(), k)
		switch c.LossType() {
		case glcnn.LossODL, glcnn.LossRanking, glcnn.LossCORAL:
			var tv []float32
			tv, l.Clamped = Targets(ages, c.MinAge, k)
			t := torchx.FromFloat32On(tv, dev, n, int64(k))
			var rank Tensor
			if c.LossType() == glcnn.LossCORAL {
				rank, err = CoralLoss(z, t)
			} else {
				rank, err = RankingLoss(z, t)
			}
			if err != nil {
				return
			}
			parts = []Tensor{rank}
			if c.LossType() == glcnn.LossODL {
				var o Tensor
				if o, err = ODL(z, t); err != nil {
					return
				}
				parts = append(parts, o)
			}
		case glcnn.LossCORN:
			var y []int
			y, l.Clamped = Labels(ages, c.MinAge, k)
			var corn Tensor
			if corn, err = CornLoss(z, y); err != nil {
				return
			}
			parts = []Tensor{corn}
		case glcnn.LossDLDL:
			var q []float32
			if q, l.Clamped, err = GaussianTargets(ages, c.MinAge, k, w.Sigma); err != nil {
				return
			}
			var kl Tensor
			if kl, err = DLDLLoss(z, q); err != nil {
				return
			}
			parts = []Tensor{kl}
		case glcnn.LossMeanVariance:
			var y []int
			y, l.Clamped = Labels(ages, c.MinAge, k)
			var sm, mean, variance Tensor
			if sm, mean, variance, err = MeanVarianceLoss(z, y); err != nil {
				return
			}
			parts = []Tensor{sm, mean, variance}
		case glcnn.LossL1:
			var tv []float32
			tv, l.Clamped = L1Targets(ages, c.MinAge, k)
			var l1 Tensor
			if l1, err = L1Loss(z, tv); err != nil {
				return
			}
			parts = []Tensor{l1}
		}
		var gl Tensor
		if gl, l.GenderKnownRows, err = GenderLoss(g, genders); err != nil {
			return
		}
		total := torchx.MulScalar(parts[0], weights[0])
		for i := 1; i < len(parts); i++ {
			total = torchx.Add(total, parts[i], weights[i])
		}
		if l.GenderKnownRows > 0 {
			total = torchx.Add(total, gl, w.Mu)
		}
		l.Total = total
		torchx.NoGrad(func() {
			all := make([]Tensor, 0, len(parts)+2)
			for _, p := range append(parts, gl, total) {
				all = append(all, torchx.Reshape(p, 1))
			}
			l.terms = torchx.Cat(all, 0)
		})
	}); cerr != nil {
		return Losses{}, cerr
	}
	if err != nil {
		return Losses{}, err
	}
	return l, nil
}

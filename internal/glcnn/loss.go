package glcnn

import (
	"fmt"
	"strings"
)

// LossType names a member of gaitord's ordinal loss family (docs/losses.md).
// It fixes the age head — its parameters' names and shapes (Layers.Age) —
// and how the head's outputs decode into an age distribution
// (internal/metrics on the host, internal/onnx in the exported graph); the
// losses themselves are internal/odl's.
//
//	type           head (1024 → …)                   outputs   P(age > MinAge+k)
//	odl            linear_age        [K, 1024], [K]   K         σ(z_k)
//	ranking        linear_age        [K, 1024], [K]   K         σ(z_k)
//	coral          coral_age         [1, 1024], [K]   K         σ(w·x + b_k)
//	corn           corn_age          [K, 1024], [K]   K         Π_{j≤k} σ(z_j)
//	dldl           dldl_age          [K+1, 1024], [K+1]   K+1   Σ_{j>k} softmax(z)_j
//	mean-variance  mean_variance_age [K+1, 1024], [K+1]   K+1   Σ_{j>k} softmax(z)_j
//	l1             l1_age            [1, 1024], [1]   1         none: age = z, in years
//
// odl and ranking keep the seed's linear_age, so their weights still load
// into the seed's PyTorch GEINet with strict=True; every other type names its
// own head, so that its weights can never be read as the seed's ordinal
// logits by mistake. The empty LossType reads as LossODL: configurations and
// files written before the family existed carry none.
type LossType string

// The loss types.
const (
	LossODL          LossType = "odl"           // ranking BCE + λ·ODL (Zhu et al. 2020), the default
	LossRanking      LossType = "ranking"       // BCE over the K tasks only (Niu et al. 2016)
	LossCORAL        LossType = "coral"         // Cao, Mirjalili, Raschka 2020: shared weights, K biases
	LossCORN         LossType = "corn"          // Shi, Cao, Raschka 2021: conditional binary tasks
	LossDLDL         LossType = "dldl"          // Gao et al. 2017/2018: Gaussian label distribution, KL
	LossMeanVariance LossType = "mean-variance" // Pan et al. 2018: softmax + mean and variance penalties
	LossL1           LossType = "l1"            // direct regression of the age, L1
)

var lossTypes = []LossType{LossODL, LossRanking, LossCORAL, LossCORN, LossDLDL, LossMeanVariance, LossL1}

// LossTypes lists every loss type, the default (odl) first.
func LossTypes() []LossType { return append([]LossType(nil), lossTypes...) }

// LossTypesText lists the loss types for a message: "odl, ranking, coral,
// corn, dldl, mean-variance or l1".
func LossTypesText() string {
	s := make([]string, len(lossTypes))
	for i, t := range lossTypes {
		s[i] = string(t)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// ParseLossType reads a loss type's name; "" is LossODL. Anything else is an
// error listing the types.
func ParseLossType(s string) (LossType, error) {
	if s == "" {
		return LossODL, nil
	}
	for _, t := range lossTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("loss type %q: want %s", s, LossTypesText())
}

// Resolved returns t, or LossODL for the empty type.
func (t LossType) Resolved() LossType {
	if t == "" {
		return LossODL
	}
	return t
}

// Distribution reports whether the type predicts a distribution over ages
// (and so a median and an 80% interval of its own): every type but l1.
func (t LossType) Distribution() bool { return t.Resolved() != LossL1 }

// Softmax reports whether the head is a softmax over the K+1 ages
// MinAge…MinAge+K (dldl, mean-variance).
func (t LossType) Softmax() bool { return t.Resolved() == LossDLDL || t.Resolved() == LossMeanVariance }

// headParam is the age head's parameter prefix (its GEINet attribute).
func (t LossType) headParam() string {
	switch t.Resolved() {
	case LossCORAL:
		return "coral_age"
	case LossCORN:
		return "corn_age"
	case LossDLDL:
		return "dldl_age"
	case LossMeanVariance:
		return "mean_variance_age"
	case LossL1:
		return "l1_age"
	}
	return "linear_age"
}

// ageHead is the age head of type t for k tasks on in features.
func ageHead(t LossType, in int64, k int64) Linear {
	l := Linear{Param: t.headParam(), In: in, Out: k}
	switch t.Resolved() {
	case LossCORAL:
		l.Out, l.BiasLen = 1, k
	case LossDLDL, LossMeanVariance:
		l.Out = k + 1
	case LossL1:
		l.Out = 1
	}
	return l
}

// AgeOutputs is the width of the age head's output (the ONNX age_logits
// columns): K for odl, ranking, coral and corn; K+1 for dldl and
// mean-variance; 1 for l1.
func (c Config) AgeOutputs() int { return int(ageHead(c.Loss, 1, int64(c.K)).Width()) }

// KFromAgeBias is K for a type whose age head's bias holds n values (a
// weights file that does not state K); ok is false for l1, whose one bias
// does not tell.
func KFromAgeBias(t LossType, n int64) (k int, ok bool) {
	switch {
	case t.Resolved() == LossL1:
		return 0, false
	case t.Softmax():
		return int(n - 1), true
	}
	return int(n), true
}

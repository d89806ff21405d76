package metrics

import (
	"fmt"
	"math"

	"github.com/gaitord/gaitord/internal/glcnn"
)

// DecodeHead reads one sample's age-head outputs z (c.AgeOutputs() values:
// the model's age logits, the ONNX export's age_logits row) by the
// configuration's loss type (glcnn.LossType, docs/losses.md). It returns the
// K probabilities of the type's distribution over the ages MinAge…MinAge+K,
//
//	odl, ranking, coral:  p_k = σ(z_k)
//	corn:                 p_k = Π_{j≤k} σ(z_j)   (σ(z_j) = P(age > MinAge+j | age > MinAge+j−1))
//	dldl, mean-variance:  π = softmax(z) over MinAge…MinAge+K,  p_k = Σ_{j>k} π_j
//
// with p_k = P(age > MinAge + k), and their decodings (Decode): the expected
// age MinAge + Σ_k p_k — for a softmax head that is Σ_j (MinAge+j)·π_j, the
// expectation DLDL and mean-variance decode by — the median and the 80%
// interval of the monotone CDF, all within [MinAge, MinAge+K], and the rank
// inconsistency of p (always 0 for corn and the softmax heads, whose p
// cannot increase; coral's is 0 whenever its biases decrease).
//
// l1 has no distribution: p is nil, the age is the regressed age in years
// clamped into the representable ones, clamp(z_0, MinAge, MinAge+K), the
// median is that age (an L1 loss fits the conditional median), and there is
// no interval and no rank pair. The corn product and the softmax are computed in float64, stably.
//
// python/gaitord_torch.py (decode_head) mirrors this decoding, and Decode's,
// for Python users; tests/e2e/pymodule_test.go checks that they agree.
func DecodeHead(c glcnn.Config, z []float64) (p []float64, o Ordinal, err error) {
	if want := c.AgeOutputs(); len(z) != want {
		return nil, Ordinal{}, fmt.Errorf("decode: %d age outputs, a %s head of K = %d gives %d", len(z), c.LossType(), c.K, want)
	}
	p = make([]float64, c.K)
	switch t := c.LossType(); {
	case t == glcnn.LossL1:
		a := min(max(z[0], float64(c.MinAge)), float64(c.MinAge+c.K))
		if math.IsNaN(z[0]) {
			a = math.NaN()
		}
		return nil, Ordinal{Age: a, Median: a}, nil
	case t == glcnn.LossCORN:
		prod := 1.0
		for k, v := range z {
			prod *= sigmoid(v)
			p[k] = prod
		}
	case t.Softmax():
		m := math.Inf(-1)
		for _, v := range z {
			m = max(m, v)
		}
		pi := make([]float64, len(z))
		sum := 0.0
		for j, v := range z {
			pi[j] = math.Exp(v - m)
			sum += pi[j]
		}
		// suffix sums, from the oldest age down: p_k = p_{k+1} + π_{k+1}
		tail := 0.0
		for k := c.K - 1; k >= 0; k-- {
			tail += pi[k+1] / sum
			p[k] = tail
		}
	default: // odl, ranking, coral
		for k, v := range z {
			p[k] = sigmoid(v)
		}
	}
	return p, Decode(p, c.MinAge), nil
}

// sigmoid is 1/(1+e^−x), without overflow for large |x|.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

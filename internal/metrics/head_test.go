package metrics

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
)

// classProbs is an independent float64 account of each loss type's
// distribution over the K+1 ages: P(age = MinAge + j), j = 0…K.
func classProbs(t glcnn.LossType, z []float64) []float64 {
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	k := len(z)
	switch t {
	case glcnn.LossCORN:
		// P(y = j) = Π_{i<j} σ(z_i) · (1 − σ(z_j)), P(y = K) = Π_i σ(z_i)
		out := make([]float64, k+1)
		for j := 0; j <= k; j++ {
			v := 1.0
			for i := 0; i < j; i++ {
				v *= sig(z[i])
			}
			if j < k {
				v *= 1 - sig(z[j])
			}
			out[j] = v
		}
		return out
	case glcnn.LossDLDL, glcnn.LossMeanVariance:
		out := make([]float64, k)
		sum := 0.0
		for _, v := range z {
			sum += math.Exp(v)
		}
		for j, v := range z {
			out[j] = math.Exp(v) / sum
		}
		return out
	}
	// sigmoid heads: P(y = j) = σ(z_{j−1}) − σ(z_j) with σ(z_{−1}) = 1, σ(z_K) = 0
	out := make([]float64, k+1)
	for j := 0; j <= k; j++ {
		hi, lo := 1.0, 0.0
		if j > 0 {
			hi = sig(z[j-1])
		}
		if j < k {
			lo = sig(z[j])
		}
		out[j] = hi - lo
	}
	return out
}

func TestDecodeHeadAgainstClassProbabilities(t *testing.T) {
	z4 := []float64{2.1, 0.4, -0.3, -1.7}
	z5 := []float64{-0.5, 1.2, 2.0, 0.3, -1.1}
	for _, c := range []struct {
		loss glcnn.LossType
		z    []float64
	}{
		{glcnn.LossODL, z4}, {glcnn.LossRanking, z4}, {glcnn.LossCORAL, z4}, {glcnn.LossCORN, z4},
		{glcnn.LossDLDL, z5}, {glcnn.LossMeanVariance, z5},
	} {
		cfg := glcnn.Config{InputH: 64, InputW: 44, K: 4, MinAge: 10, Loss: c.loss}
		p, o, err := DecodeHead(cfg, c.z)
		if err != nil {
			t.Fatal(err)
		}
		pi := classProbs(c.loss, c.z)
		if len(p) != 4 || len(pi) != 5 {
			t.Fatalf("%s: %d probabilities, %d classes", c.loss, len(p), len(pi))
		}
		mean := 0.0
		for j, v := range pi {
			mean += float64(10+j) * v
		}
		for k := range p {
			tail := 0.0
			for j := k + 1; j <= 4; j++ {
				tail += pi[j]
			}
			if math.Abs(p[k]-tail) > 1e-12 {
				t.Errorf("%s: p_%d = %v, Σ_{j>k} P(age = 10+j) = %v", c.loss, k, p[k], tail)
			}
		}
		if c.loss == glcnn.LossCORN || c.loss.Softmax() {
			// the expectation of the distribution (the sigmoid heads' raw p
			// need not be monotone, so their "classes" may be negative)
			if math.Abs(o.Age-mean) > 1e-12 {
				t.Errorf("%s: age %v, expectation %v", c.loss, o.Age, mean)
			}
			if o.Violations != 0 || o.Pairs != 3 {
				t.Errorf("%s: rank violations %d of %d, want 0 of 3", c.loss, o.Violations, o.Pairs)
			}
		}
		if want := Decode(p, 10); o != want || !o.HasInterval {
			t.Errorf("%s: Ordinal %+v, Decode(p) %+v", c.loss, o, want)
		}
		if o.Lo80 < 10 || o.Hi80 > 14 || !(o.Lo80 <= o.Median && o.Median <= o.Hi80) {
			t.Errorf("%s: interval [%v, %v] median %v", c.loss, o.Lo80, o.Hi80, o.Median)
		}
	}
}

func TestDecodeHeadL1AndEdges(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 80, MinAge: 5, Loss: glcnn.LossL1}
	for z, want := range map[float64]float64{5: 5, 45: 45, 25.25: 25.25, 85: 85, -3: 5, 0: 5, 170: 85} {
		p, o, err := DecodeHead(cfg, []float64{z})
		if err != nil || p != nil || o.Age != want || o.Median != want || o.HasInterval || o.Interval() != nil || o.Pairs != 0 {
			t.Errorf("l1 z = %v: p %v, %+v, %v; want age %v without interval", z, p, o, err, want)
		}
	}
	if _, o, _ := DecodeHead(cfg, []float64{math.NaN()}); !math.IsNaN(o.Age) {
		t.Errorf("l1 NaN output decodes to %v", o.Age)
	}
	// Wrong widths name the type and the width it wants.
	for _, c := range []struct {
		loss glcnn.LossType
		n    int
		want string
	}{
		{glcnn.LossODL, 5, "5 age outputs, a odl head of K = 4 gives 4"},
		{glcnn.LossDLDL, 4, "4 age outputs, a dldl head of K = 4 gives 5"},
		{glcnn.LossL1, 4, "4 age outputs, a l1 head of K = 4 gives 1"},
	} {
		_, _, err := DecodeHead(glcnn.Config{K: 4, Loss: c.loss}, make([]float64, c.n))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %d outputs: %v", c.loss, c.n, err)
		}
	}
	// Extreme logits stay finite: the softmax subtracts its maximum, the
	// sigmoid never overflows, the corn product underflows to 0.
	for _, lt := range []glcnn.LossType{glcnn.LossODL, glcnn.LossCORN, glcnn.LossDLDL} {
		z := []float64{1000, -1000, 800, -800}
		if lt.Softmax() {
			z = append(z, 0)
		}
		p, o, err := DecodeHead(glcnn.Config{K: 4, Loss: lt}, z)
		if err != nil || math.IsNaN(o.Age) || math.IsNaN(o.Lo80) || math.IsNaN(o.Hi80) {
			t.Errorf("%s on extreme logits: p %v %+v %v", lt, p, o, err)
		}
	}
}

// Decoding the same four logits as each type's head: a softmax head needs
// one output more (the ages 20…24 are five classes).
func ExampleDecodeHead() {
	z := []float64{2, 1, -1, -2}
	for _, lt := range []glcnn.LossType{glcnn.LossODL, glcnn.LossCORN, glcnn.LossDLDL, glcnn.LossL1} {
		cfg := glcnn.Config{K: 4, MinAge: 20, Loss: lt}
		in := z
		switch {
		case lt.Softmax():
			in = append(z, 0)
		case lt == glcnn.LossL1:
			in = []float64{21.5} // the age in years
		}
		p, o, _ := DecodeHead(cfg, in)
		interval := "none"
		if iv := o.Interval(); iv != nil {
			interval = fmt.Sprintf("[%.2f, %.2f]", iv[0], iv[1])
		}
		fmt.Printf("%-5s p %.3f  age %.2f  median %.2f  80%% %s\n", lt, p, o.Age, o.Median, interval)
	}
	// Output:
	// odl   p [0.881 0.731 0.269 0.119]  age 22.00  median 21.50  80% [20.00, 23.16]
	// corn  p [0.881 0.644 0.173 0.021]  age 21.72  median 21.31  80% [20.00, 22.48]
	// dldl  p [0.364 0.129 0.098 0.086]  age 20.68  median 20.00  80% [20.00, 21.93]
	// l1    p []  age 21.50  median 21.50  80% none
}

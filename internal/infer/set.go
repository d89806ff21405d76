package infer

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Set fuses s GEIs of one person (several views or walks) into one
// prediction with the network's set form, model.GLCNN.ForwardSet (the seed's
// SetBlock): every GEI goes through the network and the set's outputs are
// pooled by averaging the probabilities,
//
//	p_k   = (1/s) Σ_j σ(z_jk)            P(age > MinAge + k), k = 0…K−1
//	pMale = (1/s) Σ_j softmax(g_j)[1]
//
// and p is decoded as Batch decodes an odl model's GEI (metrics.Decode: expected age,
// median, 80% interval from the made-monotone CDF, rank inconsistency). A
// set of one GEI gives Batch's output. images holds the s GEIs row-major
// (s·H·W values in [0, 1]); the whole set is one forward pass. The returned
// Output has one row; its AgeLogit is nil, since the set pools
// probabilities, not logits. Like Batch it runs in evaluation and inference
// mode, restores the training mode, and leaves no live tensor behind.
func Set(m *model.GLCNN, images []float32, s int) (Output, error) {
	return Sets(m, images, 1, s)
}

// CanFuse says whether a model of configuration c can fuse a set: only the
// loss types whose head outputs the logits of P(age > k) (odl, ranking,
// coral; model.GLCNN.ForwardSet) can, since the set pools those
// probabilities. For the others it is a one-line error naming the type.
func CanFuse(c glcnn.Config) error {
	switch t := c.LossType(); t {
	case glcnn.LossODL, glcnn.LossRanking, glcnn.LossCORAL:
		return nil
	default:
		return fmt.Errorf("a model of loss type %s cannot fuse GEIs: set pooling averages P(age > k), which its head does not output (odl, ranking and coral do)", t)
	}
}

// Sets is Set for n sets of s GEIs each, laid out set after set (n·s·H·W
// values), in one forward pass; the Output has one row per set. A model of a
// loss type that cannot fuse (CanFuse) is refused before any work.
func Sets(m *model.GLCNN, images []float32, n, s int) (Output, error) {
	c := m.Config()
	if err := CanFuse(c); err != nil {
		return Output{}, err
	}
	if n <= 0 || s <= 0 || len(images) != n*s*c.InputH*c.InputW {
		return Output{}, fmt.Errorf("infer: %d values for %d sets of %d GEIs of %d×%d", len(images), n, s, c.InputH, c.InputW)
	}
	was := m.Training()
	m.Train(false)
	defer m.Train(was)
	var probs, pmale []float32
	var ferr error
	err := torchx.Catch(func() {
		torchx.InferenceMode(func() {
			x := torchx.FromFloat32On(images, m.Device(), int64(n), int64(s), 1, int64(c.InputH), int64(c.InputW))
			pAge, pMale, e := m.ForwardSet(x)
			if ferr = e; e != nil {
				return
			}
			probs = torchx.Float32s(pAge)
			pmale = torchx.Float32s(pMale)
		})
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return Output{}, err
	}
	out := Output{P: make([][]float64, n), PMale: make([]float64, n), Ordinal: make([]metrics.Ordinal, n)}
	for i := range n {
		row := make([]float64, c.K)
		for k := range row {
			row[k] = float64(probs[i*c.K+k])
		}
		out.P[i] = row
		out.PMale[i] = float64(pmale[i])
		out.Ordinal[i] = metrics.Decode(row, c.MinAge)
	}
	return out, nil
}

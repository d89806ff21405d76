// Package infer runs a trained GL-CNN on batches of preprocessed GEIs and
// decodes its ordinal output: expected age, median, 80% interval, rank
// inconsistency and P(male). Training validation, `gaitord eval` and
// `gaitord predict` all go through Batch, so they cannot disagree. Set and
// Sets fuse several GEIs of one person into one prediction (the network's
// set form), decoded the same way.
package infer

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/torchx"
	torch "github.com/wangkuiyi/gotorch"
)

// Output is the decoded prediction for one batch.
type Output struct {
	P        [][]float64       // P(age > MinAge+k), one row of K per sample
	PMale    []float64         // P(gender = male)
	Ordinal  []metrics.Ordinal // expected age, median, interval, rank inconsistency
	AgeLogit [][]float32       // raw age logits, one row of K per sample
}

// Batch runs the model in evaluation mode, under libtorch's inference mode,
// on n GEIs laid out row-major in images (n·H·W values in [0, 1]). It restores the model's
// training mode afterwards. All libtorch tensors it creates are dead when it
// returns, so a caller's loop may call GC after each batch.
func Batch(m *model.GLCNN, images []float32, n int) (Output, error) {
	c := m.Config()
	if n <= 0 || len(images) != n*c.InputH*c.InputW {
		return Output{}, fmt.Errorf("infer: %d values for %d GEIs of %d×%d", len(images), n, c.InputH, c.InputW)
	}
	was := m.Training()
	m.Train(false)
	defer m.Train(was)
	var logits, probs, gprobs []float32
	err := torchx.Catch(func() {
		// InferenceMode, not just NoGrad: no autograd state at all; every
		// tensor made here is copied to Go memory before it returns.
		torchx.InferenceMode(func() {
			x := torchx.FromFloat32On(images, m.Device(), int64(n), 1, int64(c.InputH), int64(c.InputW))
			age, gender := m.Forward(x)
			logits = torchx.Float32s(age)
			probs = torchx.Float32s(torchx.Sigmoid(age))
			gprobs = torchx.Float32s(torchx.Softmax(gender, 1))
		})
	})
	if err != nil {
		return Output{}, err
	}
	out := Output{P: make([][]float64, n), PMale: make([]float64, n), Ordinal: make([]metrics.Ordinal, n), AgeLogit: make([][]float32, n)}
	for i := 0; i < n; i++ {
		row := make([]float64, c.K)
		for k := range row {
			row[k] = float64(probs[i*c.K+k])
		}
		out.P[i] = row
		out.AgeLogit[i] = logits[i*c.K : (i+1)*c.K]
		out.PMale[i] = float64(gprobs[2*i+1])
		out.Ordinal[i] = metrics.Decode(row, c.MinAge)
	}
	return out, nil
}

// GC frees the tensors of finished steps; call it once per step of a loop on
// the main goroutine (gotorch's rule).
func GC() { torch.GC() }

// GCEvery is how many steps or batches a loop on device may run between GC
// calls (every tensor of a step must be dead when it returns). On a CPU a GC
// (0.5–2.5 ms) is noise beside a step; on a GPU, where a step takes a few
// milliseconds, 4 steps' tensors wait for one GC instead.
func GCEvery(device string) int {
	if device == "cpu" || device == "" {
		return 1
	}
	return 4
}

// FinishGC ends a loop begun with GC calls.
func FinishGC() { torch.FinishGC() }

// Package infer runs a trained GL-CNN on batches of preprocessed GEIs and
// decodes its age output by the model's loss type (metrics.DecodeHead):
// age, median, 80% interval, rank inconsistency, and P(male). Training
// validation, `gaitord eval` and `gaitord predict` all go through Batch, so
// they cannot disagree. Set and Sets fuse several GEIs of one person into one
// prediction (the network's set form), for the loss types whose head outputs
// P(age > k).
package infer

import (
	"fmt"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/torchx"
	torch "github.com/wangkuiyi/gotorch"
)

// Output is the decoded prediction for one batch.
type Output struct {
	P        [][]float64       // P(age > MinAge+k), one row of K per sample; nil rows for l1 (no distribution)
	PMale    []float64         // P(gender = male)
	Ordinal  []metrics.Ordinal // age, median, interval (when the type has one), rank inconsistency
	AgeLogit [][]float32       // the age head's raw outputs, one row of Config().AgeOutputs() per sample
}

// Record is sample j's evaluation record: age, median, interval (nil for a
// model without a distribution), gender, P(male) and the rank inconsistency;
// the caller adds what it knows of the input (path, source, labels).
func (o Output) Record(j int) api.Prediction {
	d := o.Ordinal[j]
	return api.Prediction{Age: d.Age, Median: d.Median, Interval: d.Interval(),
		Gender: api.GenderOf(o.PMale[j]), PMale: o.PMale[j], RankViolations: d.Violations, RankPairs: d.Pairs}
}

// Net is what Batch runs: the float32 *model.GLCNN or its int8 form
// *model.Int8 (which is always in evaluation mode).
type Net interface {
	Config() model.Config
	Device() string
	Training() bool
	Train(on bool)
	Forward(x torchx.Tensor) (age, gender torchx.Tensor)
}

// Batch runs the model in evaluation mode, under libtorch's inference mode,
// on n GEIs laid out row-major in images (n·H·W values in [0, 1]), and
// decodes each sample's age outputs by the model's loss type
// (metrics.DecodeHead). It restores the model's training mode afterwards.
// All libtorch tensors it creates are dead when it returns, so a caller's
// loop may call GC after each batch.
func Batch(m Net, images []float32, n int) (Output, error) {
	c := m.Config()
	if n <= 0 || len(images) != n*c.InputH*c.InputW {
		return Output{}, fmt.Errorf("infer: %d values for %d GEIs of %d×%d", len(images), n, c.InputH, c.InputW)
	}
	was := m.Training()
	m.Train(false)
	defer m.Train(was)
	var logits, gprobs []float32
	err := torchx.Catch(func() {
		// InferenceMode, not just NoGrad: no autograd state at all; every
		// tensor made here is copied to Go memory before it returns.
		torchx.InferenceMode(func() {
			x := torchx.FromFloat32On(images, m.Device(), int64(n), 1, int64(c.InputH), int64(c.InputW))
			age, gender := m.Forward(x)
			logits = torchx.Float32s(age)
			gprobs = torchx.Float32s(torchx.Softmax(gender, 1))
		})
	})
	if err != nil {
		return Output{}, err
	}
	w := c.AgeOutputs()
	out := Output{P: make([][]float64, n), PMale: make([]float64, n), Ordinal: make([]metrics.Ordinal, n), AgeLogit: make([][]float32, n)}
	row := make([]float64, w)
	for i := 0; i < n; i++ {
		out.AgeLogit[i] = logits[i*w : (i+1)*w]
		for k, v := range out.AgeLogit[i] {
			row[k] = float64(v)
		}
		if out.P[i], out.Ordinal[i], err = metrics.DecodeHead(c, row); err != nil {
			return Output{}, err
		}
		out.PMale[i] = float64(gprobs[2*i+1])
	}
	return out, nil
}

// Prediction is sample j of o as the prediction record that `gaitord
// predict --json` prints and `gaitord serve` returns: Record's figures with
// the model's distribution (PAgeGT = P[j], absent for l1) instead of the rank
// counts, and without Path and Source, which the caller knows.
func (o Output) Prediction(j int) api.Prediction {
	p := o.Record(j)
	p.RankViolations, p.RankPairs, p.PAgeGT = 0, 0, o.P[j]
	return p
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

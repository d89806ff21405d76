package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
)

// tinyRun is a real training run small enough for a unit test: random
// 64×44 images decoded from memory, no files but the run folder's.
func tinyRun(t *testing.T, nTrain, nVal int, h Hyper) Options {
	t.Helper()
	mc := h.Model
	images := map[string][]float32{}
	sample := func(i int) dataset.Sample {
		p := fmt.Sprintf("mem/%03d.png", i)
		r := rand.New(rand.NewPCG(uint64(i), 3))
		img := make([]float32, mc.InputH*mc.InputW)
		for j := range img {
			img[j] = r.Float32()
		}
		images[p] = img
		return dataset.Sample{Path: p, Age: 5 + 7*i%70, Gender: []api.Gender{api.Female, api.Male}[i%2], Subject: strconv.Itoa(i)}
	}
	var tr, val []dataset.Sample
	for i := range nTrain {
		tr = append(tr, sample(i))
	}
	for i := range nVal {
		val = append(val, sample(nTrain+i))
	}
	return Options{
		Hyper: h, RunDir: t.TempDir(), Train: tr, Val: val, TrainMeanAge: 40,
		Decode: func(p string) ([]float32, error) { return images[p], nil },
	}
}

var stepLine = regexp.MustCompile(`^step (\d+)  epoch (\d+)/(\d+)  batch (\d+)/(\d+)  loss (\S+)  ranking (\S+)  odl (\S+)  gender (\S+)  lr (\S+)  (\d+) samples/s$`)

// TestStepLog checks the --verbose step lines against the run itself: one per
// step, numbered, with the schedule's learning rate, loss parts that add up
// to the objective's weighting, and per-epoch means equal to metrics.jsonl.
func TestStepLog(t *testing.T) {
	runtime.LockOSThread() // libtorch from one OS thread, as gaitord's main goroutine
	defer runtime.UnlockOSThread()
	h := Hyper{
		Model: model.DefaultConfig(), Seed: 3, Device: "cpu", Epochs: 2, BatchSize: 4, EvalBatchSize: 8,
		Optim:    optim.Config{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		Schedule: Schedule{Type: "step", StepEpochs: 1, Gamma: 0.5},
		Loss:     odl.Weights{Lambda: 0.5, Mu: 2}, Workers: 1,
	}
	o := tinyRun(t, 10, 3, h)
	var steps, log bytes.Buffer
	o.StepLog, o.Log = &steps, &log
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// 10 samples in batches of 4, the last partial one dropped: 2 steps an epoch.
	if res.Steps != 4 {
		t.Fatalf("trained %d steps, want 4", res.Steps)
	}
	if strings.Contains(log.String(), "step 1 ") {
		t.Errorf("step lines leaked into Log:\n%s", log.String())
	}
	lines := strings.Split(strings.TrimSuffix(steps.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d step lines, want 4:\n%s", len(lines), steps.String())
	}
	rows, err := ReadMetrics(filepath.Join(o.RunDir, MetricsFile))
	if err != nil || len(rows) != 2 {
		t.Fatalf("metrics: %d rows, %v", len(rows), err)
	}
	sum := make([]float64, 2)
	for i, line := range lines {
		m := stepLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q does not match %v", line, stepLine)
		}
		f := func(k int) float64 {
			v, err := strconv.ParseFloat(m[k], 64)
			if err != nil {
				t.Fatalf("line %q field %d: %v", line, k, err)
			}
			return v
		}
		epoch := i/2 + 1
		if want := []float64{float64(i + 1), float64(epoch), 2, float64(i%2 + 1), 2}; f(1) != want[0] || f(2) != want[1] || f(3) != want[2] || f(4) != want[3] || f(5) != want[4] {
			t.Errorf("line %q: want step %v, epoch %v/%v, batch %v/%v", line, want[0], want[1], want[2], want[3], want[4])
		}
		if lr := f(10); lr != h.Schedule.LR(h.Optim.LR, epoch-1, h.Epochs) || lr != 1e-3*math.Pow(0.5, float64(epoch-1)) {
			t.Errorf("line %q: lr %v, want %v", line, lr, 1e-3*math.Pow(0.5, float64(epoch-1)))
		}
		total, ranking, odlv, gender := f(6), f(7), f(8), f(9)
		// L = ranking + λ·ODL + μ·gender, each printed to 4 decimals.
		if want := ranking + 0.5*odlv + 2*gender; math.Abs(total-want) > 2e-4 {
			t.Errorf("line %q: loss %v, but ranking + 0.5·odl + 2·gender = %v", line, total, want)
		}
		if !(total > 0) || f(11) <= 0 {
			t.Errorf("line %q: want a positive loss and rate", line)
		}
		sum[epoch-1] += total
	}
	for e, r := range rows {
		if math.Abs(sum[e]/2-r.Loss) > 1e-4 {
			t.Errorf("epoch %d: step lines average %.5f, metrics.jsonl says %.5f", e+1, sum[e]/2, r.Loss)
		}
	}
}

// Every loss type trains through the one loop: its step lines name its
// terms, which add up to the objective with the configured weights; the
// metrics row holds their epoch means; validation decodes its head (no
// interval for l1); and a resume under another loss type is refused.
func TestEveryLossTypeTrains(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := odl.Weights{Lambda: 0.5, Mu: 2, Sigma: 2, MeanWeight: 0.2, VarianceWeight: 0.05}
	// One goroutine, locked to its thread, for every type (no subtests: each
	// would run on a goroutine of its own, and libtorch's grad mode and
	// gotorch's GC bookkeeping are per thread).
	for _, lt := range glcnn.LossTypes() {
		func() {
			h := testHyper()
			h.Model.K, h.Model.Loss, h.Loss, h.BatchSize = 80, lt, w, 4
			o := tinyRun(t, 8, 3, h)
			var steps bytes.Buffer
			o.StepLog = &steps
			if _, err := Run(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			names := odl.TermNames(lt)
			parts := ""
			for _, n := range names {
				parts += "  " + regexp.QuoteMeta(n) + ` (\S+)`
			}
			re := regexp.MustCompile(`^step \d+  epoch 1/1  batch \d/2  loss (\S+)` + parts + `  gender (\S+)  lr 0\.001  \d+ samples/s$`)
			var mean float64
			lines := strings.Split(strings.TrimSuffix(steps.String(), "\n"), "\n")
			for _, line := range lines {
				m := re.FindStringSubmatch(line)
				if m == nil {
					t.Fatalf("%s: line %q does not match %v", lt, line, re)
				}
				v := make([]float64, len(m)-1)
				for i := range v {
					v[i], _ = strconv.ParseFloat(m[i+1], 64)
				}
				want := w.Mu * v[len(v)-1]
				for i, wt := range w.Terms(lt, h.Model.K) {
					want += wt * v[1+i]
				}
				if math.Abs(v[0]-want) > 5e-4 || !(v[0] > 0) {
					t.Errorf("%s: line %q: loss %v, terms give %v", lt, line, v[0], want)
				}
				mean += v[1] / float64(len(lines))
			}
			rows, err := ReadMetrics(filepath.Join(o.RunDir, MetricsFile))
			if err != nil || len(rows) != 1 || len(rows[0].Terms) != len(names) {
				t.Fatalf("%s: metrics rows %+v, %v", lt, rows, err)
			}
			if got := rows[0].Terms[names[0]]; math.Abs(got-mean) > 1e-4 {
				t.Errorf("%s: metrics %s %v, step lines average %v", lt, names[0], got, mean)
			}
			if _, has := rows[0].Terms["odl"]; has != (lt == glcnn.LossODL) || (rows[0].ODL != 0) != (lt == glcnn.LossODL) {
				t.Errorf("%s: metrics row %+v", lt, rows[0])
			}
			st, err := checkpoint.Load(filepath.Join(o.RunDir, LastFile))
			if err != nil || st.Model.Loss != lt {
				t.Fatalf("%s: last.ckpt: %+v, %v", lt, st, err)
			}
			m, err := model.New(st.Model, 0, "cpu")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetWeights(st.Weights); err != nil {
				t.Fatal(err)
			}
			loader := loaderFor(o.Val, h, o.Decode)
			preds, err := Predict(m, loader, o.Val)
			loader.Close()
			infer.FinishGC() // Predict's loop ran GC
			if err != nil || len(preds) != 3 {
				t.Fatalf("%s: predictions %v, %v", lt, preds, err)
			}
			for _, p := range preds {
				if (p.Interval == nil) != (lt == glcnn.LossL1) || p.Age < 0 || p.Age > 80 || p.Median < 0 || p.Median > 80 {
					t.Errorf("%s: prediction %+v", lt, p)
				}
				if p.Interval != nil && (p.Interval[0] < 0 || p.Interval[1] > 80 || p.Interval[0] > p.Interval[1]) {
					t.Errorf("%s: interval %v", lt, *p.Interval)
				}
			}
			// resuming the run as another type is refused
			other := glcnn.LossCORN
			if lt == other {
				other = glcnn.LossODL
			}
			o.Resume, o.Hyper.Model.Loss, o.Hyper.Epochs = true, other, 2
			if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "resume:") || !strings.Contains(err.Error(), string(other)) {
				t.Errorf("%s: resume as %s: %v", lt, other, err)
			}
		}()
	}
}

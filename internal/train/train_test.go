package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
	"github.com/gaitord/gaitord/internal/torchx"
)

func TestScheduleLR(t *testing.T) {
	const base = 0.1
	cases := []struct {
		s        Schedule
		e, total int
		want     float64
	}{
		{Schedule{Type: "none"}, 0, 4, 0.1},
		{Schedule{Type: "none"}, 9, 4, 0.1},
		{Schedule{Type: ""}, 3, 4, 0.1},
		// step: ×0.5 every 3 epochs
		{Schedule{Type: "step", StepEpochs: 3, Gamma: 0.5}, 0, 10, 0.1},
		{Schedule{Type: "step", StepEpochs: 3, Gamma: 0.5}, 2, 10, 0.1},
		{Schedule{Type: "step", StepEpochs: 3, Gamma: 0.5}, 3, 10, 0.05},
		{Schedule{Type: "step", StepEpochs: 3, Gamma: 0.5}, 7, 10, 0.025},
		{Schedule{Type: "step", StepEpochs: 0, Gamma: 0.5}, 7, 10, 0.1}, // no period: constant
		// cosine over 4 epochs: 0.1·(1 + cos(π·e/4))/2
		{Schedule{Type: "cosine"}, 0, 4, 0.1},
		{Schedule{Type: "cosine"}, 1, 4, 0.08535533905932738},
		{Schedule{Type: "cosine"}, 2, 4, 0.05},
		{Schedule{Type: "cosine"}, 3, 4, 0.014644660940672627},
		// linear warm-up over the first epochs, on top of the schedule
		{Schedule{Type: "none", WarmupEpochs: 2}, 0, 4, 0.05},
		{Schedule{Type: "none", WarmupEpochs: 2}, 1, 4, 0.1},
		{Schedule{Type: "none", WarmupEpochs: 2}, 2, 4, 0.1},
		{Schedule{Type: "cosine", WarmupEpochs: 2}, 0, 4, 0.05},
		{Schedule{Type: "cosine", WarmupEpochs: 2}, 1, 4, 0.08535533905932738},
		{Schedule{Type: "step", StepEpochs: 1, Gamma: 0.5, WarmupEpochs: 3}, 0, 4, 0.1 / 3},
		{Schedule{Type: "step", StepEpochs: 1, Gamma: 0.5, WarmupEpochs: 3}, 1, 4, 0.05 * 2 / 3},
		{Schedule{Type: "step", StepEpochs: 1, Gamma: 0.5, WarmupEpochs: 3}, 2, 4, 0.025},
	}
	for _, c := range cases {
		if got := c.s.LR(base, c.e, c.total); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%+v: epoch %d of %d: lr %v, want %v", c.s, c.e, c.total, got, c.want)
		}
	}
}

func TestResumeSkip(t *testing.T) {
	for _, c := range []struct{ done, saved, world, want int }{
		{0, 2, 4, 0},   // the epoch had not begun
		{10, 1, 1, 10}, // same world: skip what was trained
		{10, 2, 2, 10},
		{7, 2, 4, 3},  // 14 batches of the epoch trained: 3 each of 4 ranks (12), rounded down
		{7, 4, 2, 14}, // 28 trained: 14 each of 2
		{5, 2, 1, 10}, // a job resumed alone
		{3, 3, 2, 4},  // 9 trained: 4 each of 2 (8)
	} {
		if got := resumeSkip(c.done, c.saved, c.world); got != c.want {
			t.Errorf("%d batches by %d rank(s), resumed by %d: skip %d, want %d", c.done, c.saved, c.world, got, c.want)
		}
	}
}

// A crash can leave metrics rows of epochs after the last checkpoint and a
// torn last line; a resume keeps exactly the rows up to the checkpoint.
func TestTruncateMetricsAfterACrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	for e := 1; e <= 3; e++ {
		if err := appendMetrics(path, MetricsRow{Epoch: e, Step: int64(10 * e), Loss: 1 / float64(e), WorldSize: 1}); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"epoch":4,"step":4`) // killed mid-write
	f.Close()
	if _, err := ReadMetrics(path); err == nil || !strings.Contains(err.Error(), path+":4:") {
		t.Fatalf("reading the torn log: %v, want an error naming line 4", err)
	}

	if err := truncateMetrics(path, 2); err != nil {
		t.Fatal(err)
	}
	rows, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Epoch != 1 || rows[1].Epoch != 2 || rows[1].Step != 20 || rows[1].Loss != 0.5 || rows[1].WorldSize != 1 {
		t.Fatalf("rows after truncating to epoch 2: %+v", rows)
	}
	if b, _ := os.ReadFile(path); bytes.Count(b, []byte("\n")) != 2 || b[len(b)-1] != '\n' {
		t.Fatalf("log after truncation: %q, want two whole lines", b)
	}

	if err := truncateMetrics(path, 0); err != nil { // a fresh start
		t.Fatal(err)
	}
	if rows, err := ReadMetrics(path); err != nil || len(rows) != 0 {
		t.Fatalf("after truncating to epoch 0: %+v, %v", rows, err)
	}

	missing := filepath.Join(dir, "none.jsonl")
	if err := truncateMetrics(missing, 1); err != nil {
		t.Fatalf("no log yet: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("truncating a missing log created it: %v", err)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockFile)
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != fmt.Sprintf("%d\n", os.Getpid()) {
		t.Errorf("lock file holds %q, want the owner's PID", b)
	}
	_, err = Lock(dir)
	want := fmt.Sprintf("run folder %s is in use by process %d (lock %s); wait for it or choose another --out", dir, os.Getpid(), path)
	if err == nil || err.Error() != want {
		t.Fatalf("second Lock: %v, want %q", err, want)
	}
	unlock()
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("released lock file holds %q, want it empty", b)
	}
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("retaking a released lock: %v", err)
	}
	again()
	if _, err := Lock(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "lock "+filepath.Join(dir, "missing", LockFile)) {
		t.Errorf("lock in a missing folder: %v", err)
	}
}

// voter is a dist.Comm of size ranks, rank 0, in which the other ranks'
// votes (interrupt, non-finite) are others.
type voter struct {
	size   int
	others [2]float64
}

func (v *voter) Rank() int { return 0 }
func (v *voter) Size() int { return v.size }
func (v *voter) AverageGrads(_ []torchx.Tensor, _ int64, extra []float64) error {
	extra[0] += v.others[0]
	extra[1] += v.others[1]
	return nil
}
func (*voter) Broadcast([]torchx.Tensor, int) error { return nil }
func (*voter) BroadcastJSON(any, int) error         { return nil }
func (*voter) SumFloat64([]float64) error           { return nil }
func (*voter) Stats() dist.Stats                    { return dist.Stats{} }

func testHyper() Hyper {
	mc := model.DefaultConfig()
	mc.K = 4
	return Hyper{Model: mc, Seed: 3, Device: "cpu", Epochs: 1, BatchSize: 4, EvalBatchSize: 8,
		Optim:    optim.Config{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8},
		Schedule: Schedule{Type: "none"}, Loss: odl.Weights{Lambda: 1, Mu: 1}, Workers: 1, Prefetch: 1, Flip: true}
}

// image is a deterministic GEI-sized image for a sample path.
func image(path string) ([]float32, error) {
	c := testHyper().Model
	salt := 0
	for _, r := range path {
		salt = salt*31 + int(r)
	}
	img := make([]float32, c.InputH*c.InputW)
	for i := range img {
		img[i] = float32(0.5 + 0.5*math.Sin(float64(i%97+salt%1000)/7))
	}
	return img, nil
}

func samples(n, salt int) []dataset.Sample {
	out := make([]dataset.Sample, n)
	for i := range out {
		out[i] = dataset.Sample{Path: fmt.Sprintf("s%d-%d.png", salt, i), Age: (i * 7) % 4, Gender: []api.Gender{api.Female, api.Male}[i%2]}
	}
	return out
}

func testBatch(n int) dataset.Batch {
	b := dataset.Batch{Ages: make([]int, n), Genders: make([]api.Gender, n)}
	for i, s := range samples(n, 1) {
		img, _ := image(s.Path)
		b.Images = append(b.Images, img...)
		b.Ages[i], b.Genders[i] = s.Age, s.Gender
	}
	return b
}

// Step's outcomes: a step is taken and counted; a stop vote still takes it;
// a non-finite loss, here or on another rank, leaves weights and optimiser
// as they were.
func TestStepVotes(t *testing.T) {
	h := testHyper()
	m, err := model.New(h.Model, 1, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	m.Train(true)
	opt, err := optim.NewAdam(m.Names(), m.Params(), h.Optim)
	if err != nil {
		t.Fatal(err)
	}
	s := Stepper{Model: m, Optim: opt, Group: dist.NewLocal(), Loss: h.Loss}
	b := testBatch(2)
	moved := func(before map[string]model.Weight) bool {
		for name, w := range m.Weights() {
			for i, v := range w.Data {
				if v != before[name].Data[i] {
					return true
				}
			}
		}
		return false
	}
	step := func(what string, ctx context.Context, b dataset.Batch, wantVotes Votes, wantSteps int64, wantMoved bool) odl.Losses {
		t.Helper()
		before := m.Weights()
		l, v, err := s.Step(ctx, b, 1e-3)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if v != wantVotes || opt.Steps() != wantSteps || moved(before) != wantMoved {
			t.Fatalf("%s: votes %+v, %d steps, weights moved %v; want %+v, %d, %v", what, v, opt.Steps(), moved(before), wantVotes, wantSteps, wantMoved)
		}
		if l.Total.T != nil {
			t.Fatalf("%s: the loss tensor outlives the step", what)
		}
		return l
	}
	bg := context.Background()
	if l := step("a step", bg, b, Votes{}, 1, true); !finite(l.TotalValue) || l.TotalValue <= 0 {
		t.Fatalf("loss %v", l.TotalValue)
	}
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	step("Ctrl-C", cancelled, b, Votes{Interrupt: 1}, 2, true)

	nan := testBatch(2)
	for i := range nan.Images {
		nan.Images[i] = float32(math.NaN())
	}
	if l := step("a NaN batch", bg, nan, Votes{NonFinite: 1}, 2, false); finite(l.TotalValue) {
		t.Fatalf("a NaN batch has loss %v", l.TotalValue)
	}
	s.Group = &voter{size: 3, others: [2]float64{0, 1}}
	step("another rank's NaN", bg, b, Votes{NonFinite: 1}, 2, false)
	s.Group = &voter{size: 3, others: [2]float64{2, 0}}
	step("two other ranks' Ctrl-C", bg, b, Votes{Interrupt: 2}, 3, true)

	b.Images = b.Images[1:]
	if _, _, err := s.Step(bg, b, 1e-3); err == nil || !strings.Contains(err.Error(), "2 ages, 2 genders and 5631 image values") {
		t.Fatalf("a short batch: %v", err)
	}
}

// A checkpoint of an epoch interrupted by 2 ranks after 7 batches each,
// resumed by 4: each skips 3 (the 14 batches trained, rounded down to 12),
// says so, and the metrics log keeps the completed epoch only.
func TestResumeWithAnotherWorldSize(t *testing.T) {
	dir := t.TempDir()
	o := Options{Hyper: testHyper(), RunDir: dir, Group: &voter{size: 2}}
	two, err := newTrainer(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := two.save(filepath.Join(dir, LastFile), 1, 7); err != nil {
		t.Fatal(err)
	}
	for e := 1; e <= 2; e++ { // epoch 2's row was logged, its checkpoint never written
		if err := appendMetrics(filepath.Join(dir, MetricsFile), MetricsRow{Epoch: e, WorldSize: 2}); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	o.Resume, o.Group, o.Log = true, &voter{size: 4}, &log
	four, err := newTrainer(o)
	if err != nil {
		t.Fatal(err)
	}
	var st start
	unlock, err := four.prepare(&st)
	if unlock != nil {
		defer unlock()
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.Skip != 3 || st.WorldSize != 4 {
		t.Fatalf("start %+v: want epoch 1, skip 3, world size 4", st)
	}
	if want := "resuming epoch 2, trained by 2 rank(s) for 7 batches, with 4 rank(s): skipping 3 batches each"; !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not say %q", log.String(), want)
	}
	rows, err := ReadMetrics(filepath.Join(dir, MetricsFile))
	if err != nil || len(rows) != 1 || rows[0].Epoch != 1 {
		t.Fatalf("metrics after the resume: %+v, %v; want epoch 1 only", rows, err)
	}
}

// In a process alone (the local group), Ctrl-C between steps stops before
// the next step; the saved partial epoch resumes to the same weights as an
// uninterrupted run, and the metrics row says one rank and no all-reduce.
func TestRunAloneInterruptedAndResumed(t *testing.T) {
	// libtorch's settings and gotorch's GC are per OS thread, as on gaitord's main goroutine.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	opts := func(dir string) Options {
		return Options{Hyper: testHyper(), RunDir: dir, Train: samples(12, 2), Val: samples(4, 3), TrainMeanAge: 1.5, Decode: image}
	}
	whole := opts(t.TempDir())
	if _, err := Run(context.Background(), whole); err != nil {
		t.Fatal(err)
	}

	cut := opts(t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cut.AfterStep = func(_ int, step int64) {
		if step == 1 {
			cancel()
		}
	}
	res, err := Run(ctx, cut)
	if !errors.Is(err, ErrInterrupted) || !res.Interrupted || res.Steps != 1 {
		t.Fatalf("interrupted after step 1: %+v, %v; want ErrInterrupted after 1 step", res, err)
	}
	ck, err := checkpoint.Load(filepath.Join(cut.RunDir, LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 0 || ck.BatchesDone != 1 || ck.Step != 1 || ck.WorldSize != 1 {
		t.Fatalf("interrupted checkpoint: epoch %d, batches %d, step %d, world %d; want 0, 1, 1, 1", ck.Epoch, ck.BatchesDone, ck.Step, ck.WorldSize)
	}
	cut.Resume, cut.AfterStep = true, nil
	res, err = Run(context.Background(), cut)
	if err != nil || res.Steps != 3 || res.Epochs != 1 {
		t.Fatalf("resumed: %+v, %v; want 3 steps (12 samples, batch 4), 1 epoch", res, err)
	}
	a, err := checkpoint.Load(filepath.Join(whole.RunDir, LastFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(filepath.Join(cut.RunDir, LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != 3 || b.Step != 3 {
		t.Fatalf("steps %d and %d, want 3", a.Step, b.Step)
	}
	for name, w := range a.Weights {
		for i, v := range w.Data {
			if b.Weights[name].Data[i] != v || b.ExpAvgSq[name].Data[i] != a.ExpAvgSq[name].Data[i] {
				t.Fatalf("%s[%d]: interrupted and resumed %v (v %v), uninterrupted %v (v %v)", name, i,
					b.Weights[name].Data[i], b.ExpAvgSq[name].Data[i], v, a.ExpAvgSq[name].Data[i])
			}
		}
	}
	rows, err := ReadMetrics(filepath.Join(cut.RunDir, MetricsFile))
	if err != nil || len(rows) != 1 {
		t.Fatalf("metrics: %+v, %v", rows, err)
	}
	if r := rows[0]; r.Epoch != 1 || r.Step != 3 || r.ValN != 4 || r.WorldSize != 1 || r.AllReduceCalls != 0 || r.AllReduceSeconds != 0 {
		t.Fatalf("metrics row %+v: want epoch 1, step 3, 4 validation samples, world size 1, no all-reduce", r)
	}
	if _, err := os.Stat(filepath.Join(cut.RunDir, BestFile)); err != nil {
		t.Fatalf("best checkpoint: %v", err)
	}
}

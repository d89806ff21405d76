package experiment

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/train"
)

// writeCheckpoint writes a last.ckpt (zero weights) into r.Dir as training
// would leave it after epoch epochs (batches into the next).
func writeCheckpoint(t *testing.T, r Run, config string, epoch, batches int, best float64) {
	t.Helper()
	c := glcnn.DefaultConfig()
	zeros := map[string]glcnn.Weight{}
	for _, s := range c.Specs() {
		zeros[s.Name] = glcnn.Weight{Shape: s.Shape, Data: make([]float32, glcnn.Numel(s.Shape))}
	}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st := &checkpoint.State{Model: c, Weights: zeros, ExpAvg: zeros, ExpAvgSq: zeros, Epoch: epoch, BatchesDone: batches,
		Step: int64(10*epoch + batches), BestMAE: best, Seed: r.Seed, Config: config, WorldSize: 1}
	if err := checkpoint.Save(filepath.Join(r.Dir, train.LastFile), st); err != nil {
		t.Fatal(err)
	}
}

// fake stands in for gaitord train and eval: training writes the final
// checkpoint with best validation MAE 4 + seed/10, evaluation reports a
// test MAE of 5 + λ/2 + seed/10.
type fake struct {
	t       *testing.T
	trained []string // "name resume=…" per Train call
	evals   []string
	stopAt  int // Train leaves the run at this epoch (0: the end)
}

func (f *fake) hooks() Hooks {
	return Hooks{
		Train: func(r Run, resume bool) error {
			f.trained = append(f.trained, fmt.Sprintf("%s resume=%v", r.Name(), resume))
			epoch := r.Epochs
			if f.stopAt > 0 {
				epoch = f.stopAt
			}
			writeCheckpoint(f.t, r, r.Config, epoch, 0, 4+float64(r.Seed)/10)
			return nil
		},
		Evaluate: func(r Run) (metrics.Summary, error) {
			f.evals = append(f.evals, r.Name())
			lambda := 0.0
			fmt.Sscan(r.Cell.Value("loss.lambda"), &lambda)
			acc, ri, cov := 0.9, 0.01*float64(r.Seed), 0.8
			return metrics.Summary{N: 10, MAE: 5 + lambda/2 + float64(r.Seed)/10, CS: []float64{.1, .2, .3, .4, .5 + lambda/10},
				GenderAccuracy: &acc, RankInconsistency: &ri, Coverage80: &cov}, nil
		},
	}
}

func inspectAll(t *testing.T, p *Plan) []Status {
	t.Helper()
	var sts []Status
	for _, r := range p.Runs {
		st, err := Inspect(r)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	return sts
}

func states(sts []Status) []State {
	var out []State
	for _, s := range sts {
		out = append(out, s.State)
	}
	return out
}

func mtime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func TestExecuteResumesAndSkips(t *testing.T) {
	out := t.TempDir()
	p, err := NewPlan(Spec{Out: out, Grid: []string{"loss.lambda=0,1"}, Seeds: []int64{1, 2}, Baseline: "loss.lambda=0",
		Sets: []string{"train.epochs=2"}, Load: loadDefault})
	if err != nil {
		t.Fatal(err)
	}
	// run 1 was interrupted in epoch 2, run 2 trained but not evaluated
	writeCheckpoint(t, p.Runs[1], p.Runs[1].Config, 1, 3, 4.5)
	writeCheckpoint(t, p.Runs[2], p.Runs[2].Config, 2, 0, 4.1)
	sts := inspectAll(t, p)
	if got := states(sts); !slices.Equal(got, []State{Fresh, Interrupted, Trained, Fresh}) {
		t.Fatalf("states %v", got)
	}
	if sts[1].Epoch != 1 || sts[1].Batches != 3 {
		t.Fatalf("interrupted run: %+v", sts[1])
	}

	// Ctrl-C after the second run: Execute stops before the third.
	ctx, cancel := context.WithCancel(context.Background())
	f := &fake{t: t}
	h := f.hooks()
	var done []string
	h.Done = func(i int, r Run, st Status, res *Result) {
		done = append(done, r.Name())
		if i == 1 {
			cancel()
		}
	}
	results, err := Execute(ctx, p, sts, h)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Execute after cancel: %v", err)
	}
	if want := []string{"loss.lambda=0/seed1 resume=false", "loss.lambda=0/seed2 resume=true"}; !slices.Equal(f.trained, want) {
		t.Fatalf("trained %q, want %q", f.trained, want)
	}
	if !slices.Equal(f.evals, []string{"loss.lambda=0/seed1", "loss.lambda=0/seed2"}) || len(done) != 2 {
		t.Fatalf("evaluated %q, done %q", f.evals, done)
	}
	if results[0] == nil || results[1] == nil || results[2] != nil {
		t.Fatalf("results %v", results)
	}
	res, err := ReadResult(filepath.Join(p.Runs[1].Dir, ResultFile))
	if err != nil {
		t.Fatal(err)
	}
	if res.Seed != 2 || res.Cell.Name() != "loss.lambda=0" || res.Epochs != 2 || res.Steps != 20 ||
		res.BestValMAE == nil || *res.BestValMAE != 4.2 || res.Test.MAE != 5.2 {
		t.Fatalf("result.json of run 1: %+v", res)
	}
	keep := map[string]time.Time{}
	for _, r := range p.Runs[:2] {
		for _, f := range []string{train.LastFile, ResultFile} {
			path := filepath.Join(r.Dir, f)
			keep[path] = mtime(t, path)
		}
	}

	// The rerun: the first two are finished and left alone, the third is
	// only evaluated, the fourth trained.
	sts = inspectAll(t, p)
	if got := states(sts); !slices.Equal(got, []State{Finished, Finished, Trained, Fresh}) {
		t.Fatalf("states after the interruption %v", got)
	}
	f2 := &fake{t: t}
	results, err = Execute(context.Background(), p, sts, f2.hooks())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f2.trained, []string{"loss.lambda=1/seed2 resume=false"}) || !slices.Equal(f2.evals, []string{"loss.lambda=1/seed1", "loss.lambda=1/seed2"}) {
		t.Fatalf("rerun trained %q, evaluated %q", f2.trained, f2.evals)
	}
	for path, mt := range keep {
		if got := mtime(t, path); !got.Equal(mt) {
			t.Errorf("%s was rewritten by the rerun (%v → %v)", path, mt, got)
		}
	}
	for i, r := range results {
		if r == nil || r.Seed != p.Runs[i].Seed || r.Cell.Name() != p.Runs[i].Cell.Name() {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	// run 2's best validation MAE is the one its checkpoint holds (4.1)
	if v := results[2].BestValMAE; v == nil || *v != 4.1 {
		t.Fatalf("run 2 best val MAE %v", v)
	}
	if got := states(inspectAll(t, p)); !slices.Equal(got, []State{Finished, Finished, Finished, Finished}) {
		t.Fatalf("states at the end %v", got)
	}

	s := Summarize(p, results)
	if len(s.Rows) != 2 {
		t.Fatalf("%d rows", len(s.Rows))
	}
	// λ = 1: test MAE 5.6, 5.7; against λ = 0 (5.1, 5.2): differences 0.5, 0.5
	r := s.Rows[1]
	if m := r.Metrics[0]; math.Abs(*m.Mean-5.65) > 1e-12 || math.Abs(*m.Std-math.Sqrt(0.005)) > 1e-12 {
		t.Fatalf("λ=1 mae %v ± %v", *m.Mean, *m.Std)
	}
	if r.Pairs != 2 || math.Abs(*r.DiffMean-0.5) > 1e-12 {
		t.Fatalf("λ=1 against λ=0: %d pairs, diff %v", r.Pairs, *r.DiffMean)
	}
	// 5.6−5.1 and 5.7−5.2 are 0.5 up to rounding: p is 0 or tiny, never undefined
	if r.DiffP == nil || *r.DiffP > 1e-6 {
		t.Fatalf("p = %v", r.DiffP)
	}
	if b := s.Rows[0]; *b.DiffMean != 0 || b.DiffP != nil {
		t.Fatalf("the baseline against itself: diff %v, p %v; want 0 and undefined", *b.DiffMean, b.DiffP)
	}
	// the validation column: 4.1 (run 2's checkpoint) and 4.2 (trained by the fake)
	if v := r.ValMAE; math.Abs(*v.Mean-4.15) > 1e-12 {
		t.Fatalf("λ=1 val MAE %v", *v.Mean)
	}
}

func TestInspectRefuses(t *testing.T) {
	out := t.TempDir()
	spec := Spec{Out: out, Grid: []string{"loss.lambda=0,1"}, Seeds: []int64{1}, Sets: []string{"train.epochs=2"}, Load: loadDefault}
	p, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	r := p.Runs[0]
	writeCheckpoint(t, r, r.Config, 2, 0, 4)

	// the same folder under other flags
	spec.Sets = []string{"train.epochs=3", "optim.lr=0.01"}
	other, err := NewPlan(spec)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Inspect(other.Runs[0])
	if err == nil || !strings.Contains(err.Error(), "run loss.lambda=0/seed1 was trained with another configuration than this command gives (optim.lr: 0.001 in the run, 0.01 now; train.epochs: 2 in the run, 3 now)") {
		t.Fatalf("another configuration: %v", err)
	}

	// a result.json of another run
	res := &Result{Cell: p.Runs[1].Cell, Seed: 1}
	if err := writeResult(filepath.Join(r.Dir, ResultFile), res); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(r); err == nil || !strings.Contains(err.Error(), "is the result of loss.lambda=1 seed 1") {
		t.Fatalf("foreign result.json: %v", err)
	}
	os.WriteFile(filepath.Join(r.Dir, ResultFile), []byte("{"), 0o644)
	if _, err := Inspect(r); err == nil || !strings.Contains(err.Error(), ResultFile) {
		t.Fatalf("torn result.json: %v", err)
	}

	// a damaged checkpoint
	os.WriteFile(filepath.Join(r.Dir, train.LastFile), []byte("not a checkpoint"), 0o644)
	if _, err := Inspect(r); err == nil || !strings.Contains(err.Error(), filepath.Join(r.Dir, train.LastFile)) || !strings.Contains(err.Error(), "delete the folder") {
		t.Fatalf("damaged checkpoint: %v", err)
	}
}

func TestExecuteChecksTraining(t *testing.T) {
	p, err := NewPlan(Spec{Out: t.TempDir(), Grid: []string{"loss.lambda=0"}, Seeds: []int64{1}, Sets: []string{"train.epochs=3"}, Load: loadDefault})
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{t: t, stopAt: 2}
	_, err = Execute(context.Background(), p, inspectAll(t, p), f.hooks())
	if err == nil || !strings.Contains(err.Error(), "run loss.lambda=0/seed1: training returned at epoch 2 of 3") {
		t.Fatalf("short training: %v", err)
	}
	if len(f.evals) != 0 {
		t.Fatalf("evaluated an unfinished run")
	}
	// an error from training stops the experiment, wrapped with the run
	h := f.hooks()
	stop := errors.New("interrupted; state saved")
	h.Train = func(Run, bool) error { return stop }
	if _, err := Execute(context.Background(), p, inspectAll(t, p), h); !errors.Is(err, stop) || !strings.Contains(err.Error(), "run loss.lambda=0/seed1: ") {
		t.Fatalf("training error: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.Runs[0].Dir, ResultFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("result.json after a failed run: %v", err)
	}
}

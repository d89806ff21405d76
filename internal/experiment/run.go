package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/train"
	"go.yaml.in/yaml/v3"
)

// Files the experiment writes into a run folder, beside train's.
const (
	ResultFile = "result.json" // the run's outcome, written last: its presence marks a finished run
	TestDir    = "test"        // gaitord eval's report of best.ckpt on the test split
)

// State is where a run stands.
type State int

const (
	Fresh       State = iota // no checkpoint: train from the start
	Interrupted              // last.ckpt before the final epoch's end: resume it
	Trained                  // every epoch done, not yet evaluated
	Finished                 // evaluated: result.json holds the outcome; skipped
)

func (s State) String() string {
	return [...]string{"fresh", "interrupted", "trained", "finished"}[s]
}

// Status is a run's state as its folder tells it.
type Status struct {
	State   State
	Epoch   int     // completed epochs (last.ckpt)
	Batches int     // batches of the next epoch already trained
	Steps   int64   // optimiser steps
	BestMAE float64 // best validation MAE (+Inf without a validation split)
	Result  *Result // Finished: the run's result.json
}

// Result is a run's result.json: its figures on the test split (gaitord
// eval of best.ckpt, the checkpoint of the best validation MAE; the final
// one without a validation split), and what training reported.
type Result struct {
	Cell       Cell            `json:"cell"`
	Seed       int64           `json:"seed"`
	Epochs     int             `json:"epochs"`
	Steps      int64           `json:"steps"`
	BestValMAE *float64        `json:"best_val_mae"` // null without a validation split
	Test       metrics.Summary `json:"test"`
}

// Inspect reads r's folder: no last.ckpt is Fresh; a last.ckpt before the
// end of r.Epochs epochs is Interrupted; at the end, Finished if
// result.json is there (and names this cell and seed), else Trained. A
// checkpoint trained under another configuration than r's is an error
// naming the keys that differ: finishing or reusing it would mix two
// experiments in one table.
func Inspect(r Run) (Status, error) {
	last := filepath.Join(r.Dir, train.LastFile)
	if _, err := os.Stat(last); errors.Is(err, os.ErrNotExist) {
		return Status{State: Fresh}, nil
	}
	ck, err := checkpoint.Load(last)
	if err != nil {
		return Status{}, fmt.Errorf("run %s: %w (delete the folder %s to train it again)", r.Name(), err, r.Dir)
	}
	if ck.Config != r.Config {
		return Status{}, fmt.Errorf("run %s was trained with another configuration than this command gives (%s): rerun with the flags it was started with, or choose another --out",
			r.Name(), configDiff(ck.Config, r.Config))
	}
	st := Status{Epoch: ck.Epoch, Batches: ck.BatchesDone, Steps: ck.Step, BestMAE: ck.BestMAE}
	if ck.Epoch < r.Epochs || ck.BatchesDone > 0 {
		st.State = Interrupted
		return st, nil
	}
	st.State = Trained
	res, err := ReadResult(filepath.Join(r.Dir, ResultFile))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return Status{}, fmt.Errorf("run %s: %w (delete it to evaluate the run again)", r.Name(), err)
	}
	if res.Seed != r.Seed || res.Cell.Name() != r.Cell.Name() {
		return Status{}, fmt.Errorf("run %s: %s is the result of %s seed %d", r.Name(), filepath.Join(r.Dir, ResultFile), res.Cell.Name(), res.Seed)
	}
	st.State, st.Result = Finished, res
	return st, nil
}

// configDiff names the keys whose values differ between two resolved
// configurations (at most three), "train.epochs: 3 in the run, 5 now".
func configDiff(run, now string) string {
	a, b := flatten(run), flatten(now)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if !reflect.DeepEqual(a[k], b[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: %v in the run, %v now", k, show(a[k]), show(b[k])))
		}
	}
	sort.Strings(diffs)
	if len(diffs) == 0 {
		return "the stored configuration differs in form"
	}
	if len(diffs) > 3 {
		diffs = append(diffs[:3], fmt.Sprintf("and %d more", len(diffs)-3))
	}
	return strings.Join(diffs, "; ")
}

func show(v any) string {
	if v == nil {
		return "(absent)"
	}
	return fmt.Sprint(v)
}

// flatten reads a YAML mapping into dotted keys (nil for unreadable YAML).
func flatten(doc string) map[string]any {
	var m map[string]any
	if yaml.Unmarshal([]byte(doc), &m) != nil {
		return nil
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", m)
	return out
}

// ReadResult reads a run's result.json.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// writeResult writes result.json atomically.
func writeResult(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := atomicfile.WriteBytes(path, append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ErrInterrupted is Execute's error when its context ends between runs.
var ErrInterrupted = errors.New("experiment interrupted")

// Hooks are what Execute does with a run; the command line gives gaitord
// train and eval, tests give stand-ins.
type Hooks struct {
	// Train trains r in r.Dir with r.Sets, continuing its last.ckpt when
	// resume is set; it returns when every epoch is done.
	Train func(r Run, resume bool) error
	// Evaluate evaluates r.Dir's best.ckpt on the test split.
	Evaluate func(r Run) (metrics.Summary, error)
	// Start, if set, is called before run i (of len(Plan.Runs)) is trained
	// or skipped, with its state; Done after it is finished.
	Start func(i int, r Run, st Status)
	Done  func(i int, r Run, st Status, res *Result)
}

// Execute brings every run of p to Finished, one after another in plan
// order; states are Inspect's, one per run. A finished run is skipped (its
// files are not touched), an interrupted one resumed, a fresh one trained,
// and each trained one evaluated and its result.json written. It returns
// one result per run. A hook's error (a run interrupted by Ctrl-C
// included) stops it, wrapped with the run's name; so does ctx ending
// between runs (ErrInterrupted).
func Execute(ctx context.Context, p *Plan, states []Status, h Hooks) ([]*Result, error) {
	if len(states) != len(p.Runs) {
		return nil, fmt.Errorf("experiment: %d states for %d runs", len(states), len(p.Runs))
	}
	results := make([]*Result, len(p.Runs))
	for i, r := range p.Runs {
		if ctx.Err() != nil {
			return results, ErrInterrupted
		}
		st := states[i]
		if h.Start != nil {
			h.Start(i, r, st)
		}
		if st.State != Finished {
			res, err := finish(r, st, h)
			if err != nil {
				return results, fmt.Errorf("run %s: %w", r.Name(), err)
			}
			st.Result = res
		}
		results[i] = st.Result
		if h.Done != nil {
			h.Done(i, r, st, st.Result)
		}
	}
	return results, nil
}

// finish trains (Fresh, Interrupted) and evaluates one run.
func finish(r Run, st Status, h Hooks) (*Result, error) {
	resultPath := filepath.Join(r.Dir, ResultFile)
	if err := os.Remove(resultPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale %s: %w", resultPath, err)
	}
	if st.State == Fresh || st.State == Interrupted {
		if err := h.Train(r, st.State == Interrupted); err != nil {
			return nil, err
		}
		var err error
		if st, err = Inspect(r); err != nil {
			return nil, err
		}
		if st.State != Trained {
			return nil, fmt.Errorf("training returned at epoch %d of %d (%d batches into the next)", st.Epoch, r.Epochs, st.Batches)
		}
	}
	sum, err := h.Evaluate(r)
	if err != nil {
		return nil, err
	}
	res := &Result{Cell: r.Cell, Seed: r.Seed, Epochs: st.Epoch, Steps: st.Steps, Test: sum}
	if !math.IsInf(st.BestMAE, 0) && !math.IsNaN(st.BestMAE) {
		res.BestValMAE = &st.BestMAE
	}
	if err := writeResult(resultPath, res); err != nil {
		return nil, err
	}
	return res, nil
}

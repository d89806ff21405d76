package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/experiment"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/train"
)

func TestExperimentFlags(t *testing.T) {
	o := execute(t, newExperimentCmd, "--out", "exp", "--grid", "loss.lambda=0,1", "--grid", "optim.lr=1e-3,1e-4",
		"--seeds", "3,1", "--baseline", "loss.lambda=0", "--epochs", "4", "--data", "m.csv", "--set", "data.flip=false")
	if o.Out != "exp" || o.Config != defaultConfig || !slices.Equal(o.Grid, []string{"loss.lambda=0,1", "optim.lr=1e-3,1e-4"}) ||
		!slices.Equal(o.Seeds, []int64{3, 1}) || o.Baseline != "loss.lambda=0" {
		t.Fatalf("options %+v", o)
	}
	// train's key flags, the same way as train's
	if want := []string{"data.format=manifest", "data.root=m.csv", "train.epochs=4", "data.flip=false"}; !slices.Equal(o.Sets, want) {
		t.Fatalf("sets %q, want %q", o.Sets, want)
	}
	if o := execute(t, newExperimentCmd, "--out", "exp", "--grid", "loss.lambda=0,1"); len(o.Seeds) != 0 {
		t.Fatalf("seeds without --seeds: %v", o.Seeds)
	}
}

func TestExperimentBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "exp")
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--grid", "loss.lambda=0,1"}, 2, `required flag(s) "out" not set`},
		{[]string{"--out", out}, 2, "--grid missing"},
		{[]string{"--out", out, "--grid", "loss.lamda=0,1"}, 2, `--grid "loss.lamda=0,1": unknown key "loss.lamda"`},
		{[]string{"--out", out, "--grid", "loss.lambda=0,-1"}, 1, `cell loss.lambda=-1: config ../../configs/default.yaml: key "loss.lambda" (from --set loss.lambda=-1)`},
		{[]string{"--out", out, "--grid", "loss.lambda=0,1", "--baseline", "loss.lambda=2"}, 2, "--baseline \"loss.lambda=2\": not a cell of the grid: loss.lambda takes 0, 1"},
		{[]string{"--out", out, "--grid", "loss.lambda=0,1", "--seeds", "1,2,1"}, 2, "--seeds seed 1 given twice"},
		{[]string{"--out", out, "--grid", "loss.lambda=0,1", "--seeds", "1,x"}, 2, `invalid argument "1,x" for "--seeds"`},
		{[]string{"--out", out, "--grid", "train.epochs=1,2", "--epochs", "3"}, 2, `key "train.epochs" is also overridden by "train.epochs=3"`},
	} {
		args := append([]string{"experiment", "--config", "../../configs/default.yaml"}, c.args...)
		code, stdout, stderr := runMain(args...)
		first := strings.SplitN(stderr, "\n", 2)[0]
		if code != c.code || !strings.HasPrefix(first, "gaitord: ") || !strings.Contains(first, c.err) || stdout != "" {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%q: %s was created before the error", c.args, out)
		}
	}
	t.Setenv("WORLD_SIZE", "2")
	t.Setenv("RANK", "0")
	t.Setenv("MASTER_ADDR", "127.0.0.1")
	t.Setenv("MASTER_PORT", "1")
	if code, _, stderr := runMain("experiment", "--out", out, "--grid", "loss.lambda=0,1"); code != 1 || !strings.Contains(stderr, "does not join a data-parallel job") {
		t.Errorf("under a launcher: exit %d, %q", code, stderr)
	}
}

// readCSV reads summary.csv into maps by column.
func readCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, c := range recs[0] {
			row[c] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

func modTime(t *testing.T, path string) time.Time {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

// TestExperimentRuns trains a 2-cell grid on the tiny manifest in process,
// then adds a seed: the first seed's runs are left as they were, and the
// table's figures are those gaitord eval gives for each run's best.ckpt.
func TestExperimentRuns(t *testing.T) {
	runtime.LockOSThread() // libtorch from one OS thread, as gaitord's main goroutine
	defer runtime.UnlockOSThread()
	csvPath := writeManifest(t)
	out := filepath.Join(t.TempDir(), "exp")
	opts := func(seeds ...int64) *ExperimentOptions {
		return &ExperimentOptions{Config: "../../configs/default.yaml", Out: out, Grid: []string{"loss.lambda=0,1"}, Seeds: seeds,
			Baseline: "loss.lambda=0",
			Sets: []string{"data.format=manifest", "data.root=" + csvPath, "train.epochs=1", "train.batch_size=2",
				"train.val_fraction=0.25", "train.threads=1", "data.workers=1", "data.flip=false"}}
	}
	run := func(o *ExperimentOptions) (string, string, error) {
		var so, se bytes.Buffer
		err := RunExperiment(Streams{In: strings.NewReader(""), Out: &so, Err: &se}, &Global{}, o)
		return so.String(), se.String(), err
	}
	stdout, stderr, err := run(opts(1))
	if err != nil {
		t.Fatalf("experiment: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"experiment: 2 cells × 1 seed = 2 runs in " + out + " (0 finished, 0 to resume, 0 to evaluate, 2 to train)\n",
		"[1/2] loss.lambda=0/seed1: training…\n", "[2/2] loss.lambda=1/seed1: trained 1 epoch, best val MAE ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "| loss.lambda | n_seeds | mae_mean |") || !strings.HasSuffix(stdout, "wrote summary.csv, summary.md, summary.json and mae.png in "+out+"\n") {
		t.Errorf("stdout:\n%s", stdout)
	}
	seed1 := map[string]time.Time{}
	for _, cell := range []string{"loss.lambda=0", "loss.lambda=1"} {
		for _, f := range []string{train.LastFile, train.BestFile, experiment.ResultFile} {
			p := filepath.Join(out, cell, "seed1", f)
			seed1[p] = modTime(t, p)
		}
	}

	// Add a seed: only the new runs train.
	_, stderr, err = run(opts(1, 2))
	if err != nil {
		t.Fatalf("experiment with seed 2: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "(2 finished, 0 to resume, 0 to evaluate, 2 to train)") ||
		!strings.Contains(stderr, "[1/4] loss.lambda=0/seed1: finished earlier") || strings.Contains(stderr, "seed1: training") {
		t.Errorf("rerun stderr:\n%s", stderr)
	}
	for p, mt := range seed1 {
		if got := modTime(t, p); !got.Equal(mt) {
			t.Errorf("%s rewritten by the rerun", p)
		}
	}

	// Each run's figure is gaitord eval's of its best.ckpt on the test split.
	maes := map[string][]float64{}
	for _, cell := range []string{"loss.lambda=0", "loss.lambda=1"} {
		for _, seed := range []string{"seed1", "seed2"} {
			var so, se bytes.Buffer
			ck := filepath.Join(out, cell, seed, train.BestFile)
			if err := RunEval(Streams{Out: &so, Err: &se}, &Global{Quiet: true}, &EvalOptions{Checkpoint: ck, Split: "test", JSON: true, Device: "cpu", Threads: 1}); err != nil {
				t.Fatalf("eval %s: %v\n%s", ck, err, se.String())
			}
			var sum metrics.Summary
			if err := json.Unmarshal(so.Bytes(), &sum); err != nil || sum.N != 3 {
				t.Fatalf("eval %s: %v, n %d", ck, err, sum.N)
			}
			maes[cell] = append(maes[cell], sum.MAE)
			res, err := experiment.ReadResult(filepath.Join(out, cell, seed, experiment.ResultFile))
			if err != nil || res.Test.MAE != sum.MAE || res.Epochs != 1 || res.BestValMAE == nil {
				t.Fatalf("%s/%s result.json %+v (%v); eval MAE %v", cell, seed, res, err, sum.MAE)
			}
		}
	}
	rows := readCSV(t, filepath.Join(out, experiment.SummaryCSV))
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for i, cell := range []string{"loss.lambda=0", "loss.lambda=1"} {
		r := rows[i]
		m := maes[cell]
		mean := (m[0] + m[1]) / 2
		if r["loss.lambda"] != strconv.Itoa(i) || r["n_seeds"] != "2" {
			t.Fatalf("row %d: %v", i, r)
		}
		got, _ := strconv.ParseFloat(r["mae_mean"], 64)
		if diff := got - mean; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%s: mae_mean %s, eval's mean %v", cell, r["mae_mean"], mean)
		}
		d, _ := strconv.ParseFloat(r["mae_diff_mean"], 64)
		want := mean - (maes["loss.lambda=0"][0]+maes["loss.lambda=0"][1])/2
		if diff := d - want; diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%s: mae_diff_mean %v, want %v", cell, d, want)
		}
	}
	if rows[0]["mae_diff_p"] != "" || rows[1]["mae_diff_p"] == "" {
		t.Errorf("p-values: baseline %q, λ=1 %q", rows[0]["mae_diff_p"], rows[1]["mae_diff_p"])
	}

	// Other flags on the same folder: refused before anything runs.
	o := opts(1, 2)
	o.Sets = append(o.Sets, "optim.lr=0.01")
	_, _, err = run(o)
	if err == nil || !strings.Contains(err.Error(), "run loss.lambda=0/seed1 was trained with another configuration than this command gives (optim.lr: 0.001 in the run, 0.01 now)") {
		t.Fatalf("changed flags: %v", err)
	}
	for p, mt := range seed1 {
		if got := modTime(t, p); !got.Equal(mt) {
			t.Errorf("%s touched by a refused command", p)
		}
	}
}

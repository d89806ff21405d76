package e2e

import (
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/experiment"
	"github.com/gaitord/gaitord/internal/train"
)

// TestExperimentCtrlCThenRerun runs a 2-cell × 2-seed experiment (4 epochs
// on a tiny dataset of its own), stops it with Ctrl-C in the second run,
// and runs the same command again: the first run is skipped untouched, the
// second resumes, the last two train, and the summary's figures are the
// runs' own.
func TestExperimentCtrlCThenRerun(t *testing.T) {
	data := filepath.Join(t.TempDir(), "synth")
	mustRun(t, "synth", "--out", data, "--subjects", "40", "--views", "90", "--seed", "5")
	out := filepath.Join(t.TempDir(), "exp")
	args := []string{"experiment", "--config", "../../configs/default.yaml", "--data", data, "--format", "synthetic", "--out", out,
		"--grid", "loss.lambda=0,1", "--seeds", "1,2", "--baseline", "loss.lambda=0", "--epochs", "4", "--batch-size", "8",
		"--set", "schedule.type=none", "--set", "train.val_fraction=0.2"}
	run1 := filepath.Join(out, "loss.lambda=0", "seed1")
	run2 := filepath.Join(out, "loss.lambda=0", "seed2")

	cmd, stderr, done := startTrain(t, args, false)
	// Ctrl-C once run 2 has logged its first epoch: it stops in a later one.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if rows, _ := train.ReadMetrics(filepath.Join(run2, train.MetricsFile)); len(rows) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("experiment ended before run 2 logged an epoch: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("run 2 logged no epoch in time")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	err := <-done
	ee, ok := err.(*exec.ExitError)
	wantMsg := "gaitord: interrupted; the run's state is saved to " + filepath.Join(run2, train.LastFile) + ": run the same command again to continue the experiment"
	if !ok || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), wantMsg) {
		t.Fatalf("after Ctrl-C: %v, stderr:\n%s", err, stderr.String())
	}
	st, err := checkpoint.Load(filepath.Join(run2, train.LastFile))
	if err != nil || st.Epoch < 1 || st.Epoch >= 4 {
		t.Fatalf("run 2 after Ctrl-C: %v; want an epoch in 1…3 saved", err)
	}
	if _, err := os.Stat(filepath.Join(run2, experiment.ResultFile)); err == nil {
		t.Fatalf("run 2 has a result.json after being interrupted")
	}
	if _, err := os.Stat(filepath.Join(out, "loss.lambda=1")); err == nil {
		t.Fatalf("cell loss.lambda=1 started before run 2 finished")
	}
	kept := map[string]time.Time{}
	for _, f := range []string{train.LastFile, train.BestFile, experiment.ResultFile, filepath.Join(experiment.TestDir, "summary.json")} {
		fi, err := os.Stat(filepath.Join(run1, f))
		if err != nil {
			t.Fatalf("run 1 after Ctrl-C: %v", err)
		}
		kept[fi.Name()] = fi.ModTime()
	}

	r := mustRun(t, args...)
	for _, want := range []string{
		"(1 finished, 1 to resume, 0 to evaluate, 2 to train)",
		"[1/4] loss.lambda=0/seed1: finished earlier",
		"[2/4] loss.lambda=0/seed2: resuming at epoch " + strconv.Itoa(st.Epoch+1) + " of 4",
		"[4/4] loss.lambda=1/seed2: trained 4 epochs",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("rerun stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	for _, f := range []string{train.LastFile, train.BestFile, experiment.ResultFile, filepath.Join(experiment.TestDir, "summary.json")} {
		fi, err := os.Stat(filepath.Join(run1, f))
		if err != nil || !fi.ModTime().Equal(kept[fi.Name()]) {
			t.Errorf("run 1's %s was rewritten by the rerun (%v)", f, err)
		}
	}
	rows, err := train.ReadMetrics(filepath.Join(run2, train.MetricsFile))
	if err != nil || len(rows) != 4 || rows[0].Epoch != 1 || rows[3].Epoch != 4 {
		t.Fatalf("run 2's metrics after resuming: %+v, %v", rows, err)
	}

	// The table: each cell's mean and sample std of its runs' test MAE (the
	// eval report in each run's test/), and the paired difference.
	mae := func(cell, seed string) float64 {
		b, err := os.ReadFile(filepath.Join(out, cell, seed, experiment.TestDir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			N   int     `json:"n"`
			MAE float64 `json:"mae"`
		}
		if err := json.Unmarshal(b, &s); err != nil || s.N == 0 {
			t.Fatalf("%s/%s test summary: %v, n %d", cell, seed, err, s.N)
		}
		return s.MAE
	}
	f, err := os.Open(filepath.Join(out, experiment.SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 3 {
		t.Fatalf("summary.csv: %v, %d lines", err, len(recs))
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	num := func(rec []string, c string) float64 {
		v, err := strconv.ParseFloat(rec[col[c]], 64)
		if err != nil {
			t.Fatalf("%s = %q", c, rec[col[c]])
		}
		return v
	}
	base := [2]float64{mae("loss.lambda=0", "seed1"), mae("loss.lambda=0", "seed2")}
	for i, cell := range []string{"loss.lambda=0", "loss.lambda=1"} {
		rec := recs[i+1]
		a := [2]float64{mae(cell, "seed1"), mae(cell, "seed2")}
		mean := (a[0] + a[1]) / 2
		std := math.Abs(a[0]-a[1]) / math.Sqrt2 // the sample std of two values
		if rec[col["loss.lambda"]] != strconv.Itoa(i) || rec[col["n_seeds"]] != "2" ||
			math.Abs(num(rec, "mae_mean")-mean) > 1e-12 || math.Abs(num(rec, "mae_std")-std) > 1e-12 {
			t.Errorf("%s: %q; want mae %v ± %v", cell, rec, mean, std)
		}
		diff := mean - (base[0]+base[1])/2
		if math.Abs(num(rec, "mae_diff_mean")-diff) > 1e-12 {
			t.Errorf("%s: mae_diff_mean %s, want %v", cell, rec[col["mae_diff_mean"]], diff)
		}
	}
	var js struct {
		Rows []map[string]any `json:"rows"`
	}
	if b, err := os.ReadFile(filepath.Join(out, experiment.SummaryJSON)); err != nil || json.Unmarshal(b, &js) != nil || len(js.Rows) != 2 {
		t.Fatalf("summary.json: %v, %+v", err, js)
	}
	if md, err := os.ReadFile(filepath.Join(out, experiment.SummaryMD)); err != nil || !strings.Contains(r.Stdout, string(md)) {
		t.Errorf("stdout is not summary.md (%v):\n%s", err, r.Stdout)
	}
	pf, err := os.Open(filepath.Join(out, experiment.MAEChart))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	if _, err := png.DecodeConfig(pf); err != nil {
		t.Fatalf("mae.png: %v", err)
	}

	// The same command once more: nothing to do, nothing touched.
	r = mustRun(t, args...)
	if !strings.Contains(r.Stderr, "(4 finished, 0 to resume, 0 to evaluate, 0 to train)") {
		t.Errorf("third run:\n%s", r.Stderr)
	}
}

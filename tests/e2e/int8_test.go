package e2e

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// eval --precision int8 on the shared 8-epoch model: the test MAE moves by at
// most 0.1 years from fp32's (issue 16's bar), and each GEI's age by at most
// 3 years, 0.5 on average (measured on the demo's model: 0.22 mean, 1.13
// max over 1,600 GEIs).
func TestEvalInt8(t *testing.T) {
	runDir, _ := trainedRun(t)
	best := filepath.Join(runDir, "best.ckpt")
	evalRun := func(name string, extra ...string) (mae float64, ages map[string]float64) {
		dir := filepath.Join(t.TempDir(), name)
		r := mustRun(t, append([]string{"eval", "--checkpoint", best, "--json", "--report", dir}, extra...)...)
		var sum struct {
			N   int     `json:"n"`
			MAE float64 `json:"mae"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &sum); err != nil || sum.N == 0 {
			t.Fatalf("eval %v: %v\n%s", extra, err, r.Stdout)
		}
		f, err := os.Open(filepath.Join(dir, "predictions.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		ages = map[string]float64{}
		for _, row := range rows[1:] {
			if ages[row[0]], err = strconv.ParseFloat(row[3], 64); err != nil {
				t.Fatalf("predictions.csv row %v: %v", row, err)
			}
		}
		if len(ages) != sum.N {
			t.Fatalf("%d predictions for %d GEIs", len(ages), sum.N)
		}
		return sum.MAE, ages
	}
	fpMAE, fpAges := evalRun("fp32")
	qMAE, qAges := evalRun("int8", "--precision", "int8")
	var sum, worst float64
	for p, a := range fpAges {
		q, ok := qAges[p]
		if !ok {
			t.Fatalf("int8 has no prediction for %s", p)
		}
		d := math.Abs(a - q)
		sum, worst = sum+d, max(worst, d)
	}
	mean := sum / float64(len(fpAges))
	t.Logf("test MAE fp32 %.4f, int8 %.4f (%+.4f); per-GEI age change %.4f mean, %.4f max", fpMAE, qMAE, qMAE-fpMAE, mean, worst)
	if math.Abs(qMAE-fpMAE) > 0.1 || mean > 0.5 || worst > 3 || sum == 0 {
		t.Fatalf("int8: MAE %.4f vs fp32 %.4f (bound 0.1), age change %.4f mean (bound 0.5), %.4f max (bound 3)", qMAE, fpMAE, mean, worst)
	}

	// predict --precision int8 calibrates the same way on the same training
	// split (the checkpoint's stored data): the same age as eval's for a GEI.
	var path string
	for p := range qAges {
		path = max(path, p)
	}
	r := mustRun(t, "predict", "--checkpoint", best, "--precision", "int8", "--json", path)
	var pred struct {
		Age float64 `json:"age"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &pred); err != nil {
		t.Fatalf("predict --json: %v\n%s", err, r.Stdout)
	}
	if math.Abs(pred.Age-qAges[path]) > 1e-3 || math.Abs(pred.Age-fpAges[path]) == 0 {
		t.Fatalf("%s: predict --precision int8 %.5f, eval int8 %.5f, fp32 %.5f", path, pred.Age, qAges[path], fpAges[path])
	}

	// an export stores no configuration: no training data to calibrate on
	export := filepath.Join(t.TempDir(), "w.safetensors")
	mustRun(t, "export", "--checkpoint", best, "--format", "safetensors", "--out", export)
	r = run(t, "predict", "--checkpoint", export, "--precision", "int8", path)
	if r.Code != 1 || !strings.Contains(r.Stderr, "stores no configuration") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Fatalf("predict --precision int8 on an export: exit %d, stderr %q", r.Code, r.Stderr)
	}

	// bad precisions: the usage error's line, exit status 2, for eval and predict
	for _, cmd := range []string{"eval", "predict"} {
		for _, args := range [][]string{{"--precision", "int4"}, {"--precision", "int8", "--device", "cuda"}} {
			r := run(t, append([]string{cmd, "--checkpoint", best}, append(args, best)...)...)
			if cmd == "eval" {
				r = run(t, append([]string{cmd, "--checkpoint", best}, args...)...)
			}
			first, _, _ := strings.Cut(r.Stderr, "\n")
			if r.Code != 2 || !strings.HasPrefix(first, "gaitord: --precision") {
				t.Fatalf("%s %v: exit %d, stderr %q", cmd, args, r.Code, r.Stderr)
			}
		}
	}
}

package experiment

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/metrics"
)

// summaryFixture is a 2×2 grid over seeds 1, 2, 3 whose test figures come
// from statCases (cell "odl" takes case 4's a, "ranking" its b) with one run
// missing (ranking, lr 1e-4, seed 3) and no known gender in one cell.
func summaryFixture(t *testing.T) (*Plan, []*Result, map[string][]float64) {
	t.Helper()
	p, err := NewPlan(Spec{Out: t.TempDir(), Grid: []string{"loss.lambda=1,0", "optim.lr=1e-3,1e-4"}, Seeds: []int64{1, 2, 3},
		Baseline: "loss.lambda=0", Load: loadDefault})
	if err != nil {
		t.Fatal(err)
	}
	maes := map[string][]float64{
		"loss.lambda=1,optim.lr=1e-3": {7.31, 7.02, 6.95},
		"loss.lambda=1,optim.lr=1e-4": {6.12, 5.87, 6.55},
		"loss.lambda=0,optim.lr=1e-3": {7.90, 7.51, 7.33},
		"loss.lambda=0,optim.lr=1e-4": {6.40, 6.02}, // seed 3 missing
	}
	results := make([]*Result, len(p.Runs))
	for i, r := range p.Runs {
		m := maes[r.Cell.Name()]
		k := int(r.Seed) - 1
		if k >= len(m) {
			continue
		}
		cov := 0.7 + 0.05*float64(k)
		sum := metrics.Summary{N: 50, MAE: m[k], CS: []float64{0, 0, 0, 0, 0.4 + 0.01*float64(k)}, Coverage80: &cov}
		if r.Cell.Value("loss.lambda") == "1" {
			acc, ri := 0.8+0.1*float64(k), 0.02*float64(k)
			sum.GenderAccuracy, sum.RankInconsistency = &acc, &ri
		}
		val := m[k] - 1
		results[i] = &Result{Cell: r.Cell, Seed: r.Seed, Test: sum, BestValMAE: &val}
	}
	return p, results, maes
}

func TestSummaryFiles(t *testing.T) {
	p, results, maes := summaryFixture(t)
	s := Summarize(p, results)
	dir := t.TempDir()
	if err := s.Write(dir); err != nil {
		t.Fatal(err)
	}
	wantCols := []string{"loss.lambda", "optim.lr", "n_seeds", "mae_mean", "mae_std", "cs5_mean", "cs5_std", "gender_acc_mean", "gender_acc_std",
		"coverage80_mean", "coverage80_std", "rank_inconsistency_mean", "rank_inconsistency_std", "mae_diff_mean", "mae_diff_p", "val_mae_mean", "val_mae_std"}

	// summary.csv, read back
	f, err := os.Open(filepath.Join(dir, SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], wantCols) || len(recs) != 5 {
		t.Fatalf("summary.csv header %q, %d lines", recs[0], len(recs))
	}
	col := func(rec []string, name string) string { return rec[slices.Index(wantCols, name)] }
	num := func(rec []string, name string) float64 {
		v, err := strconv.ParseFloat(col(rec, name), 64)
		if err != nil {
			t.Fatalf("%s = %q: %v", name, col(rec, name), err)
		}
		return v
	}
	for i, rec := range recs[1:] {
		cell := "loss.lambda=" + rec[0] + ",optim.lr=" + rec[1]
		if cell != p.Cells[i].Name() {
			t.Fatalf("row %d is %s, want %s (plan order)", i, cell, p.Cells[i].Name())
		}
		m := maes[cell]
		mean, std := MeanStd(m)
		if col(rec, "n_seeds") != strconv.Itoa(len(m)) || num(rec, "mae_mean") != mean || num(rec, "mae_std") != std {
			t.Errorf("%s: n %s mae %s ± %s; want %d, %v ± %v", cell, col(rec, "n_seeds"), col(rec, "mae_mean"), col(rec, "mae_std"), len(m), mean, std)
		}
		if vm, _ := MeanStd(slices.Clone(m)); math.Abs(num(rec, "val_mae_mean")-(vm-1)) > 1e-12 {
			t.Errorf("%s: val_mae_mean %s", cell, col(rec, "val_mae_mean"))
		}
		// cs5 and coverage depend on the seed index only
		cs, _ := MeanStd([]float64{0.4, 0.41, 0.42}[:len(m)])
		cov, _ := MeanStd([]float64{0.7, 0.75, 0.8}[:len(m)])
		if math.Abs(num(rec, "cs5_mean")-cs) > 1e-15 || math.Abs(num(rec, "coverage80_mean")-cov) > 1e-15 {
			t.Errorf("%s: cs5 %s coverage %s", cell, col(rec, "cs5_mean"), col(rec, "coverage80_mean"))
		}
		// no known gender, no ordinal pairs: empty, not 0
		if rec[0] == "0" && (col(rec, "gender_acc_mean") != "" || col(rec, "rank_inconsistency_std") != "") {
			t.Errorf("%s: gender %q, rank %q; want empty", cell, col(rec, "gender_acc_mean"), col(rec, "rank_inconsistency_std"))
		}
		if rec[0] == "1" && math.Abs(num(rec, "gender_acc_mean")-0.9) > 1e-12 {
			t.Errorf("%s: gender accuracy %s", cell, col(rec, "gender_acc_mean"))
		}
		// against λ = 0 at the same lr, over the seeds both have
		refM := maes["loss.lambda=0,optim.lr="+rec[1]]
		var d []float64
		for k := range min(len(m), len(refM)) {
			d = append(d, m[k]-refM[k])
		}
		dm, _, pv := PairedT(d)
		if num(rec, "mae_diff_mean") != dm {
			t.Errorf("%s: mae_diff_mean %s, want %v", cell, col(rec, "mae_diff_mean"), dm)
		}
		if rec[0] == "0" {
			if col(rec, "mae_diff_p") != "" || dm != 0 {
				t.Errorf("%s, the reference: diff %v p %q", cell, dm, col(rec, "mae_diff_p"))
			}
		} else if num(rec, "mae_diff_p") != pv {
			t.Errorf("%s: p %s, want %v", cell, col(rec, "mae_diff_p"), pv)
		}
	}
	// λ=1 at lr 1e-4 against λ=0 at lr 1e-4 pairs seeds 1 and 2 only: with
	// two pairs the p-value is Cauchy's, 1 − (2/π)·atan|t|
	d := []float64{6.12 - 6.40, 5.87 - 6.02}
	dm, sd := MeanStd(d)
	wantP := 1 - 2/math.Pi*math.Atan(math.Abs(dm/(sd/math.Sqrt2)))
	if got := num(recs[2], "mae_diff_p"); math.Abs(got-wantP) > 1e-12 {
		t.Errorf("λ=1, lr 1e-4: p %v, want %v", got, wantP)
	}

	// summary.json, read back: the same figures under the same names
	b, err := os.ReadFile(filepath.Join(dir, SummaryJSON))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Split    string           `json:"split"`
		Grid     Grid             `json:"grid"`
		Seeds    []int64          `json:"seeds"`
		Baseline string           `json:"baseline"`
		Columns  []string         `json:"columns"`
		Rows     []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, b)
	}
	if js.Split != "test" || js.Baseline != "loss.lambda=0" || !slices.Equal(js.Seeds, []int64{1, 2, 3}) || !slices.Equal(js.Columns, wantCols) ||
		len(js.Grid) != 2 || js.Grid[1].Key != "optim.lr" || len(js.Rows) != 4 {
		t.Fatalf("summary.json head: %+v", js)
	}
	// keys in column order
	first := bytes.Index(b, []byte(`"rows"`))
	last := -1
	for _, c := range wantCols {
		at := bytes.Index(b[first:], []byte(`"`+c+`":`))
		if at <= last {
			t.Fatalf("summary.json row keys out of column order at %s", c)
		}
		last = at
	}
	for i, row := range js.Rows {
		for j, c := range wantCols {
			want := recs[i+1][j]
			switch v := row[c].(type) {
			case nil:
				if want != "" {
					t.Errorf("row %d %s: null, csv %q", i, c, want)
				}
			case string:
				if v != want {
					t.Errorf("row %d %s: %q, csv %q", i, c, v, want)
				}
			case float64:
				if w, _ := strconv.ParseFloat(want, 64); w != v {
					t.Errorf("row %d %s: %v, csv %q", i, c, v, want)
				}
			default:
				t.Errorf("row %d %s: %T", i, c, v)
			}
		}
		seeds, _ := row["seeds"].([]any)
		if len(seeds) != len(maes[p.Cells[i].Name()]) {
			t.Errorf("row %d seeds %v", i, row["seeds"])
		}
	}

	// summary.md: the header and one line per cell, the p-value to 3 digits
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMD))
	lines := strings.Split(strings.TrimSpace(string(md)), "\n")
	if len(lines) != 8 || lines[2] != "| "+strings.Join(wantCols, " | ")+" |" {
		t.Fatalf("summary.md:\n%s", md)
	}
	if !strings.HasPrefix(lines[0], "Test split, mean and sample standard deviation over seeds 1, 2, 3; mae_diff = MAE − MAE at loss.lambda=0") {
		t.Errorf("summary.md heading %q", lines[0])
	}
	if !strings.HasPrefix(lines[6], "| 0 | 1e-3 | 3 | 7.58 | 0.2914 |") || !strings.Contains(lines[6], "| – |") {
		t.Errorf("summary.md row %q", lines[6])
	}
	if want := "| " + strconv.FormatFloat(wantP, 'g', 3, 64) + " |"; !strings.Contains(lines[5], want) {
		t.Errorf("summary.md row %q lacks p %s", lines[5], want)
	}

	// mae.png: a PNG, wider for more cells
	img, err := os.Open(filepath.Join(dir, MAEChart))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cfg, err := png.DecodeConfig(img)
	if err != nil || cfg.Width < 400 || cfg.Height < 300 {
		t.Fatalf("mae.png: %v, %dx%d", err, cfg.Width, cfg.Height)
	}
}

func TestSummaryWithoutBaseline(t *testing.T) {
	p, results, _ := summaryFixture(t)
	p.Baseline = nil
	s := Summarize(p, results)
	cols := s.Columns()
	if slices.Contains(cols, "mae_diff_mean") || slices.Contains(cols, "mae_diff_p") || len(cols) != 15 {
		t.Fatalf("columns without a baseline: %q", cols)
	}
	// one seed: a mean, no std
	one := Summarize(p, []*Result{results[0]})
	if r := one.Rows[0]; len(r.Seeds) != 1 || *r.Metrics[0].Mean != 7.31 || r.Metrics[0].Std != nil {
		t.Fatalf("one seed: %+v", r)
	}
	if r := one.Rows[1]; len(r.Seeds) != 0 || r.Metrics[0].Mean != nil {
		t.Fatalf("no seed: %+v", r)
	}
	if _, err := one.Chart(); err != nil {
		t.Fatalf("chart with empty cells: %v", err)
	}
	b, err := one.CSV()
	if err != nil || !strings.Contains(string(b), "\n1,1e-4,0,,,") {
		t.Fatalf("csv with an empty cell: %v\n%s", err, b)
	}
}

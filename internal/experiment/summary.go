package experiment

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/metrics"
)

// Files of the experiment folder.
const (
	SummaryCSV  = "summary.csv"
	SummaryMD   = "summary.md"
	SummaryJSON = "summary.json"
	MAEChart    = "mae.png"
)

// Metric is one test-split figure the summary aggregates over seeds; ok is
// false when the run has none (no known gender, no ordinal pairs).
type Metric struct {
	Name  string
	Value func(s metrics.Summary) (v float64, ok bool)
}

// Metrics are the summary's figures, in column order: the test split's MAE,
// CS(5), gender accuracy, 80% interval coverage and rank inconsistency, as
// metrics.Summary defines them.
var Metrics = []Metric{
	{"mae", func(s metrics.Summary) (float64, bool) { return s.MAE, s.N > 0 }},
	{"cs5", func(s metrics.Summary) (float64, bool) {
		if len(s.CS) < 5 {
			return 0, false
		}
		return s.CS[4], true
	}},
	{"gender_acc", func(s metrics.Summary) (float64, bool) { return deref(s.GenderAccuracy) }},
	{"coverage80", func(s metrics.Summary) (float64, bool) { return deref(s.Coverage80) }}, // nil for l1: no interval
	{"rank_inconsistency", func(s metrics.Summary) (float64, bool) { return deref(s.RankInconsistency) }},
}

func deref(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

// Stat is a figure's mean and sample standard deviation over a cell's
// seeds (MeanStd); nil where undefined (no value; std of one seed).
type Stat struct {
	Mean, Std *float64
}

func statOf(xs []float64) Stat {
	m, s := MeanStd(xs)
	return Stat{num(m), num(s)}
}

// num is v, or nil when v is NaN or infinite (JSON has neither).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// Row is one grid cell of the summary.
type Row struct {
	Cell    Cell
	Seeds   []int64   // the seeds with a result, in plan order
	MAE     []float64 // their test MAE, in that order
	Metrics []Stat    // one per Metrics entry
	// Against the baseline (with --baseline only): the cell's reference
	// and, over the seeds both have, the mean of the paired differences
	// MAE(cell) − MAE(reference) and the paired t-test's p-value (PairedT).
	Reference Cell
	Pairs     int
	DiffMean  *float64
	DiffP     *float64
	// ValMAE is the best validation MAE over the seeds (the figure to
	// choose by; the test split only reports).
	ValMAE Stat
}

// Summary is the experiment's table: one row per grid cell, in plan order.
type Summary struct {
	Grid     Grid
	Seeds    []int64
	Baseline Baseline
	Rows     []Row
}

// Summarize aggregates results (one per run of p, nil for a run without
// one) into one row per cell.
func Summarize(p *Plan, results []*Result) Summary {
	s := Summary{Grid: p.Grid, Seeds: p.Seeds, Baseline: p.Baseline}
	byCell := make([]map[int64]*Result, len(p.Cells))
	for i := range byCell {
		byCell[i] = map[int64]*Result{}
	}
	for i, r := range p.Runs {
		if i < len(results) && results[i] != nil {
			byCell[p.CellIndex(r.Cell)][r.Seed] = results[i]
		}
	}
	for ci, c := range p.Cells {
		row := Row{Cell: c}
		vals := make([][]float64, len(Metrics))
		var val []float64
		for _, seed := range p.Seeds {
			res := byCell[ci][seed]
			if res == nil {
				continue
			}
			row.Seeds = append(row.Seeds, seed)
			row.MAE = append(row.MAE, res.Test.MAE)
			for m, metric := range Metrics {
				if v, ok := metric.Value(res.Test); ok {
					vals[m] = append(vals[m], v)
				}
			}
			if res.BestValMAE != nil {
				val = append(val, *res.BestValMAE)
			}
		}
		for m := range Metrics {
			row.Metrics = append(row.Metrics, statOf(vals[m]))
		}
		row.ValMAE = statOf(val)
		if p.Baseline != nil {
			row.Reference = p.Baseline.Reference(c)
			ref := byCell[p.CellIndex(row.Reference)]
			var d []float64
			for _, seed := range p.Seeds {
				a, b := byCell[ci][seed], ref[seed]
				if a != nil && b != nil {
					d = append(d, a.Test.MAE-b.Test.MAE)
				}
			}
			mean, _, pv := PairedT(d)
			row.Pairs, row.DiffMean, row.DiffP = len(d), num(mean), num(pv)
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

// Columns are the table's columns: one per grid key, n_seeds,
// <metric>_mean and <metric>_std for each of Metrics, then with a baseline
// mae_diff_mean and mae_diff_p, and last val_mae_mean and val_mae_std.
func (s Summary) Columns() []string {
	cols := append(s.Grid.Keys(), "n_seeds")
	for _, m := range Metrics {
		cols = append(cols, m.Name+"_mean", m.Name+"_std")
	}
	if s.Baseline != nil {
		cols = append(cols, "mae_diff_mean", "mae_diff_p")
	}
	return append(cols, "val_mae_mean", "val_mae_std")
}

// values is row i in column order: a string (grid value), an int (n_seeds)
// or a *float64 (nil: undefined).
func (s Summary) values(i int) []any {
	r := s.Rows[i]
	var v []any
	for _, st := range r.Cell {
		v = append(v, st.Value)
	}
	v = append(v, len(r.Seeds))
	for _, m := range r.Metrics {
		v = append(v, m.Mean, m.Std)
	}
	if s.Baseline != nil {
		v = append(v, r.DiffMean, r.DiffP)
	}
	return append(v, r.ValMAE.Mean, r.ValMAE.Std)
}

// CSV renders summary.csv: the columns, then one line per cell; numbers in
// the shortest form that parses back to the same float64, an undefined
// figure as an empty field.
func (s Summary) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(s.Columns()); err != nil {
		return nil, err
	}
	for i := range s.Rows {
		var rec []string
		for _, v := range s.values(i) {
			rec = append(rec, exact(v))
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

func exact(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case *float64:
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	}
	panic(fmt.Sprintf("experiment: summary value of type %T", v))
}

// Markdown renders summary.md: a heading line saying what the figures are,
// and the table with 4 significant digits (p-values 3), "–" where undefined.
func (s Summary) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Test split, mean and sample standard deviation over seeds %s", joinSeeds(s.Seeds))
	if s.Baseline != nil {
		fmt.Fprintf(&b, "; mae_diff = MAE − MAE at %s (paired by seed), mae_diff_p the paired t-test's two-sided p-value", s.Baseline)
	}
	b.WriteString(".\n\n")
	cols := s.Columns()
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for i := range cols {
		if i < len(s.Grid) {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for i := range s.Rows {
		var cells []string
		for j, v := range s.values(i) {
			cells = append(cells, short(v, cols[j] == "mae_diff_p"))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func short(v any, p bool) string {
	if f, ok := v.(*float64); ok {
		switch {
		case f == nil:
			return "–"
		case p:
			return strconv.FormatFloat(*f, 'g', 3, 64)
		default:
			return strconv.FormatFloat(*f, 'g', 4, 64)
		}
	}
	return strings.ReplaceAll(exact(v), "|", `\|`)
}

func joinSeeds(seeds []int64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatInt(s, 10)
	}
	return strings.Join(parts, ", ")
}

// JSON renders summary.json: the experiment (grid, seeds, baseline, the
// split) and "rows", one object per cell whose keys are the columns in
// column order (undefined figures null), each with its "seeds" and their
// test "mae" values in seed order.
func (s Summary) JSON() ([]byte, error) {
	var b bytes.Buffer
	head := struct {
		Split    string   `json:"split"`
		Grid     Grid     `json:"grid"`
		Seeds    []int64  `json:"seeds"`
		Baseline *string  `json:"baseline"`
		Columns  []string `json:"columns"`
	}{Split: "test", Grid: s.Grid, Seeds: s.Seeds, Columns: s.Columns()}
	if s.Baseline != nil {
		name := s.Baseline.String()
		head.Baseline = &name
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	b.Write(hb[:len(hb)-1]) // the object, left open for "rows"
	b.WriteString(`,"rows":[`)
	cols := s.Columns()
	for i, r := range s.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n{")
		for j, v := range s.values(i) {
			k, _ := json.Marshal(cols[j])
			val, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b.Write(k)
			b.WriteByte(':')
			b.Write(val)
			b.WriteByte(',')
		}
		seeds, _ := json.Marshal(r.Seeds)
		maes, err := json.Marshal(r.MAE)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, `"seeds":%s,"mae":%s}`, seeds, maes)
	}
	b.WriteString("\n]}\n")
	var check any
	if err := json.Unmarshal(b.Bytes(), &check); err != nil {
		return nil, fmt.Errorf("experiment: summary.json is not JSON: %w", err)
	}
	return b.Bytes(), nil
}

// Write writes summary.csv, summary.md, summary.json and mae.png into dir,
// each atomically (atomicfile).
func (s Summary) Write(dir string) error {
	files := []struct {
		name   string
		render func() ([]byte, error)
	}{
		{SummaryCSV, s.CSV},
		{SummaryMD, func() ([]byte, error) { return []byte(s.Markdown()), nil }},
		{SummaryJSON, s.JSON},
		{MAEChart, s.Chart},
	}
	for _, f := range files {
		b, err := f.render()
		if err != nil {
			return fmt.Errorf("experiment: render %s: %w", f.name, err)
		}
		path := filepath.Join(dir, f.name)
		if err := atomicfile.WriteBytes(path, b); err != nil {
			return fmt.Errorf("experiment: write %s: %w", path, err)
		}
	}
	return nil
}

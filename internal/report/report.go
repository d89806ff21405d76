// Package report writes evaluation artefacts (CSV, JSON, PNG plots) for a
// set of evaluation records (api.Prediction with a true age and gender).
package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/metrics"
)

// File names written by Write.
const (
	PredictionsCSV   = "predictions.csv"
	PredictionsJSONL = "predictions.jsonl"
	SummaryJSON      = "summary.json"
	PredVsTruePNG    = "pred_vs_true.png"
	CSCurvePNG       = "cs_curve.png"
	MAEByAgePNG      = "mae_by_age.png"
	// SubjectsJSONL holds the per-subject records of eval --per-subject
	// (WriteSubjects).
	SubjectsJSONL = "predictions_per_subject.jsonl"
)

// CSVHeader is the header row of predictions.csv. Its columns are fields of
// api.Prediction: pred_age is age, median is age_median, lo80 and hi80 are
// age_interval80, and true_gender is api.Gender.Class (0 female, 1 male,
// −1 unknown); true_age is empty for a record without one, lo80 and hi80 for
// a record without an interval (a model of loss type l1).
var CSVHeader = []string{"path", "view", "true_age", "pred_age", "median", "lo80", "hi80", "true_gender", "p_male"}

const plotSize = 12 * vg.Centimeter

// Write creates dir if needed and writes predictions.csv,
// predictions.jsonl (the records as JSON Lines, see api), summary.json,
// pred_vs_true.png, cs_curve.png and mae_by_age.png into it. Every file is
// written atomically (temp file in dir, fsync, rename, fsync of dir), so a
// reader never observes a partial file.
func Write(dir string, preds []api.Prediction, s metrics.Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	csvBytes, err := encodeCSV(preds)
	if err != nil {
		return err
	}
	jsonl, err := encodeJSONL(preds)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("report: encode summary: %w", err)
	}
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{PredictionsCSV, func() ([]byte, error) { return csvBytes, nil }},
		{PredictionsJSONL, func() ([]byte, error) { return jsonl, nil }},
		{SummaryJSON, func() ([]byte, error) { return append(js, '\n'), nil }},
		{PredVsTruePNG, func() ([]byte, error) { return predVsTrue(preds) }},
		{CSCurvePNG, func() ([]byte, error) { return csCurve(preds) }},
		{MAEByAgePNG, func() ([]byte, error) { return maeByAge(s) }},
	}
	for _, f := range files {
		b, err := f.data()
		if err != nil {
			return fmt.Errorf("report: render %s: %w", f.name, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, f.name), b); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// WriteSubjects writes the per-subject records (one fused prediction per
// subject, see train.PredictSubjects) to dir/predictions_per_subject.jsonl,
// atomically, creating dir if needed.
func WriteSubjects(dir string, preds []api.Prediction) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: create %s: %w", dir, err)
	}
	b, err := encodeJSONL(preds)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, SubjectsJSONL), b); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// encodeCSV renders predictions.csv; floats use the shortest representation
// that parses back to the identical float64.
func encodeCSV(preds []api.Prediction) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(CSVHeader); err != nil {
		return nil, fmt.Errorf("report: encode csv header: %w", err)
	}
	for i, p := range preds {
		trueAge := ""
		if p.TrueAge != nil {
			trueAge = strconv.Itoa(*p.TrueAge)
		}
		lo, hi := "", ""
		if p.Interval != nil {
			lo, hi = ftoa(p.Interval[0]), ftoa(p.Interval[1])
		}
		rec := []string{p.Path, p.View, trueAge, ftoa(p.Age), ftoa(p.Median),
			lo, hi, strconv.Itoa(p.TrueGender.Class()), ftoa(p.PMale)}
		if err := w.Write(rec); err != nil {
			return nil, fmt.Errorf("report: encode csv row %d (%s): %w", i, p.Path, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("report: encode csv: %w", err)
	}
	return buf.Bytes(), nil
}

// encodeJSONL renders predictions.jsonl, one api.Prediction per line.
func encodeJSONL(preds []api.Prediction) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i, p := range preds {
		if err := enc.Encode(p); err != nil {
			return nil, fmt.Errorf("report: encode record %d (%s): %w", i, p.Path, err)
		}
	}
	return buf.Bytes(), nil
}

// writeFileAtomic writes data atomically (see atomicfile).
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// renderPNG draws p into a PNG of plotSize × plotSize.
func renderPNG(p *plot.Plot) ([]byte, error) {
	wt, err := p.WriterTo(plotSize, plotSize, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// predVsTrue scatters predicted against true age with the y = x line.
// Records without a true age are not drawn.
func predVsTrue(preds []api.Prediction) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Predicted vs true age"
	p.X.Label.Text = "true age"
	p.Y.Label.Text = "predicted age"
	pts := make(plotter.XYs, 0, len(preds))
	lo, hi := 0.0, 1.0
	for _, pr := range preds {
		if pr.TrueAge == nil {
			continue
		}
		xy := plotter.XY{X: float64(*pr.TrueAge), Y: pr.Age}
		pts = append(pts, xy)
		lo, hi = min(lo, xy.X, xy.Y), max(hi, xy.X, xy.Y)
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return nil, err
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	p.Add(plotter.NewGrid(), diag, sc)
	return renderPNG(p)
}

// csCurve plots CS(θ) for θ = 0..metrics.MaxTheta.
func csCurve(preds []api.Prediction) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Cumulative score"
	p.X.Label.Text = "error tolerance θ (years)"
	p.Y.Label.Text = "CS(θ)"
	p.Y.Min, p.Y.Max = 0, 1
	pts := make(plotter.XYs, metrics.MaxTheta+1)
	for th := range pts {
		pts[th] = plotter.XY{X: float64(th), Y: metrics.CumulativeScore(preds, float64(th))}
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return nil, err
	}
	p.Add(plotter.NewGrid(), l, s)
	return renderPNG(p)
}

// maeByAge draws one bar per age group; empty groups are drawn at 0.
func maeByAge(s metrics.Summary) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "MAE by age group"
	p.Y.Label.Text = "MAE (years)"
	vals := make(plotter.Values, len(s.AgeGroups))
	names := make([]string, len(s.AgeGroups))
	for i, g := range s.AgeGroups {
		names[i] = fmt.Sprintf("%s\nn=%d", g.Label, g.N)
		if g.MAE != nil {
			vals[i] = *g.MAE
		}
	}
	if len(vals) == 0 {
		return renderPNG(p)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(20))
	if err != nil {
		return nil, err
	}
	p.Add(bars)
	p.NominalX(names...)
	return renderPNG(p)
}

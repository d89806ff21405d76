package experiment

import (
	"bytes"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart renders mae.png: per cell, the test MAE of every seed (grey
// points), their mean (black) and an error bar of ± one sample standard
// deviation (none with one seed). Cells without results are labelled but
// left empty.
func (s Summary) Chart() ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Test MAE per cell: seeds (grey), mean ± sample std"
	p.Y.Label.Text = "MAE (years)"
	names := make([]string, len(s.Rows))
	long := false
	var means plotter.XYs
	var errs plotter.YErrors
	var seeds plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, r := range s.Rows {
		names[i] = r.Cell.Name()
		long = long || len(names[i]) > 12
		for _, m := range r.MAE {
			seeds = append(seeds, plotter.XY{X: float64(i), Y: m})
			lo, hi = math.Min(lo, m), math.Max(hi, m)
		}
		st := r.Metrics[0] // mae
		if st.Mean == nil {
			continue
		}
		sd := 0.0
		if st.Std != nil {
			sd = *st.Std
		}
		means = append(means, plotter.XY{X: float64(i), Y: *st.Mean})
		errs = append(errs, struct{ Low, High float64 }{sd, sd})
		lo, hi = math.Min(lo, *st.Mean-sd), math.Max(hi, *st.Mean+sd)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	if long {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = text.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}
	if !math.IsInf(lo, 0) {
		pad := math.Max((hi-lo)*0.1, 0.05)
		p.Y.Min, p.Y.Max = math.Max(0, lo-pad), hi+pad
	}
	p.Add(plotter.NewGrid())
	if len(seeds) > 0 {
		sc, err := plotter.NewScatter(seeds)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Color = color.Gray{Y: 150}
		sc.GlyphStyle.Radius = vg.Points(2)
		p.Add(sc)
	}
	if len(means) > 0 {
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{means, errs})
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Width = vg.Points(1.2)
		eb.CapWidth = vg.Points(8)
		mp, err := plotter.NewScatter(means)
		if err != nil {
			return nil, err
		}
		mp.GlyphStyle.Shape = draw.CircleGlyph{}
		mp.GlyphStyle.Radius = vg.Points(3.5)
		p.Add(eb, mp)
	}
	width := max(12*vg.Centimeter, vg.Length(len(names))*2.5*vg.Centimeter)
	wt, err := p.WriterTo(width, 12*vg.Centimeter, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

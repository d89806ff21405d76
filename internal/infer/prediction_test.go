package infer

import (
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/metrics"
)

// Prediction maps row i of an Output to the record fields predict --json
// and serve print; the caller's Path and Source stay empty.
func TestPredictionIsRowI(t *testing.T) {
	p := [][]float64{{0.9, 0.2}, {0.99, 0.8}}
	out := Output{P: p, PMale: []float64{0.5, 0.75},
		Ordinal: []metrics.Ordinal{metrics.Decode(p[0], 20), metrics.Decode(p[1], 20)}}
	got := out.Prediction(1)
	o := metrics.Decode(p[1], 20)
	if got.Age != o.Age || got.Age != 20+0.99+0.8 || got.Median != o.Median || got.Interval == nil || *got.Interval != [2]float64{o.Lo80, o.Hi80} || got.RankPairs != 0 ||
		got.Gender != api.Male || got.PMale != 0.75 || &got.PAgeGT[0] != &p[1][0] || got.Path != "" || got.Source != "" {
		t.Fatalf("row 1: %+v", got)
	}
	if g := out.Prediction(0).Gender; g != api.Female { // exactly 0.5 reads as female
		t.Fatalf("row 0 gender %v", g)
	}
	// Record is eval's: the rank counts instead of the distribution.
	if r := out.Record(1); r.PAgeGT != nil || r.RankPairs != o.Pairs || r.RankViolations != o.Violations || r.Age != got.Age {
		t.Fatalf("record 1: %+v", r)
	}
}

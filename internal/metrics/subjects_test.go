package metrics_test

import (
	"encoding/json"
	"fmt"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/metrics"
)

// Two subjects of two GEIs each: per GEI the errors are −4, +6, +2 and −2
// years (MAE 3.5, RMSE √15 = 3.873); fused, subject A (true 30) is predicted 31 and subject B
// (true 50) 50 (MAE 0.5).
func ExampleSummary_PerSubjectTable() {
	rec := func(age float64, trueAge int, lo, hi, pMale float64, g api.Gender) api.Prediction {
		return api.Prediction{Age: age, Interval: api.Interval80(lo, hi), TrueAge: api.Int(trueAge), PMale: pMale, TrueGender: g, RankPairs: 9}
	}
	perGEI := []api.Prediction{
		rec(26, 30, 20, 29, 0.75, api.Male), rec(36, 30, 31, 40, 0.25, api.Male),
		rec(52, 50, 45, 60, 0.25, api.Female), rec(48, 50, 40, 55, 0.25, api.Female),
	}
	fused := []api.Prediction{rec(31, 30, 25, 35, 0.5, api.Male), rec(50, 50, 42, 58, 0.25, api.Female)}
	s := metrics.Evaluate(perGEI, 40)
	p := metrics.Evaluate(fused, 40)
	s.PerSubject = &p
	fmt.Print(s.PerSubjectTable())
	b, _ := json.Marshal(map[string]any{"mae": s.MAE, "per_subject_mae": s.PerSubject.MAE})
	fmt.Println(string(b))
	// Output:
	// fused per subject      per GEI  per subject
	// predictions            4        2 (2.0 GEIs each)
	// MAE (years)            3.500    0.500
	// RMSE (years)           3.873    0.707
	// CS(5)                  0.750    1.000
	// gender accuracy        0.750    0.500
	// 80% interval coverage  0.500    1.000
	// rank inconsistency     0.0000   0.0000
	// {"mae":3.5,"per_subject_mae":0.5}
}

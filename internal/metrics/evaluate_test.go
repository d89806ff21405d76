package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

// fixture: errors |Age−True| = 2.5, 7, 0.5, 1; trainMeanAge = 30.
func fixture() []api.Prediction {
	return []api.Prediction{
		{Path: "a", View: "090", TrueAge: api.Int(25), TrueGender: api.Male, Age: 27.5, Interval: api.Interval80(24, 28), PMale: 0.8, RankViolations: 1, RankPairs: 10},
		{Path: "b", View: "090", TrueAge: api.Int(62), TrueGender: api.Female, Age: 55, Interval: api.Interval80(50, 60), PMale: 0.6, RankViolations: 0, RankPairs: 10},
		{Path: "c", View: "000", TrueAge: api.Int(8), TrueGender: api.GenderUnknown, Age: 8.5, Interval: api.Interval80(5, 12), PMale: 0.3, RankViolations: 2, RankPairs: 10},
		{Path: "d", View: "000", TrueAge: api.Int(31), TrueGender: api.Female, Age: 30, Interval: api.Interval80(29, 33), PMale: 0.2, RankViolations: 1, RankPairs: 10},
	}
}

func optEq(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", name, want)
	} else if !near(*got, want) {
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}

func TestEvaluate(t *testing.T) {
	s := Evaluate(fixture(), 30)
	if s.N != 4 {
		t.Errorf("N = %d, want 4", s.N)
	}
	// (2.5+7+0.5+1)/4 = 2.75
	if !near(s.MAE, 2.75) {
		t.Errorf("MAE = %v, want 2.75", s.MAE)
	}
	// √((6.25+49+0.25+1)/4) = √14.125
	if !near(s.RMSE, math.Sqrt(14.125)) {
		t.Errorf("RMSE = %v, want %v", s.RMSE, math.Sqrt(14.125))
	}
	// θ=1,2: {0.5,1}; θ=3..6: +2.5; θ≥7: all (error 7 exactly counts).
	wantCS := []float64{0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 1, 1, 1, 1}
	if !eqSlice(s.CS, wantCS) {
		t.Errorf("CS = %v, want %v", s.CS, wantCS)
	}
	// Known genders: a (0.8 ⇒ M, correct), b (0.6 ⇒ M, wrong), d (0.2 ⇒ F, correct).
	if s.GenderN != 3 {
		t.Errorf("GenderN = %d, want 3", s.GenderN)
	}
	optEq(t, "GenderAccuracy", s.GenderAccuracy, 2.0/3)
	// (1+0+2+1)/40
	optEq(t, "RankInconsistency", s.RankInconsistency, 0.1)
	// b: 62 ∉ [50,60]; others covered.
	if !near(*s.Coverage80, 0.75) {
		t.Errorf("Coverage80 = %v, want 0.75", s.Coverage80)
	}
	// (|30−25|+|30−62|+|30−8|+|30−31|)/4 = (5+32+22+1)/4 = 15
	if !near(s.BaselineMAE, 15) || s.TrainMeanAge != 30 {
		t.Errorf("BaselineMAE = %v (mean %v), want 15 (30)", s.BaselineMAE, s.TrainMeanAge)
	}
	wantGroups := []struct {
		label string
		n     int
		mae   float64
	}{{"0-9", 1, 0.5}, {"10-19", 0, 0}, {"20-29", 1, 2.5}, {"30-39", 1, 1}, {"40-49", 0, 0}, {"50-59", 0, 0}, {"60+", 1, 7}}
	if len(s.AgeGroups) != len(wantGroups) {
		t.Fatalf("len(AgeGroups) = %d, want %d", len(s.AgeGroups), len(wantGroups))
	}
	for i, w := range wantGroups {
		g := s.AgeGroups[i]
		if g.Label != w.label || g.N != w.n {
			t.Errorf("group %d = %s/%d, want %s/%d", i, g.Label, g.N, w.label, w.n)
		}
		if w.n == 0 {
			if g.MAE != nil {
				t.Errorf("group %s MAE = %v, want nil", w.label, *g.MAE)
			}
		} else {
			optEq(t, "group "+w.label+" MAE", g.MAE, w.mae)
		}
	}
	if len(s.PerView) != 2 {
		t.Fatalf("PerView = %v, want 2 views", s.PerView)
	}
	// 090: errors 2.5, 7 → MAE 4.75, CS5 1/2, gender 1/2.
	v := s.PerView["090"]
	if v.N != 2 || !near(v.MAE, 4.75) || !near(v.CS5, 0.5) {
		t.Errorf("view 090 = %+v, want N 2 MAE 4.75 CS5 0.5", v)
	}
	optEq(t, "view 090 gender", v.GenderAccuracy, 0.5)
	// 000: errors 0.5, 1 → MAE 0.75, CS5 1; gender only d known (correct) → 1.
	v = s.PerView["000"]
	if v.N != 2 || !near(v.MAE, 0.75) || !near(v.CS5, 1) {
		t.Errorf("view 000 = %+v, want N 2 MAE 0.75 CS5 1", v)
	}
	optEq(t, "view 000 gender", v.GenderAccuracy, 1)
}

func TestEvaluateEdgeCases(t *testing.T) {
	// No views, no known gender, no pairs, p_male exactly 0.5.
	preds := []api.Prediction{
		{TrueAge: api.Int(70), TrueGender: api.GenderUnknown, Age: 70, Interval: api.Interval80(71, 75), PMale: 0.5},
		{TrueAge: api.Int(-3), TrueGender: "x", Age: 0, Interval: api.Interval80(-3, -3)},
	}
	s := Evaluate(preds, 0)
	if s.PerView != nil {
		t.Errorf("PerView = %v, want nil without views", s.PerView)
	}
	if s.GenderAccuracy != nil || s.GenderN != 0 {
		t.Errorf("GenderAccuracy = %v (n %d), want nil (0)", s.GenderAccuracy, s.GenderN)
	}
	if s.RankInconsistency != nil {
		t.Errorf("RankInconsistency = %v, want nil", *s.RankInconsistency)
	}
	// Errors 0 and 3; baseline |0−70|+|0+3| = 73 → 36.5; coverage: 70 ∉ [71,75], −3 ∈ [−3,−3].
	if !near(s.MAE, 1.5) || !near(s.BaselineMAE, 36.5) || !near(*s.Coverage80, 0.5) {
		t.Errorf("MAE %v baseline %v coverage %v, want 1.5 36.5 0.5", s.MAE, s.BaselineMAE, s.Coverage80)
	}
	if g := s.AgeGroups[0]; g.N != 1 || g.MAE == nil || !near(*g.MAE, 3) {
		t.Errorf("group 0-9 = %+v, want n 1 mae 3 (negative age clamped)", g)
	}
	if g := s.AgeGroups[6]; g.N != 1 || g.MAE == nil || !near(*g.MAE, 0) {
		t.Errorf("group 60+ = %+v, want n 1 mae 0", g)
	}

	// p_male = 0.5 is female: a known-female sample at 0.5 is correct.
	if _, acc := genderAccuracy([]api.Prediction{{TrueGender: api.Female, PMale: 0.5}}); acc == nil || *acc != 1 {
		t.Errorf("p_male 0.5 must decode as female")
	}

	// Empty input.
	e := Evaluate(nil, 40)
	if e.N != 0 || e.MAE != 0 || e.CS != nil || len(e.AgeGroups) != 7 || e.AgeGroups[3].N != 0 {
		t.Errorf("empty Evaluate = %+v", e)
	}
}

// Records without a true age (a prediction, not an evaluation record) are
// left out of every figure, not counted as age 0.
func TestEvaluateSkipsRecordsWithoutTrueAge(t *testing.T) {
	with := fixture()
	mixed := append([]api.Prediction{{Path: "x", Age: 99, PMale: 0.9, TrueGender: api.Female, RankViolations: 50, RankPairs: 50}}, with...)
	mixed = append(mixed, api.Prediction{Path: "y", Age: 1})
	a, b := Evaluate(with, 30), Evaluate(mixed, 30)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("records without a true age changed the summary:\n%s\n%s", jb, ja)
	}
	if got := CumulativeScore(mixed, 0.5); !near(got, 0.25) {
		t.Errorf("CS(0.5) with unlabelled records = %v, want 0.25", got)
	}
	if len(mixed) != 6 || mixed[1].Path != "a" {
		t.Errorf("Evaluate modified its input: %+v", mixed)
	}
}

func TestCumulativeScore(t *testing.T) {
	preds := fixture()
	for _, c := range []struct{ th, want float64 }{{0, 0}, {0.5, 0.25}, {2.5, 0.75}, {6.99, 0.75}, {7, 1}} {
		if got := CumulativeScore(preds, c.th); !near(got, c.want) {
			t.Errorf("CS(%v) = %v, want %v", c.th, got, c.want)
		}
	}
	// Float noise: 1+2⁻⁵² away still counts for θ=1.
	p := []api.Prediction{{TrueAge: api.Int(0), Age: math.Nextafter(1, 2)}}
	if got := CumulativeScore(p, 1); got != 1 {
		t.Errorf("CS(1) with float noise = %v, want 1", got)
	}
	if got := CumulativeScore(nil, 3); got != 0 {
		t.Errorf("CS(empty) = %v, want 0", got)
	}
}

func TestSummaryJSON(t *testing.T) {
	b, err := json.Marshal(Evaluate(fixture(), 30))
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{`"n":4`, `"mae":2.75`, `"coverage80":0.75`, `"baseline_mae":15`,
		`{"label":"10-19","n":0,"mae":null}`, `"rank_inconsistency":0.1`, `"per_view":{"000":`} {
		if !strings.Contains(js, want) {
			t.Errorf("JSON lacks %s: %s", want, js)
		}
	}
	b, _ = json.Marshal(Evaluate([]api.Prediction{{TrueAge: api.Int(1)}}, 0))
	if strings.Contains(string(b), "per_view") {
		t.Errorf("per_view must be omitted without views: %s", b)
	}
}

func TestMissingImagesShown(t *testing.T) {
	s := Evaluate(fixture(), 30)
	if b, _ := json.Marshal(s); strings.Contains(string(b), "missing_images") || strings.Contains(s.Table(), "missing") {
		t.Errorf("missing images shown when there are none: %s", b)
	}
	s.MissingImages = 3
	b, _ := json.Marshal(s)
	if !strings.Contains(string(b), `"missing_images":3`) || !strings.Contains(string(b), `"mae":2.75`) {
		t.Errorf("JSON %s", b)
	}
	lines := strings.Split(s.Table(), "\n")
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "missing images (not evaluated) 3" {
		t.Errorf("second table line %q, want the missing count beside the sample count", lines[1])
	}
}

func TestTable(t *testing.T) {
	tab := Evaluate(fixture(), 30).Table()
	lines := map[string]bool{}
	for _, l := range strings.Split(tab, "\n") {
		lines[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, want := range []string{
		"samples 4",
		"MAE (years) 2.750",
		"RMSE (years) 3.758", // √14.125 = 3.7583…
		"baseline MAE (mean 30.00) 15.000",
		"gender accuracy (n=3) 0.667",
		"80% interval coverage 0.750",
		"rank inconsistency 0.1000",
		"CS(3) 0.750",
		"CS(7) 1.000",
		"10-19 0 -",
		"60+ 1 7.000",
		"000 2 0.750 1.000 1.000",
		"090 2 4.750 0.500 0.500",
	} {
		if !lines[want] {
			t.Errorf("Table lacks line %q:\n%s", want, tab)
		}
	}
	// Alignment: in the first block every value starts in the same column.
	block := strings.SplitN(tab, "\n\n", 2)[0]
	col := -1
	for _, l := range strings.Split(block, "\n") {
		c := strings.LastIndex(l, "  ") + 2
		if col == -1 {
			col = c
		} else if c != col {
			t.Errorf("misaligned line %q: value at %d, want %d", l, c, col)
		}
	}
}

// Records without an interval (a model of loss type l1) have no coverage:
// nil, left out of the JSON and of the table; mixed with records that have
// one, coverage counts those alone.
func TestEvaluateWithoutIntervals(t *testing.T) {
	preds := []api.Prediction{
		{TrueAge: api.Int(30), Age: 32, Median: 32},
		{TrueAge: api.Int(50), Age: 47, Median: 47},
	}
	s := Evaluate(preds, 40)
	if s.Coverage80 != nil || !near(s.MAE, 2.5) {
		t.Fatalf("coverage %v, MAE %v; want nil, 2.5", s.Coverage80, s.MAE)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "coverage80") {
		t.Errorf("summary JSON names coverage80: %s", b)
	}
	if strings.Contains(s.Table(), "coverage") {
		t.Errorf("table shows a coverage:\n%s", s.Table())
	}
	preds = append(preds, api.Prediction{TrueAge: api.Int(20), Age: 21, Interval: api.Interval80(15, 25)},
		api.Prediction{TrueAge: api.Int(60), Age: 50, Interval: api.Interval80(40, 55)})
	if s := Evaluate(preds, 40); s.Coverage80 == nil || !near(*s.Coverage80, 0.5) {
		t.Errorf("mixed records: coverage %v, want 1 of the 2 with an interval", s.Coverage80)
	}
	if !strings.Contains(Evaluate(preds, 40).Table(), "80% interval coverage      0.500") {
		t.Errorf("table:\n%s", Evaluate(preds, 40).Table())
	}
}

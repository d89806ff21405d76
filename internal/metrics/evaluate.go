package metrics

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gaitord/gaitord/api"
)

// MaxTheta is the largest error tolerance (in years) reported in
// Summary.CS.
const MaxTheta = 10

// csEps absorbs floating-point noise when comparing |error| ≤ θ, so that
// e.g. an error of 1+2⁻⁵² still counts towards CS(1).
const csEps = 1e-9

// AgeGroup is the MAE over samples whose true age falls in one decade.
// MAE is nil (JSON null) when N = 0.
type AgeGroup struct {
	Label string   `json:"label"`
	N     int      `json:"n"`
	MAE   *float64 `json:"mae"`
}

// ViewSummary is the per-view subset of Summary.
type ViewSummary struct {
	N              int      `json:"n"`
	MAE            float64  `json:"mae"`
	CS5            float64  `json:"cs5"`
	GenderAccuracy *float64 `json:"gender_accuracy"`
}

// Summary aggregates a set of evaluation records (api.Prediction with a
// TrueAge). Let e_i = Age_i − TrueAge_i over the N records, [lo_i, hi_i]
// their Interval (over the N₈₀ records that have one):
//
//	MAE  = (1/N) Σ |e_i|
//	RMSE = √((1/N) Σ e_i²)
//	CS(θ) = (1/N) #{ i : |e_i| ≤ θ },  CS[θ−1] for θ = 1..10
//	GenderAccuracy = #{correct} / #{known TrueGender},  predicted: api.GenderOf(PMale)
//	RankInconsistency = Σ RankViolations_i / Σ RankPairs_i
//	Coverage80 = (1/N₈₀) #{ i : lo_i ≤ TrueAge_i ≤ hi_i }
//	BaselineMAE = (1/N) Σ |trainMeanAge − TrueAge_i|
//
// Ratios with an empty denominator (no known gender, no pairs) are nil;
// Coverage80 is nil, and left out of the JSON and the table, when no record
// has an interval (a model without a distribution, loss type l1). With N = 0
// all other figures are 0 and CS is empty.
type Summary struct {
	N                 int                    `json:"n"`
	MAE               float64                `json:"mae"`
	RMSE              float64                `json:"rmse"`
	CS                []float64              `json:"cs"`
	AgeGroups         []AgeGroup             `json:"mae_by_age_group"`
	GenderN           int                    `json:"gender_n"`
	GenderAccuracy    *float64               `json:"gender_accuracy"`
	RankInconsistency *float64               `json:"rank_inconsistency"`
	Coverage80        *float64               `json:"coverage80,omitempty"`
	TrainMeanAge      float64                `json:"train_mean_age"`
	BaselineMAE       float64                `json:"baseline_mae"`
	PerView           map[string]ViewSummary `json:"per_view,omitempty"`
	// MissingImages is set by the caller, not by Evaluate: labelled images
	// of the evaluated split that were missing and are not in N (gaitord
	// eval --allow-missing). Omitted from JSON when 0.
	MissingImages int `json:"missing_images,omitempty"`
	// PerSubject is set by the caller, not by Evaluate: the summary of the
	// same split with each subject's GEIs fused into one prediction
	// (gaitord eval --per-subject; see PerSubjectTable). Omitted when nil.
	PerSubject *Summary `json:"per_subject,omitempty"`
	// Checkpoint, CheckpointSHA256, Split and Data are set by the caller,
	// not by Evaluate: the file evaluated and the SHA-256 of its bytes
	// (hex), so that `gaitord export` can tell whether a report belongs to
	// the checkpoint it exports, and the split and the dataset evaluated.
	// Omitted when empty.
	Checkpoint       string `json:"checkpoint,omitempty"`
	CheckpointSHA256 string `json:"checkpoint_sha256,omitempty"`
	Split            string `json:"split,omitempty"`
	Data             string `json:"data,omitempty"`
}

// AgeGroupLabels are the decade groups of Summary.AgeGroups, by true age.
var AgeGroupLabels = []string{"0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60+"}

// ageGroup maps a true age to its index in AgeGroupLabels: ⌊age/10⌋ capped
// to 0..6 (negative ages fall in the first group).
func ageGroup(age int) int {
	g := age / 10
	if age < 0 {
		g = 0
	}
	return min(g, len(AgeGroupLabels)-1)
}

// CumulativeScore returns CS(θ) = #{ i : |Age_i − TrueAge_i| ≤ θ } / N over
// the N records that have a TrueAge, or 0 when there are none.
func CumulativeScore(preds []api.Prediction, theta float64) float64 {
	return cumulativeScore(labelled(preds), theta)
}

// labelled returns the records of preds that have a TrueAge (preds itself
// when all do).
func labelled(preds []api.Prediction) []api.Prediction {
	for i, p := range preds {
		if p.TrueAge == nil {
			out := append([]api.Prediction(nil), preds[:i]...)
			for _, q := range preds[i+1:] {
				if q.TrueAge != nil {
					out = append(out, q)
				}
			}
			return out
		}
	}
	return preds
}

// cumulativeScore is CumulativeScore over records that all have a TrueAge.
func cumulativeScore(preds []api.Prediction, theta float64) float64 {
	if len(preds) == 0 {
		return 0
	}
	n := 0
	for _, p := range preds {
		if math.Abs(p.Age-float64(*p.TrueAge)) <= theta+csEps {
			n++
		}
	}
	return float64(n) / float64(len(preds))
}

// genderAccuracy returns (#known, accuracy) where accuracy is nil if no
// sample has a known gender.
func genderAccuracy(preds []api.Prediction) (int, *float64) {
	known, correct := 0, 0
	for _, p := range preds {
		if !p.TrueGender.Known() {
			continue
		}
		known++
		if api.GenderOf(p.PMale) == p.TrueGender {
			correct++
		}
	}
	if known == 0 {
		return 0, nil
	}
	return known, ptr(float64(correct) / float64(known))
}

func ptr(v float64) *float64 { return &v }

func mae(preds []api.Prediction) float64 {
	if len(preds) == 0 {
		return 0
	}
	s := 0.0
	for _, p := range preds {
		s += math.Abs(p.Age - float64(*p.TrueAge))
	}
	return s / float64(len(preds))
}

// Evaluate computes the Summary of the records of preds that have a TrueAge
// (see Summary for the formulas); records without one are left out of every
// figure. PerView is filled only when at least one record has a non-empty
// View; records without a view are then grouped under the key "".
func Evaluate(preds []api.Prediction, trainMeanAge float64) Summary {
	preds = labelled(preds)
	s := Summary{N: len(preds), TrainMeanAge: trainMeanAge}
	groups := make([][]api.Prediction, len(AgeGroupLabels))
	var sq, base, covered float64
	var viol, pairs, withInterval int
	hasView := false
	for _, p := range preds {
		t := float64(*p.TrueAge)
		e := p.Age - t
		sq += e * e
		base += math.Abs(trainMeanAge - t)
		if p.Interval != nil {
			withInterval++
			if p.Interval[0] <= t && t <= p.Interval[1] {
				covered++
			}
		}
		viol += p.RankViolations
		pairs += p.RankPairs
		g := ageGroup(*p.TrueAge)
		groups[g] = append(groups[g], p)
		hasView = hasView || p.View != ""
	}
	s.AgeGroups = make([]AgeGroup, len(AgeGroupLabels))
	for i, g := range groups {
		s.AgeGroups[i] = AgeGroup{Label: AgeGroupLabels[i], N: len(g)}
		if len(g) > 0 {
			s.AgeGroups[i].MAE = ptr(mae(g))
		}
	}
	s.GenderN, s.GenderAccuracy = genderAccuracy(preds)
	if pairs > 0 {
		s.RankInconsistency = ptr(float64(viol) / float64(pairs))
	}
	if s.N == 0 {
		return s
	}
	n := float64(s.N)
	s.MAE = mae(preds)
	s.RMSE = math.Sqrt(sq / n)
	s.CS = make([]float64, MaxTheta)
	for th := 1; th <= MaxTheta; th++ {
		s.CS[th-1] = cumulativeScore(preds, float64(th))
	}
	if withInterval > 0 {
		s.Coverage80 = ptr(covered / float64(withInterval))
	}
	s.BaselineMAE = base / n
	if hasView {
		byView := map[string][]api.Prediction{}
		for _, p := range preds {
			byView[p.View] = append(byView[p.View], p)
		}
		s.PerView = make(map[string]ViewSummary, len(byView))
		for v, ps := range byView {
			_, acc := genderAccuracy(ps)
			s.PerView[v] = ViewSummary{N: len(ps), MAE: mae(ps), CS5: cumulativeScore(ps, 5), GenderAccuracy: acc}
		}
	}
	return s
}

// fmtOpt formats an optional ratio, "-" when undefined.
func fmtOpt(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

// Table renders the summary as aligned plain text for a terminal.
func (s Summary) Table() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "samples\t%d\n", s.N)
	if s.MissingImages > 0 {
		fmt.Fprintf(w, "missing images (not evaluated)\t%d\n", s.MissingImages)
	}
	fmt.Fprintf(w, "MAE (years)\t%.3f\n", s.MAE)
	fmt.Fprintf(w, "RMSE (years)\t%.3f\n", s.RMSE)
	fmt.Fprintf(w, "baseline MAE (mean %.2f)\t%.3f\n", s.TrainMeanAge, s.BaselineMAE)
	fmt.Fprintf(w, "gender accuracy (n=%d)\t%s\n", s.GenderN, fmtOpt(s.GenderAccuracy, "%.3f"))
	if s.Coverage80 != nil {
		fmt.Fprintf(w, "80%% interval coverage\t%.3f\n", *s.Coverage80)
	}
	fmt.Fprintf(w, "rank inconsistency\t%s\n", fmtOpt(s.RankInconsistency, "%.4f"))
	for i, c := range s.CS {
		fmt.Fprintf(w, "CS(%d)\t%.3f\n", i+1, c)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "age group\tn\tMAE")
	for _, g := range s.AgeGroups {
		fmt.Fprintf(w, "%s\t%d\t%s\n", g.Label, g.N, fmtOpt(g.MAE, "%.3f"))
	}
	if len(s.PerView) > 0 {
		views := make([]string, 0, len(s.PerView))
		for v := range s.PerView {
			views = append(views, v)
		}
		sort.Strings(views)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "view\tn\tMAE\tCS(5)\tgender acc")
		for _, v := range views {
			vs := s.PerView[v]
			name := v
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(w, "%s\t%d\t%.3f\t%.3f\t%s\n", name, vs.N, vs.MAE, vs.CS5, fmtOpt(vs.GenderAccuracy, "%.3f"))
		}
	}
	_ = w.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}

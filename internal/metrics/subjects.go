package metrics

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// PerSubjectTable renders, for a terminal, the per-GEI figures of s beside
// those of s.PerSubject (each subject's GEIs fused into one prediction):
// the counts, MAE, RMSE, CS(5), gender accuracy, 80% interval coverage and
// rank inconsistency. It is empty when s.PerSubject is nil.
func (s Summary) PerSubjectTable() string {
	p := s.PerSubject
	if p == nil {
		return ""
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	per := 0.0
	if p.N > 0 {
		per = float64(s.N) / float64(p.N)
	}
	fmt.Fprintf(w, "fused per subject\tper GEI\tper subject\n")
	fmt.Fprintf(w, "predictions\t%d\t%d (%.1f GEIs each)\n", s.N, p.N, per)
	fmt.Fprintf(w, "MAE (years)\t%.3f\t%.3f\n", s.MAE, p.MAE)
	fmt.Fprintf(w, "RMSE (years)\t%.3f\t%.3f\n", s.RMSE, p.RMSE)
	fmt.Fprintf(w, "CS(5)\t%.3f\t%.3f\n", csAt(s, 5), csAt(*p, 5))
	fmt.Fprintf(w, "gender accuracy\t%s\t%s\n", fmtOpt(s.GenderAccuracy, "%.3f"), fmtOpt(p.GenderAccuracy, "%.3f"))
	fmt.Fprintf(w, "80%% interval coverage\t%s\t%s\n", fmtOpt(s.Coverage80, "%.3f"), fmtOpt(p.Coverage80, "%.3f"))
	fmt.Fprintf(w, "rank inconsistency\t%s\t%s\n", fmtOpt(s.RankInconsistency, "%.4f"), fmtOpt(p.RankInconsistency, "%.4f"))
	_ = w.Flush() // writes to a strings.Builder cannot fail
	return b.String()
}

// csAt is CS(θ) of s, 0 when s has none.
func csAt(s Summary, theta int) float64 {
	if theta < 1 || theta > len(s.CS) {
		return 0
	}
	return s.CS[theta-1]
}

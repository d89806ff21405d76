package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressFunc returns a progress callback drawing a bar on w, or nil when quiet.
func progressFunc(w io.Writer, quiet bool, what string) (func(done, total int), func()) {
	if quiet || !isTerminal(w) {
		return nil, func() {}
	}
	var bar *progressbar.ProgressBar
	return func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(what),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(24),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set(done)
		}, func() {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(w)
			}
		}
}

// isTerminal reports whether w is a terminal: progress bars are drawn only
// there, so logs and pipes get the per-epoch lines alone.
func isTerminal(w io.Writer) bool {
	if os.Getenv("GAITORD_PROGRESS") == "always" {
		return true
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openData opens the dataset a configuration names, drawing the synthetic
// dataset's generation on log (nothing when quiet).
func openData(c config.Config, log io.Writer, quiet bool) (*dataset.Dataset, error) {
	o, done := dataOptions(log, quiet)
	defer done()
	return data.Open(c, o)
}

// dataOptions are the data.Options that report generating the synthetic
// dataset on log (nothing when quiet); call done when data.Open returns.
func dataOptions(log io.Writer, quiet bool) (o data.Options, done func()) {
	if !quiet {
		o.Log = log
	}
	o.Progress, done = progressFunc(log, quiet, "synth")
	return o, done
}

// reportProblems prints a dataset's problems (at most max of them) and its
// skipped counts.
func reportProblems(w io.Writer, ds *dataset.Dataset, max int) {
	r := ds.Report
	if len(r.Problems) == 0 && len(r.Skipped) == 0 {
		return
	}
	for i, p := range r.Problems {
		if i == max {
			fmt.Fprintf(w, "… and %d more problems (gaitord data check lists them all)\n", len(r.Problems)-max)
			break
		}
		fmt.Fprintf(w, "warning: %s\n", p)
	}
	var parts []string
	for k, v := range r.Skipped {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "skipped samples: %s\n", strings.Join(parts, ", "))
	}
}

package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
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

// synthCacheDir is where the built-in synthetic dataset of a configuration
// lives: a folder keyed by every parameter that shapes it.
func synthCacheDir(d config.Data, size gei.Size) string {
	base := os.Getenv("GAITORD_CACHE")
	if base == "" {
		if c, err := os.UserCacheDir(); err == nil {
			base = filepath.Join(c, "gaitord")
		} else {
			base = filepath.Join(os.TempDir(), "gaitord-cache")
		}
	}
	key := fmt.Sprintf("v1 %d %v %d %d %d %dx%d", d.Synth.Subjects, d.Synth.Views, d.Synth.Seed, d.Synth.MinAge, d.Synth.MaxAge, size.H, size.W)
	h := sha256.Sum256([]byte(key))
	return filepath.Join(base, "synth-"+hex.EncodeToString(h[:6]))
}

// ensureSynth generates the synthetic dataset into dir unless it is already
// complete there; generation goes to a temp folder renamed into place.
func ensureSynth(dir string, d config.Data, size gei.Size, log io.Writer, quiet bool) error {
	if _, err := os.Stat(filepath.Join(dir, "labels.csv")); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".synth-tmp")
	if err != nil {
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if !quiet && log != nil {
		fmt.Fprintf(log, "generating the synthetic dataset (%d subjects) into %s\n", d.Synth.Subjects, dir)
	}
	progress, done := progressFunc(log, quiet, "synth")
	_, err = synth.Generate(synth.Options{
		Root: tmp, Subjects: d.Synth.Subjects, Views: d.Synth.Views, Size: size,
		Seed: d.Synth.Seed, MinAge: d.Synth.MinAge, MaxAge: d.Synth.MaxAge, Workers: runtime.NumCPU(),
	}, progress)
	done()
	if err != nil {
		return fmt.Errorf("generate synthetic data: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(filepath.Join(dir, "labels.csv")); serr == nil {
			return nil // another process made it meanwhile
		}
		return fmt.Errorf("synthetic data cache %s: %w", dir, err)
	}
	return nil
}

// openData opens the dataset a configuration names (generating the
// synthetic one on first use).
func openData(c config.Config, log io.Writer, quiet bool) (*dataset.Dataset, error) {
	d := c.Data
	size := gei.Size{H: c.Model.InputHeight, W: c.Model.InputWidth}
	switch d.Format {
	case "synthetic":
		root := d.Root
		if root == "" {
			root = synthCacheDir(d, size)
		}
		if err := ensureSynth(root, d, size, log, quiet); err != nil {
			return nil, err
		}
		return dataset.OpenOUMVLP(root, dataset.OUMVLPOptions{Labels: filepath.Join(root, "labels.csv"), Views: d.Views})
	case "oumvlp":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data DIR (the OU-MVLP root holding GEI/)")
		}
		return dataset.OpenOUMVLP(d.Root, dataset.OUMVLPOptions{Labels: d.Labels, Views: d.Views})
	case "oulp-age":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data DIR (the OULP-Age root holding GEI/)")
		}
		return dataset.OpenOULPAge(d.Root, dataset.OULPOptions{Labels: d.Labels})
	case "manifest":
		if d.Root == "" {
			return nil, fmt.Errorf("data.root is empty: give --data FILE.csv (a manifest with path,age,gender)")
		}
		return dataset.OpenManifest(d.Root, dataset.ManifestOptions{AllowOutside: d.AllowOutside})
	}
	return nil, fmt.Errorf("data.format %q: want synthetic, oumvlp, oulp-age or manifest", d.Format)
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

// decoder is the one GEI preprocessing used for training, evaluation and prediction.
func decoder(c config.Config) func(string) ([]float32, error) {
	size := gei.Size{H: c.Model.InputHeight, W: c.Model.InputWidth}
	return func(path string) ([]float32, error) { return gei.Load(path, size) }
}

func meanAge(s []dataset.Sample) float64 {
	if len(s) == 0 {
		return 0
	}
	sum := 0.0
	for _, x := range s {
		sum += float64(x.Age)
	}
	return sum / float64(len(s))
}

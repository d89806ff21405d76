package synth

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gaitord/gaitord/internal/atomicfile"

	"github.com/gaitord/gaitord/internal/gei"
)

// Options configures Generate. Zero fields take the documented defaults.
type Options struct {
	// Root is the output folder (required).
	Root string
	// Subjects is the number of subjects, IDs 1..Subjects (1..99999).
	Subjects int
	// Views are the view angles in degrees, 0..359. Default {0, 30, 60, 90}.
	Views []int
	// Seqs is the number of sequences per subject and view (1..99). Default 2.
	Seqs int
	// Size is the GEI size. Default gei.DefaultSize (64×44).
	Size gei.Size
	// Seed makes the dataset reproducible: same options, byte-identical files.
	Seed int64
	// MinAge and MaxAge bound the ages, drawn uniformly. Defaults 2 and 80;
	// 1 <= MinAge <= MaxAge <= 100.
	MinAge, MaxAge int
	// Workers is the number of goroutines. Default runtime.NumCPU(). The
	// output does not depend on it.
	Workers int
}

// Summary describes a generated dataset.
type Summary struct {
	// Root is the dataset folder; GEIs are under Root/GEI.
	Root string
	// Labels is the label CSV, Root/labels.csv.
	Labels string
	// Subjects is the number of subjects.
	Subjects int
	// GEIs is the number of GEI files written.
	GEIs int
	// Males and Females count the subjects by gender.
	Males, Females int
	// MinAge and MaxAge are the smallest and largest drawn ages.
	MinAge, MaxAge int
}

// withDefaults fills in defaults and validates the options.
func (o Options) withDefaults() (Options, error) {
	if o.Views == nil {
		o.Views = []int{0, 30, 60, 90}
	}
	o.Seqs = orDefault(o.Seqs, 2)
	o.MinAge, o.MaxAge = orDefault(o.MinAge, 2), orDefault(o.MaxAge, 80)
	o.Workers = orDefault(o.Workers, runtime.NumCPU())
	if o.Size == (gei.Size{}) {
		o.Size = gei.DefaultSize
	}
	switch {
	case o.Root == "":
		return o, fmt.Errorf("synth: no output folder")
	case o.Subjects < 1 || o.Subjects > 99999:
		return o, fmt.Errorf("synth: %d subjects, want 1..99999", o.Subjects)
	case len(o.Views) == 0:
		return o, fmt.Errorf("synth: no views")
	case o.Seqs < 1 || o.Seqs > 99:
		return o, fmt.Errorf("synth: %d sequences, want 1..99", o.Seqs)
	case o.MinAge < 1 || o.MinAge > o.MaxAge || o.MaxAge > 100:
		return o, fmt.Errorf("synth: ages %d..%d, want 1 <= min <= max <= 100", o.MinAge, o.MaxAge)
	case o.Workers < 1:
		return o, fmt.Errorf("synth: %d workers", o.Workers)
	}
	for _, v := range o.Views {
		if v < 0 || v > 359 {
			return o, fmt.Errorf("synth: view %d, want 0..359", v)
		}
	}
	return o, o.Size.Validate()
}

// orDefault returns v, or def if v is 0.
func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// SampleSubject returns subject id of the dataset made with seed: its age
// (uniform in minAge..maxAge), gender (even odds) and body. It depends only
// on its arguments, so datasets do not depend on the worker count.
func SampleSubject(seed int64, id, minAge, maxAge int) SubjectParams {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(id)))
	age := minAge + r.IntN(maxAge-minAge+1)
	male := r.IntN(2) == 0
	return NewSubject(id, age, male, r.Uint64())
}

// Generate writes a synthetic dataset in the OU-MVLP layout:
// Root/GEI/<view, 3 digits>-<seq, 2 digits>/<subject, 5 digits>.png for
// every subject, view and sequence (seqs numbered from 00), and
// Root/labels.csv with header ID,gender,age (ID unpadded, gender M or F,
// integer age), rows sorted by ID. Subject IDs are 1..Subjects, so
// OU-MVLP's split rule (odd IDs train, even IDs test) applies. Subjects are
// rendered by opts.Workers goroutines; every file is written atomically
// and the output is byte-identical for the same options whatever the
// worker count. progress, if not nil, is called with the subjects done and
// the total, from one goroutine at a time.
func Generate(opts Options, progress func(done, total int)) (Summary, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Summary{}, err
	}
	for _, v := range o.Views {
		for q := 0; q < o.Seqs; q++ {
			if err := os.MkdirAll(viewDir(o.Root, v, q), 0o755); err != nil {
				return Summary{}, fmt.Errorf("synth: %w", err)
			}
		}
	}
	subjects := make([]SubjectParams, o.Subjects)
	for i := range subjects {
		subjects[i] = SampleSubject(o.Seed, i+1, o.MinAge, o.MaxAge)
	}
	if err := renderAll(o, subjects, progress); err != nil {
		return Summary{}, err
	}
	return writeLabels(o, subjects)
}

// viewDir is Root/GEI/<view>-<seq>.
func viewDir(root string, view, seq int) string {
	return filepath.Join(root, "GEI", fmt.Sprintf("%03d-%02d", view, seq))
}

// renderAll renders and writes every subject's GEIs with o.Workers
// goroutines. It returns the error of the lowest failing subject ID.
func renderAll(o Options, subjects []SubjectParams, progress func(done, total int)) error {
	errs := make([]error, len(subjects))
	var next atomic.Int64
	var failed atomic.Bool
	done := make(chan struct{}, len(subjects))
	var wg sync.WaitGroup
	for range min(o.Workers, len(subjects)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(subjects) && !failed.Load(); i = int(next.Add(1) - 1) {
				if errs[i] = writeSubject(o, subjects[i]); errs[i] != nil {
					failed.Store(true)
				}
				done <- struct{}{}
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	n := 0
	for range done {
		n++
		if progress != nil {
			progress(n, len(subjects))
		}
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSubject renders and writes all GEIs of one subject.
func writeSubject(o Options, s SubjectParams) error {
	for _, v := range o.Views {
		for q := 0; q < o.Seqs; q++ {
			g, err := Render(s, v, q, o.Size)
			if err != nil {
				return fmt.Errorf("synth: %w", err)
			}
			path := filepath.Join(viewDir(o.Root, v, q), fmt.Sprintf("%05d.png", s.ID))
			if err := gei.WritePNG(path, g, o.Size); err != nil {
				return fmt.Errorf("synth: %w", err)
			}
		}
	}
	return nil
}

// writeLabels writes Root/labels.csv and returns the summary.
func writeLabels(o Options, subjects []SubjectParams) (Summary, error) {
	sum := Summary{Root: o.Root, Labels: filepath.Join(o.Root, "labels.csv"), Subjects: len(subjects),
		GEIs: len(subjects) * len(o.Views) * o.Seqs, MinAge: subjects[0].Age, MaxAge: subjects[0].Age}
	for _, s := range subjects {
		if s.Male {
			sum.Males++
		} else {
			sum.Females++
		}
		sum.MinAge, sum.MaxAge = min(sum.MinAge, s.Age), max(sum.MaxAge, s.Age)
	}
	err := atomicfile.Write(sum.Labels, func(w io.Writer) error {
		if _, err := io.WriteString(w, "ID,gender,age\n"); err != nil {
			return err
		}
		for _, s := range subjects {
			g := "F"
			if s.Male {
				g = "M"
			}
			if _, err := fmt.Fprintf(w, "%d,%s,%d\n", s.ID, g, s.Age); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Summary{}, fmt.Errorf("synth: write labels %s: %w", sum.Labels, err)
	}
	return sum, nil
}

// Package dataset reads gait-based age estimation datasets (OU-MVLP,
// OULP-Age and plain CSV manifests), validates them, reports their problems
// with file:line precision and feeds their gait energy images (GEIs) to
// training through a deterministic, parallel, memory-bounded Loader.
//
// Genders are api.Gender, the one gender type of gaitord; ParseGender reads
// the label files' "M", "F" and "-".
//
// Image decoding is not done here: callers pass a decode function
// (for gaitord, gei.Load) so the package stays independent of preprocessing.
package dataset

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gaitord/gaitord/api"
)

// MaxAge is the largest age, in years, accepted in a label file.
const MaxAge = 120

// ParseGender parses a label file's gender: "M" or "F" (case-insensitive,
// spaces trimmed), or "-" for unknown. Anything else is an error.
func ParseGender(s string) (api.Gender, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "M":
		return api.Male, nil
	case "F":
		return api.Female, nil
	case "-":
		return api.GenderUnknown, nil
	}
	return api.GenderUnknown, fmt.Errorf("gender %q is not M or F", s)
}

// Split names the partition a sample belongs to.
type Split string

// Split values. SplitNone means the sample is not assigned to train or test
// (a caller may use such samples for validation, see HoldOut).
const (
	SplitNone  Split = ""
	SplitTrain Split = "train"
	SplitTest  Split = "test"
)

// ParseSplit parses "train", "test" or "" (case-insensitive, spaces trimmed).
func ParseSplit(s string) (Split, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "train":
		return SplitTrain, nil
	case "test":
		return SplitTest, nil
	case "":
		return SplitNone, nil
	}
	return SplitNone, fmt.Errorf("split %q is not train, test or empty", s)
}

// Sample is one labelled GEI.
type Sample struct {
	// Path is the image file, as joined from the dataset root (or manifest folder).
	Path string
	// Age is the age in years, 0..MaxAge.
	Age int
	// Gender is the subject's gender (api.GenderUnknown for "-").
	Gender api.Gender
	// Subject identifies the person; samples of one subject never straddle
	// train and test. OU-MVLP subjects are 5-digit strings ("00001").
	Subject string
	// View is the camera angle ("000".."270" for OU-MVLP), or "" when unknown.
	View string
	// Seq is the sequence ("00" or "01" for OU-MVLP), or "" when unknown.
	Seq string
	// Split is the partition the sample belongs to.
	Split Split
}

// Dataset is the result of opening a dataset: its valid samples and a report
// of everything that was refused.
type Dataset struct {
	// Format is "oumvlp", "oulp-age" or "manifest".
	Format string
	// Root is the dataset root folder (for a manifest, the manifest's folder).
	Root string
	// Source is what the dataset was opened from: the manifest file, or the
	// root folder of the other formats. Messages about the dataset name it.
	Source string
	// Samples holds the valid samples, in a deterministic order.
	Samples []Sample
	// Report lists the problems found and the samples skipped.
	Report Report
}

// Problem is one defect found in a dataset, located in a file and, for text
// files, a 1-based line (0 when the problem concerns a whole file).
type Problem struct {
	// File is the file the problem was found in or concerns.
	File string
	// Line is the 1-based line in File, or 0.
	Line int
	// Msg describes the problem.
	Msg string
}

// String renders the problem as "file:line: msg" (or "file: msg" when Line is 0).
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Report collects per-sample problems. Samples with problems are excluded
// from Dataset.Samples (except for problems added by Check, which only reports).
type Report struct {
	// Problems lists every defect, in a deterministic order.
	Problems []Problem
	// Skipped counts excluded samples (or ignored label rows) by reason.
	Skipped map[string]int
	// Missing are the samples left out only because their image file does
	// not exist (or is not a regular file): labelled, with a known age, in
	// their split. They are also counted under SkipMissingFile and listed
	// in Problems. (OU-MVLP label rows without any GEI are not missing
	// images: the dataset does not have every subject in every view.)
	Missing []Sample
}

// Reasons counted in Report.Skipped.
const (
	// SkipUnknownAge counts samples excluded because their age is "-".
	SkipUnknownAge = "unknown age"
	// SkipInvalidLabel counts samples (or rows) excluded because their label row has a problem.
	SkipInvalidLabel = "invalid label"
	// SkipNoLabel counts images excluded because no label row names their subject.
	SkipNoLabel = "no label"
	// SkipLabelNoImage counts valid label rows with no image (not a problem for OU-MVLP).
	SkipLabelNoImage = "label without GEI"
	// SkipMissingFile counts labelled images that do not exist.
	SkipMissingFile = "missing file"
	// SkipBothSplits counts samples excluded because their subject is in train and test.
	SkipBothSplits = "subject in both splits"
	// SkipUnexpected counts files or folders that do not belong in the tree.
	SkipUnexpected = "unexpected entry"
	// SkipDuplicate counts label rows ignored because their ID was already seen.
	SkipDuplicate = "duplicate"
)

// Err returns nil when there are no problems, and otherwise an error
// "N problems, first: file:line: msg".
func (r Report) Err() error {
	switch len(r.Problems) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("1 problem: %s", r.Problems[0])
	}
	return fmt.Errorf("%d problems, first: %s", len(r.Problems), r.Problems[0])
}

func (r *Report) problem(file string, line int, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (r *Report) skip(reason string, n int) {
	if n == 0 {
		return
	}
	if r.Skipped == nil {
		r.Skipped = make(map[string]int)
	}
	r.Skipped[reason] += n
}

func (r Report) clone() Report {
	c := Report{Problems: append([]Problem(nil), r.Problems...), Missing: append([]Sample(nil), r.Missing...)}
	for k, v := range r.Skipped {
		c.skip(k, v)
	}
	return c
}

// MissingIn returns the samples of split s whose image file is missing
// (Report.Missing); SplitAll means every split.
func (d *Dataset) MissingIn(s Split) []Sample {
	var out []Sample
	for _, m := range d.Report.Missing {
		if s == SplitAll || m.Split == s {
			out = append(out, m)
		}
	}
	return out
}

// SplitAll stands for every split in MissingIn and NoSamplesError; it is
// never a sample's split.
const SplitAll Split = "all"

// NoSamplesError is the error for a dataset with no samples in split s
// (SplitAll: none at all). It names the dataset's Source and says why: the
// commonest reason rows were skipped, with the first problem, or, when the
// dataset has samples, which splits they are in. For example
//
//	manifest data/m.csv has no test samples: 40 rows skipped, most (38) for "missing file"; first problem: data/m.csv:2: file /g/a.png: does not exist
func (d *Dataset) NoSamplesError(s Split) error {
	what := "samples"
	switch s {
	case SplitTrain:
		what = "training samples"
	case SplitTest:
		what = "test samples"
	}
	name := d.Source
	if name == "" {
		name = d.Root
	}
	head := fmt.Sprintf("%s %s has no %s", d.Format, name, what)
	if d.Format == "" {
		head = fmt.Sprintf("dataset %s has no %s", name, what)
	}
	if len(d.Samples) > 0 {
		bySplit := map[Split]int{}
		for _, x := range d.Samples {
			bySplit[x.Split]++
		}
		var parts []string
		for _, sp := range []Split{SplitTrain, SplitTest, SplitNone} {
			if n := bySplit[sp]; n > 0 {
				label := string(sp)
				if sp == SplitNone {
					label = "no split"
				}
				parts = append(parts, fmt.Sprintf("%s: %d", label, n))
			}
		}
		return fmt.Errorf("%s: its %d samples are in other splits (%s)", head, len(d.Samples), strings.Join(parts, ", "))
	}
	total, reason, most := 0, "", 0
	for k, v := range d.Report.Skipped {
		total += v
		if v > most || (v == most && k < reason) {
			reason, most = k, v
		}
	}
	msg := head
	if total > 0 {
		msg += fmt.Sprintf(": %d rows skipped, most (%d) for %q", total, most, reason)
	} else {
		msg += ": it lists none"
	}
	if len(d.Report.Problems) > 0 {
		msg += fmt.Sprintf("; first problem: %s", d.Report.Problems[0])
	}
	return errors.New(msg)
}

// MeanAge is the mean age of samples, 0 for none: the mean-age baseline
// that evaluation compares against (see metrics.Summary.BaselineMAE).
func MeanAge(samples []Sample) float64 {
	if len(samples) == 0 {
		return 0
	}
	sum := 0.0
	for _, s := range samples {
		sum += float64(s.Age)
	}
	return sum / float64(len(samples))
}

// MissingImagesError reports images of a split that its labels name but that
// do not exist: an evaluation without them would cover a smaller set than
// the benchmark's.
type MissingImagesError struct {
	Format  string   // the dataset's Format
	Source  string   // the dataset's Source
	Split   Split    // the split evaluated (SplitAll: every split)
	Missing []Sample // the labelled samples without an image
	Total   int      // labelled samples of the split, missing ones included
}

func (e *MissingImagesError) Error() string {
	what := "labelled images"
	if e.Split != SplitAll {
		what = fmt.Sprintf("labelled %s images", e.Split)
	}
	return fmt.Sprintf("%s %s: %d of the %d %s are missing (first: %s)", e.Format, e.Source, len(e.Missing), e.Total, what, e.Missing[0].Path)
}

// EvalSplit returns the samples of split s (SplitAll: every sample) to
// evaluate on, and how many of the split's labelled images are missing
// (Report.Missing). Missing images are an error (*MissingImagesError) unless
// allowMissing; a split without samples is NoSamplesError. Samples without
// an age label are not in either count: they are skipped, as always, and
// counted in Report.Skipped.
func (d *Dataset) EvalSplit(s Split, allowMissing bool) (samples []Sample, missing int, err error) {
	if s == SplitAll {
		samples = d.Samples
	} else {
		samples = d.Split(s)
	}
	m := d.MissingIn(s)
	if len(m) > 0 && !allowMissing {
		name := d.Source
		if name == "" {
			name = d.Root
		}
		return nil, len(m), &MissingImagesError{Format: d.Format, Source: name, Split: s, Missing: m, Total: len(samples) + len(m)}
	}
	if len(samples) == 0 {
		return nil, len(m), d.NoSamplesError(s)
	}
	return samples, len(m), nil
}

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
	c := Report{Problems: append([]Problem(nil), r.Problems...)}
	for k, v := range r.Skipped {
		c.skip(k, v)
	}
	return c
}

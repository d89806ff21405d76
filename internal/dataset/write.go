package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/atomicfile"
)

// SubjectLabel is a subject's row in a label file with OU-MVLP's schema.
type SubjectLabel struct {
	// Gender is the subject's gender (api.GenderUnknown for "-").
	Gender api.Gender
	// Age is the age in years; meaningful only when AgeKnown.
	Age int
	// AgeKnown is false when the label file gives "-".
	AgeKnown bool
	// Line is the row's 1-based line in the file.
	Line int
}

// ReadSubjectLabels reads a label file with OU-MVLP's schema (header
// ID,gender,age in any order and case, integer IDs with or without zero
// padding, gender M/F/-, age an integer or "-"), keyed by ID. It parses as
// OpenOUMVLP does but strictly: for a file a caller turns into another
// file (a manifest), any bad or duplicate row is an error naming file:line
// (the first problem and how many there are).
func ReadSubjectLabels(path string) (map[int]SubjectLabel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	rows, probs, err := parseOUMVLPLabels(path, data)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if len(probs) > 0 {
		sortProblems(probs)
		return nil, fmt.Errorf("labels: %w", Report{Problems: probs}.Err())
	}
	out := make(map[int]SubjectLabel, len(rows))
	for id, r := range rows {
		out[id] = SubjectLabel{Gender: r.gender, Age: r.age, AgeKnown: r.ageKnown, Line: r.line}
	}
	return out, nil
}

// IsOUMVLPSubject reports whether s is an OU-MVLP subject as used in GEI
// file names: exactly five ASCII digits ("00001").
func IsOUMVLPSubject(s string) bool {
	if len(s) != 5 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// manifestHeader is the header WriteManifest writes; OpenManifest reads it.
var manifestHeader = []string{"path", "age", "gender", "subject", "view", "seq", "split"}

// WriteManifest writes samples as a manifest CSV at path, the format
// OpenManifest reads: header path,age,gender,subject,view,seq,split, one row
// per sample in the given order; paths relative to the manifest's folder
// with forward slashes; gender M, F or -. Every sample path must lie inside
// the manifest's folder, every age within 0..MaxAge, every split a Split
// value. The file is written atomically; on error nothing is written.
func WriteManifest(path string, samples []Sample) error {
	dir := filepath.Dir(path)
	records := make([][]string, 0, len(samples)+1)
	records = append(records, manifestHeader)
	for i, s := range samples {
		rel, err := filepath.Rel(dir, s.Path)
		if err != nil || !filepath.IsLocal(rel) {
			return fmt.Errorf("write manifest %s: sample %d: %s is outside the manifest folder %s", path, i, s.Path, dir)
		}
		if s.Age < 0 || s.Age > MaxAge {
			return fmt.Errorf("write manifest %s: sample %d (%s): age %d outside 0..%d", path, i, s.Path, s.Age, MaxAge)
		}
		gender, err := genderLetter(s.Gender)
		if err != nil {
			return fmt.Errorf("write manifest %s: sample %d (%s): %w", path, i, s.Path, err)
		}
		switch s.Split {
		case SplitNone, SplitTrain, SplitTest:
		default:
			return fmt.Errorf("write manifest %s: sample %d (%s): split %q is not train, test or empty", path, i, s.Path, s.Split)
		}
		records = append(records, []string{filepath.ToSlash(rel), strconv.Itoa(s.Age), gender, s.Subject, s.View, s.Seq, string(s.Split)})
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.WriteAll(records); err != nil {
			return err
		}
		return cw.Error()
	})
	if err != nil {
		return fmt.Errorf("write manifest %s: %w", path, err)
	}
	return nil
}

// genderLetter is the label-file letter ParseGender reads back.
func genderLetter(g api.Gender) (string, error) {
	switch g {
	case api.Male:
		return "M", nil
	case api.Female:
		return "F", nil
	case api.GenderUnknown:
		return "-", nil
	}
	return "", errors.New(g.String() + " is not a gender")
}

package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gaitord/gaitord/api"
)

// OULPOptions configures OpenOULPAge. Empty fields take the defaults below;
// relative paths are used as given (relative to the working directory).
type OULPOptions struct {
	// GEIDir holds <ID>.png files. Default: ROOT/GEI.
	GEIDir string
	// Labels is the label CSV (columns id, age, gender). Default: ROOT/Age_gender_info.csv.
	Labels string
	// TrainList lists training IDs, one per line. Default: ROOT/GEI_IDList_train.txt.
	TrainList string
	// TestList lists test IDs, one per line. Default: ROOT/GEI_IDList_test.txt.
	TestList string
}

// oulpLabel is a valid row of the OULP-Age label file.
type oulpLabel struct {
	line     int
	gender   api.Gender
	age      int
	ageKnown bool
}

// OpenOULPAge opens an OULP-Age tree. IDs are strings matched exactly after
// trimming ("0001" and "1" differ). One sample per labelled ID, in label-file
// order, with the split given by the ID lists (SplitNone if in neither).
// Problems: bad label rows, duplicate IDs, labelled IDs without GEI, GEIs
// without label, listed IDs without label, IDs in both lists (excluded).
// The error is non-nil only if the root, GEI folder, label file or a list
// cannot be read, or the label header lacks a column.
func OpenOULPAge(root string, o OULPOptions) (*Dataset, error) {
	if err := checkDir(root); err != nil {
		return nil, fmt.Errorf("oulp-age: %w", err)
	}
	def := func(p, name string) string {
		if p == "" {
			return filepath.Join(root, name)
		}
		return p
	}
	geiDir := def(o.GEIDir, "GEI")
	labelsPath := def(o.Labels, "Age_gender_info.csv")
	lists := [2]string{def(o.TrainList, "GEI_IDList_train.txt"), def(o.TestList, "GEI_IDList_test.txt")}

	ds := &Dataset{Format: "oulp-age", Root: root, Source: root}
	rep := &ds.Report

	data, err := os.ReadFile(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("oulp-age: labels: %w", err)
	}
	t, rows, probs, err := readTable(labelsPath, data, []string{"id", "age", "gender"})
	if err != nil {
		return nil, fmt.Errorf("oulp-age: %w", err)
	}
	rep.Problems = probs
	labels := make(map[string]oulpLabel, len(rows))
	seen := make(map[string]int, len(rows)) // every ID with a row, valid or not -> first line
	var order []string
	for _, r := range rows {
		id := t.col(r, "id")
		if err := checkID(id); err != nil {
			rep.problem(labelsPath, r.line, "%v", err)
			rep.skip(SkipInvalidLabel, 1)
			continue
		}
		if first, dup := seen[id]; dup {
			rep.problem(labelsPath, r.line, "duplicate ID %q (first at line %d)", id, first)
			rep.skip(SkipDuplicate, 1)
			continue
		}
		seen[id] = r.line
		l := oulpLabel{line: r.line}
		var gerr, aerr error
		l.gender, gerr = ParseGender(t.col(r, "gender"))
		l.age, l.ageKnown, aerr = parseAge(t.col(r, "age"))
		if gerr != nil || aerr != nil {
			for _, e := range []error{gerr, aerr} {
				if e != nil {
					rep.problem(labelsPath, r.line, "%v", e)
				}
			}
			rep.skip(SkipInvalidLabel, 1)
			continue
		}
		labels[id] = l
		order = append(order, id)
	}

	// Splits.
	split := make(map[string]Split)
	listLine := make(map[string]int)
	excluded := make(map[string]bool)
	for i, lp := range lists {
		s := []Split{SplitTrain, SplitTest}[i]
		data, err := os.ReadFile(lp)
		if err != nil {
			return nil, fmt.Errorf("oulp-age: %s list: %w", s, err)
		}
		entries, probs := readIDList(lp, data)
		rep.Problems = append(rep.Problems, probs...)
		inList := make(map[string]int)
		for _, e := range entries {
			if first, dup := inList[e.id]; dup {
				rep.problem(lp, e.line, "duplicate ID %q (first at line %d)", e.id, first)
				continue
			}
			inList[e.id] = e.line
			if _, ok := seen[e.id]; !ok {
				rep.problem(lp, e.line, "ID %q has no row in %s", e.id, labelsPath)
				continue
			}
			if prev, ok := split[e.id]; ok && prev != s {
				rep.problem(lp, e.line, "ID %q is in both %s (%s:%d) and %s", e.id, prev, lists[0], listLine[e.id], s)
				excluded[e.id] = true
				continue
			}
			split[e.id] = s
			listLine[e.id] = e.line
		}
	}

	// Images.
	files, err := os.ReadDir(geiDir)
	if err != nil {
		return nil, fmt.Errorf("oulp-age: %w", err)
	}
	have := make(map[string]bool, len(files))
	for _, f := range files {
		name := f.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		id, ok := strings.CutSuffix(name, ".png")
		if !ok || f.IsDir() {
			rep.problem(filepath.Join(geiDir, name), 0, "unexpected entry (want <ID>.png)")
			rep.skip(SkipUnexpected, 1)
			continue
		}
		have[id] = true
		if _, ok := seen[id]; !ok {
			rep.problem(filepath.Join(geiDir, name), 0, "ID %q has a GEI but no row in %s", id, labelsPath)
			rep.skip(SkipNoLabel, 1)
		}
	}

	for _, id := range order {
		l := labels[id]
		path := filepath.Join(geiDir, id+".png")
		switch {
		case !have[id]:
			rep.problem(labelsPath, l.line, "GEI %s does not exist", path)
			rep.skip(SkipMissingFile, 1)
			if l.ageKnown && !excluded[id] {
				rep.Missing = append(rep.Missing, Sample{Path: path, Age: l.age, Gender: l.gender, Subject: id, Split: split[id]})
			}
		case excluded[id]:
			rep.skip(SkipBothSplits, 1)
		case !l.ageKnown:
			rep.skip(SkipUnknownAge, 1)
		default:
			ds.Samples = append(ds.Samples, Sample{
				Path: path, Age: l.age, Gender: l.gender, Subject: id, Split: split[id],
			})
		}
	}
	sortProblems(rep.Problems)
	return ds, nil
}

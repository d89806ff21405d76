package dataset

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/api"
)

// OUMVLPViews lists the 14 OU-MVLP camera views, as used in folder names.
var OUMVLPViews = []string{"000", "015", "030", "045", "060", "075", "090", "180", "195", "210", "225", "240", "255", "270"}

// OUMVLPSeqs lists the two OU-MVLP sequences, as used in folder names.
var OUMVLPSeqs = []string{"00", "01"}

// OUMVLPOptions configures OpenOUMVLP.
type OUMVLPOptions struct {
	// Labels is the label CSV (header ID,gender,age). Default: ROOT/labels.csv.
	Labels string
	// Views keeps only these views ("000", "090", ...). Nil or empty keeps all.
	Views []string
}

// OUMVLPSplit returns the official OU-MVLP age-estimation split of a subject:
// odd IDs train, even IDs test, and subject 10307 test although odd.
func OUMVLPSplit(id int) Split {
	if id == 10307 || id%2 == 0 {
		return SplitTest
	}
	return SplitTrain
}

// oumvlpLabel is one row of the OU-MVLP label file.
type oumvlpLabel struct {
	line     int
	gender   api.Gender
	age      int
	ageKnown bool
	valid    bool // false: the row has a problem; its subject's GEIs are skipped
}

// parseOUMVLPLabels parses an OU-MVLP label CSV (columns ID, gender, age in
// any order and case). IDs are integers without (or with) zero padding.
// Rows with problems are kept with valid=false; duplicates keep the first row.
func parseOUMVLPLabels(name string, data []byte) (map[int]oumvlpLabel, []Problem, error) {
	t, rows, probs, err := readTable(name, data, []string{"id", "gender", "age"})
	if err != nil {
		return nil, nil, err
	}
	labels := make(map[int]oumvlpLabel, len(rows))
	bad := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	for _, r := range rows {
		idText := t.col(r, "id")
		id, err := strconv.Atoi(idText)
		if err != nil || strings.HasPrefix(idText, "+") {
			bad(r.line, "ID %q is not an integer", idText)
			continue
		}
		if id < 0 || id > 99999 {
			bad(r.line, "ID %d is out of range 0..99999", id)
			continue
		}
		if prev, dup := labels[id]; dup {
			bad(r.line, "duplicate ID %d (first at line %d)", id, prev.line)
			continue
		}
		l := oumvlpLabel{line: r.line, valid: true}
		if l.gender, err = ParseGender(t.col(r, "gender")); err != nil {
			bad(r.line, "%v", err)
			l.valid = false
		}
		if l.age, l.ageKnown, err = parseAge(t.col(r, "age")); err != nil {
			bad(r.line, "%v", err)
			l.valid = false
		}
		labels[id] = l
	}
	return labels, probs, nil
}

// OpenOUMVLP opens an OU-MVLP tree: GEIs at ROOT/GEI/<view>-<seq>/<5-digit
// subject>.png and labels in o.Labels. Samples get the official split
// (OUMVLPSplit) and are ordered by subject, view and seq. Samples of subjects
// with unknown age are skipped; GEIs of unlabelled subjects are problems;
// label rows without GEI are counted in Report.Skipped[SkipLabelNoImage].
// The error is non-nil only if the root, the GEI folder or the label file
// cannot be read, the label header is wrong, or o.Views names an unknown view.
func OpenOUMVLP(root string, o OUMVLPOptions) (*Dataset, error) {
	if err := checkDir(root); err != nil {
		return nil, fmt.Errorf("oumvlp: %w", err)
	}
	wantView := make(map[string]bool)
	for _, v := range o.Views {
		if !slices.Contains(OUMVLPViews, v) {
			return nil, fmt.Errorf("oumvlp: unknown view %q (views are %s)", v, strings.Join(OUMVLPViews, ","))
		}
		wantView[v] = true
	}
	labelsPath := o.Labels
	if labelsPath == "" {
		labelsPath = filepath.Join(root, "labels.csv")
	}
	data, err := os.ReadFile(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("oumvlp: labels: %w", err)
	}
	labels, probs, err := parseOUMVLPLabels(labelsPath, data)
	if err != nil {
		return nil, fmt.Errorf("oumvlp: %w", err)
	}
	ds := &Dataset{Format: "oumvlp", Root: root, Source: root}
	rep := &ds.Report
	rep.Problems = probs

	geiDir := filepath.Join(root, "GEI")
	folders, err := os.ReadDir(geiDir)
	if err != nil {
		return nil, fmt.Errorf("oumvlp: %w", err)
	}
	used := make(map[int]bool)
	unlabelled := make(map[int]bool)
	for _, f := range folders {
		fpath := filepath.Join(geiDir, f.Name())
		if strings.HasPrefix(f.Name(), ".") {
			continue // hidden files such as .DS_Store
		}
		view, seq, ok := strings.Cut(f.Name(), "-")
		if !f.IsDir() || !ok || !slices.Contains(OUMVLPViews, view) || !slices.Contains(OUMVLPSeqs, seq) {
			rep.problem(fpath, 0, "unexpected entry in GEI folder (want <view>-<seq> folders such as 000-00)")
			rep.skip(SkipUnexpected, 1)
			continue
		}
		if len(wantView) > 0 && !wantView[view] {
			continue
		}
		files, err := os.ReadDir(fpath)
		if err != nil {
			rep.problem(fpath, 0, "cannot read folder: %v", err)
			continue
		}
		for _, e := range files {
			name := e.Name()
			path := filepath.Join(fpath, name)
			if strings.HasPrefix(name, ".") {
				continue
			}
			id, ok := oumvlpSubject(name)
			if !ok || e.IsDir() {
				rep.problem(path, 0, "unexpected entry (want <5-digit subject>.png)")
				rep.skip(SkipUnexpected, 1)
				continue
			}
			l, ok := labels[id]
			switch {
			case !ok:
				if !unlabelled[id] {
					unlabelled[id] = true
					rep.problem(path, 0, "subject %d has a GEI but no row in %s", id, labelsPath)
				}
				rep.skip(SkipNoLabel, 1)
				continue
			case !l.valid:
				used[id] = true
				rep.skip(SkipInvalidLabel, 1)
				continue
			case !l.ageKnown:
				used[id] = true
				rep.skip(SkipUnknownAge, 1)
				continue
			}
			used[id] = true
			ds.Samples = append(ds.Samples, Sample{
				Path: path, Age: l.age, Gender: l.gender,
				Subject: name[:5], View: view, Seq: seq, Split: OUMVLPSplit(id),
			})
		}
	}
	for id, l := range labels {
		if l.valid && !used[id] {
			rep.skip(SkipLabelNoImage, 1)
		}
	}
	slices.SortFunc(ds.Samples, func(a, b Sample) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.View, b.View), cmp.Compare(a.Seq, b.Seq))
	})
	sortProblems(rep.Problems)
	return ds, nil
}

// oumvlpSubject parses "01234.png".
func oumvlpSubject(name string) (int, bool) {
	stem, ok := strings.CutSuffix(name, ".png")
	if !ok || !IsOUMVLPSubject(stem) {
		return 0, false
	}
	id, err := strconv.Atoi(stem)
	return id, err == nil
}

func checkDir(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("root %s is not a directory", root)
	}
	return nil
}

// sortProblems orders problems by file, then line, keeping the order of
// problems on the same line.
func sortProblems(p []Problem) {
	slices.SortStableFunc(p, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

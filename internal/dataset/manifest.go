package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gaitord/gaitord/api"
)

// ManifestOptions configures OpenManifest.
type ManifestOptions struct {
	// AllowOutside accepts relative paths that climb out of the manifest's
	// folder ("../x.png"). By default they are refused. Absolute paths are
	// always accepted: naming a file by its absolute path is an explicit
	// choice.
	AllowOutside bool
}

// manifestRow is a valid manifest record before the file-existence check.
type manifestRow struct {
	line     int
	path     string // cleaned, as written (relative to the manifest folder unless absolute)
	age      int
	ageKnown bool
	gender   api.Gender
	subject  string
	view     string
	seq      string
	split    Split
}

// parseManifest parses a manifest CSV: required columns path, age, gender;
// optional subject, view, seq, split; any order and case; other columns are
// ignored. It checks every field, refuses relative paths escaping the
// manifest folder unless allowOutside, and refuses duplicate paths (after
// cleaning).
func parseManifest(name string, data []byte, allowOutside bool) ([]manifestRow, []Problem, *table, error) {
	t, rows, probs, err := readTable(name, data, []string{"path", "age", "gender"})
	if err != nil {
		return nil, nil, nil, err
	}
	bad := func(line int, format string, args ...any) {
		probs = append(probs, Problem{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	seen := make(map[string]int, len(rows))
	out := make([]manifestRow, 0, len(rows))
	for _, r := range rows {
		m := manifestRow{line: r.line}
		raw := t.col(r, "path")
		ok := true
		switch {
		case raw == "":
			bad(r.line, "empty path")
			ok = false
		case strings.ContainsRune(raw, 0):
			bad(r.line, "path %q contains a NUL byte", raw)
			ok = false
		default:
			m.path = filepath.Clean(filepath.FromSlash(raw))
			if !allowOutside && !filepath.IsAbs(m.path) && !filepath.IsLocal(m.path) {
				bad(r.line, "path %q is outside the manifest folder (set data.allow_outside_root=true to accept it)", raw)
				ok = false
			}
		}
		if ok {
			if first, dup := seen[m.path]; dup {
				bad(r.line, "duplicate path %q (first at line %d)", raw, first)
				ok = false
			} else {
				seen[m.path] = r.line
			}
		}
		var err error
		if m.age, m.ageKnown, err = parseAge(t.col(r, "age")); err != nil {
			bad(r.line, "%v", err)
			ok = false
		}
		if m.gender, err = ParseGender(t.col(r, "gender")); err != nil {
			bad(r.line, "%v", err)
			ok = false
		}
		if m.split, err = ParseSplit(t.col(r, "split")); err != nil {
			bad(r.line, "%v", err)
			ok = false
		}
		m.subject, m.view, m.seq = t.col(r, "subject"), t.col(r, "view"), t.col(r, "seq")
		if ok {
			out = append(out, m)
		}
	}
	return out, probs, t, nil
}

// OpenManifest opens a CSV manifest. Relative paths are relative to the
// manifest's folder (Dataset.Root); absolute paths are taken as they are.
// Samples keep the manifest order. Rows with problems, missing files (also
// listed in Report.Missing), unknown age ("-"), and all rows of a subject
// listed in both train and test are excluded. The error is non-nil only if the manifest
// cannot be read or its header lacks path, age or gender.
func OpenManifest(csvPath string, o ManifestOptions) (*Dataset, error) {
	data, err := os.ReadFile(csvPath)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	rows, probs, _, err := parseManifest(csvPath, data, o.AllowOutside)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	dir := filepath.Dir(csvPath)
	ds := &Dataset{Format: "manifest", Root: dir, Source: csvPath}
	rep := &ds.Report
	rep.Problems = probs
	if n := countRows(csvPath, probs); n > 0 {
		rep.skip(SkipInvalidLabel, n)
	}

	// A subject in both train and test excludes all its rows.
	type where struct {
		split Split
		line  int
	}
	firstSplit := make(map[string]where)
	both := make(map[string]bool)
	for _, m := range rows {
		if m.subject == "" || m.split == SplitNone {
			continue
		}
		w, ok := firstSplit[m.subject]
		if !ok {
			firstSplit[m.subject] = where{m.split, m.line}
		} else if w.split != m.split && !both[m.subject] {
			both[m.subject] = true
			rep.problem(csvPath, m.line, "subject %q is in both %s (line %d) and %s", m.subject, w.split, w.line, m.split)
		}
	}

	for _, m := range rows {
		path := m.path
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if both[m.subject] {
			rep.skip(SkipBothSplits, 1)
			continue
		}
		s := Sample{
			Path: path, Age: m.age, Gender: m.gender,
			Subject: m.subject, View: m.view, Seq: m.seq, Split: m.split,
		}
		fi, err := os.Stat(path)
		if err == nil && fi.IsDir() {
			rep.problem(csvPath, m.line, "%s is a directory", path)
		} else if err != nil {
			rep.problem(csvPath, m.line, "file %s: %v", path, statReason(err))
		}
		if err != nil || fi.IsDir() {
			rep.skip(SkipMissingFile, 1)
			if m.ageKnown {
				rep.Missing = append(rep.Missing, s)
			}
			continue
		}
		if !m.ageKnown {
			rep.skip(SkipUnknownAge, 1)
			continue
		}
		ds.Samples = append(ds.Samples, s)
	}
	sortProblems(rep.Problems)
	return ds, nil
}

// countRows returns how many distinct lines have problems (refused rows).
func countRows(file string, probs []Problem) int {
	lines := make(map[int]bool)
	for _, p := range probs {
		if p.File == file && p.Line > 0 {
			lines[p.Line] = true
		}
	}
	return len(lines)
}

func statReason(err error) string {
	if os.IsNotExist(err) {
		return "does not exist"
	}
	return err.Error()
}

package dataset

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

func buildManifest(t *testing.T) (top, csvPath string) {
	top = t.TempDir()
	dir := filepath.Join(top, "m")
	for i, f := range []string{"a/x1.png", "a/x2.png", "b/y1.png", "a/x3.png", "a/x4.png", "b/z1.png", "b/z2.png", "a/x5.png", "a/x6.png", "a/x7.png"} {
		tinyPNG(t, filepath.Join(dir, filepath.FromSlash(f)), i)
	}
	tinyPNG(t, filepath.Join(top, "outside.png"), 99)
	tinyPNG(t, filepath.Join(top, "abs.png"), 98)
	if err := os.MkdirAll(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	csvPath = filepath.Join(dir, "manifest.csv")
	writeFile(t, csvPath, "\uFEFFsplit, Path ,AGE,gender,subject,view,extra\r\n"+strings.Join([]string{
		"train,a/x1.png,20,M,s1,000,ignored",                       // 2
		"train, a/x2.png ,21,f,s2,000,",                            // 3
		"test,b/y1.png,30,M,s3,090,",                               // 4
		"test,./a/../b/y1.png,30,M,s3,090,",                        // 5 duplicate path
		"train,../outside.png,40,M,s4,000,",                        // 6 escapes
		"train," + filepath.Join(top, "abs.png") + ",40,M,s5,000,", // 7 absolute: accepted
		"train,a/missing.png,22,F,s6,000,",                         // 8 missing file
		"train,a/x3.png,22.5,F,s7,000,",                            // 9 not an integer
		"train,a/x4.png,22,Q,s8,000,",                              // 10 unknown gender
		"train,b/z1.png,33,M,s9,000,",                              // 11 s9 in train...
		"test,b/z2.png,33,M,s9,000,",                               // 12 ...and test
		"val,a/x5.png,44,F,s10,000,",                               // 13 unknown split
		",a/x6.png,50,F,,,",                                        // 14 unassigned, no subject
		"TRAIN,a/x7.png,-,M,s11,,",                                 // 15 unknown age
		"train,adir,20,M,s12,,",                                    // 16 directory
		"train,,20,M,s13,,",                                        // 17 empty path
		"train,\"a/x1.png\",20,M,s1,000,x,more",                    // 18 too many fields
		"train,a\"b.png,20,M,s1,000,",                              // 19 bare quote
	}, "\r\n")+"\r\n\r\n")
	return top, csvPath
}

func TestOpenManifest(t *testing.T) {
	top, csvPath := buildManifest(t)
	dir := filepath.Dir(csvPath)
	ds, err := OpenManifest(csvPath, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := func(f string) string { return filepath.Join(dir, filepath.FromSlash(f)) }
	want := []Sample{
		{p("a/x1.png"), 20, api.Male, "s1", "000", "", SplitTrain},
		{p("a/x2.png"), 21, api.Female, "s2", "000", "", SplitTrain},
		{p("b/y1.png"), 30, api.Male, "s3", "090", "", SplitTest},
		{filepath.Join(top, "abs.png"), 40, api.Male, "s5", "000", "", SplitTrain},
		{p("a/x6.png"), 50, api.Female, "", "", "", SplitNone},
	}
	if len(ds.Samples) != len(want) {
		t.Fatalf("got %d samples %+v, want %d", len(ds.Samples), ds.Samples, len(want))
	}
	for i := range want {
		if ds.Samples[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, ds.Samples[i], want[i])
		}
	}
	if ds.Root != dir || ds.Format != "manifest" {
		t.Errorf("Root, Format = %q, %q", ds.Root, ds.Format)
	}
	wantProblems(t, dir, ds.Report.Problems, []string{
		`manifest.csv:5: duplicate path "./a/../b/y1.png" (first at line 4)`,
		`manifest.csv:6: path "../outside.png" is outside the manifest folder (set data.allow_outside_root=true to accept it)`,
		`manifest.csv:8: file a/missing.png: does not exist`,
		`manifest.csv:9: age "22.5" is not an integer`,
		`manifest.csv:10: gender "Q" is not M or F`,
		`manifest.csv:12: subject "s9" is in both train (line 11) and test`,
		`manifest.csv:13: split "val" is not train, test or empty`,
		`manifest.csv:16: adir is a directory`,
		`manifest.csv:17: empty path`,
		`manifest.csv:18: record has 8 fields, header has 7`,
		`manifest.csv:19: malformed CSV record: bare " in non-quoted-field`,
	})
	wantSkipped := map[string]int{SkipInvalidLabel: 8, SkipMissingFile: 2, SkipBothSplits: 2, SkipUnknownAge: 1}
	if !maps.Equal(ds.Report.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", ds.Report.Skipped, wantSkipped)
	}
	// The two rows without a usable file, with their labels and splits.
	wantMissing := []Sample{
		{p("a/missing.png"), 22, api.Female, "s6", "000", "", SplitTrain},
		{p("adir"), 20, api.Male, "s12", "", "", SplitTrain},
	}
	if !slices.Equal(ds.Report.Missing, wantMissing) {
		t.Errorf("Missing = %+v, want %+v", ds.Report.Missing, wantMissing)
	}
	if m := ds.MissingIn(SplitTest); len(m) != 0 {
		t.Errorf("MissingIn(test) = %+v", m)
	}
	if m := ds.MissingIn(SplitAll); len(m) != 2 {
		t.Errorf("MissingIn(all) = %+v", m)
	}
	if ds.Source != csvPath {
		t.Errorf("Source = %q, want the manifest %q", ds.Source, csvPath)
	}

	// AllowOutside accepts ../outside.png as well.
	ds, err = OpenManifest(csvPath, ManifestOptions{AllowOutside: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range ds.Samples {
		if s.Path == filepath.Join(top, "outside.png") && s.Subject == "s4" && s.Age == 40 {
			found = true
		}
	}
	if !found {
		t.Errorf("AllowOutside: outside.png not accepted: %+v", ds.Samples)
	}
	for _, pr := range ds.Report.Problems {
		if strings.Contains(pr.Msg, "outside") {
			t.Errorf("AllowOutside: unexpected problem %s", pr)
		}
	}
}

// A manifest of absolute paths is read as it is; when nothing survives, the
// error names the manifest and the commonest reason, not "dataset .".
func TestManifestOfAbsolutePaths(t *testing.T) {
	geis, elsewhere := t.TempDir(), t.TempDir()
	var rows []string
	for i := range 4 {
		p := filepath.Join(geis, fmt.Sprintf("%d.png", i))
		tinyPNG(t, p, i)
		rows = append(rows, fmt.Sprintf("%s,%d,M,s%d,%s", p, 20+i, i, []string{"train", "test"}[i%2]))
	}
	m := filepath.Join(elsewhere, "m.csv")
	writeFile(t, m, "path,age,gender,subject,split\n"+strings.Join(rows, "\n")+"\n")
	ds, err := OpenManifest(m, ManifestOptions{})
	if err != nil || len(ds.Samples) != 4 || len(ds.Report.Problems) != 0 || ds.Samples[1].Path != filepath.Join(geis, "1.png") {
		t.Fatalf("absolute paths: %+v, %v", ds, err)
	}

	// Every file missing: the error names the manifest and the reason.
	gone := filepath.Join(elsewhere, "gone.csv")
	tinyPNG(t, filepath.Join(elsewhere, "c.png"), 9) // there, but without an age
	writeFile(t, gone, "path,age,gender,split\n/nonexistent/a.png,20,M,test\n/nonexistent/b.png,30,F,test\nc.png,-,F,test\n")
	ds, err = OpenManifest(gone, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `manifest ` + gone + ` has no test samples: 3 rows skipped, most (2) for "missing file"; first problem: ` +
		gone + `:2: file /nonexistent/a.png: does not exist`
	if err := ds.NoSamplesError(SplitTest); err == nil || err.Error() != want {
		t.Fatalf("NoSamplesError:\n got %v\nwant %s", err, want)
	}
	if len(ds.MissingIn(SplitTest)) != 2 {
		t.Fatalf("MissingIn(test) = %+v", ds.MissingIn(SplitTest))
	}
	// Evaluating the test split: the missing images are an error unless
	// allowed; then the split is still empty.
	_, n, err := ds.EvalSplit(SplitTest, false)
	var me *MissingImagesError
	if !errors.As(err, &me) || n != 2 || err.Error() != "manifest "+gone+": 2 of the 2 labelled test images are missing (first: /nonexistent/a.png)" {
		t.Fatalf("EvalSplit(test): %d, %v", n, err)
	}
	if _, n, err := ds.EvalSplit(SplitTest, true); n != 2 || err == nil || !strings.Contains(err.Error(), "has no test samples") {
		t.Fatalf("EvalSplit(test, allowed): %d, %v", n, err)
	}
	// Samples, but all in other splits.
	ds, _ = OpenManifest(m, ManifestOptions{})
	ds.Samples = ds.Split(SplitTrain)
	want = `manifest ` + m + ` has no test samples: its 2 samples are in other splits (train: 2)`
	if err := ds.NoSamplesError(SplitTest); err == nil || err.Error() != want {
		t.Fatalf("NoSamplesError:\n got %v\nwant %s", err, want)
	}
	if got, n, err := ds.EvalSplit(SplitAll, false); err != nil || n != 0 || len(got) != 2 {
		t.Fatalf("EvalSplit(all): %d samples, %d missing, %v", len(got), n, err)
	}
}

// A test split with some images missing: refused, or evaluated without them.
func TestEvalSplitWithMissingImages(t *testing.T) {
	dir := t.TempDir()
	var rows []string
	for i := range 5 {
		p := fmt.Sprintf("%d.png", i)
		if i != 3 {
			tinyPNG(t, filepath.Join(dir, p), i)
		}
		rows = append(rows, fmt.Sprintf("%s,%d,F,test", p, 30+i))
	}
	rows = append(rows, "gone-train.png,40,M,train", "unlabelled.png,-,M,test")
	m := filepath.Join(dir, "m.csv")
	writeFile(t, m, "path,age,gender,split\n"+strings.Join(rows, "\n")+"\n")
	ds, err := OpenManifest(m, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := ds.EvalSplit(SplitTest, false)
	want := "manifest " + m + ": 1 of the 5 labelled test images are missing (first: " + filepath.Join(dir, "3.png") + ")"
	if n != 1 || err == nil || err.Error() != want {
		t.Fatalf("EvalSplit(test): %d, %v\nwant %s", n, err, want)
	}
	got, n, err := ds.EvalSplit(SplitTest, true)
	if err != nil || n != 1 || len(got) != 4 {
		t.Fatalf("EvalSplit(test, allowed): %d samples, %d missing, %v", len(got), n, err)
	}
	if _, n, err := ds.EvalSplit(SplitAll, false); n != 2 || err == nil || !strings.Contains(err.Error(), "2 of the 6 labelled images") {
		t.Fatalf("EvalSplit(all): %d, %v", n, err)
	}
}

func TestOpenManifestFatal(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenManifest(filepath.Join(dir, "none.csv"), ManifestOptions{}); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Errorf("missing manifest: %v", err)
	}
	m := filepath.Join(dir, "m.csv")
	writeFile(t, m, "path,gender\r\na.png,M\r\n")
	if _, err := OpenManifest(m, ManifestOptions{}); err == nil || !strings.Contains(err.Error(), `m.csv:1: missing column "age"`) {
		t.Errorf("missing age column: %v", err)
	}
}

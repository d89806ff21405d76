package dataset

import (
	"maps"
	"os"
	"path/filepath"
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
	if err := os.MkdirAll(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	csvPath = filepath.Join(dir, "manifest.csv")
	writeFile(t, csvPath, "\uFEFFsplit, Path ,AGE,gender,subject,view,extra\r\n"+strings.Join([]string{
		"train,a/x1.png,20,M,s1,000,ignored",    // 2
		"train, a/x2.png ,21,f,s2,000,",         // 3
		"test,b/y1.png,30,M,s3,090,",            // 4
		"test,./a/../b/y1.png,30,M,s3,090,",     // 5 duplicate path
		"train,../outside.png,40,M,s4,000,",     // 6 escapes
		"train,/etc/passwd,40,M,s5,000,",        // 7 absolute
		"train,a/missing.png,22,F,s6,000,",      // 8 missing file
		"train,a/x3.png,22.5,F,s7,000,",         // 9 not an integer
		"train,a/x4.png,22,Q,s8,000,",           // 10 unknown gender
		"train,b/z1.png,33,M,s9,000,",           // 11 s9 in train...
		"test,b/z2.png,33,M,s9,000,",            // 12 ...and test
		"val,a/x5.png,44,F,s10,000,",            // 13 unknown split
		",a/x6.png,50,F,,,",                     // 14 unassigned, no subject
		"TRAIN,a/x7.png,-,M,s11,,",              // 15 unknown age
		"train,adir,20,M,s12,,",                 // 16 directory
		"train,,20,M,s13,,",                     // 17 empty path
		"train,\"a/x1.png\",20,M,s1,000,x,more", // 18 too many fields
		"train,a\"b.png,20,M,s1,000,",           // 19 bare quote
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
		`manifest.csv:7: path "/etc/passwd" is outside the manifest folder (set data.allow_outside_root=true to accept it)`,
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
	wantSkipped := map[string]int{SkipInvalidLabel: 9, SkipMissingFile: 2, SkipBothSplits: 2, SkipUnknownAge: 1}
	if !maps.Equal(ds.Report.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", ds.Report.Skipped, wantSkipped)
	}

	// AllowOutside accepts ../outside.png; /etc/passwd is then only subject to the existence check.
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

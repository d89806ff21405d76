package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

func TestWriteManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := []Sample{
		{Path: filepath.Join(dir, "GEI", "001", "nm-01", "090.png"), Age: 31, Gender: api.Male, Subject: "001", View: "090", Seq: "nm-01", Split: SplitTrain},
		{Path: filepath.Join(dir, "GEI", "002", "bg,01", "000.png"), Age: 0, Gender: api.Female, Subject: "002", View: "000", Seq: "bg,01", Split: SplitTest},
		{Path: filepath.Join(dir, "GEI", "003", "cl \"1\"", "180.png"), Age: MaxAge, Gender: api.GenderUnknown, Subject: "003", View: "180", Seq: "cl \"1\"", Split: SplitNone},
	}
	for i, s := range in {
		tinyPNG(t, s.Path, i)
	}
	csvPath := filepath.Join(dir, "manifest.csv")
	if err := WriteManifest(csvPath, in); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	wantText := "path,age,gender,subject,view,seq,split\n" +
		"GEI/001/nm-01/090.png,31,M,001,090,nm-01,train\n" +
		"\"GEI/002/bg,01/000.png\",0,F,002,000,\"bg,01\",test\n" +
		"\"GEI/003/cl \"\"1\"\"/180.png\",120,-,003,180,\"cl \"\"1\"\"\",\n"
	if string(data) != wantText {
		t.Fatalf("manifest:\n%s\nwant:\n%s", data, wantText)
	}
	ds, err := OpenManifest(csvPath, ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Report.Problems) != 0 {
		t.Fatalf("problems reading back: %v", ds.Report.Problems)
	}
	if !reflect.DeepEqual(ds.Samples, in) {
		t.Fatalf("read back\n%+v\nwant\n%+v", ds.Samples, in)
	}
}

func TestWriteManifestRefuses(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "manifest.csv")
	ok := Sample{Path: filepath.Join(dir, "a.png"), Age: 30, Gender: api.Male}
	for _, c := range []struct {
		name string
		s    Sample
		want string
	}{
		{"outside", Sample{Path: filepath.Join(filepath.Dir(dir), "x.png"), Age: 30, Gender: api.Male}, "outside the manifest folder"},
		{"relative", Sample{Path: "a.png", Age: 30, Gender: api.Male}, "outside the manifest folder"},
		{"age", Sample{Path: ok.Path, Age: MaxAge + 1, Gender: api.Male}, "age 121 outside 0..120"},
		{"negative age", Sample{Path: ok.Path, Age: -1, Gender: api.Male}, "age -1"},
		{"gender", Sample{Path: ok.Path, Age: 3, Gender: api.Gender("robot")}, "robot is not a gender"},
		{"split", Sample{Path: ok.Path, Age: 3, Gender: api.Female, Split: "val"}, `split "val"`},
	} {
		err := WriteManifest(csvPath, []Sample{ok, c.s})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), csvPath) {
			t.Errorf("%s: %v, want an error naming %s and %q", c.name, err, csvPath, c.want)
		}
		if _, err := os.Stat(csvPath); !os.IsNotExist(err) {
			t.Fatalf("%s: a manifest was written: %v", c.name, err)
		}
	}
}

func TestReadSubjectLabels(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "labels.csv")
	writeFile(t, good, "\uFEFFid, Age ,gender\r\n1,25,M\n00002,-,F\n\n3,40,-\n")
	got, err := ReadSubjectLabels(good)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]SubjectLabel{
		1: {Gender: api.Male, Age: 25, AgeKnown: true, Line: 2},
		2: {Gender: api.Female, Line: 3},
		3: {Gender: api.GenderUnknown, Age: 40, AgeKnown: true, Line: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("labels %+v, want %+v", got, want)
	}
	bad := filepath.Join(dir, "bad.csv")
	writeFile(t, bad, "ID,gender,age\n1,M,25\n2,X,30\n1,F,20\n")
	_, err = ReadSubjectLabels(bad)
	if err == nil || !strings.Contains(err.Error(), "2 problems, first: "+bad+":3: gender \"X\" is not M or F") {
		t.Fatalf("bad labels: %v", err)
	}
	if _, err := ReadSubjectLabels(filepath.Join(dir, "none.csv")); err == nil || !strings.Contains(err.Error(), "none.csv") {
		t.Fatalf("missing labels: %v", err)
	}
	noCol := filepath.Join(dir, "nocol.csv")
	writeFile(t, noCol, "ID,gender\n1,M\n")
	if _, err := ReadSubjectLabels(noCol); err == nil || !strings.Contains(err.Error(), "age") {
		t.Fatalf("missing column: %v", err)
	}
}

func TestIsOUMVLPSubject(t *testing.T) {
	for s, want := range map[string]bool{"00001": true, "10307": true, "1": false, "000001": false, "0000a": false, "": false, "٠٠٠٠١": false} {
		if IsOUMVLPSubject(s) != want {
			t.Errorf("IsOUMVLPSubject(%q) = %v, want %v", s, !want, want)
		}
	}
}

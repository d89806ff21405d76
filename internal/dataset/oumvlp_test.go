package dataset

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

func TestOUMVLPSplitRule(t *testing.T) {
	for id, want := range map[int]Split{
		1: SplitTrain, 2: SplitTest, 3: SplitTrain, 10306: SplitTest,
		10307: SplitTest, 10305: SplitTrain, 10309: SplitTrain, 0: SplitTest,
	} {
		if got := OUMVLPSplit(id); got != want {
			t.Errorf("OUMVLPSplit(%d) = %q, want %q", id, got, want)
		}
	}
}

// buildOUMVLP writes a small OU-MVLP tree with broken entries.
func buildOUMVLP(t *testing.T) string {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "labels.csv"), strings.Join([]string{
		"ID,gender,age", // 1
		"1,M,25",        // 2
		"2,F,30",        // 3
		"3,m,-",         // 4 unknown age
		"4,X,40",        // 5 bad gender
		"5,F,abc",       // 6 bad age
		"6,F,-3",        // 7 negative
		"7,M,130",       // 8 absurd
		"10307,F,50",    // 9
		"002,M,31",      // 10 duplicate of 2
		"9,F,22",        // 11 label without GEI
		"11,M,0",        // 12
		"12,F",          // 13 short row
	}, "\n")+"\n")
	for _, f := range []string{
		"000-00/00001.png", "000-01/00001.png", "090-00/00001.png",
		"000-00/00002.png", "000-00/00003.png", "000-00/00004.png",
		"000-00/00008.png", "090-01/00008.png", // unlabelled subject (one problem)
		"000-00/10307.png", "000-00/00011.png", "090-00/00011.png",
	} {
		tinyPNG(t, filepath.Join(root, "GEI", filepath.FromSlash(f)), 1)
	}
	writeFile(t, filepath.Join(root, "GEI", "000-00", "notes.txt"), "x")
	writeFile(t, filepath.Join(root, "GEI", "000-00", ".DS_Store"), "x") // hidden: ignored
	if err := os.MkdirAll(filepath.Join(root, "GEI", "999-00"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestOpenOUMVLP(t *testing.T) {
	root := buildOUMVLP(t)
	ds, err := OpenOUMVLP(root, OUMVLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gei := func(f string) string { return filepath.Join(root, "GEI", filepath.FromSlash(f)) }
	want := []Sample{
		{gei("000-00/00001.png"), 25, api.Male, "00001", "000", "00", SplitTrain},
		{gei("000-01/00001.png"), 25, api.Male, "00001", "000", "01", SplitTrain},
		{gei("090-00/00001.png"), 25, api.Male, "00001", "090", "00", SplitTrain},
		{gei("000-00/00002.png"), 30, api.Female, "00002", "000", "00", SplitTest},
		{gei("000-00/00011.png"), 0, api.Male, "00011", "000", "00", SplitTrain},
		{gei("090-00/00011.png"), 0, api.Male, "00011", "090", "00", SplitTrain},
		{gei("000-00/10307.png"), 50, api.Female, "10307", "000", "00", SplitTest},
	}
	if len(ds.Samples) != len(want) {
		t.Fatalf("got %d samples %+v, want %d", len(ds.Samples), ds.Samples, len(want))
	}
	for i := range want {
		if ds.Samples[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, ds.Samples[i], want[i])
		}
	}
	if ds.Format != "oumvlp" || ds.Root != root {
		t.Errorf("Format, Root = %q, %q", ds.Format, ds.Root)
	}
	wantProblems(t, root, ds.Report.Problems, []string{
		"GEI/000-00/00008.png: subject 8 has a GEI but no row in labels.csv",
		"GEI/000-00/notes.txt: unexpected entry (want <5-digit subject>.png)",
		"GEI/999-00: unexpected entry in GEI folder (want <view>-<seq> folders such as 000-00)",
		`labels.csv:5: gender "X" is not M or F`,
		`labels.csv:6: age "abc" is not an integer`,
		`labels.csv:7: age -3 is negative`,
		`labels.csv:8: age 130 is absurd (over 120)`,
		`labels.csv:10: duplicate ID 2 (first at line 3)`,
		`labels.csv:13: record has 2 fields, header has 3`,
	})
	wantSkipped := map[string]int{
		SkipUnknownAge: 1, SkipInvalidLabel: 1, SkipNoLabel: 2, SkipLabelNoImage: 1, SkipUnexpected: 2,
	}
	if !maps.Equal(ds.Report.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", ds.Report.Skipped, wantSkipped)
	}
	err = ds.Report.Err()
	if err == nil || !strings.HasPrefix(err.Error(), "9 problems, first: "+gei("000-00/00008.png")+": subject 8") {
		t.Errorf("Report.Err() = %v", err)
	}
}

func TestOpenOUMVLPViews(t *testing.T) {
	root := buildOUMVLP(t)
	ds, err := OpenOUMVLP(root, OUMVLPOptions{Views: []string{"090"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range ds.Samples {
		got = append(got, s.View+"-"+s.Seq+"/"+s.Subject)
	}
	if strings.Join(got, " ") != "090-00/00001 090-00/00011" {
		t.Errorf("samples %v", got)
	}
	if _, err := OpenOUMVLP(root, OUMVLPOptions{Views: []string{"100"}}); err == nil || !strings.Contains(err.Error(), `unknown view "100"`) {
		t.Errorf("unknown view: err = %v", err)
	}
}

func TestOpenOUMVLPUntidyLabels(t *testing.T) {
	root := t.TempDir()
	// BOM, CRLF, spaces around header names and fields, other column order and case, blank lines.
	writeFile(t, filepath.Join(root, "labels.csv"), "\uFEFF Age , ID ,GENDER \r\n 25 , 1 , m \r\n\r\n30,2,F\r\n , , \r\n\r\n\r\n")
	tinyPNG(t, filepath.Join(root, "GEI", "180-01", "00001.png"), 1)
	tinyPNG(t, filepath.Join(root, "GEI", "270-00", "00002.png"), 2)
	ds, err := OpenOUMVLP(root, OUMVLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Report.Err(); err != nil {
		t.Fatalf("untidy file must be accepted: %v", err)
	}
	if len(ds.Samples) != 2 ||
		ds.Samples[0].Age != 25 || ds.Samples[0].Gender != api.Male || ds.Samples[0].Split != SplitTrain || ds.Samples[0].View != "180" || ds.Samples[0].Seq != "01" ||
		ds.Samples[1].Age != 30 || ds.Samples[1].Gender != api.Female || ds.Samples[1].Split != SplitTest {
		t.Errorf("samples %+v", ds.Samples)
	}
}

func TestOpenOUMVLPFatal(t *testing.T) {
	root := t.TempDir()
	if _, err := OpenOUMVLP(filepath.Join(root, "nope"), OUMVLPOptions{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing root: %v", err)
	}
	if _, err := OpenOUMVLP(root, OUMVLPOptions{}); err == nil || !strings.Contains(err.Error(), "labels.csv") {
		t.Errorf("missing labels: %v", err)
	}
	for content, want := range map[string]string{
		"":                     "labels.csv: no header line (want columns id,gender,age)",
		"\r\n \r\n":            "labels.csv: no header line",
		"ID,gender\n1,M\n":     `labels.csv:1: missing column "age"`,
		"1,M,25\n2,F,30\n":     `labels.csv:1: missing columns "id", "gender", "age"`,
		"ID,id,gender,age\n":   `labels.csv:1: duplicate column "id"`,
		"\"ID,gender,age\n1\n": "labels.csv:1: malformed header",
	} {
		writeFile(t, filepath.Join(root, "labels.csv"), content)
		_, err := OpenOUMVLP(root, OUMVLPOptions{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("labels %q: err = %v, want %q", content, err, want)
		}
	}
	// Labels present, but no GEI folder.
	writeFile(t, filepath.Join(root, "other.csv"), "ID,gender,age\n1,M,20\n")
	if _, err := OpenOUMVLP(root, OUMVLPOptions{Labels: filepath.Join(root, "other.csv")}); err == nil || !strings.Contains(err.Error(), "GEI") {
		t.Errorf("missing GEI folder: %v", err)
	}
}

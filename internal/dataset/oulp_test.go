package dataset

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

func buildOULP(t *testing.T) string {
	root := t.TempDir()
	// BOM + CRLF, header in another order and case, spaces.
	writeFile(t, filepath.Join(root, "Age_gender_info.csv"), "\uFEFF ID , Gender ,age\r\n"+strings.Join([]string{
		"0001,F,25",   // 2
		"0002, M ,40", // 3
		"0003,f,7",    // 4
		"0004,M,xx",   // 5 bad age
		"0005,M,33",   // 6 missing GEI
		"0006,F,50",   // 7 in both lists
		"0001,M,26",   // 8 duplicate
		"0007,M,60",   // 9 in no list
		"0010,F,-",    // 10 unknown age
		"../x,F,20",   // 11 unsafe ID
	}, "\r\n")+"\r\n\r\n")
	for _, id := range []string{"0001", "0002", "0003", "0004", "0006", "0007", "0010", "0099"} {
		tinyPNG(t, filepath.Join(root, "GEI", id+".png"), 1)
	}
	writeFile(t, filepath.Join(root, "GEI_IDList_train.txt"), "0001\n 0003 \n0006\n\n0008\n\n")
	writeFile(t, filepath.Join(root, "GEI_IDList_test.txt"), "\uFEFF0002\r\n0006\r\n0002\r\n1\r\n00 07\r\n")
	return root
}

func TestOpenOULPAge(t *testing.T) {
	root := buildOULP(t)
	ds, err := OpenOULPAge(root, OULPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gei := func(id string) string { return filepath.Join(root, "GEI", id+".png") }
	want := []Sample{
		{Path: gei("0001"), Age: 25, Gender: api.Female, Subject: "0001", Split: SplitTrain},
		{Path: gei("0002"), Age: 40, Gender: api.Male, Subject: "0002", Split: SplitTest},
		{Path: gei("0003"), Age: 7, Gender: api.Female, Subject: "0003", Split: SplitTrain},
		{Path: gei("0007"), Age: 60, Gender: api.Male, Subject: "0007", Split: SplitNone},
	}
	if len(ds.Samples) != len(want) {
		t.Fatalf("got %d samples %+v, want %d", len(ds.Samples), ds.Samples, len(want))
	}
	for i := range want {
		if ds.Samples[i] != want[i] {
			t.Errorf("sample %d = %+v, want %+v", i, ds.Samples[i], want[i])
		}
	}
	wantProblems(t, root, ds.Report.Problems, []string{
		`Age_gender_info.csv:5: age "xx" is not an integer`,
		`Age_gender_info.csv:6: GEI GEI/0005.png does not exist`,
		`Age_gender_info.csv:8: duplicate ID "0001" (first at line 2)`,
		`Age_gender_info.csv:11: ID "../x" is not a valid file name`,
		`GEI/0099.png: ID "0099" has a GEI but no row in Age_gender_info.csv`,
		`GEI_IDList_test.txt:2: ID "0006" is in both train (GEI_IDList_train.txt:3) and test`,
		`GEI_IDList_test.txt:3: duplicate ID "0002" (first at line 1)`,
		`GEI_IDList_test.txt:4: ID "1" has no row in Age_gender_info.csv`,
		`GEI_IDList_test.txt:5: ID "00 07" contains a space or separator`,
		`GEI_IDList_train.txt:5: ID "0008" has no row in Age_gender_info.csv`,
	})
	wantSkipped := map[string]int{
		SkipInvalidLabel: 2, SkipMissingFile: 1, SkipDuplicate: 1, SkipNoLabel: 1, SkipBothSplits: 1, SkipUnknownAge: 1,
	}
	if !maps.Equal(ds.Report.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", ds.Report.Skipped, wantSkipped)
	}
	// 0005 is labelled but in no list: a missing image outside the splits.
	if m := ds.Report.Missing; len(m) != 1 || m[0] != (Sample{Path: gei("0005"), Age: 33, Gender: api.Male, Subject: "0005"}) {
		t.Errorf("Missing = %+v", m)
	}
	if len(ds.MissingIn(SplitTest)) != 0 || len(ds.MissingIn(SplitAll)) != 1 || ds.Source != root {
		t.Errorf("MissingIn(test) %v, MissingIn(all) %v, Source %q", ds.MissingIn(SplitTest), ds.MissingIn(SplitAll), ds.Source)
	}
}

func TestOpenOULPAgeOptionsAndFatal(t *testing.T) {
	root := buildOULP(t)
	// Configured paths: labels elsewhere with only two rows, lists swapped.
	other := filepath.Join(t.TempDir(), "labels.csv")
	writeFile(t, other, "gender,age,id\nM,41,0002\nF,8,0003\n")
	ds, err := OpenOULPAge(root, OULPOptions{
		Labels:    other,
		TrainList: filepath.Join(root, "GEI_IDList_test.txt"),
		TestList:  filepath.Join(root, "GEI_IDList_train.txt"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Samples) != 2 || ds.Samples[0].Age != 41 || ds.Samples[0].Split != SplitTrain ||
		ds.Samples[1].Age != 8 || ds.Samples[1].Split != SplitTest {
		t.Errorf("samples %+v", ds.Samples)
	}

	for name, o := range map[string]OULPOptions{
		"Age_gender_info.csv":  {Labels: filepath.Join(root, "Age_gender_info.csv.missing")},
		"GEI_IDList_train.txt": {TrainList: filepath.Join(root, "GEI_IDList_train.txt.missing")},
		"GEI_IDList_test.txt":  {TestList: filepath.Join(root, "GEI_IDList_test.txt.missing")},
		"GEI.missing":          {GEIDir: filepath.Join(root, "GEI.missing")},
	} {
		if _, err := OpenOULPAge(root, o); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	writeFile(t, other, "id,age,sex\n1,2,M\n")
	if _, err := OpenOULPAge(root, OULPOptions{Labels: other}); err == nil || !strings.Contains(err.Error(), `labels.csv:1: missing column "gender"`) {
		t.Errorf("missing gender column: err = %v", err)
	}
}

package dataset

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gaitord/gaitord/api"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	var samples []Sample
	for i := range 12 {
		p := filepath.Join(dir, "ok", string(rune('a'+i))+".png")
		tinyPNG(t, p, i)
		samples = append(samples, Sample{Path: p, Age: 20 + i, Subject: "s"})
	}
	corrupt := filepath.Join(dir, "corrupt.png")
	writeFile(t, corrupt, "this is not a PNG")
	shaped := filepath.Join(dir, "shaped.png")
	writePNG(t, shaped, 5, 4, func(x, y int) uint8 { return 1 })
	gone := filepath.Join(dir, "gone.png")
	samples = slices.Insert(samples, 3, Sample{Path: corrupt}, Sample{Path: shaped})
	samples = append(samples, Sample{Path: gone})
	ds := &Dataset{Root: dir, Samples: samples, Report: Report{
		Problems: []Problem{{File: "labels.csv", Line: 3, Msg: "earlier"}},
		Skipped:  map[string]int{"x": 1},
	}}
	for _, workers := range []int{1, 3, 0} {
		var mu sync.Mutex
		var calls []int
		rep := Check(ds, decodePNG, workers, func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			if total != len(samples) {
				t.Errorf("progress total %d", total)
			}
			calls = append(calls, done)
		})
		want := []string{
			"labels.csv:3: earlier",
			"corrupt.png: cannot decode: corrupt.png: png: invalid format: not a PNG file",
			"shaped.png: decoded image has 20 values, most images have 24",
			"gone.png: cannot decode: open gone.png: no such file or directory",
		}
		wantProblems(t, dir, rep.Problems, want)
		if rep.Skipped["x"] != 1 {
			t.Errorf("Skipped not merged: %v", rep.Skipped)
		}
		if len(calls) != len(samples) || !slices.IsSorted(calls) || calls[len(calls)-1] != len(samples) {
			t.Errorf("workers %d: progress calls %v", workers, calls)
		}
	}
	if len(ds.Report.Problems) != 1 {
		t.Errorf("Check modified ds.Report: %v", ds.Report.Problems)
	}

	// Non-finite values and panics are problems, not crashes.
	rep := Check(&Dataset{Samples: []Sample{{Path: "nan"}, {Path: "panic"}, {Path: "empty"}}}, func(p string) ([]float32, error) {
		switch p {
		case "nan":
			return []float32{1, float32(math.NaN())}, nil
		case "panic":
			panic("boom")
		}
		return nil, nil
	}, 2, nil)
	wantProblems(t, "", rep.Problems, []string{
		"nan: cannot decode: value 1 is NaN",
		"panic: cannot decode: decode panic panicked: boom",
		"empty: decoded image is empty",
	})
	if err := Check(&Dataset{Root: "r", Samples: samples}, nil, 1, nil).Err(); err == nil || !strings.Contains(err.Error(), "no decode function") {
		t.Errorf("nil decode: %v", err)
	}
}

func statsSamples() []Sample {
	return []Sample{
		{Age: 5, Gender: api.Male, Subject: "1", View: "000", Split: SplitTrain},
		{Age: 9, Gender: api.Male, Subject: "1", View: "090", Split: SplitTrain},
		{Age: 10, Gender: api.Female, Subject: "2", View: "000", Split: SplitTest},
		{Age: 79, Gender: api.Female, Subject: "3", View: "000", Split: SplitTest},
		{Age: 80, Gender: api.GenderUnknown, Subject: "4", View: "", Split: SplitNone},
		{Age: 117, Gender: api.Male, Subject: "", View: "000", Split: SplitTrain},
	}
}

func TestStats(t *testing.T) {
	ds := &Dataset{Samples: statsSamples()}
	st := ds.Stats()
	if st.Samples != 6 || st.Subjects != 4 || st.MinAge != 5 || st.MaxAge != 117 || math.Abs(st.MeanAge-50) > 1e-12 {
		t.Errorf("totals %+v", st)
	}
	if st.AgeHist != [AgeBins]int{2, 1, 0, 0, 0, 0, 0, 1, 2} {
		t.Errorf("AgeHist %v", st.AgeHist)
	}
	if st.BySplit[SplitTrain] != 3 || st.BySplit[SplitTest] != 2 || st.BySplit[SplitNone] != 1 ||
		st.ByGender[api.Male] != 3 || st.ByGender[api.Female] != 2 || st.ByGender[api.GenderUnknown] != 1 ||
		st.ByView["000"] != 4 || st.ByView["090"] != 1 || st.ByView[""] != 1 {
		t.Errorf("counts %+v", st)
	}
	s := st.String()
	for _, want := range []string{
		"samples          6\n",
		"age       min 5  mean 50.00  max 117\n",
		"  train           3   50.0%\n",
		"  (none)          1   16.7%\n",
		"  unknown         1   16.7%\n",
		"  000             4   66.7%\n",
		"  0-9             2   33.3%\n",
		"  70-79           1   16.7%\n",
		"  80+             2   33.3%\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
	if empty := (&Dataset{}).Stats(); empty.MeanAge != 0 || empty.Samples != 0 || !strings.Contains(empty.String(), "samples          0") {
		t.Errorf("empty stats %+v", empty)
	}
	// Brief: mean (5+9+10+79+80+117)/6 = 50; 3 male, 2 female, 1 unknown of 6.
	if got, want := st.Brief(), "6 GEIs, 4 subjects, ages 5–117 (mean 50.0), 3 male (50.0%), 2 female (33.3%), 1 unknown (16.7%)"; got != want {
		t.Errorf("Brief() = %q, want %q", got, want)
	}
	if got, want := StatsOf(statsSamples()[4:5]).Brief(), "1 GEI, 1 subject, ages 80–80 (mean 80.0), 0 male (0.0%), 0 female (0.0%), 1 unknown (100.0%)"; got != want {
		t.Errorf("Brief() of one sample = %q, want %q", got, want)
	}
	if got := (Stats{}).Brief(); got != "no GEIs" {
		t.Errorf("empty Brief() = %q", got)
	}
}

func TestStatsOfASubset(t *testing.T) {
	// The test split alone: ages 10 and 79, both female, two subjects.
	st := StatsOf((&Dataset{Samples: statsSamples()}).Split(SplitTest))
	if st.Samples != 2 || st.Subjects != 2 || st.MinAge != 10 || st.MaxAge != 79 || st.MeanAge != 44.5 || st.BySplit[SplitTest] != 2 {
		t.Errorf("StatsOf(test) = %+v", st)
	}
	if got, want := st.Brief(), "2 GEIs, 2 subjects, ages 10–79 (mean 44.5), 0 male (0.0%), 2 female (100.0%)"; got != want {
		t.Errorf("Brief() = %q, want %q", got, want)
	}
}

func TestSplitAndHoldOut(t *testing.T) {
	ds := &Dataset{Samples: statsSamples()}
	if got := ds.Split(SplitTest); len(got) != 2 || got[0].Age != 10 || got[1].Age != 79 {
		t.Errorf("Split(test) = %+v", got)
	}
	if got := ds.Split(SplitNone); len(got) != 1 || got[0].Age != 80 {
		t.Errorf("Split(none) = %+v", got)
	}

	var samples []Sample
	for s := range 50 {
		for v := range 3 {
			samples = append(samples, Sample{Path: filepath.Join("p", string(rune('A'+s)), string(rune('0'+v))), Subject: string(rune('A' + s)), Age: s})
		}
	}
	train, val := HoldOut(samples, 0.2, 7)
	if len(val) != 30 || len(train) != 120 {
		t.Fatalf("sizes %d/%d, want 120/30", len(train), len(val))
	}
	inTrain := map[string]bool{}
	for _, s := range train {
		inTrain[s.Subject] = true
	}
	for _, s := range val {
		if inTrain[s.Subject] {
			t.Fatalf("subject %s in train and val", s.Subject)
		}
	}
	// Deterministic, independent of input order, seed-dependent.
	rev := slices.Clone(samples)
	slices.Reverse(rev)
	_, val2 := HoldOut(rev, 0.2, 7)
	_, val3 := HoldOut(samples, 0.2, 8)
	key := func(ss []Sample) string {
		var k []string
		for _, s := range ss {
			k = append(k, s.Path)
		}
		slices.Sort(k)
		return strings.Join(k, ",")
	}
	if key(val) != key(val2) {
		t.Error("HoldOut depends on sample order")
	}
	if key(val) == key(val3) {
		t.Error("HoldOut ignores the seed")
	}
	// Order is kept within each part.
	if !slices.IsSortedFunc(val, func(a, b Sample) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("val order not kept")
	}
	for _, f := range []float64{0, -1, math.NaN()} {
		if tr, v := HoldOut(samples, f, 1); len(v) != 0 || len(tr) != 150 {
			t.Errorf("fraction %v: %d/%d", f, len(tr), len(v))
		}
	}
	if tr, v := HoldOut(samples, 2, 1); len(v) != 150 || len(tr) != 0 {
		t.Errorf("fraction 2: %d/%d", len(tr), len(v))
	}
	// Samples without subject are their own subject.
	tr, v := HoldOut([]Sample{{Path: "a"}, {Path: "b"}, {Path: "c"}, {Path: "d"}}, 0.5, 3)
	if len(tr) != 2 || len(v) != 2 {
		t.Errorf("no-subject holdout %d/%d", len(tr), len(v))
	}
}

func TestMeanAge(t *testing.T) {
	if m := MeanAge([]Sample{{Age: 5}, {Age: 9}, {Age: 10}}); m != 8 {
		t.Errorf("MeanAge = %v, want 8", m)
	}
	if m := MeanAge(nil); m != 0 {
		t.Errorf("MeanAge(nil) = %v, want 0", m)
	}
}

package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/metrics"
)

func samplePreds() []api.Prediction {
	return []api.Prediction{
		{Path: "s/001.png", Source: "gei", View: "090", TrueAge: api.Int(25), TrueGender: api.Male, Age: 27.5, Median: 27,
			Interval: api.Interval80(24, 28), Gender: api.Male, PMale: 0.8, RankViolations: 1, RankPairs: 99},
		// Awkward values: comma/quote in path, non-dyadic floats.
		{Path: `s/with,comma "q".png`, Source: "gei", View: "000", TrueAge: api.Int(62), TrueGender: api.Female, Age: 55.123456789,
			Median: 0.30000000000000004 /* 0.1+0.2 at run time */, Interval: api.Interval80(50, 60), Gender: api.Female, PMale: 1.0 / 3, RankPairs: 99},
		{Path: "s/003.png", Source: "gei", View: "", TrueAge: api.Int(8), TrueGender: api.GenderUnknown, Age: 8.5, Median: 8,
			Interval: api.Interval80(5, 12), Gender: api.Female, PMale: 0.3, RankPairs: 99},
	}
}

// csvFields is the part of a record that predictions.csv holds.
func csvFields(p api.Prediction) api.Prediction {
	return api.Prediction{Path: p.Path, View: p.View, TrueAge: p.TrueAge, Age: p.Age, Median: p.Median,
		Interval: p.Interval, TrueGender: p.TrueGender, PMale: p.PMale}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "out") // does not exist yet
	preds := samplePreds()
	s := metrics.Evaluate(preds, 30)
	if err := Write(dir, preds, s); err != nil {
		t.Fatalf("Write: %v", err)
	}

	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := []string{CSCurvePNG, MAEByAgePNG, PredVsTruePNG, PredictionsCSV, PredictionsJSONL, SummaryJSON}
	if !reflect.DeepEqual(names, want) { // ReadDir is sorted; no temp files left
		t.Errorf("files = %v, want %v", names, want)
	}

	// CSV round trip.
	f, err := os.Open(filepath.Join(dir, PredictionsCSV))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rows[0], CSVHeader) {
		t.Errorf("header = %v", rows[0])
	}
	if len(rows) != len(preds)+1 {
		t.Fatalf("rows = %d, want %d", len(rows), len(preds)+1)
	}
	classes := map[string]api.Gender{"0": api.Female, "1": api.Male, "-1": api.GenderUnknown}
	for i, r := range rows[1:] {
		g, ok := classes[r[7]]
		if !ok {
			t.Fatalf("row %d: true_gender %q, want 0, 1 or -1", i, r[7])
		}
		got := api.Prediction{Path: r[0], View: r[1], TrueAge: api.Int(atoi(t, r[2])), Age: atof(t, r[3]),
			Median: atof(t, r[4]), Interval: api.Interval80(atof(t, r[5]), atof(t, r[6])), TrueGender: g, PMale: atof(t, r[8])}
		if want := csvFields(preds[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("row %d = %+v, want %+v", i, got, want)
		}
	}
	if rows[2][4] != "0.30000000000000004" {
		t.Errorf("median of row 2 = %q, want shortest exact repr 0.30000000000000004", rows[2][4])
	}

	// JSON Lines round trip: the whole records.
	b, err := os.ReadFile(filepath.Join(dir, PredictionsJSONL))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != len(preds) {
		t.Fatalf("%s has %d lines, want %d", PredictionsJSONL, len(lines), len(preds))
	}
	for i, line := range lines {
		var got api.Prediction
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s line %d: %v", PredictionsJSONL, i+1, err)
		}
		want := preds[i]
		want.Schema = api.Schema
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s line %d = %+v, want %+v", PredictionsJSONL, i+1, got, want)
		}
	}

	// Summary JSON round trip.
	b, err = os.ReadFile(filepath.Join(dir, SummaryJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back metrics.Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("summary round trip:\n got %+v\nwant %+v", back, s)
	}

	// PNGs decode at the configured size (12 cm at 96 dpi ≈ 454 px).
	for _, name := range []string{PredVsTruePNG, CSCurvePNG, MAEByAgePNG} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sz := img.Bounds().Size()
		if sz.X < 400 || sz.Y < 400 {
			t.Errorf("%s size %v, want ≥ 400×400", name, sz)
		}
		// Not a blank canvas: some pixel differs from the corner pixel.
		bg := img.At(0, 0)
		blank := true
		for y := 0; y < sz.Y && blank; y += 3 {
			for x := 0; x < sz.X && blank; x += 3 {
				blank = img.At(x, y) == bg
			}
		}
		if blank {
			t.Errorf("%s is blank", name)
		}
	}

	// Overwrite in place succeeds (rename over existing files).
	if err := Write(dir, preds[:1], metrics.Evaluate(preds[:1], 30)); err != nil {
		t.Fatalf("second Write: %v", err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, PredictionsCSV))
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("rewritten CSV has %d lines, want 2", n)
	}
}

// A model without a distribution (loss type l1): the CSV leaves lo80 and
// hi80 empty, the JSON Lines hold a null interval and summary.json has no
// coverage80.
func TestWriteWithoutIntervals(t *testing.T) {
	dir := t.TempDir()
	preds := []api.Prediction{
		{Path: "a.png", TrueAge: api.Int(30), TrueGender: api.Male, Age: 32.5, Median: 32.5, Gender: api.Male, PMale: 0.75},
		{Path: "b.png", TrueAge: api.Int(50), TrueGender: api.Female, Age: 47, Median: 47, Gender: api.Female, PMale: 0.25},
	}
	if err := Write(dir, preds, metrics.Evaluate(preds, 40)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, PredictionsCSV))
	if err != nil {
		t.Fatal(err)
	}
	if want := "path,view,true_age,pred_age,median,lo80,hi80,true_gender,p_male\na.png,,30,32.5,32.5,,,1,0.75\nb.png,,50,47,47,,,0,0.25\n"; string(b) != want {
		t.Errorf("CSV:\n%s\nwant\n%s", b, want)
	}
	b, _ = os.ReadFile(filepath.Join(dir, PredictionsJSONL))
	if strings.Count(string(b), `"age_interval80":null`) != 2 {
		t.Errorf("JSON Lines without null intervals:\n%s", b)
	}
	b, _ = os.ReadFile(filepath.Join(dir, SummaryJSON))
	if strings.Contains(string(b), "coverage80") || !strings.Contains(string(b), `"mae": 2.75`) {
		t.Errorf("summary.json:\n%s", b)
	}
}

func TestWriteEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, nil, metrics.Evaluate(nil, 30)); err != nil {
		t.Fatalf("Write(empty): %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, PredictionsCSV))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != strings.Join(CSVHeader, ",")+"\n" {
		t.Errorf("empty CSV = %q", got)
	}
}

func TestWriteErrors(t *testing.T) {
	// dir is an existing regular file: MkdirAll must fail with context.
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(file, nil, metrics.Summary{})
	if err == nil || !strings.Contains(err.Error(), "report: create") {
		t.Errorf("Write into a file: err = %v, want report: create …", err)
	}
	// NaN cannot be encoded as JSON.
	dir := t.TempDir()
	err = Write(dir, nil, metrics.Summary{MAE: math.NaN()})
	if err == nil || !strings.Contains(err.Error(), "encode summary") {
		t.Errorf("NaN summary: err = %v, want encode summary error", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed Write left %d files", len(ents))
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

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

	"github.com/gaitord/gaitord/internal/metrics"
)

func samplePreds() []metrics.Prediction {
	return []metrics.Prediction{
		{Path: "s/001.png", View: "090", TrueAge: 25, TrueGender: 1, Age: 27.5, Median: 27, Lo80: 24, Hi80: 28, PMale: 0.8},
		// Awkward values: comma/quote in path, non-dyadic floats.
		{Path: `s/with,comma "q".png`, View: "000", TrueAge: 62, TrueGender: 0, Age: 55.123456789, Median: 0.30000000000000004 /* 0.1+0.2 at run time */, Lo80: 50, Hi80: 60, PMale: 1.0 / 3},
		{Path: "s/003.png", View: "", TrueAge: 8, TrueGender: -1, Age: 8.5, Median: 8, Lo80: 5, Hi80: 12, PMale: 0.3},
	}
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
	want := []string{CSCurvePNG, MAEByAgePNG, PredVsTruePNG, PredictionsCSV, SummaryJSON}
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
	for i, r := range rows[1:] {
		got := metrics.Prediction{Path: r[0], View: r[1], TrueAge: atoi(t, r[2]), Age: atof(t, r[3]),
			Median: atof(t, r[4]), Lo80: atof(t, r[5]), Hi80: atof(t, r[6]), TrueGender: atoi(t, r[7]), PMale: atof(t, r[8])}
		if !reflect.DeepEqual(got, preds[i]) {
			t.Errorf("row %d = %+v, want %+v", i, got, preds[i])
		}
	}
	if rows[2][4] != "0.30000000000000004" {
		t.Errorf("median of row 2 = %q, want shortest exact repr 0.30000000000000004", rows[2][4])
	}

	// JSON round trip.
	b, err := os.ReadFile(filepath.Join(dir, SummaryJSON))
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

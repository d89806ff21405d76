package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/prediction-v2.jsonl from the records in this test")

// v1Records are the records of testdata/prediction-v1.jsonl, written by the
// v1 encoder: a predict line, an evaluation record (true age 0 and gender
// female must survive omitempty) and a video record.
func v1Records() []Prediction {
	return []Prediction{
		{Path: "geis/00002.png", Source: "gei", Age: 34.25, Median: 33.5, Interval: Interval80(25.75, 43),
			Gender: Male, PMale: 0.875, PAgeGT: []float64{1, 0.5, 0.25}},
		{Path: "GEI/090-00/00007.png", Age: 18.5, Median: 18, Interval: Interval80(12, 26), Gender: Female, PMale: 0.5,
			View: "090", TrueAge: Int(0), TrueGender: Female, RankViolations: 2, RankPairs: 99},
		{Path: "street.mp4", Source: "video", Age: 45, Median: 44.5, Interval: Interval80(36, 55), Gender: Male, PMale: 0.75,
			Track: 3, Frames: &[2]int{120, 212}, Period: 31.5, Cycles: 3, ViewHint: "090"},
	}
}

// v2Records are the records of testdata/prediction-v2.jsonl: the v1 ones,
// an l1 model's evaluation record, without a distribution (a null interval,
// no p_age_gt, no rank pairs), and a fused record (n_inputs).
func v2Records() []Prediction {
	return append(v1Records(),
		Prediction{Path: "GEI/090-00/00009.png", Age: 41.5, Median: 41.5, Gender: Male, PMale: 0.625,
			View: "090", TrueAge: Int(40), TrueGender: Male},
		Prediction{Path: "people/00004", Source: "fused", Age: 52.5, Median: 52, Interval: Interval80(47.25, 58),
			Gender: Female, PMale: 0.25, NInputs: 8})
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// TestGoldenV2 pins the JSON encoding byte for byte: field names, order,
// which optional fields are left out, a null interval, and the schema
// written by default.
func TestGoldenV2(t *testing.T) {
	const golden = "testdata/prediction-v2.jsonl"
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, p := range v2Records() {
		if err := enc.Encode(p); err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoding differs from %s:\ngot\n%s\nwant\n%s", golden, buf.Bytes(), want)
	}
	lines := readLines(t, golden)
	if !bytes.Contains(lines[3], []byte(`"age_interval80":null`)) || bytes.Contains(lines[3], []byte("p_age_gt")) {
		t.Errorf("the l1 record reads %s: want a null interval and no p_age_gt", lines[3])
	}
	// and it decodes back to the same records, schema filled in
	for i, line := range lines {
		var got Prediction
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		w := v2Records()[i]
		w.Schema = Schema
		if !reflect.DeepEqual(got, w) {
			t.Errorf("line %d decodes to %+v, want %+v", i+1, got, w)
		}
	}
}

// TestReadsV1 decodes the records the v1 encoder wrote: every v1 record is
// a v2 record, read with its schema kept, and it re-encodes as v2 with the
// same fields.
func TestReadsV1(t *testing.T) {
	for i, line := range readLines(t, "testdata/prediction-v1.jsonl") {
		var got Prediction
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		w := v1Records()[i]
		w.Schema = SchemaV1
		if !reflect.DeepEqual(got, w) {
			t.Errorf("line %d decodes to %+v, want %+v", i+1, got, w)
		}
		got.Schema = ""
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.Replace(line, []byte(SchemaV1), []byte(Schema), 1); !bytes.Equal(again, want) {
			t.Errorf("line %d re-encodes as\n%s\nwant\n%s", i+1, again, want)
		}
	}
}

// TestLegacyPredictLines decodes lines in the layout `gaitord predict --json`
// wrote before the schema field: today's field names must keep working.
func TestLegacyPredictLines(t *testing.T) {
	lines := readLines(t, "testdata/predict-legacy.jsonl")
	want := []Prediction{
		{Path: "geis/00002.png", Source: "gei", Age: 34.25, Median: 33.5, Interval: Interval80(25.75, 43),
			Gender: Male, PMale: 0.875, PAgeGT: []float64{1, 0.5, 0.25}},
		{Path: "walks/00001", Source: "silhouettes", Age: 61, Median: 60.5, Interval: Interval80(50, 70.25),
			Gender: Female, PMale: 0.125, PAgeGT: []float64{0.75, 0.5}},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines", len(lines))
	}
	for i, line := range lines {
		var got Prediction
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("line %d decodes to %+v, want %+v", i+1, got, want[i])
		}
		// every key of the legacy line is a field of the record
		var keys map[string]any
		if err := json.Unmarshal(line, &keys); err != nil {
			t.Fatal(err)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(again, &back); err != nil {
			t.Fatal(err)
		}
		for k, v := range keys {
			if !reflect.DeepEqual(back[k], v) {
				t.Errorf("line %d: key %q re-encodes as %v, was %v", i+1, k, back[k], v)
			}
		}
		if back["schema"] != Schema || len(back) != len(keys)+1 {
			t.Errorf("line %d re-encodes with keys %v", i+1, back)
		}
	}
}

func TestRoundTripKeepsEveryField(t *testing.T) {
	p := Prediction{Schema: Schema, Path: "x", Source: "gei", Age: 1.0 / 3, Median: 2, Interval: Interval80(0.1, 1e300),
		Gender: Female, PMale: 0.1 + 0.2, PAgeGT: []float64{0.9999999999999999, 5e-324},
		View: "270", TrueAge: Int(120), TrueGender: Male, RankViolations: 1, RankPairs: 2,
		Track: 1, Frames: &[2]int{0, 1}, Period: 1e-9, Cycles: 1, ViewHint: "left", NInputs: 3}
	// every field is set, so a field added without a test entry shows here
	v := reflect.ValueOf(p)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("test record leaves %s unset", v.Type().Field(i).Name)
		}
	}
	b, err := json.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	var got Prediction
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
	}
}

func TestSchemaAndGenderChecked(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"schema":"gaitord.prediction/v3","path":"a"}`, `prediction record of schema "gaitord.prediction/v3": this reader knows "gaitord.prediction/v2" and "gaitord.prediction/v1"`},
		{`{"path":"a","gender":"M"}`, `gender "M": want "male", "female" or ""`},
		{`{"path":"a","true_gender":"x"}`, `gender "x"`},
		{`{"path":"a","age":"old"}`, `cannot unmarshal string`},
	} {
		var p Prediction
		err := json.Unmarshal([]byte(tc.in), &p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := json.Marshal(Prediction{Gender: "M"}); err == nil || !strings.Contains(err.Error(), `gender "M"`) {
		t.Errorf("encoding an invalid gender: %v", err)
	}
}

func TestGender(t *testing.T) {
	for _, tc := range []struct {
		g            Gender
		class        int
		str          string
		known, valid bool
	}{
		{Female, 0, "female", true, true},
		{Male, 1, "male", true, true},
		{GenderUnknown, -1, "unknown", false, true},
		{Gender("M"), -1, "M", false, false},
	} {
		if tc.g.Class() != tc.class || tc.g.String() != tc.str || tc.g.Known() != tc.known || tc.g.Valid() != tc.valid {
			t.Errorf("%q: class %d string %q known %v valid %v", string(tc.g), tc.g.Class(), tc.g.String(), tc.g.Known(), tc.g.Valid())
		}
	}
	for in, want := range map[string]Gender{"male": Male, "female": Female, "": GenderUnknown, "unknown": GenderUnknown} {
		if g, err := ParseGender(in); err != nil || g != want {
			t.Errorf("ParseGender(%q) = %q, %v", in, g, err)
		}
	}
	if _, err := ParseGender("Male"); err == nil {
		t.Error("ParseGender is case-sensitive: \"Male\" must be refused")
	}
	for pm, want := range map[float64]Gender{0: Female, 0.5: Female, 0.5000001: Male, 1: Male} {
		if g := GenderOf(pm); g != want {
			t.Errorf("GenderOf(%v) = %s, want %s", pm, g, want)
		}
	}
	p := Prediction{Gender: Female, PMale: 0.25}
	if p.PGender() != 0.75 {
		t.Errorf("PGender of a female at p_male 0.25: %v", p.PGender())
	}
	p = Prediction{Gender: Male, PMale: 0.75}
	if p.PGender() != 0.75 {
		t.Errorf("PGender of a male at p_male 0.75: %v", p.PGender())
	}
	if e, ok := (Prediction{Age: 30.5, TrueAge: Int(28)}).AgeError(); !ok || e != 2.5 {
		t.Errorf("AgeError = %v, %v", e, ok)
	}
	if _, ok := (Prediction{Age: 30.5}).AgeError(); ok {
		t.Error("AgeError without a true age must report !ok")
	}
}

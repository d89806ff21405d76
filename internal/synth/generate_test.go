package synth

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/gei"
)

// readTree returns every file under root, by relative path.
func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestGenerateIsDeterministic(t *testing.T) {
	opts := Options{Subjects: 7, Views: []int{0, 90}, Seqs: 2, Seed: 11}
	trees := make([]map[string][]byte, 3)
	for i, workers := range []int{1, 3, 1} {
		o := opts
		o.Root, o.Workers = t.TempDir(), workers
		if i == 2 {
			o.Seed = 12
		}
		if _, err := Generate(o, nil); err != nil {
			t.Fatal(err)
		}
		trees[i] = readTree(t, o.Root)
	}
	if len(trees[0]) != 7*2*2+1 {
		t.Fatalf("%d files, want 29", len(trees[0]))
	}
	differ := 0
	for name, data := range trees[0] {
		if !bytes.Equal(data, trees[1][name]) {
			t.Fatalf("%s differs between 1 and 3 workers", name)
		}
		if !bytes.Equal(data, trees[2][name]) {
			differ++
		}
	}
	if differ < len(trees[0])-1 {
		t.Fatalf("another seed changed only %d of %d files", differ, len(trees[0]))
	}
}

func TestGenerateLayoutAndLabels(t *testing.T) {
	root := t.TempDir()
	var calls []int
	sum, err := Generate(Options{Root: root, Subjects: 12, Views: []int{0, 30, 60, 90}, Seqs: 2,
		Seed: 5, MinAge: 10, MaxAge: 20, Workers: 2}, func(done, total int) {
		if total != 12 {
			t.Errorf("total %d", total)
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 12 || calls[11] != 12 {
		t.Fatalf("progress %v", calls)
	}
	if sum.GEIs != 96 || sum.Subjects != 12 || sum.Males+sum.Females != 12 || sum.Labels != filepath.Join(root, "labels.csv") {
		t.Fatalf("summary %+v", sum)
	}
	data, err := os.ReadFile(sum.Labels)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if lines[0] != "ID,gender,age" || len(lines) != 13 {
		t.Fatalf("labels:\n%s", data)
	}
	males := 0
	for i, line := range lines[1:] {
		var id, age int
		var g string
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%d %s %d", &id, &g, &age); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		s := SampleSubject(5, i+1, 10, 20)
		wantG := map[bool]string{true: "M", false: "F"}[s.Male]
		if id != i+1 || g != wantG || age != s.Age || age < 10 || age > 20 {
			t.Fatalf("line %q, want %d,%s,%d", line, i+1, wantG, s.Age)
		}
		if g == "M" {
			males++
		}
	}
	if males != sum.Males {
		t.Fatalf("%d males in CSV, summary says %d", males, sum.Males)
	}
	var dirs []string
	entries, _ := os.ReadDir(filepath.Join(root, "GEI"))
	for _, e := range entries {
		dirs = append(dirs, e.Name())
	}
	sort.Strings(dirs)
	if strings.Join(dirs, " ") != "000-00 000-01 030-00 030-01 060-00 060-01 090-00 090-01" {
		t.Fatalf("view folders %v", dirs)
	}
	// A written GEI reads back as the rendered one, to 8-bit rounding.
	want, err := Render(SampleSubject(5, 7, 10, 20), 60, 1, gei.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := gei.Load(filepath.Join(root, "GEI", "060-01", "00007.png"), gei.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		if d := got[k] - want[k]; d > 0.5/255+1e-6 || d < -0.5/255-1e-6 {
			t.Fatalf("pixel %d: file %v, render %v", k, got[k], want[k])
		}
	}
}

func TestGenerateOptionErrors(t *testing.T) {
	root := t.TempDir()
	bad := []Options{
		{Subjects: 1},
		{Root: root},
		{Root: root, Subjects: 100000},
		{Root: root, Subjects: 1, Views: []int{}},
		{Root: root, Subjects: 1, Views: []int{360}},
		{Root: root, Subjects: 1, Seqs: 100},
		{Root: root, Subjects: 1, MinAge: 50, MaxAge: 40},
		{Root: root, Subjects: 1, MaxAge: 130},
		{Root: root, Subjects: 1, Size: gei.Size{H: 10, W: 10}},
		{Root: root, Subjects: 1, Workers: -1},
	}
	for _, o := range bad {
		if _, err := Generate(o, nil); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	file := filepath.Join(root, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Generate(Options{Root: file, Subjects: 1}, nil); err == nil {
		t.Error("root under a file accepted")
	}
}

func TestRenderErrors(t *testing.T) {
	s := NewSubject(1, 30, true, 1)
	if _, err := Render(s, 90, -1, gei.DefaultSize); err == nil {
		t.Error("negative sequence accepted")
	}
	if _, err := Render(s, 90, 0, gei.Size{H: 5, W: 5}); err == nil {
		t.Error("bad size accepted")
	}
	broken := s
	broken.HeadFrac = 0.6
	if _, err := Render(broken, 90, 0, gei.DefaultSize); err == nil {
		t.Error("head + legs taller than the body accepted")
	}
	if g, err := Render(s, 90, 0, gei.LargeSize); err != nil || len(g) != 128*88 {
		t.Errorf("large size: %d values, %v", len(g), err)
	}
}

// TestGenerateSpeed times the reference workload: 200 subjects × 4 views ×
// 2 sequences at 64×44 (skipped with -short).
func TestGenerateSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("timing run")
	}
	start := time.Now()
	sum, err := Generate(Options{Root: t.TempDir(), Subjects: 200, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	t.Logf("%d GEIs (200 subjects x 4 views x 2 seqs, 64x44) in %v: %.0f GEIs/s", sum.GEIs, el, float64(sum.GEIs)/el.Seconds())
	if el > time.Minute {
		t.Errorf("took %v, want well under a minute", el)
	}
}

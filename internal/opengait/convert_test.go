package opengait

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/gei"
)

// pyWalk defines walk(): five 64×64 frames as OpenGait stores them. Four
// hold a bar of full height or, in one frame, a 32×10 bar of value 102
// (0.4) that gaitord scales to 64×20; one is black. Every non-empty frame
// normalises to a 64×20 bar centred in the 44-wide GEI: columns 12..31
// (offset round(22 - 10) = 12), so the GEI holds (3·1 + 0.4)/4 = 0.85 there
// and 0 elsewhere, from 4 frames with 1 skipped.
const pyWalk = `
def walk():
    a = np.zeros((5, 64, 64), dtype=np.uint8)
    a[0, :, 5:25] = 255
    a[1, :, 20:40] = 255
    a[2, :, 40:60] = 255
    a[3, 16:48, 30:40] = 102
    return a
def flat(value, frames=2):
    return np.full((frames, 64, 64), value, dtype=np.uint8)
`

// walkGEI is the GEI of pyWalk's walk() (see there).
func walkGEI() []float64 {
	out := make([]float64, 64*44)
	for y := range 64 {
		for x := 12; x < 32; x++ {
			out[y*44+x] = 0.85
		}
	}
	return out
}

// assertGEI fails unless got and want (64×44) agree within tol everywhere.
func assertGEI(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for k := range got {
		if d := math.Abs(float64(got[k]) - want[k]); !(d <= tol) {
			t.Fatalf("%s: value %d (row %d, column %d) = %v, want %v", what, k, k/44, k%44, got[k], want[k])
		}
	}
}

func TestLoadGEI(t *testing.T) {
	dir := t.TempDir()
	runPython(t, dir, pyWalk+`
for proto in (2, 5):
    save('walk%d.pkl' % proto, walk(), proto)
save('black.pkl', np.zeros((3, 64, 64), dtype=np.uint8), 4)
`)
	for _, name := range []string{"walk2.pkl", "walk5.pkl"} {
		g, used, skipped, err := LoadGEI(filepath.Join(dir, name), gei.DefaultSize)
		if err != nil {
			t.Fatal(err)
		}
		if used != 4 || skipped != 1 {
			t.Fatalf("%s: %d frames used, %d skipped; want 4 and 1", name, used, skipped)
		}
		assertGEI(t, name, g, walkGEI(), 1e-6)
	}
	// 128×88: the same bar, twice the size: columns 24..63.
	g, _, _, err := LoadGEI(filepath.Join(dir, "walk2.pkl"), gei.LargeSize)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range g {
		want := 0.0
		if x := k % 88; x >= 24 && x < 64 {
			want = 0.85
		}
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Fatalf("128x88 value %d = %v, want %v", k, v, want)
		}
	}
	black := filepath.Join(dir, "black.pkl")
	_, _, skipped, err := LoadGEI(black, gei.DefaultSize)
	if !errors.Is(err, gei.ErrNoFrames) || !strings.Contains(err.Error(), black) || skipped != 3 {
		t.Fatalf("all-black walk: %v (skipped %d)", err, skipped)
	}
	if _, _, _, err := LoadGEI(filepath.Join(dir, "walk2.pkl"), gei.Size{H: 10, W: 10}); err == nil {
		t.Fatal("unsupported size accepted")
	}
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{
		"001/nm-01/000/000.pkl", "001/nm-01/000/notes.txt", "001/nm-01/000/sub/x.pkl",
		"001/nm-01/090/090.pkl", "001/readme.txt", "002/bg-01/000/b.pkl", "002/bg-01/000/a.pkl",
		"002/bg-01/000/.hidden.pkl", ".cache/x/y/z.pkl", "top.txt", "004/nm-01/000/x.PKL", "005/nm-01/file",
	} {
		writeFile(t, root, f, []byte("x"))
	}
	if err := os.Symlink(filepath.Join(root, "001"), filepath.Join(root, "003")); err != nil {
		t.Fatal(err)
	}
	tree, err := Walk(root)
	if err != nil {
		t.Fatal(err)
	}
	p := func(s, ty, v, name string) Pickle {
		return Pickle{Subject: s, Type: ty, View: v, Path: filepath.Join(root, s, ty, v, name)}
	}
	want := []Pickle{
		p("001", "nm-01", "000", "000.pkl"), p("001", "nm-01", "090", "090.pkl"),
		p("002", "bg-01", "000", "a.pkl"), p("002", "bg-01", "000", "b.pkl"),
		p("003", "nm-01", "000", "000.pkl"), p("003", "nm-01", "090", "090.pkl"),
	}
	if !reflect.DeepEqual(tree.Pickles, want) {
		t.Fatalf("pickles\n%v\nwant\n%v", tree.Pickles, want)
	}
	var ignored []string
	for _, f := range tree.Ignored {
		rel, _ := filepath.Rel(root, f)
		ignored = append(ignored, filepath.ToSlash(rel))
	}
	wantIgnored := []string{"001/nm-01/000/notes.txt", "001/nm-01/000/sub", "001/readme.txt", "003/nm-01/000/notes.txt", "003/nm-01/000/sub", "003/readme.txt", "004/nm-01/000/x.PKL", "005/nm-01/file", "top.txt"}
	if !reflect.DeepEqual(ignored, wantIgnored) {
		t.Fatalf("ignored %v, want %v", ignored, wantIgnored)
	}
	if got := want[2].Dir(); got != filepath.Join(root, "002", "bg-01", "000") {
		t.Fatalf("Dir() = %s", got)
	}

	empty := t.TempDir()
	writeFile(t, empty, "001/nm-01/000.pkl", []byte("x")) // one level short
	if _, err := Walk(empty); err == nil || !strings.Contains(err.Error(), "no <subject>/<type>/<view>/*.pkl files") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("tree without pickles: %v", err)
	}
	missing := filepath.Join(root, "nope")
	if _, err := Walk(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing root: %v", err)
	}
}

func TestConvertTreeOUMVLP(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	runPython(t, src, pyWalk+`
save('00001/00/000/000.pkl', walk(), 4)
save('00002/01/090/090.pkl', flat(51), 2)
save('00003/00/000/000.pkl', flat(0), 4)
save('00004/00/000/a.pkl', flat(51), 4)
save('00004/00/000/b.pkl', flat(51), 4)
save('00005/00/000/000.pkl', flat(51).astype(np.float32), 4)
`)
	writeFile(t, src, "00001/00/000/notes.txt", []byte("x"))
	var mu sync.Mutex
	calls := 0
	st, err := ConvertTree(src, out, ConvertOptions{Workers: 2, Progress: func(done, total int) {
		mu.Lock()
		calls++
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Format != "oumvlp" || st.Data != out || st.GEIs != 2 || st.FramesUsed != 6 || st.FramesSkipped != 1 || len(st.Failed) != 3 || calls != 5 {
		t.Fatalf("stats %+v, %d progress calls", st, calls)
	}
	if len(st.Ignored) != 1 || st.Ignored[0] != filepath.Join(src, "00001", "00", "000", "notes.txt") {
		t.Fatalf("ignored %v", st.Ignored)
	}
	for i, want := range []struct {
		dir string
		err error
		msg string
	}{
		{"00003/00/000", gei.ErrNoFrames, "000.pkl"},
		{"00004/00/000", nil, "2 pickles (a.pkl, b.pkl): choose the silhouette one with a name pattern"},
		{"00005/00/000", ErrNotSilhouettes, `dtype "f4"`},
	} {
		f := st.Failed[i]
		if f.Dir != filepath.Join(src, filepath.FromSlash(want.dir)) || (want.err != nil && !errors.Is(f, want.err)) || !strings.Contains(f.Error(), want.msg) {
			t.Errorf("failure %d: %s: %v; want %s, %q", i, f.Dir, f.Err, want.dir, want.msg)
		}
	}
	writeFile(t, out, "labels.csv", []byte("ID,gender,age\n1,M,30\n2,F,45\n"))
	ds, err := dataset.OpenOUMVLP(out, dataset.OUMVLPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantSamples := []dataset.Sample{
		{Path: filepath.Join(out, "GEI", "000-00", "00001.png"), Age: 30, Gender: api.Male, Subject: "00001", View: "000", Seq: "00", Split: dataset.SplitTrain},
		{Path: filepath.Join(out, "GEI", "090-01", "00002.png"), Age: 45, Gender: api.Female, Subject: "00002", View: "090", Seq: "01", Split: dataset.SplitTest},
	}
	if !reflect.DeepEqual(ds.Samples, wantSamples) || len(ds.Report.Problems) != 0 {
		t.Fatalf("dataset samples %+v, problems %v", ds.Samples, ds.Report.Problems)
	}
	g, err := gei.Load(wantSamples[0].Path, gei.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertGEI(t, "00001", g, walkGEI(), 0.5/255+1e-6)
	g, err = gei.Load(wantSamples[1].Path, gei.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	flat := make([]float64, 64*44)
	for k := range flat {
		flat[k] = 51.0 / 255 // a full 64×64 frame, centred: every column of the GEI
	}
	assertGEI(t, "00002", g, flat, 1e-6)

	// A tree that is not in OU-MVLP form needs labels and a partition; nothing is written.
	casia, out2 := t.TempDir(), t.TempDir()
	writeFile(t, casia, "001/nm-01/090/090.pkl", npPickle([]int{1, 8, 8}, "u1", false, counting(64)))
	_, err = ConvertTree(casia, out2, ConvertOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(casia, "001", "nm-01", "090")+" is not in OU-MVLP form") || !strings.Contains(err.Error(), "partition file") {
		t.Fatalf("non-OU-MVLP tree: %v", err)
	}
	if entries, _ := os.ReadDir(out2); len(entries) != 0 {
		t.Fatalf("refused conversion wrote %v", entries)
	}
}

func TestConvertTreeManifest(t *testing.T) {
	src, out := t.TempDir(), t.TempDir()
	runPython(t, src, pyWalk+`
save('001/nm-01/000/000.pkl', walk(), 5)
save('001/nm-01/090/090.pkl', flat(51), 3)
save('002/bg-01/090/090.pkl', flat(51), 4)
save('003/cl-01/000/000.pkl', flat(51), 4)
save('004/nm-01/000/000.pkl', flat(51), 4)
save('005/nm-01/000/000.pkl', flat(51), 4)
save('006/nm-01/000/000-aligned-sils.pkl', flat(51), 4)
save('006/nm-01/000/000-ratios.pkl', np.ones(2), 4)
`)
	meta := t.TempDir()
	labels := writeFile(t, meta, "labels.csv", []byte("ID,gender,age\n1,M,30\n2,F,45\n3,M,-\n5,F,60\n6,M,20\n"))
	partition := writeFile(t, meta, "CASIA-B.json", []byte(`{"TRAIN_SET": ["001", "003", "004", "006"], "TEST_SET": ["002"], "PROBE_SET": ["x"]}`))
	st, err := ConvertTree(src, out, ConvertOptions{Workers: 2, Labels: labels, Partition: partition})
	if err != nil {
		t.Fatal(err)
	}
	wantLeft := map[string]int{dataset.SkipNoLabel: 1, dataset.SkipUnknownAge: 1}
	if st.Format != "manifest" || st.Data != filepath.Join(out, ManifestName) || st.GEIs != 6 || st.Rows != 4 || st.NoSplit != 1 || !reflect.DeepEqual(st.Left, wantLeft) || len(st.Failed) != 1 {
		t.Fatalf("stats %+v", st)
	}
	if f := st.Failed[0]; f.Dir != filepath.Join(src, "006", "nm-01", "000") || !strings.Contains(f.Error(), "2 pickles (000-aligned-sils.pkl, 000-ratios.pkl)") {
		t.Fatalf("failure %s: %v", f.Dir, f.Err)
	}
	ds, err := dataset.OpenManifest(st.Data, dataset.ManifestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := func(subject, typ, view string, age int, g api.Gender, sp dataset.Split) dataset.Sample {
		return dataset.Sample{Path: filepath.Join(out, "GEI", subject, typ, view+".png"), Age: age, Gender: g, Subject: subject, View: view, Seq: typ, Split: sp}
	}
	want := []dataset.Sample{
		s("001", "nm-01", "000", 30, api.Male, dataset.SplitTrain),
		s("001", "nm-01", "090", 30, api.Male, dataset.SplitTrain),
		s("002", "bg-01", "090", 45, api.Female, dataset.SplitTest),
		s("005", "nm-01", "000", 60, api.Female, dataset.SplitNone),
	}
	if !reflect.DeepEqual(ds.Samples, want) || len(ds.Report.Problems) != 0 {
		t.Fatalf("manifest samples\n%+v\nwant\n%+v\nproblems %v", ds.Samples, want, ds.Report.Problems)
	}
	g, err := gei.Load(want[0].Path, gei.DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertGEI(t, "001/nm-01/000", g, walkGEI(), 0.5/255+1e-6)
	// Subjects 003 and 004 have GEIs but no manifest row.
	for _, p := range []string{"003/cl-01/000.png", "004/nm-01/000.png"} {
		if _, err := os.Stat(filepath.Join(out, "GEI", filepath.FromSlash(p))); err != nil {
			t.Errorf("GEI %s: %v", p, err)
		}
	}

	// The silhouette pickle of folders with several modalities, by name.
	sils, out2 := t.TempDir(), t.TempDir()
	for _, dir := range []string{"001/nm-01/000", "002/nm-01/000"} {
		writeFile(t, sils, dir+"/000-aligned-sils.pkl", npPickle([]int{1, 8, 8}, "u1", false, counting(64)))
		writeFile(t, sils, dir+"/000-ratios.pkl", npPickle([]int{1, 1, 1}, "f8", false, counting(8)))
	}
	st, err = ConvertTree(sils, out2, ConvertOptions{Labels: labels, Partition: partition, Match: "*-aligned-sils.pkl"})
	if err != nil || st.GEIs != 2 || st.Rows != 2 || len(st.Failed) != 0 {
		t.Fatalf("with a name pattern: %+v, %v", st, err)
	}
	st, err = ConvertTree(sils, t.TempDir(), ConvertOptions{Labels: labels, Partition: partition, Match: "*-rgb.pkl"})
	if err != nil || st.GEIs != 0 || len(st.Failed) != 2 || !strings.Contains(st.Failed[0].Error(), `no pickle name matches "*-rgb.pkl"`) {
		t.Fatalf("pattern matching nothing: %+v, %v", st, err)
	}
}

func TestConvertTreeRefuses(t *testing.T) {
	src, meta := t.TempDir(), t.TempDir()
	writeFile(t, src, "abc/nm-01/090/090.pkl", npPickle([]int{1, 8, 8}, "u1", false, counting(64)))
	labels := writeFile(t, meta, "labels.csv", []byte("ID,gender,age\n1,M,30\n"))
	badLabels := writeFile(t, meta, "bad.csv", []byte("ID,gender,age\n1,M,thirty\n"))
	partition := writeFile(t, meta, "p.json", []byte(`{"TRAIN_SET": ["abc"], "TEST_SET": []}`))
	both := writeFile(t, meta, "both.json", []byte(`{"TRAIN_SET": ["abc"], "TEST_SET": ["abc"]}`))
	for _, c := range []struct {
		name string
		o    ConvertOptions
		want string
	}{
		{"labels alone", ConvertOptions{Labels: labels}, "go together"},
		{"partition alone", ConvertOptions{Partition: partition}, "go together"},
		{"subject not an ID", ConvertOptions{Labels: labels, Partition: partition}, `subject "abc" is not an integer`},
		{"bad labels", ConvertOptions{Labels: badLabels, Partition: partition}, badLabels + `:2: age "thirty" is not an integer`},
		{"missing labels", ConvertOptions{Labels: filepath.Join(meta, "none.csv"), Partition: partition}, "none.csv"},
		{"subject in both", ConvertOptions{Labels: labels, Partition: both}, `subject "abc" is in both TRAIN_SET and TEST_SET`},
		{"bad pattern", ConvertOptions{Match: "[x"}, `pickle name pattern "[x"`},
		{"bad size", ConvertOptions{Size: gei.Size{H: 3, W: 2}}, "unsupported GEI size 3x2"},
	} {
		out := t.TempDir()
		_, err := ConvertTree(src, out, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), src) {
			t.Errorf("%s: %v, want an error naming %s and saying %q", c.name, err, src, c.want)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Errorf("%s: refused conversion wrote %v", c.name, entries)
		}
	}
}

func TestReadPartition(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", []byte(`{"TRAIN_SET": ["001", "002"], "TEST_SET": ["003"], "PROBE_SET": ["004"]}`))
	got, err := ReadPartition(good)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]dataset.Split{"001": dataset.SplitTrain, "002": dataset.SplitTrain, "003": dataset.SplitTest}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("partition %v, want %v", got, want)
	}
	for name, c := range map[string]struct{ json, want string }{
		"no_test.json":  {`{"TRAIN_SET": ["001"]}`, "want both TRAIN_SET and TEST_SET lists"},
		"numbers.json":  {`{"TRAIN_SET": [1], "TEST_SET": []}`, "TRAIN_SET must be a list of subject names (strings)"},
		"not_json.json": {`TRAIN_SET = 1`, "invalid character"},
	} {
		path := writeFile(t, dir, name, []byte(c.json))
		if _, err := ReadPartition(path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

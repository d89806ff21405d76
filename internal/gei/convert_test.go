package gei

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestConvertTree(t *testing.T) {
	sil, out := t.TempDir(), t.TempDir()
	frames, want := translatedFrames()
	for i, f := range frames {
		writePNG(t, filepath.Join(sil, "Silhouette_000-00", "00001"), []string{"1.png", "2.png", "3.png", "4.png"}[i], f)
	}
	// Subject 00002 at 090-01: one 64×44 full frame of value 51 -> GEI 0.2.
	writePNG(t, filepath.Join(sil, "Silhouette_090-01", "00002"), "1.png",
		grayImage(44, 64, func(int, int) uint8 { return 51 }))
	// Subject 00003: all black -> failed.
	writePNG(t, filepath.Join(sil, "Silhouette_090-01", "00003"), "1.png", rectFrame(30, 30, image.Rectangle{}, 0))
	writeFile(t, sil, "README.txt", []byte("ignored"))
	writeFile(t, filepath.Join(sil, "Other_000-00", "00009"), "1.png", []byte("ignored"))

	var mu sync.Mutex
	var calls [][2]int
	st, err := ConvertTree(sil, out, DefaultSize, 2, func(done, total int) {
		mu.Lock()
		calls = append(calls, [2]int{done, total})
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.GEIs != 2 || st.FramesUsed != 4 || st.FramesSkipped != 1 || len(st.Failed) != 1 {
		t.Fatalf("stats %+v", st)
	}
	if f := st.Failed[0]; f.Dir != filepath.Join(sil, "Silhouette_090-01", "00003") || !errors.Is(f, ErrNoFrames) {
		t.Fatalf("failed %v: %v", f.Dir, f.Err)
	}
	if len(calls) != 3 || calls[2] != [2]int{3, 3} {
		t.Fatalf("progress calls %v", calls)
	}
	got, err := Load(filepath.Join(out, "GEI", "000-00", "00001.png"), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, want, 0.5/255+1e-6) // 8-bit rounding of 0.8 = 204/255 exactly
	got, err = Load(filepath.Join(out, "GEI", "090-01", "00002.png"), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range got {
		if v != float32(51)/255 {
			t.Fatalf("00002 value %d = %v, want 51/255", k, v)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "GEI", "090-01", "00003.png")); !os.IsNotExist(err) {
		t.Fatalf("failed subject has a GEI: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "GEI", "000-00", "00009.png")); !os.IsNotExist(err) {
		t.Fatalf("non-silhouette folder converted: %v", err)
	}
}

func TestConvertTreeErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	if _, err := ConvertTree(missing, t.TempDir(), DefaultSize, 1, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing root: %v", err)
	}
	plain := t.TempDir()
	if _, err := ConvertTree(plain, t.TempDir(), DefaultSize, 1, nil); err == nil || !strings.Contains(err.Error(), "no Silhouette_") {
		t.Fatalf("root without silhouette folders: %v", err)
	}
	if _, err := ConvertTree(plain, t.TempDir(), Size{H: 3, W: 2}, 1, nil); err == nil {
		t.Fatal("unsupported size accepted")
	}
}

func TestWritePNG(t *testing.T) {
	dir := t.TempDir()
	g := make([]float32, 64*44)
	vals := []float32{0, 0.5, 1.2, -0.1, float32Nan(), 0.498, 1}
	copy(g, vals)
	path := filepath.Join(dir, "out.png")
	if err := WritePNG(path, g, DefaultSize); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	gray, ok := img.(*image.Gray)
	if !ok || img.Bounds() != image.Rect(0, 0, 44, 64) {
		t.Fatalf("decoded %T %v, want 44x64 *image.Gray", img, img.Bounds())
	}
	// 0.5*255 = 127.5 rounds to 128; 0.498*255 = 126.99 rounds to 127.
	wantBytes := []uint8{0, 128, 255, 0, 0, 127, 255}
	for i, w := range wantBytes {
		if gray.Pix[i] != w {
			t.Fatalf("byte %d = %d, want %d", i, gray.Pix[i], w)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
	if err := WritePNG(path, g[:10], DefaultSize); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("short GEI: %v", err)
	}
	bad := filepath.Join(dir, "no", "such", "dir", "x.png")
	if err := WritePNG(bad, g, DefaultSize); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("missing folder: %v", err)
	}
}

func float32Nan() float32 {
	var zero float32
	return zero / zero
}

func TestRunJobs(t *testing.T) {
	out := t.TempDir()
	errBuild := errors.New("cannot build")
	build := func(in string, size Size) ([]float32, int, int, error) {
		if in == "bad" {
			return nil, 1, 2, errBuild
		}
		g := make([]float32, size.H*size.W)
		for k := range g {
			g[k] = 0.4
		}
		return g, 3, 1, nil
	}
	blocker := writeFile(t, out, "file", []byte("x")) // a file where a folder is needed
	jobs := []Job{
		{In: "good", Out: filepath.Join(out, "a", "b", "good.png")},
		{In: "bad", Out: filepath.Join(out, "bad.png")},
		{In: "blocked", Out: filepath.Join(blocker, "x.png")},
	}
	var calls int
	st, err := RunJobs(jobs, DefaultSize, 2, build, func(done, total int) {
		calls++
		if total != 3 || done != calls {
			t.Errorf("progress(%d, %d) at call %d", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.GEIs != 1 || st.FramesUsed != 3 || st.FramesSkipped != 1 || len(st.Failed) != 2 || calls != 3 {
		t.Fatalf("stats %+v, %d progress calls", st, calls)
	}
	if st.Failed[0].Dir != "bad" || !errors.Is(st.Failed[0], errBuild) {
		t.Fatalf("first failure %v: %v", st.Failed[0].Dir, st.Failed[0].Err)
	}
	if st.Failed[1].Dir != "blocked" || !strings.Contains(st.Failed[1].Error(), blocker) {
		t.Fatalf("second failure %v: %v", st.Failed[1].Dir, st.Failed[1].Err)
	}
	got, err := Load(filepath.Join(out, "a", "b", "good.png"), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range got {
		if v != float32(102)/255 { // round(0.4*255) = 102
			t.Fatalf("value %d = %v, want 102/255", k, v)
		}
	}
	if _, err := RunJobs(jobs, Size{H: 10, W: 10}, 1, build, nil); err == nil {
		t.Fatal("unsupported size accepted")
	}
}

// EncodePNG writes the bytes WritePNG writes.
func TestEncodePNGMatchesWritePNG(t *testing.T) {
	g := make([]float32, 64*44)
	for k := range g {
		g[k] = float32(k%97) / 96
	}
	path := filepath.Join(t.TempDir(), "g.png")
	if err := WritePNG(path, g, DefaultSize); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := EncodePNG(&buf, g, Size{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatal("EncodePNG differs from WritePNG's file")
	}
	if err := EncodePNG(&buf, g[:5], DefaultSize); err == nil || !strings.Contains(err.Error(), "5 values") {
		t.Fatalf("short GEI: %v", err)
	}
}

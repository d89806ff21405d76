package inputs

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/opengait"
)

// writePNG writes a 44×64 gray image whose pixels are level inside a
// 10×40 box and 0 elsewhere: level 255 is a silhouette frame, other
// levels a GEI.
func writePNG(t *testing.T, path string, level uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 44, 64))
	for y := 12; y < 52; y++ {
		for x := 17; x < 27; x++ {
			img.SetGray(x, y, color.Gray{Y: level})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// writePickles writes, with Debian's python3 and NumPy, a protocol-4
// pickle of 3 frames of 64×64 (a white box) at each path.
func writePickles(t *testing.T, paths ...string) {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("%s with NumPy is needed (scripts/install_test_deps.sh): %v %s", py, err, out)
	}
	script := `
import numpy as np, pickle, sys, os
a = np.zeros((3, 64, 64), np.uint8); a[:, 8:60, 24:40] = 255
for p in sys.argv[1:]:
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, 'wb').write(pickle.dumps(a, protocol=4))
`
	if out, err := exec.Command(py, append([]string{"-c", script}, paths...)...).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

func sources(ins []Input) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.Source+" "+in.Path)
	}
	return out
}

func TestSniff(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	writePNG(t, p("gei.pkl"), 128)                // a PNG whatever its name
	writePickles(t, p("walk.dat"), p("walk.png")) // a pickle whatever its name
	os.WriteFile(p("broken.pkl"), []byte("\x80"), 0o644)
	os.WriteFile(p("text.png"), []byte("hello"), 0o644)
	os.WriteFile(p("text.PKL"), []byte("hello"), 0o644)
	for name, want := range map[string]string{
		"gei.pkl": api.SourceGEI, "walk.dat": api.SourceOpenGait, "walk.png": api.SourceOpenGait,
		"broken.pkl": api.SourceOpenGait, "text.png": api.SourceGEI, "text.PKL": api.SourceOpenGait, "missing.png": api.SourceGEI,
	} {
		if got := Sniff(p(name)); got != want {
			t.Errorf("Sniff(%s) = %s, want %s", name, got, want)
		}
	}
	// and each loads through its reader: the pickle named .png is a walk
	size := gei.DefaultSize
	got, err := Input{Path: p("walk.png"), Source: Sniff(p("walk.png"))}.Load(size)
	if err != nil {
		t.Fatal(err)
	}
	want, _, _, err := opengait.LoadGEI(p("walk.png"), size)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("pickle input: %v; GEI differs from opengait.LoadGEI: %v", err, !slices.Equal(got, want))
	}
	if _, err := (Input{Path: p("broken.pkl"), Source: Sniff(p("broken.pkl"))}).Load(size); err == nil ||
		!strings.Contains(err.Error(), "read OpenGait pickle "+p("broken.pkl")) || !strings.Contains(err.Error(), "malformed pickle") {
		t.Fatalf("truncated pickle: %v", err)
	}
	if _, err := (Input{Path: p("text.png"), Source: api.SourceGEI}).Load(size); err == nil || !strings.Contains(err.Error(), "read GEI "+p("text.png")) {
		t.Fatalf("text as GEI: %v", err)
	}
}

func TestExpandAndSet(t *testing.T) {
	dir := t.TempDir()
	p := func(rel string) string { return filepath.Join(dir, rel) }
	writePNG(t, p("geis/a.png"), 120)
	writePNG(t, p("geis/b.PNG"), 90)
	os.WriteFile(p("geis/notes.txt"), []byte("x"), 0o644)
	writePNG(t, p("geis/sub/walk/0001.png"), 255) // silhouette frames below
	writePNG(t, p("geis/sub/walk/0002.png"), 255)
	writePNG(t, p("geis/.hidden/c.png"), 100)
	writePickles(t, p("geis/sub/001/nm-01/090/090.pkl"), p("geis/sub/001/nm-02/000/000.pkl"), p("og/000.pkl"))
	os.MkdirAll(p("empty"), 0o755)

	// Expand: the folders named, not below; a file alone; errors in place.
	got := Expand([]string{p("geis"), p("og"), p("geis/sub/walk"), p("og/000.pkl"), p("missing"), p("empty")}, false)
	want := []string{
		"gei " + p("geis/a.png"), "gei " + p("geis/b.PNG"), "opengait " + p("og/000.pkl"),
		"silhouettes " + p("geis/sub/walk"), "opengait " + p("og/000.pkl"), " " + p("missing"), " " + p("empty"),
	}
	if !slices.Equal(sources(got), want) {
		t.Fatalf("Expand:\n got %q\nwant %q", sources(got), want)
	}
	if got[5].Err == nil || !strings.Contains(got[5].Err.Error(), p("missing")+": no such file or directory") ||
		got[6].Err == nil || !strings.Contains(got[6].Err.Error(), p("empty")+": folder holds no .png or .pkl files") {
		t.Fatalf("errors: %v; %v", got[5].Err, got[6].Err)
	}
	// --frames makes a GEI folder one walk
	if got := Expand([]string{p("geis")}, true); !slices.Equal(sources(got), []string{"silhouettes " + p("geis")}) {
		t.Fatalf("Expand with frames: %q", sources(got))
	}

	// Set: everything below, hidden folders skipped, sorted.
	set, err := Set(p("geis"), false)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"gei " + p("geis/a.png"), "gei " + p("geis/b.PNG"),
		"opengait " + p("geis/sub/001/nm-01/090/090.pkl"), "opengait " + p("geis/sub/001/nm-02/000/000.pkl"),
		"silhouettes " + p("geis/sub/walk"),
	}
	if !slices.Equal(sources(set), want) {
		t.Fatalf("Set:\n got %q\nwant %q", sources(set), want)
	}
	for _, in := range set {
		if _, err := in.Load(gei.DefaultSize); err != nil {
			t.Fatalf("load %s: %v", in.Path, err)
		}
	}
	if set, err := Set(p("og/000.pkl"), false); err != nil || !slices.Equal(sources(set), []string{"opengait " + p("og/000.pkl")}) {
		t.Fatalf("Set of a file: %q, %v", sources(set), err)
	}
	for path, msg := range map[string]string{p("empty"): ": no GEI (.png), silhouette folder or OpenGait pickle (.pkl) in it or below", p("missing"): ": no such file or directory"} {
		if _, err := Set(path, false); err == nil || err.Error() != path+msg {
			t.Errorf("Set(%s): %v", path, err)
		}
	}
}

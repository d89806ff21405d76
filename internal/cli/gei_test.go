package cli

import (
	"bytes"
	"errors"
	"github.com/gaitord/gaitord/internal/ffmpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/dataset"
)

// pickleTree writes OpenGait pickles (protocol 4, 3 frames of 64×64 with a
// white bar) at the given paths under root, with Debian's python3 + NumPy.
func pickleTree(t *testing.T, root string, rels ...string) {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("%s with NumPy is needed (scripts/install_test_deps.sh): %v %s", py, err, out)
	}
	script := `
import numpy as np, pickle, sys, os
a = np.zeros((3, 64, 64), np.uint8); a[:, 4:60, 26:38] = 255
for rel in sys.argv[2:]:
    p = os.path.join(sys.argv[1], rel)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, 'wb').write(pickle.dumps(a, protocol=4))
`
	if out, err := exec.Command(py, append([]string{"-c", script, root}, rels...)...).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

func TestGEIFlagsForOpenGait(t *testing.T) {
	o := execute(t, newGEICmd, "--tree", "t", "--format", "opengait", "--out", "o", "--labels", "l.csv", "--partition", "p.json", "--match", "*-sils.pkl")
	want := GEIOptions{Tree: "t", Format: "opengait", Out: "o", Labels: "l.csv", Partition: "p.json", Match: "*-sils.pkl", Height: 64, Width: 44,
		MaxPixels: ffmpeg.DefaultMaxPixels, FPS: 25}
	if *o != want {
		t.Fatalf("options %+v, want %+v", *o, want)
	}
	if o := execute(t, newGEICmd, "--tree", "t", "--out", "o"); o.Format != "oumvlp" {
		t.Fatalf("default --format %q", o.Format)
	}
}

func TestRunGEIOpenGait(t *testing.T) {
	src := t.TempDir()
	pickleTree(t, src, "00001/00/090/090.pkl", "00002/01/000/000.pkl", "00002/01/000/notes.txt")
	var out, errb bytes.Buffer
	s := Streams{Out: &out, Err: &errb}

	// OU-MVLP layout
	dst := filepath.Join(t.TempDir(), "oumvlp")
	if err := RunGEI(s, &Global{Quiet: true}, &GEIOptions{Tree: src, Format: "opengait", Out: dst, Height: 64, Width: 44, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"GEI/090-00/00001.png", "GEI/000-01/00002.png"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Fatalf("GEI %s: %v", p, err)
		}
	}
	for _, line := range []string{"wrote 2 GEIs under " + dst + " from 6 frames (0 empty frames skipped)\n",
		"train on it with --data " + dst + " --format oumvlp (ages from " + filepath.Join(dst, "labels.csv") + " or data.labels)\n"} {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("stdout lacks %q:\n%s", line, out.String())
		}
	}
	if !strings.Contains(errb.String(), "warning: 1 entries of "+src+" are not <subject>/<type>/<view>/*.pkl and were ignored (first: "+filepath.Join(src, "00002/01/000/notes.txt")+")") {
		t.Fatalf("stderr: %q", errb.String())
	}

	// manifest layout, with labels and a partition
	meta := t.TempDir()
	labels := filepath.Join(meta, "labels.csv")
	partition := filepath.Join(meta, "part.json")
	os.WriteFile(labels, []byte("ID,gender,age\n1,M,30\n"), 0o644)
	os.WriteFile(partition, []byte(`{"TRAIN_SET": ["00001"], "TEST_SET": ["00002"]}`), 0o644)
	out.Reset()
	dst = filepath.Join(t.TempDir(), "man")
	if err := RunGEI(s, &Global{Quiet: true}, &GEIOptions{Tree: src, Format: "opengait", Out: dst, Height: 64, Width: 44, Labels: labels, Partition: partition}); err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(dst, "manifest.csv")
	for _, line := range []string{"manifest " + man + ": 1 rows, 1 walks left out (" + dataset.SkipNoLabel + ")\n", "train on it with --data " + man + " --format manifest\n"} {
		if !strings.Contains(out.String(), line) {
			t.Fatalf("stdout lacks %q:\n%s", line, out.String())
		}
	}
	ds, err := dataset.OpenManifest(man, dataset.ManifestOptions{})
	if err != nil || len(ds.Samples) != 1 || ds.Samples[0].Age != 30 || ds.Samples[0].Split != dataset.SplitTrain {
		t.Fatalf("manifest: %+v, %v", ds, err)
	}

	// a walk that fails is named, the command fails after the others
	os.WriteFile(filepath.Join(src, "00002/01/000/000.pkl"), []byte("\x80\x04truncated"), 0o644)
	errb.Reset()
	err = RunGEI(s, &Global{Quiet: true}, &GEIOptions{Tree: src, Format: "opengait", Out: t.TempDir(), Height: 64, Width: 44})
	if err == nil || err.Error() != "1 walk folders gave no GEI" || !strings.Contains(errb.String(), "gaitord: "+filepath.Join(src, "00002/01/000")+": read OpenGait pickle ") {
		t.Fatalf("bad pickle: %v\n%s", err, errb.String())
	}
}

func TestRunGEIUsageErrors(t *testing.T) {
	s := Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
	for _, c := range []struct {
		o   GEIOptions
		msg string
	}{
		{GEIOptions{Tree: "t", Format: "casia", Out: "o"}, `--format "casia": want oumvlp or opengait`},
		{GEIOptions{Tree: "t", Format: "oumvlp", Out: "o", Labels: "l.csv"}, "--match, --labels and --partition are for --tree DIR --format opengait"},
		{GEIOptions{Frames: "f", Format: "opengait", Out: "o.png"}, "--format opengait converts a tree (--tree DIR)"},
	} {
		err := RunGEI(s, &Global{}, &c.o)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v, want a usage error %q", c.o, err, c.msg)
		}
	}
}

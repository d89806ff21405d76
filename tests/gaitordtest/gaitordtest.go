// Package gaitordtest builds and runs the real gaitord binary for the
// end-to-end and bad-input tests, reads back what it writes, and holds the
// small fixtures and fakes several packages' tests share.
package gaitordtest

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/synth"
)

// Build compiles ../../cmd/gaitord (relative to a test package under tests/)
// into a new temporary folder, which the caller removes.
func Build() (bin, dir string, err error) {
	dir, err = os.MkdirTemp("", "gaitord-test")
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "gaitord")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gaitord").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("building gaitord: %v\n%s", err, out)
	}
	return bin, dir, nil
}

// Main is a TestMain body: it builds the binary into *bin, runs the tests,
// removes the build folder and then runs cleanup, and returns the exit
// status for os.Exit. Under `go test -short` (make unit) it builds and runs
// nothing: these packages are the long binary runs the inner loop leaves
// to `make test`.
func Main(m *testing.M, bin *string, cleanup func()) int {
	flag.Parse() // testing.Short reads the -test.short flag
	if testing.Short() {
		fmt.Println("skipped under -short: these tests build and run the gaitord binary (make test runs them)")
		return 0
	}
	b, dir, err := Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*bin = b
	code := m.Run()
	os.RemoveAll(dir)
	if cleanup != nil {
		cleanup()
	}
	return code
}

// Result is what a finished command left.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Exec runs name with argv, with its own synthetic-data cache folder, and
// returns its exit status and output; failing to start it fails the test.
func Exec(t testing.TB, name string, argv ...string) Result {
	t.Helper()
	return ExecEnv(t, nil, name, argv...)
}

// ExecEnv is Exec with env added to the environment (a variable set there
// replaces the inherited one, e.g. PATH).
func ExecEnv(t testing.TB, env []string, name string, argv ...string) Result {
	t.Helper()
	cmd := exec.Command(name, argv...)
	cmd.Env = append(append(os.Environ(), "GAITORD_CACHE="+t.TempDir()), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %v: %v", name, argv, err)
	}
	return Result{Code: code, Stdout: o.String(), Stderr: e.String()}
}

// ReadGray decodes the 8-bit gray PNG at path (a GEI or mask gaitord wrote);
// anything else fails the test.
func ReadGray(t testing.TB, path string) *image.Gray {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	g, ok := img.(*image.Gray)
	if !ok {
		t.Fatalf("%s: %T, want an 8-bit gray PNG", path, img)
	}
	return g
}

// SynthSet writes a small synthetic set under dir/synth (6 subjects, view
// 90°, seed 5, ages 2–80: 12 GEIs) and returns its root and a configuration
// (YAML) that names it with one loader worker: the data a checkpoint's
// stored configuration points int8 calibration to.
func SynthSet(t testing.TB, dir string) (root, yaml string) {
	t.Helper()
	root = filepath.Join(dir, "synth")
	if _, err := synth.Generate(synth.Options{Root: root, Subjects: 6, Views: []int{90}, Seed: 5, MinAge: 2, MaxAge: 80}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Data.Root, cfg.Data.Workers = root, 1
	y, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	return root, y
}

// ReadRecorder is an io.ReaderAt over B that records every range read
// ([off, end)) in Reads: tests of readers that must skip parts of a file
// (safetensors.File, checkpoint.LoadModel) check what was touched.
type ReadRecorder struct {
	B     []byte
	Reads [][2]int64
}

// ReadAt reads from B and records the range.
func (r *ReadRecorder) ReadAt(p []byte, off int64) (int, error) {
	r.Reads = append(r.Reads, [2]int64{off, off + int64(len(p))})
	return bytes.NewReader(r.B).ReadAt(p, off)
}

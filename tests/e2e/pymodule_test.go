package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/safetensors"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// pyModule is the single-file PyTorch module a Python user loads gaitord's
// exports with, without gaitord.
var pyModule = filepath.Join("..", "..", "python", "gaitord_torch.py")

// Tolerances of the Python module against `predict --json`, for the same
// exported weights and inputs. Both sides run libtorch 1.13 in float32 and
// decode in float64, but gaitord runs the inputs as one batch and the module
// one at a time, and libtorch's convolutions may round differently for
// another batch size: a logit of magnitude 10 can move by 1e-6, p by 3e-7,
// an age summing 100 of them by 3e-5. The bounds cover that; the largest
// differences measured are logged.
const (
	pyTolYears = 1e-4 // age, median, interval bounds
	pyTolProb  = 1e-5 // p_male, each p_age_gt
)

// pyReady reports why Debian's python3 cannot run the module ("" when it can).
func pyReady() string {
	out, err := exec.Command(debianPython, "-c", "import torch, numpy, PIL").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s with torch, numpy and PIL is needed (scripts/install_test_deps.sh): %v %s", debianPython, err, bytes.TrimSpace(out))
	}
	return ""
}

// runPy runs the module's CLI; it returns stdout, stderr and the exit status.
func runPy(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(debianPython, append([]string{pyModule}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	return o.String(), e.String(), 0
}

// diffs tracks the largest difference seen per field.
type diffs map[string]float64

func (d diffs) add(field string, a, b float64) {
	d[field] = max(d[field], math.Abs(a-b))
}

// TestPythonModuleReproducesPredict trains every loss type for one epoch on
// a tiny synthetic set, exports safetensors, and checks that
// python/gaitord_torch.py, given only NAME.safetensors and NAME.json,
// prints the records `predict --json` prints for the same inputs: three
// synthetic GEIs, an RGBA PNG of another size (gray conversion, area
// averaging, centring), a 16-bit gray and a paletted PNG, a folder of
// silhouette frames and a folder of GEIs; age, median,
// interval bounds within pyTolYears, p_male and every p_age_gt within
// pyTolProb, the same gender, interval null exactly for l1. Then that the
// module's GEI from silhouette frames has the pixels `gaitord gei` writes,
// that it reads a training checkpoint as its export, and that a truncated
// file and a wrong-shaped tensor are one-line errors.
func TestPythonModuleReproducesPredict(t *testing.T) {
	if why := pyReady(); why != "" {
		t.Skip(why)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "synth")
	mustRun(t, "synth", "--out", data, "--subjects", "8", "--views", "90", "--seed", "5")
	geis, _ := filepath.Glob(filepath.Join(data, "GEI", "090-00", "*.png"))
	if len(geis) < 3 {
		t.Fatalf("synthetic GEIs: %v", geis)
	}
	frames := filepath.Join(dir, "frames")
	if out, err := exec.Command(debianPython, "-c", pyWalk, filepath.Join(dir, "walk.pkl"), filepath.Join(dir, "walk.raw"), "4").CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	writeFrames(t, filepath.Join(dir, "walk.raw"), frames, 64, 64)
	inputs := append(geis[:3:3], rgbaVariant(t, geis[0], filepath.Join(dir, "odd.png")),
		gray16Variant(t, geis[1], filepath.Join(dir, "gray16.png")), palettedVariant(t, geis[2], filepath.Join(dir, "paletted.png")), frames)
	// a folder of GEIs: one record each, and a batch of several in gaitord
	folder := filepath.Join(data, "GEI", "090-01")
	inFolder, _ := filepath.Glob(filepath.Join(folder, "*.png"))
	inputs = append(inputs, folder)
	records := len(inputs) - 1 + len(inFolder)

	seen := diffs{}
	var lastExport string
	for _, lt := range glcnn.LossTypes() {
		t.Run(string(lt), func(t *testing.T) {
			run := filepath.Join(dir, string(lt))
			mustRun(t, "train", "--config", "../../configs/default.yaml", "--data", data, "--format", "synthetic",
				"--out", run, "--epochs", "1", "--batch-size", "4", "--set", "loss.type="+string(lt),
				"--set", "train.val_fraction=0.25", "--set", "data.workers=1")
			exported := filepath.Join(run, "glcnn.safetensors")
			mustRun(t, "export", "--checkpoint", filepath.Join(run, train.BestFile), "--format", "safetensors", "--out", exported)
			lastExport = exported
			want := decodeLines(t, mustRun(t, append([]string{"predict", "--checkpoint", exported, "--json"}, inputs...)...).Stdout)
			stdout, stderr, code := runPy(t, append([]string{exported}, inputs...)...)
			if code != 0 {
				t.Fatalf("python module: exit %d\n%s", code, stderr)
			}
			got := decodeLines(t, stdout)
			if len(got) != records || len(want) != records {
				t.Fatalf("%d Python and %d gaitord records, want %d", len(got), len(want), records)
			}
			for i, g := range got {
				w := want[i]
				if g.Schema != w.Schema || g.Path != w.Path || g.Source != w.Source || g.Gender != w.Gender {
					t.Errorf("%s: Python record %s %s %s %s, gaitord %s %s %s %s", w.Path,
						g.Schema, g.Path, g.Source, g.Gender, w.Schema, w.Path, w.Source, w.Gender)
				}
				seen.add("age", g.Age, w.Age)
				seen.add("median", g.Median, w.Median)
				seen.add("p_male", g.PMale, w.PMale)
				if (g.Interval == nil) != (w.Interval == nil) || (w.Interval == nil) != !lt.Distribution() {
					t.Errorf("%s: Python interval %v, gaitord %v", w.Path, g.Interval, w.Interval)
				} else if w.Interval != nil {
					seen.add("interval80", g.Interval[0], w.Interval[0])
					seen.add("interval80", g.Interval[1], w.Interval[1])
				}
				if len(g.PAgeGT) != len(w.PAgeGT) || (len(w.PAgeGT) == 100) != lt.Distribution() {
					t.Fatalf("%s: Python p_age_gt of %d values, gaitord %d", w.Path, len(g.PAgeGT), len(w.PAgeGT))
				}
				for k := range w.PAgeGT {
					seen.add("p_age_gt", g.PAgeGT[k], w.PAgeGT[k])
				}
			}
			for f, d := range seen {
				tol := pyTolProb
				if f == "age" || f == "median" || f == "interval80" {
					tol = pyTolYears
				}
				if !(d <= tol) {
					t.Errorf("%s: largest difference %.3g, tolerance %g", f, d, tol)
				}
			}
		})
	}
	t.Logf("largest differences Python − gaitord over every loss type and input: %v", seen)

	t.Run("gei-from-frames", func(t *testing.T) {
		for _, size := range [][2]int{{64, 44}, {128, 88}} {
			h, w := fmt.Sprint(size[0]), fmt.Sprint(size[1])
			goPNG, pyPNG := filepath.Join(dir, "go"+h+".png"), filepath.Join(dir, "py"+h+".png")
			mustRun(t, "gei", "--frames", frames, "--out", goPNG, "--height", h, "--width", w)
			if _, stderr, code := runPy(t, "gei", "--frames", frames, "--out", pyPNG, "--height", h, "--width", w); code != 0 {
				t.Fatalf("python gei: exit %d\n%s", code, stderr)
			}
			a, b := gaitordtest.ReadGray(t, goPNG), gaitordtest.ReadGray(t, pyPNG)
			if a.Rect != b.Rect || !bytes.Equal(a.Pix, b.Pix) {
				t.Fatalf("%s×%s GEI: Python's pixels differ from gaitord gei's", h, w)
			}
			grey := 0
			for _, v := range a.Pix {
				if v > 0 && v < 255 {
					grey++
				}
			}
			if grey < 50 { // the walk moves: averaging gives intermediate greys
				t.Fatalf("%s×%s GEI has %d grey pixels: not an average of moving frames", h, w, grey)
			}
		}
	})

	t.Run("training-checkpoint", func(t *testing.T) {
		// best.ckpt is safetensors too, with Adam's moments: the module
		// leaves them out and predicts what the export predicts
		ckpt := filepath.Join(filepath.Dir(lastExport), train.BestFile)
		fromCkpt, stderr, code := runPy(t, ckpt, geis[0])
		fromExport, _, _ := runPy(t, lastExport, geis[0])
		if code != 0 || fromCkpt == "" || fromCkpt != fromExport {
			t.Fatalf("python module on %s: exit %d %s\n%s\nwant the export's\n%s", ckpt, code, stderr, fromCkpt, fromExport)
		}
	})

	t.Run("broken-files", func(t *testing.T) {
		b, err := os.ReadFile(lastExport)
		if err != nil {
			t.Fatal(err)
		}
		truncated := filepath.Join(dir, "truncated.safetensors")
		os.WriteFile(truncated, b[:len(b)/2], 0o644)
		wrong := filepath.Join(dir, "wrong.safetensors")
		writeWrongShape(t, lastExport, wrong)
		for _, c := range []struct{ file, want string }{
			{truncated, "outside the"},
			{wrong, "linear_gender.weight has shape [3, 1024]"},
		} {
			stdout, stderr, code := runPy(t, c.file, geis[0])
			line := strings.TrimSuffix(stderr, "\n")
			if code != 1 || stdout != "" || strings.Contains(line, "\n") || !strings.Contains(line, c.file) || !strings.Contains(line, c.want) {
				t.Errorf("python module on %s: exit %d, stdout %q, stderr %q; want exit 1 and one line naming the file and %q", c.file, code, stdout, stderr, c.want)
			}
		}
	})
}

// rgbaVariant writes the GEI at src as an RGBA PNG of 90×70 pixels (not the
// model's size), shifted right, tinted and partly transparent, so that the
// Python module's gray conversion, area averaging and centring are all
// exercised.
func rgbaVariant(t *testing.T, src, dst string) string {
	t.Helper()
	g := gaitordtest.ReadGray(t, src)
	out := image.NewNRGBA(image.Rect(0, 0, 70, 90))
	for y := 0; y < 90; y++ {
		for x := 0; x < 70; x++ {
			sx, sy := (x-12)*g.Rect.Dx()/50, y*g.Rect.Dy()/90
			if sx < 0 || sx >= g.Rect.Dx() {
				continue
			}
			v := g.GrayAt(sx, sy).Y
			out.SetNRGBA(x, y, color.NRGBA{R: v, G: uint8(int(v) * 3 / 4), B: uint8(int(v) / 2), A: uint8(255 - x%3*40)})
		}
	}
	return encodePNG(t, out, dst)
}

// gray16Variant writes the GEI at src as a 16-bit gray PNG of 100×66
// pixels (taller and wider than the model's, another aspect ratio).
func gray16Variant(t *testing.T, src, dst string) string {
	t.Helper()
	g := gaitordtest.ReadGray(t, src)
	out := image.NewGray16(image.Rect(0, 0, 66, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 66; x++ {
			v := uint16(g.GrayAt(x*g.Rect.Dx()/66, y*g.Rect.Dy()/100).Y) * 257
			out.SetGray16(x, y, color.Gray16{Y: v - v/7})
		}
	}
	return encodePNG(t, out, dst)
}

// palettedVariant writes the GEI at src as a paletted PNG of its own size,
// 16 levels of a bluish gray, some of them partly transparent.
func palettedVariant(t *testing.T, src, dst string) string {
	t.Helper()
	g := gaitordtest.ReadGray(t, src)
	pal := make(color.Palette, 16)
	for i := range pal {
		v := uint8(i * 17)
		pal[i] = color.NRGBA{R: v / 2, G: v, B: v, A: uint8(255 - i%4*30)}
	}
	out := image.NewPaletted(g.Rect, pal)
	for k, v := range g.Pix {
		out.Pix[k] = v / 16
	}
	return encodePNG(t, out, dst)
}

func encodePNG(t *testing.T, img image.Image, dst string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// writeWrongShape copies the export at src to dst with linear_gender.weight
// given three rows instead of two.
func writeWrongShape(t *testing.T, src, dst string) {
	t.Helper()
	f, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	names := f.Names()
	slices.Sort(names)
	for _, n := range names {
		tn, err := f.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == "linear_gender.weight" {
			v, err := tn.Float32()
			if err != nil {
				t.Fatal(err)
			}
			tn = safetensors.FromFloat32(n, []int64{3, 1024}, append(v, v[:1024]...))
		}
		ts = append(ts, tn)
	}
	if err := safetensors.Write(dst, ts, f.Metadata()); err != nil {
		t.Fatal(err)
	}
}

package e2e

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/modelcard"
)

// debianPython (losses_test.go) has NumPy and PIL (scripts/install_test_deps.sh).

// pyWalk writes one walk of 64×64 binary silhouette frames (a body, a head
// and two legs swinging) twice from the same NumPy array: as an OpenGait
// pickle (protocol given) and as raw bytes (T·64·64, C order), which the
// test turns into PNG frames.
const pyWalk = `
import numpy as np, pickle, sys, os
pkl, raw, proto = sys.argv[1], sys.argv[2], int(sys.argv[3])
T = 24
a = np.zeros((T, 64, 64), np.uint8)
yy, xx = np.mgrid[0:64, 0:64]
for t in range(T):
    s = np.sin(2 * np.pi * t / 12)
    cx = 30 + 2 * s
    a[t][((yy - 8) ** 2 + (xx - cx) ** 2) <= 16] = 255           # head
    a[t, 12:38, int(cx) - 5:int(cx) + 5] = 255                   # body
    for d in (-1, 1):                                            # legs
        for y in range(38, 62):
            x = int(round(cx + d * s * (y - 38) * 0.35))
            a[t, y, x - 2:x + 2] = 255
    a[t, 14:30, int(cx) + 5:int(cx) + 7 + int(3 * abs(s))] = 255  # an arm
a.tofile(raw)
with open(pkl, 'wb') as f:
    pickle.dump(a, f, protocol=proto)
`

// checkOpenGaitWalk: a pickle written by Python and NumPy predicts what the
// same frames predict as a silhouette folder (the same GEI, bit for bit),
// and within the 8-bit rounding of what the GEI PNG that `gaitord gei`
// builds from them predicts.
func checkOpenGaitWalk(t *testing.T, ckpt string) {
	if out, err := exec.Command(debianPython, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("%s with NumPy is needed (scripts/install_test_deps.sh): %v %s", debianPython, err, out)
	}
	dir := t.TempDir()
	pkl, raw, frames, geiPNG := filepath.Join(dir, "walk.pkl"), filepath.Join(dir, "walk.raw"), filepath.Join(dir, "frames"), filepath.Join(dir, "walk.png")
	if out, err := exec.Command(debianPython, "-c", pyWalk, pkl, raw, "4").CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	writeFrames(t, raw, frames, 64, 64)
	mustRun(t, "gei", "--frames", frames, "--out", geiPNG)
	// a pickle without the .pkl extension is recognised by its content
	renamed := filepath.Join(dir, "walk.bin")
	b, _ := os.ReadFile(pkl)
	os.WriteFile(renamed, b, 0o644)
	r := mustRun(t, "predict", "--checkpoint", ckpt, "--json", pkl, frames, geiPNG, renamed)
	preds := decodeLines(t, r.Stdout)
	if len(preds) != 4 || preds[0].Source != api.SourceOpenGait || preds[1].Source != api.SourceSilhouettes || preds[2].Source != api.SourceGEI || preds[3].Source != api.SourceOpenGait {
		t.Fatalf("predictions %+v", preds)
	}
	fromPickle, fromFrames, fromPNG := preds[0], preds[1], preds[2]
	t.Logf("walk: pickle %.4f, frames %.4f, GEI PNG %.4f years", fromPickle.Age, fromFrames.Age, fromPNG.Age)
	if math.Abs(fromPickle.Age-fromFrames.Age) > 1e-4 || math.Abs(fromPickle.PMale-fromFrames.PMale) > 1e-6 || preds[3].Age != fromPickle.Age {
		t.Fatalf("the pickle predicts %.6f (p_male %.6f), its frames %.6f (%.6f)", fromPickle.Age, fromPickle.PMale, fromFrames.Age, fromFrames.PMale)
	}
	if math.Abs(fromPickle.Age-fromPNG.Age) > 0.5 {
		t.Fatalf("the pickle predicts %.3f, the GEI PNG of its frames %.3f", fromPickle.Age, fromPNG.Age)
	}
}

// checkFused: predict --fuse on one subject's GEIs gives, by linearity of
// the expected age, the mean of the per-GEI ages and P(male); eval
// --per-subject reports one record per test subject whose age is the mean
// of that subject's per-GEI ages in predictions.jsonl; the export's card
// quotes the report.
func checkFused(t *testing.T, data, ckpt string) {
	person := t.TempDir()
	var geis []string
	for _, v := range []string{"000-00", "000-01", "090-00", "090-01"} {
		src := filepath.Join(data, "GEI", v, "00002.png")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(person, v+".png")
		os.WriteFile(dst, b, 0o644)
		geis = append(geis, dst)
	}
	per := decodeLines(t, mustRun(t, append([]string{"predict", "--checkpoint", ckpt, "--json"}, geis...)...).Stdout)
	fused := decodeLines(t, mustRun(t, "predict", "--checkpoint", ckpt, "--json", "--fuse", person).Stdout)
	if len(per) != 4 || len(fused) != 1 {
		t.Fatalf("%d per-GEI and %d fused predictions", len(per), len(fused))
	}
	meanAge, meanMale := 0.0, 0.0
	for _, p := range per {
		meanAge += p.Age / 4
		meanMale += p.PMale / 4
	}
	f := fused[0]
	t.Logf("subject 2: per GEI %.2f %.2f %.2f %.2f, fused %.3f [%.1f, %.1f]", per[0].Age, per[1].Age, per[2].Age, per[3].Age, f.Age, f.Interval[0], f.Interval[1])
	if f.Path != person || f.Source != api.SourceFused || f.NInputs != 4 || math.Abs(f.Age-meanAge) > 1e-3 || math.Abs(f.PMale-meanMale) > 1e-5 ||
		!(f.Interval[0] <= f.Median && f.Median <= f.Interval[1]) {
		t.Fatalf("fused %+v; mean of the per-GEI ages %.5f, p_male %.6f", f, meanAge, meanMale)
	}
	r := mustRun(t, "predict", "--checkpoint", ckpt, "--fuse", person)
	if !strings.Contains(r.Stdout, "PATH") || !strings.Contains(r.Stdout, "GEIS") || !strings.Contains(r.Stdout, person+"  4 ") {
		t.Fatalf("predict --fuse table:\n%s", r.Stdout)
	}

	// eval --per-subject, with a report
	report := filepath.Join(t.TempDir(), "report")
	r = mustRun(t, "eval", "--checkpoint", ckpt, "--json", "--per-subject", "--report", report)
	var sum struct {
		N          int     `json:"n"`
		MAE        float64 `json:"mae"`
		PerSubject *struct {
			N   int     `json:"n"`
			MAE float64 `json:"mae"`
		} `json:"per_subject"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &sum); err != nil || sum.PerSubject == nil || sum.PerSubject.N*4 != sum.N {
		t.Fatalf("eval --per-subject --json: %v\n%s", err, r.Stdout)
	}
	t.Logf("test MAE per GEI %.3f, per subject (4 GEIs fused) %.3f", sum.MAE, sum.PerSubject.MAE)
	perGEI := readRecords(t, filepath.Join(report, "predictions.jsonl"))
	subjects := readRecords(t, filepath.Join(report, "predictions_per_subject.jsonl"))
	if len(subjects) != sum.PerSubject.N || len(perGEI) != sum.N {
		t.Fatalf("%d subject records, %d GEI records", len(subjects), len(perGEI))
	}
	ages := map[string][]float64{}
	for _, p := range perGEI {
		subject := strings.TrimSuffix(filepath.Base(p.Path), ".png")
		ages[subject] = append(ages[subject], p.Age)
	}
	absErr := 0.0
	for _, s := range subjects {
		a := ages[s.Path]
		mean := 0.0
		for _, v := range a {
			mean += v / float64(len(a))
		}
		if s.Source != api.SourceFused || s.NInputs != len(a) || len(a) != 4 || math.Abs(s.Age-mean) > 1e-3 || s.TrueAge == nil {
			t.Fatalf("subject %s: %+v; its GEIs predict %v (mean %.4f)", s.Path, s, a, mean)
		}
		absErr += math.Abs(s.Age - float64(*s.TrueAge))
	}
	if got := absErr / float64(len(subjects)); math.Abs(got-sum.PerSubject.MAE) > 1e-9 {
		t.Fatalf("per-subject MAE %.6f, from the records %.6f", sum.PerSubject.MAE, got)
	}

	// export: the card quotes that report
	out := filepath.Join(t.TempDir(), "glcnn.safetensors")
	r = mustRun(t, "export", "--checkpoint", ckpt, "--out", out, "--report", report)
	card, err := os.ReadFile(strings.TrimSuffix(out, ".safetensors") + ".md")
	if err != nil || !strings.Contains(r.Stdout, "evaluation quoted from "+filepath.Join(report, "summary.json")) {
		t.Fatalf("export: %v\n%s", err, r.Stdout)
	}
	var cfg struct{ Schema string }
	b, err := os.ReadFile(strings.TrimSuffix(out, ".safetensors") + ".json")
	if err != nil || json.Unmarshal(b, &cfg) != nil || cfg.Schema != modelcard.Schema {
		t.Fatalf("NAME.json: %v\n%s", err, b)
	}
	for _, s := range []string{"| predictions | " + itoa(sum.N) + " | " + itoa(sum.PerSubject.N) + " |", "## Outputs and decoding (loss type `odl`)"} {
		if !strings.Contains(string(card), s) {
			t.Fatalf("card lacks %q:\n%s", s, card)
		}
	}
}

// writeFrames writes the raw T×h×w uint8 frames in raw as PNGs 000.png, … in dir.
func writeFrames(t *testing.T, raw, dir string, h, w int) {
	t.Helper()
	b, err := os.ReadFile(raw)
	if err != nil || len(b) == 0 || len(b)%(h*w) != 0 {
		t.Fatalf("raw frames %s: %d bytes, %v", raw, len(b), err)
	}
	os.MkdirAll(dir, 0o755)
	for i := 0; i < len(b)/(h*w); i++ {
		img := &image.Gray{Pix: b[i*h*w : (i+1)*h*w], Stride: w, Rect: image.Rect(0, 0, w, h)}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%03d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

func readRecords(t *testing.T, path string) []api.Prediction {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodeLines(t, string(b))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

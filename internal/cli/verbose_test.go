package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/gei"
)

// writeManifest writes GEI-like PNGs and a manifest naming them: 8 training
// subjects (ages 20…55, alternating M/F), 3 test subjects (30 F, 40 F, 62 M)
// and one sample in neither split (70 M). It returns the manifest's path.
func writeManifest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var rows []string
	add := func(name string, age int, gender, split string, i int) {
		img := make([]float32, 64*44)
		for y := range 64 {
			for x := range 44 {
				if x > 12+i%5 && x < 30 && y > 4 {
					img[y*44+x] = 0.3 + 0.05*float32(i%7)
				}
			}
		}
		if err := gei.WritePNG(filepath.Join(dir, name+".png"), img, gei.DefaultSize); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf("%s.png,%d,%s,%s,%s", name, age, gender, name, split))
	}
	for i := range 8 {
		add(fmt.Sprintf("t%d", i), 20+5*i, []string{"M", "F"}[i%2], "train", i)
	}
	add("x0", 30, "F", "test", 8)
	add("x1", 40, "F", "test", 9)
	add("x2", 62, "M", "test", 10)
	add("u0", 70, "M", "", 11)
	csv := filepath.Join(dir, "manifest.csv")
	if err := os.WriteFile(csv, []byte("path,age,gender,subject,split\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return csv
}

func trainTiny(t *testing.T, g *Global, csv string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = RunTrain(Streams{In: strings.NewReader(""), Out: &o, Err: &e}, g, &TrainOptions{
		Config: "../../configs/default.yaml", Out: t.TempDir(), NProc: 1,
		Sets: []string{"data.format=manifest", "data.root=" + csv, "train.epochs=1", "train.batch_size=2",
			"train.val_fraction=0.25", "train.threads=1", "data.workers=1", "data.flip=false"},
	})
	return o.String(), e.String(), err
}

// TestTrainVerbose checks what --verbose adds to train: the data's statistics
// per split, as written into the manifest, and one line per optimiser step.
func TestTrainVerbose(t *testing.T) {
	runtime.LockOSThread() // libtorch from one OS thread, as gaitord's main goroutine
	defer runtime.UnlockOSThread()
	csv := writeManifest(t)
	stdout, stderr, err := trainTiny(t, &Global{Verbose: true}, csv)
	if err != nil {
		t.Fatalf("train --verbose: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"data: manifest dataset at " + filepath.Dir(csv) + "\n",
		// (30+40+62)/3 = 44; 1 of 3 male.
		"data: test       3 GEIs, 3 subjects, ages 30–62 (mean 44.0), 1 male (33.3%), 2 female (66.7%)\n",
		"data: unused     1 GEI, 1 subject, ages 70–70 (mean 70.0), 1 male (100.0%), 0 female (0.0%)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// The 8 training subjects, round(0.25·8) = 2 of them held out for validation.
	split := regexp.MustCompile(`(?m)^data: (train|validation) +(\d+) GEIs, (\d+) subjects, ages \d+–\d+ \(mean [\d.]+\), (\d+) male`)
	counts := map[string]int{}
	for _, m := range split.FindAllStringSubmatch(stderr, -1) {
		n, _ := strconv.Atoi(m[2])
		subjects, _ := strconv.Atoi(m[3])
		if subjects != n {
			t.Errorf("%s: %d GEIs of %d subjects, want one GEI a subject", m[1], n, subjects)
		}
		counts[m[1]] = n
	}
	if counts["train"] != 6 || counts["validation"] != 2 {
		t.Errorf("train/validation GEIs %v, want 6 and 2:\n%s", counts, stderr)
	}
	// 6 training GEIs in batches of 2: 3 steps, one line each.
	m := regexp.MustCompile(`trained 1 epochs \((\d+) steps\)`).FindStringSubmatch(stdout)
	if m == nil || m[1] != "3" {
		t.Fatalf("stdout %q: want 3 steps", stdout)
	}
	steps := regexp.MustCompile(`(?m)^step (\d+)  epoch 1/1  batch (\d+)/3  loss [\d.]+  ranking [\d.]+  odl [\d.]+  gender [\d.]+  lr 0\.001  \d+ samples/s$`).FindAllStringSubmatch(stderr, -1)
	if len(steps) != 3 {
		t.Fatalf("%d step lines, want 3:\n%s", len(steps), stderr)
	}
	for i, s := range steps {
		if s[1] != strconv.Itoa(i+1) || s[2] != strconv.Itoa(i+1) {
			t.Errorf("step line %d: %q", i+1, s[0])
		}
	}

	// Without --verbose: neither.
	_, stderr, err = trainTiny(t, &Global{}, csv)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	if strings.Contains(stderr, "data: ") || strings.Contains(stderr, "step 1 ") {
		t.Errorf("train without --verbose printed verbose lines:\n%s", stderr)
	}
}

func TestVerboseAndQuietExclude(t *testing.T) {
	code, _, stderr := runMain("train", "--verbose", "--quiet", "--config", "/nonexistent.yaml")
	if code != 2 || !strings.Contains(stderr, "gaitord: --verbose and --quiet") {
		t.Fatalf("exit %d, %q; want a usage error", code, stderr)
	}
}

package train

import (
	"math"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// Int8Stored calibrates on the training split of the data a checkpoint's
// stored configuration names: its layer ranges are those an independent
// infer.Calibrate gives on the odd-ID GEIs (OU-MVLP's training subjects,
// found on disk here), not those of the test split; a checkpoint with no
// stored configuration, or one whose data is gone, is refused naming the
// file.
func TestInt8Stored(t *testing.T) {
	runtime.LockOSThread() // Calibrate calls GC: libtorch from one OS thread
	defer infer.FinishGC()
	root, yaml := gaitordtest.SynthSet(t, t.TempDir())
	mc := model.DefaultConfig()
	m, err := model.New(mc, 7, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	st := &checkpoint.State{Model: mc, Config: yaml}
	q, source, err := Int8Stored(m, st, "run/best.ckpt", data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if source != root {
		t.Errorf("calibrated on %q, want %q", source, root)
	}

	// the independent computation: every GEI of an odd subject (6 of 12,
	// fewer than CalibrationGEIs, so all of them), in one batch
	split := func(odd bool) (images []float32, n int) {
		paths, _ := filepath.Glob(filepath.Join(root, "GEI", "*", "*.png"))
		for _, p := range paths {
			id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".png"))
			if err != nil {
				t.Fatal(err)
			}
			if (id%2 == 1) != odd {
				continue
			}
			img, err := gei.Load(p, gei.Size{H: mc.InputH, W: mc.InputW})
			if err != nil {
				t.Fatal(err)
			}
			images, n = append(images, img...), n+1
		}
		return images, n
	}
	trainImages, nTrain := split(true)
	testImages, nTest := split(false)
	if nTrain != 6 || nTest != 6 {
		t.Fatalf("%d training and %d test GEIs on disk, want 6 and 6", nTrain, nTest)
	}
	want, err := infer.Calibrate(m, trainImages, nTrain, nTrain)
	if err != nil {
		t.Fatal(err)
	}
	other, err := infer.Calibrate(m, testImages, nTest, nTest)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Calibration()
	if got.GEIs != nTrain || len(got.Ranges) != len(want.Ranges) || len(want.Ranges) == 0 {
		t.Fatalf("calibration of %d GEIs over %d layers, want %d over %d", got.GEIs, len(got.Ranges), nTrain, len(want.Ranges))
	}
	// float32 sums in another order at most (measured: equal)
	near := func(a, b [2]float64) bool {
		return math.Abs(a[0]-b[0]) <= 1e-5*(1+math.Abs(b[0])) && math.Abs(a[1]-b[1]) <= 1e-5*(1+math.Abs(b[1]))
	}
	differs := 0
	for layer, r := range want.Ranges {
		if !near(got.Ranges[layer], r) {
			t.Errorf("%s: range %v, want %v (the training split's)", layer, got.Ranges[layer], r)
		}
		if !near(other.Ranges[layer], r) {
			differs++
		}
	}
	if differs == 0 {
		t.Fatal("the test split gives the same ranges: the check above cannot tell the splits apart")
	}

	// refusals, each naming the checkpoint
	_, _, err = Int8Stored(m, &checkpoint.State{Model: mc}, "w.safetensors", data.Options{})
	if err == nil || !strings.Contains(err.Error(), "w.safetensors stores no configuration") {
		t.Fatalf("no stored configuration: %v", err)
	}
	gone := config.Default()
	gone.Data.Root, gone.Data.Format = filepath.Join(t.TempDir(), "gone"), "oumvlp"
	yaml, err = gone.YAML()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Int8Stored(m, &checkpoint.State{Model: mc, Config: yaml}, "run/last.ckpt", data.Options{})
	if err == nil || !strings.Contains(err.Error(), "calibration data of run/last.ckpt") || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("data gone: %v", err)
	}
}

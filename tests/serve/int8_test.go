package serve

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// serve --precision int8 on a training checkpoint calibrates as `gaitord
// predict --precision int8` does (the training split of the data the
// checkpoint's stored configuration names), so it answers the same records;
// /v1/model and /metrics say int8; a set is refused (422 cannot_fuse, the
// words of predict's --fuse refusal); a reload calibrates again, and one
// whose calibration data is gone is refused while the old model serves on.
// (An export, with no stored configuration, is refused at start:
// TestStartFailures.)
func TestInt8MatchesPredict(t *testing.T) {
	f := setup(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	for _, args := range [][]string{
		{"synth", "--out", data, "--subjects", "6", "--views", "90", "--seed", "4"},
		// read as an OU-MVLP tree: a synthetic data.root that is gone would
		// be generated again
		{"train", "--config", "../../configs/default.yaml", "--data", data, "--format", "oumvlp", "--set", "data.labels=" + filepath.Join(data, "labels.csv"),
			"--out", filepath.Join(dir, "run"), "--epochs", "1", "--batch-size", "4", "--threads", "1",
			"--set", "schedule.type=none", "--set", "train.val_fraction=0"},
	} {
		if r := gaitordtest.Exec(t, bin, args...); r.Code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.Code, r.Stderr)
		}
	}
	ckpt := filepath.Join(dir, "run", train.LastFile)
	// the training GEIs: odd subject IDs (OU-MVLP's rule), all of them
	// calibrated on (fewer than train.CalibrationGEIs)
	all, _ := filepath.Glob(filepath.Join(data, "GEI", "*", "*.png"))
	var nTrain int
	for _, p := range all {
		if id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".png")); err == nil && id%2 == 1 {
			nTrain++
		}
	}
	if nTrain == 0 || nTrain > train.CalibrationGEIs {
		t.Fatalf("%d training GEIs", nTrain)
	}

	s := start(t, "--checkpoint", ckpt, "--precision", "int8", "--max-batch", "4")
	geis := []string{f.geis[0], f.geis[1]}
	want := predictJSON(t, append([]string{"--checkpoint", ckpt, "--precision", "int8"}, geis...)...)
	fp32 := predictJSON(t, append([]string{"--checkpoint", ckpt}, geis...)...)
	ct, body := form(t, formFile{"gei", "", geis[0]}, formFile{"gei", "", geis[1]})
	served := func() []api.Prediction {
		t.Helper()
		r := s.do("POST", api.RoutePredict, ct, body)
		var res api.PredictResponse
		r.json(t, &res)
		if r.status != 200 || len(res.Predictions) != 2 {
			t.Fatalf("predict: %d %s", r.status, r.body)
		}
		return res.Predictions
	}
	got := served()
	var diff, fromFP32 float64
	for i := range got {
		sameRecord(t, got[i], want[i]) // 1e-4 on age, median, p_male, the interval
		diff = max(diff, math.Abs(got[i].Age-want[i].Age), math.Abs(got[i].PMale-want[i].PMale))
		fromFP32 = max(fromFP32, math.Abs(got[i].Age-fp32[i].Age))
	}
	t.Logf("served int8 vs predict --precision int8: %.3g at most (age, p_male); int8 vs fp32 age: %.3g at most", diff, fromFP32)
	if fromFP32 == 0 {
		t.Fatal("the int8 answers are fp32's: the server does not run int8")
	}
	// a single GEI in its own (padded) batch: the same record
	r := s.do("POST", api.RoutePredict, api.ContentTypePNG, mustRead(t, geis[1]))
	var one api.PredictResponse
	r.json(t, &one)
	if r.status != 200 || len(one.Predictions) != 1 {
		t.Fatalf("raw body: %d %s", r.status, r.body)
	}
	sameRecord(t, one.Predictions[0], want[1])

	var info api.ModelInfo
	s.do("GET", api.RouteModel, "", nil).json(t, &info)
	if info.Precision != "int8" || info.Calibration == nil || info.Calibration.Data != data ||
		info.Calibration.GEIs != nTrain || info.Calibration.Engine != "onednn" || info.Kind != "checkpoint" {
		t.Fatalf("model %+v, calibration %+v; want int8 calibrated on %d GEIs of %s", info, info.Calibration, nTrain, data)
	}
	if s.metric(`gaitord_model_precision{precision="int8"}`) != 1 {
		t.Fatalf("metrics:\n%s", s.do("GET", api.RouteMetrics, "", nil).body)
	}

	// a set: refused before decoding, in predict --fuse's words
	ct2, body2 := form(t, formFile{"set", "p/a.png", geis[0]}, formFile{"set", "p/b.png", geis[1]})
	msg := s.do("POST", api.RoutePredict, ct2, body2).apiError(t, api.ErrCannotFuse)
	if !strings.Contains(msg, "--fuse runs in fp32 only; leave out --precision int8") {
		t.Fatalf("set on int8: %q", msg)
	}

	// a reload calibrates again: the same answers from generation 2
	s.signal(syscall.SIGHUP)
	s.waitMetric("gaitord_model_generation", 2)
	for i, p := range served() {
		sameRecord(t, p, want[i])
	}
	// calibration data gone: the reload is refused, generation 2 serves on
	if err := os.Rename(data, data+".moved"); err != nil {
		t.Fatal(err)
	}
	s.signal(syscall.SIGHUP)
	s.waitMetric(`gaitord_model_reloads_total{result="refused"}`, 1)
	var refused []string
	for _, rec := range s.log.records() {
		if rec["level"] == "ERROR" {
			refused = append(refused, rec["error"].(string))
		}
	}
	if len(refused) != 1 || !strings.Contains(refused[0], "calibration data of "+ckpt) {
		t.Fatalf("error log lines %q", refused)
	}
	s.do("GET", api.RouteModel, "", nil).json(t, &info)
	if info.Generation != 2 || info.Precision != "int8" {
		t.Fatalf("after the refused reload: %+v", info)
	}
	for i, p := range served() {
		sameRecord(t, p, want[i])
	}
}

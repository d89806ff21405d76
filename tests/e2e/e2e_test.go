// Package e2e runs the real gaitord binary: synth → train → eval → predict →
// export, interruption and resumption, and the run-folder lock.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

var bin string

func TestMain(m *testing.M) {
	os.Exit(gaitordtest.Main(m, &bin, func() {
		if synthDir != "" {
			os.RemoveAll(filepath.Dir(synthDir))
		}
	}))
}

func run(t *testing.T, args ...string) gaitordtest.Result {
	t.Helper()
	return gaitordtest.Exec(t, bin, args...)
}

func mustRun(t *testing.T, args ...string) gaitordtest.Result {
	t.Helper()
	r := run(t, args...)
	if r.Code != 0 {
		t.Fatalf("gaitord %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r
}

// shared small dataset: 200 subjects, 2 views, 2 sequences (800 GEIs).
var synthDir string

func dataset(t *testing.T) string {
	t.Helper()
	if synthDir != "" {
		return synthDir
	}
	dir, err := os.MkdirTemp("", "gaitord-synth")
	if err != nil {
		t.Fatal(err)
	}
	synthDir = filepath.Join(dir, "synth")
	mustRun(t, "synth", "--out", synthDir, "--subjects", "200", "--views", "0,90", "--seed", "3")
	return synthDir
}

func smallTrain(t *testing.T, data, out string, epochs int, extra ...string) []string {
	args := []string{"train", "--config", "../../configs/default.yaml", "--data", data, "--format", "synthetic",
		"--out", out, "--epochs", fmt.Sprint(epochs), "--batch-size", "16", "--set", "schedule.type=none", "--set", "train.val_fraction=0.2"}
	return append(args, extra...)
}

// trained is the shared 8-epoch run on the shared dataset (TestEndToEnd
// checks it; the video test predicts with it): its folder, under the
// dataset's (removed by TestMain), and train's stdout.
var trained struct{ dir, stdout string }

func trainedRun(t *testing.T) (dir, stdout string) {
	t.Helper()
	if trained.dir == "" {
		data := dataset(t)
		dir := filepath.Join(filepath.Dir(data), "run")
		r := mustRun(t, smallTrain(t, data, dir, 8)...)
		trained.dir, trained.stdout = dir, r.Stdout
	}
	return trained.dir, trained.stdout
}

func TestEndToEnd(t *testing.T) {
	data := dataset(t)
	runDir, trainOut := trainedRun(t)
	r := gaitordtest.Result{Stdout: trainOut}
	if !strings.Contains(r.Stdout, "trained 8 epochs") {
		t.Fatalf("train output: %s", r.Stdout)
	}
	rows, err := train.ReadMetrics(filepath.Join(runDir, train.MetricsFile))
	if err != nil || len(rows) != 8 {
		t.Fatalf("metrics rows %d, err %v", len(rows), err)
	}
	for i, row := range rows {
		if row.Epoch != i+1 || !(row.Loss > 0) || row.ValN == 0 {
			t.Fatalf("metrics row %d: %+v", i, row)
		}
	}
	if rows[7].Loss >= rows[0].Loss {
		t.Fatalf("training loss did not fall: %v → %v", rows[0].Loss, rows[7].Loss)
	}
	for _, f := range []string{train.LastFile, train.BestFile} {
		st, err := checkpoint.Load(filepath.Join(runDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Kind != checkpoint.KindCheckpoint || st.Model.InputH != 64 || len(st.ExpAvg) != len(st.Weights) {
			t.Fatalf("%s: %s", f, st.MarshalSummary())
		}
	}
	last, _ := checkpoint.Load(filepath.Join(runDir, train.LastFile))
	if last.Epoch != 8 || last.Step == 0 {
		t.Fatalf("last.ckpt epoch %d step %d", last.Epoch, last.Step)
	}
	if _, err := os.Stat(filepath.Join(runDir, train.ConfigFile)); err != nil {
		t.Fatal(err)
	}

	// eval --json, with a report folder
	best := filepath.Join(runDir, train.BestFile)
	reportDir := filepath.Join(t.TempDir(), "report")
	r = mustRun(t, "eval", "--checkpoint", best, "--json", "--report", reportDir)
	var sum struct {
		N           int                        `json:"n"`
		MAE         float64                    `json:"mae"`
		RMSE        float64                    `json:"rmse"`
		CS          []float64                  `json:"cs"`
		BaselineMAE float64                    `json:"baseline_mae"`
		Coverage80  float64                    `json:"coverage80"`
		PerView     map[string]json.RawMessage `json:"per_view"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &sum); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, r.Stdout)
	}
	if sum.N != 400 || len(sum.CS) != 10 || sum.RMSE < sum.MAE || len(sum.PerView) != 2 {
		t.Fatalf("eval summary %+v", sum)
	}
	t.Logf("test MAE %.2f, mean-baseline MAE %.2f, CS(5) %.3f, coverage80 %.2f", sum.MAE, sum.BaselineMAE, sum.CS[4], sum.Coverage80)
	if !(sum.MAE < sum.BaselineMAE) {
		t.Fatalf("test MAE %.2f not below the mean baseline %.2f", sum.MAE, sum.BaselineMAE)
	}
	for _, f := range []string{"predictions.csv", "predictions.jsonl", "summary.json", "pred_vs_true.png", "cs_curve.png", "mae_by_age.png"} {
		if _, err := os.Stat(filepath.Join(reportDir, f)); err != nil {
			t.Fatalf("report: %v", err)
		}
	}

	// predict --json: two GEIs and a bad file; the bad one fails alone
	geis, _ := filepath.Glob(filepath.Join(data, "GEI", "090-00", "*.png"))
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	r = run(t, "predict", "--checkpoint", best, "--json", geis[0], bad, geis[1])
	if r.Code != 1 || !strings.Contains(r.Stderr, "bad.png") || strings.Contains(r.Stderr, "goroutine") {
		t.Fatalf("predict with a bad file: exit %d, stderr %s", r.Code, r.Stderr)
	}
	preds := decodeLines(t, r.Stdout)
	if len(preds) != 2 || preds[0].Path != geis[0] || preds[1].Path != geis[1] {
		t.Fatalf("predictions %+v", preds)
	}
	for _, p := range preds {
		if p.Schema != api.Schema || p.Source != "gei" || len(p.PAgeGT) != 100 || p.Interval[0] > p.Median || p.Median > p.Interval[1] || (p.Gender == "male") != (p.PMale > 0.5) {
			t.Fatalf("inconsistent prediction %+v", p)
		}
		sumP := 0.0
		for _, v := range p.PAgeGT {
			sumP += v
		}
		if math.Abs(sumP-p.Age) > 1e-3 {
			t.Fatalf("age %v is not min_age + Σ p_age_gt = %v", p.Age, sumP)
		}
	}

	// export safetensors → predictions from the export are identical
	exported := filepath.Join(t.TempDir(), "glcnn.safetensors")
	mustRun(t, "export", "--checkpoint", best, "--format", "safetensors", "--out", exported)
	r2 := mustRun(t, "predict", "--checkpoint", exported, "--json", geis[0], geis[1])
	again := decodeLines(t, r2.Stdout)
	for i := range preds {
		if again[i].Age != preds[i].Age || again[i].PMale != preds[i].PMale {
			t.Fatalf("exported weights predict %+v, checkpoint %+v", again[i], preds[i])
		}
	}
	onnxPath := filepath.Join(t.TempDir(), "glcnn.onnx")
	mustRun(t, "export", "--checkpoint", best, "--format", "onnx", "--out", onnxPath)
	if fi, err := os.Stat(onnxPath); err != nil || fi.Size() < 4*6_000_000 {
		t.Fatalf("onnx export: %v", err)
	}

	t.Run("opengait-walk", func(t *testing.T) { checkOpenGaitWalk(t, best) })
	t.Run("fused", func(t *testing.T) { checkFused(t, data, best) })
}

type pred = api.Prediction

func decodeLines(t *testing.T, s string) []pred {
	t.Helper()
	var out []pred
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p pred
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("JSON line %q: %v", sc.Text(), err)
		}
		out = append(out, p)
	}
	return out
}

// waitCheckpoint waits until dir's last.ckpt holds at least epoch n complete
// (the metrics row is logged before the checkpoint is written).
func waitCheckpoint(t *testing.T, dir string, n int, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if st, err := checkpoint.Load(filepath.Join(dir, train.LastFile)); err == nil && st.Epoch >= n {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("training ended before epoch %d was saved: %v", n, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("no checkpoint of epoch %d in time", n)
}

func TestKillResumeMatchesUninterrupted(t *testing.T) {
	data := dataset(t)
	straight := filepath.Join(t.TempDir(), "straight")
	mustRun(t, smallTrain(t, data, straight, 2)...)

	killed := filepath.Join(t.TempDir(), "killed")
	cmd := exec.Command(bin, smallTrain(t, data, killed, 2)...)
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitCheckpoint(t, killed, 1, done)
	time.Sleep(300 * time.Millisecond) // into epoch 2
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	st, err := checkpoint.Load(filepath.Join(killed, train.LastFile))
	if err != nil {
		t.Fatalf("last.ckpt after SIGKILL: %v", err)
	}
	if st.Epoch < 1 {
		t.Fatalf("last.ckpt epoch %d", st.Epoch)
	}
	mustRun(t, append(smallTrain(t, data, killed, 2), "--resume")...)
	rows, _ := train.ReadMetrics(filepath.Join(killed, train.MetricsFile))
	if len(rows) != 2 || rows[0].Epoch != 1 || rows[1].Epoch != 2 {
		t.Fatalf("metrics after resume: %+v", rows)
	}
	a, _ := checkpoint.Load(filepath.Join(straight, train.LastFile))
	b, _ := checkpoint.Load(filepath.Join(killed, train.LastFile))
	maxd := 0.0
	for name, w := range a.Weights {
		for i, v := range w.Data {
			maxd = math.Max(maxd, math.Abs(float64(v-b.Weights[name].Data[i])))
		}
	}
	t.Logf("max |uninterrupted − killed+resumed| weight difference: %g", maxd)
	if maxd > 1e-4 || a.Step != b.Step {
		t.Fatalf("resumed run differs: max weight diff %g, steps %d vs %d", maxd, a.Step, b.Step)
	}
}

// startTrain starts gaitord with args (in its own process group when pgid
// is set, as a terminal's job) and returns it, its stderr and its exit.
func startTrain(t *testing.T, args []string, pgid bool) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+t.TempDir())
	if pgid {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, stderr, done
}

// syncBuffer is a bytes.Buffer that a test may read while the child process
// writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitStepOfEpoch waits until a --verbose run has logged its first step of
// the given epoch, so that a signal sent now lands inside that epoch however
// fast the machine is (a fixed sleep could outlast a short epoch).
func waitStepOfEpoch(t *testing.T, stderr *syncBuffer, epoch int, done <-chan error) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^step \d+  epoch ` + strconv.Itoa(epoch) + `/`)
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if re.MatchString(stderr.String()) {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("training ended before a step of epoch %d: %v\n%s", epoch, err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no step of epoch %d in time", epoch)
}

func TestSIGINTSavesAndResumes(t *testing.T) {
	data := dataset(t)
	dir := filepath.Join(t.TempDir(), "int")
	cmd, stderr, done := startTrain(t, smallTrain(t, data, dir, 2, "--verbose"), false)
	waitCheckpoint(t, dir, 1, done)
	waitStepOfEpoch(t, stderr, 2, done) // a partial epoch 2
	cmd.Process.Signal(os.Interrupt)
	err := <-done
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "interrupted; state saved") {
		t.Fatalf("after SIGINT: %v, stderr %s", err, stderr.String())
	}
	st, err := checkpoint.Load(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.BatchesDone == 0 {
		t.Fatalf("interrupted checkpoint: epoch %d, batches done %d; want epoch 1 and a partial epoch 2", st.Epoch, st.BatchesDone)
	}
	mustRun(t, append(smallTrain(t, data, dir, 2), "--resume")...)
	rows, _ := train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if len(rows) != 2 {
		t.Fatalf("metrics after resume: %+v", rows)
	}
}

func TestSecondTrainOnSameFolderRefused(t *testing.T) {
	data := dataset(t)
	dir := filepath.Join(t.TempDir(), "locked")
	cmd := exec.Command(bin, smallTrain(t, data, dir, 2)...)
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		if b, _ := os.ReadFile(filepath.Join(dir, train.LockFile)); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first run never took the lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := run(t, smallTrain(t, data, dir, 2, "--resume")...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "is in use by process") {
		t.Fatalf("second run: exit %d, %s", r.Code, r.Stderr)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// the kernel released the dead owner's lock: a new run may take it
	r = run(t, smallTrain(t, data, dir, 2, "--resume")...)
	if strings.Contains(r.Stderr, "is in use") {
		t.Fatalf("lock not recovered after the owner died: %s", r.Stderr)
	}
}

func TestNaNLossStopsAndKeepsLastGoodCheckpoint(t *testing.T) {
	data := dataset(t)
	dir := filepath.Join(t.TempDir(), "nan")
	mustRun(t, smallTrain(t, data, dir, 1)...)
	before, err := os.ReadFile(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	// An absurd learning rate blows the weights up within a step or two.
	r := run(t, append(smallTrain(t, data, dir, 2), "--resume", "--set", "optim.lr=1e30")...)
	if r.Code != 1 || !strings.Contains(r.Stderr, "the loss is") || !strings.Contains(r.Stderr, "last good checkpoint") {
		t.Fatalf("exit %d, stderr %s", r.Code, r.Stderr)
	}
	after, err := os.ReadFile(filepath.Join(dir, train.LastFile))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("last.ckpt changed after the NaN stop (err %v)", err)
	}
}

// A manifest that names its GEIs by absolute path, kept in a folder of its
// own, trains and evaluates (it used to end in "dataset . has no test
// samples").
func TestManifestOfAbsolutePaths(t *testing.T) {
	data := dataset(t)
	labels, err := os.ReadFile(filepath.Join(data, "labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	tests := 0
	for _, line := range strings.Split(strings.TrimSpace(string(labels)), "\n")[1:] {
		f := strings.Split(strings.TrimSpace(line), ",") // ID,gender,age
		id, err := strconv.Atoi(f[0])
		if err != nil || id > 40 {
			continue
		}
		split := "train"
		if id%2 == 0 {
			split, tests = "test", tests+2
		}
		for _, seq := range []string{"00", "01"} {
			gei := filepath.Join(data, "GEI", "090-"+seq, fmt.Sprintf("%05d.png", id))
			rows = append(rows, fmt.Sprintf("%s,%s,%s,%d,%s", gei, f[2], f[1], id, split))
		}
	}
	man := filepath.Join(t.TempDir(), "elsewhere", "absolute.csv")
	os.MkdirAll(filepath.Dir(man), 0o755)
	if err := os.WriteFile(man, []byte("path,age,gender,subject,split\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(t.TempDir(), "run")
	r := mustRun(t, "train", "--config", "../../configs/default.yaml", "--data", man, "--out", runDir, "--epochs", "1",
		"--batch-size", "8", "--set", "schedule.type=none", "--set", "train.val_fraction=0.2")
	if !strings.Contains(r.Stderr, "from "+man) || strings.Contains(r.Stderr, "warning") {
		t.Fatalf("train on %s:\n%s", man, r.Stderr)
	}
	r = mustRun(t, "eval", "--checkpoint", filepath.Join(runDir, train.LastFile), "--json")
	var sum struct {
		N   int     `json:"n"`
		MAE float64 `json:"mae"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &sum); err != nil || sum.N != tests || tests != 40 || !(sum.MAE > 0) {
		t.Fatalf("eval: %v, %+v (want n = %d)\n%s", err, sum, tests, r.Stdout)
	}
}

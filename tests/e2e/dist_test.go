package e2e

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/train"
)

// maxWeightDiff is the largest |a − b| over every weight of two checkpoints.
func maxWeightDiff(t *testing.T, a, b *checkpoint.State) float64 {
	t.Helper()
	d := 0.0
	for name, w := range a.Weights {
		o, ok := b.Weights[name]
		if !ok || len(o.Data) != len(w.Data) {
			t.Fatalf("weight %s missing or resized", name)
		}
		for i, v := range w.Data {
			d = math.Max(d, math.Abs(float64(v-o.Data[i])))
		}
	}
	return d
}

// Two Gloo ranks with batch B must take the same steps as one process with
// batch 2B: DistributedSampler sharding puts the one process's batch k on
// the two ranks' batches k, and the all-reduce averages the two halves'
// mean gradients into the whole batch's. Dropout is off so both see the
// same network.
//
// Adam runs with ε = 1, which makes its step proportional to the gradient.
// With the default ε = 1e-8 a step is ±lr for any gradient well above 1e-8,
// whatever its size, so float32 rounding (the batch-32 sums are added in
// another order than two batch-16 sums) and the max-pool ties it breaks
// differently turn into lr-sized differences on near-zero gradients: about
// 1e-3 after 6 steps at lr 1e-3 here, in PyTorch's DistributedDataParallel
// just as here. ε = 1 and lr = 0.01 measure the gradient averaging itself.
func TestDataParallelMatchesOneProcessDoubleBatch(t *testing.T) {
	data := dataset(t)
	common := []string{"train", "--config", "../../configs/default.yaml", "--data", data, "--format", "synthetic",
		"--epochs", "1", "--set", "schedule.type=none", "--set", "train.val_fraction=0.2", "--set", "model.dropout=0",
		"--set", "optim.eps=1", "--set", "optim.lr=0.01"}
	one := filepath.Join(t.TempDir(), "one")
	mustRun(t, append(common, "--out", one, "--batch-size", "32", "--threads", "2")...)
	two := filepath.Join(t.TempDir(), "two")
	r := mustRun(t, append(common, "--out", two, "--batch-size", "16", "--nproc", "2")...)
	if !strings.Contains(r.Stderr, "× 2 ranks (gloo)") {
		t.Errorf("the 2-process run does not say it runs 2 Gloo ranks:\n%s", r.Stderr)
	}
	a, err := checkpoint.Load(filepath.Join(one, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoint.Load(filepath.Join(two, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != b.Step || a.Step < 5 {
		t.Fatalf("steps: one process %d, two ranks %d (want equal, ≥ 5)", a.Step, b.Step)
	}
	if b.WorldSize != 2 || a.WorldSize != 1 {
		t.Errorf("checkpoint world sizes %d and %d, want 1 and 2", a.WorldSize, b.WorldSize)
	}
	d := maxWeightDiff(t, a, b)
	t.Logf("after %d steps: max |1 process, batch 32 − 2 ranks, batch 16| weight difference %g", a.Step, d)
	if d > 1e-5 {
		t.Fatalf("data-parallel weights differ from the double-batch run by %g (> 1e-5)", d)
	}
	// Control: one process with batch 16 (what a rank would do without the
	// all-reduce) ends far away, so the tolerance above can fail.
	half := filepath.Join(t.TempDir(), "half")
	mustRun(t, append(common, "--out", half, "--batch-size", "16", "--threads", "2")...)
	c, err := checkpoint.Load(filepath.Join(half, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	dc := maxWeightDiff(t, a, c)
	t.Logf("control: one process with batch 16 differs by %g", dc)
	if dc < 100*1e-5 {
		t.Fatalf("control run differs by only %g: the 1e-5 check cannot tell batchings apart", dc)
	}
	ra, _ := train.ReadMetrics(filepath.Join(one, train.MetricsFile))
	rb, _ := train.ReadMetrics(filepath.Join(two, train.MetricsFile))
	if len(ra) != 1 || len(rb) != 1 {
		t.Fatalf("metrics rows: %d and %d, want 1 each", len(ra), len(rb))
	}
	// Validation is split over the ranks and reduced: it must match one process's.
	if ra[0].ValN != rb[0].ValN || math.Abs(ra[0].ValMAE-rb[0].ValMAE) > 1e-4 || math.Abs(ra[0].Loss-rb[0].Loss) > 1e-5 {
		t.Errorf("epoch metrics differ: one process %+v, two ranks %+v", ra[0], rb[0])
	}
	if rb[0].WorldSize != 2 || rb[0].AllReduceCalls < rb[0].Step || rb[0].AllReduceCalls > 2*rb[0].Step {
		t.Errorf("two-rank metrics row %+v: want world_size 2 and 1–2 bucketed all-reduces per step", rb[0])
	}
}

// worker starts one rank of a 2-rank job through the torchrun variables
// (no gaitord launcher), as a cluster script would.
func worker(t *testing.T, rank, port int, args []string, stderr *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+t.TempDir(), "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
		"RANK="+strconv.Itoa(rank), "WORLD_SIZE=2", "LOCAL_RANK="+strconv.Itoa(rank), "LOCAL_WORLD_SIZE=2")
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// Killing one of two ranks must make the other exit non-zero with a clear
// message within the configured timeout; the run then resumes from its last
// checkpoint with a different world size (one process).
func TestDataParallelRankDeathThenResumeAlone(t *testing.T) {
	data := dataset(t)
	out := filepath.Join(t.TempDir(), "run")
	args := append(smallTrain(t, data, out, 3), "--set", "dist.timeout_s=20")
	port, err := dist.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var e0, e1 bytes.Buffer
	r0 := worker(t, 0, port, args, &e0)
	r1 := worker(t, 1, port, args, &e1)
	done0 := make(chan error, 1)
	go func() { done0 <- r0.Wait() }()
	done1 := make(chan error, 1)
	go func() { done1 <- r1.Wait() }()
	waitCheckpoint(t, out, 1, done0)
	time.Sleep(300 * time.Millisecond) // into epoch 2
	if err := r1.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done1
	killed := time.Now()
	select {
	case err := <-done0:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("rank 0 after rank 1 died: %v, want exit status 1\n%s", err, e0.String())
		}
		t.Logf("rank 0 stopped %.2f s after rank 1 was killed: %s", time.Since(killed).Seconds(), strings.TrimSpace(e0.String()[strings.LastIndex(strings.TrimSpace(e0.String()), "\n")+1:]))
	case <-time.After(60 * time.Second):
		r0.Process.Kill()
		t.Fatalf("rank 0 still running 60 s after rank 1 died (timeout 20 s)\n%s", e0.String())
	}
	msg := e0.String()
	if !strings.Contains(msg, "gaitord: ") || !strings.Contains(msg, "rank 0 of 2") || !strings.Contains(msg, "another rank probably stopped") {
		t.Errorf("rank 0's error does not say a peer failed:\n%s", msg)
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "terminate called") {
		t.Errorf("rank 0 crashed instead of reporting:\n%s", msg)
	}
	st, err := checkpoint.Load(filepath.Join(out, train.LastFile))
	if err != nil {
		t.Fatalf("last.ckpt after the failure: %v", err)
	}
	if st.Epoch < 1 || st.WorldSize != 2 {
		t.Fatalf("last.ckpt: epoch %d, world size %d; want ≥ 1 and 2", st.Epoch, st.WorldSize)
	}
	// Resume alone: a different world size continues from the checkpoint.
	mustRun(t, append(smallTrain(t, data, out, 3), "--resume")...)
	fin, err := checkpoint.Load(filepath.Join(out, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := train.ReadMetrics(filepath.Join(out, train.MetricsFile))
	if fin.Epoch != 3 || fin.WorldSize != 1 || len(rows) != 3 || rows[2].Epoch != 3 {
		t.Fatalf("after resuming alone: epoch %d, world size %d, metrics rows %+v", fin.Epoch, fin.WorldSize, rows)
	}
	if fin.Step <= st.Step {
		t.Fatalf("resumed run took no steps: %d → %d", st.Step, fin.Step)
	}
}

// Ctrl-C reaches the launcher and both workers (the terminal signals the
// whole process group): the ranks agree to stop after the same step, rank 0
// saves the partial epoch, the job exits 130 with one message, and a
// resume with another world size (4 ranks) finishes the run.
func TestDataParallelCtrlCSavesOnceAndResumesWithMoreRanks(t *testing.T) {
	data := dataset(t)
	dir := filepath.Join(t.TempDir(), "int")
	cmd, stderr, done := startTrain(t, append(smallTrain(t, data, dir, 2, "--verbose"), "--nproc", "2"), true)
	waitCheckpoint(t, dir, 1, done)
	waitStepOfEpoch(t, stderr, 2, done) // a partial epoch 2
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := <-done
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("after Ctrl-C: %v, want exit 130\n%s", err, stderr.String())
	}
	if n := strings.Count(stderr.String(), "interrupted; state saved"); n != 1 {
		t.Errorf("%d 'interrupted' messages, want exactly one (rank 0's):\n%s", n, stderr.String())
	}
	st, err := checkpoint.Load(filepath.Join(dir, train.LastFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.BatchesDone == 0 || st.WorldSize != 2 {
		t.Fatalf("interrupted checkpoint: epoch %d, batches done %d, world size %d; want 1, > 0, 2", st.Epoch, st.BatchesDone, st.WorldSize)
	}
	r := mustRun(t, append(smallTrain(t, data, dir, 2), "--resume", "--nproc", "4")...)
	want := "trained by 2 rank(s) for " + strconv.Itoa(st.BatchesDone) + " batches, with 4 rank(s): skipping " + strconv.Itoa(st.BatchesDone*2/4)
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("resume with 4 ranks does not say how it maps the partial epoch (%q):\n%s", want, r.Stderr)
	}
	rows, _ := train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if len(rows) != 2 || rows[1].WorldSize != 4 {
		t.Fatalf("metrics after resume: %+v", rows)
	}
}

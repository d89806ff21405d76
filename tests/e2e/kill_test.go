package e2e

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/train"
)

// TestKillLoop kills training with SIGKILL at random moments, again and
// again on the same run folder, and checks after every kill that last.ckpt
// and best.ckpt are intact and that --resume continues from the last
// complete epoch. It is long, so it runs only when GAITORD_KILL_TRIALS is set:
//
//	GAITORD_KILL_TRIALS=20 make test-kill
func TestKillLoop(t *testing.T) {
	trials, _ := strconv.Atoi(os.Getenv("GAITORD_KILL_TRIALS"))
	if trials <= 0 {
		t.Skip("set GAITORD_KILL_TRIALS=N to run N SIGKILL trials (make test-kill)")
	}
	data := dataset(t)
	dir := filepath.Join(t.TempDir(), "kill")
	const epochs = 40 // more than the trials can finish
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	completed := 0
	for i := 0; i < trials; i++ {
		args := smallTrain(t, data, dir, epochs)
		if _, err := os.Stat(filepath.Join(dir, train.LastFile)); err == nil {
			args = append(args, "--resume")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "GAITORD_CACHE="+t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait := time.Duration(500+rng.IntN(19500)) * time.Millisecond
		time.Sleep(wait)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		last := filepath.Join(dir, train.LastFile)
		if _, err := os.Stat(last); os.IsNotExist(err) {
			t.Logf("trial %d: killed after %v, before the first checkpoint", i+1, wait)
			continue
		}
		st, err := checkpoint.Load(last)
		if err != nil {
			t.Fatalf("trial %d: killed after %v: last.ckpt is corrupt: %v", i+1, wait, err)
		}
		if _, err := os.Stat(filepath.Join(dir, train.BestFile)); err == nil {
			if _, err := checkpoint.Load(filepath.Join(dir, train.BestFile)); err != nil {
				t.Fatalf("trial %d: best.ckpt is corrupt: %v", i+1, err)
			}
		}
		if st.Epoch < completed {
			t.Fatalf("trial %d: last.ckpt went back from epoch %d to %d", i+1, completed, st.Epoch)
		}
		completed = st.Epoch
		t.Logf("trial %d: killed after %v; last.ckpt intact at epoch %d", i+1, wait, st.Epoch)
	}
	// A final resume for two more epochs: the log then has one row per epoch.
	final := smallTrain(t, data, dir, completed+2)
	if completed > 0 {
		final = append(final, "--resume")
	}
	mustRun(t, final...)
	rows, err := train.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		if r.Epoch != i+1 {
			t.Fatalf("metrics rows after %d kills: row %d is epoch %d", trials, i+1, r.Epoch)
		}
	}
	if len(rows) != completed+2 {
		t.Fatalf("%d metrics rows, want %d", len(rows), completed+2)
	}
	t.Logf("%d SIGKILL trials: every checkpoint intact; resumed from epoch %d to %d", trials, completed, completed+2)
}

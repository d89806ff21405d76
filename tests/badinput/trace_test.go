package badinput

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// A training checkpoint (Adam moments and all, which predict does not read)
// predicts exactly what the export of the same weights predicts, and
// GAITORD_TRACE=1 adds the start-up phases to stderr, in order, without
// changing stdout.
func TestPredictTraceAndTrainingCheckpoint(t *testing.T) {
	t.Parallel()
	f := setup(t)
	st, err := checkpoint.Load(f.weights)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(t.TempDir(), "last.ckpt")
	st.ExpAvg, st.ExpAvgSq, st.RNG, st.Config, st.Epoch, st.Step = st.Weights, st.Weights, []byte{1}, "a: 1\n", 1, 10
	if err := checkpoint.Save(ckpt, st); err != nil {
		t.Fatal(err)
	}
	plain := run(t, "predict", "--checkpoint", f.weights, "--threads", "1", f.gei)
	fromCkpt := run(t, "predict", "--checkpoint", ckpt, "--threads", "1", f.gei)
	traced := gaitordtest.ExecEnv(t, []string{"GAITORD_TRACE=1"}, bin, "predict", "--checkpoint", ckpt, "--threads", "1", f.gei)
	if plain.code != 0 || fromCkpt.code != 0 || traced.Code != 0 || plain.stderr != "" || fromCkpt.stderr != "" {
		t.Fatalf("exit %d %d %d: %s%s%s", plain.code, fromCkpt.code, traced.Code, plain.stderr, fromCkpt.stderr, traced.Stderr)
	}
	if fromCkpt.stdout != plain.stdout || traced.Stdout != plain.stdout || !strings.Contains(plain.stdout, filepath.Base(f.gei)) {
		t.Fatalf("stdout differs:\nexport:\n%s\ncheckpoint:\n%s\ntraced:\n%s", plain.stdout, fromCkpt.stdout, traced.Stdout)
	}
	var phases []string
	line := regexp.MustCompile(`^gaitord trace: (.+?) +[0-9.]+ ms  \(`)
	for _, l := range strings.Split(strings.TrimSpace(traced.Stderr), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("stderr line %q is not a trace line", l)
		}
		phases = append(phases, m[1])
	}
	want := "exec→go init,go package init,command line,read checkpoint,build model,decode inputs,forward,print,finish"
	if got := strings.Join(phases, ","); got != want {
		t.Fatalf("phases %s, want %s", got, want)
	}
}

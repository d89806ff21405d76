package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, Streams{In: strings.NewReader(""), Out: &o, Err: &e})
	return code, o.String(), e.String()
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"train", "--no-such-flag"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"eval"}, 2, `required flag(s) "checkpoint" not set`},
		{[]string{"export", "--checkpoint", "x", "--out", "y", "--format", "tflite"}, 2, `--format "tflite"`},
		{[]string{"gei", "--out", "x.png"}, 2, "give exactly one of --frames DIR or --tree DIR"},
		{[]string{"predict", "--checkpoint", "/nonexistent.ckpt", "a.png"}, 1, "/nonexistent.ckpt"},
		{[]string{"train", "--config", "/nonexistent.yaml"}, 1, "config /nonexistent.yaml: no such file or directory"},
	}
	for _, c := range cases {
		code, _, stderr := runMain(c.args...)
		if code != c.code || !strings.Contains(stderr, c.err) {
			t.Errorf("gaitord %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.err)
		}
		if first := strings.SplitN(stderr, "\n", 2)[0]; !strings.HasPrefix(first, "gaitord: ") {
			t.Errorf("gaitord %v: first stderr line %q", c.args, first)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	// libtorch's thread count is per OS thread (OpenMP); gaitord's main
	// goroutine is locked to one by gotorch, a test goroutine is not.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	code, out, _ := runMain("version", "--json", "--threads", "1")
	var info struct {
		Libtorch string `json:"libtorch"`
		Threads  int    `json:"threads"`
		CUDA     bool   `json:"cuda"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Threads != 1 || !strings.HasPrefix(info.Libtorch, "1.") && !strings.HasPrefix(info.Libtorch, "2.") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("train:\n  batch_size: 0\n"), 0o644)
	// GAITORD_CONFIG fills --config; the file's bad value proves it was read.
	t.Setenv("GAITORD_CONFIG", cfg)
	code, _, stderr := runMain("train")
	if code != 1 || !strings.Contains(stderr, cfg) || !strings.Contains(stderr, "train.batch_size") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	// a flag on the command line wins over the key's variable
	t.Setenv("GAITORD_TRAIN_BATCH_SIZE", "-3")
	code, _, stderr = runMain("train", "--config", "../../configs/default.yaml", "--batch-size", "0", "--out", dir)
	if code != 1 || !strings.Contains(stderr, "batch_size") || !strings.Contains(stderr, "0") || strings.Contains(stderr, "-3") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
	// and the key's variable is read when the flag is not given
	code, _, stderr = runMain("train", "--config", "../../configs/default.yaml", "--out", dir)
	if code != 1 || !strings.Contains(stderr, `key "train.batch_size" (from GAITORD_TRAIN_BATCH_SIZE=-3): got -3, want ≥ 1`) {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

// execute runs a command built with an injected run function on args and
// returns that function's options.
func execute[O any](t *testing.T, build func(Streams, *Global, func(*O) error) *cobra.Command, args ...string) *O {
	t.Helper()
	var got *O
	var out, errb bytes.Buffer
	c := build(Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, &Global{}, func(o *O) error { got = o; return nil })
	c.PersistentPreRunE = envHook // as under NewRoot
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errb)
	if err := c.Execute(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if got == nil {
		t.Fatalf("%v: the run function was not called", args)
	}
	return got
}

// One environment convention: keys from GAITORD_<SECTION>_<KEY> only,
// shortcut flags without a variable of their own, and GAITORD_<FLAG> only
// for the flags listed in envFlags.
func TestEnvironmentConvention(t *testing.T) {
	for _, v := range []string{"GAITORD_EPOCHS", "GAITORD_BATCH_SIZE", "GAITORD_DATA", "GAITORD_FORMAT", "GAITORD_DEVICE",
		"GAITORD_THREADS", "GAITORD_OUT", "GAITORD_SET"} {
		t.Setenv(v, "7")
	}
	t.Setenv("GAITORD_CHECKPOINT", "from-env.ckpt")
	t.Setenv("GAITORD_NPROC", "3")

	o := execute(t, newTrainCmd)
	if len(o.Sets) != 0 || o.Out != "" || o.NProc != 3 {
		t.Fatalf("train with shortcut variables only: sets %q, out %q, nproc %d; want no sets, no --out, nproc 3 from GAITORD_NPROC", o.Sets, o.Out, o.NProc)
	}
	o = execute(t, newTrainCmd, "--epochs", "3", "--data", "m.CSV", "--set", "train.epochs=4", "--batch-size", "5")
	want := []string{"data.format=manifest", "train.batch_size=5", "data.root=m.CSV", "train.epochs=3", "train.epochs=4"}
	if !slices.Equal(o.Sets, want) {
		t.Fatalf("train sets %q, want %q (shortcuts first, by flag name, then --set)", o.Sets, want)
	}
	// A worker never launches workers, whatever GAITORD_NPROC says.
	if !slices.Contains(o.WorkerArgs, "--nproc=1") || slices.Contains(o.WorkerArgs, "--nproc=3") {
		t.Fatalf("worker args %q", o.WorkerArgs)
	}
	if o := execute(t, newTrainCmd, "--data", "m.csv", "--format", "oumvlp"); !slices.Equal(o.Sets, []string{"data.root=m.csv", "data.format=oumvlp"}) {
		t.Fatalf("--format given: sets %q", o.Sets)
	}

	e := execute(t, newEvalCmd)
	if e.Checkpoint != "from-env.ckpt" || e.Device != "cpu" || e.Threads != 0 || len(e.Sets) != 0 {
		t.Fatalf("eval options %+v: want --checkpoint from GAITORD_CHECKPOINT only", e)
	}
	if e := execute(t, newEvalCmd, "--checkpoint", "cli.ckpt"); e.Checkpoint != "cli.ckpt" {
		t.Fatalf("the command line must win: %q", e.Checkpoint)
	}
	p := execute(t, newPredictCmd, "x.png")
	if p.Checkpoint != "from-env.ckpt" || p.BatchSize != 256 || p.Device != "cpu" {
		t.Fatalf("predict options %+v", p)
	}
	x := execute(t, newExportCmd, "--out", "w.safetensors")
	if x.Checkpoint != "from-env.ckpt" || x.Out != "w.safetensors" || x.Format != "safetensors" {
		t.Fatalf("export options %+v", x)
	}
	d := execute(t, newDataCmdCheck)
	if len(d.Sets) != 0 {
		t.Fatalf("data check sets %q", d.Sets)
	}

	// A bad value names its variable.
	t.Setenv("GAITORD_NPROC", "many")
	c := newTrainCmd(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, &Global{}, func(*TrainOptions) error { return nil })
	c.PersistentPreRunE = envHook
	c.SetArgs(nil)
	c.SetOut(&bytes.Buffer{})
	c.SetErr(&bytes.Buffer{})
	if err := c.Execute(); err == nil || !strings.Contains(err.Error(), `GAITORD_NPROC="many"`) {
		t.Fatalf("bad GAITORD_NPROC: %v", err)
	}
}

// newDataCmdCheck is `data check` on its own.
func newDataCmdCheck(s Streams, g *Global, run func(*DataCheckOptions) error) *cobra.Command {
	data := newDataCmd(s, g, run)
	c, _, err := data.Find([]string{"check"})
	if err != nil {
		panic(err)
	}
	data.RemoveCommand(c)
	return c
}

// No flag both stands for a configuration key and reads a variable of its
// own, and a flag with a variable has one type wherever it appears.
func TestEnvFlagsAreNotKeys(t *testing.T) {
	root := NewRoot(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	types := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !slices.Contains(envFlags, f.Name) {
				return
			}
			if key := f.Annotations[keyAnnotation]; len(key) > 0 {
				t.Errorf("%s --%s stands for %s and is in envFlags", c.CommandPath(), f.Name, key[0])
			}
			if ty, ok := types[f.Name]; ok && ty != f.Value.Type() {
				t.Errorf("--%s is a %s in %s and a %s elsewhere", f.Name, f.Value.Type(), c.CommandPath(), ty)
			}
			types[f.Name] = f.Value.Type()
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, name := range []string{"checkpoint", "config", "nproc"} {
		if _, ok := types[name]; !ok {
			t.Errorf("envFlags lists --%s, which no command has", name)
		}
	}
}

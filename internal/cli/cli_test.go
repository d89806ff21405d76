package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
	// a flag on the command line wins over the environment
	t.Setenv("GAITORD_BATCH_SIZE", "-3")
	code, _, stderr = runMain("train", "--config", "../../configs/default.yaml", "--batch-size", "0", "--out", dir)
	if code != 1 || !strings.Contains(stderr, "batch_size") || !strings.Contains(stderr, "0") || strings.Contains(stderr, "-3") {
		t.Fatalf("exit %d, %q", code, stderr)
	}
}

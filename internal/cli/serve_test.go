package cli

import (
	"strings"
	"testing"
)

// serve and predict --server refuse bad settings before starting anything.
func TestServeAndRemotePredictUsage(t *testing.T) {
	cases := []struct {
		env  string // NAME=value, or ""
		args []string
		code int
		err  string
	}{
		{"", []string{"serve"}, 2, `required flag(s) "checkpoint" not set`},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--max-wait", "-1s"}, 2, "--max-wait -1s"},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--grace", "0s"}, 2, "--grace 0s"},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--max-body", "0"}, 2, "--max-body 0"},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--max-frames", "0"}, 2, "--max-frames 0"},
		{"GAITORD_MAX_PIXELS=-1", []string{"serve", "--checkpoint", "x.ckpt"}, 2, "--max-pixels -1"},
		{"", []string{"predict", "--server", "http://127.0.0.1:1", "--annotate", "out.mp4", "a.png"}, 2, "--annotate need --checkpoint"},
		{"", []string{"predict", "--server", "http://127.0.0.1:1", "--fuse", "--save-gei", "g", "a.png"}, 2, "--fuse fuses GEIs"},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--blas-threads", "-1"}, 2, "--blas-threads -1"},
		{"GAITORD_PAD_BATCHES=maybe", []string{"serve", "--checkpoint", "x.ckpt"}, 2, "pad-batches"},
		{"GAITORD_MAX_BATCH=0", []string{"serve", "--checkpoint", "x.ckpt"}, 2, "--max-batch 0"},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--precision", "int4"}, 2, `--precision "int4": want fp32 or int8`},
		{"GAITORD_PRECISION=int8", []string{"serve", "--checkpoint", "x.ckpt", "--device", "cuda"}, 2, "--precision int8 runs on the CPU; --device cuda"},
		{"GAITORD_PRECISION=int4", []string{"predict", "--checkpoint", "x.ckpt", "a.png"}, 2, `--precision "int4"`},
		{"GAITORD_PRECISION=int8", []string{"serve", "--checkpoint", "x.ckpt", "--precision", "int4"}, 2, `--precision "int4"`},
		{"", []string{"serve", "--checkpoint", "x.ckpt", "--token-file", "/nonexistent/token"}, 1, "token file /nonexistent/token"},
		{"", []string{"predict", "a.png"}, 2, `required flag(s) "checkpoint" not set (or give --server URL)`},
		{"", []string{"predict", "--server", "http://127.0.0.1:1", "--checkpoint", "x.ckpt", "a.png"}, 2, "give one"},
		{"", []string{"predict", "--server", "ftp://host", "a.png"}, 2, `server URL "ftp://host"`},
		{"", []string{"predict", "--server", "http://127.0.0.1:1", "--token-file", "/nonexistent/token", "a.png"}, 1, "token file /nonexistent/token"},
	}
	for _, c := range cases {
		if name, val, ok := strings.Cut(c.env, "="); ok {
			t.Setenv(name, val)
		}
		code, _, stderr := runMain(c.args...)
		if code != c.code || !strings.Contains(stderr, c.err) || !strings.HasPrefix(stderr, "gaitord: ") {
			t.Errorf("gaitord %v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.err)
		}
		if name, _, ok := strings.Cut(c.env, "="); ok {
			t.Setenv(name, "")
		}
	}
}

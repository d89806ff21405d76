package cli

import (
	"slices"
	"testing"
)

func TestFuseAndPerSubjectFlags(t *testing.T) {
	p := execute(t, newPredictCmd, "--checkpoint", "w.safetensors", "--fuse", "alice/", "bob/")
	if !p.Fuse || p.Frames || !slices.Equal(p.Paths, []string{"alice/", "bob/"}) {
		t.Fatalf("predict --fuse: %+v", p)
	}
	if p := execute(t, newPredictCmd, "--checkpoint", "w.safetensors", "walk.pkl"); p.Fuse || !slices.Equal(p.Paths, []string{"walk.pkl"}) {
		t.Fatalf("predict: %+v", p)
	}
	if e := execute(t, newEvalCmd, "--checkpoint", "c.ckpt", "--per-subject"); !e.PerSubject {
		t.Fatalf("eval --per-subject: %+v", e)
	}
	if e := execute(t, newEvalCmd, "--checkpoint", "c.ckpt"); e.PerSubject {
		t.Fatalf("eval: %+v", e)
	}
}

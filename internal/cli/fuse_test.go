package cli

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
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

// A model whose head does not output P(age > k) cannot be fused: predict
// --fuse and eval --per-subject stop before reading any input, in one line
// naming the checkpoint and its loss type.
func TestFuseRefusesNonSigmoidHeads(t *testing.T) {
	c := glcnn.Config{InputH: 64, InputW: 44, K: 12, MinAge: 2, Dropout: 0.5, Loss: glcnn.LossCORN}
	w := map[string]glcnn.Weight{}
	for _, s := range c.Specs() {
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: make([]float32, glcnn.Numel(s.Shape))}
	}
	path := filepath.Join(t.TempDir(), "corn.safetensors")
	if err := checkpoint.SaveWeights(path, c, w, 30); err != nil {
		t.Fatal(err)
	}
	const why = ": a model of loss type corn cannot fuse GEIs: set pooling averages P(age > k), which its head does not output (odl, ranking and coral do)"
	var so, se strings.Builder
	err := RunPredict(Streams{Out: &so, Err: &se}, &Global{Quiet: true}, &PredictOptions{
		Checkpoint: path, Fuse: true, Paths: []string{"alice/"}, BatchSize: 8, MaxPixels: 1 << 20, Device: "cpu", Threads: 1})
	if err == nil || err.Error() != "predict --fuse: "+path+why || so.Len() != 0 {
		t.Fatalf("predict --fuse on corn: %v; stdout %q", err, so.String())
	}
	err = RunEval(Streams{Out: &so, Err: &se}, &Global{Quiet: true}, &EvalOptions{
		Checkpoint: path, PerSubject: true, Split: "test", Device: "cpu", Threads: 1})
	if err == nil || err.Error() != "eval --per-subject: "+path+why {
		t.Fatalf("eval --per-subject on corn: %v", err)
	}
	// and --fuse takes no video
	err = RunPredict(Streams{Out: &so, Err: &se}, &Global{Quiet: true}, &PredictOptions{
		Checkpoint: path, Fuse: true, Video: true, Paths: []string{"alice/"}, BatchSize: 8, MaxPixels: 1 << 20})
	if err == nil || !strings.Contains(err.Error(), "--fuse fuses GEIs, silhouette folders and OpenGait pickles; it takes no video") {
		t.Fatalf("predict --fuse --video: %v", err)
	}
}

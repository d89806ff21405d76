package cli

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/modelcard"
)

// exportFixture writes a training checkpoint (random weights, the default
// configuration stored) into dir/run and, beside it, report/summary.json
// evaluating it; it returns the checkpoint's path.
func exportFixture(t *testing.T, dir string) string {
	t.Helper()
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0, Dropout: 0.5}
	r := rand.New(rand.NewPCG(1, 2))
	w := map[string]glcnn.Weight{}
	for _, s := range cfg.Specs() {
		d := make([]float32, glcnn.Numel(s.Shape))
		for i := range d {
			d[i] = float32(r.NormFloat64() * 0.01)
		}
		w[s.Name] = glcnn.Weight{Shape: s.Shape, Data: d}
	}
	run := filepath.Join(dir, "run")
	os.MkdirAll(filepath.Join(run, "report"), 0o755)
	ckpt := filepath.Join(run, "best.ckpt")
	if err := checkpoint.Save(ckpt, &checkpoint.State{Model: cfg, Weights: w, ExpAvg: w, ExpAvgSq: w, Epoch: 3, Step: 30, Seed: 1,
		RNG: []byte{1}, Config: string(configs.Default), TrainMeanAge: 40}); err != nil {
		t.Fatal(err)
	}
	sha, err := checkpoint.SHA256(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(metrics.Summary{N: 10, MAE: 7.125, CS: make([]float64, 10), Checkpoint: ckpt, CheckpointSHA256: sha, Split: "test"})
	os.WriteFile(filepath.Join(run, "report", "summary.json"), b, 0o644)
	return ckpt
}

// export --format safetensors writes the weights, NAME.md and NAME.json;
// each reads back; the ONNX export carries the card and configuration.
func TestRunExportWritesCardAndConfig(t *testing.T) {
	dir := t.TempDir()
	ckpt := exportFixture(t, dir)
	out := filepath.Join(dir, "exp", "glcnn.safetensors")
	os.MkdirAll(filepath.Dir(out), 0o755)
	var stdout bytes.Buffer
	if err := RunExport(Streams{Out: &stdout, Err: &bytes.Buffer{}}, &ExportOptions{Checkpoint: ckpt, Format: "safetensors", Out: out}); err != nil {
		t.Fatal(err)
	}
	card, cfg := filepath.Join(dir, "exp", "glcnn.md"), filepath.Join(dir, "exp", "glcnn.json")
	if want := "wrote " + out + " (safetensors, 64×44 input, K=100, min_age=0, loss type odl; model card " + card + ", configuration " + cfg + ")\nevaluation quoted from " +
		filepath.Join(dir, "run", "report", "summary.json") + "\n"; stdout.String() != want {
		t.Fatalf("stdout %q, want %q", stdout.String(), want)
	}
	st, err := checkpoint.Load(out)
	if err != nil || st.Kind != checkpoint.KindWeights || st.TrainMeanAge != 40 {
		t.Fatalf("weights read back: %v", err)
	}
	md, _ := os.ReadFile(card)
	for _, s := range []string{"# glcnn: gaitord age and gender model", "| MAE (years) | 7.125 |", "from `" + ckpt + "` (training checkpoint after epoch 3"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("%s lacks %q", card, s)
		}
	}
	var j struct {
		Schema, Weights string
		Config          map[string]any
	}
	b, _ := os.ReadFile(cfg)
	if err := json.Unmarshal(b, &j); err != nil || j.Schema != modelcard.Schema || j.Weights != "glcnn.safetensors" || j.Config["loss"] == nil {
		t.Fatalf("%s: %v\n%s", cfg, err, b)
	}

	// ONNX: the same facts in metadata_props, read with Debian's python3-onnx
	onnxPath := filepath.Join(dir, "exp", "glcnn.onnx")
	if err := RunExport(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, &ExportOptions{Checkpoint: ckpt, Format: "onnx", Out: onnxPath}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "exp", "glcnn.onnx.md")); err == nil {
		t.Fatal("the ONNX export wrote a card file")
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import onnx").CombinedOutput(); err != nil {
		t.Skipf("%s with onnx is needed to read metadata_props (python3-onnx): %v %s", py, err, out)
	}
	res, err := exec.Command(py, "-c", `
import onnx, sys, json
m = onnx.load(sys.argv[1], load_external_data=False)
print(json.dumps({p.key: p.value for p in m.metadata_props}))
`, onnxPath).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.load: %v\n%s", err, res)
	}
	var props map[string]string
	if err := json.Unmarshal(res, &props); err != nil {
		t.Fatalf("%v: %s", err, res)
	}
	var cj struct{ Schema string }
	if props["k"] != "100" || props["loss_type"] != "odl" || props["gaitord.loss_type"] != "" || props["gaitord.eval.mae"] != "7.125" ||
		!strings.Contains(props["gaitord.card"], "| MAE (years) | 7.125 |") || json.Unmarshal([]byte(props["gaitord.config"]), &cj) != nil || cj.Schema != modelcard.Schema {
		t.Fatalf("metadata_props: k %q, loss %q, mae %q, card %d bytes, config %q", props["k"], props["loss_type"], props["gaitord.eval.mae"], len(props["gaitord.card"]), props["gaitord.config"])
	}
}

// All three files or none: a folder where the card would go stops the
// export before anything is written; an existing set stays as it was.
func TestRunExportAllOrNone(t *testing.T) {
	dir := t.TempDir()
	ckpt := exportFixture(t, dir)
	out := filepath.Join(dir, "w.safetensors")
	os.Mkdir(filepath.Join(dir, "w.md"), 0o755)
	err := RunExport(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, &ExportOptions{Checkpoint: ckpt, Format: "safetensors", Out: out})
	if err == nil || !strings.Contains(err.Error(), "export "+out+": ") || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v", err)
	}
	for _, p := range []string{out, filepath.Join(dir, "w.json")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s written by a failed export", p)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
	// --report naming a report of another file is refused before writing
	other := filepath.Join(dir, "other")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "summary.json"), []byte(`{"checkpoint":"x.ckpt","checkpoint_sha256":"00"}`), 0o644)
	out = filepath.Join(dir, "v.safetensors")
	err = RunExport(Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, &ExportOptions{Checkpoint: ckpt, Format: "safetensors", Out: out, Report: other})
	if err == nil || !strings.Contains(err.Error(), "evaluated x.ckpt (SHA-256 00), not "+ckpt) {
		t.Fatalf("report of another file: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("weights written despite the refused report")
	}
}

package modelcard

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
)

// weights draws random weights of cfg's shapes.
func weights(cfg glcnn.Config, seed uint64) map[string]glcnn.Weight {
	r := rand.New(rand.NewPCG(seed, 3))
	out := map[string]glcnn.Weight{}
	for _, s := range cfg.Specs() {
		d := make([]float32, glcnn.Numel(s.Shape))
		for i := range d {
			d[i] = float32(r.NormFloat64() * 0.05)
		}
		out[s.Name] = glcnn.Weight{Shape: s.Shape, Data: d}
	}
	return out
}

// saveCheckpoint writes a training checkpoint of cfg into dir with the
// built-in default configuration stored in it, and returns its path.
func saveCheckpoint(t *testing.T, dir string, cfg glcnn.Config) string {
	t.Helper()
	w := weights(cfg, 1)
	path := filepath.Join(dir, "best.ckpt")
	st := &checkpoint.State{Model: cfg, Weights: w, ExpAvg: w, ExpAvgSq: w, Epoch: 8, Step: 360, BestMAE: 5.758, Seed: 1,
		RNG: []byte{1, 2}, Config: string(configs.Default), TrainMeanAge: 41.25}
	if err := checkpoint.Save(path, st); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeReport writes dir/summary.json as eval --report does.
func writeReport(t *testing.T, dir string, s metrics.Summary) {
	t.Helper()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func summary(sha string) metrics.Summary {
	acc := 0.838
	cov := 0.868
	s := metrics.Summary{N: 1600, MAE: 6.066, RMSE: 8.203, CS: []float64{.1, .2, .3, .4, .539, .6, .7, .8, .9, 1}, GenderAccuracy: &acc,
		Coverage80: &cov, BaselineMAE: 20.889, Checkpoint: "run/best.ckpt", CheckpointSHA256: sha, Split: "test", Data: "data/synth"}
	ps := metrics.Summary{N: 200, MAE: 4.759, CS: []float64{0, 0, 0, 0, .615}}
	s.PerSubject = &ps
	return s
}

func TestPaths(t *testing.T) {
	for out, want := range map[string][2]string{
		"runs/demo/glcnn.safetensors": {"runs/demo/glcnn.md", "runs/demo/glcnn.json"},
		"w":                           {"w.md", "w.json"},
		"a.b/w.st":                    {"a.b/w.md", "a.b/w.json"},
	} {
		card, cfg, err := Paths(out)
		if err != nil || card != want[0] || cfg != want[1] {
			t.Errorf("Paths(%q) = %q, %q, %v; want %q", out, card, cfg, err, want)
		}
	}
	for _, out := range []string{"w.md", "w.json"} {
		if _, _, err := Paths(out); err == nil || !strings.Contains(err.Error(), "name the weights NAME.safetensors") {
			t.Errorf("Paths(%q): %v", out, err)
		}
	}
}

// The facts of a training checkpoint with its report beside it: the JSON
// reads back to the model, loss, source and the stored configuration; the
// card quotes the report's figures and the configuration; the ONNX metadata
// carries the JSON and the card whole.
func TestCardJSONAndMetadata(t *testing.T) {
	dir := t.TempDir()
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0, Dropout: 0.5}
	ckpt := saveCheckpoint(t, dir, cfg)
	sha, err := checkpoint.SHA256(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	writeReport(t, filepath.Join(dir, DefaultReportDir), summary(sha))
	st, err := checkpoint.Load(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(st, ckpt, filepath.Join(dir, "out", "glcnn.safetensors"), FormatSafetensors, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Report == nil || f.Report.Path != filepath.Join(dir, "report", "summary.json") || f.LossType != "odl" {
		t.Fatalf("report %+v (%s), loss type %q", f.Report, f.ReportNote, f.LossType)
	}

	b, err := f.ConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Schema  string
		Weights string
		Model   struct {
			InputHeight int   `json:"input_height"`
			InputWidth  int   `json:"input_width"`
			K           int   `json:"k"`
			MinAge      int   `json:"min_age"`
			MaxAge      int   `json:"max_age"`
			Parameters  int64 `json:"parameters"`
		}
		Loss struct {
			Type   string
			Lambda float64
		}
		TrainMeanAge float64 `json:"train_mean_age"`
		Source       struct {
			SHA256 string
			Kind   string
			Epoch  int
		}
		Config map[string]any
	}
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var stored map[string]any
	yaml.Unmarshal(configs.Default, &stored)
	storedJSON, _ := json.Marshal(stored)
	var want map[string]any
	json.Unmarshal(storedJSON, &want)
	if j.Schema != Schema || j.Weights != "glcnn.safetensors" || j.Model.InputHeight != 64 || j.Model.InputWidth != 44 || j.Model.K != 100 ||
		j.Model.MaxAge != 100 || j.Model.Parameters != 6_983_142 || j.Loss.Type != "odl" || j.Loss.Lambda != 1 || j.TrainMeanAge != 41.25 ||
		j.Source.SHA256 != sha || j.Source.Kind != "checkpoint" || j.Source.Epoch != 8 || !reflect.DeepEqual(j.Config, want) {
		t.Fatalf("NAME.json:\n%s", b)
	}

	card := f.Card()
	for _, s := range []string{
		"# glcnn: gaitord age and gender model",
		"from `" + ckpt + "` (training checkpoint after epoch 8; SHA-256 " + sha + ")",
		"Files: `glcnn.safetensors` (the weights), `glcnn.json` (the configuration), `glcnn.md` (this card).",
		"| lc_conv2 (part: head, body and feet strips, one shared convolution) | `lc_conv2.conv.0.weight`, `lc_conv2.conv.0.bias` | 32 → 64 | 5×7 | 2, 3 | 16×11 |",
		"| linear_age | `linear_age.weight`, `linear_age.bias` | 1024 → 100 | | | |",
		"6,983,142 parameters; 416,854,016 forward FLOPs per GEI",
		"Input: float32 tensor N×1×64×44",
		"## Outputs and decoding (loss type `odl`)",
		"- Representable ages: 0…100.",
		"| loss | type odl, λ (ODL weight) 1, μ (gender weight) 1 |",
		"| checkpoint | after epoch 8 (360 optimiser steps); best validation MAE 5.758 |",
		"Mean age of the training split: 41.25 years.",
		"gaitord's built-in synthetic walkers (400 subjects, views [0 30 60 90], ages 2–80, generator seed 1)",
		"From `" + filepath.Join(dir, "report", "summary.json") + "` (test split of `data/synth`; it evaluated this very file (same SHA-256)):",
		"| MAE (years) | 6.066 | 4.759 |",
		"| CS(5) | 0.539 | 0.615 |",
		"net = gt.load(\"glcnn.safetensors\")  # reads \"glcnn.json\" beside it when present; eval mode",
		"```yaml\n" + strings.TrimRight(string(configs.Default), "\n") + "\n```",
	} {
		if !strings.Contains(card, s) {
			t.Errorf("card lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("card:\n%s", card)
	}

	fo, err := New(st, ckpt, "glcnn.onnx", FormatONNX, "")
	if err != nil {
		t.Fatal(err)
	}
	md, err := fo.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range md {
		if _, dup := got[kv[0]]; dup {
			t.Fatalf("metadata key %q twice", kv[0])
		}
		got[kv[0]] = kv[1]
	}
	onnxJSON, _ := fo.ConfigJSON()
	// the loss type is onnx.Export's own loss_type entry, not repeated here
	if got["gaitord.loss_type"] != "" || got["gaitord.eval.mae"] != "6.066" || got["gaitord.eval.per_subject_mae"] != "4.759" ||
		got["gaitord.train_mean_age"] != "41.25" || got["gaitord.config"] != string(onnxJSON) || got["gaitord.card"] != fo.Card() ||
		!strings.Contains(got["gaitord.card"], "metadata_props entry `gaitord.card` of `glcnn.onnx`") || !strings.Contains(got["gaitord.decoding"], "p_k = sigmoid(z_k)") {
		t.Fatalf("metadata: %v", md[:len(md)-2])
	}
}

// How the report is found, and when it is refused.
func TestFindReport(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "run", "best.ckpt")
	os.MkdirAll(filepath.Dir(src), 0o755)
	def := filepath.Join(dir, "run", DefaultReportDir)
	other := filepath.Join(dir, "other")

	r, note, err := FindReport("", src, "abc")
	if r != nil || err != nil || !strings.Contains(note, filepath.Join(def, "summary.json")+" does not exist") {
		t.Fatalf("no report: %v %q %v", r, note, err)
	}
	if _, _, err := FindReport(other, src, "abc"); err == nil || !strings.Contains(err.Error(), "evaluation report "+other+": no such file or directory") {
		t.Fatalf("--report of a missing folder: %v", err)
	}

	writeReport(t, def, summary("fff"))
	if r, note, err := FindReport("", src, "abc"); r != nil || err != nil || !strings.Contains(note, "evaluated run/best.ckpt, not this file") {
		t.Fatalf("default report of another file: %v %q %v", r, note, err)
	}
	writeReport(t, other, summary("fff"))
	if _, _, err := FindReport(other, src, "abc"); err == nil || !strings.Contains(err.Error(), "evaluated run/best.ckpt (SHA-256 fff), not "+src+" (SHA-256 abc)") {
		t.Fatalf("--report of another file: %v", err)
	}

	writeReport(t, def, summary(""))
	if r, note, err := FindReport("", src, "abc"); r != nil || err != nil || !strings.Contains(note, "does not record which file it evaluated, so it is not quoted") {
		t.Fatalf("default report without a hash: %v %q %v", r, note, err)
	}
	writeReport(t, other, summary(""))
	if r, note, err := FindReport(other, src, "abc"); r == nil || err != nil || r.Summary.MAE != 6.066 || !strings.Contains(note, "does not record which file it evaluated") {
		t.Fatalf("--report without a hash: %v %q %v", r, note, err)
	}
	os.WriteFile(filepath.Join(other, "summary.json"), []byte("{"), 0o644)
	if _, _, err := FindReport(other, src, "abc"); err == nil || !strings.Contains(err.Error(), filepath.Join(other, "summary.json")) {
		t.Fatalf("--report of a broken summary: %v", err)
	}
}

// An exported weights file stores no configuration: the card says so and
// the JSON's config is null; a loss type the configuration names is used.
func TestWeightsWithoutConfigAndOtherLossType(t *testing.T) {
	dir := t.TempDir()
	cfg := glcnn.Config{InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}
	path := filepath.Join(dir, "w.safetensors")
	if err := checkpoint.SaveWeights(path, cfg, weights(cfg, 2), 0); err != nil {
		t.Fatal(err)
	}
	st, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(st, path, "x.safetensors", FormatSafetensors, "")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.ConfigJSON()
	var j map[string]any
	json.Unmarshal(b, &j)
	if j["config"] != nil || j["train_mean_age"] != nil || j["model"].(map[string]any)["max_age"] != 92.0 {
		t.Fatalf("NAME.json of a weights file:\n%s", b)
	}
	card := f.Card()
	for _, s := range []string{"exported weights; SHA-256", "stores no training configuration", "Input: float32 tensor N×1×128×88", "- Representable ages: 2…92.", "no evaluation report"} {
		if !strings.Contains(card, s) {
			t.Errorf("card lacks %q:\n%s", s, card)
		}
	}

	st.Model.Loss = glcnn.LossCORAL
	f, err = New(st, path, "x.safetensors", FormatSafetensors, "")
	if err != nil || f.LossType != "coral" || !strings.Contains(f.Card(), "(coral: one shared weight vector, K biases)") {
		t.Fatalf("loss type from the model: %q, %v", f.LossType, err)
	}
	st.Config = "loss: [unclosed"
	if _, err := New(st, path, "x.safetensors", FormatSafetensors, ""); err == nil || !strings.Contains(err.Error(), "configuration stored in "+path+": not valid YAML") {
		t.Fatalf("bad stored YAML: %v", err)
	}
}

// The card's PyTorch snippet runs: with python/gaitord_torch.py on the path
// it loads the exported file, predicts a GEI and prints a record, and the
// loaded network's linear_age.bias holds the file's values.
func TestCardSnippetLoadsInPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Python with torch")
	}
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import torch, numpy, PIL").CombinedOutput(); err != nil {
		t.Skipf("%s with torch, numpy and PIL is needed (scripts/install_test_deps.sh): %v %s", py, err, out)
	}
	dir := t.TempDir()
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0, Dropout: 0.5}
	w := weights(cfg, 4)
	path := filepath.Join(dir, "glcnn.safetensors")
	if err := checkpoint.SaveWeights(path, cfg, w, 40); err != nil {
		t.Fatal(err)
	}
	st, _ := checkpoint.Load(path)
	f, err := New(st, path, path, FormatSafetensors, "")
	if err != nil {
		t.Fatal(err)
	}
	card := f.Card()
	start := strings.Index(card, "```python\n")
	end := strings.LastIndex(card, "```")
	if start < 0 || end <= start {
		t.Fatalf("no python block in the card:\n%s", card)
	}
	snippet := card[start+len("```python\n") : end]
	img := make([]float32, cfg.InputH*cfg.InputW)
	for i := range img {
		img[i] = float32(i%cfg.InputW) / float32(cfg.InputW) // a gray ramp: a silhouette everywhere but column 0
	}
	if err := gei.WritePNG(filepath.Join(dir, "gei.png"), img, gei.Size{H: cfg.InputH, W: cfg.InputW}); err != nil {
		t.Fatal(err)
	}
	module, _ := filepath.Abs("../../python")
	script := "import sys\nsys.path.insert(0, " + quote(module) + ")\n" + snippet +
		"\nprint('%.6f' % float(net.state_dict()['linear_age.bias'].double().sum()))\n"
	cmd := exec.Command(py, "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("snippet: %v\n%s\n%s", err, out, script)
	}
	sum := 0.0
	for _, v := range w["linear_age.bias"].Data {
		sum += float64(v)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "'age': ") || !strings.Contains(lines[0], "'gender': ") {
		t.Fatalf("the snippet printed no prediction record:\n%s", out)
	}
	got, err := strconv.ParseFloat(lines[1], 64)
	if err != nil || math.Abs(got-sum) > 1e-5 {
		t.Fatalf("linear_age.bias sums to %s in PyTorch, %.6f in the file", out, sum)
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

// Decoding describes every loss type as metrics.DecodeHead decodes it, with
// the model's own numbers; a type it does not know is left to the card's
// fallback sentence.
func TestDecodingEveryLossType(t *testing.T) {
	c := glcnn.Config{InputH: 64, InputW: 44, K: 90, MinAge: 2}
	want := map[glcnn.LossType][]string{
		glcnn.LossODL:          {"K = 90 logits z_k", "p_k = sigmoid(z_k) = P(age > 2 + k).", "2 + Σ_k p_k"},
		glcnn.LossRanking:      {"ranking: K independent binary classifiers", "p_k = sigmoid(z_k)"},
		glcnn.LossCORAL:        {"coral: one shared weight vector", "p_k = sigmoid(z_k)"},
		glcnn.LossCORN:         {"P(age > 2 + k | age > 2 + k − 1)", "p_k = Π_{j≤k} sigmoid(z_j)"},
		glcnn.LossDLDL:         {"K + 1 = 91 logits", "π = softmax(z)", "(dldl)", "p_k = Σ_{j>k} π_j"},
		glcnn.LossMeanVariance: {"K + 1 = 91 logits", "(mean-variance)"},
		glcnn.LossL1:           {"one output z, the regressed age", "z clamped to [2, 92]", "no 80% interval"},
	}
	for _, lt := range glcnn.LossTypes() {
		d, ok := Decoding(string(lt), c)
		if !ok {
			t.Errorf("%s: not described", lt)
			continue
		}
		for _, s := range append(want[lt], "- Representable ages: 2…92.", "index 1 is P(male)") {
			if !strings.Contains(d, s) {
				t.Errorf("%s: decoding lacks %q:\n%s", lt, s, d)
			}
		}
		if lt != glcnn.LossL1 && !strings.Contains(d, "pool-adjacent-violators") {
			t.Errorf("%s: no interval decoding:\n%s", lt, d)
		}
	}
	if _, ok := Decoding("softmax", c); ok {
		t.Error("an unknown loss type is described")
	}
}

package modelcard

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
)

// Architecture names the network and its paper.
const Architecture = "GL-CNN (Global-Local CNN) with an ordinal age head and a gender head; Zhu et al., \"Ordinal Distribution Regression for Gait-based Age Estimation\", Sci China Inf Sci 2020, arXiv 1905.11005"

// configJSON is the layout of NAME.json (Schema).
type configJSON struct {
	Schema         string         `json:"schema"`
	GaitordVersion string         `json:"gaitord_version"`
	Weights        string         `json:"weights"`
	Architecture   string         `json:"architecture"`
	Model          modelJSON      `json:"model"`
	Loss           lossJSON       `json:"loss"`
	TrainMeanAge   *float64       `json:"train_mean_age"`
	Source         sourceJSON     `json:"source"`
	Config         map[string]any `json:"config"`
}

type modelJSON struct {
	InputChannels int     `json:"input_channels"`
	InputHeight   int     `json:"input_height"`
	InputWidth    int     `json:"input_width"`
	K             int     `json:"k"`
	MinAge        int     `json:"min_age"`
	MaxAge        int     `json:"max_age"`
	Dropout       float64 `json:"dropout"`
	Parameters    int64   `json:"parameters"`
	Inputs        string  `json:"input"`
	Outputs       string  `json:"outputs"`
}

type lossJSON struct {
	Type   string `json:"type"`
	Lambda any    `json:"lambda,omitempty"`
	Mu     any    `json:"mu,omitempty"`
}

type sourceJSON struct {
	File       string   `json:"file"`
	SHA256     string   `json:"sha256"`
	Kind       string   `json:"kind"`
	Epoch      *int     `json:"epoch,omitempty"`
	Step       *int64   `json:"step,omitempty"`
	BestValMAE *float64 `json:"best_val_mae,omitempty"`
}

// inputDoc and outputsDoc describe the tensors of the weights' network.
func inputDoc(c glcnn.Config) string {
	return fmt.Sprintf("GEI batch N×1×%d×%d, float32 in [0, 1]", c.InputH, c.InputW)
}

func outputsDoc(c glcnn.Config) string {
	return fmt.Sprintf("age logits N×%d (linear_age), gender logits N×2 (linear_gender, index 1 = male)", c.K)
}

// ConfigJSON renders NAME.json: the schema, the model's shape, the loss,
// the training mean age (null when not recorded), the exported file and the
// stored experiment configuration (null when the source has none), indented.
func (f Facts) ConfigJSON() ([]byte, error) {
	c := f.Model
	j := configJSON{
		Schema: Schema, GaitordVersion: gaitordVersion(), Weights: f.Weights, Architecture: Architecture,
		Model: modelJSON{InputChannels: 1, InputHeight: c.InputH, InputWidth: c.InputW, K: c.K, MinAge: c.MinAge, MaxAge: c.MinAge + c.K,
			Dropout: c.Dropout, Parameters: c.NumParams(), Inputs: inputDoc(c), Outputs: outputsDoc(c)},
		Loss:   lossJSON{Type: f.LossType, Lambda: lookup(f.Config, "loss.lambda"), Mu: lookup(f.Config, "loss.mu")},
		Source: sourceJSON{File: f.Source, SHA256: f.SourceSHA256, Kind: f.Kind},
		Config: f.Config,
	}
	if f.TrainMeanAge != 0 {
		j.TrainMeanAge = &f.TrainMeanAge
	}
	if f.Kind == checkpoint.KindCheckpoint {
		j.Source.Epoch, j.Source.Step, j.Source.BestValMAE = &f.Epoch, &f.Step, &f.BestValMAE
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("model configuration: %w", err)
	}
	return append(b, '\n'), nil
}

// Card renders NAME.md, the model card.
func (f Facts) Card() string {
	c := f.Model
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	name := strings.TrimSuffix(f.Weights, filepath.Ext(f.Weights))
	p("# %s: gaitord age and gender model", name)
	p("")
	p("%s.", Architecture)
	p("")
	p("Exported by gaitord %s from `%s` (%s).", gaitordVersion(), f.Source, f.sourceDoc())
	if f.Format == FormatONNX {
		p("This card is the metadata_props entry `gaitord.card` of `%s` (ONNX opset 13); the configuration is the entry `gaitord.config`.", f.Weights)
	} else {
		p("Files: `%s` (the weights), `%s.json` (the configuration), `%s.md` (this card).", f.Weights, name, name)
	}
	p("")

	p("## Architecture")
	p("")
	layers := f.layers
	p("| layer | parameters | in → out channels | kernel | padding | output map (H×W) |")
	p("| --- | --- | --- | --- | --- | --- |")
	for _, bl := range layers.Blocks() {
		kind := bl.Module
		if bl.Part {
			kind += " (part: head, body and feet strips, one shared convolution)"
		}
		p("| %s | `%s.weight`, `%s.bias` | %d → %d | %d×%d | %d, %d | %d×%d |", kind, bl.Param, bl.Param, bl.In, bl.Out, bl.KH, bl.KW, bl.PH, bl.PW, bl.OutH, bl.OutW)
	}
	for _, l := range layers.Linears() {
		p("| %s | `%s.weight`, `%s.bias` | %d → %d | | | |", l.Param, l.Param, l.Param, l.In, l.Out)
	}
	p("")
	p("Each convolution is followed by leaky ReLU (slope %g) and 2×2 max pooling; the global branch (gl_conv*) and the local branch (lc_conv*) both read the input and are concatenated on channels (global first) before `conv`; its output is flattened to %d features; linear_layer1 and linear_layer2 are each followed by leaky ReLU and dropout %g (training only). %s parameters; %s forward FLOPs per GEI. The parameter names are those of the seed's PyTorch `GEINet`, so `load_state_dict(strict=True)` takes the file.",
		glcnn.LeakySlope, layers.Flatten, c.Dropout, thousands(c.NumParams()), thousands(c.FLOPs()))
	p("")

	p("## Input and preprocessing")
	p("")
	p("%s", Preprocessing(c))
	p("")

	p("## Outputs and decoding (loss type `%s`)", f.LossType)
	p("")
	if d, ok := Decoding(f.LossType, c); ok {
		p("%s", d)
	} else {
		p("Loss type `%s`: this gaitord version (%s) does not describe its decoding; see the documentation of the gaitord version that trained it.", f.LossType, gaitordVersion())
	}
	p("")

	p("## Training")
	p("")
	if f.Config == nil {
		p("The exported file stores no training configuration (it is an export, not a training checkpoint); export from the run's checkpoint to record it.")
	} else {
		p("| | |")
		p("| --- | --- |")
		p("| data | %s |", f.dataDoc())
		p("| loss | type %s, λ (ODL weight) %v, μ (gender weight) %v |", f.LossType, lookup(f.Config, "loss.lambda"), lookup(f.Config, "loss.mu"))
		p("| optimiser | %v, learning rate %v, betas %v, weight decay %v |", lookup(f.Config, "optim.name"), lookup(f.Config, "optim.lr"), lookup(f.Config, "optim.betas"), lookup(f.Config, "optim.weight_decay"))
		p("| schedule | %v (step every %v epochs × %v, %v warm-up epochs) |", lookup(f.Config, "schedule.type"), lookup(f.Config, "schedule.step_epochs"), lookup(f.Config, "schedule.gamma"), lookup(f.Config, "schedule.warmup_epochs"))
		p("| run | %v epochs, batch %v, seed %v, validation hold-out %v of the training subjects, horizontal flips %v |", lookup(f.Config, "train.epochs"), lookup(f.Config, "train.batch_size"), lookup(f.Config, "train.seed"), lookup(f.Config, "train.val_fraction"), lookup(f.Config, "data.flip"))
	}
	if f.Kind == checkpoint.KindCheckpoint {
		p("| checkpoint | after epoch %d (%d optimiser steps); best validation MAE %.3f |", f.Epoch, f.Step, f.BestValMAE)
	}
	if f.TrainMeanAge != 0 {
		p("")
		p("Mean age of the training split: %.2f years.", f.TrainMeanAge)
	}
	if f.Config != nil {
		p("")
		if f.Format == FormatONNX {
			p("The configuration as stored in the checkpoint (also in the metadata entry `gaitord.config`, key `config`):")
		} else {
			p("The configuration as stored in the checkpoint (also in `%s.json`, key `config`):", name)
		}
		p("")
		p("```yaml")
		p("%s", strings.TrimRight(f.ConfigYAML, "\n"))
		p("```")
	}
	p("")

	p("## Evaluation")
	p("")
	if f.Report == nil {
		p("%s.", strings.TrimSuffix(f.ReportNote, "."))
	} else {
		s := f.Report.Summary
		p("From `%s`%s:", f.Report.Path, f.reportOrigin())
		p("")
		p("%s", metricsTable(s))
		if f.ReportNote != "" {
			p("")
			p("Note: %s.", strings.TrimSuffix(f.ReportNote, "."))
		}
	}
	p("")

	if f.Format == FormatONNX {
		p("## Running it")
		p("")
		p("Input `gei` [N, 1, %d, %d] float32; outputs `age_logits` [N, %d], `gender_logits` [N, 2] and `age` [N] (%d + Σ sigmoid(age_logits)). With ONNX Runtime:", c.InputH, c.InputW, c.K, c.MinAge)
		p("")
		p("```python")
		p("import onnxruntime as ort")
		p("sess = ort.InferenceSession(%q)", f.Weights)
		p("age_logits, gender_logits, age = sess.run(None, {'gei': x})  # x: numpy float32 [N, 1, %d, %d]", c.InputH, c.InputW)
		p("```")
	} else {
		p("## Loading in PyTorch")
		p("")
		p("`python/gaitord_torch.py` in gaitord's repository is a single-file PyTorch module (torch, numpy, PIL) with this network, every loss type's decoding and the GEI preprocessing; it reproduces `gaitord predict --json` (docs/export.md):")
		p("")
		p("```python")
		p("import torch, gaitord_torch as gt")
		p("net = gt.load(%q)  # reads %q beside it when present; eval mode", f.Weights, strings.TrimSuffix(f.Weights, ".safetensors")+".json")
		p("x = gt.load_gei(\"gei.png\", net.config)  # float32 [%d, %d] in [0, 1]", c.InputH, c.InputW)
		p("print(net.predict(torch.from_numpy(x)[None, None])[0])  # the record predict --json prints")
		p("```")
	}
	return b.String()
}

// sourceDoc says what kind of file was exported.
func (f Facts) sourceDoc() string {
	s := "SHA-256 " + f.SourceSHA256
	if f.Kind == checkpoint.KindCheckpoint {
		return fmt.Sprintf("training checkpoint after epoch %d; %s", f.Epoch, s)
	}
	return "exported weights; " + s
}

// dataDoc describes the training data from the stored configuration.
func (f Facts) dataDoc() string {
	format, _ := lookup(f.Config, "data.format").(string)
	root, _ := lookup(f.Config, "data.root").(string)
	var d string
	switch {
	case format == "synthetic":
		d = fmt.Sprintf("gaitord's built-in synthetic walkers (%v subjects, views %v, ages %v–%v, generator seed %v)",
			lookup(f.Config, "data.synth.subjects"), lookup(f.Config, "data.synth.views"), lookup(f.Config, "data.synth.min_age"),
			lookup(f.Config, "data.synth.max_age"), lookup(f.Config, "data.synth.seed"))
		if root != "" {
			d += ", written to `" + root + "`"
		}
	default:
		d = fmt.Sprintf("format %s, `%s`", format, root)
		if l, _ := lookup(f.Config, "data.labels").(string); l != "" {
			d += ", labels `" + l + "`"
		}
	}
	if v, ok := lookup(f.Config, "data.views").([]any); ok && len(v) > 0 {
		d += fmt.Sprintf(", views %v only", v)
	}
	return d + "; the format's training split (odd subject IDs for OU-MVLP-style data)"
}

// reportOrigin says what the report evaluated.
func (f Facts) reportOrigin() string {
	s := f.Report.Summary
	what := s.Split + " split"
	if s.Split == "" {
		what = "an evaluation"
	}
	if s.Data != "" {
		what += " of `" + s.Data + "`"
	}
	if s.CheckpointSHA256 == f.SourceSHA256 {
		what += "; it evaluated this very file (same SHA-256)"
	}
	return " (" + what + ")"
}

// metricsTable renders the key figures of an evaluation summary, with the
// per-subject ones beside them when present.
func metricsTable(s metrics.Summary) string {
	var b strings.Builder
	ps := s.PerSubject
	head, sep := "| | per GEI |", "| --- | --- |"
	if ps != nil {
		head, sep = head+" per subject (GEIs fused) |", sep+" --- |"
	}
	fmt.Fprintln(&b, head)
	fmt.Fprintln(&b, sep)
	row := func(name string, v func(metrics.Summary) string) {
		fmt.Fprintf(&b, "| %s | %s |", name, v(s))
		if ps != nil {
			fmt.Fprintf(&b, " %s |", v(*ps))
		}
		fmt.Fprintln(&b)
	}
	opt := func(v *float64, format string) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf(format, *v)
	}
	row("predictions", func(s metrics.Summary) string { return strconv.Itoa(s.N) })
	row("MAE (years)", func(s metrics.Summary) string { return fmt.Sprintf("%.3f", s.MAE) })
	row("RMSE (years)", func(s metrics.Summary) string { return fmt.Sprintf("%.3f", s.RMSE) })
	row("CS(5)", func(s metrics.Summary) string {
		if len(s.CS) < 5 {
			return "–"
		}
		return fmt.Sprintf("%.3f", s.CS[4])
	})
	row("gender accuracy", func(s metrics.Summary) string { return opt(s.GenderAccuracy, "%.3f") })
	row("80% interval coverage", func(s metrics.Summary) string { return opt(s.Coverage80, "%.3f") })
	row("rank inconsistency", func(s metrics.Summary) string { return opt(s.RankInconsistency, "%.4f") })
	row("baseline MAE (predicting the training mean)", func(s metrics.Summary) string { return fmt.Sprintf("%.3f", s.BaselineMAE) })
	return strings.TrimRight(b.String(), "\n")
}

// thousands formats n with commas: 6983142 → "6,983,142".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Metadata is the same facts as ONNX metadata_props entries (after the
// model's own input_height, input_width, k, min_age and loss_type, which
// onnx.Export writes and this list does not repeat): the architecture, the preprocessing, the decoding, the training mean age,
// the evaluation's key figures, the whole configuration JSON
// ("gaitord.config", NAME.json's content) and the whole card
// ("gaitord.card").
func (f Facts) Metadata() ([][2]string, error) {
	cfg, err := f.ConfigJSON()
	if err != nil {
		return nil, err
	}
	md := [][2]string{
		{"gaitord.version", gaitordVersion()},
		{"gaitord.architecture", Architecture},
		{"gaitord.preprocessing", Preprocessing(f.Model)},
	}
	if d, ok := Decoding(f.LossType, f.Model); ok {
		md = append(md, [2]string{"gaitord.decoding", d})
	}
	if f.TrainMeanAge != 0 {
		md = append(md, [2]string{"gaitord.train_mean_age", strconv.FormatFloat(f.TrainMeanAge, 'g', -1, 64)})
	}
	if f.Report != nil {
		s := f.Report.Summary
		md = append(md, [2]string{"gaitord.eval.report", f.Report.Path},
			[2]string{"gaitord.eval.n", strconv.Itoa(s.N)},
			[2]string{"gaitord.eval.mae", strconv.FormatFloat(s.MAE, 'g', -1, 64)})
		if len(s.CS) >= 5 {
			md = append(md, [2]string{"gaitord.eval.cs5", strconv.FormatFloat(s.CS[4], 'g', -1, 64)})
		}
		if s.Coverage80 != nil {
			md = append(md, [2]string{"gaitord.eval.coverage80", strconv.FormatFloat(*s.Coverage80, 'g', -1, 64)})
		}
		if s.GenderAccuracy != nil {
			md = append(md, [2]string{"gaitord.eval.gender_accuracy", strconv.FormatFloat(*s.GenderAccuracy, 'g', -1, 64)})
		}
		if s.PerSubject != nil {
			md = append(md, [2]string{"gaitord.eval.per_subject_mae", strconv.FormatFloat(s.PerSubject.MAE, 'g', -1, 64)})
		}
	}
	return append(md, [2]string{"gaitord.config", string(cfg)}, [2]string{"gaitord.card", f.Card()}), nil
}

// Package modelcard describes an exported model for someone who loads it
// without gaitord: `gaitord export --format safetensors --out NAME.safetensors`
// writes, beside the weights, NAME.md (the model card: architecture, input,
// K and min_age, loss type and decoding, the preprocessing a caller must
// apply, training data and configuration, evaluation metrics when a report
// exists) and NAME.json (the configuration, machine-readable); the ONNX
// export carries the same facts in its metadata_props (Metadata).
//
// The card is never called README.md (a folder of several exports would
// have them overwrite each other's). Its text is a function of the facts
// only, with no date or host, so the same checkpoint gives the same card.
//
// # Facts and where they come from
//
//   - the network (layer table, parameter and FLOP counts): internal/glcnn,
//     for the model configuration stored in the exported file;
//   - the training configuration: the experiment's resolved YAML stored in a
//     training checkpoint, as stored (no environment variable or default is
//     layered over it). An exported weights file stores none; its card and
//     JSON say so;
//   - the loss type: the configuration's loss.type; a configuration without
//     one was trained with the ranking + λ·ODL objective, "odl";
//   - the evaluation: the summary.json of an `eval --report DIR` (see
//     FindReport for how it is found and when it is trusted).
package modelcard

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/report"
	"github.com/gaitord/gaitord/internal/version"
)

// Schema names the layout of NAME.json.
const Schema = "gaitord.export/v1"

// DefaultReportDir is the folder beside the exported checkpoint where
// FindReport looks for an evaluation report when none is named: the one
// `gaitord eval --checkpoint RUN/best.ckpt --report RUN/report` writes (as
// `make demo` does).
const DefaultReportDir = "report"

// DefaultLossType is the loss type of a configuration that names none.
const DefaultLossType = "odl"

// Facts is everything the card, the JSON and the ONNX metadata say.
type Facts struct {
	// Weights is the base name of the exported model file, Format its
	// format: FormatSafetensors or FormatONNX.
	Weights, Format string
	// Source is the file exported, SourceSHA256 the SHA-256 of its bytes.
	Source, SourceSHA256 string
	// Kind is checkpoint.KindCheckpoint or checkpoint.KindWeights.
	Kind string
	// Model is the network's shape, layers its layer table.
	Model  glcnn.Config
	layers glcnn.Layers
	// Epoch, Step, BestValMAE and Seed describe a training checkpoint
	// (Kind checkpoint); zero for a weights file.
	Epoch      int
	Step       int64
	BestValMAE float64
	Seed       int64
	// TrainMeanAge is the training split's mean age (0: not recorded).
	TrainMeanAge float64
	// ConfigYAML is the stored experiment configuration, Config the same
	// decoded ("" and nil when the source stores none).
	ConfigYAML string
	Config     map[string]any
	// LossType is the model's loss type (glcnn.Config.LossType: the file's
	// loss_type, DefaultLossType for a file that names none).
	LossType string
	// Report is the evaluation the card quotes, nil when none was found.
	Report *Report
	// ReportNote says why no report is quoted, or what to know about the
	// one that is.
	ReportNote string
}

// Report is an evaluation report read by FindReport.
type Report struct {
	// Path is the summary.json read.
	Path string
	// Summary is its content.
	Summary metrics.Summary
}

// Export formats.
const (
	FormatSafetensors = "safetensors"
	FormatONNX        = "onnx"
)

// New gathers the facts of st, read from the file source, exported in
// format as the file weights (its base name is used), with the evaluation
// report found by FindReport(reportDir, …).
func New(st *checkpoint.State, source, weights, format, reportDir string) (Facts, error) {
	if format != FormatSafetensors && format != FormatONNX {
		return Facts{}, fmt.Errorf("export format %q: want %s or %s", format, FormatSafetensors, FormatONNX)
	}
	sum, err := checkpoint.SHA256(source)
	if err != nil {
		return Facts{}, err
	}
	f := Facts{
		Weights: filepath.Base(weights), Format: format, Source: source, SourceSHA256: sum, Kind: st.Kind, Model: st.Model,
		TrainMeanAge: st.TrainMeanAge, ConfigYAML: st.Config, LossType: string(st.Model.LossType()),
	}
	if f.layers, err = st.Model.Layers(); err != nil {
		return Facts{}, fmt.Errorf("%s: %w", source, err)
	}
	if st.Kind == checkpoint.KindCheckpoint {
		f.Epoch, f.Step, f.BestValMAE, f.Seed = st.Epoch, st.Step, st.BestMAE, st.Seed
	}
	if st.Config != "" {
		if err := yaml.Unmarshal([]byte(st.Config), &f.Config); err != nil {
			return Facts{}, fmt.Errorf("configuration stored in %s: not valid YAML: %s", source, strings.Join(strings.Fields(err.Error()), " "))
		}
	}
	f.Report, f.ReportNote, err = FindReport(reportDir, source, sum)
	if err != nil {
		return Facts{}, err
	}
	return f, nil
}

// FindReport finds the evaluation report to quote for the file source
// whose SHA-256 is sum. eval --report DIR writes DIR/summary.json, which
// records the file it evaluated and that file's SHA-256.
//
//   - dir given (export --report DIR): DIR/summary.json must exist and, if
//     it records a SHA-256, that must be sum (a report of another file is an
//     error); one that records none (written before eval recorded it) is
//     quoted with a note saying so.
//   - dir empty: DefaultReportDir beside source is used only when its
//     summary.json exists and records sum; otherwise no report is quoted,
//     and the note says what was looked for.
func FindReport(dir, source, sum string) (*Report, string, error) {
	explicit := dir != ""
	if !explicit {
		dir = filepath.Join(filepath.Dir(source), DefaultReportDir)
	}
	path := filepath.Join(dir, report.SummaryJSON)
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit {
			return nil, "", fmt.Errorf("evaluation report %s: %w", dir, unwrapPath(err))
		}
		return nil, fmt.Sprintf("no evaluation report: %s does not exist (run `gaitord eval --checkpoint %s --report %s`, or name one with export --report DIR)", path, source, dir), nil
	}
	var s metrics.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		if explicit {
			return nil, "", fmt.Errorf("evaluation report %s: %w", path, err)
		}
		return nil, fmt.Sprintf("no evaluation report: %s is not an evaluation summary (%v)", path, err), nil
	}
	switch {
	case s.CheckpointSHA256 == sum:
		return &Report{Path: path, Summary: s}, "", nil
	case s.CheckpointSHA256 == "" && explicit:
		return &Report{Path: path, Summary: s}, fmt.Sprintf("%s does not record which file it evaluated (written by an older gaitord); it was named with --report", path), nil
	case explicit:
		return nil, "", fmt.Errorf("evaluation report %s evaluated %s (SHA-256 %s), not %s (SHA-256 %s)", path, s.Checkpoint, short(s.CheckpointSHA256), source, short(sum))
	case s.CheckpointSHA256 == "":
		return nil, fmt.Sprintf("no evaluation report: %s does not record which file it evaluated, so it is not quoted (name it with export --report DIR)", path), nil
	}
	return nil, fmt.Sprintf("no evaluation report: %s evaluated %s, not this file", path, s.Checkpoint), nil
}

// short is the first 12 hex digits of a SHA-256.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// unwrapPath drops an *os.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// lookup returns the value at a dotted key of a decoded configuration, nil
// when absent.
func lookup(m map[string]any, key string) any {
	var v any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[part]
	}
	return v
}

// Paths returns the card and configuration files written beside the
// weights file out: out without its extension, plus ".md" and ".json"
// (glcnn.safetensors → glcnn.md, glcnn.json). An out that would be one of
// them (NAME.md, NAME.json) is an error.
func Paths(out string) (card, config string, err error) {
	base := strings.TrimSuffix(out, filepath.Ext(out))
	card, config = base+".md", base+".json"
	if out == card || out == config {
		return "", "", fmt.Errorf("%s: the model card and configuration are written beside the weights as %s and %s; name the weights NAME.safetensors", out, card, config)
	}
	return card, config, nil
}

// Decoding describes how a loss type's outputs become an age and an
// interval, for the card, as metrics.DecodeHead decodes them (docs/losses.md);
// ok is false for a type this gaitord version does not describe.
func Decoding(lossType string, c glcnn.Config) (text string, ok bool) {
	lo, hi := c.MinAge, c.MinAge+c.K
	var head string
	switch glcnn.LossType(lossType) {
	case glcnn.LossODL, glcnn.LossRanking, glcnn.LossCORAL:
		kind := map[string]string{"odl": "", "ranking": " (ranking: K independent binary classifiers)",
			"coral": " (coral: one shared weight vector, K biases)"}[lossType]
		head = fmt.Sprintf(`The age head gives K = %d logits z_k, one binary task "age > %d + k" each (k = 0…%d)%s:

- p_k = sigmoid(z_k) = P(age > %d + k).`, c.K, lo, c.K-1, kind, lo)
	case glcnn.LossCORN:
		head = fmt.Sprintf(`The age head gives K = %d logits z_k of conditional tasks, sigmoid(z_k) = P(age > %d + k | age > %d + k − 1) (k = 0…%d):

- p_k = Π_{j≤k} sigmoid(z_j) = P(age > %d + k), non-increasing by construction.`, c.K, lo, lo, c.K-1, lo)
	case glcnn.LossDLDL, glcnn.LossMeanVariance:
		head = fmt.Sprintf(`The age head gives K + 1 = %d logits z_j, one per age %d + j (j = 0…%d); π = softmax(z) is the predicted age distribution (%s):

- p_k = Σ_{j>k} π_j = P(age > %d + k), k = 0…%d, non-increasing by construction.`, c.K+1, lo, c.K, lossType, lo, c.K-1)
	case glcnn.LossL1:
		return fmt.Sprintf(`The age head gives one output z, the regressed age in years (loss type l1, an L1 loss: a conditional median):

- Age and median (gaitord's "age" and "age_median", the ONNX output "age"): z clamped to [%d, %d].
- No distribution: no 80%% interval (null in gaitord's records), no p_age_gt, no rank inconsistency.
- Representable ages: %d…%d.
- Gender: softmax of the two gender logits; index 1 is P(male), "male" when it is over 0.5.`, lo, hi, lo, hi), true
	default:
		return "", false
	}
	return head + fmt.Sprintf(`
- Age (gaitord's "age", the ONNX output "age"): %d + Σ_k p_k, the expected age, clamped to [%d, %d].
- Median and 80%% interval: the CDF F(%d + k) = 1 − m_k, where m is p made non-increasing by least squares (pool-adjacent-violators) and clamped to [0, 1], with F(%d) = 0 and F(%d) = 1, linear between integer ages; the median is where F crosses 0.5, the interval where it crosses 0.1 and 0.9.
- Representable ages: %d…%d.
- Gender: softmax of the two gender logits; index 1 is P(male), "male" when it is over 0.5.`,
		lo, lo, hi, lo, lo-1, hi, lo, hi), true
}

// Preprocessing describes what a caller must do to get the network's input,
// for the card: gaitord's one GEI preprocessing (internal/gei).
func Preprocessing(c glcnn.Config) string {
	return fmt.Sprintf(`Input: float32 tensor N×1×%d×%d ("gei"), values in [0, 1], no mean or standard-deviation normalisation, no test-time flip.

From a GEI image (gaitord's gei.Preprocess):
1. Gray values: 8-bit gray v/255, 16-bit gray v/65535; colour (RGB, RGBA, paletted) as luma 0.299R + 0.587G + 0.114B composited over black, /255.
2. An image of exactly %d×%d (height × width) is used pixel for pixel.
3. Otherwise scale it to height %d keeping its aspect ratio (width round(w·%d/h), at least 1) by area averaging: each output pixel is the overlap-weighted mean of the source pixels it covers (no bilinear or bicubic filter).
4. If that width is not %d, shift horizontally so the intensity-weighted column centroid cx (pixel centres at x + 0.5) lands on the centre: column x moves to x + round(%d/2 − cx); columns outside are cut, missing ones are 0. Never stretch horizontally.

From binary silhouette frames (gaitord's gei.FromSilhouettes, the same for OpenGait pickles): per frame, crop to the bounding box of the pixels > 0, scale it to height %d by area averaging keeping its aspect ratio, centre it on its intensity-weighted column centroid in a %d-wide canvas as in step 4; skip all-black frames; average the frames (values /255). The GEI is stored as an 8-bit PNG (round(v·255)) and read back by steps 1–4.`,
		c.InputH, c.InputW, c.InputH, c.InputW, c.InputH, c.InputH, c.InputW, c.InputW, c.InputH, c.InputW)
}

// version of gaitord that wrote the export.
func gaitordVersion() string { return version.Version }

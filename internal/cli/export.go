package cli

import (
	"fmt"
	"io"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/modelcard"
	"github.com/gaitord/gaitord/internal/onnx"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newExportCmd(s, g, nil) })
}

// ExportOptions are the options of `gaitord export`.
type ExportOptions struct {
	Checkpoint string
	Format     string
	Out        string
	// Report is the folder of an `eval --report` whose metrics the model
	// card quotes; empty: the report/ folder beside the checkpoint, when it
	// evaluated this very file (modelcard.FindReport).
	Report string
	// Precision is fp32 (the default) or int8: a QDQ ONNX model encoding
	// model.Int8's scheme, calibrated as predict --precision int8 calibrates
	// (train.Int8Stored); --format onnx only.
	Precision string
	Quiet     bool // no progress while calibration generates a synthetic set (--quiet)
}

// newExportCmd builds the command; run replaces RunExport (tests pass one to see
// the options the flags produce).
func newExportCmd(s Streams, g *Global, run func(*ExportOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *ExportOptions) error { return RunExport(s, o) }
	}
	o := &ExportOptions{}
	c := &cobra.Command{
		Use:   "export",
		Short: "Export a checkpoint's model as safetensors (PyTorch names) or ONNX (opset 13)",
		Long: `safetensors: the weights under the seed's PyTorch names, with the model configuration
(input size, K, min_age, dropout, loss_type) in the metadata; a model of loss type
odl or ranking loads with load_state_dict(strict=True) into the seed's GEINet, the
other types name their own age head (docs/losses.md). Beside NAME.safetensors it
writes the model card NAME.md (architecture, input and preprocessing, loss type and
decoding, training data and configuration, evaluation metrics) and NAME.json (the
configuration); all three files are written or none.
onnx: the inference graph, input "gei" [N,1,H,W], outputs "age_logits" (the age
head's outputs: [N,K] for odl, ranking, coral and corn, [N,K+1] for dldl and
mean-variance, [N,1] for l1), "gender_logits" [N,2] and "age" [N], decoded by the
loss type (odl: min_age + Σ sigmoid); the same facts as the card in its
metadata_props.

--precision int8 (onnx only) writes the int8 model of predict --precision int8 as
a QDQ graph (QuantizeLinear/DequantizeLinear, opset 13): per-output-channel int8
weights, uint8 activations with the ranges calibrated on the training split of
the data the checkpoint's stored configuration names (exactly as predict
calibrates: a checkpoint without a stored configuration is refused), the heads and
the age decoding in float32. ONNX Runtime runs its convolutions as QLinearConv and
its hidden layers as QGemm. metadata_props add precision=int8, calibration_geis
and calibration_data.

The card quotes an evaluation report: --report DIR (what eval --report DIR wrote),
or by default the report/ folder beside the checkpoint when its summary.json
evaluated this very file (same SHA-256).`,
		Example: `  gaitord export --checkpoint runs/demo/best.ckpt --format safetensors --out glcnn.safetensors
  gaitord export --checkpoint runs/demo/best.ckpt --format onnx --out glcnn.onnx
  gaitord export --checkpoint runs/demo/best.ckpt --format onnx --precision int8 --out glcnn-int8.onnx`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights")
	f.StringVar(&o.Format, "format", "safetensors", "safetensors or onnx")
	f.StringVarP(&o.Out, "out", "o", "", "output file (written atomically; safetensors: also NAME.md and NAME.json beside it)")
	f.StringVar(&o.Precision, "precision", infer.PrecisionFP32, "fp32, or int8 (--format onnx): quantized as predict --precision int8, calibrated on the training split of the checkpoint's data")
	f.StringVar(&o.Report, "report", "", "evaluation report folder (eval --report DIR) for the model card (default: report/ beside the checkpoint, if it evaluated this file)")
	_ = c.MarkFlagRequired("checkpoint")
	_ = c.MarkFlagRequired("out")
	c.RunE = func(*cobra.Command, []string) error {
		o.Quiet = g != nil && g.Quiet
		return run(o)
	}
	return c
}

// RunExport writes the export.
func RunExport(s Streams, o *ExportOptions) error {
	if o.Format != "safetensors" && o.Format != "onnx" {
		return usagef("--format %q: want safetensors or onnx", o.Format)
	}
	if err := checkPrecision(o.Precision, ""); err != nil {
		return err
	}
	int8 := o.Precision == infer.PrecisionInt8
	if int8 && o.Format != "onnx" {
		return usagef("--precision int8 (or %s=int8) exports ONNX only (--format onnx); safetensors holds the float32 weights", envName("precision"))
	}
	st, err := checkpoint.Load(o.Checkpoint)
	if err != nil {
		return err
	}
	facts, err := modelcard.New(st, o.Checkpoint, o.Out, o.Format, o.Report)
	if err != nil {
		return fmt.Errorf("export %s: %w", o.Out, err)
	}
	var also string
	switch o.Format {
	case "safetensors":
		card, cfg, err := modelcard.Paths(o.Out)
		if err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
		cfgJSON, err := facts.ConfigJSON()
		if err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
		// The weights last: once NAME.safetensors appears, its card and
		// configuration are in place (atomicfile.WriteAll).
		err = atomicfile.WriteAll([]atomicfile.File{
			{Path: card, Write: func(w io.Writer) error { _, err := io.WriteString(w, facts.Card()); return err }},
			{Path: cfg, Write: func(w io.Writer) error { _, err := w.Write(cfgJSON); return err }},
			{Path: o.Out, Write: func(w io.Writer) error { return checkpoint.EncodeWeights(w, st.Model, st.Weights, st.TrainMeanAge) }},
		})
		if err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
		also = fmt.Sprintf("; model card %s, configuration %s", card, cfg)
	case "onnx":
		md, err := facts.Metadata()
		if err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
		if !int8 {
			if err := onnx.WriteFileWith(o.Out, st.Weights, st.Model, md); err != nil {
				return fmt.Errorf("export %s: %w", o.Out, err)
			}
			also = "; model card in metadata_props"
			break
		}
		q, err := int8Calibration(s, o, st)
		if err != nil {
			return fmt.Errorf("export --precision int8: %w", err)
		}
		if err := onnx.WriteFileInt8(o.Out, st.Weights, st.Model, q, md); err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
		also = fmt.Sprintf("; int8 QDQ, calibrated on %d GEIs of %s; model card in metadata_props", q.Calibration.GEIs, q.Source)
	}
	fmt.Fprintf(s.Out, "wrote %s (%s, %d×%d input, K=%d, min_age=%d, loss type %s%s)\n", o.Out, o.Format, st.Model.InputH, st.Model.InputW, st.Model.K, st.Model.MinAge, st.Model.LossType(), also)
	if facts.Report != nil {
		fmt.Fprintf(s.Out, "evaluation quoted from %s\n", facts.Report.Path)
	} else {
		fmt.Fprintf(s.Out, "%s\n", facts.ReportNote)
	}
	return nil
}

// int8Calibration calibrates st's model as predict --precision int8 does
// (train.Int8Stored on the training split of the data the stored
// configuration names) and returns the ranges and the data's source.
func int8Calibration(s Streams, o *ExportOptions, st *checkpoint.State) (onnx.Int8, error) {
	m, err := model.FromWeights(st.Model, st.Weights, "cpu")
	if err != nil {
		return onnx.Int8{}, fmt.Errorf("load %s: %w", o.Checkpoint, err)
	}
	do, done := dataOptions(s.Err, o.Quiet)
	defer done()
	q, source, err := train.Int8Stored(m, st, o.Checkpoint, do)
	if err != nil {
		return onnx.Int8{}, err
	}
	defer q.Close()
	return onnx.Int8{Calibration: q.Calibration(), Source: source}, nil
}

package cli

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/onnx"
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
other types name their own age head (docs/losses.md).
onnx: the inference graph, input "gei" [N,1,H,W], outputs "age_logits" (the age
head's outputs: [N,K] for odl, ranking, coral and corn, [N,K+1] for dldl and
mean-variance, [N,1] for l1), "gender_logits" [N,2] and "age" [N], decoded by the
loss type (odl: min_age + Σ sigmoid).`,
		Example: `  gaitord export --checkpoint runs/demo/best.ckpt --format safetensors --out glcnn.safetensors
  gaitord export --checkpoint runs/demo/best.ckpt --format onnx --out glcnn.onnx`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights")
	f.StringVar(&o.Format, "format", "safetensors", "safetensors or onnx")
	f.StringVarP(&o.Out, "out", "o", "", "output file (written atomically)")
	_ = c.MarkFlagRequired("checkpoint")
	_ = c.MarkFlagRequired("out")
	c.RunE = func(*cobra.Command, []string) error { return run(o) }
	return c
}

// RunExport writes the export.
func RunExport(s Streams, o *ExportOptions) error {
	if o.Format != "safetensors" && o.Format != "onnx" {
		return usagef("--format %q: want safetensors or onnx", o.Format)
	}
	st, err := checkpoint.Load(o.Checkpoint)
	if err != nil {
		return err
	}
	switch o.Format {
	case "safetensors":
		if err := checkpoint.SaveWeights(o.Out, st.Model, st.Weights, st.TrainMeanAge); err != nil {
			return err
		}
	case "onnx":
		if err := onnx.WriteFile(o.Out, st.Weights, st.Model); err != nil {
			return fmt.Errorf("export %s: %w", o.Out, err)
		}
	}
	fmt.Fprintf(s.Out, "wrote %s (%s, %d×%d input, K=%d, min_age=%d, loss type %s)\n", o.Out, o.Format, st.Model.InputH, st.Model.InputW, st.Model.K, st.Model.MinAge, st.Model.LossType())
	return nil
}

package cli

import (
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/spf13/cobra"
)

// precisionFlag adds --precision to a command.
func precisionFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "precision", infer.PrecisionFP32, precisionUsage)
}

const precisionUsage = "fp32, or int8: quantized after training (CPU, oneDNN), calibrated on the training split of the checkpoint's data"

// checkPrecision refuses an unknown precision, and int8 off the CPU
// (infer.CheckPrecision), as a usage error.
func checkPrecision(p, device string) error {
	if err := infer.CheckPrecision(p, device); err != nil {
		return &UsageError{err}
	}
	return nil
}

// int8Net builds m's int8 form for predict: train.Int8Stored, calibrated on
// the training split of the data the checkpoint's stored configuration
// names (eval calibrates on the training split of the data it evaluates).
func int8Net(s Streams, g *Global, m *model.GLCNN, st *checkpoint.State, ckpt string) (*model.Int8, error) {
	o, done := dataOptions(s.Err, g.Quiet)
	defer done()
	q, _, err := train.Int8Stored(m, st, ckpt, o)
	return q, err
}

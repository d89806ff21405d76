package cli

import (
	"github.com/spf13/cobra"
)

// The --precision values of eval and predict.
const (
	PrecisionFP32 = "fp32"
	PrecisionInt8 = "int8"
)

// precisionFlag adds --precision to a command.
func precisionFlag(c *cobra.Command, p *string) {
	c.Flags().StringVar(p, "precision", PrecisionFP32,
		"fp32, or int8: quantized after training (CPU, oneDNN), calibrated on the training split of the checkpoint's data")
}

// checkPrecision refuses an unknown precision, and int8 off the CPU.
func checkPrecision(p, device string) error {
	switch p {
	case "", PrecisionFP32:
		return nil
	case PrecisionInt8:
		if device != "" && device != "cpu" {
			return usagef("--precision int8 runs on the CPU; --device %s", device)
		}
		return nil
	}
	return usagef("--precision %q: want fp32 or int8", p)
}

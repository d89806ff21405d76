package cli

import (
	"fmt"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/train"
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

// int8Net builds m's int8 form for predict, calibrated on the training split
// of the data the checkpoint's stored configuration names (eval calibrates on
// the training split of the data it evaluates).
func int8Net(s Streams, g *Global, m *model.GLCNN, st *checkpoint.State, ckpt string) (*model.Int8, error) {
	if st.Config == "" {
		// the defaults would name the built-in synthetic set: calibrating a
		// real model on it would be silently wrong
		return nil, fmt.Errorf("%s stores no configuration, so no training data to calibrate on (an export?): use the run's checkpoint", ckpt)
	}
	cfg, err := dataConfig(st, ckpt, "", nil)
	if err != nil {
		return nil, err
	}
	cfg.Model.InputHeight, cfg.Model.InputWidth = st.Model.InputH, st.Model.InputW
	ds, err := openData(cfg, s.Err, g.Quiet)
	if err != nil {
		return nil, fmt.Errorf("calibration data of %s: %w", ckpt, err)
	}
	q, err := train.Int8(m, ds.Split(dataset.SplitTrain), dataset.LoaderOptions{
		BatchSize: max(cfg.Train.EvalBatchSize, 1), Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch,
		H: st.Model.InputH, W: st.Model.InputW, Decode: data.Decoder(cfg),
	})
	infer.FinishGC() // Calibrate's loop of GC calls
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.Source, err)
	}
	return q, nil
}

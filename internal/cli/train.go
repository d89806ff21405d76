package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/runtime"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/spf13/cobra"
)

func init() { extraCommands = append(extraCommands, newTrainCmd) }

// TrainOptions are the options of `gaitord train`.
type TrainOptions struct {
	Config string   // experiment YAML
	Sets   []string // key=value overrides, after the file and GAITORD_* variables
	Out    string   // run folder
	Resume bool
}

// ExitInterrupted is the exit status after Ctrl-C (128 + SIGINT).
const ExitInterrupted = 130

// InterruptedError reports a run stopped by a signal after saving its state.
type InterruptedError struct{ Checkpoint string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("interrupted; state saved to %s, continue with --resume", e.Checkpoint)
}

func newTrainCmd(s Streams, g *Global) *cobra.Command {
	o := &TrainOptions{}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train the GL-CNN on a dataset (the built-in synthetic one by default)",
		Example: `  gaitord train --config configs/default.yaml --out runs/demo
  gaitord train --config configs/oumvlp.yaml --data /data/OUMVLP --out runs/oumvlp --set train.epochs=60
  gaitord train --config configs/oumvlp.yaml --out runs/oumvlp --resume`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVarP(&o.Config, "config", "c", defaultConfig, "experiment configuration (YAML)")
	f.StringVarP(&o.Out, "out", "o", "", "run folder (default runs/<config name>)")
	f.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its last checkpoint")
	f.StringArrayVar(&o.Sets, "set", nil, "override a configuration key, e.g. --set train.epochs=20 (repeatable)")
	f.String("data", "", "dataset root (or manifest CSV); sets data.root")
	f.String("format", "", "dataset format: synthetic, oumvlp, oulp-age or manifest; sets data.format")
	f.String("device", "", "cpu, cuda or cuda:N; sets train.device")
	f.Int("epochs", 0, "sets train.epochs")
	f.Int("batch-size", 0, "sets train.batch_size")
	f.Int("threads", 0, "libtorch intra-op threads (0 = all cores); sets train.threads")
	c.RunE = withEnv(func(c *cobra.Command, _ []string) error {
		var ov overrides
		ov.add(c, "data", "data.root")
		ov.add(c, "format", "data.format")
		ov.add(c, "device", "train.device")
		ov.add(c, "epochs", "train.epochs")
		ov.add(c, "batch-size", "train.batch_size")
		ov.add(c, "threads", "train.threads")
		o.Sets = append(append([]string(nil), ov...), o.Sets...)
		if c.Flags().Changed("data") && !c.Flags().Changed("format") && !hasSet(o.Sets, "data.format") {
			// --data without --format: a CSV is a manifest, a folder an OU-MVLP root.
			if strings.HasSuffix(strings.ToLower(c.Flags().Lookup("data").Value.String()), ".csv") {
				o.Sets = append([]string{"data.format=manifest"}, o.Sets...)
			}
		}
		return RunTrain(s, g, o)
	})
	return c
}

// defaultConfig is the --config default; when it is not where the command
// runs, the copy compiled into the binary is used.
const defaultConfig = "configs/default.yaml"

// loadConfig loads path, or the built-in default.yaml when path is the
// default and absent from the working folder.
func loadConfig(path string, sets []string) (config.Config, error) {
	if path == defaultConfig {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return loadConfigBytes("default.yaml (built in)", configs.Default, sets)
		}
	}
	return config.Load(path, sets)
}

// loadConfigBytes loads a configuration held in memory (a checkpoint's, or
// the built-in default) through a temporary file.
func loadConfigBytes(name string, data []byte, sets []string) (config.Config, error) {
	f, err := os.CreateTemp("", "gaitord-config-*.yaml")
	if err != nil {
		return config.Config{}, err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return config.Config{}, err
	}
	c, err := config.Load(f.Name(), sets)
	if err != nil {
		return c, fmt.Errorf("%s", strings.ReplaceAll(err.Error(), f.Name(), name))
	}
	return c, nil
}

func hasSet(sets []string, key string) bool {
	for _, s := range sets {
		if strings.HasPrefix(s, key+"=") {
			return true
		}
	}
	return false
}

// RunTrain trains as o says, printing progress to s.Err and the summary to s.Out.
func RunTrain(s Streams, g *Global, o *TrainOptions) error {
	cfg, err := loadConfig(o.Config, o.Sets)
	if err != nil {
		return err
	}
	if o.Out == "" {
		o.Out = filepath.Join("runs", strings.TrimSuffix(filepath.Base(o.Config), filepath.Ext(o.Config)))
	}
	mc := modelConfig(cfg)
	if err := model.CheckDevice(cfg.Train.Device); err != nil {
		return err
	}
	threads := runtime.SetThreads(cfg.Train.Threads)
	ds, err := openData(cfg, s.Err, g.Quiet)
	if err != nil {
		return err
	}
	if !g.Quiet {
		reportProblems(s.Err, ds, 10)
	}
	trainSet, val := dataset.HoldOut(ds.Split(dataset.SplitTrain), cfg.Train.ValFraction, cfg.Train.Seed)
	if len(trainSet) == 0 {
		return fmt.Errorf("dataset %s has no training samples", ds.Root)
	}
	yaml, err := cfg.YAML()
	if err != nil {
		return err
	}
	if !g.Quiet {
		fmt.Fprintf(s.Err, "training on %d GEIs (%d held out for validation) from %s; %s, %d threads; run folder %s\n",
			len(trainSet), len(val), ds.Root, cfg.Train.Device, threads, o.Out)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := train.Run(ctx, train.Options{
		Hyper:        hyper(cfg, mc),
		RunDir:       o.Out,
		Resume:       o.Resume,
		ConfigYAML:   yaml,
		Train:        trainSet,
		Val:          val,
		TrainMeanAge: meanAge(trainSet),
		Decode:       decoder(cfg),
		Log:          logWriter(s, g),
		Progress:     !g.Quiet && isTerminal(s.Err),
	})
	if errors.Is(err, train.ErrInterrupted) {
		return &InterruptedError{Checkpoint: filepath.Join(o.Out, train.LastFile)}
	}
	if err != nil {
		return err
	}
	best := "no validation split"
	if !math.IsInf(res.BestMAE, 0) {
		best = fmt.Sprintf("best validation MAE %.2f", res.BestMAE)
	}
	fmt.Fprintf(s.Out, "trained %d epochs (%d steps); %s; checkpoints in %s (best.ckpt, last.ckpt)\n",
		res.Epochs, res.Steps, best, o.Out)
	return nil
}

func logWriter(s Streams, g *Global) *quietWriter { return &quietWriter{w: s.Err, quiet: g.Quiet} }

type quietWriter struct {
	w     interface{ Write([]byte) (int, error) }
	quiet bool
}

func (q *quietWriter) Write(p []byte) (int, error) {
	if q.quiet {
		return len(p), nil
	}
	return q.w.Write(p)
}

func modelConfig(c config.Config) model.Config {
	return model.Config{InputH: c.Model.InputHeight, InputW: c.Model.InputWidth, K: c.Model.K, MinAge: c.Model.MinAge, Dropout: c.Model.Dropout}
}

func hyper(c config.Config, mc model.Config) train.Hyper {
	return train.Hyper{
		Model: mc, Seed: c.Train.Seed, Device: c.Train.Device, Epochs: c.Train.Epochs,
		BatchSize: c.Train.BatchSize, EvalBatchSize: c.Train.EvalBatchSize,
		LR: c.Optim.LR, Beta1: c.Optim.Betas[0], Beta2: c.Optim.Betas[1], Eps: 1e-8, WeightDecay: c.Optim.WeightDecay,
		Schedule: train.Schedule{Type: c.Schedule.Type, StepEpochs: c.Schedule.StepEpochs, Gamma: c.Schedule.Gamma, WarmupEpochs: c.Schedule.WarmupEpochs},
		Loss:     odl.Weights{Lambda: c.Loss.Lambda, Mu: c.Loss.Mu},
		Workers:  c.Data.Workers, Prefetch: c.Data.Prefetch, Flip: c.Data.Flip,
	}
}

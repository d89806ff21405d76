package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newTrainCmd(s, g, nil) })
}

// TrainOptions are the options of `gaitord train`.
type TrainOptions struct {
	Config string   // experiment YAML
	Sets   []string // key=value overrides, after the file and GAITORD_* variables
	Out    string   // run folder
	Resume bool
	// NProc > 1 starts that many local data-parallel workers (like torchrun
	// --nproc_per_node), each running WorkerArgs.
	NProc      int
	MasterPort int // their rendezvous port; 0 picks a free one
	WorkerArgs []string
}

// ExitInterrupted is the exit status after Ctrl-C (128 + SIGINT).
const ExitInterrupted = 130

// InterruptedError reports a run stopped by a signal after saving its state.
// Quiet ones exit 130 without a message: another process (rank 0 of a
// data-parallel job) already printed it.
type InterruptedError struct {
	Checkpoint string
	Quiet      bool
	Msg        string // the whole message, when set (experiment's)
}

func (e *InterruptedError) Error() string {
	if e.Msg != "" {
		return e.Msg
	}
	return fmt.Sprintf("interrupted; state saved to %s, continue with --resume", e.Checkpoint)
}

// newTrainCmd builds the command; run replaces RunTrain (tests pass one to see
// the options the flags produce).
func newTrainCmd(s Streams, g *Global, run func(*TrainOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *TrainOptions) error { return RunTrain(s, g, o) }
	}
	o := &TrainOptions{}
	c := &cobra.Command{
		Use:   "train",
		Short: "Train the GL-CNN on a dataset (the built-in synthetic one by default)",
		Example: `  gaitord train --config configs/default.yaml --out runs/demo
  gaitord train --config configs/oumvlp.yaml --data /data/OUMVLP --out runs/oumvlp --set train.epochs=60
  gaitord train --config configs/oumvlp.yaml --out runs/oumvlp --resume
  gaitord train --config configs/oumvlp.yaml --data /data/OUMVLP --out runs/dp --nproc 4

Data-parallel training: --nproc N starts N worker processes on this machine.
A worker started by another launcher (torchrun, a Slurm script) joins the job
named by MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE and LOCAL_RANK. The batch
size is per worker; rank 0 writes the run folder.`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVarP(&o.Config, "config", "c", defaultConfig, "experiment configuration (YAML)")
	f.StringVarP(&o.Out, "out", "o", "", "run folder (default runs/<config name>)")
	f.BoolVar(&o.Resume, "resume", false, "continue the run in --out from its last checkpoint")
	trainKeyFlags(c, &o.Sets)
	f.IntVar(&o.NProc, "nproc", 1, "data-parallel worker processes to start on this machine")
	f.IntVar(&o.MasterPort, "master-port", 0, "with --nproc: the workers' rendezvous port (0 = a free one)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		o.WorkerArgs = workerArgs(c)
		o.Sets = keySets(c, o.Sets)
		return run(o)
	}
	return c
}

// trainKeyFlags declares train's --set and the flags that stand for keys
// (--data, --format, --device, --epochs, --batch-size, --threads), which
// experiment shares.
func trainKeyFlags(c *cobra.Command, sets *[]string) {
	f := c.Flags()
	f.StringArrayVar(sets, "set", nil, "override a configuration key, e.g. --set train.epochs=20 (repeatable)")
	f.String("data", "", "dataset root (or manifest CSV); sets data.root")
	f.String("format", "", "dataset format: synthetic, oumvlp, oulp-age or manifest; sets data.format")
	f.String("device", "", "cpu, cuda or cuda:N; sets train.device")
	f.Int("epochs", 0, "sets train.epochs")
	f.Int("batch-size", 0, "sets train.batch_size")
	f.Int("threads", 0, "libtorch intra-op threads (0 = all cores, shared among local workers); sets train.threads")
	for flag, key := range map[string]string{"data": "data.root", "format": "data.format", "device": "train.device",
		"epochs": "train.epochs", "batch-size": "train.batch_size", "threads": "train.threads"} {
		keyFlag(c, flag, key)
	}
}

// defaultConfig is the --config default; when it is not where the command
// runs, the copy compiled into the binary is used.
const defaultConfig = "configs/default.yaml"

// loadConfig loads path, or the built-in default.yaml when path is the
// default and absent from the working folder.
func loadConfig(path string, sets []string) (config.Config, error) {
	if path == defaultConfig {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return config.LoadBytes(config.DefaultName, configs.Default, sets)
		}
	}
	return config.Load(path, sets)
}

// workerArgs is the command line that starts one worker of c: the same
// command and flags, with --nproc=1 (so that a GAITORD_NPROC the workers
// inherit cannot make them launch workers of their own) and without
// --master-port.
func workerArgs(c *cobra.Command) []string {
	args := []string{c.Name()}
	add := func(f *pflag.Flag) {
		if f.Name == "nproc" || f.Name == "master-port" {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				args = append(args, "--"+f.Name+"="+v)
			}
			return
		}
		args = append(args, "--"+f.Name+"="+f.Value.String())
	}
	c.Flags().Visit(add)
	return append(args, "--nproc=1")
}

// RunTrain trains as o says, printing progress to s.Err and the summary to
// s.Out. With o.NProc > 1 it launches that many workers instead; a process
// whose environment names a data-parallel job (WORLD_SIZE > 1) trains as one
// of its ranks.
func RunTrain(s Streams, g *Global, o *TrainOptions) error {
	if g.Verbose && g.Quiet {
		return usagef("--verbose and --quiet ask for opposite things: give one")
	}
	cfg, err := loadConfig(o.Config, o.Sets)
	if err != nil {
		return err
	}
	if o.Out == "" {
		o.Out = filepath.Join("runs", strings.TrimSuffix(filepath.Base(o.Config), filepath.Ext(o.Config)))
	}
	if o.NProc < 1 {
		return fmt.Errorf("--nproc %d: want ≥ 1", o.NProc)
	}
	if o.NProc > 1 {
		return launchWorkers(s, g, o, cfg)
	}
	job, distributed, err := dist.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	rank0 := !distributed || job.Rank == 0
	if distributed {
		if cfg.Train.Threads == 0 && job.LocalWorld > 1 {
			// Local workers share the cores, as torchrun's OMP_NUM_THREADS does.
			cfg.Train.Threads = max(1, runtime.NumCPU()/job.LocalWorld)
		}
		if cfg.Train.Device == "cuda" {
			cfg.Train.Device = fmt.Sprintf("cuda:%d", job.LocalRank)
		}
	}
	mc := modelConfig(cfg)
	if err := model.CheckDevice(cfg.Train.Device); err != nil {
		return err
	}
	threads := engine.SetThreads(cfg.Train.Threads)
	ds, err := openData(cfg, s.Err, g.Quiet || !rank0)
	if err != nil {
		return err
	}
	if !g.Quiet && rank0 {
		reportProblems(s.Err, ds, 10)
	}
	all := ds.Split(dataset.SplitTrain)
	if len(all) == 0 {
		return ds.NoSamplesError(dataset.SplitTrain)
	}
	trainSet, val := dataset.HoldOut(all, cfg.Train.ValFraction, cfg.Train.Seed)
	if len(trainSet) == 0 {
		return fmt.Errorf("%s %s: all %d training samples were held out for validation (train.val_fraction %v)", ds.Format, ds.Source, len(all), cfg.Train.ValFraction)
	}
	if g.Verbose && rank0 {
		printDataStats(s.Err, ds, trainSet, val)
	}
	yaml, err := cfg.YAML()
	if err != nil {
		return err
	}
	var group *dist.Group
	var comm dist.Comm = dist.NewLocal()
	if distributed {
		backend := cfg.Dist.Backend
		if backend == "auto" {
			backend = dist.BackendFor(cfg.Train.Device)
		}
		group, err = dist.Join(job, dist.Options{Backend: backend, Device: cfg.Train.Device,
			Timeout: cfg.Dist.Timeout()})
		if err != nil {
			return err
		}
		comm = group
	}
	if !g.Quiet && rank0 {
		workers := ""
		if distributed {
			workers = fmt.Sprintf(" × %d rank%s (%s)", job.WorldSize, plural(job.WorldSize), group.Backend())
		}
		fmt.Fprintf(s.Err, "training on %d GEIs (%d held out for validation) from %s; %s, %d threads%s; run folder %s\n",
			len(trainSet), len(val), ds.Source, cfg.Train.Device, threads, workers, o.Out)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := train.Run(ctx, train.Options{
		Group:        comm,
		BucketBytes:  int64(cfg.Dist.BucketMB * (1 << 20)),
		Hyper:        hyper(cfg, mc),
		RunDir:       o.Out,
		Resume:       o.Resume,
		ConfigYAML:   yaml,
		Train:        trainSet,
		Val:          val,
		TrainMeanAge: dataset.MeanAge(trainSet),
		Decode:       data.Decoder(cfg),
		Log:          logWriter(s, g),
		StepLog:      stepLog(s, g),
		Progress:     !g.Quiet && !g.Verbose && isTerminal(s.Err), // a bar would garble the step lines
	})
	if errors.Is(err, train.ErrInterrupted) {
		return &InterruptedError{Checkpoint: filepath.Join(o.Out, train.LastFile), Quiet: !rank0}
	}
	if err != nil {
		return err
	}
	if group != nil {
		group.Close()
	}
	if !rank0 {
		return nil
	}
	best := "no validation split"
	if !math.IsInf(res.BestMAE, 0) {
		best = fmt.Sprintf("best validation MAE %.2f", res.BestMAE)
	}
	fmt.Fprintf(s.Out, "trained %d epochs (%d steps); %s; checkpoints in %s (best.ckpt, last.ckpt)\n",
		res.Epochs, res.Steps, best, o.Out)
	return nil
}

// launchWorkers runs `train` as o.NProc local data-parallel workers and
// waits for them. The configuration is checked, and a synthetic dataset
// generated, once here rather than in every worker.
func launchWorkers(s Streams, g *Global, o *TrainOptions, cfg config.Config) error {
	if _, err := openData(cfg, s.Err, g.Quiet); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the gaitord executable to start workers: %w", err)
	}
	if !g.Quiet {
		fmt.Fprintf(s.Err, "starting %d data-parallel workers on this machine\n", o.NProc)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = dist.Launch(ctx, dist.LaunchOptions{
		NProc: o.NProc, Exe: exe, Args: o.WorkerArgs, Env: os.Environ(), MasterPort: o.MasterPort,
		Stdout: s.Out, Stderr: s.Err,
		Grace: cfg.Dist.Timeout() + 30*time.Second,
	})
	var we *dist.WorkerError
	if errors.As(err, &we) && we.Code == ExitInterrupted {
		return &InterruptedError{Checkpoint: filepath.Join(o.Out, train.LastFile), Quiet: true}
	}
	return err
}

// printDataStats is train --verbose's account of the data: one line per
// split as training uses it (the training subjects, those held out of them
// for validation, the test split, and the samples in neither split, which
// nothing uses).
func printDataStats(w io.Writer, ds *dataset.Dataset, trainSet, val []dataset.Sample) {
	fmt.Fprintf(w, "data: %s dataset at %s\n", ds.Format, ds.Root)
	parts := []struct {
		name    string
		samples []dataset.Sample
	}{
		{"train", trainSet}, {"validation", val}, {"test", ds.Split(dataset.SplitTest)},
		{"unused", ds.Split(dataset.SplitNone)},
	}
	for _, p := range parts {
		if p.name == "unused" && len(p.samples) == 0 {
			continue
		}
		fmt.Fprintf(w, "data: %-10s %s\n", p.name, dataset.StatsOf(p.samples).Brief())
	}
}

// stepLog is where train --verbose writes its step lines (nil without it).
func stepLog(s Streams, g *Global) io.Writer {
	if !g.Verbose {
		return nil
	}
	return s.Err
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
	return c.Spec()
}

func hyper(c config.Config, mc model.Config) train.Hyper {
	return train.Hyper{
		Model: mc, Seed: c.Train.Seed, Device: c.Train.Device, Epochs: c.Train.Epochs,
		BatchSize: c.Train.BatchSize, EvalBatchSize: c.Train.EvalBatchSize,
		Optim:    optim.Config{LR: c.Optim.LR, Beta1: c.Optim.Betas[0], Beta2: c.Optim.Betas[1], Eps: c.Optim.Eps, WeightDecay: c.Optim.WeightDecay},
		Schedule: train.Schedule{Type: c.Schedule.Type, StepEpochs: c.Schedule.StepEpochs, Gamma: c.Schedule.Gamma, WarmupEpochs: c.Schedule.WarmupEpochs},
		Loss: odl.Weights{Lambda: c.Loss.Lambda, Mu: c.Loss.Mu, Sigma: c.Loss.Sigma,
			MeanWeight: c.Loss.MeanWeight, VarianceWeight: c.Loss.VarianceWeight},
		Workers: c.Data.Workers, Prefetch: c.Data.Prefetch, Flip: c.Data.Flip,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

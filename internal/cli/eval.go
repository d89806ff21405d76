package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/report"
	"github.com/gaitord/gaitord/internal/trace"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newEvalCmd(s, g, nil) })
}

// EvalOptions are the options of `gaitord eval`.
type EvalOptions struct {
	Checkpoint string
	Config     string   // optional: experiment YAML for the data (default: the one stored in the checkpoint)
	Sets       []string // overrides
	Split      string
	JSON       bool
	Report     string
	// AllowMissing evaluates without the split's missing images (their
	// count is printed beside the metrics) instead of failing.
	AllowMissing bool
	// PerSubject also fuses each subject's GEIs into one prediction and
	// reports those figures beside the per-GEI ones.
	PerSubject bool
	Device     string
	Threads    int
	// Precision is fp32 (the default) or int8: the network quantized after
	// training, calibrated on the data's training split (docs/model.md).
	Precision string
}

// newEvalCmd builds the command; run replaces RunEval (tests pass one to see
// the options the flags produce).
func newEvalCmd(s Streams, g *Global, run func(*EvalOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *EvalOptions) error { return RunEval(s, g, o) }
	}
	o := &EvalOptions{}
	c := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a checkpoint: MAE, RMSE, CS(1…10), per age group and view, gender accuracy, calibration",
		Long: `Evaluate a checkpoint on a dataset split. The 80% interval coverage is read off
the model's own distribution (its loss type's, docs/losses.md); a model of loss
type l1 predicts no distribution, and its evaluation has no coverage.`,
		Example: `  gaitord eval --checkpoint runs/demo/best.ckpt
  gaitord eval --checkpoint runs/oumvlp/best.ckpt --data /data/OUMVLP --format oumvlp --json
  gaitord eval --checkpoint runs/demo/best.ckpt --report runs/demo/report
  gaitord eval --checkpoint runs/demo/best.ckpt --per-subject`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights (.ckpt / .safetensors)")
	f.StringVarP(&o.Config, "config", "c", "", "experiment configuration for the data (default: the one stored in the checkpoint)")
	f.StringArrayVar(&o.Sets, "set", nil, "override a configuration key (repeatable)")
	f.String("data", "", "dataset root (or manifest CSV); sets data.root")
	f.String("format", "", "dataset format; sets data.format")
	f.StringVar(&o.Split, "split", "test", "split to evaluate: test, train or all")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object")
	f.BoolVar(&o.AllowMissing, "allow-missing", false, "evaluate without the split's missing images (printing their count) instead of failing")
	f.StringVar(&o.Report, "report", "", "also write plots, summary.json and predictions.csv into this folder")
	f.BoolVar(&o.PerSubject, "per-subject", false, "also fuse each subject's GEIs into one prediction (the network's set form) and report those metrics beside the per-GEI ones")
	f.StringVar(&o.Device, "device", "cpu", "cpu, cuda or cuda:N")
	f.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (0 = all cores)")
	precisionFlag(c, &o.Precision)
	_ = c.MarkFlagRequired("checkpoint")
	keyFlag(c, "data", "data.root")
	keyFlag(c, "format", "data.format")
	c.RunE = func(c *cobra.Command, _ []string) error {
		o.Sets = keySets(c, o.Sets)
		return run(o)
	}
	return c
}

// loadModel reads a checkpoint or weights file into a model on device.
func loadModel(path, device string) (*model.GLCNN, *checkpoint.State, error) {
	trace.Mark("command line")
	st, err := checkpoint.LoadModel(path) // the Adam moments go unread
	if err != nil {
		return nil, nil, err
	}
	trace.Mark("read checkpoint")
	if err := model.CheckDevice(device); err != nil {
		return nil, nil, err
	}
	m, err := model.FromWeights(st.Model, st.Weights, device)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", path, err)
	}
	trace.Mark("build model")
	return m, st, nil
}

// dataConfig is the configuration that says where the evaluation data is:
// --config if given, else the one stored in the checkpoint, else the
// defaults (configs/default.yaml, as everywhere).
func dataConfig(st *checkpoint.State, ckpt, path string, sets []string) (config.Config, error) {
	if path != "" {
		return config.Load(path, sets)
	}
	if st.Config != "" {
		return config.LoadBytes("stored in "+ckpt, []byte(st.Config), sets)
	}
	return config.LoadBytes(config.DefaultName, configs.Default, sets)
}

// RunEval evaluates a checkpoint on a dataset split.
func RunEval(s Streams, g *Global, o *EvalOptions) error {
	engine.SetThreads(o.Threads)
	if err := checkPrecision(o.Precision, o.Device); err != nil {
		return err
	}
	m, st, err := loadModel(o.Checkpoint, o.Device)
	if err != nil {
		return err
	}
	if o.PerSubject && o.Precision == infer.PrecisionInt8 {
		return usagef("eval --per-subject runs in fp32 only; leave out --precision int8")
	}
	if o.PerSubject {
		if err := infer.CanFuse(st.Model); err != nil {
			return fmt.Errorf("eval --per-subject: %s: %w", o.Checkpoint, err)
		}
	}
	cfg, err := dataConfig(st, o.Checkpoint, o.Config, o.Sets)
	if err != nil {
		return err
	}
	if cfg.Model.InputHeight != st.Model.InputH || cfg.Model.InputWidth != st.Model.InputW {
		cfg.Model.InputHeight, cfg.Model.InputWidth = st.Model.InputH, st.Model.InputW
	}
	ds, err := openData(cfg, s.Err, g.Quiet)
	if err != nil {
		return err
	}
	if !g.Quiet {
		reportProblems(s.Err, ds, 10)
	}
	var split dataset.Split
	switch o.Split {
	case "all":
		split = dataset.SplitAll
	case "train", "test":
		split = dataset.Split(o.Split)
	default:
		return usagef("--split %q: want test, train or all", o.Split)
	}
	samples, missing, err := ds.EvalSplit(split, o.AllowMissing)
	var me *dataset.MissingImagesError
	if errors.As(err, &me) {
		return fmt.Errorf("%w: a benchmark over fewer images misleads; restore them, or pass --allow-missing to evaluate without them", err)
	}
	if err != nil {
		return err
	}
	trainMean := st.TrainMeanAge
	if trainMean == 0 {
		trainMean = dataset.MeanAge(ds.Split(dataset.SplitTrain))
	}
	loaderOptions := data.LoaderOptions(cfg)
	var net infer.Net = m
	var calibrated int // GEIs int8 calibration observed
	if o.Precision == infer.PrecisionInt8 {
		q, err := train.Int8Data(m, cfg, ds)
		if err != nil {
			return fmt.Errorf("eval --precision int8: %w", err)
		}
		defer q.Close()
		net, calibrated = q, q.Calibration().GEIs
	}
	loader := dataset.NewLoader(samples, loaderOptions)
	defer loader.Close()
	preds, err := train.Predict(net, loader, samples)
	// End Predict's loop of GC calls (gotorch's rule, as predict does): a
	// later loop in this process (gaitord experiment's next run) would
	// otherwise count its long-lived tensors as the loop's and wait for
	// them forever.
	infer.FinishGC()
	if err != nil {
		return err
	}
	sum := metrics.Evaluate(preds, trainMean)
	sum.MissingImages = missing
	sum.Checkpoint, sum.Split, sum.Data = o.Checkpoint, o.Split, ds.Source
	if sum.CheckpointSHA256, err = checkpoint.SHA256(o.Checkpoint); err != nil {
		return err
	}
	var subjects []api.Prediction
	if o.PerSubject {
		subjects, err = train.PredictSubjects(m, samples, loaderOptions)
		if err != nil {
			return fmt.Errorf("eval --per-subject: %s: %w", ds.Source, err)
		}
		ps := metrics.Evaluate(subjects, trainMean)
		sum.PerSubject = &ps
	}
	if o.Report != "" {
		if err := report.Write(o.Report, preds, sum); err != nil {
			return err
		}
		if o.PerSubject {
			if err := report.WriteSubjects(o.Report, subjects); err != nil {
				return err
			}
		}
	}
	if o.JSON {
		return json.NewEncoder(s.Out).Encode(sum)
	}
	fmt.Fprintf(s.Out, "%s (loss type %s): %s split of %s (%d GEIs)\n", o.Checkpoint, st.Model.LossType(), o.Split, ds.Source, len(samples))
	if o.Precision == infer.PrecisionInt8 {
		fmt.Fprintf(s.Out, "precision int8 (%s), calibrated on %d training GEIs\n", infer.Int8Engine, calibrated)
	}
	fmt.Fprint(s.Out, sum.Table())
	if sum.PerSubject != nil {
		fmt.Fprintln(s.Out)
		fmt.Fprint(s.Out, sum.PerSubjectTable())
	}
	if o.Report != "" {
		fmt.Fprintf(s.Out, "report written to %s\n", o.Report)
	}
	return nil
}

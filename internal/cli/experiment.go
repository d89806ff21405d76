package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/experiment"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/report"
	"github.com/gaitord/gaitord/internal/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newExperimentCmd(s, g, nil) })
}

// ExperimentOptions are the options of `gaitord experiment`.
type ExperimentOptions struct {
	Config   string   // experiment YAML, as train's --config
	Sets     []string // overrides every run shares (--set and the key flags)
	Out      string   // experiment folder
	Grid     []string // "key=v1,v2,…", one per --grid
	Seeds    []int64  // empty: the configuration's train.seed
	Baseline string   // "key=value[,…]": the reference cell
}

// newExperimentCmd builds the command; run replaces RunExperiment (tests
// pass one to see the options the flags produce).
func newExperimentCmd(s Streams, g *Global, run func(*ExperimentOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *ExperimentOptions) error { return RunExperiment(s, g, o) }
	}
	o := &ExperimentOptions{}
	c := &cobra.Command{
		Use:   "experiment",
		Short: "Train a grid of configurations over several seeds and tabulate test MAE, CS(5), … with their spread",
		Example: `  gaitord experiment --grid loss.lambda=0,1 --seeds 1,2,3 --baseline loss.lambda=0 --out exp/odl
  gaitord experiment --config configs/oumvlp.yaml --data /data/OUMVLP --grid optim.lr=1e-3,3e-4 --grid data.flip=true,false --seeds 1,2 --out exp/lr-flip

Every cell of the grid (several --grid flags make their product) trains once
per seed in OUT/<key=value,…>/seed<N>/, one run after another, with train's
data and overrides; best.ckpt is then evaluated on the test split. Run the
same command again to continue an interrupted experiment: finished runs are
skipped, an interrupted one resumes. OUT/summary.csv, summary.md and
summary.json hold one row per cell (mean and sample std over seeds; with
--baseline the paired difference in MAE and its t-test p-value), mae.png
the chart. See docs/experiment.md.`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVarP(&o.Config, "config", "c", defaultConfig, "experiment configuration (YAML) every run starts from")
	f.StringVarP(&o.Out, "out", "o", "", "experiment folder")
	f.StringArrayVar(&o.Grid, "grid", nil, "a grid axis, key=v1,v2,… (repeatable: a product; list values in brackets, data.views=[000,090],[090])")
	f.Int64SliceVar(&o.Seeds, "seeds", nil, "seeds, one run per cell each; sets train.seed (default: the configuration's)")
	f.StringVar(&o.Baseline, "baseline", "", "reference cell, key=value[,key=value]: adds mae_diff_mean and its paired t-test's mae_diff_p")
	trainKeyFlags(c, &o.Sets)
	_ = c.MarkFlagRequired("out")
	c.RunE = func(c *cobra.Command, _ []string) error {
		o.Sets = keySets(c, o.Sets)
		return run(o)
	}
	return c
}

// RunExperiment runs every run of the experiment o describes that is not
// finished yet, in process, one after another (train's RunTrain, then
// RunEval of best.ckpt on the test split), and writes the summary. Every
// flag and configuration is checked before the first run starts.
func RunExperiment(s Streams, g *Global, o *ExperimentOptions) error {
	if g.Verbose && g.Quiet {
		return usagef("--verbose and --quiet ask for opposite things: give one")
	}
	if _, distributed, err := dist.FromEnv(os.Getenv); err != nil {
		return err
	} else if distributed {
		return fmt.Errorf("gaitord experiment trains its runs one after another in this process; it does not join a data-parallel job (WORLD_SIZE > 1): start it without a launcher")
	}
	load := func(sets []string) (config.Config, error) { return loadConfig(o.Config, sets) }
	plan, err := experiment.NewPlan(experiment.Spec{Out: o.Out, Grid: o.Grid, Seeds: o.Seeds, Baseline: o.Baseline, Sets: o.Sets, Load: load})
	var fe *experiment.FlagError
	if errors.As(err, &fe) {
		return &UsageError{err}
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("experiment folder %s: %w", o.Out, err)
	}
	unlock, err := train.Lock(o.Out)
	if err != nil {
		return err
	}
	defer unlock()
	states := make([]experiment.Status, len(plan.Runs))
	count := map[experiment.State]int{}
	for i, r := range plan.Runs {
		if states[i], err = experiment.Inspect(r); err != nil {
			return err
		}
		count[states[i].State]++
	}
	if !g.Quiet {
		fmt.Fprintf(s.Err, "experiment: %d cell%s × %d seed%s = %d run%s in %s (%d finished, %d to resume, %d to evaluate, %d to train)\n",
			len(plan.Cells), plural(len(plan.Cells)), len(plan.Seeds), plural(len(plan.Seeds)), len(plan.Runs), plural(len(plan.Runs)), o.Out,
			count[experiment.Finished], count[experiment.Interrupted], count[experiment.Trained], count[experiment.Fresh])
	}

	// Each run prints only its errors, unless --verbose shows its own
	// output (epoch lines); train's summary line goes with it.
	inner := Streams{In: s.In, Out: io.Discard, Err: s.Err}
	innerG := &Global{Quiet: true}
	if g.Verbose {
		inner.Out, innerG = s.Err, &Global{}
	}
	hooks := experiment.Hooks{
		Train: func(r experiment.Run, resume bool) error {
			return RunTrain(inner, innerG, &TrainOptions{Config: o.Config, Sets: r.Sets, Out: r.Dir, Resume: resume, NProc: 1})
		},
		Evaluate: func(r experiment.Run) (metrics.Summary, error) {
			cfg, err := load(r.Sets)
			if err != nil {
				return metrics.Summary{}, err
			}
			dir := filepath.Join(r.Dir, experiment.TestDir)
			eo := &EvalOptions{Checkpoint: filepath.Join(r.Dir, train.BestFile), Split: "test", JSON: true, Report: dir,
				Device: cfg.Train.Device, Threads: cfg.Train.Threads}
			if err := RunEval(Streams{In: s.In, Out: io.Discard, Err: inner.Err}, innerG, eo); err != nil {
				return metrics.Summary{}, err
			}
			return readSummary(filepath.Join(dir, report.SummaryJSON))
		},
	}
	progress := newRunProgress(s.Err, g, len(plan.Runs))
	results := make([]*experiment.Result, len(plan.Runs))
	hooks.Start = progress.start
	hooks.Done = func(i int, r experiment.Run, st experiment.Status, res *experiment.Result) {
		results[i] = res
		progress.done(i, r, st, res)
		if st.State != experiment.Finished {
			// The table so far, so that a long experiment can be read while
			// it runs; a failure to write it recurs, and is reported, at the end.
			_ = experiment.Summarize(plan, results).Write(o.Out)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = experiment.Execute(ctx, plan, states, hooks)
	progress.finish()
	var ie *InterruptedError
	switch {
	case errors.As(err, &ie):
		return &InterruptedError{Msg: fmt.Sprintf("interrupted; the run's state is saved to %s: run the same command again to continue the experiment", ie.Checkpoint)}
	case errors.Is(err, experiment.ErrInterrupted):
		return &InterruptedError{Msg: fmt.Sprintf("interrupted between runs (%d of %d finished); run the same command again to continue the experiment",
			countDone(results), len(plan.Runs))}
	case err != nil:
		return err
	}
	sum := experiment.Summarize(plan, results)
	if err := sum.Write(o.Out); err != nil {
		return err
	}
	fmt.Fprint(s.Out, sum.Markdown())
	fmt.Fprintf(s.Out, "\nwrote %s, %s, %s and %s in %s\n", experiment.SummaryCSV, experiment.SummaryMD, experiment.SummaryJSON, experiment.MAEChart, o.Out)
	return nil
}

func countDone(results []*experiment.Result) int {
	n := 0
	for _, r := range results {
		if r != nil {
			n++
		}
	}
	return n
}

// readSummary reads the summary.json gaitord eval --report wrote.
func readSummary(path string) (metrics.Summary, error) {
	var sum metrics.Summary
	b, err := os.ReadFile(path)
	if err != nil {
		return sum, err
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	return sum, nil
}

// runProgress shows the experiment's progress on w: a bar over runs on a
// terminal; elsewhere (logs), a line when a run starts. Either way a line
// per run when it is done. Nothing when quiet; with --verbose no bar (the
// runs print their own epoch lines).
type runProgress struct {
	w     io.Writer
	quiet bool
	bar   *progressbar.ProgressBar
	n     int
}

func newRunProgress(w io.Writer, g *Global, n int) *runProgress {
	p := &runProgress{w: w, quiet: g.Quiet, n: n}
	if !g.Quiet && !g.Verbose && isTerminal(w) {
		p.bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("runs"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(24))
		// no throttle: it changes once or twice a run, and each change must show
	}
	return p
}

func (p *runProgress) start(i int, r experiment.Run, st experiment.Status) {
	if p.quiet || st.State == experiment.Finished {
		return
	}
	what := "training"
	switch st.State {
	case experiment.Interrupted:
		what = fmt.Sprintf("resuming at epoch %d of %d", st.Epoch+1, r.Epochs)
		if st.Batches > 0 {
			what += fmt.Sprintf(" (batch %d)", st.Batches+1)
		}
	case experiment.Trained:
		what = "evaluating"
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("run %d/%d %s: %s", i+1, p.n, r.Name(), what))
		return
	}
	fmt.Fprintf(p.w, "[%d/%d] %s: %s…\n", i+1, p.n, r.Name(), what)
}

func (p *runProgress) done(i int, r experiment.Run, st experiment.Status, res *experiment.Result) {
	if p.quiet {
		return
	}
	var parts []string
	switch st.State {
	case experiment.Finished:
		parts = append(parts, "finished earlier")
	case experiment.Trained:
		parts = append(parts, fmt.Sprintf("trained %d epoch%s earlier", res.Epochs, plural(res.Epochs)))
	default:
		parts = append(parts, fmt.Sprintf("trained %d epoch%s", res.Epochs, plural(res.Epochs)))
	}
	if res.BestValMAE != nil && !math.IsNaN(*res.BestValMAE) {
		parts = append(parts, fmt.Sprintf("best val MAE %.3f", *res.BestValMAE))
	}
	parts = append(parts, fmt.Sprintf("test MAE %.3f", res.Test.MAE))
	line := fmt.Sprintf("[%d/%d] %s: %s", i+1, p.n, r.Name(), strings.Join(parts, ", "))
	if p.bar != nil {
		_ = p.bar.Clear()
		fmt.Fprintln(p.w, line)
		p.bar.Describe("runs")
		_ = p.bar.Add(1)
		return
	}
	fmt.Fprintln(p.w, line)
}

func (p *runProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}

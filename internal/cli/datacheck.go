package cli

import (
	"fmt"
	"runtime"

	"github.com/gaitord/gaitord/internal/data"
	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newDataCmd(s, g, nil) })
}

// DataCheckOptions are the options of `gaitord data check`.
type DataCheckOptions struct {
	Config  string
	Sets    []string
	NoImage bool // skip decoding every image
}

// newDataCmd builds the command; run replaces RunDataCheck (tests pass one to see
// the options the flags produce).
func newDataCmd(s Streams, g *Global, run func(*DataCheckOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *DataCheckOptions) error { return RunDataCheck(s, g, o) }
	}
	data := &cobra.Command{Use: "data", Short: "Inspect datasets", Args: cobra.NoArgs,
		Example: "  gaitord data check --data /data/OUMVLP --format oumvlp"}
	o := &DataCheckOptions{}
	c := &cobra.Command{
		Use:   "check",
		Short: "Validate a dataset (labels, splits, every image) and print its statistics",
		Example: `  gaitord data check --data /data/OUMVLP --format oumvlp
  gaitord data check --data my_manifest.csv --format manifest`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVarP(&o.Config, "config", "c", defaultConfig, "experiment configuration naming the data")
	f.StringArrayVar(&o.Sets, "set", nil, "override a configuration key (repeatable)")
	f.String("data", "", "dataset root (or manifest CSV); sets data.root")
	f.String("format", "", "dataset format; sets data.format")
	f.BoolVar(&o.NoImage, "no-images", false, "check labels and files only, without decoding every image")
	keyFlag(c, "data", "data.root")
	keyFlag(c, "format", "data.format")
	c.RunE = func(c *cobra.Command, _ []string) error {
		o.Sets = keySets(c, o.Sets)
		return run(o)
	}
	data.AddCommand(c)
	return data
}

// DataProblemsError reports a dataset with problems (exit status 1).
type DataProblemsError struct{ N int }

func (e *DataProblemsError) Error() string { return fmt.Sprintf("dataset has %d problems", e.N) }

// RunDataCheck prints every problem and the statistics.
func RunDataCheck(s Streams, g *Global, o *DataCheckOptions) error {
	cfg, err := loadConfig(o.Config, o.Sets)
	if err != nil {
		return err
	}
	ds, err := openData(cfg, s.Err, g.Quiet)
	if err != nil {
		return err
	}
	rep := ds.Report
	if !o.NoImage {
		progress, done := progressFunc(s.Err, g.Quiet, "decoding")
		rep = dataset.Check(ds, data.Decoder(cfg), runtime.NumCPU(), progress)
		done()
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(s.Out, p)
	}
	for k, v := range rep.Skipped {
		fmt.Fprintf(s.Out, "skipped (%s): %d\n", k, v)
	}
	fmt.Fprintf(s.Out, "%s dataset at %s\n%s", ds.Format, ds.Root, ds.Stats())
	if len(rep.Problems) > 0 {
		return &DataProblemsError{N: len(rep.Problems)}
	}
	return nil
}

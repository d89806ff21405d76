// Package cli is gaitord's command line. Each subcommand has an options
// struct and a run function that works without Cobra; Cobra only wires flags.
// A command's constructor takes the run function to call (nil: the real
// one), so tests see the options that flags and environment produce without
// running anything. Domain logic lives in domain packages (data, dataset,
// gei, synth, train, …); this package presents their results. flags.go
// states the environment-variable convention.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// UsageError marks a command-line mistake (exit status 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return &UsageError{fmt.Errorf(format, a...)} }

// Streams are a command's standard streams.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Global holds the flags every command shares.
type Global struct {
	Verbose bool
	Quiet   bool
}

// NewRoot builds the gaitord command tree.
func NewRoot(s Streams) *cobra.Command {
	g := &Global{}
	root := &cobra.Command{
		Use:   "gaitord",
		Short: "Age and gender from gait: the GL-CNN with ordinal distribution regression",
		Long: `gaitord estimates a person's age and gender from a gait energy image (GEI),
with the Global-Local CNN and the ordinal distribution regression of Zhu et al.,
"Ordinal Distribution Regression for Gait-based Age Estimation" (2020), on libtorch.`,
		Example: `  gaitord synth --out data/synth
  gaitord train --config configs/default.yaml --out runs/demo
  gaitord eval --checkpoint runs/demo/best.ckpt
  gaitord predict --checkpoint runs/demo/best.ckpt data/synth/GEI/090-00/00002.png`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: envHook,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.PersistentFlags().BoolVarP(&g.Verbose, "verbose", "v", false, "print more detail (train: the data's statistics and a line per step)")
	root.PersistentFlags().BoolVarP(&g.Quiet, "quiet", "q", false, "print only results and errors (no progress bars)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &UsageError{err} })
	root.AddCommand(newVersionCmd(s, g))
	for _, add := range extraCommands {
		root.AddCommand(add(s, g))
	}
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Example = "  source <(gaitord completion bash)\n  gaitord completion zsh > \"${fpath[1]}/_gaitord\""
	}
	return root
}

// extraCommands are registered by the files that define them.
var extraCommands []func(Streams, *Global) *cobra.Command

// Main runs gaitord with args and returns the process exit status: 0 on
// success, 1 on failure, 2 on a usage error. Errors are printed as one line.
func Main(args []string, s Streams) int {
	root := NewRoot(s)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ie *InterruptedError
	if errors.As(err, &ie) {
		if !ie.Quiet {
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
		}
		return ExitInterrupted
	}
	fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
	var ue *UsageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		fmt.Fprintln(s.Err, "Run 'gaitord --help' for usage.")
		return 2
	}
	return 1
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// DefaultStreams are the process's standard streams.
func DefaultStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

package experiment

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/config"
)

// Spec is an experiment as the command line gives it.
type Spec struct {
	Out      string   // experiment folder
	Grid     []string // --grid flags, "key=v1,v2,…"
	Seeds    []int64  // --seeds; empty: the configuration's train.seed alone
	Baseline string   // --baseline "key=value[,…]"; empty: no comparison
	// Sets are the overrides every run shares (train's --set and the flags
	// that stand for keys), applied before the cell's values and train.seed.
	Sets []string
	// Load resolves the configuration of a run from its overrides (the
	// experiment's --config file, GAITORD_* variables, then sets).
	Load func(sets []string) (config.Config, error)
}

// Run is one training run of the experiment: a cell and a seed.
type Run struct {
	Cell   Cell
	Seed   int64
	Dir    string   // OUT/<cell name>/seed<N>
	Sets   []string // every override: Spec.Sets, the cell's, train.seed=N
	Config string   // the resolved configuration (config.Config.YAML), as the run's checkpoints store it
	Epochs int      // train.epochs of that configuration
}

// Name is "cell name/seed<N>", the run's folder under OUT.
func (r Run) Name() string { return filepath.Join(r.Cell.Name(), SeedFolder(r.Seed)) }

// SeedFolder is a seed's folder name in a cell's folder: "seed3".
func SeedFolder(seed int64) string { return "seed" + strconv.FormatInt(seed, 10) }

// Plan is every run of an experiment, cell by cell (in Grid.Cells order),
// seed by seed (in --seeds order) within a cell.
type Plan struct {
	Out      string
	Grid     Grid
	Cells    []Cell
	Seeds    []int64
	Baseline Baseline // nil without --baseline
	Runs     []Run
}

// NewPlan checks spec and resolves every run's configuration, so that every
// mistake is reported before any run starts: a malformed or unknown --grid
// key, a value the configuration refuses (its error names the cell), a
// grid key also given by --set or a flag, duplicate seeds, a --baseline
// that is not a cell, and two cells that resolve to the same configuration
// (loss.lambda=1,1.0). Errors in the experiment's own flags are *FlagError.
func NewPlan(s Spec) (*Plan, error) {
	g, err := ParseGrid(s.Grid)
	if err != nil {
		return nil, err
	}
	for _, set := range s.Sets {
		k, _, _ := strings.Cut(set, "=")
		k = strings.TrimSpace(k)
		if g.index(k) >= 0 {
			return nil, flagErr("--grid", "key %q is also overridden by %q (from --set or a flag): give it in one place", k, set)
		}
		if k == "train.seed" && len(s.Seeds) > 0 {
			return nil, flagErr("--seeds", "sets train.seed, which %q (from --set) also sets: give the seeds in one place", set)
		}
	}
	p := &Plan{Out: s.Out, Grid: g, Cells: g.Cells(), Seeds: slices.Clone(s.Seeds)}
	if s.Baseline != "" {
		if p.Baseline, err = ParseBaseline(s.Baseline, g); err != nil {
			return nil, err
		}
	}
	for i, seed := range p.Seeds {
		if slices.Contains(p.Seeds[:i], seed) {
			return nil, flagErr("--seeds", "seed %d given twice: each seed is one run per cell", seed)
		}
	}
	if len(p.Seeds) == 0 {
		base, err := s.Load(s.Sets)
		if err != nil {
			return nil, err
		}
		p.Seeds = []int64{base.Train.Seed}
	}
	firstOf := map[string]string{} // a cell's configuration (at the first seed) → its name
	for _, c := range p.Cells {
		for j, seed := range p.Seeds {
			r := Run{Cell: c, Seed: seed, Dir: filepath.Join(s.Out, c.Name(), SeedFolder(seed))}
			r.Sets = append(append(slices.Clone(s.Sets), c.Sets()...), "train.seed="+strconv.FormatInt(seed, 10))
			cfg, err := s.Load(r.Sets)
			if err != nil {
				return nil, fmt.Errorf("cell %s: %w", c.Name(), err)
			}
			if r.Config, err = cfg.YAML(); err != nil {
				return nil, fmt.Errorf("cell %s: %w", c.Name(), err)
			}
			r.Epochs = cfg.Train.Epochs
			if j == 0 {
				if other, dup := firstOf[r.Config]; dup {
					return nil, flagErr("--grid", "cells %s and %s give the same configuration: drop one", other, c.Name())
				}
				firstOf[r.Config] = c.Name()
			}
			p.Runs = append(p.Runs, r)
		}
	}
	return p, nil
}

// CellIndex is the index of c in p.Cells, or −1.
func (p *Plan) CellIndex(c Cell) int {
	return slices.IndexFunc(p.Cells, func(x Cell) bool { return slices.Equal(x, c) })
}

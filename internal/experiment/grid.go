package experiment

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gaitord/gaitord/internal/config"
)

// FlagError is a mistake in one of the experiment's own flags (--grid,
// --seeds, --baseline): the command line reports it as a usage error.
type FlagError struct {
	Flag string // "--grid", "--seeds" or "--baseline"
	Msg  string
}

func (e *FlagError) Error() string { return e.Flag + " " + e.Msg }

func flagErr(flag, format string, a ...any) error {
	return &FlagError{Flag: flag, Msg: fmt.Sprintf(format, a...)}
}

// Axis is one --grid key and the values it takes, in the order given.
type Axis struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
}

// Grid is the experiment's axes, in the order of the --grid flags.
type Grid []Axis

// Setting is one key's value in a cell.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Cell is one point of the grid: a value for every axis, in axis order.
type Cell []Setting

// maxName is the longest cell name accepted: a folder name (most file
// systems allow 255 bytes).
const maxName = 255

// ParseGrid reads --grid flags, each "key=v1,v2,…". A value that is itself
// a list (data.views, optim.betas) is written in brackets:
// data.views=[000,090],[090]. Keys must be configuration keys
// (config.Keys), each given once, and not train.seed (--seeds sets it);
// values must be non-empty, distinct within their key, and usable in a
// folder name (no '/', no NUL, not "." or ".."). Types and ranges are the
// configuration's to check (see NewPlan).
func ParseGrid(specs []string) (Grid, error) {
	if len(specs) == 0 {
		return nil, flagErr("--grid", "missing: give at least one key=v1,v2,… (several --grid flags make a product)")
	}
	known := config.Keys()
	var g Grid
	for _, spec := range specs {
		key, vals, ok := strings.Cut(spec, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, flagErr("--grid", "%q: want key=v1,v2,…", spec)
		}
		if !slices.Contains(known, key) {
			return nil, flagErr("--grid", "%q: unknown key %q (known: %s)", spec, key, strings.Join(known, ", "))
		}
		if key == "train.seed" {
			return nil, flagErr("--grid", "%q: the seeds are --seeds's (e.g. --seeds 1,2,3), not a grid key", spec)
		}
		if g.index(key) >= 0 {
			return nil, flagErr("--grid", "%q: key %q is already a grid axis; give its values in one --grid", spec, key)
		}
		values, err := splitValues(vals)
		if err != nil {
			return nil, flagErr("--grid", "%q: %v", spec, err)
		}
		for i, v := range values {
			if v == "" {
				return nil, flagErr("--grid", "%q: empty value", spec)
			}
			if strings.ContainsAny(v, "/\x00") || v == "." || v == ".." {
				return nil, flagErr("--grid", "%q: value %q cannot be part of a run folder's name (no '/', NUL, '.' or '..')", spec, v)
			}
			if slices.Contains(values[:i], v) {
				return nil, flagErr("--grid", "%q: value %q given twice", spec, v)
			}
		}
		g = append(g, Axis{Key: key, Values: values})
	}
	for _, c := range g.Cells() {
		if n := len(c.Name()); n > maxName {
			return nil, flagErr("--grid", "cell %q: its folder name is %d bytes, more than %d", c.Name(), n, maxName)
		}
	}
	return g, nil
}

// splitValues splits "a,b,[c,d]" at the commas outside brackets.
func splitValues(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '[':
			depth++
		case ']':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("unbalanced ']'")
			}
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '['")
	}
	return append(out, strings.TrimSpace(s[start:])), nil
}

func (g Grid) index(key string) int {
	for i, a := range g {
		if a.Key == key {
			return i
		}
	}
	return -1
}

// Keys are the grid's keys in axis order.
func (g Grid) Keys() []string {
	keys := make([]string, len(g))
	for i, a := range g {
		keys[i] = a.Key
	}
	return keys
}

// Cells is the grid's product, the last axis varying fastest:
// a=1,2 × b=x,y gives a=1,b=x; a=1,b=y; a=2,b=x; a=2,b=y.
func (g Grid) Cells() []Cell {
	cells := []Cell{{}}
	for _, a := range g {
		var next []Cell
		for _, c := range cells {
			for _, v := range a.Values {
				next = append(next, append(slices.Clone(c), Setting{a.Key, v}))
			}
		}
		cells = next
	}
	return cells
}

// Name is the cell's folder name, "key=value,key=value" in axis order.
func (c Cell) Name() string {
	parts := make([]string, len(c))
	for i, s := range c {
		parts[i] = s.Key + "=" + s.Value
	}
	return strings.Join(parts, ",")
}

// Sets are the cell's configuration overrides, "key=value" each.
func (c Cell) Sets() []string {
	sets := make([]string, len(c))
	for i, s := range c {
		sets[i] = s.Key + "=" + s.Value
	}
	return sets
}

// Value is the cell's value of key ("" when key is not an axis).
func (c Cell) Value(key string) string {
	for _, s := range c {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// Baseline fixes some grid keys to one of their values: a cell's reference
// is the cell that agrees with it on every other key and has the
// baseline's values on these. Naming every key makes one reference cell for
// all; naming some (--grid loss.lambda=0,1 --grid optim.lr=1e-3,1e-4
// --baseline loss.lambda=0) compares each cell with λ = 0 at the same lr.
type Baseline []Setting

// ParseBaseline reads --baseline "key=value[,key=value…]" (values in
// brackets as in ParseGrid) against the grid: each key must be an axis,
// named once, and each value one of its values.
func ParseBaseline(spec string, g Grid) (Baseline, error) {
	parts, err := splitValues(spec)
	if err != nil {
		return nil, flagErr("--baseline", "%q: %v", spec, err)
	}
	var b Baseline
	for _, p := range parts {
		key, val, ok := strings.Cut(p, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return nil, flagErr("--baseline", "%q: want key=value[,key=value…], a cell of the grid", spec)
		}
		i := g.index(key)
		if i < 0 {
			return nil, flagErr("--baseline", "%q: %q is not a --grid key (the grid's keys: %s)", spec, key, strings.Join(g.Keys(), ", "))
		}
		if !slices.Contains(g[i].Values, val) {
			return nil, flagErr("--baseline", "%q: not a cell of the grid: %s takes %s", spec, key, strings.Join(g[i].Values, ", "))
		}
		for _, s := range b {
			if s.Key == key {
				return nil, flagErr("--baseline", "%q: key %q named twice", spec, key)
			}
		}
		b = append(b, Setting{key, val})
	}
	return b, nil
}

// String is the baseline as given to --baseline, in its order.
func (b Baseline) String() string { return Cell(b).Name() }

// Reference is c with the baseline's values.
func (b Baseline) Reference(c Cell) Cell {
	r := slices.Clone(c)
	for i := range r {
		for _, s := range b {
			if r[i].Key == s.Key {
				r[i].Value = s.Value
			}
		}
	}
	return r
}

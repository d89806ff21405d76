package experiment

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/configs"
	"github.com/gaitord/gaitord/internal/config"
)

func names(cells []Cell) []string {
	var out []string
	for _, c := range cells {
		out = append(out, c.Name())
	}
	return out
}

func TestGridProduct(t *testing.T) {
	g, err := ParseGrid([]string{"loss.lambda=0,1", "optim.lr= 1e-3 , 1e-4", "data.views=[000,090],[090]"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Keys(), []string{"loss.lambda", "optim.lr", "data.views"}) {
		t.Fatalf("keys %q", g.Keys())
	}
	want := []string{
		"loss.lambda=0,optim.lr=1e-3,data.views=[000,090]",
		"loss.lambda=0,optim.lr=1e-3,data.views=[090]",
		"loss.lambda=0,optim.lr=1e-4,data.views=[000,090]",
		"loss.lambda=0,optim.lr=1e-4,data.views=[090]",
		"loss.lambda=1,optim.lr=1e-3,data.views=[000,090]",
		"loss.lambda=1,optim.lr=1e-3,data.views=[090]",
		"loss.lambda=1,optim.lr=1e-4,data.views=[000,090]",
		"loss.lambda=1,optim.lr=1e-4,data.views=[090]",
	}
	cells := g.Cells()
	if got := names(cells); !slices.Equal(got, want) {
		t.Fatalf("cells\n%q\nwant\n%q", got, want)
	}
	if s := cells[6].Sets(); !slices.Equal(s, []string{"loss.lambda=1", "optim.lr=1e-4", "data.views=[000,090]"}) {
		t.Fatalf("sets %q", s)
	}
	if v := cells[6].Value("optim.lr"); v != "1e-4" {
		t.Fatalf("Value = %q", v)
	}
}

func TestGridErrors(t *testing.T) {
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{nil, "--grid missing"},
		{[]string{"loss.lambda"}, `"loss.lambda": want key=v1,v2`},
		{[]string{"=1,2"}, "want key=v1,v2"},
		{[]string{"loss.lamda=0,1"}, `unknown key "loss.lamda" (known: `},
		{[]string{"train.seed=1,2"}, "--seeds"},
		{[]string{"loss.lambda=0,1", "loss.lambda=2"}, `key "loss.lambda" is already a grid axis`},
		{[]string{"loss.lambda=0,,1"}, "empty value"},
		{[]string{"loss.lambda=0,0"}, `value "0" given twice`},
		{[]string{"data.root=a/b,c"}, `value "a/b" cannot be part of a run folder's name`},
		{[]string{"data.root=..,c"}, `value ".."`},
		{[]string{"data.views=[000,090"}, "unbalanced '['"},
		{[]string{"data.views=000],090"}, "unbalanced ']'"},
		{[]string{"data.root=" + strings.Repeat("x", 250)}, "more than 255"},
	} {
		_, err := ParseGrid(c.specs)
		var fe *FlagError
		if !errors.As(err, &fe) || fe.Flag != "--grid" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseGrid(%q) = %v; want a --grid error containing %q", c.specs, err, c.want)
		}
	}
}

func TestBaseline(t *testing.T) {
	g, err := ParseGrid([]string{"loss.lambda=0,1", "optim.lr=1e-3,1e-4"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBaseline("loss.lambda=0", g)
	if err != nil {
		t.Fatal(err)
	}
	// a partial baseline: each cell's reference has λ = 0 and the same lr
	for _, c := range g.Cells() {
		ref := b.Reference(c)
		if ref.Value("loss.lambda") != "0" || ref.Value("optim.lr") != c.Value("optim.lr") {
			t.Errorf("reference of %s is %s", c.Name(), ref.Name())
		}
	}
	full, err := ParseBaseline("optim.lr=1e-4,loss.lambda=1", g)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cells() {
		if ref := full.Reference(c).Name(); ref != "loss.lambda=1,optim.lr=1e-4" {
			t.Errorf("reference of %s is %s", c.Name(), ref)
		}
	}
	if full.String() != "optim.lr=1e-4,loss.lambda=1" {
		t.Errorf("String() = %q", full.String())
	}
	for spec, want := range map[string]string{
		"loss.lambda=2":               "not a cell of the grid: loss.lambda takes 0, 1",
		"loss.mu=1":                   `"loss.mu" is not a --grid key (the grid's keys: loss.lambda, optim.lr)`,
		"loss.lambda":                 "want key=value",
		"loss.lambda=0,loss.lambda=1": `key "loss.lambda" named twice`,
	} {
		_, err := ParseBaseline(spec, g)
		var fe *FlagError
		if !errors.As(err, &fe) || fe.Flag != "--baseline" || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBaseline(%q) = %v; want %q", spec, err, want)
		}
	}
}

func loadDefault(sets []string) (config.Config, error) {
	return config.LoadBytes(config.DefaultName, configs.Default, sets)
}

func TestNewPlan(t *testing.T) {
	out := t.TempDir()
	p, err := NewPlan(Spec{Out: out, Grid: []string{"loss.lambda=0,1"}, Seeds: []int64{3, 1}, Baseline: "loss.lambda=0",
		Sets: []string{"train.epochs=2", "data.flip=false"}, Load: loadDefault})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Runs) != 4 || len(p.Cells) != 2 || !slices.Equal(p.Seeds, []int64{3, 1}) {
		t.Fatalf("plan: %d runs, %d cells, seeds %v", len(p.Runs), len(p.Cells), p.Seeds)
	}
	wantDirs := []string{"loss.lambda=0/seed3", "loss.lambda=0/seed1", "loss.lambda=1/seed3", "loss.lambda=1/seed1"}
	for i, r := range p.Runs {
		if r.Dir != filepath.Join(out, wantDirs[i]) || r.Name() != wantDirs[i] {
			t.Errorf("run %d: dir %s, name %s; want %s", i, r.Dir, r.Name(), wantDirs[i])
		}
		if r.Epochs != 2 {
			t.Errorf("run %d: epochs %d", i, r.Epochs)
		}
		// the run's configuration is what train would resolve from its sets
		cfg, err := loadDefault(r.Sets)
		if err != nil {
			t.Fatal(err)
		}
		yaml, _ := cfg.YAML()
		if yaml != r.Config || cfg.Train.Seed != r.Seed || cfg.Data.Flip || cfg.Loss.Lambda != float64(i/2) {
			t.Errorf("run %d (%s): sets %q give seed %d, flip %v, λ %v", i, r.Name(), r.Sets, cfg.Train.Seed, cfg.Data.Flip, cfg.Loss.Lambda)
		}
	}
	if p.Baseline.String() != "loss.lambda=0" || p.CellIndex(p.Baseline.Reference(p.Cells[1])) != 0 {
		t.Fatalf("baseline %v", p.Baseline)
	}

	// without --seeds: the configuration's train.seed
	p, err = NewPlan(Spec{Out: out, Grid: []string{"loss.lambda=0,1"}, Sets: []string{"train.seed=7"}, Load: loadDefault})
	if err != nil || !slices.Equal(p.Seeds, []int64{7}) || p.Runs[1].Dir != filepath.Join(out, "loss.lambda=1", "seed7") {
		t.Fatalf("default seed: %v, %+v", err, p)
	}
}

func TestNewPlanErrors(t *testing.T) {
	spec := func(grid []string, seeds []int64, baseline string, sets ...string) Spec {
		return Spec{Out: t.TempDir(), Grid: grid, Seeds: seeds, Baseline: baseline, Sets: sets, Load: loadDefault}
	}
	for _, c := range []struct {
		name string
		spec Spec
		flag string // "" for a configuration error
		want string
	}{
		{"refused value", spec([]string{"loss.lambda=0,-1"}, []int64{1}, ""), "",
			`cell loss.lambda=-1: config default.yaml (built in): key "loss.lambda" (from --set loss.lambda=-1)`},
		{"wrong type", spec([]string{"train.epochs=2,two"}, []int64{1}, ""), "", `cell train.epochs=two: config`},
		{"duplicate seeds", spec([]string{"loss.lambda=0,1"}, []int64{1, 2, 1}, ""), "--seeds", "seed 1 given twice"},
		{"baseline not a cell", spec([]string{"loss.lambda=0,1"}, []int64{1}, "loss.lambda=0.5"), "--baseline", "not a cell of the grid"},
		{"grid key also set", spec([]string{"loss.lambda=0,1"}, []int64{1}, "", "loss.lambda=2"), "--grid", `also overridden by "loss.lambda=2"`},
		{"seed set twice", spec([]string{"loss.lambda=0,1"}, []int64{1}, "", "train.seed=4"), "--seeds", `"train.seed=4"`},
		{"same configuration", spec([]string{"loss.lambda=1,1.0"}, []int64{1}, ""), "--grid", "cells loss.lambda=1 and loss.lambda=1.0 give the same configuration"},
		{"refused base", spec([]string{"loss.lambda=0,1"}, nil, "", "train.epochs=0"), "", `key "train.epochs"`},
	} {
		_, err := NewPlan(c.spec)
		var fe *FlagError
		isFlag := errors.As(err, &fe)
		if err == nil || !strings.Contains(err.Error(), c.want) || isFlag != (c.flag != "") || isFlag && fe.Flag != c.flag {
			t.Errorf("%s: %v; want %q (flag %q)", c.name, err, c.want, c.flag)
		}
	}
}

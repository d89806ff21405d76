// Package optim is gaitord's optimiser: Adam as torch.optim.Adam computes
// it (amsgrad off, L2 weight decay added to the gradient), holding the
// parameters it updates, its hyper-parameters, its step count and both
// moment estimates, for every parameter p with gradient g at step t:
//
//	g ← g + weight_decay·p
//	m ← β1·m + (1 − β1)·g
//	v ← β2·v + (1 − β2)·g²
//	p ← p − lr·(m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + eps)
//
// The update itself is torchx.AdamStep (one fused pass per CPU tensor in
// native/torchx). This package keeps everything around it in one place:
// the moments live on each parameter's device, Save and Load map them to a
// checkpoint's "optim.exp_avg.<name>" and "optim.exp_avg_sq.<name>" tensors
// and its step count, and Broadcast gives every rank of a data-parallel job
// the same state.
package optim

import (
	"fmt"
	"slices"

	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Config are Adam's hyper-parameters (the configuration's optim section).
type Config struct {
	LR           float64 // base learning rate; a schedule scales it and passes the result to Step
	Beta1, Beta2 float64 // moment decay rates, each in [0, 1)
	Eps          float64 // added to √v, > 0
	WeightDecay  float64 // L2 coefficient added to the gradient, ≥ 0
}

// Adam is the optimiser over a fixed list of named parameters.
type Adam struct {
	cfg      Config
	names    []string
	params   []torchx.Tensor
	expAvg   []torchx.Tensor // first moments, one per parameter, on its device
	expAvgSq []torchx.Tensor // second moments
	step     int64           // steps taken
}

// NewAdam makes an optimiser for params, named by names (parallel slices,
// the names unique), with zero moments on each parameter's device and no
// step taken.
func NewAdam(names []string, params []torchx.Tensor, c Config) (*Adam, error) {
	if len(names) != len(params) {
		return nil, fmt.Errorf("adam: %d names for %d parameters", len(names), len(params))
	}
	if len(params) == 0 {
		return nil, fmt.Errorf("adam: no parameters")
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("adam: parameter name %q appears twice", n)
		}
		seen[n] = true
	}
	a := &Adam{cfg: c, names: slices.Clone(names), params: slices.Clone(params)}
	err := torchx.Catch(func() {
		for _, p := range params {
			a.expAvg = append(a.expAvg, zerosLike(p))
			a.expAvgSq = append(a.expAvgSq, zerosLike(p))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("adam: allocating the moments: %w", err)
	}
	return a, nil
}

func zerosLike(p torchx.Tensor) torchx.Tensor {
	z := torchx.Zeros(p.Shape()...)
	if d := torchx.Device(p); d != "cpu" {
		z = torchx.To(z, d)
	}
	return z
}

// Config returns the hyper-parameters.
func (a *Adam) Config() Config { return a.cfg }

// Steps is the number of steps taken (PyTorch's state["step"]).
func (a *Adam) Steps() int64 { return a.step }

// Params returns the parameters it updates, in the order it was given them.
func (a *Adam) Params() []torchx.Tensor { return slices.Clone(a.params) }

// Step applies one update with learning rate lr to every parameter that has
// a gradient, and counts it. On an error (from libtorch) the count stays.
func (a *Adam) Step(lr float64) error {
	c := a.cfg
	err := torchx.Catch(func() {
		torchx.AdamStep(a.params, a.expAvg, a.expAvgSq, a.step+1, lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay)
	})
	if err != nil {
		return fmt.Errorf("adam step %d: %w", a.step+1, err)
	}
	a.step++
	return nil
}

// Save records the optimiser's state in s: host copies of both moments,
// keyed by parameter name, and the step count (a checkpoint's
// "gaitord.step").
func (a *Adam) Save(s *checkpoint.State) {
	s.ExpAvg, s.ExpAvgSq = hostCopy(a.names, a.expAvg), hostCopy(a.names, a.expAvgSq)
	s.Step = a.step
}

func hostCopy(names []string, ts []torchx.Tensor) map[string]model.Weight {
	out := make(map[string]model.Weight, len(ts))
	for i, t := range ts {
		out[names[i]] = model.Weight{Shape: t.Shape(), Data: torchx.Float32s(t)}
	}
	return out
}

// Load restores the state Save recorded: both moments of every parameter
// (each must be there, with the parameter's shape) and the step count.
// Nothing changes unless all are present.
func (a *Adam) Load(s *checkpoint.State) error {
	for i, name := range a.names {
		for _, m := range []struct {
			what string
			w    map[string]model.Weight
		}{{"exp_avg", s.ExpAvg}, {"exp_avg_sq", s.ExpAvgSq}} {
			w, ok := m.w[name]
			shape := a.params[i].Shape()
			switch {
			case !ok:
				return fmt.Errorf("optimiser state lacks %s of %s", m.what, name)
			case !slices.Equal(w.Shape, shape) || len(w.Data) != numel(shape):
				return fmt.Errorf("optimiser %s of %s has shape %v (%d values), the parameter %v", m.what, name, w.Shape, len(w.Data), shape)
			}
		}
	}
	if s.Step < 0 {
		return fmt.Errorf("optimiser step count %d is negative", s.Step)
	}
	err := torchx.Catch(func() {
		for i, name := range a.names {
			copyIn(a.expAvg[i], s.ExpAvg[name])
			copyIn(a.expAvgSq[i], s.ExpAvgSq[name])
		}
	})
	if err != nil {
		return fmt.Errorf("restoring the optimiser state: %w", err)
	}
	a.step = s.Step
	return nil
}

func numel(shape []int64) int {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return n
}

// copyIn copies host values into dst, on dst's device.
func copyIn(dst torchx.Tensor, w model.Weight) {
	src := torchx.FromFloat32(w.Data, w.Shape...)
	if d := torchx.Device(dst); d != "cpu" {
		src = torchx.To(src, d)
	}
	torchx.Copy_(dst, src)
}

// Broadcast gives every rank of g rank root's parameters, moments (in one
// collective) and step count, so that all ranks continue from root's state
// whatever each initialised. The parameters travel with the moments because
// an optimiser's state means nothing without the values it updates. Every
// rank must call it.
func (a *Adam) Broadcast(g dist.Comm, root int) error {
	all := slices.Concat(a.params, a.expAvg, a.expAvgSq)
	if err := g.Broadcast(all, root); err != nil {
		return err
	}
	step := a.step
	if err := g.BroadcastJSON(&step, root); err != nil {
		return err
	}
	a.step = step
	return nil
}

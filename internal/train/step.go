package train

import (
	"context"
	"fmt"
	"math"

	"github.com/gaitord/gaitord/internal/dataset"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/optim"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Stepper takes training steps: the one definition of a step, which Run and
// bench/gobench both call.
type Stepper struct {
	Model *model.GLCNN
	Optim *optim.Adam // updates Model's parameters
	Group dist.Comm   // averages the gradients; dist.NewLocal() for one process
	Loss  odl.Weights // the objective of the model's loss type (Model.Config().Loss)
	// BucketBytes caps one gradient all-reduce (0: dist.DefaultBucketBytes).
	BucketBytes int64
	// Input, if set, makes the model's input tensor (n×1×H×W on the model's
	// device) from a batch's images; nil copies them there as they are. A
	// benchmark lever (gobench -channels-last), not product behaviour.
	Input func(images []float32, shape ...int64) torchx.Tensor
}

// Votes are what the ranks agreed on in a step's all-reduce: how many were
// interrupted (Ctrl-C) and how many saw a non-finite loss. Alone, each is
// this process's own 0 or 1.
type Votes struct{ Interrupt, NonFinite int }

// Step trains on one batch, in the model's current mode: forward, the
// objective, backward, the gradient all-reduce through Group and Adam with
// learning rate lr. The all-reduce also carries each rank's votes: to stop
// (ctx cancelled, read after backward) and to skip (a non-finite loss, whose
// gradients are zeroed first). If any rank saw a non-finite loss no rank
// updates its weights, so all ranks take — or skip — the same steps; a vote
// to stop still takes this step, and the caller stops after it. Every tensor
// Step creates is dead when it returns (l.Total is cleared), so the caller
// may call GC next.
func (s *Stepper) Step(ctx context.Context, b dataset.Batch, lr float64) (l odl.Losses, v Votes, err error) {
	c := s.Model.Config()
	n := len(b.Ages)
	if n == 0 || len(b.Images) != n*c.InputH*c.InputW || len(b.Genders) != n {
		return l, v, fmt.Errorf("train step: a batch of %d ages, %d genders and %d image values; want n ≥ 1, n and n·%d·%d",
			n, len(b.Genders), len(b.Images), c.InputH, c.InputW)
	}
	params := s.Optim.Params()
	// The loss tensor must not outlive the step, on any path: the caller's
	// GC waits for every tensor of the step to be freed.
	defer func() { l.Total = model.Tensor{} }()
	cerr := torchx.Catch(func() {
		shape := []int64{int64(n), 1, int64(c.InputH), int64(c.InputW)}
		var x torchx.Tensor
		if s.Input != nil {
			x = s.Input(b.Images, shape...)
		} else {
			x = torchx.FromFloat32On(b.Images, s.Model.Device(), shape...)
		}
		age, gender := s.Model.Forward(x)
		l, err = odl.ObjectiveDeferred(age, gender, b.Ages, b.Genders, c, s.Loss)
		if err != nil {
			return
		}
		// Backward first, then read the loss values: on a GPU the host then
		// waits once, after the whole step has been queued.
		torchx.ZeroGrad(params)
		torchx.Backward(l.Total)
		if err = l.Read(); err != nil {
			return
		}
		flags := []float64{0, 0}
		if ctx.Err() != nil {
			flags[0] = 1
		}
		if !finite(l.TotalValue) {
			flags[1] = 1
			torchx.ZeroGrad(params) // non-finite gradients must not reach the other ranks
		}
		if err = s.Group.AverageGrads(params, s.BucketBytes, flags); err != nil {
			return
		}
		v = Votes{Interrupt: int(flags[0]), NonFinite: int(flags[1])}
		if v.NonFinite > 0 {
			return
		}
		err = s.Optim.Step(lr)
	})
	if cerr != nil {
		return l, v, cerr
	}
	return l, v, err
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

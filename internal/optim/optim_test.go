package optim

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/torchx"
)

// problem is a small least-squares problem: parameters a (3) and b (2×5)
// pulled towards targets by the loss mean((a−ca)²) + mean((b−cb)²), and a
// parameter that never gets a gradient.
type problem struct {
	names   []string
	shapes  [][]int64
	init    [][]float32 // a, b, frozen
	targets [][]float32 // ca, cb
}

func newProblem() problem {
	vals := func(n, salt int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i*7+salt)) * (1 + float64(i%13)))
		}
		return x
	}
	return problem{
		names:   []string{"a", "b", "frozen"},
		shapes:  [][]int64{{3}, {2, 5}, {4}},
		init:    [][]float32{vals(3, 1), vals(10, 3), vals(4, 5)},
		targets: [][]float32{vals(3, 2), vals(10, 4)},
	}
}

// The hyper-parameters and per-step learning rates (a schedule) of the tests.
var (
	testConfig = Config{LR: 1, Beta1: 0.85, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.01}
	testLRs    = []float64{1e-2, 5e-3, 2e-2, 1e-3}
)

// run takes len(lrs) steps of Adam on p and returns the optimiser.
func (p problem) run(t *testing.T, lrs []float64) (*Adam, []torchx.Tensor) {
	t.Helper()
	var params, targets []torchx.Tensor
	for i, v := range p.init {
		x := torchx.FromFloat32(v, p.shapes[i]...)
		torchx.SetRequiresGrad(x, true)
		params = append(params, x)
	}
	for i, v := range p.targets {
		targets = append(targets, torchx.FromFloat32(v, p.shapes[i]...))
	}
	a, err := NewAdam(p.names, params, testConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, lr := range lrs {
		err := torchx.Catch(func() {
			torchx.ZeroGrad(params)
			for i, c := range targets {
				torchx.Backward(torchx.Mean(torchx.Square(torchx.Sub(params[i], c))))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Step(lr); err != nil {
			t.Fatal(err)
		}
	}
	return a, params
}

// state is p, exp_avg and exp_avg_sq of every parameter, by name.
type state map[string][3][]float64

func stateOf(a *Adam, params []torchx.Tensor) state {
	var s checkpoint.State
	a.Save(&s)
	out := state{}
	for i, name := range a.names {
		out[name] = [3][]float64{f64(torchx.Float32s(params[i])), f64(s.ExpAvg[name].Data), f64(s.ExpAvgSq[name].Data)}
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// compare fails unless got matches want within tol relative to each value
// plus the tensor's largest value (values near 0 carry the rounding of
// their larger operands), and returns the largest such difference.
func compare(t *testing.T, what string, got, want state, tol float64) float64 {
	t.Helper()
	worst := 0.0
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("%s: no parameter %s", what, name)
		}
		for k, kind := range []string{"param", "exp_avg", "exp_avg_sq"} {
			top := 0.0
			for _, x := range w[k] {
				top = math.Max(top, math.Abs(x))
			}
			if len(g[k]) != len(w[k]) {
				t.Fatalf("%s: %s %s has %d values, want %d", what, name, kind, len(g[k]), len(w[k]))
			}
			for j := range w[k] {
				d := math.Abs(g[k][j]-w[k][j]) / (math.Abs(w[k][j]) + top + 1e-30)
				worst = math.Max(worst, d)
				if d > tol {
					t.Fatalf("%s: %s %s[%d] = %v, want %v", what, name, kind, j, g[k][j], w[k][j])
				}
			}
		}
	}
	return worst
}

// reference is Adam in float64, written from the formula in the package
// documentation, on the float32 starting values.
func (p problem) reference(lrs []float64) state {
	c := testConfig
	out := state{}
	for i, name := range p.names {
		x := f64(p.init[i])
		m, v := make([]float64, len(x)), make([]float64, len(x))
		if i < len(p.targets) { // the frozen parameter never has a gradient
			tgt := f64(p.targets[i])
			for s, lr := range lrs {
				step := float64(s + 1)
				for j := range x {
					g := 2*(x[j]-tgt[j])/float64(len(x)) + c.WeightDecay*x[j]
					m[j] = c.Beta1*m[j] + (1-c.Beta1)*g
					v[j] = c.Beta2*v[j] + (1-c.Beta2)*g*g
					mh := m[j] / (1 - math.Pow(c.Beta1, step))
					vh := v[j] / (1 - math.Pow(c.Beta2, step))
					x[j] -= lr * mh / (math.Sqrt(vh) + c.Eps)
				}
			}
		}
		out[name] = [3][]float64{x, m, v}
	}
	return out
}

func TestStepMatchesFloat64Formula(t *testing.T) {
	p := newProblem()
	a, params := p.run(t, testLRs)
	if a.Steps() != int64(len(testLRs)) {
		t.Fatalf("steps %d, want %d", a.Steps(), len(testLRs))
	}
	got := stateOf(a, params)
	if !slices.Equal(got["frozen"][0], f64(p.init[2])) {
		t.Fatalf("a parameter without a gradient moved: %v → %v", p.init[2], got["frozen"][0])
	}
	worst := compare(t, "float64 reference", got, p.reference(testLRs), 1e-5)
	t.Logf("max relative difference to the float64 formula: %.2g", worst)
	// Control: the same steps at constant lr end elsewhere, so the check
	// above sees the per-step learning rate.
	if compareQuiet(got, p.reference([]float64{1e-2, 1e-2, 1e-2, 1e-2})) < 1e-3 {
		t.Fatal("the float64 reference does not depend on the learning-rate schedule: the test cannot fail")
	}
}

// compareQuiet is compare's measure without failing.
func compareQuiet(got, want state) float64 {
	worst := 0.0
	for name, w := range want {
		for k := range w {
			top := 0.0
			for _, x := range w[k] {
				top = math.Max(top, math.Abs(x))
			}
			for j := range w[k] {
				worst = math.Max(worst, math.Abs(got[name][k][j]-w[k][j])/(math.Abs(w[k][j])+top+1e-30))
			}
		}
	}
	return worst
}

// The same steps in torch.optim.Adam (Debian's python3-torch), with the
// learning rate changed between steps as a schedule does.
func TestStepMatchesTorchOptimAdam(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("needs Debian's python3-torch under %s: %v", python, err)
	}
	p := newProblem()
	in, _ := json.Marshal(map[string]any{"init": p.init, "targets": p.targets, "lrs": testLRs})
	c := testConfig
	script := fmt.Sprintf(`
import json, sys, torch
torch.set_num_threads(1)
d = json.load(sys.stdin)
shapes = [(3,), (2, 5), (4,)]
ps = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_() for v, s in zip(d["init"], shapes)]
cs = [torch.tensor(v, dtype=torch.float32).reshape(s) for v, s in zip(d["targets"], shapes)]
opt = torch.optim.Adam(ps, lr=1, betas=(%v, %v), eps=%v, weight_decay=%v)
for lr in d["lrs"]:
    for g in opt.param_groups:
        g["lr"] = lr
    opt.zero_grad(set_to_none=True)
    sum(((p - c) ** 2).mean() for p, c in zip(ps, cs)).backward()
    opt.step()
out = {}
for name, p in zip(["a", "b", "frozen"], ps):
    st = opt.state[p]
    z = [0.0] * p.numel()
    out[name] = [p.detach().flatten().tolist(), st["exp_avg"].flatten().tolist() if st else z, st["exp_avg_sq"].flatten().tolist() if st else z]
out["step"] = int(opt.state[ps[0]]["step"])
json.dump(out, sys.stdout)
`, c.Beta1, c.Beta2, c.Eps, c.WeightDecay)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := state{}
	var step int64
	for k, v := range raw {
		if k == "step" {
			if err := json.Unmarshal(v, &step); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var s [3][]float64
		if err := json.Unmarshal(v, &s); err != nil {
			t.Fatal(err)
		}
		want[k] = s
	}
	a, params := p.run(t, testLRs)
	if a.Steps() != step {
		t.Fatalf("steps %d, torch.optim.Adam's state[\"step\"] %d", a.Steps(), step)
	}
	worst := compare(t, "torch.optim.Adam", stateOf(a, params), want, 1e-6)
	t.Logf("max relative difference to torch.optim.Adam: %.2g", worst)
}

// A GL-CNN trained a few steps, saved to a checkpoint file and restored into
// a fresh model and optimiser, takes the next step exactly as the original.
func TestSaveLoadRoundTripThroughCheckpoint(t *testing.T) {
	cfg := model.DefaultConfig()
	cfg.K, cfg.Dropout = 4, 0
	n := 2
	images := make([]float32, n*cfg.InputH*cfg.InputW)
	for i := range images {
		images[i] = float32(i%97) / 97
	}
	ages, genders := []int{1, 3}, []api.Gender{api.Female, api.Male}
	step := func(m *model.GLCNN, a *Adam) {
		t.Helper()
		err := torchx.Catch(func() {
			age, gender := m.Forward(torchx.FromFloat32(images, int64(n), 1, int64(cfg.InputH), int64(cfg.InputW)))
			l, err := odl.Objective(age, gender, ages, genders, cfg, odl.Weights{Lambda: 1, Mu: 1})
			if err != nil {
				t.Fatal(err)
			}
			torchx.ZeroGrad(m.Params())
			torchx.Backward(l.Total)
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Step(1e-3); err != nil {
			t.Fatal(err)
		}
	}
	newPair := func(seed uint64) (*model.GLCNN, *Adam) {
		m, err := model.New(cfg, seed, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		a, err := NewAdam(m.Names(), m.Params(), testConfig)
		if err != nil {
			t.Fatal(err)
		}
		return m, a
	}
	m1, a1 := newPair(1)
	for range 3 {
		step(m1, a1)
	}
	st := &checkpoint.State{Model: cfg, Weights: m1.Weights(), Epoch: 1, WorldSize: 1, Seed: 1}
	a1.Save(st)
	path := filepath.Join(t.TempDir(), "last.ckpt")
	if err := checkpoint.Save(path, st); err != nil {
		t.Fatal(err)
	}
	ld, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if ld.Step != 3 {
		t.Fatalf("checkpoint step %d, want 3", ld.Step)
	}
	m2, a2 := newPair(2)
	if err := m2.SetWeights(ld.Weights); err != nil {
		t.Fatal(err)
	}
	if err := a2.Load(ld); err != nil {
		t.Fatal(err)
	}
	if a2.Steps() != 3 {
		t.Fatalf("restored optimiser: %d steps, want 3", a2.Steps())
	}
	// Control: the same weights with a fresh optimiser (no moments, step 1).
	m3, a3 := newPair(3)
	if err := m3.SetWeights(ld.Weights); err != nil {
		t.Fatal(err)
	}
	step(m1, a1)
	step(m2, a2)
	step(m3, a3)
	w1, w2, w3 := m1.Weights(), m2.Weights(), m3.Weights()
	fresh := 0.0
	for name, w := range w1 {
		for i, v := range w.Data {
			if w2[name].Data[i] != v {
				t.Fatalf("after the restored step %s[%d] = %v, the original %v", name, i, w2[name].Data[i], v)
			}
			fresh = math.Max(fresh, math.Abs(float64(w3[name].Data[i]-v)))
		}
	}
	if fresh < 1e-5 {
		t.Fatalf("a fresh optimiser's step differs by only %g: the check cannot tell restored state from none", fresh)
	}
	t.Logf("restored step identical; a fresh optimiser's step differs by up to %.3g", fresh)
}

func TestLoadRefusesIncompleteState(t *testing.T) {
	p := newProblem()
	a, params := p.run(t, testLRs[:2])
	before := stateOf(a, params)
	var good checkpoint.State
	a.Save(&good)
	for _, c := range []struct {
		name string
		edit func(s *checkpoint.State)
		want string
	}{
		{"an export (no optimiser state)", func(s *checkpoint.State) { s.ExpAvg, s.ExpAvgSq = nil, nil }, "optimiser state lacks exp_avg of a"},
		{"a missing second moment", func(s *checkpoint.State) { delete(s.ExpAvgSq, "b") }, "optimiser state lacks exp_avg_sq of b"},
		{"a misshapen moment", func(s *checkpoint.State) {
			s.ExpAvg["b"] = model.Weight{Shape: []int64{10}, Data: make([]float32, 10)}
		}, "optimiser exp_avg of b has shape [10] (10 values), the parameter [2 5]"},
		{"a negative step count", func(s *checkpoint.State) { s.Step = -1 }, "step count -1"},
	} {
		s := checkpoint.State{Step: 7, ExpAvg: clone(good.ExpAvg), ExpAvgSq: clone(good.ExpAvgSq)}
		c.edit(&s)
		err := a.Load(&s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
		}
		if a.Steps() != 2 || compareQuiet(stateOf(a, params), before) != 0 {
			t.Fatalf("%s: a refused state changed the optimiser", c.name)
		}
	}
}

func clone(m map[string]model.Weight) map[string]model.Weight {
	out := map[string]model.Weight{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestNewAdamRefusesBadParameterLists(t *testing.T) {
	x := torchx.Zeros(2)
	for _, c := range []struct {
		names  []string
		params []torchx.Tensor
		want   string
	}{
		{[]string{"a"}, []torchx.Tensor{x, x}, "1 names for 2 parameters"},
		{nil, nil, "no parameters"},
		{[]string{"a", "a"}, []torchx.Tensor{x, torchx.Zeros(2)}, `"a" appears twice`},
	} {
		if _, err := NewAdam(c.names, c.params, testConfig); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.names, err, c.want)
		}
	}
}

// rankOne is a dist.Comm as rank 1 of 2 sees it, with rank 0's values given:
// its broadcasts deliver root's tensors and JSON.
type rankOne struct {
	rootTensors [][]float32
	rootJSON    []byte
	calls       []string
}

func (*rankOne) Rank() int { return 1 }
func (*rankOne) Size() int { return 2 }
func (r *rankOne) AverageGrads([]torchx.Tensor, int64, []float64) error {
	r.calls = append(r.calls, "average")
	return nil
}
func (r *rankOne) SumFloat64([]float64) error { r.calls = append(r.calls, "sum"); return nil }
func (*rankOne) Stats() dist.Stats            { return dist.Stats{} }
func (r *rankOne) Broadcast(ts []torchx.Tensor, root int) error {
	r.calls = append(r.calls, fmt.Sprintf("broadcast %d tensors from %d", len(ts), root))
	if len(ts) != len(r.rootTensors) {
		return fmt.Errorf("broadcast of %d tensors, rank 0 sends %d", len(ts), len(r.rootTensors))
	}
	for i, v := range r.rootTensors {
		torchx.Copy_(ts[i], torchx.FromFloat32(v, ts[i].Shape()...))
	}
	return nil
}
func (r *rankOne) BroadcastJSON(v any, root int) error {
	r.calls = append(r.calls, fmt.Sprintf("json from %d", root))
	return json.Unmarshal(r.rootJSON, v)
}

// Broadcast gives a rank that started elsewhere rank 0's parameters,
// moments and step count, in one tensor collective and one JSON one.
func TestBroadcastAdoptsRootState(t *testing.T) {
	p := newProblem()
	root, rootParams := p.run(t, testLRs)
	want := stateOf(root, rootParams)
	g := &rankOne{rootJSON: []byte("4")}
	for _, ts := range [][]torchx.Tensor{rootParams, root.expAvg, root.expAvgSq} {
		for _, x := range ts {
			g.rootTensors = append(g.rootTensors, torchx.Float32s(x))
		}
	}
	mine, params := p.run(t, testLRs[:1]) // another state: one step
	if compareQuiet(stateOf(mine, params), want) < 1e-3 {
		t.Fatal("the two optimisers already agree: the test cannot fail")
	}
	var berr error
	if err := torchx.Catch(func() { berr = mine.Broadcast(g, 0) }); err != nil || berr != nil {
		t.Fatal(err, berr)
	}
	if fmt.Sprint(g.calls) != "[broadcast 9 tensors from 0 json from 0]" {
		t.Errorf("collectives %v, want one broadcast of parameters and both moments, then the step count", g.calls)
	}
	if mine.Steps() != 4 {
		t.Errorf("step count %d after the broadcast, rank 0's is 4", mine.Steps())
	}
	compare(t, "after the broadcast", stateOf(mine, params), want, 0)

	// Alone, a broadcast from rank 0 keeps the state; another root is refused.
	local := dist.NewLocal()
	if err := mine.Broadcast(local, 0); err != nil {
		t.Fatal(err)
	}
	compare(t, "after a local broadcast", stateOf(mine, params), want, 0)
	if err := mine.Broadcast(local, 1); err == nil || !strings.Contains(err.Error(), "rank 1") {
		t.Errorf("local broadcast from rank 1: %v", err)
	}
}

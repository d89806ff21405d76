package model_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/odl"
	"github.com/gaitord/gaitord/internal/torchx"
)

const python = "/usr/bin/python3"

// pyref returns the PyTorch reference script, or skips when Debian's
// python3-torch is missing (`make test` installs it) or under -short (each
// reference run takes a Python start and a torch import: make unit skips them).
func pyref(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("PyTorch reference run: skipped under -short (make test runs it)")
	}
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("PyTorch parity needs Debian's python3-torch under %s (apt-get install python3-torch; make test installs it): %v", python, err)
	}
	p, err := filepath.Abs("../../tests/pyref/glcnn.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type pyOut struct {
	AgeLogits    [][]float64        `json:"age_logits"`
	GenderLogits [][]float64        `json:"gender_logits"`
	Age          []float64          `json:"age"`
	Losses       map[string]float64 `json:"losses"`
}

func runForward(t *testing.T, script, weights string, x []float32, n int, ages, genders []int, minAge int, lam, mu float64) pyOut {
	t.Helper()
	return runForwardArgs(t, script, weights, x, n, ages, genders, minAge, lam, mu)
}

// lossArgs are the reference script's flags for the loss weights that are
// not λ and μ.
func lossArgs(w odl.Weights) []string {
	return []string{"--sigma", fmt.Sprint(w.Sigma), "--mean-weight", fmt.Sprint(w.MeanWeight), "--variance-weight", fmt.Sprint(w.VarianceWeight)}
}

func runForwardArgs(t *testing.T, script, weights string, x []float32, n int, ages, genders []int, minAge int, lam, mu float64, extra ...string) pyOut {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "x.f32")
	buf := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(in, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.json")
	args := []string{script, "forward", "--weights", weights, "--input", in, "--n", fmt.Sprint(n),
		"--min-age", fmt.Sprint(minAge), "--ages=" + join(ages), "--genders=" + join(genders),
		"--lambda", fmt.Sprint(lam), "--mu", fmt.Sprint(mu), "--out", out}
	args = append(args, extra...)
	if b, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("glcnn.py forward: %v\n%s", err, b)
	}
	var o pyOut
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func join(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

type goOut struct {
	age, gender []float32
	decoded     []float64
	losses      odl.Losses
}

func goForward(t *testing.T, m *model.GLCNN, x []float32, n int, ages, genders []int, w odl.Weights) goOut {
	t.Helper()
	c := m.Config()
	var o goOut
	err := torchx.Catch(func() {
		xt := torchx.FromFloat32(x, int64(n), 1, int64(c.InputH), int64(c.InputW))
		age, gender := m.Forward(xt)
		o.age, o.gender = torchx.Float32s(age), torchx.Float32s(gender)
		width := c.AgeOutputs()
		for i := range n {
			row := make([]float64, width)
			for j := range row {
				row[j] = float64(o.age[i*width+j])
			}
			_, d, err := metrics.DecodeHead(c, row)
			if err != nil {
				t.Fatal(err)
			}
			o.decoded = append(o.decoded, d.Age)
		}
		var err error
		if o.losses, err = odl.Objective(age, gender, ages, gendersOf(genders), c, w); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func maxDiff(t *testing.T, what string, got []float32, want [][]float64) float64 {
	t.Helper()
	d, i := 0.0, 0
	for _, row := range want {
		for _, v := range row {
			d = math.Max(d, math.Abs(float64(got[i])-v))
			i++
		}
	}
	if i != len(got) {
		t.Fatalf("%s: %d values from Go, %d from PyTorch", what, len(got), i)
	}
	return d
}

func compare(t *testing.T, label string, g goOut, p pyOut) {
	t.Helper()
	const tol = 1e-4
	da := maxDiff(t, "age logits", g.age, p.AgeLogits)
	dg := maxDiff(t, "gender logits", g.gender, p.GenderLogits)
	dd := 0.0
	for i, v := range p.Age {
		dd = math.Max(dd, math.Abs(g.decoded[i]-v))
	}
	dl := math.Max(math.Abs(g.losses.Gender-p.Losses["gender"]), math.Abs(g.losses.TotalValue-p.Losses["total"]))
	if len(p.Losses) != len(g.losses.Terms)+2 {
		t.Fatalf("%s: PyTorch's losses %v, Go's terms %v", label, p.Losses, g.losses.Terms)
	}
	for _, term := range g.losses.Terms {
		want, ok := p.Losses[term.Name]
		if !ok {
			t.Fatalf("%s: PyTorch has no loss %q (it has %v)", label, term.Name, p.Losses)
		}
		// relative for the mean-variance terms, in years²
		dl = math.Max(dl, math.Abs(term.Value-want)/math.Max(1, math.Abs(want)))
	}
	t.Logf("%s: max |Go − PyTorch|: age logits %.2g, gender logits %.2g, decoded age %.2g, losses %.2g", label, da, dg, dd, dl)
	if da > tol || dg > tol || dd > tol || dl > tol {
		t.Fatalf("%s: differences above %g", label, tol)
	}
	spread := 0.0
	for _, v := range g.age {
		spread = math.Max(spread, math.Abs(float64(v)))
	}
	if spread < 1e-2 {
		t.Fatalf("%s: degenerate logits (max |z| %g): the comparison would prove nothing", label, spread)
	}
}

func input(n, h, w int, seed uint64) []float32 {
	var x []float32
	torchx.ManualSeed(seed)
	t := torchx.Zeros(int64(n), 1, int64(h), int64(w))
	torchx.Uniform_(t, 0, 1)
	x = torchx.Float32s(t)
	return x
}

// Go weights → safetensors → PyTorch load_state_dict(strict=True): same outputs.
func TestParityGoToPyTorch(t *testing.T) {
	script := pyref(t)
	for _, c := range []model.Config{model.DefaultConfig(), {InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}} {
		m, err := model.New(c, 21, "cpu")
		if err != nil {
			t.Fatal(err)
		}
		// Put the outputs in a non-trivial range: scale the age head.
		w := m.Weights()
		for i := range w["linear_age.weight"].Data {
			w["linear_age.weight"].Data[i] *= 40
		}
		if err := m.SetWeights(w); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "w.safetensors")
		if err := checkpoint.SaveWeights(path, c, m.Weights(), 0); err != nil {
			t.Fatal(err)
		}
		n := 3
		x := input(n, c.InputH, c.InputW, 5)
		ages, genders := []int{1, 40, 130}, []int{0, 1, -1}
		lw := odl.Weights{Lambda: 0.7, Mu: 1.3}
		py := runForward(t, script, path, x, n, ages, genders, c.MinAge, lw.Lambda, lw.Mu)
		compare(t, fmt.Sprintf("Go→PyTorch %d×%d", c.InputH, c.InputW), goForward(t, m, x, n, ages, genders, lw), py)
		inferenceParity(t, m, x, n, py)
	}
}

// inferenceParity checks the inference path (InferenceMode, evaluation
// mode) against PyTorch's outputs for x (a batch below
// torchx.OneDNNMinBatch: torchx level 2, no oneDNN-tensor block may run),
// then, at a batch of torchx.OneDNNMinBatch, that every block and strip of
// glcnn's layer table runs through oneDNN's blocked tensors (torchx level 3)
// and matches the plain autograd path (level 2) within compare's tolerance
// (measured: identical).
func inferenceParity(t *testing.T, m *model.GLCNN, x []float32, n int, py pyOut) {
	t.Helper()
	c := m.Config()
	layers, err := c.Layers()
	if err != nil {
		t.Fatal(err)
	}
	allBlocks := int64(0)
	for _, b := range layers.Blocks() {
		allBlocks++
		if b.Part {
			allBlocks += int64(len(b.Strips)) - 1
		}
	}
	forward := func(x []float32, n int, scope func(func())) (age, gender []float32, blocks int64) {
		before := torchx.OneDNNBlocks()
		err := torchx.Catch(func() {
			scope(func() {
				a, g := m.Forward(torchx.FromFloat32(x, int64(n), 1, int64(c.InputH), int64(c.InputW)))
				age, gender = torchx.Float32s(a), torchx.Float32s(g)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return age, gender, torchx.OneDNNBlocks() - before
	}
	if n >= torchx.OneDNNMinBatch() {
		t.Fatalf("inferenceParity: PyTorch's batch of %d is not below OneDNNMinBatch %d", n, torchx.OneDNNMinBatch())
	}
	age, gender, ran := forward(x, n, torchx.InferenceMode)
	if ran != 0 {
		t.Fatalf("inference %d×%d b%d: %d blocks ran through oneDNN's tensors, want 0 below batch %d", c.InputH, c.InputW, n, ran, torchx.OneDNNMinBatch())
	}
	da, dg := maxDiff(t, "age logits", age, py.AgeLogits), maxDiff(t, "gender logits", gender, py.GenderLogits)
	t.Logf("inference %d×%d b%d: max |Go − PyTorch|: age logits %.2g, gender logits %.2g", c.InputH, c.InputW, n, da, dg)
	if da > 1e-4 || dg > 1e-4 {
		t.Fatalf("inference %d×%d: differences above 1e-4", c.InputH, c.InputW)
	}

	nb := torchx.OneDNNMinBatch()
	xb := input(nb, c.InputH, c.InputW, 8)
	plainAge, plainGender, _ := forward(xb, nb, func(f func()) { f() })
	age, gender, ran = forward(xb, nb, torchx.InferenceMode)
	if torchx.MKLDNNEnabled() && ran != allBlocks {
		t.Fatalf("inference %d×%d b%d: %d blocks ran through oneDNN's tensors, want %d", c.InputH, c.InputW, nb, ran, allBlocks)
	}
	d := 0.0
	for i := range plainAge {
		d = math.Max(d, math.Abs(float64(age[i])-float64(plainAge[i])))
	}
	for i := range plainGender {
		d = math.Max(d, math.Abs(float64(gender[i])-float64(plainGender[i])))
	}
	t.Logf("inference %d×%d b%d, oneDNN tensors vs the plain path: max |difference| %.2g", c.InputH, c.InputW, nb, d)
	if d > 1e-4 {
		t.Fatalf("inference %d×%d b%d: oneDNN-tensor path differs from the plain path by %g (> 1e-4)", c.InputH, c.InputW, nb, d)
	}
}

// Every other loss type: the head built from glcnn, exported with its type
// in the metadata, loaded strictly into the reference GEINet with that type's
// head (written there from the papers), gives the same outputs, decoded
// ages, loss terms and total; and the objective's gradient on the age head
// and on the first convolution matches PyTorch's autograd.
func TestParityEveryLossType(t *testing.T) {
	script := pyref(t)
	for _, lt := range glcnn.LossTypes()[1:] {
		t.Run(string(lt), func(t *testing.T) {
			c := model.DefaultConfig()
			c.K, c.MinAge, c.Loss = 60, 5, lt
			m, err := model.New(c, 41, "cpu")
			if err != nil {
				t.Fatal(err)
			}
			l, _ := c.Layers()
			head := l.Age.Weight()
			// spread the outputs: logits of a few units; l1's output near [0, 1]
			scale := float32(30)
			if lt == glcnn.LossL1 {
				scale = 2
			}
			w := m.Weights()
			for i := range w[head].Data {
				w[head].Data[i] *= scale
			}
			if err := m.SetWeights(w); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "w.safetensors")
			if err := checkpoint.SaveWeights(path, c, m.Weights(), 0); err != nil {
				t.Fatal(err)
			}
			n := 5
			x := input(n, c.InputH, c.InputW, 8)
			ages, genders := []int{3, 19, 40, 64, 71}, []int{0, 1, -1, 1, 0}
			lw := odl.Weights{Lambda: 0.7, Mu: 1.3, Sigma: 2.5, MeanWeight: 0.2, VarianceWeight: 0.05}
			grads := filepath.Join(dir, "grads.f32")
			p := runForwardArgs(t, script, path, x, n, ages, genders, c.MinAge, lw.Lambda, lw.Mu, append(lossArgs(lw), "--grads", grads)...)
			g := goForward(t, m, x, n, ages, genders, lw)
			compare(t, string(lt), g, p)
			if err := torchx.Catch(func() { torchx.Backward(g.losses.Total) }); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(grads)
			if err != nil {
				t.Fatal(err)
			}
			off := 0
			for i, name := range m.Names() {
				gt, _ := torchx.Grad(m.Params()[i])
				got := torchx.Float32s(gt)
				ref := raw[4*off : 4*(off+len(got))]
				off += len(got)
				if name != head && name != l.Age.Bias() && name != "gl_conv1.conv.weight" {
					continue
				}
				top, d := 0.0, 0.0
				for j := range got {
					r := float64(math.Float32frombits(binary.LittleEndian.Uint32(ref[4*j:])))
					top = math.Max(top, math.Abs(r))
					d = math.Max(d, math.Abs(float64(got[j])-r))
				}
				if top == 0 || d > 1e-4*top {
					t.Errorf("%s: max |Go − PyTorch| gradient %.3g, largest |gradient| %.3g", name, d, top)
				}
			}
		})
	}
}

// Gradients of the training objective (eval mode, so no dropout draws)
// against PyTorch's autograd through the reference model, for the CPU
// layout choices of torchx.ConvBlock under autograd (4, the default: every
// convolution and pool channels-last; 2: channels-last first layer and
// pooling; 1; 0: the plain order; 3 differs from 2 only without autograd):
// every parameter's gradient
// within 1e-4 of that gradient's largest magnitude, and the outputs as in
// compare.
func TestGradientParityWithPyTorch(t *testing.T) {
	script := pyref(t)
	c := model.DefaultConfig()
	m, err := model.New(c, 33, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	m.Train(false)
	w := m.Weights()
	for i := range w["linear_age.weight"].Data {
		w["linear_age.weight"].Data[i] *= 20
	}
	if err := m.SetWeights(w); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := checkpoint.SaveWeights(path, c, m.Weights(), 0); err != nil {
		t.Fatal(err)
	}
	n := 6
	x := input(n, c.InputH, c.InputW, 12)
	ages, genders := []int{2, 17, 33, 48, 70, 95}, []int{0, 1, 1, 0, -1, 1}
	lw := odl.Weights{Lambda: 1, Mu: 1}
	gradFile := filepath.Join(dir, "grads.f32")
	p := runForwardArgs(t, script, path, x, n, ages, genders, c.MinAge, lw.Lambda, lw.Mu, "--grads", gradFile)
	raw, err := os.ReadFile(gradFile)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, len(raw)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if int64(len(want)) != c.NumParams() {
		t.Fatalf("PyTorch wrote %d gradient values, want %d", len(want), c.NumParams())
	}
	for _, level := range []int{4, 2, 1, 0} {
		prev := torchx.SetCPULayouts(level)
		torchx.ZeroGrad(m.Params())
		g := goForward(t, m, x, n, ages, genders, lw)
		compare(t, fmt.Sprintf("layouts %d", level), g, p)
		if err := torchx.Catch(func() { torchx.Backward(g.losses.Total) }); err != nil {
			t.Fatal(err)
		}
		torchx.SetCPULayouts(prev)
		off := 0
		for i, name := range m.Names() {
			gt, ok := torchx.Grad(m.Params()[i])
			if !ok {
				t.Fatalf("layouts %d: %s has no gradient", level, name)
			}
			got := torchx.Float32s(gt)
			ref := want[off : off+len(got)]
			off += len(got)
			top, d := 0.0, 0.0
			for j := range ref {
				top = math.Max(top, math.Abs(float64(ref[j])))
				d = math.Max(d, math.Abs(float64(got[j])-float64(ref[j])))
			}
			if top == 0 || d > 1e-4*top {
				t.Fatalf("layouts %d: %s: max |Go − PyTorch| gradient %.3g, largest |gradient| %.3g", level, name, d, top)
			}
			if name == "gl_conv1.conv.weight" || name == "lc_conv1.conv.0.weight" {
				t.Logf("layouts %d: %s: max |Go − PyTorch| gradient %.3g of %.3g", level, name, d, top)
			}
		}
	}
}

// PyTorch's own initialisation → safetensors → gaitord: same outputs.
func TestParityPyTorchToGo(t *testing.T) {
	script := pyref(t)
	path := filepath.Join(t.TempDir(), "py.safetensors")
	if b, err := exec.Command(python, script, "init", "--h", "64", "--w", "44", "--k", "100", "--seed", "3", "--out", path).CombinedOutput(); err != nil {
		t.Fatalf("glcnn.py init: %v\n%s", err, b)
	}
	st, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(st.Model, 0, "cpu")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights(st.Weights); err != nil {
		t.Fatal(err)
	}
	n := 4
	x := input(n, 64, 44, 9)
	ages, genders := []int{3, 25, 61, 99}, []int{1, 0, 1, 0}
	lw := odl.Weights{Lambda: 1, Mu: 1}
	compare(t, "PyTorch→Go 64×44", goForward(t, m, x, n, ages, genders, lw),
		runForward(t, script, path, x, n, ages, genders, 0, lw.Lambda, lw.Mu))
}

// gendersOf turns the reference script's gender classes (0 female, 1 male,
// −1 unknown) into the genders odl takes.
func gendersOf(classes []int) []api.Gender {
	out := make([]api.Gender, len(classes))
	for i, c := range classes {
		switch c {
		case 0:
			out[i] = api.Female
		case 1:
			out[i] = api.Male
		}
	}
	return out
}

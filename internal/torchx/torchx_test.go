package torchx

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func near(t *testing.T, name string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s[%d] = %v, want %v (all: %v)", name, i, got[i], want[i], got)
		}
	}
}

func TestRoundTripAndShapes(t *testing.T) {
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if got := x.Shape(); len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Fatalf("shape %v", got)
	}
	near(t, "copy", Float32s(x), []float64{1, 2, 3, 4, 5, 6}, 0)
	near(t, "narrow", Float32s(Narrow(x, 1, 1, 2)), []float64{2, 3, 5, 6}, 0)
	near(t, "cat0", Float32s(Cat([]Tensor{x, x}, 0)), []float64{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 0)
	near(t, "cat1", Float32s(Cat([]Tensor{Narrow(x, 1, 0, 1), Narrow(x, 1, 2, 1)}, 1)), []float64{1, 3, 4, 6}, 0)
	near(t, "cumsum", Float32s(Cumsum(x, 1)), []float64{1, 3, 6, 4, 9, 15}, 0)
	near(t, "square", Float32s(Square(x)), []float64{1, 4, 9, 16, 25, 36}, 0)
	near(t, "clamp", Float32s(Clamp(x, 2, 5)), []float64{2, 2, 3, 4, 5, 5}, 0)
	near(t, "reshape", Float32s(Reshape(x, 3, -1)), []float64{1, 2, 3, 4, 5, 6}, 0)
	near(t, "sumdim", Float32s(SumDim(x, 1, false)), []float64{6, 15}, 0)
	near(t, "meandim", Float32s(MeanDim(x, 0, false)), []float64{2.5, 3.5, 4.5}, 0)
	if got := Item(Mean(x)); got != 3.5 {
		t.Fatalf("mean %v", got)
	}
	if Device(x) != "cpu" {
		t.Fatalf("device %q", Device(x))
	}
}

func TestConvPoolLinear(t *testing.T) {
	// 1×1×3×4 input, 1×1×3×1 kernel (non-square), padding (1, 0).
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 1, 1, 3, 4)
	w := FromFloat32([]float32{1, 0, -1}, 1, 1, 3, 1)
	b := FromFloat32([]float32{0.5}, 1)
	// out[i][j] = x[i-1][j] - x[i+1][j] + 0.5 with zero padding rows.
	want := []float64{
		0 - 5 + .5, 0 - 6 + .5, 0 - 7 + .5, 0 - 8 + .5,
		1 - 9 + .5, 2 - 10 + .5, 3 - 11 + .5, 4 - 12 + .5,
		5 - 0 + .5, 6 - 0 + .5, 7 - 0 + .5, 8 - 0 + .5,
	}
	y := Conv2d(x, w, b, 1, 0)
	near(t, "conv", Float32s(y), want, 1e-6)
	near(t, "pool", Float32s(MaxPool2d(x, 2, 2)), []float64{6, 8}, 0)
	near(t, "leaky", Float32s(LeakyReLU(FromFloat32([]float32{-2, 3}, 2), 0.01)), []float64{-0.02, 3}, 1e-7)
	// linear: [1 2] · [[1 2] [3 4] [5 6]]ᵀ + [1 1 1]
	lin := Linear(FromFloat32([]float32{1, 2}, 1, 2), FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 3, 2), FromFloat32([]float32{1, 1, 1}, 3))
	near(t, "linear", Float32s(lin), []float64{6, 12, 18}, 0)
}

func TestLosses(t *testing.T) {
	z := FromFloat32([]float32{0, 2, -1}, 3)
	tg := FromFloat32([]float32{1, 0, 1}, 3)
	sp := func(v float64) float64 { return math.Log1p(math.Exp(v)) } // softplus
	// BCE(z, t) = softplus(z) - t·z
	want := (sp(0) - 0 + sp(2) - 0 + sp(-1) + 1) / 3
	if got := Item(BCEWithLogits(z, tg)); math.Abs(got-want) > 1e-6 {
		t.Fatalf("bce %v want %v", got, want)
	}
	logits := FromFloat32([]float32{1, 2, 0, 0}, 2, 2)
	target := FromInt64([]int64{1, 0}, 2)
	ce := (-(2 - math.Log(math.Exp(1)+math.Exp(2))) + math.Log(2)) / 2
	if got := Item(CrossEntropy(logits, target)); math.Abs(got-ce) > 1e-6 {
		t.Fatalf("ce %v want %v", got, ce)
	}
	near(t, "softmax", Float32s(Softmax(logits, 1)), []float64{1 / (1 + math.E), math.E / (1 + math.E), .5, .5}, 1e-6)
	near(t, "sigmoid", Float32s(Sigmoid(z)), []float64{.5, 1 / (1 + math.Exp(-2)), 1 / (1 + math.E)}, 1e-6)
	// log σ(z) = −softplus(−z), finite where σ underflows
	near(t, "log_sigmoid", Float32s(LogSigmoid(FromFloat32([]float32{0, 2, -1, -200}, 4))),
		[]float64{-sp(0), -sp(-2), -sp(1), -200}, 1e-6)
	lse1, lse2 := math.Log(math.Exp(1)+math.Exp(2)), math.Log(2)
	near(t, "log_softmax", Float32s(LogSoftmax(logits, 1)), []float64{1 - lse1, 2 - lse1, -lse2, -lse2}, 1e-6)
}

func TestElementwise(t *testing.T) {
	a := FromFloat32([]float32{1, -2, 3, -4, 5, -6}, 2, 3)
	b := FromFloat32([]float32{2, 3, -1}, 3)
	near(t, "mul broadcast", Float32s(Mul(a, b)), []float64{2, -6, -3, -8, 15, 6}, 0)
	near(t, "abs", Float32s(Abs(a)), []float64{1, 2, 3, 4, 5, 6}, 0)
	s := Sum(a)
	if sh := s.Shape(); len(sh) != 0 || Item(s) != -3 {
		t.Fatalf("sum %v of shape %v, want the scalar -3", Item(s), sh)
	}
	// d/da Σ |a·b| = sign(a·b)·b
	x := FromFloat32([]float32{1, -2, 3}, 3)
	SetRequiresGrad(x, true)
	Backward(Sum(Abs(Mul(x, b))))
	g, _ := Grad(x)
	near(t, "grad", Float32s(g), []float64{2, -3, 1}, 0)
}

func TestAutogradThroughNarrowCatCumsum(t *testing.T) {
	x := FromFloat32([]float32{1, 2, 3, 4, 5}, 5)
	SetRequiresGrad(x, true)
	// loss = Σ cumsum(cat(x[3:5], x[0:3])) ; d/dx_i = number of prefixes containing x_i
	y := Cat([]Tensor{Narrow(x, 0, 3, 2), Narrow(x, 0, 0, 3)}, 0)
	loss := SumDim(Cumsum(y, 0), 0, false)
	Backward(loss)
	g, ok := Grad(x)
	if !ok {
		t.Fatal("no gradient")
	}
	// order in y: x3 x4 x0 x1 x2 → weights 5 4 3 2 1
	near(t, "grad", Float32s(g), []float64{3, 2, 1, 5, 4}, 0)
	ZeroGrad([]Tensor{x})
	if _, ok := Grad(x); ok {
		t.Fatal("gradient survived ZeroGrad")
	}
}

func TestNoGradAndDropout(t *testing.T) {
	if !GradEnabled() {
		t.Fatal("grad mode off by default")
	}
	NoGrad(func() {
		if GradEnabled() {
			t.Fatal("grad mode on inside NoGrad")
		}
	})
	if !GradEnabled() {
		t.Fatal("grad mode not restored")
	}
	x := FromFloat32(make([]float32, 1000), 1000)
	Fill_(x, 1)
	same := Float32s(Dropout(x, 0.5, false))
	for _, v := range same {
		if v != 1 {
			t.Fatalf("eval dropout changed a value: %v", v)
		}
	}
	ManualSeed(7)
	d := Float32s(Dropout(x, 0.5, true))
	zeros := 0
	for _, v := range d {
		switch v {
		case 0:
			zeros++
		case 2:
		default:
			t.Fatalf("train dropout value %v, want 0 or 2", v)
		}
	}
	if zeros < 400 || zeros > 600 {
		t.Fatalf("%d of 1000 dropped, want about 500", zeros)
	}
	ManualSeed(7)
	d2 := Float32s(Dropout(x, 0.5, true))
	for i := range d {
		if d[i] != d2[i] {
			t.Fatal("dropout not reproducible under ManualSeed")
		}
	}
}

func TestRNGStateRestores(t *testing.T) {
	ManualSeed(1)
	st := RNGStateBytes()
	a := Zeros(5)
	Uniform_(a, 0, 1)
	SetRNGStateBytes(st)
	b := Zeros(5)
	Uniform_(b, 0, 1)
	near(t, "replay", Float32s(b), f64(Float32s(a)), 0)
	if err := Catch(func() { SetRNGStateBytes([]byte{1, 2, 3}) }); err == nil {
		t.Fatal("a 3-byte RNG state was accepted")
	}
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i := range v {
		o[i] = float64(v[i])
	}
	return o
}

func TestXavierBound(t *testing.T) {
	w := Zeros(64, 32, 7, 7)
	XavierUniform_(w, 1)
	bound := math.Sqrt(6.0 / float64(32*49+64*49))
	maxAbs := 0.0
	for _, v := range Float32s(w) {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs > bound || maxAbs < 0.95*bound {
		t.Fatalf("max |w| = %v, bound %v", maxAbs, bound)
	}
}

func TestAdamMatchesFormula(t *testing.T) {
	// One parameter, loss = Σ p², two steps by hand.
	p := FromFloat32([]float32{1, -2}, 2)
	SetRequiresGrad(p, true)
	m, v := Zeros(2), Zeros(2)
	lr, b1, b2, eps, wd := 0.1, 0.9, 0.999, 1e-8, 0.01
	want := []float64{1, -2}
	mw, vw := []float64{0, 0}, []float64{0, 0}
	for step := int64(1); step <= 2; step++ {
		ZeroGrad([]Tensor{p})
		Backward(SumDim(Square(p), 0, false))
		AdamStep([]Tensor{p}, []Tensor{m}, []Tensor{v}, step, lr, b1, b2, eps, wd)
		for i := range want {
			g := 2*want[i] + wd*want[i]
			mw[i] = b1*mw[i] + (1-b1)*g
			vw[i] = b2*vw[i] + (1-b2)*g*g
			mhat := mw[i] / (1 - math.Pow(b1, float64(step)))
			vhat := vw[i] / (1 - math.Pow(b2, float64(step)))
			want[i] -= lr * mhat / (math.Sqrt(vhat) + eps)
		}
	}
	near(t, "adam", Float32s(p), want, 1e-6)
}

func TestErrorsCarryLibtorchMessage(t *testing.T) {
	err := Catch(func() { Cat([]Tensor{Zeros(2, 3), Zeros(2, 4)}, 0) })
	if err == nil || !strings.Contains(err.Error(), "cat") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v", err)
	}
	err = Catch(func() { FromFloat32([]float32{1, 2}, 3) })
	if err == nil || !strings.Contains(err.Error(), "2 values for shape [3]") {
		t.Fatalf("err = %v", err)
	}
	err = Catch(func() { To(Zeros(1), "tpu") })
	if err == nil {
		t.Fatal("unknown device accepted")
	}
	if !AllFinite(Zeros(3)) || AllFinite(FromFloat32([]float32{1, float32(math.Inf(1))}, 2)) {
		t.Fatal("AllFinite wrong")
	}
}

func TestRuntimeInfo(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "1.") && !strings.HasPrefix(v, "2.") {
		t.Fatalf("version %q", v)
	}
	SetNumThreads(2)
	if NumThreads() != 2 {
		t.Fatalf("threads %d", NumThreads())
	}
	if !strings.Contains(BuildConfig(), "BLAS") {
		t.Fatalf("build config lacks BLAS: %q", BuildConfig())
	}
	if CUDAAvailable() && CUDADeviceCount() < 1 {
		t.Fatal("CUDA available without devices")
	}
}

func TestLayoutAndBackendSwitches(t *testing.T) {
	x := FromFloat32([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 2, 2)
	near(t, "channels_last keeps values", Float32s(ChannelsLast(x)), []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0)
	w := Zeros(2, 2, 1, 1)
	Fill_(w, 1)
	ChannelsLast_(w)
	near(t, "conv after channels_last_", Float32s(Conv2d(x, w, Tensor{}, 0, 0)), []float64{6, 8, 10, 12, 6, 8, 10, 12}, 0)
	was := MKLDNNEnabled()
	SetMKLDNNEnabled(!was)
	if MKLDNNEnabled() == was {
		t.Fatal("oneDNN switch had no effect")
	}
	SetMKLDNNEnabled(was)
	if InteropThreads() < 1 {
		t.Fatalf("interop threads %d", InteropThreads())
	}
}

// benchAdam times one AdamStep over the GL-CNN's parameter sizes (64×44,
// K = 100: 6.9 M values), on one of its paths.
func benchAdam(b *testing.B, mode AdamMode) {
	SetNumThreads(2)
	defer SetAdamMode(SetAdamMode(mode))
	sizes := [][]int64{{32, 1, 7, 7}, {32}, {64, 32, 7, 7}, {64}, {32, 1, 7, 7}, {32}, {64, 32, 5, 7}, {64},
		{128, 128, 5, 5}, {128}, {1024, 5120}, {1024}, {1024, 1024}, {1024}, {100, 1024}, {100}, {2, 1024}, {2}}
	var ps, ms, vs []Tensor
	for _, sh := range sizes {
		p := Zeros(sh...)
		Uniform_(p, -1, 1)
		SetRequiresGrad(p, true)
		Backward(SumDim(Reshape(Square(p), -1), 0, false))
		ps, ms, vs = append(ps, p), append(ms, Zeros(sh...)), append(vs, Zeros(sh...))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		AdamStep(ps, ms, vs, int64(i+1), 1e-4, 0.9, 0.999, 1e-8, 0)
	}
}

func BenchmarkAdamFused(b *testing.B)   { benchAdam(b, AdamFused) }
func BenchmarkAdamOpByOp(b *testing.B)  { benchAdam(b, AdamOpByOp) }
func BenchmarkAdamForeach(b *testing.B) { benchAdam(b, AdamForeach) }

// AdamStep, fused and op by op, against torch.optim.Adam itself: three
// steps of loss Σ(p − c)² on tensors of 5 (scalar tail only), 4099 and
// 70001 values (vector loop, tail, more than one parallel chunk), with and
// without weight decay. Parameters and both moments must agree to 1e-6
// relative (to the value plus the tensor's largest value, as values that
// cancel to near 0 carry the rounding of their larger operands).
func TestAdamMatchesTorchOptimAdam(t *testing.T) {
	if testing.Short() {
		t.Skip("PyTorch reference run: skipped under -short (make test runs it)")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("needs Debian's python3-torch under %s: %v", python, err)
	}
	sizes := []int{5, 4099, 70001}
	init := func(n, salt int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i*7+salt)) * (1 + float64(i%13)))
		}
		return x
	}
	const steps, lr, b1, b2, eps = 3, 1e-3, 0.9, 0.999, 1e-8
	for _, wd := range []float64{0, 0.01} {
		// PyTorch's values: p, exp_avg, exp_avg_sq per size, as JSON.
		script := fmt.Sprintf(`
import json, math, sys, torch
torch.set_num_threads(2)
def init(n, salt):
    return torch.tensor([math.sin(i*7+salt)*(1+i%%13) for i in range(n)], dtype=torch.float64).float()
ps = [init(n, 1).requires_grad_() for n in %s]
cs = [init(n, 2) for n in %s]
opt = torch.optim.Adam(ps, lr=%v, betas=(%v, %v), eps=%v, weight_decay=%v)
for _ in range(%d):
    opt.zero_grad(set_to_none=True)
    sum(((p - c) ** 2).sum() for p, c in zip(ps, cs)).backward()
    opt.step()
out = [[p.detach().tolist(), opt.state[p]["exp_avg"].tolist(), opt.state[p]["exp_avg_sq"].tolist()] for p in ps]
json.dump(out, sys.stdout)
`, pyList(sizes), pyList(sizes), lr, b1, b2, eps, wd, steps)
		b, err := exec.Command(python, "-c", script).Output()
		if err != nil {
			t.Fatalf("python: %v", err)
		}
		var want [][3][]float64
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		// fused: the one-pass CPU loop; foreach: parameters it cannot take
		// (here channels-last strided, on a GPU every one) go through the
		// multi-tensor _foreach_ ops; op by op: six ops per parameter.
		var opByOp, foreach [][]float32
		for _, mode := range []AdamMode{AdamFused, AdamForeach, AdamOpByOp} {
			prev := SetAdamMode(mode)
			var ps, cs, ms, vs []Tensor
			for _, n := range sizes {
				p := FromFloat32(init(n, 1), int64(n))
				SetRequiresGrad(p, true)
				ps, cs = append(ps, p), append(cs, FromFloat32(init(n, 2), int64(n)))
				ms, vs = append(ms, Zeros(int64(n))), append(vs, Zeros(int64(n)))
			}
			for step := int64(1); step <= steps; step++ {
				ZeroGrad(ps)
				for i := range ps {
					Backward(SumDim(Square(Sub(ps[i], cs[i])), 0, false))
				}
				AdamStep(ps, ms, vs, step, lr, b1, b2, eps, wd)
			}
			SetAdamMode(prev)
			var got [][]float32
			for i := range ps {
				got = append(got, Float32s(ps[i]), Float32s(ms[i]), Float32s(vs[i]))
			}
			if mode == AdamOpByOp {
				opByOp = got
			}
			worst := 0.0
			for i := range sizes {
				for k, got := range []Tensor{ps[i], ms[i], vs[i]} {
					g, w := Float32s(got), want[i][k]
					// relative to each value, plus 1e-6 of the tensor's
					// largest value for values near 0 (p − c cancels).
					top := 0.0
					for _, x := range w {
						top = math.Max(top, math.Abs(x))
					}
					for j := range w {
						d := math.Abs(float64(g[j])-w[j]) / (math.Abs(w[j]) + top)
						worst = math.Max(worst, d)
						if d > 1e-6 {
							t.Fatalf("wd %v mode %d: size %d, tensor %d, [%d] = %v, torch.optim.Adam %v", wd, mode, sizes[i], k, j, g[j], w[j])
						}
					}
				}
			}
			t.Logf("wd %v mode %d: max relative difference to torch.optim.Adam %.2g", wd, mode, worst)
			if mode == AdamForeach {
				foreach = got
			}
		}
		// The _foreach_ path runs the op-by-op operations in the same order:
		// bit for bit the same.
		for i := range opByOp {
			for j := range opByOp[i] {
				if foreach[i][j] != opByOp[i][j] {
					t.Fatalf("wd %v: foreach and op-by-op differ at tensor %d [%d]: %v vs %v", wd, i, j, foreach[i][j], opByOp[i][j])
				}
			}
		}
	}
}

func pyList(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func randn(shape ...int64) Tensor {
	x := Zeros(shape...)
	Uniform_(x, -1, 1)
	return x
}

// ConvBlock and PartBlock against the plain composition of Conv2d,
// LeakyReLU and MaxPool2d, at every CPU layout level, for a single-channel
// input (the channels-last path) and a multi-channel one with odd strip
// heights: same values (also without autograd and under InferenceMode), same
// input and parameter gradients, and an NCHW-contiguous result.
func TestConvBlockMatchesPlainOps(t *testing.T) {
	ManualSeed(3)
	cases := []struct {
		x          []int64
		w          []int64
		padH, padW int64
		strips     [][2]int64
	}{
		{[]int64{5, 1, 22, 14}, []int64{6, 1, 7, 7}, 3, 3, [][2]int64{{0, 6}, {6, 12}, {18, 4}}},
		{[]int64{3, 4, 12, 10}, []int64{5, 4, 5, 7}, 2, 3, [][2]int64{{0, 3}, {3, 6}, {9, 3}}},
		// batches from OneDNNMinBatch take the oneDNN blocked-layout path without autograd
		{[]int64{int64(OneDNNMinBatch()), 1, 22, 14}, []int64{6, 1, 7, 7}, 3, 3, [][2]int64{{0, 6}, {6, 12}, {18, 4}}},
		{[]int64{int64(OneDNNMinBatch()) + 1, 4, 12, 10}, []int64{5, 4, 5, 7}, 2, 3, [][2]int64{{0, 3}, {3, 6}, {9, 3}}},
		// strips that do not tile the height (gaps): narrowed one by one at every level
		{[]int64{3, 4, 12, 10}, []int64{5, 4, 5, 7}, 2, 3, [][2]int64{{1, 4}, {6, 5}}},
	}
	for ci, c := range cases {
		strips := c.strips
		x, w, b := randn(c.x...), randn(c.w...), randn(c.w[0])
		SetRequiresGrad(x, true)
		SetRequiresGrad(w, true)
		SetRequiresGrad(b, true)
		grads := func(out Tensor) [][]float32 {
			ZeroGrad([]Tensor{x, w, b})
			// a loss whose gradient differs per output element
			Backward(Mean(Square(AddScalar(out, 0.3))))
			var gs [][]float32
			for _, p := range []Tensor{x, w, b} {
				g, ok := Grad(p)
				if !ok {
					t.Fatalf("case %d: missing gradient", ci)
				}
				gs = append(gs, Float32s(g))
			}
			return gs
		}
		plain := MaxPool2d(LeakyReLU(Conv2d(x, w, b, c.padH, c.padW), 0.01), 2, 2)
		var parts []Tensor
		for _, s := range strips {
			parts = append(parts, MaxPool2d(LeakyReLU(Conv2d(Narrow(x, 2, s[0], s[1]), w, b, c.padH, c.padW), 0.01), 2, 2))
		}
		plainPart := Cat(parts, 2)
		want, wantG := Float32s(plain), grads(plain)
		wantP, wantPG := Float32s(plainPart), grads(plainPart)
		for _, level := range []int{0, 1, 2, 3, 4} {
			prev := SetCPULayouts(level)
			before, beforeCL := OneDNNBlocks(), ChannelsLastConvs()
			blocks := []Tensor{ConvBlock(x, w, b, c.padH, c.padW, 0.01), PartBlock(x, w, b, strips, c.padH, c.padW, 0.01)}
			if ran := OneDNNBlocks() - before; ran != 0 {
				t.Fatalf("case %d level %d: %d blocks with autograd ran through oneDNN's tensors, want 0", ci, level, ran)
			}
			// level 4 runs multi-channel convolutions (the block's and each strip's) channels-last under autograd
			wantCL := int64(0)
			if level == 4 && MKLDNNEnabled() && c.x[1] > 1 {
				wantCL = 1 + int64(len(strips))
			}
			if ran := ChannelsLastConvs() - beforeCL; ran != wantCL {
				t.Fatalf("case %d level %d: %d channels-last convolutions with autograd, want %d", ci, level, ran, wantCL)
			}
			for k, got := range blocks {
				wv, wg := want, wantG
				if k == 1 {
					wv, wg = wantP, wantPG
				}
				sh := got.Shape()
				st := Strides(got)
				if st[3] != 1 || st[2] != sh[3] || st[1] != sh[2]*sh[3] {
					t.Fatalf("case %d level %d block %d: strides %v for shape %v, want NCHW", ci, level, k, st, sh)
				}
				near32(t, fmt.Sprintf("case %d level %d block %d values", ci, level, k), Float32s(got), wv, 1e-5)
				// without autograd and under InferenceMode
				for _, scope := range []func(func()){NoGrad, InferenceMode} {
					scope(func() {
						var o Tensor
						before, beforeCL := OneDNNBlocks(), ChannelsLastConvs()
						if k == 0 {
							o = ConvBlock(x, w, b, c.padH, c.padW, 0.01)
						} else {
							o = PartBlock(x, w, b, strips, c.padH, c.padW, 0.01)
						}
						if ran := ChannelsLastConvs() - beforeCL; ran != 0 {
							t.Fatalf("case %d level %d block %d no-grad: %d channels-last convolutions, want 0", ci, level, k, ran)
						}
						// levels 3 and 4 run every block (each strip of a part block) through oneDNN's tensors without autograd
						ran, want := OneDNNBlocks()-before, int64(0)
						if level >= 3 && MKLDNNEnabled() && c.x[0] >= int64(OneDNNMinBatch()) {
							want = 1
							if k == 1 {
								want = int64(len(strips))
							}
						}
						if ran != want {
							t.Fatalf("case %d level %d block %d no-grad: %d oneDNN-tensor blocks ran, want %d", ci, level, k, ran, want)
						}
						so := Strides(o)
						if so[3] != 1 || so[2] != sh[3] || so[1] != sh[2]*sh[3] {
							t.Fatalf("case %d level %d block %d no-grad: strides %v, want NCHW", ci, level, k, so)
						}
						near32(t, fmt.Sprintf("case %d level %d block %d no-grad values", ci, level, k), Float32s(o), wv, 1e-5)
					})
				}
				for i, g := range grads(got) {
					near32(t, fmt.Sprintf("case %d level %d block %d grad %d", ci, level, k, i), g, wg[i], 1e-5)
				}
			}
			SetCPULayouts(prev)
		}
	}
}

func near32(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// A single-channel tensor gets channel stride 1 (contiguous(ChannelsLast)
// would leave the NCHW strides), and ChannelsLast_ does the same to a
// parameter while keeping its values.
func TestChannelsLastSingleChannel(t *testing.T) {
	x := randn(2, 1, 3, 4)
	if got := Strides(ChannelsLast(x)); fmt.Sprint(got) != "[12 1 4 1]" {
		t.Fatalf("ChannelsLast strides %v, want [12 1 4 1]", got)
	}
	near32(t, "ChannelsLast values", Float32s(ChannelsLast(x)), Float32s(x), 0)
	w := randn(32, 1, 7, 7)
	before := Float32s(w)
	ChannelsLast_(w)
	if got := Strides(w); fmt.Sprint(got) != "[49 1 7 1]" {
		t.Fatalf("ChannelsLast_ strides %v, want [49 1 7 1]", got)
	}
	near32(t, "ChannelsLast_ values", Float32s(w), before, 0)
	m := randn(2, 3, 4, 5)
	if got := Strides(ChannelsLast(m)); fmt.Sprint(got) != "[60 1 15 3]" {
		t.Fatalf("ChannelsLast strides %v, want [60 1 15 3]", got)
	}
}

// InferenceMode and NoGrad switch libtorch's per-thread state for the
// duration of fn only, even when the goroutine blocks inside: afterwards
// recording is on again on every thread the goroutines could have used.
func TestInferenceModeAndNoGradRestore(t *testing.T) {
	if InferenceModeEnabled() {
		t.Fatal("inference mode on by default")
	}
	p := randn(3)
	SetRequiresGrad(p, true)
	var done = make(chan bool)
	for i := 0; i < 8; i++ {
		scope := NoGrad
		if i%2 == 0 {
			scope = InferenceMode
		}
		go func(inf bool) {
			ok := true
			scope(func() {
				for k := 0; k < 20; k++ {
					time.Sleep(time.Millisecond)
					runtime.Gosched()
					if GradEnabled() || InferenceModeEnabled() != inf {
						ok = false
					}
				}
				y := MulScalar(p, 2)
				if _, err := gradOf(y, p); err == nil {
					ok = false // recorded despite the scope
				}
			})
			done <- ok
		}(i%2 == 0)
	}
	for i := 0; i < 8; i++ {
		if !<-done {
			t.Fatal("autograd state wrong inside a NoGrad/InferenceMode scope")
		}
	}
	for i := 0; i < 64; i++ {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			done <- GradEnabled() && !InferenceModeEnabled()
		}()
	}
	for i := 0; i < 64; i++ {
		if !<-done {
			t.Fatal("a thread was left with recording off")
		}
	}
}

// gradOf backpropagates sum(y) into p; it fails when y was not recorded.
func gradOf(y, p Tensor) ([]float32, error) {
	var g []float32
	err := Catch(func() {
		ZeroGrad([]Tensor{p})
		Backward(SumDim(y, 0, false))
		t, ok := Grad(p)
		if ok {
			g = Float32s(t)
		}
	})
	return g, err
}

package torchx

import (
	"math"
	"strings"
	"testing"
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

package odl

import (
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/torchx"
)

// Independent float64 references, written from the papers' definitions
// (loops over samples, tasks and conditional sets), not from the tensor code.

func logSigmoid(v float64) float64 { return -(math.Log1p(math.Exp(-math.Abs(v))) + math.Max(-v, 0)) }

func bce(z, t float64) float64 { return -(t*logSigmoid(z) + (1-t)*logSigmoid(-z)) }

// refCoral: Σ_k BCE per sample, mean over samples.
func refCoral(z []float64, levels []float32, k int) float64 {
	n := len(z) / k
	s := 0.0
	for i := range n {
		for j := range k {
			s += bce(z[i*k+j], float64(levels[i*k+j]))
		}
	}
	return s / float64(n)
}

// refCorn: task j trained on {i : y_i > j−1} only, to predict y_i > j; the
// BCE summed over every task's conditional set, divided by their total size.
func refCorn(z []float64, y []int, k int) float64 {
	s, count := 0.0, 0
	for j := range k {
		for i, yi := range y {
			if yi > j-1 {
				t := 0.0
				if yi > j {
					t = 1
				}
				s += bce(z[i*k+j], t)
				count++
			}
		}
	}
	return s / float64(count)
}

func softmaxRow(z []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range z {
		m = math.Max(m, v)
	}
	out := make([]float64, len(z))
	sum := 0.0
	for j, v := range z {
		out[j] = math.Exp(v - m)
		sum += out[j]
	}
	for j := range out {
		out[j] /= sum
	}
	return out
}

// refDLDL: Σ_j q log(q/p) per sample, mean over samples.
func refDLDL(z []float64, q []float32, classes int) float64 {
	n := len(z) / classes
	s := 0.0
	for i := range n {
		p := softmaxRow(z[i*classes : (i+1)*classes])
		for j, pj := range p {
			if qj := float64(q[i*classes+j]); qj > 0 {
				s += qj * (math.Log(qj) - math.Log(pj))
			}
		}
	}
	return s / float64(n)
}

// refMeanVariance: (softmax CE, ½·mean squared error of the mean, mean variance).
func refMeanVariance(z []float64, y []int, classes int) (ce, mean, variance float64) {
	n := len(y)
	for i, yi := range y {
		p := softmaxRow(z[i*classes : (i+1)*classes])
		ce -= math.Log(p[yi])
		m := 0.0
		for j, pj := range p {
			m += float64(j) * pj
		}
		mean += (m - float64(yi)) * (m - float64(yi))
		for j, pj := range p {
			variance += pj * (float64(j) - m) * (float64(j) - m)
		}
	}
	return ce / float64(n), mean / (2 * float64(n)), variance / float64(n)
}

func refL1(z []float64, t []float32) float64 {
	s := 0.0
	for i, v := range z {
		s += math.Abs(v - float64(t[i]))
	}
	return s / float64(len(z))
}

// lossCase is one loss: its tensor form on logits of shape (rows, cols) and
// the float64 reference on the same values.
type lossCase struct {
	name       string
	z          []float64
	rows, cols int64
	torch      func(z Tensor) (Tensor, error)
	ref        func(z []float64) float64
}

func familyCases(t *testing.T) []lossCase {
	t.Helper()
	const k, minAge = 4, 10
	ages := []int{10, 12, 14, 17, 11} // 17 is clamped to 14
	zK := []float64{1.2, -0.4, 0.3, -2.1, 0.8, 1.5, -0.7, 0.2, -1.1, 2.3, 0.6, -0.3, 0.4, -0.9, 1.7, 0.05, -1.6, 0.9, 0.15, -0.45}
	zC := append(append([]float64(nil), zK...), 0.7, -0.2, 1.1, -1.3, 0.35) // 5 × 5
	levels, _ := Targets(ages, minAge, k)
	y, _ := Labels(ages, minAge, k)
	q, _, err := GaussianTargets(ages, minAge, k, 1.5)
	if err != nil {
		t.Fatal(err)
	}
	l1t, _ := L1Targets(ages, minAge, k)
	mv := func(part int) lossCase {
		return lossCase{[]string{"mean-variance softmax", "mean-variance mean", "mean-variance variance"}[part], zC, 5, 5,
			func(z Tensor) (Tensor, error) {
				a, b, c, err := MeanVarianceLoss(z, y)
				return []Tensor{a, b, c}[part], err
			},
			func(z []float64) float64 {
				a, b, c := refMeanVariance(z, y, 5)
				return []float64{a, b, c}[part]
			}}
	}
	return []lossCase{
		{"coral", zK, 5, 4, func(z Tensor) (Tensor, error) { return CoralLoss(z, torchx.FromFloat32(levels, 5, 4)) },
			func(z []float64) float64 { return refCoral(z, levels, k) }},
		{"corn", zK, 5, 4, func(z Tensor) (Tensor, error) { return CornLoss(z, y) },
			func(z []float64) float64 { return refCorn(z, y, k) }},
		{"dldl", zC, 5, 5, func(z Tensor) (Tensor, error) { return DLDLLoss(z, q) },
			func(z []float64) float64 { return refDLDL(z, q, 5) }},
		mv(0), mv(1), mv(2),
		{"l1", []float64{10.3, 11.2, 15.1, 13.4, 9.6}, 5, 1, func(z Tensor) (Tensor, error) { return L1Loss(z, l1t) },
			func(z []float64) float64 { return refL1(z, l1t) }},
	}
}

func TestFamilyAgainstFloat64Reference(t *testing.T) {
	for _, c := range familyCases(t) {
		got, err := c.torch(torchx.FromFloat32(f32(c.z), c.rows, c.cols))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := c.ref(c.z)
		if d := math.Abs(torchx.Item(got) - want); d > 1e-6*(1+math.Abs(want)) {
			t.Errorf("%s: %v, float64 reference %v", c.name, torchx.Item(got), want)
		}
		if !(want > 0) {
			t.Errorf("%s: reference %v: the case proves little", c.name, want)
		}
	}
}

// Autograd through each loss against central differences of its float64
// reference.
func TestFamilyGradientsMatchFiniteDifferences(t *testing.T) {
	for _, c := range familyCases(t) {
		zt := torchx.FromFloat32(f32(c.z), c.rows, c.cols)
		torchx.SetRequiresGrad(zt, true)
		loss, err := c.torch(zt)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		torchx.Backward(loss)
		g, ok := torchx.Grad(zt)
		if !ok {
			t.Fatalf("%s: no gradient", c.name)
		}
		auto := torchx.Float32s(g)
		const h = 1e-6
		nonzero := 0
		for i := range c.z {
			zp := append([]float64(nil), c.z...)
			zm := append([]float64(nil), c.z...)
			zp[i] += h
			zm[i] -= h
			num := (c.ref(zp) - c.ref(zm)) / (2 * h)
			if math.Abs(float64(auto[i])-num) > 1e-5 {
				t.Errorf("%s: d/dz[%d] autograd %v, finite differences %v", c.name, i, auto[i], num)
			}
			if num != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: every gradient is zero", c.name)
		}
	}
}

func TestTargetHelpers(t *testing.T) {
	y, clamped := Labels([]int{3, 5, 9, 12, 4}, 5, 4)
	if fmt.Sprint(y) != "[0 0 4 4 0]" || clamped != 3 {
		t.Errorf("Labels = %v, clamped %d", y, clamped)
	}
	l1, _ := L1Targets([]int{5, 6, 9, 3, 12}, 5, 4)
	if fmt.Sprint(l1) != "[5 6 9 5 9]" {
		t.Errorf("L1Targets = %v", l1)
	}
	q, clamped, err := GaussianTargets([]int{7, 100}, 5, 6, 1)
	if err != nil || clamped != 1 {
		t.Fatal(err, clamped)
	}
	for i := range 2 {
		row := q[i*7 : (i+1)*7]
		sum, peak := 0.0, 0
		for j, v := range row {
			sum += float64(v)
			if v > row[peak] {
				peak = j
			}
		}
		if math.Abs(sum-1) > 1e-6 || peak != []int{2, 6}[i] {
			t.Errorf("row %d = %v: sum %v, peak at %d", i, row, sum, peak)
		}
	}
	// symmetric about the age 7 (class 2): q(1) = q(3), q(0) = q(4)
	if q[1] != q[3] || q[0] != q[4] || !(q[2] > q[1] && q[1] > q[0]) {
		t.Errorf("not a Gaussian around class 2: %v", q[:7])
	}
	if want := math.Exp(-0.5) / math.Exp(0); math.Abs(float64(q[1]/q[2])-want) > 1e-6 {
		t.Errorf("q(1)/q(2) = %v, want e^−½", q[1]/q[2])
	}
	for _, s := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, _, err := GaussianTargets([]int{7}, 5, 6, s); err == nil || !strings.Contains(err.Error(), "want > 0 and finite") {
			t.Errorf("σ = %v: %v", s, err)
		}
	}
}

func TestFamilyShapeErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		err  func() error
		want string
	}{
		{"coral", func() error { _, err := CoralLoss(torchx.Zeros(2, 3), torchx.Zeros(2, 4)); return err }, "[2 3] and targets of shape [2 4]"},
		{"corn rows", func() error { _, err := CornLoss(torchx.Zeros(2, 3), []int{1}); return err }, "logits of shape [2 3] for 1 labels"},
		{"corn label", func() error { _, err := CornLoss(torchx.Zeros(2, 3), []int{1, 4}); return err }, "label 4 at 1, want 0…3"},
		{"dldl", func() error { _, err := DLDLLoss(torchx.Zeros(2, 3), make([]float32, 5)); return err }, "logits of shape [2 3] and 5 target values"},
		{"mean-variance", func() error { _, _, _, err := MeanVarianceLoss(torchx.Zeros(2, 3), []int{0, 3}); return err }, "label 3 at 1, want 0…2"},
		{"l1", func() error { _, err := L1Loss(torchx.Zeros(2, 2), []float32{0, 1}); return err }, "output of shape [2 2] for 2 targets, want (2, 1)"},
	} {
		if err := c.err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// Every type's objective: the age term's parts by name, weighted as the
// package documents, plus μ·gender; and a head of the wrong width refused.
func TestObjectiveEveryType(t *testing.T) {
	const k = 4
	ages, genders := []int{20, 22, 30}, []api.Gender{api.Male, api.GenderUnknown, api.Female}
	g := torchx.FromFloat32([]float32{0.3, -0.2, 1, 0, -0.5, 0.8}, 3, 2)
	w := Weights{Lambda: 0.7, Mu: 1.5, Sigma: 2, MeanWeight: 0.2, VarianceWeight: 0.05}
	for _, lt := range glcnn.LossTypes() {
		c := glcnn.Config{K: k, MinAge: 20, Loss: lt}
		width := c.AgeOutputs()
		zv := make([]float32, 3*width)
		for i := range zv {
			zv[i] = float32(math.Sin(float64(3*i+1))) * 0.8
		}
		z := torchx.FromFloat32(zv, 3, int64(width))
		l, err := Objective(z, g, ages, genders, c, w)
		if err != nil {
			t.Fatalf("%s: %v", lt, err)
		}
		names := TermNames(lt)
		if len(l.Terms) != len(names) || l.Clamped != 1 || l.GenderKnownRows != 2 {
			t.Fatalf("%s: terms %v, clamped %d, known genders %d", lt, l.Terms, l.Clamped, l.GenderKnownRows)
		}
		weight := map[string]float64{"odl": w.Lambda, "mean": w.MeanWeight, "variance": w.VarianceWeight, "coral": 1.0 / k, "l1": 1.0 / k}
		if got := w.Terms(lt, k); len(got) != len(names) {
			t.Errorf("%s: %d weights for terms %v", lt, len(got), names)
		}
		want := w.Mu * l.Gender
		for i, term := range l.Terms {
			if term.Name != names[i] || !(term.Value > 0) {
				t.Errorf("%s: term %d = %+v", lt, i, term)
			}
			wt, ok := weight[term.Name]
			if !ok {
				wt = 1
			}
			if w.Terms(lt, k)[i] != wt {
				t.Errorf("%s: %s weighs %v, want %v", lt, term.Name, w.Terms(lt, k)[i], wt)
			}
			want += wt * term.Value
		}
		if math.Abs(l.TotalValue-want) > 1e-5 {
			t.Errorf("%s: total %v, want %v from %v", lt, l.TotalValue, want, l.Terms)
		}
		// the gender term is the same for every type
		if math.Abs(l.Gender-(math.Log(1+math.Exp(0.5))+math.Log(1+math.Exp(1.3)))/2) > 1e-6 {
			t.Errorf("%s: gender %v", lt, l.Gender)
		}
		// coral's term is coral_pytorch's loss (weighed by 1/K), l1's the MAE in years
		if lt == glcnn.LossCORAL {
			tv, _ := Targets(ages, 20, k)
			if v, _ := l.Term("coral"); math.Abs(v-refCoral(f64(zv), tv, k)) > 1e-6 {
				t.Errorf("coral term %v, want %v", v, refCoral(f64(zv), tv, k))
			}
		}
		if lt == glcnn.LossL1 {
			if v, _ := l.Term("l1"); math.Abs(v-refL1(f64(zv), []float32{20, 22, 24})) > 1e-5 {
				t.Errorf("l1 term %v, want %v", v, refL1(f64(zv), []float32{20, 22, 24}))
			}
		}
		bad := torchx.Zeros(3, int64(width+1))
		if _, err := Objective(bad, g, ages, genders, c, w); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a %s head of K = 4 gives (3, %d)", lt, width)) {
			t.Errorf("%s: wrong width accepted or unclear: %v", lt, err)
		}
	}
	// dldl refuses a σ that is not positive
	c := glcnn.Config{K: k, Loss: glcnn.LossDLDL}
	if _, err := Objective(torchx.Zeros(3, 5), g, ages, genders, c, Weights{Mu: 1}); err == nil || !strings.Contains(err.Error(), "σ = 0") {
		t.Errorf("dldl with σ = 0: %v", err)
	}
}

// cornExampleLogits are the logits of coral_pytorch's corn_loss docstring
// example: torch.manual_seed(123), X = torch.rand(8, 99),
// torch.nn.Linear(99, 4)(X), as Debian's torch 1.13 computes them (to the
// float32 values printed by .tolist()); TestCornExampleLogitsFromPyTorch
// recomputes them.
var cornExampleLogits = []float32{
	-0.3226347267627716, -0.47383785247802734, -0.06844209134578705, 0.32877615094184875,
	0.3809959888458252, -0.451831579208374, 0.07845766097307205, 0.01094498485326767,
	-0.06660297513008118, 0.08915339410305023, 0.24874353408813477, 0.17058029770851135,
	0.1858489066362381, -0.42726224660873413, 0.1903223991394043, -0.002332448959350586,
	-0.06768327951431274, -0.12009865045547485, 0.34011033177375793, 0.07730120420455933,
	-0.12936033308506012, -0.38587167859077454, -0.05717567354440689, 0.2475617527961731,
	0.030972860753536224, -0.3191126585006714, -0.17493751645088196, 0.17574340105056763,
	0.1280914694070816, 0.024988368153572083, 0.03153723478317261, 0.37987691164016724,
}

func TestCornExampleLogitsFromPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("PyTorch reference run: skipped under -short (make test runs it)")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("needs Debian's python3-torch under %s: %v", python, err)
	}
	out, err := exec.Command(python, "-c", `
import json, torch
_ = torch.manual_seed(123)
X = torch.rand(8, 99)
net = torch.nn.Linear(99, 4)
print(json.dumps([v for row in net(X).tolist() for v in row]))`).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cornExampleLogits) {
		t.Fatalf("%d logits", len(got))
	}
	for i, v := range got {
		if float32(v) != cornExampleLogits[i] {
			t.Errorf("logit %d: PyTorch %v, the example holds %v", i, v, cornExampleLogits[i])
		}
	}
}

// coral_pytorch's documented coral_loss example (the same in its 1.2, 1.3
// and 1.4 docs): three samples, four tasks, explicit levels and logits.
func ExampleCoralLoss() {
	levels := torchx.FromFloat32([]float32{
		1, 1, 0, 0,
		1, 0, 0, 0,
		1, 1, 1, 1}, 3, 4)
	logits := torchx.FromFloat32([]float32{
		2.1, 1.8, -2.1, -1.8,
		1.9, -1, -1.5, -1.3,
		1.9, 1.8, 1.7, 1.6}, 3, 4)
	loss, _ := CoralLoss(logits, levels)
	fmt.Printf("%.4f\n", torchx.Item(loss))
	// Output:
	// 0.6920
}

// coral_pytorch 1.4's documented corn_loss example: eight samples of five
// classes, y = [0 1 2 2 2 3 4 4], on the logits its seeded example draws
// (cornExampleLogits). Its 1.2 and 1.3 docs print 3.4210: the same sum
// over the conditional training sets (here 24 sample-tasks) divided by the
// number of classes, 5, instead of by 24.
func ExampleCornLoss() {
	y := []int{0, 1, 2, 2, 2, 3, 4, 4}
	loss, _ := CornLoss(torchx.FromFloat32(cornExampleLogits, 8, 4), y)
	v := torchx.Item(loss)
	fmt.Printf("coral_pytorch 1.4: %.4f\n", v)
	fmt.Printf("1.2/1.3 denominator: %.4f\n", v*24/5)
	// Output:
	// coral_pytorch 1.4: 0.7127
	// 1.2/1.3 denominator: 3.4210
}

// Two people aged 21 and 24, K = 4 (ages 20…24), σ = 1: the label
// distribution of the first and the KL divergence to the predicted one.
func ExampleDLDLLoss() {
	q, _, _ := GaussianTargets([]int{21, 24}, 20, 4, 1)
	fmt.Printf("q(21) = %.4f\n", q[:5])
	z := torchx.FromFloat32([]float32{0.5, 2, 1, -1, -2, -1, -0.5, 0, 1, 2.5}, 2, 5)
	loss, _ := DLDLLoss(z, q)
	fmt.Printf("KL %.4f\n", torchx.Item(loss))
	// Output:
	// q(21) = [0.2571 0.4238 0.2571 0.0574 0.0047]
	// KL 0.1135
}

// The same two people and logits under Pan et al.'s loss: the predicted
// means are 21.18 and 23.53 years.
func ExampleMeanVarianceLoss() {
	y, _ := Labels([]int{21, 24}, 20, 4)
	z := torchx.FromFloat32([]float32{0.5, 2, 1, -1, -2, -1, -0.5, 0, 1, 2.5}, 2, 5)
	softmax, mean, variance, _ := MeanVarianceLoss(z, y)
	fmt.Printf("softmax %.4f  mean %.4f  variance %.4f\n", torchx.Item(softmax), torchx.Item(mean), torchx.Item(variance))
	// Output:
	// softmax 0.4161  mean 0.0645  variance 0.6941
}

// l1 regresses the age in years: outputs 21.2 and 23.6 for people aged 21
// and 24 are off by 0.2 and 0.4 years; an age of 30 is clamped to the
// oldest representable, 24.
func ExampleL1Loss() {
	t, _ := L1Targets([]int{21, 30}, 20, 4)
	loss, _ := L1Loss(torchx.FromFloat32([]float32{21.2, 23.6}, 2, 1), t)
	fmt.Printf("targets %v  loss %.4f\n", t, torchx.Item(loss))
	// Output:
	// targets [21 24]  loss 0.3000
}

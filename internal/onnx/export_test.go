package onnx

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/metrics"
)

const tol = 1e-4

// checkAgainstReferences exports ws, runs the model in ONNX Runtime and the
// PyTorch reference on the same safetensors weights and input, and compares.
func checkAgainstReferences(t *testing.T, ws map[string]glcnn.Weight, cfg glcnn.Config, stPath string) {
	t.Helper()
	dir := t.TempDir()
	root := repoRoot(t)
	model := filepath.Join(dir, "model.onnx")
	if err := WriteFile(model, ws, cfg); err != nil {
		t.Fatal(err)
	}
	run(t, debianPython, "-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", model)

	const n = 3
	in := filepath.Join(dir, "x.f32")
	writeF32(t, in, randomInput(n, cfg.InputH, cfg.InputW, uint64(cfg.InputH)))
	ages, genders := []int{cfg.MinAge - 5, cfg.MinAge + cfg.K/3, cfg.MinAge + cfg.K + 50}, []int{0, 1, 1}
	const lambda, mu = 0.5, 2.0

	ortOut, pyOut := filepath.Join(dir, "ort.json"), filepath.Join(dir, "py.json")
	run(t, "node", filepath.Join(root, "tools", "ort", "run.mjs"), model, in, strconv.Itoa(n), ortOut)
	run(t, debianPython, filepath.Join(root, "tests", "pyref", "glcnn.py"), "forward",
		"--weights", stPath, "--input", in, "--n", strconv.Itoa(n),
		"--min-age="+strconv.Itoa(cfg.MinAge), "--ages="+joinInts(ages), "--genders="+joinInts(genders),
		"--lambda", fmt.Sprint(lambda), "--mu", fmt.Sprint(mu), "--out", pyOut)
	o, p := readOutputs(t, ortOut), readOutputs(t, pyOut)

	if len(o.AgeLogits) != n || len(o.AgeLogits[0]) != cfg.AgeOutputs() || len(o.GenderLogits[0]) != 2 || len(o.Age) != n {
		t.Fatalf("ORT output shapes: age_logits %d×%d, gender_logits %d×%d, age %d; want %d×%d, %d×2, %d",
			len(o.AgeLogits), len(o.AgeLogits[0]), len(o.GenderLogits), len(o.GenderLogits[0]), len(o.Age), n, cfg.AgeOutputs(), n, n)
	}
	dAge, err := maxAbsDiff2(o.AgeLogits, p.AgeLogits)
	if err != nil {
		t.Fatalf("age_logits: %v", err)
	}
	dGender, err := maxAbsDiff2(o.GenderLogits, p.GenderLogits)
	if err != nil {
		t.Fatalf("gender_logits: %v", err)
	}
	dDecoded, err := maxAbsDiff(o.Age, p.Age)
	if err != nil {
		t.Fatalf("age: %v", err)
	}
	t.Logf("%d×%d K=%d %s: max |ORT−PyTorch| age_logits %.3g, gender_logits %.3g, age %.3g (ranges: age_logits ±%.3g, age %v)",
		cfg.InputH, cfg.InputW, cfg.K, cfg.LossType(), dAge, dGender, dDecoded, maxAbs2(p.AgeLogits), p.Age)
	if dAge > tol || dGender > tol || dDecoded > tol {
		t.Errorf("ORT vs PyTorch exceeds %g: age_logits %g, gender_logits %g, age %g", tol, dAge, dGender, dDecoded)
	}
	// The outputs must not be degenerate, or the comparison proves little.
	if maxAbs2(p.AgeLogits) < 1e-3 || maxAbs2(p.GenderLogits) < 1e-3 {
		t.Errorf("degenerate reference logits: age ±%g, gender ±%g", maxAbs2(p.AgeLogits), maxAbs2(p.GenderLogits))
	}

	// Decoded age from the graph vs. gaitord's float64 decoding of the
	// graph's own age_logits (metrics.DecodeHead, what predict reports).
	for i := range n {
		_, d, err := metrics.DecodeHead(cfg, o.AgeLogits[i])
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(o.Age[i]-d.Age) > tol {
			t.Errorf("sample %d: ORT age %g, gaitord decodes its age_logits as %g", i, o.Age[i], d.Age)
		}
		if cfg.LossType() == glcnn.LossODL { // and, for odl, as written out here
			want := float64(cfg.MinAge)
			for _, z := range o.AgeLogits[i] {
				want += 1 / (1 + math.Exp(-z))
			}
			if math.Abs(o.Age[i]-want) > tol {
				t.Errorf("sample %d: ORT age %g, want min_age+Σsigmoid = %g", i, o.Age[i], want)
			}
		}
	}
	for _, a := range o.Age {
		if a <= float64(cfg.MinAge) || a >= float64(cfg.MinAge+cfg.K) {
			t.Errorf("ORT age %v on a bound of [%d, %d]: the comparison proves little", a, cfg.MinAge, cfg.MinAge+cfg.K)
		}
	}
	if cfg.LossType() != glcnn.LossODL {
		return // the other types' losses are checked against PyTorch in internal/model's parity tests
	}

	// PyTorch losses vs. an independent float64 computation from its logits.
	want := goLosses(p.AgeLogits, p.GenderLogits, ages, genders, cfg.MinAge, lambda, mu)
	for name, w := range want {
		got, ok := p.Losses[name]
		if !ok {
			t.Errorf("reference JSON lacks loss %q", name)
			continue
		}
		if d := math.Abs(got - w); d > 1e-5*(1+math.Abs(w)) {
			t.Errorf("loss %s: PyTorch %g, float64 %g", name, got, w)
		}
	}
}

func goLosses(za, zg [][]float64, ages, genders []int, minAge int, lambda, mu float64) map[string]float64 {
	var rank, odl, gender float64
	count := 0
	for i, row := range za {
		a := min(max(ages[i], minAge), minAge+len(row))
		for k, z := range row {
			tk := 0.0
			if a > minAge+k {
				tk = 1
			}
			rank += math.Max(z, 0) - z*tk + math.Log1p(math.Exp(-math.Abs(z)))
			s := 1 / (1 + math.Exp(-z))
			odl += (s - tk) * (s - tk)
			count++
		}
		g := zg[i]
		m := math.Max(g[0], g[1])
		gender += m + math.Log(math.Exp(g[0]-m)+math.Exp(g[1]-m)) - g[genders[i]]
	}
	rank /= float64(count)
	odl /= float64(count)
	gender /= float64(len(za))
	return map[string]float64{"ranking": rank, "odl": odl, "gender": gender, "total": rank + lambda*odl + mu*gender}
}

func maxAbs2(a [][]float64) float64 {
	m := 0.0
	for _, r := range a {
		for _, v := range r {
			m = max(m, math.Abs(v))
		}
	}
	return m
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// TestExportMatchesPyTorch compares ONNX Runtime on the exported graph with
// the PyTorch reference for Go-generated random weights at both input sizes.
func TestExportMatchesPyTorch(t *testing.T) {
	requireTorch(t)
	requireORT(t)
	for _, cfg := range []glcnn.Config{
		{InputH: 64, InputW: 44, K: 100, MinAge: 0},
		{InputH: 128, InputW: 88, K: 60, MinAge: 10},
	} {
		t.Run(fmt.Sprintf("%dx%d", cfg.InputH, cfg.InputW), func(t *testing.T) {
			ws := randomWeights(t, cfg, uint64(cfg.InputH*1000+cfg.K))
			st := filepath.Join(t.TempDir(), "w.safetensors")
			writeSafetensors(t, st, ws, map[string]string{
				"input_height": strconv.Itoa(cfg.InputH), "input_width": strconv.Itoa(cfg.InputW),
				"k": strconv.Itoa(cfg.K), "min_age": strconv.Itoa(cfg.MinAge),
			})
			checkAgainstReferences(t, ws, cfg, st)
		})
	}
}

// TestExportEveryLossType exports each other loss type's network with
// random weights and compares ONNX Runtime with the PyTorch reference (its
// GEINet with that type's head and decoding, loaded strictly from the
// safetensors file the metadata types), and the graph's age with gaitord's
// decoding of the graph's age_logits.
func TestExportEveryLossType(t *testing.T) {
	requireTorch(t)
	requireORT(t)
	for _, lt := range glcnn.LossTypes()[1:] {
		t.Run(string(lt), func(t *testing.T) {
			cfg := glcnn.Config{InputH: 64, InputW: 44, K: 60, MinAge: 10, Loss: lt}
			ws := randomWeights(t, cfg, 7000+uint64(len(lt)))
			if lt == glcnn.LossL1 {
				// outputs near 40 years, not clipped at a bound, where the
				// comparison would prove little
				ws["l1_age.bias"].Data[0] = 40
				for i := range ws["l1_age.weight"].Data {
					ws["l1_age.weight"].Data[i] *= 0.1
				}
			}
			st := filepath.Join(t.TempDir(), "w.safetensors")
			writeSafetensors(t, st, ws, map[string]string{
				"input_height": "64", "input_width": "44", "k": "60", "min_age": "10", "loss_type": string(lt),
			})
			checkAgainstReferences(t, ws, cfg, st)
		})
	}
}

// TestExportPyTorchInit exports the state_dict written by `glcnn.py init`,
// which checks that the parameter names and shapes agree with PyTorch's.
func TestExportPyTorchInit(t *testing.T) {
	requireTorch(t)
	requireORT(t)
	st := filepath.Join(t.TempDir(), "init.safetensors")
	run(t, debianPython, filepath.Join(repoRoot(t), "tests", "pyref", "glcnn.py"), "init",
		"--h", "64", "--w", "44", "--k", "100", "--seed", "7", "--out", st)
	ws, meta := readSafetensors(t, st)
	if meta["input_height"] != "64" || meta["input_width"] != "44" || meta["k"] != "100" || meta["min_age"] != "0" {
		t.Fatalf("init metadata %v", meta)
	}
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100}
	if err := cfg.CheckWeights(ws); err != nil {
		t.Fatalf("PyTorch state_dict rejected: %v", err)
	}
	// Linear biases are zero-initialised; conv biases keep PyTorch's default.
	for name, w := range ws {
		zero := !slices.ContainsFunc(w.Data, func(v float32) bool { return v != 0 })
		if isLinearBias := strings.HasPrefix(name, "linear_") && strings.HasSuffix(name, ".bias"); isLinearBias != zero {
			t.Errorf("%s: all-zero=%v, want %v", name, zero, isLinearBias)
		}
	}
	checkAgainstReferences(t, ws, cfg, st)
}

func TestValidationErrors(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 10}
	good := randomWeights(t, cfg, 1)
	clone := func() map[string]glcnn.Weight {
		m := make(map[string]glcnn.Weight, len(good))
		for k, v := range good {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		mutate func(map[string]glcnn.Weight)
		cfg    glcnn.Config
		want   []string
	}{
		{"wrong shape", func(m map[string]glcnn.Weight) {
			m["lc_conv2.conv.0.weight"] = glcnn.Weight{Shape: []int64{64, 32, 7, 5}, Data: m["lc_conv2.conv.0.weight"].Data}
		}, cfg, []string{"lc_conv2.conv.0.weight", "[64 32 7 5]", "[64 32 5 7]"}},
		{"missing tensor", func(m map[string]glcnn.Weight) { delete(m, "linear_gender.bias") }, cfg,
			[]string{"missing", "linear_gender.bias", "[2]"}},
		{"wrong data length", func(m map[string]glcnn.Weight) {
			m["conv.conv.bias"] = glcnn.Weight{Shape: []int64{128}, Data: make([]float32, 127)}
		}, cfg, []string{"conv.conv.bias", "127", "128"}},
		{"not finite", func(m map[string]glcnn.Weight) {
			d := slices.Clone(m["linear_age.weight"].Data)
			d[3] = float32(math.NaN())
			m["linear_age.weight"] = glcnn.Weight{Shape: m["linear_age.weight"].Shape, Data: d}
		}, cfg, []string{"linear_age.weight holds 1 non-finite values (first NaN at index 3)"}},
		{"unexpected tensor", func(m map[string]glcnn.Weight) {
			m["extra.weight"] = glcnn.Weight{Shape: []int64{1}, Data: []float32{0}}
		}, cfg,
			[]string{"unexpected", "extra.weight"}},
		{"unsupported size", nil, glcnn.Config{InputH: 96, InputW: 64, K: 10}, []string{"input size 96×64 not supported"}},
		{"mismatched width", nil, glcnn.Config{InputH: 64, InputW: 88, K: 10}, []string{"input size 64×88 not supported"}},
		{"bad K", nil, glcnn.Config{InputH: 64, InputW: 44, K: 0}, []string{"K = 0 ordinal tasks: want 2…1000"}},
		// One set of ranges: ONNX export used to accept K = 1, which no model or config can build.
		{"K below the range", nil, glcnn.Config{InputH: 64, InputW: 44, K: 1}, []string{"K = 1 ordinal tasks: want 2…1000"}},
		{"min_age out of range", nil, glcnn.Config{InputH: 64, InputW: 44, K: 10, MinAge: 121}, []string{"min_age = 121: want 0…120"}},
		{"K mismatch", nil, glcnn.Config{InputH: 64, InputW: 44, K: 100}, []string{"linear_age.weight", "[10 1024]", "[100 1024]"}},
		{"size mismatch", nil, glcnn.Config{InputH: 128, InputW: 88, K: 10}, []string{"linear_layer1.weight", "[1024 5120]", "[1024 22528]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws := clone()
			if c.mutate != nil {
				c.mutate(ws)
			}
			var buf bytes.Buffer
			err := Export(&buf, ws, c.cfg)
			if err == nil {
				t.Fatal("Export: want error")
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("Export wrote %d bytes before failing validation", buf.Len())
			}
		})
	}
	if err := cfg.CheckWeights(good); err != nil {
		t.Errorf("valid weights rejected: %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 5}
	ws := randomWeights(t, cfg, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := WriteFile(path, ws, cfg); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Export(&buf, ws, cfg); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, buf.Bytes()) {
		t.Error("WriteFile and Export produce different bytes (export not deterministic?)")
	}
	// A failing export must leave the old file intact and no temp files.
	delete(ws, "conv.conv.weight")
	if err := WriteFile(path, ws, cfg); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile with missing tensor: err %v, want one naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(first, after) {
		t.Error("failed WriteFile modified the existing file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after failed write, want 1", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "no-such-dir", "m.onnx"), ws, cfg); err == nil {
		t.Error("WriteFile into a missing directory: want error")
	}
}

// ExportWith appends its metadata after the model's own, read back here with
// the test's own protobuf decoder; a repeated key writes nothing.
func TestExportWithMetadata(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0}
	w := randomWeights(t, cfg, 1)
	extra := [][2]string{{"gaitord.loss_type", "odl"}, {"gaitord.card", "# card\nwith lines, ünïcode"}}
	var buf bytes.Buffer
	if err := ExportWith(&buf, w, cfg, extra); err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, e := range fields(t, buf.Bytes())[14] {
		f := fields(t, e.([]byte))
		got = append(got, [2]string{str(f[1][0]), str(f[2][0])})
	}
	want := [][2]string{{"input_height", "64"}, {"input_width", "44"}, {"k", "100"}, {"min_age", "0"}, {"loss_type", "odl"}, extra[0], extra[1]}
	if !slices.Equal(got, want) {
		t.Fatalf("metadata_props %q, want %q", got, want)
	}
	buf.Reset()
	if err := ExportWith(&buf, w, cfg, [][2]string{{"k", "7"}}); err == nil || !strings.Contains(err.Error(), `metadata key "k" given twice`) || buf.Len() != 0 {
		t.Fatalf("repeated key: %v, %d bytes written", err, buf.Len())
	}
}

package onnx

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/quant"
)

// fixedCalibration gives every quantized layer of cfg the range [-lo, hi]:
// enough for the graph's structure; the values are checked against
// model.Int8 in internal/cli, where libtorch calibrates.
func fixedCalibration(t *testing.T, cfg glcnn.Config) quant.Calibration {
	t.Helper()
	l, err := cfg.Layers()
	if err != nil {
		t.Fatal(err)
	}
	c := quant.Calibration{GEIs: 7, Ranges: map[string][2]float64{}}
	for _, b := range l.Blocks() {
		c.Ranges[b.Module] = [2]float64{-2, 3}
	}
	for _, h := range l.Hidden {
		c.Ranges[h.Param] = [2]float64{-1, 1.5}
	}
	return c
}

// opTypes counts the operators of the ONNX model at path, decoded
// independently of the encoder.
func opTypes(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := fields(t, b)
	g := fields(t, m[7][0].([]byte))
	ops := map[string]int{}
	for _, n := range g[1] {
		nf := fields(t, n.([]byte))
		ops[str(nf[4][0])]++
	}
	return ops
}

// ONNX Runtime runs the int8 export with integer kernels: its optimized
// graph has a QLinearConv for every convolution (9: two global, three
// strips of each of the two part blocks, the fusing one) and no float Conv
// left, QLinearLeakyRelu, QLinearConcat for the branches, and the hidden
// layers in QGemm; the file is at most 0.3× the float32 export's size.
func TestInt8RunsIntegerKernels(t *testing.T) {
	requireORT(t)
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0}
	ws := randomWeights(t, cfg, 5)
	dir := t.TempDir()
	fp, i8 := filepath.Join(dir, "fp32.onnx"), filepath.Join(dir, "int8.onnx")
	if err := WriteFile(fp, ws, cfg); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileInt8(i8, ws, cfg, Int8{Calibration: fixedCalibration(t, cfg), Source: "fixture"}, nil); err != nil {
		t.Fatal(err)
	}
	const n = 2
	in := filepath.Join(dir, "x.f32")
	writeF32(t, in, randomInput(n, cfg.InputH, cfg.InputW, 9))
	opt := filepath.Join(dir, "optimized.onnx")
	run(t, "node", filepath.Join(repoRoot(t), "tools", "ort", "run.mjs"), i8, in, strconv.Itoa(n), filepath.Join(dir, "ort.json"), opt)
	ops := opTypes(t, opt)
	t.Logf("ORT's optimized int8 graph: %v", ops)
	for op, want := range map[string]int{
		"QLinearConv": 9, "Conv": 0, // every convolution in int8
		"QLinearLeakyRelu": 11, "LeakyRelu": 0, // after each convolution and hidden layer
		"QLinearConcat": 1, // the branches, requantized to the union
		"QGemm":         2, // linear_layer1, linear_layer2
		"Gemm":          2, // the heads, float32
	} {
		if ops[op] != want {
			t.Errorf("ORT's optimized graph has %d %s, want %d (all: %v)", ops[op], op, want, ops)
		}
	}
	fi, err := os.Stat(fp)
	if err != nil {
		t.Fatal(err)
	}
	qi, err := os.Stat(i8)
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(qi.Size()) / float64(fi.Size())
	t.Logf("sizes: fp32 %d bytes, int8 %d bytes (%.3f×)", fi.Size(), qi.Size(), ratio)
	if ratio > 0.3 {
		t.Errorf("the int8 export is %.3f× the float32 one's size, want ≤ 0.3", ratio)
	}
}

// The int8 export passes onnx's full checker (types, shapes, per-axis
// DequantizeLinear) and carries precision and the calibration facts after
// the model's own metadata, before the caller's; a calibration missing a
// layer writes nothing.
func TestInt8ExportChecksAndMetadata(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 10, MinAge: 3}
	ws := randomWeights(t, cfg, 6)
	dir := t.TempDir()
	path := filepath.Join(dir, "int8.onnx")
	if err := WriteFileInt8(path, ws, cfg, Int8{Calibration: fixedCalibration(t, cfg), Source: "data/oumvlp"}, [][2]string{{"card", "x"}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys, vals []string
	for _, e := range fields(t, b)[14] {
		f := fields(t, e.([]byte))
		keys, vals = append(keys, str(f[1][0])), append(vals, str(f[2][0]))
	}
	wantK := []string{"input_height", "input_width", "k", "min_age", "loss_type", "precision", "calibration_geis", "calibration_data", "card"}
	wantV := []string{"64", "44", "10", "3", "odl", "int8", "7", "data/oumvlp", "x"}
	if !slices.Equal(keys, wantK) || !slices.Equal(vals, wantV) {
		t.Errorf("metadata %v = %v; want %v = %v", keys, vals, wantK, wantV)
	}
	bad := fixedCalibration(t, cfg)
	delete(bad.Ranges, "lc_conv2")
	missing := filepath.Join(dir, "missing.onnx")
	if err := WriteFileInt8(missing, ws, cfg, Int8{Calibration: bad}, nil); err == nil || !strings.Contains(err.Error(), "no range for layer lc_conv2") {
		t.Errorf("export without lc_conv2's range: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("%s written after an error (%v)", missing, err)
	}
	requireTorch(t)
	run(t, debianPython, "-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", path)
}

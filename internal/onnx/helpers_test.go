package onnx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
)

const debianPython = "/usr/bin/python3"

// repoRoot is the module root (this package lives in internal/onnx).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// requireTorch skips unless Debian's python3 with torch and onnx is usable,
// and under -short (a PyTorch reference run is slow: make unit skips it).
func requireTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("PyTorch reference run: skipped under -short (make test runs it)")
	}
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found: install Debian's python3-torch and python3-onnx (apt-get install python3-torch python3-onnx)", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import torch, onnx").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import torch/onnx (%v: %s): apt-get install python3-torch python3-onnx", debianPython, err, strings.TrimSpace(string(out)))
	}
}

// requireORT skips unless node and tools/ort/node_modules/onnxruntime-node exist.
func requireORT(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH: install Node.js ≥ 20 to run ONNX Runtime checks")
	}
	if _, err := os.Stat(filepath.Join(repoRoot(t), "tools", "ort", "node_modules", "onnxruntime-node")); err != nil {
		t.Skip("ONNX Runtime for Node missing: run `npm install --ignore-scripts --no-audit --no-fund --prefix tools/ort`")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// randomWeights returns deterministic Xavier-uniform weights and small
// uniform biases for every parameter of cfg.
func randomWeights(t *testing.T, cfg glcnn.Config, seed uint64) map[string]glcnn.Weight {
	t.Helper()
	specs := cfg.Specs()
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ws := make(map[string]glcnn.Weight, len(specs))
	for _, s := range specs {
		data := make([]float32, glcnn.Numel(s.Shape))
		bound := 0.5 // biases
		if len(s.Shape) > 1 {
			recept := glcnn.Numel(s.Shape[2:])
			fanIn, fanOut := float64(s.Shape[1]*recept), float64(s.Shape[0]*recept)
			bound = math.Sqrt(6 / (fanIn + fanOut))
		}
		for i := range data {
			data[i] = float32((2*rng.Float64() - 1) * bound)
		}
		ws[s.Name] = glcnn.Weight{Shape: slices.Clone(s.Shape), Data: data}
	}
	return ws
}

func randomInput(n, h, w int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*h*w)
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

func writeF32(t *testing.T, path string, x []float32) {
	t.Helper()
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSafetensors hand-encodes F32 tensors in the safetensors format.
func writeSafetensors(t *testing.T, path string, ws map[string]glcnn.Weight, meta map[string]string) {
	t.Helper()
	names := make([]string, 0, len(ws))
	for n := range ws {
		names = append(names, n)
	}
	slices.Sort(names)
	header := map[string]any{"__metadata__": meta}
	off := 0
	for _, n := range names {
		size := 4 * len(ws[n].Data)
		header[n] = map[string]any{"dtype": "F32", "shape": ws[n].Shape, "data_offsets": []int{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, uint64(len(hb)))
	buf.Write(hb)
	for _, n := range names {
		for _, v := range ws[n].Data {
			binary.Write(&buf, binary.LittleEndian, math.Float32bits(v))
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSafetensors decodes an F32 safetensors file.
func readSafetensors(t *testing.T, path string) (map[string]glcnn.Weight, map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b[:8])
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	var meta map[string]string
	ws := map[string]glcnn.Weight{}
	for name, raw := range header {
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &meta); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var info struct {
			Dtype   string  `json:"dtype"`
			Shape   []int64 `json:"shape"`
			Offsets [2]int  `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			t.Fatal(err)
		}
		if info.Dtype != "F32" {
			t.Fatalf("%s: %s dtype %s", path, name, info.Dtype)
		}
		data := b[8+int(n)+info.Offsets[0] : 8+int(n)+info.Offsets[1]]
		w := glcnn.Weight{Shape: info.Shape, Data: make([]float32, len(data)/4)}
		for i := range w.Data {
			w.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		ws[name] = w
	}
	return ws, meta
}

// outputs is the JSON written by tools/ort/run.mjs and glcnn.py forward.
type outputs struct {
	AgeLogits    [][]float64        `json:"age_logits"`
	GenderLogits [][]float64        `json:"gender_logits"`
	Age          []float64          `json:"age"`
	Losses       map[string]float64 `json:"losses"`
}

func readOutputs(t *testing.T, path string) outputs {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o outputs
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return o
}

// maxAbsDiff2 returns the largest |a-b|, failing on any shape mismatch.
func maxAbsDiff2(a, b [][]float64) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("rows %d vs %d", len(a), len(b))
	}
	m := 0.0
	for i := range a {
		d, err := maxAbsDiff(a[i], b[i])
		if err != nil {
			return 0, fmt.Errorf("row %d: %w", i, err)
		}
		m = max(m, d)
	}
	return m, nil
}

func maxAbsDiff(a, b []float64) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("length %d vs %d", len(a), len(b))
	}
	m := 0.0
	for i := range a {
		d := math.Abs(a[i] - b[i])
		if math.IsNaN(d) {
			return 0, fmt.Errorf("NaN at %d", i)
		}
		m = max(m, d)
	}
	return m, nil
}

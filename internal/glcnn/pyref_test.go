package glcnn

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

const python = "/usr/bin/python3"

// pyref returns the PyTorch reference script, or skips when Debian's
// python3-torch is missing (`make test` installs it).
func pyref(t *testing.T) string {
	t.Helper()
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("the PyTorch cross-check needs Debian's python3-torch under %s (apt-get install python3-torch; make test installs it): %v", python, err)
	}
	p, err := filepath.Abs("../../tests/pyref/glcnn.py")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSpecMatchesPyTorch compares the specification with the PyTorch
// reference network (tests/pyref/glcnn.py GEINet, the seed's network with its
// flatten size following the input, and each loss type's age head, written
// there from the papers): the state_dict's names, order and
// shapes; every block's output shape from a real forward pass; and the FLOP
// count that forward hooks on its Conv2d and Linear modules take during that
// pass (2 per multiply-add).
func TestSpecMatchesPyTorch(t *testing.T) {
	script := pyref(t)
	cfgs := []Config{DefaultConfig(), {InputH: 128, InputW: 88, K: 90, MinAge: 2, Dropout: 0.5}, {InputH: 64, InputW: 44, K: 2}}
	for _, lt := range LossTypes()[1:] { // every other loss type's head
		cfgs = append(cfgs, Config{InputH: 64, InputW: 44, K: 100, Loss: lt})
	}
	for _, c := range cfgs {
		out, err := exec.Command(python, script, "spec", "--h", strconv.Itoa(c.InputH), "--w", strconv.Itoa(c.InputW), "--k", strconv.Itoa(c.K),
			"--loss", string(c.LossType())).Output()
		if err != nil {
			t.Fatalf("glcnn.py spec: %v", err)
		}
		var ref struct {
			Params [][2]json.RawMessage `json:"params"`
			Maps   map[string][]int64   `json:"maps"`
			FLOPs  int64                `json:"flops"`
		}
		if err := json.Unmarshal(out, &ref); err != nil {
			t.Fatalf("glcnn.py spec output: %v\n%s", err, out)
		}
		l, err := c.Layers()
		if err != nil {
			t.Fatal(err)
		}
		specs := l.Specs()
		if len(specs) != len(ref.Params) {
			t.Fatalf("%d×%d: %d parameters, PyTorch has %d", c.InputH, c.InputW, len(specs), len(ref.Params))
		}
		for i, p := range ref.Params {
			var name string
			var shape []int64
			if json.Unmarshal(p[0], &name) != nil || json.Unmarshal(p[1], &shape) != nil {
				t.Fatalf("bad entry %s", p)
			}
			if specs[i].Name != name || !slices.Equal(specs[i].Shape, shape) {
				t.Errorf("%d×%d K=%d %s: parameter %d is %s %v, PyTorch's state_dict has %s %v", c.InputH, c.InputW, c.K, c.LossType(), i, specs[i].Name, specs[i].Shape, name, shape)
			}
		}
		blocks := l.Blocks()
		if len(ref.Maps) != len(blocks) {
			t.Errorf("PyTorch reports %d blocks, the table has %d", len(ref.Maps), len(blocks))
		}
		for _, b := range blocks {
			if got, want := []int64{b.Out, b.OutH, b.OutW}, ref.Maps[b.Module]; !slices.Equal(got, want) {
				t.Errorf("%d×%d: %s output %v, PyTorch %v", c.InputH, c.InputW, b.Module, got, want)
			}
		}
		if got := l.FLOPs(); got != ref.FLOPs {
			t.Errorf("%d×%d K=%d %s: FLOPs %d, PyTorch's hooks count %d", c.InputH, c.InputW, c.K, c.LossType(), got, ref.FLOPs)
		}
		t.Logf("%d×%d K=%d %s: %d parameters (%d values), %d FLOPs, as PyTorch", c.InputH, c.InputW, c.K, c.LossType(), len(specs), l.NumParams(), ref.FLOPs)
	}
}

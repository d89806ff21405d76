package onnx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/version"

	"google.golang.org/protobuf/encoding/protowire"
)

// fields decodes one protobuf message into field number -> raw values
// (varints as uint64, fixed32 as uint32, bytes as []byte).
func fields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	m := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v any
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			v, n = protowire.ConsumeFixed32(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		m[num] = append(m[num], v)
		b = b[n:]
	}
	return m
}

func str(v any) string { return string(v.([]byte)) }

// TestExportStructure decodes the exported protobuf independently of the
// encoder and checks the header, interface, initializers and operators.
func TestExportStructure(t *testing.T) {
	cfg := glcnn.Config{InputH: 64, InputW: 44, K: 7, MinAge: 3}
	ws := randomWeights(t, cfg, 3)
	var buf bytes.Buffer
	if err := Export(&buf, ws, cfg); err != nil {
		t.Fatal(err)
	}
	model := fields(t, buf.Bytes())
	if got := model[1][0].(uint64); got != 7 {
		t.Errorf("ir_version %d, want 7", got)
	}
	if got := str(model[2][0]); got != "gaitord "+version.Version {
		t.Errorf("producer_name %q", got)
	}
	opset := fields(t, model[8][0].([]byte))
	if got := opset[2][0].(uint64); got != 13 || str(opset[1][0]) != "" {
		t.Errorf("opset_import %v, want default domain v13", opset)
	}
	graph := fields(t, model[7][0].([]byte))

	// Input gei: float [N,1,64,44].
	if len(graph[11]) != 1 {
		t.Fatalf("%d graph inputs, want 1", len(graph[11]))
	}
	vi := fields(t, graph[11][0].([]byte))
	tt := fields(t, fields(t, fields(t, vi[2][0].([]byte))[1][0].([]byte))[2][0].([]byte))
	var dims []any
	for _, d := range tt[1] {
		f := fields(t, d.([]byte))
		if p, ok := f[2]; ok {
			dims = append(dims, str(p[0]))
		} else {
			dims = append(dims, int(f[1][0].(uint64)))
		}
	}
	if str(vi[1][0]) != "gei" || !slices.Equal(dims, []any{"N", 1, 64, 44}) {
		t.Errorf("input %q dims %v, want gei [N 1 64 44]", str(vi[1][0]), dims)
	}
	var outs []string
	for _, o := range graph[12] {
		outs = append(outs, str(fields(t, o.([]byte))[1][0]))
	}
	if !slices.Equal(outs, []string{"age_logits", "gender_logits", "age"}) {
		t.Errorf("outputs %v", outs)
	}

	// Every parameter is an initializer with its PyTorch name, shape and data.
	inits := map[string]map[protowire.Number][]any{}
	for _, b := range graph[5] {
		f := fields(t, b.([]byte))
		inits[str(f[8][0])] = f
	}
	for _, s := range cfg.Specs() {
		f, ok := inits[s.Name]
		if !ok {
			t.Errorf("initializer %q missing", s.Name)
			continue
		}
		var shape []int64
		for _, d := range f[1] {
			shape = append(shape, int64(d.(uint64)))
		}
		raw := f[9][0].([]byte)
		if !slices.Equal(shape, s.Shape) || f[2][0].(uint64) != 1 || len(raw) != 4*len(ws[s.Name].Data) {
			t.Errorf("%s: dims %v type %v bytes %d", s.Name, shape, f[2][0], len(raw))
			continue
		}
		for _, i := range []int{0, len(ws[s.Name].Data) - 1} {
			if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != ws[s.Name].Data[i] {
				t.Errorf("%s[%d] = %g, want %g", s.Name, i, got, ws[s.Name].Data[i])
			}
		}
	}
	if f := inits["min_age"]; f == nil || math.Float32frombits(binary.LittleEndian.Uint32(f[9][0].([]byte))) != 3 {
		t.Error("min_age initializer missing or not 3")
	}

	// Operator census: 3 global/trunk + 2×3 strip conv blocks = 9 convs.
	count := map[string]int{}
	for _, n := range graph[1] {
		count[str(fields(t, n.([]byte))[4][0])]++
	}
	want := map[string]int{"Conv": 9, "LeakyRelu": 11, "MaxPool": 9, "Slice": 6, "Concat": 3,
		"Flatten": 1, "Gemm": 4, "Sigmoid": 1, "ReduceSum": 1, "Add": 1}
	for op, n := range want {
		if count[op] != n {
			t.Errorf("%d %s nodes, want %d", count[op], op, n)
		}
	}
	if len(count) != len(want) {
		t.Errorf("operator census %v, want exactly %v", count, want)
	}
}

// The operators each loss type's age decoding adds to the trunk's and its
// metadata: the census of every graph, and the age_logits width.
func TestExportEveryLossTypeStructure(t *testing.T) {
	trunk := map[string]int{"Conv": 9, "LeakyRelu": 11, "MaxPool": 9, "Slice": 6, "Concat": 3, "Flatten": 1, "Gemm": 4}
	for _, c := range []struct {
		loss  glcnn.LossType
		width int
		extra map[string]int
	}{
		{glcnn.LossRanking, 7, map[string]int{"Sigmoid": 1, "ReduceSum": 1, "Add": 1}},
		{glcnn.LossCORAL, 7, map[string]int{"Add": 2, "Sigmoid": 1, "ReduceSum": 1}}, // the bias add, then min_age
		{glcnn.LossCORN, 7, map[string]int{"Neg": 2, "Softplus": 1, "CumSum": 1, "Exp": 1, "ReduceSum": 1, "Add": 1}},
		{glcnn.LossDLDL, 8, map[string]int{"Softmax": 1, "MatMul": 1, "Add": 1}},
		{glcnn.LossMeanVariance, 8, map[string]int{"Softmax": 1, "MatMul": 1, "Add": 1}},
		{glcnn.LossL1, 1, map[string]int{"Clip": 1, "Reshape": 1}},
	} {
		cfg := glcnn.Config{InputH: 64, InputW: 44, K: 7, MinAge: 3, Loss: c.loss}
		var buf bytes.Buffer
		if err := Export(&buf, randomWeights(t, cfg, 3), cfg); err != nil {
			t.Fatal(err)
		}
		model := fields(t, buf.Bytes())
		meta := map[string]string{}
		for _, e := range model[14] {
			f := fields(t, e.([]byte))
			meta[str(f[1][0])] = str(f[2][0])
		}
		if meta["loss_type"] != string(c.loss) || meta["k"] != "7" {
			t.Errorf("%s: metadata %v", c.loss, meta)
		}
		graph := fields(t, model[7][0].([]byte))
		count := map[string]int{}
		for _, n := range graph[1] {
			count[str(fields(t, n.([]byte))[4][0])]++
		}
		want := map[string]int{}
		for op, n := range trunk {
			want[op] = n
		}
		for op, n := range c.extra {
			want[op] += n
		}
		if fmt.Sprint(count) != fmt.Sprint(want) {
			t.Errorf("%s: operators %v, want %v", c.loss, count, want)
		}
		vi := fields(t, graph[12][0].([]byte))
		tt := fields(t, fields(t, vi[2][0].([]byte))[1][0].([]byte))
		dims := fields(t, tt[2][0].([]byte))[1]
		if w := fields(t, dims[1].([]byte))[1][0].(uint64); str(vi[1][0]) != OutputAgeLogits || int(w) != c.width {
			t.Errorf("%s: %s has %d columns, want %d", c.loss, str(vi[1][0]), w, c.width)
		}
	}
}

package onnx

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/glcnn"
)

var update = flag.Bool("update", false, "rewrite testdata/graph-*.txt from the current exporter")

// TestGraphGolden renders the exported graph (header, metadata, interface,
// every node with its attributes, every initializer's name, type and shape,
// and the values of the small int64/float constants) as text, decoded
// independently of the encoder, and compares it with testdata: any change to
// the graph's structure shows up as a diff. Weight values are not part of the
// rendering (TestExportStructure and the ONNX Runtime tests check those).
func TestGraphGolden(t *testing.T) {
	type golden struct {
		cfg  glcnn.Config
		file string
		int8 bool // ExportInt8 with fixedCalibration
	}
	cases := []golden{
		{glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0}, "graph-64x44-k100.txt", false},
		{glcnn.Config{InputH: 128, InputW: 88, K: 90, MinAge: 2}, "graph-128x88-k90.txt", false},
		{glcnn.Config{InputH: 64, InputW: 44, K: 100, MinAge: 0}, "graph-64x44-k100-int8.txt", true},
	}
	for _, lt := range glcnn.LossTypes()[1:] { // each other loss type's head and decoding
		cases = append(cases, golden{glcnn.Config{InputH: 64, InputW: 44, K: 10, MinAge: 3, Loss: lt}, "graph-64x44-k10-" + string(lt) + ".txt", false})
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var buf bytes.Buffer
			export := func() error { return Export(&buf, randomWeights(t, c.cfg, 1), c.cfg) }
			if c.int8 {
				export = func() error {
					return ExportInt8(&buf, randomWeights(t, c.cfg, 1), c.cfg, Int8{Calibration: fixedCalibration(t, c.cfg), Source: "fixture"}, nil)
				}
			}
			if err := export(); err != nil {
				t.Fatal(err)
			}
			got := renderModel(t, buf.Bytes())
			path := filepath.Join("testdata", c.file)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGraphGolden -update ./internal/onnx/ to create it)", err)
			}
			if got != string(want) {
				gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
				for i := range max(len(gl), len(wl)) {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("%s line %d:\n got %q\nwant %q", path, i+1, g, w)
					}
				}
			}
		})
	}
}

// renderModel prints a ModelProto (without producer_name, which carries the
// build version) one fact per line.
func renderModel(t *testing.T, b []byte) string {
	t.Helper()
	var sb strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format+"\n", a...) }
	m := fields(t, b)
	opset := fields(t, m[8][0].([]byte))
	p("ir_version %d opset %q %d", m[1][0], str(opset[1][0]), opset[2][0])
	p("doc %q", str(m[6][0]))
	for _, e := range m[14] {
		f := fields(t, e.([]byte))
		p("metadata %s = %s", str(f[1][0]), str(f[2][0]))
	}
	g := fields(t, m[7][0].([]byte))
	p("graph %q", str(g[2][0]))
	for _, v := range g[11] {
		p("input %s", renderValueInfo(t, v.([]byte)))
	}
	for _, v := range g[12] {
		p("output %s", renderValueInfo(t, v.([]byte)))
	}
	for _, n := range g[1] {
		f := fields(t, n.([]byte))
		var attrs []string
		for _, a := range f[5] {
			af := fields(t, a.([]byte))
			var val string
			switch af[20][0].(uint64) {
			case 1:
				val = fmt.Sprint(math.Float32frombits(af[2][0].(uint32)))
			case 2:
				val = fmt.Sprint(int64(af[3][0].(uint64)))
			case 7:
				var is []int64
				for _, x := range af[8] {
					is = append(is, int64(x.(uint64)))
				}
				val = fmt.Sprint(is)
			default:
				t.Fatalf("attribute type %d", af[20][0])
			}
			attrs = append(attrs, str(af[1][0])+"="+val)
		}
		p("%s", strings.TrimSpace(fmt.Sprintf("node %s %s in=%s out=%s %s", str(f[4][0]), str(f[3][0]), strs(f[1]), strs(f[2]), strings.Join(attrs, " "))))
	}
	for _, in := range g[5] {
		f := fields(t, in.([]byte))
		var dims []int64
		for _, d := range f[1] {
			dims = append(dims, int64(d.(uint64)))
		}
		raw := f[9][0].([]byte)
		line := fmt.Sprintf("init %s type %d dims %v bytes %d", str(f[8][0]), f[2][0], dims, len(raw))
		if name := str(f[8][0]); len(raw) <= 32 && !strings.Contains(name, ".") { // constants, not parameters: print their values
			switch f[2][0].(uint64) {
			case 7:
				var vs []int64
				for i := 0; i < len(raw); i += 8 {
					vs = append(vs, int64(binary.LittleEndian.Uint64(raw[i:])))
				}
				line += fmt.Sprintf(" = %v", vs)
			case 2: // uint8 zero points
				line += fmt.Sprintf(" = %v", []byte(raw))
			case 1:
				var vs []float32
				for i := 0; i < len(raw); i += 4 {
					vs = append(vs, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
				}
				line += fmt.Sprintf(" = %v", vs)
			}
		}
		p("%s", line)
	}
	return sb.String()
}

func renderValueInfo(t *testing.T, b []byte) string {
	t.Helper()
	vi := fields(t, b)
	tt := fields(t, fields(t, vi[2][0].([]byte))[1][0].([]byte))
	var dims []string
	for _, d := range fields(t, tt[2][0].([]byte))[1] {
		f := fields(t, d.([]byte))
		if p, ok := f[2]; ok {
			dims = append(dims, str(p[0]))
		} else {
			dims = append(dims, fmt.Sprint(f[1][0]))
		}
	}
	return fmt.Sprintf("%s elem_type %d [%s]", str(vi[1][0]), tt[1][0], strings.Join(dims, " "))
}

func strs(vs []any) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = str(v)
	}
	return "[" + strings.Join(s, " ") + "]"
}

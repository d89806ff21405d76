package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// handAssembled is the expected encoding of tinyTensors/tinyMeta, built
// byte by byte from the format's description rather than by Encode: sorted
// keys, "a" first in the data, header padded with spaces to 8 bytes.
func handAssembled(t *testing.T) []byte {
	t.Helper()
	header := `{"__metadata__":{"k":"v"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`
	if len(header) != 131 {
		t.Fatalf("test header is %d bytes", len(header))
	}
	header += "     " // 131 → 136, a multiple of 8
	want := []byte{136, 0, 0, 0, 0, 0, 0, 0}
	want = append(want, header...)
	want = append(want, 7, 9)                   // a: U8 [7, 9]
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // b: 1.0f = 0x3f800000, little-endian
	return want
}

var tinyMeta = map[string]string{"k": "v"}

func tinyTensors() []Tensor {
	return []Tensor{
		FromFloat32("b", []int64{1}, []float32{1}),
		{Name: "a", DType: "U8", Shape: []int64{2}, Data: []byte{7, 9}},
	}
}

func TestEncodeByteExact(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, tinyTensors(), tinyMeta); err != nil {
		t.Fatal(err)
	}
	if want := handAssembled(t); !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoded\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

func TestWriteByteExactAndReadsHandAssembled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tiny.safetensors")
	if err := Write(path, tinyTensors(), tinyMeta); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := handAssembled(t); !bytes.Equal(got, want) {
		t.Fatalf("written\n%q\nwant\n%q", got, want)
	}
	// The hand-assembled bytes, read independently of Encode.
	hand := filepath.Join(dir, "hand.safetensors")
	if err := os.WriteFile(hand, handAssembled(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(hand)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, err := f.Tensor("a")
	if err != nil || a.DType != "U8" || !reflect.DeepEqual(a.Shape, []int64{2}) || !bytes.Equal(a.Data, []byte{7, 9}) {
		t.Fatalf("a = %+v, %v", a, err)
	}
	b, err := f.Tensor("b")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := b.Float32(); err != nil || !reflect.DeepEqual(v, []float32{1}) {
		t.Fatalf("b = %v, %v", v, err)
	}
	if !reflect.DeepEqual(f.Metadata(), tinyMeta) || f.Name() != hand {
		t.Fatalf("metadata %v name %s", f.Metadata(), f.Name())
	}
}

func le64(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func TestRoundTripFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := os.WriteFile(path, []byte("old contents"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := []Tensor{
		FromFloat32("x.weight", []int64{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
		FromFloat32("x.bias", []int64{2}, []float32{0.25, float32(math.Inf(-1))}),
		FromFloat32("scalar", []int64{}, []float32{3}),
		FromFloat32("empty", []int64{0, 3}, nil),
		{Name: "f64", DType: "F64", Shape: []int64{2}, Data: le64(math.Pi, math.Copysign(0, -1))},
		{Name: "steps", DType: "I64", Shape: []int64{1}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Name: "ids <&>", DType: "I32", Shape: []int64{1, 1}, Data: []byte{1, 2, 3, 4}},
	}
	meta := map[string]string{"input_height": "64", "note": "ünïcode \"quoted\"\n"}
	if err := Write(path, in, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "empty,f64,ids <&>,scalar,steps,x.bias,x.weight" {
		t.Fatalf("names %s", got)
	}
	if !reflect.DeepEqual(f.Metadata(), meta) {
		t.Fatalf("metadata %q", f.Metadata())
	}
	for _, want := range in {
		got, err := f.Tensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("%s: got %+v want %+v", want.Name, got, want)
		}
	}
	w, _ := f.Tensor("x.weight")
	if v, err := w.Float32(); err != nil || !reflect.DeepEqual(v, []float32{1, 2, 3, 4, 5, -6.5}) {
		t.Fatalf("x.weight values %v %v", v, err)
	}
	if _, err := f.Tensor("nope"); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing tensor: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestWriteRefusesBadTensorsAndKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.safetensors")
	if err := Write(path, tinyTensors(), tinyMeta); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	cases := map[string][]Tensor{
		`tensor "a": 3 bytes for F32 shape [1], want 4`:       {{Name: "a", DType: "F32", Shape: []int64{1}, Data: []byte{1, 2, 3}}},
		`tensor "a" appears twice`:                            {FromFloat32("a", []int64{1}, []float32{1}), FromFloat32("a", []int64{1}, []float32{1})},
		`tensor "a": unknown dtype "Q"`:                       {{Name: "a", DType: "Q", Shape: []int64{1}, Data: []byte{1}}},
		`tensor name "" not allowed`:                          {FromFloat32("", []int64{1}, []float32{1})},
		`tensor name "__metadata__" not allowed`:              {FromFloat32("__metadata__", []int64{1}, []float32{1})},
		`tensor name "\xff" not allowed`:                      {FromFloat32("\xff", []int64{1}, []float32{1})},
		`tensor "n": negative dimension`:                      {{Name: "n", DType: "U8", Shape: []int64{-1}}},
		`tensor "o": shape [4294967296 4294967296] overflows`: {{Name: "o", DType: "U8", Shape: []int64{1 << 32, 1 << 32}}},
	}
	for want, ts := range cases {
		err := Write(path, ts, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("err = %v, want %q and the path", err, want)
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
			t.Fatalf("a refused write changed the file")
		}
	}
	if err := Write(path, nil, map[string]string{"k": "\xff"}); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("bad metadata: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
	missing := filepath.Join(dir, "no", "such", "dir", "x.safetensors")
	if err := Write(missing, tinyTensors(), nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("write into a missing folder: %v", err)
	}
}

func TestEmptyFile(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, "{}      "...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("%q", buf.Bytes())
	}
	f, err := Read(bytes.NewReader(want), int64(len(want)))
	if err != nil || len(f.Names()) != 0 || len(f.Metadata()) != 0 {
		t.Fatalf("%v %v", f, err)
	}
}

func raw(header string, data []byte) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestReadRefusesMalformedHeaders(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	u8 := func(name string, begin, end int, shape string) string {
		return `"` + name + `":{"dtype":"U8","shape":` + shape + `,"data_offsets":[` + itoa(begin) + `,` + itoa(end) + `]}`
	}
	cases := []struct {
		want string
		file []byte
	}{
		{"7 bytes, shorter than the 8-byte header length", make([]byte, 7)},
		{"header length 4611686018427387904 exceeds the file's 2 bytes", append(huge, "{}"...)},
		{"header length 0 is too short", make([]byte, 8)},
		{"header: want a JSON object, got [", raw("[1,2]", nil)},
		{"header: ", raw(`{"a":`, nil)},
		{"header: 3 bytes of trailing data", raw(`{} xx`, nil)},
		{"header is not valid UTF-8", raw("{\"\xff\":1}", nil)},
		{`header: key "a" appears twice`, raw(`{`+u8("a", 0, 1, "[1]")+`,`+u8("a", 1, 2, "[1]")+`}`, make([]byte, 2))},
		{`tensor "a": data_offsets end 16 past the data section's 8 bytes`, raw(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8))},
		{`tensor "a": data_offsets [0, 8] hold 8 bytes, F32 shape [4] needs 16`, raw(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{`tensor "b": data_offsets [2, 4] overlap tensor "a"`, raw(`{`+u8("a", 0, 4, "[4]")+`,`+u8("b", 2, 4, "[2]")+`}`, make([]byte, 4))},
		{`tensor "a": data_offsets [2, 4] leave a gap of 2 bytes`, raw(`{`+u8("a", 2, 4, "[2]")+`}`, make([]byte, 4))},
		{`tensor "b": data_offsets [3, 4] leave a gap of 1 bytes`, raw(`{`+u8("a", 0, 2, "[2]")+`,`+u8("b", 3, 4, "[1]")+`}`, make([]byte, 4))},
		{`tensor "a": negative dimension in shape [-1]`, raw(`{`+u8("a", 0, 0, "[-1]")+`}`, nil)},
		{`tensor "a": shape [4294967296 4294967296] overflows`, raw(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil)},
		{`tensor "a": shape: "99999999999999999999" is not an integer`, raw(`{`+u8("a", 0, 0, "[99999999999999999999]")+`}`, nil)},
		{`tensor "a": shape: "1.5" is not an integer`, raw(`{`+u8("a", 0, 0, "[1.5]")+`}`, nil)},
		{`tensor "a": shape: want an array of integers`, raw(`{`+u8("a", 0, 1, `"1"`)+`}`, make([]byte, 1))},
		{`tensor "a": unknown dtype "F128"`, raw(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16))},
		{`tensor "a": dtype: want a string`, raw(`{"a":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4))},
		{`tensor "a": data_offsets [4, 2] invalid`, raw(`{`+u8("a", 4, 2, "[1]")+`}`, make([]byte, 4))},
		{`tensor "a": data_offsets [-1, 0] invalid`, raw(`{`+u8("a", -1, 0, "[1]")+`}`, nil)},
		{`tensor "a": data_offsets: want [begin, end], got 3 numbers`, raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, make([]byte, 1))},
		{`data section holds 5 bytes, tensors cover 4`, raw(`{`+u8("a", 0, 4, "[4]")+`}`, make([]byte, 5))},
		{`tensor "a": unknown field "x"`, raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, make([]byte, 1))},
		{`tensor "a": missing field "shape"`, raw(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, make([]byte, 1))},
		{`tensor "a": want a JSON object, got a string`, raw(`{"a":"x"}`, nil)},
		{`tensor "line\nbreak": negative dimension`, raw(`{`+u8(`line\nbreak`, 0, 0, "[-1]")+`}`, nil)},
		{"tensor with an empty name", raw(`{`+u8("", 0, 1, "[1]")+`}`, make([]byte, 1))},
		{`__metadata__ "a": want a string, got "1"`, raw(`{"__metadata__":{"a":1}}`, nil)},
		{`__metadata__: want an object of strings`, raw(`{"__metadata__":[1]}`, nil)},
	}
	for _, c := range cases {
		_, err := ReadNamed(bytes.NewReader(c.file), int64(len(c.file)), "bad.safetensors")
		if err == nil {
			t.Errorf("%q: accepted", c.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "safetensors bad.safetensors: ") || !strings.Contains(msg, c.want) {
			t.Errorf("err = %v\nwant %q", err, c.want)
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("multi-line error %q", msg)
		}
	}
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

// zeros is a ReaderAt of a claimed size that serves a header and zeros,
// recording the largest read; it lets a test claim a huge file without one.
type zeros struct {
	head    []byte
	size    int64
	maxRead int
}

func (z *zeros) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > z.maxRead {
		z.maxRead = len(p)
	}
	if off >= z.size {
		return 0, io.EOF
	}
	n := copy(p, z.head[min(off, int64(len(z.head))):])
	clear(p[n:])
	if int64(len(p)) > z.size-off {
		return int(z.size - off), io.EOF
	}
	return len(p), nil
}

func TestReadChecksBeforeAllocating(t *testing.T) {
	// A 1 TiB "file" whose header claims 1 GiB: refused by MaxHeader, and
	// never read (a read would need a 1 GiB buffer).
	head := make([]byte, 8)
	binary.LittleEndian.PutUint64(head, 1<<30)
	z := &zeros{head: head, size: 1 << 40}
	if _, err := Read(z, z.size); err == nil || !strings.Contains(err.Error(), "exceeds the 100000000-byte limit") || !strings.Contains(err.Error(), "safetensors stream") {
		t.Fatalf("err = %v", err)
	}
	if z.maxRead > 8 {
		t.Fatalf("read %d bytes before refusing", z.maxRead)
	}
	// A tensor claiming 2^60 bytes in a small file: refused from the header.
	file := raw(`{"a":{"dtype":"U8","shape":[1152921504606846976],"data_offsets":[0,1152921504606846976]}}`, make([]byte, 16))
	z = &zeros{head: file, size: int64(len(file))}
	if _, err := Read(z, z.size); err == nil || !strings.Contains(err.Error(), `tensor "a": data_offsets end 1152921504606846976 past`) {
		t.Fatalf("err = %v", err)
	}
}

func TestTensorReportsShortReader(t *testing.T) {
	// The caller claims 4 more bytes than the reader has: the header checks
	// out against the claim, the read fails cleanly.
	file := raw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, nil)
	f, err := ReadNamed(bytes.NewReader(file), int64(len(file))+4, "short")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("a"); err == nil || !strings.Contains(err.Error(), `safetensors short: tensor "a"`) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.safetensors")
	if _, err := Open(missing); err == nil || err.Error() != "safetensors "+missing+": no such file or directory" {
		t.Fatalf("err = %v", err)
	}
	dir := t.TempDir()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dir+": not a regular file") {
		t.Fatalf("err = %v", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	os.WriteFile(bad, raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1}), 0o644)
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), "safetensors "+bad+`: tensor "a": data_offsets end 2 past`) {
		t.Fatalf("err = %v", err)
	}
	// Read names an *os.File by its path.
	fh, _ := os.Open(bad)
	defer fh.Close()
	if _, err := Read(fh, 3); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v", err)
	}
}

func TestFloat32Errors(t *testing.T) {
	if _, err := (Tensor{Name: "i", DType: "I32", Shape: []int64{1}, Data: make([]byte, 4)}).Float32(); err == nil || !strings.Contains(err.Error(), `tensor "i" has dtype I32, want F32`) {
		t.Fatalf("err = %v", err)
	}
	if _, err := (Tensor{Name: "s", DType: "F32", Shape: []int64{2}, Data: make([]byte, 4)}).Float32(); err == nil || !strings.Contains(err.Error(), `tensor "s": 4 bytes for F32 shape [2], want 8`) {
		t.Fatalf("err = %v", err)
	}
	if n, ok := DTypeSize("BF16"); !ok || n != 2 {
		t.Fatalf("BF16 size %d %v", n, ok)
	}
	if _, ok := DTypeSize("F128"); ok {
		t.Fatal("F128 known")
	}
}

// pyCheck parses a safetensors file with the standard library only (json +
// struct) and, when torch is installed, also with torch.frombuffer; it
// prints what it found.
const pyCheck = `
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
assert n % 8 == 0, n
h = json.loads(b[8:8+n].decode("utf-8"))
data = b[8+n:]
meta = h.pop("__metadata__", {})
out = ["meta %s" % json.dumps(meta, sort_keys=True)]
fmt = {"F32": "f", "F64": "d", "I64": "q", "U8": "B"}
for name in sorted(h):
    e = h[name]
    s, t = e["data_offsets"]
    count = 1
    for d in e["shape"]:
        count *= d
    vals = struct.unpack("<%d%s" % (count, fmt[e["dtype"]]), data[s:t])
    out.append("%s %s %s %s" % (name, e["dtype"], e["shape"], list(vals)))
try:
    import torch
except ImportError:
    out.append("torch absent")
else:
    s, t = h["w"]["data_offsets"]
    w = torch.frombuffer(bytearray(data[s:t]), dtype=torch.float32).reshape(h["w"]["shape"])
    out.append("torch %s" % w.tolist())
print("\n".join(out))
`

func TestPythonReadsOurFiles(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("interoperability check skipped: /usr/bin/python3 not installed")
	}
	path := filepath.Join(t.TempDir(), "py.safetensors")
	err := Write(path, []Tensor{
		FromFloat32("w", []int64{2, 2}, []float32{1.5, -2, 0.25, 8}),
		{Name: "d", DType: "F64", Shape: []int64{1}, Data: le64(0.1)},
		{Name: "n", DType: "I64", Shape: []int64{2}, Data: []byte{3, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{Name: "u", DType: "U8", Shape: []int64{3}, Data: []byte{0, 128, 255}},
	}, map[string]string{"format": "pt", "k": "100"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", pyCheck, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		`meta {"format": "pt", "k": "100"}`,
		`d F64 [1] [0.1]`,
		`n I64 [2] [3, -2]`,
		`u U8 [3] [0, 128, 255]`,
		`w F32 [2, 2] [1.5, -2.0, 0.25, 8.0]`,
	}
	if !reflect.DeepEqual(lines[:len(want)], want) {
		t.Fatalf("python read\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	switch last := lines[len(lines)-1]; last {
	case "torch absent":
		t.Log("torch not importable: checked with json + struct only; torch.frombuffer part skipped")
	case "torch [[1.5, -2.0], [0.25, 8.0]]":
	default:
		t.Fatalf("torch read %q", last)
	}
}

// FuzzRead: arbitrary bytes never panic; errors are one line and name the
// file; whatever is accepted can be read back tensor by tensor, covers the
// data section exactly, and survives Encode → Read unchanged.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, tinyTensors(), tinyMeta)
	f.Add(buf.Bytes())
	f.Add(raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := ReadNamed(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "safetensors fuzz: ") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		n := int64(binary.LittleEndian.Uint64(b))
		var total int64
		var ts []Tensor
		for _, name := range sf.Names() {
			tn, err := sf.Tensor(name)
			if err != nil {
				t.Fatalf("accepted header, unreadable tensor %s: %v", name, err)
			}
			total += int64(len(tn.Data))
			ts = append(ts, tn)
		}
		if total != int64(len(b))-8-n {
			t.Fatalf("tensors hold %d bytes, data section %d", total, int64(len(b))-8-n)
		}
		var re bytes.Buffer
		if err := Encode(&re, ts, sf.Metadata()); err != nil {
			t.Fatalf("accepted file does not re-encode: %v", err)
		}
		back, err := Read(bytes.NewReader(re.Bytes()), int64(re.Len()))
		if err != nil {
			t.Fatalf("re-encoded file refused: %v", err)
		}
		if !reflect.DeepEqual(back.Names(), sf.Names()) || !reflect.DeepEqual(back.Metadata(), sf.Metadata()) {
			t.Fatalf("re-encoding changed names or metadata")
		}
		for _, want := range ts {
			got, _ := back.Tensor(want.Name)
			if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("re-encoding changed tensor %q", want.Name)
			}
		}
	})
}

// File.Float32 gives what Tensor + Tensor.Float32 give (values written by
// FromFloat32 and read back bit for bit, -0 and ±Inf included), reads only
// that tensor's bytes, and refuses other dtypes, missing names and a short
// reader with the file and tensor named.
func TestFileFloat32(t *testing.T) {
	want := map[string][]float32{
		"a":     {1, -2.5, float32(math.Inf(1)), float32(math.Copysign(0, -1))},
		"b":     {3.25},
		"empty": {},
	}
	in := []Tensor{
		FromFloat32("a", []int64{2, 2}, want["a"]),
		FromFloat32("b", []int64{}, want["b"]),
		FromFloat32("empty", []int64{0}, nil),
		{Name: "u", DType: "U8", Shape: []int64{3}, Data: []byte{1, 2, 3}},
	}
	var buf bytes.Buffer
	if err := Encode(&buf, in, nil); err != nil {
		t.Fatal(err)
	}
	r := &gaitordtest.ReadRecorder{B: buf.Bytes()}
	f, err := ReadNamed(r, int64(buf.Len()), "mem")
	if err != nil {
		t.Fatal(err)
	}
	base := 8 + int64(binary.LittleEndian.Uint64(buf.Bytes()))
	for name, v := range want {
		r.Reads = nil
		got, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(v) {
			t.Fatalf("%s: %v, want %v", name, got, v)
		}
		for i := range v {
			if math.Float32bits(got[i]) != math.Float32bits(v[i]) {
				t.Fatalf("%s[%d] = %v, want %v", name, i, got[i], v[i])
			}
		}
		tn, _ := f.Tensor(name)
		viaTensor, _ := tn.Float32()
		if !reflect.DeepEqual(viaTensor, got) {
			t.Fatalf("%s: Float32 %v, Tensor.Float32 %v", name, got, viaTensor)
		}
		if name == "a" { // data section order: a (16 bytes) first
			if len(r.Reads) < 1 || r.Reads[0] != [2]int64{base, base + 16} {
				t.Fatalf("a: reads %v, want only [%d %d]", r.Reads, base, base+16)
			}
		}
		if dtype, shape, ok := f.Info(name); !ok || dtype != "F32" || prod(shape) != int64(len(v)) {
			t.Fatalf("%s: Info %s %v %v", name, dtype, shape, ok)
		}
	}
	if _, _, ok := f.Info("nope"); ok {
		t.Fatal("Info of a missing tensor")
	}
	if _, err := f.Float32("u"); err == nil || err.Error() != `safetensors mem: tensor "u" has dtype U8, want F32` {
		t.Fatalf("U8: %v", err)
	}
	if _, err := f.Float32("nope"); err == nil || err.Error() != `safetensors mem: no tensor "nope"` {
		t.Fatalf("missing: %v", err)
	}
	short, err := ReadNamed(bytes.NewReader(buf.Bytes()[:buf.Len()-8]), int64(buf.Len()), "short")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.Float32("b"); err == nil || !strings.Contains(err.Error(), `safetensors short: tensor "b"`) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short reader: %v", err)
	}
}

func prod(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

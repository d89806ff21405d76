package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestByteExactSmallFile(t *testing.T) {
	var buf bytes.Buffer
	err := Encode(&buf, []Tensor{
		FromFloat32("b", []int64{1}, []float32{1}),
		{Name: "a", DType: "U8", Shape: []int64{2}, Data: []byte{7, 9}},
	}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	// Assembled by hand: sorted keys, "a" first in the data, header padded to 8.
	header := `{"__metadata__":{"k":"v"},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := make([]byte, 8)
	binary.LittleEndian.PutUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = append(want, 7, 9, 0, 0, 0x80, 0x3f) // 1.0f = 0x3f800000 little-endian
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoded\n%q\nwant\n%q", buf.Bytes(), want)
	}
}

func TestRoundTripFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	in := []Tensor{
		FromFloat32("x.weight", []int64{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
		FromFloat32("x.bias", []int64{2}, []float32{0.25, -1}),
		FromFloat32("scalar", []int64{}, []float32{3}),
	}
	if err := Write(path, in, map[string]string{"input_height": "64"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Names(), ","); got != "scalar,x.bias,x.weight" {
		t.Fatalf("names %s", got)
	}
	if f.Metadata()["input_height"] != "64" {
		t.Fatalf("metadata %v", f.Metadata())
	}
	w, err := f.Tensor("x.weight")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := w.Float32()
	if len(v) != 6 || v[5] != -6.5 || w.Shape[0] != 2 || w.Shape[1] != 3 {
		t.Fatalf("x.weight %v %v", w.Shape, v)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
}

func TestWriteRefusesBadTensors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]Tensor{
		"3 bytes for F32":   {{Name: "a", DType: "F32", Shape: []int64{1}, Data: []byte{1, 2, 3}}},
		"appears twice":     {FromFloat32("a", []int64{1}, []float32{1}), FromFloat32("a", []int64{1}, []float32{1})},
		`unknown dtype "Q"`: {{Name: "a", DType: "Q", Shape: []int64{1}, Data: []byte{1}}},
	}
	for want, ts := range cases {
		path := filepath.Join(dir, "x.safetensors")
		err := Write(path, ts, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want %q", err, want)
		}
		if _, serr := os.Stat(path); serr == nil {
			t.Fatal("a refused write left a file")
		}
	}
}

func raw(header string, data []byte) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestReadRefusesLyingHeaders(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	cases := map[string][]byte{
		"shorter than the 8-byte": {1, 2},
		"exceeds the file":        append(huge, []byte("{}")...),
		"not a JSON object":       raw("[1,2]", nil),
		"past the data section":   raw(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 8)),
		"want 16":                 raw(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"overlaps":                raw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)),
		"gap of 2 bytes":          raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, make([]byte, 4)),
		"negative dimension":      raw(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, nil),
		"overflows":               raw(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, nil),
		`unknown dtype "F128"`:    raw(`{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}`, make([]byte, 16)),
		"data_offsets [4, 2]":     raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[4,2]}}`, make([]byte, 4)),
		"data section holds 5":    raw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, make([]byte, 5)),
		"unknown field":           raw(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, make([]byte, 1)),
		"__metadata__ is not":     raw(`{"__metadata__":{"a":1}}`, nil),
	}
	for want, b := range cases {
		_, err := Read(bytes.NewReader(b), int64(len(b)), "bad.safetensors")
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.safetensors") {
			t.Errorf("%q: err = %v", want, err)
		}
	}
}

// FuzzRead: arbitrary bytes never panic, and whatever is accepted can be read
// back tensor by tensor within the file's size.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Encode(&buf, []Tensor{FromFloat32("w", []int64{2}, []float32{1, 2})}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(raw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Read(bytes.NewReader(b), int64(len(b)), "fuzz")
		if err != nil {
			return
		}
		total := 0
		for _, n := range sf.Names() {
			tn, err := sf.Tensor(n)
			if err != nil {
				t.Fatalf("accepted header, unreadable tensor %s: %v", n, err)
			}
			total += len(tn.Data)
		}
		if total > len(b) {
			t.Fatalf("tensors hold %d bytes in a %d-byte file", total, len(b))
		}
	})
}

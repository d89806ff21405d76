// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON header
//
//	{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
//	 "__metadata__": {"key": "value", …}}
//
// and then the tensors' raw little-endian bytes, offsets relative to the end
// of the header.
//
// The reader validates the header against the file's real size before it
// allocates anything the header claims: a lying header (a huge length,
// offsets past the end, overlapping or gapped data, shapes that do not match
// their byte counts, duplicate names) is refused with a one-line error naming
// the file and the tensor.
//
// Why not github.com/nlpodyssey/safetensors: its validation is sound (checked
// multiplication, contiguous offsets, the data length must match), but it
// only parses a []byte holding the whole file (no io.ReaderAt, so a reader
// must load every tensor to look at one), its errors name neither the file
// nor, for size mismatches, the tensor, and its writer lays tensors out by
// dtype alignment first, where gaitord wants plain sorted-name order so that
// files are byte-for-byte predictable. The format is small enough that a
// careful implementation here is simpler than wrapping it.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/gaitord/gaitord/internal/atomicfile"
)

// MaxHeader is the largest JSON header accepted, in bytes (the reference
// implementation's limit).
const MaxHeader = 100_000_000

// metadataKey is the header entry holding the free-form string metadata.
const metadataKey = "__metadata__"

var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// DTypeSize is the size in bytes of one element of dtype ("F32" → 4), and
// false for a dtype this package does not know.
func DTypeSize(dtype string) (int, bool) {
	n, ok := dtypeSize[dtype]
	return n, ok
}

// Tensor is one named tensor with its raw little-endian bytes.
type Tensor struct {
	// Name is the tensor's key in the header, e.g. "linear_age.weight".
	Name string
	// DType is the element type as the header spells it: "F32", "F64",
	// "I64", "I32", "U8", "BF16", ….
	DType string
	// Shape lists the dimensions; empty for a scalar.
	Shape []int64
	// Data holds prod(Shape)·size(DType) bytes, little-endian.
	Data []byte
}

// FromFloat32 makes an F32 tensor holding v with the given shape. The shape
// is not checked here; Write and Encode refuse a mismatch.
func FromFloat32(name string, shape []int64, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: "F32", Shape: slices.Clone(shape), Data: b}
}

// Float32 decodes an F32 tensor's values; it refuses other dtypes and data
// whose length does not match the shape.
func (t Tensor) Float32() ([]float32, error) {
	if t.DType != "F32" {
		return nil, fmt.Errorf("tensor %q has dtype %s, want F32", t.Name, t.DType)
	}
	n, err := numBytes(t.DType, t.Shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if n != int64(len(t.Data)) {
		return nil, fmt.Errorf("tensor %q: %d bytes for F32 shape %v, want %d", t.Name, len(t.Data), t.Shape, n)
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// numBytes is prod(shape)·size(dtype), refusing unknown dtypes, negative
// dimensions and overflow of int64.
func numBytes(dtype string, shape []int64) (int64, error) {
	size, ok := dtypeSize[dtype]
	if !ok {
		return 0, fmt.Errorf("unknown dtype %q", dtype)
	}
	n := uint64(size)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v overflows: more than 2^63 bytes", shape)
		}
		n = lo
	}
	return int64(n), nil
}

// entry is one tensor's header record.
type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Encode writes tensors and metadata to w in the safetensors format. The
// header's keys are sorted ("__metadata__" included, omitted when metadata
// is empty), the tensors' data is laid out in sorted-name order, and the
// header is padded with spaces to a multiple of 8 bytes. Everything is
// checked before the first byte is written: names must be non-empty, valid
// UTF-8, unique and not "__metadata__", and each tensor's data must hold
// exactly prod(shape)·size(dtype) bytes.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := slices.Clone(tensors)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := make(map[string]any, len(ts)+1)
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("metadata %q: not valid UTF-8", k)
		}
	}
	if len(metadata) > 0 {
		header[metadataKey] = metadata
	}
	var off int64
	for i, t := range ts {
		if t.Name == "" || t.Name == metadataKey || !utf8.ValidString(t.Name) {
			return fmt.Errorf("tensor name %q not allowed", t.Name)
		}
		if i > 0 && ts[i-1].Name == t.Name {
			return fmt.Errorf("tensor %q appears twice", t.Name)
		}
		n, err := numBytes(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("tensor %q: %d bytes for %s shape %v, want %d", t.Name, len(t.Data), t.DType, t.Shape, n)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		header[t.Name] = entry{DType: t.DType, Shape: shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(header); err != nil { // map keys come out sorted
		return err
	}
	hj := bytes.TrimSuffix(hb.Bytes(), []byte("\n"))
	if len(hj) > MaxHeader {
		return fmt.Errorf("header of %d bytes exceeds the %d-byte limit", len(hj), MaxHeader)
	}
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, bytes.Repeat([]byte(" "), pad)...)
	}
	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], uint64(len(hj)))
	if _, err := w.Write(nb[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// Write encodes tensors and metadata (see Encode) to path atomically: a temp
// file in the same folder is written, synced and renamed over path, so a
// crash or a full disk leaves any previous file intact and no partial file
// behind. The file gets mode 0644.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	if err := write(path, tensors, metadata); err != nil {
		return fmt.Errorf("safetensors %s: %w", path, err)
	}
	return nil
}

func write(path string, tensors []Tensor, metadata map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Encode(w, tensors, metadata) })
}

// File is a safetensors file whose header has been read and validated; its
// tensors are read on demand.
type File struct {
	name     string
	r        io.ReaderAt
	base     int64 // offset of the data section
	entries  map[string]entry
	metadata map[string]string
	closer   io.Closer
}

// Open reads and validates path's header. Tensors are read on demand by
// Tensor; Close releases the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, unwrapPath(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("safetensors %s: not a regular file", path)
	}
	sf, err := ReadNamed(f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Close closes the underlying file when the File came from Open; otherwise
// it does nothing.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Read validates the header of a safetensors file of size bytes read from
// r. Errors name the file as r's Name() method does (an *os.File), or
// "safetensors stream" otherwise; see ReadNamed.
func Read(r io.ReaderAt, size int64) (*File, error) {
	name := "safetensors stream"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return ReadNamed(r, size, name)
}

// ReadNamed is Read with the name used in error messages. It reads only the
// 8-byte length and, once that is checked against size and MaxHeader, the
// header; nothing the header claims is allocated before it has been checked
// against size.
func ReadNamed(r io.ReaderAt, size int64, name string) (*File, error) {
	f, err := readHeader(r, size, name)
	if err != nil {
		return nil, fmt.Errorf("safetensors %s: %s", name, oneLine(err.Error()))
	}
	return f, nil
}

// field is one key of a JSON object, in file order.
type field struct {
	key string
	raw json.RawMessage
}

// objectFields splits a JSON object into its fields, refusing anything but
// an object, duplicate keys and trailing non-space bytes.
func objectFields(b []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", describe(tok))
	}
	var out []field
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("key %q: %w", key, err)
		}
		out = append(out, field{key, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if rest := b[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, fmt.Errorf("%d bytes of trailing data after the JSON object", len(rest))
	}
	return out, nil
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return string(t)
	case string:
		return "a string"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", t)
	}
}

// parseInts parses a JSON array of integers that fit int64 (signs are
// checked by the caller).
func parseInts(raw json.RawMessage, what string) ([]int64, error) {
	var nums []json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&nums); err != nil || nums == nil {
		return nil, fmt.Errorf("%s: want an array of integers, got %s", what, clip(raw))
	}
	out := make([]int64, len(nums))
	for i, n := range nums {
		v, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s is not an integer in int64 range", what, clip([]byte(n)))
		}
		out[i] = v
	}
	return out, nil
}

// parseEntry parses one tensor's record, requiring exactly the keys dtype,
// shape and data_offsets.
func parseEntry(raw json.RawMessage) (entry, error) {
	fields, err := objectFields(raw)
	if err != nil {
		return entry{}, err
	}
	var e entry
	have := map[string]bool{}
	for _, fd := range fields {
		switch fd.key {
		case "dtype":
			if err := json.Unmarshal(fd.raw, &e.DType); err != nil {
				return entry{}, fmt.Errorf("dtype: want a string, got %s", clip(fd.raw))
			}
		case "shape":
			if e.Shape, err = parseInts(fd.raw, "shape"); err != nil {
				return entry{}, err
			}
		case "data_offsets":
			offs, err := parseInts(fd.raw, "data_offsets")
			if err != nil {
				return entry{}, err
			}
			if len(offs) != 2 {
				return entry{}, fmt.Errorf("data_offsets: want [begin, end], got %d numbers", len(offs))
			}
			e.Offsets = [2]int64{offs[0], offs[1]}
		default:
			return entry{}, fmt.Errorf("unknown field %q", fd.key)
		}
		have[fd.key] = true
	}
	for _, k := range []string{"dtype", "shape", "data_offsets"} {
		if !have[k] {
			return entry{}, fmt.Errorf("missing field %q", k)
		}
	}
	return e, nil
}

func readHeader(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 8 {
		return nil, fmt.Errorf("%d bytes, shorter than the 8-byte header length", size)
	}
	var nb [8]byte
	if err := readFull(r, nb[:], 0); err != nil {
		return nil, fmt.Errorf("reading the header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > uint64(size-8) {
		return nil, fmt.Errorf("header length %d exceeds the file's %d bytes after the length", n, size-8)
	}
	if n > MaxHeader {
		return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, MaxHeader)
	}
	if n < 2 {
		return nil, fmt.Errorf("header length %d is too short for a JSON object", n)
	}
	hb := make([]byte, n) // n ≤ size-8 and ≤ MaxHeader: checked above
	if err := readFull(r, hb, 8); err != nil {
		return nil, fmt.Errorf("reading the %d-byte header: %w", n, err)
	}
	if !utf8.Valid(hb) {
		return nil, errors.New("header is not valid UTF-8")
	}
	fields, err := objectFields(hb)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	f := &File{name: name, r: r, base: 8 + int64(n), entries: make(map[string]entry, len(fields))}
	dataLen := size - f.base
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(fields))
	for _, fd := range fields {
		if fd.key == metadataKey {
			md, err := objectFields(fd.raw)
			if err != nil && !bytes.Equal(bytes.TrimSpace(fd.raw), []byte("null")) {
				return nil, fmt.Errorf("%s: want an object of strings: %w", metadataKey, err)
			}
			f.metadata = make(map[string]string, len(md))
			for _, m := range md {
				var s string
				if err := json.Unmarshal(m.raw, &s); err != nil {
					return nil, fmt.Errorf("%s %q: want a string, got %s", metadataKey, m.key, clip(m.raw))
				}
				f.metadata[m.key] = s
			}
			continue
		}
		if fd.key == "" {
			return nil, errors.New("tensor with an empty name")
		}
		e, err := parseEntry(fd.raw)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", fd.key, err)
		}
		want, err := numBytes(e.DType, e.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", fd.key, err)
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end < b {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] invalid", fd.key, b, end)
		}
		if end > dataLen {
			return nil, fmt.Errorf("tensor %q: data_offsets end %d past the data section's %d bytes", fd.key, end, dataLen)
		}
		if end-b != want {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] hold %d bytes, %s shape %v needs %d", fd.key, b, end, end-b, e.DType, e.Shape, want)
		}
		f.entries[fd.key] = e
		spans = append(spans, span{fd.key, b, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		if spans[i].end != spans[j].end {
			return spans[i].end < spans[j].end
		}
		return spans[i].name < spans[j].name
	})
	var at int64
	prev := ""
	for _, s := range spans {
		if s.begin < at {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap tensor %q", s.name, s.begin, s.end, prev)
		}
		if s.begin > at {
			return nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes before it", s.name, s.begin, s.end, s.begin-at)
		}
		at, prev = s.end, s.name
	}
	if at != dataLen {
		return nil, fmt.Errorf("data section holds %d bytes, tensors cover %d", dataLen, at)
	}
	return f, nil
}

// readFull is r.ReadAt(p, off), accepting io.EOF when all of p was read
// (io.ReaderAt allows either at the end of the input).
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// clip renders at most 40 bytes of raw JSON on one line for an error.
func clip(b []byte) string {
	s := oneLine(string(b))
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Name is the name the File was opened with (its path for Open).
func (f *File) Name() string { return f.name }

// Metadata returns a copy of the header's __metadata__ (empty, never nil,
// when there is none).
func (f *File) Metadata() map[string]string {
	out := make(map[string]string, len(f.metadata))
	for k, v := range f.metadata {
		out[k] = v
	}
	return out
}

// Names lists the tensors, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.entries))
	for n := range f.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Info is a tensor's dtype and shape from the header, without reading its
// data; ok is false when there is no such tensor.
func (f *File) Info(name string) (dtype string, shape []int64, ok bool) {
	e, ok := f.entries[name]
	if !ok {
		return "", nil, false
	}
	return e.DType, slices.Clone(e.Shape), true
}

// Float32 reads an F32 tensor's values straight into a []float32: on a
// little-endian host the file's bytes are read into the slice's memory, with
// no intermediate []byte and no decoding pass (what Tensor followed by
// Tensor.Float32 does, at twice the memory and a pass over every value). A
// caller that wants only some tensors reads only those: the others' bytes
// are never read (the header has already checked that they lie within the
// file). Errors name the file and the tensor.
func (f *File) Float32(name string) ([]float32, error) {
	e, ok := f.entries[name]
	if !ok {
		return nil, fmt.Errorf("safetensors %s: no tensor %q", f.name, name)
	}
	if e.DType != "F32" {
		return nil, fmt.Errorf("safetensors %s: tensor %q has dtype %s, want F32", f.name, name, e.DType)
	}
	n := (e.Offsets[1] - e.Offsets[0]) / 4 // = prod(shape), validated against the file size
	v := make([]float32, n)
	if n == 0 {
		return v, nil
	}
	if !littleEndian {
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		return t.Float32()
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*n)
	if err := readFull(f.r, b, f.base+e.Offsets[0]); err != nil {
		return nil, fmt.Errorf("safetensors %s: tensor %q: %w", f.name, name, err)
	}
	return v, nil
}

// littleEndian reports whether the host stores a uint16 low byte first, as
// the format does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Tensor reads one tensor's data; the error names the file and the tensor.
func (f *File) Tensor(name string) (Tensor, error) {
	e, ok := f.entries[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors %s: no tensor %q", f.name, name)
	}
	data := make([]byte, e.Offsets[1]-e.Offsets[0]) // validated against the file size
	if len(data) > 0 {
		if err := readFull(f.r, data, f.base+e.Offsets[0]); err != nil {
			return Tensor{}, fmt.Errorf("safetensors %s: tensor %q: %w", f.name, name, err)
		}
	}
	return Tensor{Name: name, DType: e.DType, Shape: slices.Clone(e.Shape), Data: data}, nil
}

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
// their byte counts) is refused with an error naming the file and tensor.
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// MaxHeader is the largest JSON header accepted (the reference
// implementation's limit).
const MaxHeader = 100 << 20

var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Tensor is one named tensor with its raw little-endian bytes.
type Tensor struct {
	Name  string
	DType string
	Shape []int64
	Data  []byte
}

// FromFloat32 makes an F32 tensor from values.
func FromFloat32(name string, shape []int64, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: "F32", Shape: slices.Clone(shape), Data: b}
}

// Float32 decodes an F32 tensor's values.
func (t Tensor) Float32() ([]float32, error) {
	if t.DType != "F32" {
		return nil, fmt.Errorf("tensor %s has dtype %s, want F32", t.Name, t.DType)
	}
	if len(t.Data)%4 != 0 {
		return nil, fmt.Errorf("tensor %s: %d bytes is not a whole number of float32", t.Name, len(t.Data))
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// numBytes is prod(shape)·size(dtype), refusing negative dimensions and overflow.
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
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n = lo
	}
	return int64(n), nil
}

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Encode writes tensors and metadata to w. Tensors are laid out in name
// order; the header is padded with spaces to a multiple of 8 bytes.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := slices.Clone(tensors)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range ts {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("tensor name %q not allowed", t.Name)
		}
		if i > 0 && ts[i-1].Name == t.Name {
			return fmt.Errorf("tensor %s appears twice", t.Name)
		}
		n, err := numBytes(t.DType, t.Shape)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("tensor %s: %d bytes for %s shape %v, want %d", t.Name, len(t.Data), t.DType, t.Shape, n)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		header[t.Name] = entry{DType: t.DType, Shape: shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header) // map keys come out sorted
	if err != nil {
		return err
	}
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, bytes.Repeat([]byte(" "), pad)...)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
	if _, err := w.Write(n[:]); err != nil {
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

// Write encodes to path atomically: a temp file in the same folder is
// written, synced and renamed over path, so a crash or a full disk leaves any
// previous file intact.
func Write(path string, tensors []Tensor, metadata map[string]string) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = Encode(bw, tensors, metadata); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// File is an opened safetensors file whose header has been validated.
type File struct {
	name     string
	r        io.ReaderAt
	base     int64 // offset of the data section
	entries  map[string]entry
	metadata map[string]string
	closer   io.Closer
}

// Open reads and validates path's header. The tensors are read on demand by
// Tensor; Close releases the file.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sf, err := Read(f, fi.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.closer = f
	return sf, nil
}

// Close closes the underlying file (when opened with Open).
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Read validates the header of a safetensors file of the given size read
// from r; name is used in error messages.
func Read(r io.ReaderAt, size int64, name string) (*File, error) {
	fail := func(format string, a ...any) (*File, error) {
		return nil, fmt.Errorf("%s: not a valid safetensors file: %s", name, fmt.Sprintf(format, a...))
	}
	if size < 8 {
		return fail("%d bytes, shorter than the 8-byte header length", size)
	}
	var nb [8]byte
	if _, err := r.ReadAt(nb[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > MaxHeader || n > uint64(size-8) {
		return fail("header length %d exceeds the file (%d bytes) or the %d-byte limit", n, size, MaxHeader)
	}
	if n < 2 {
		return fail("header length %d", n)
	}
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, 8); err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&raw); err != nil {
		return fail("header is not a JSON object: %v", err)
	}
	f := &File{name: name, r: r, base: 8 + int64(n), entries: map[string]entry{}}
	dataLen := size - f.base
	type span struct {
		name       string
		begin, end int64
	}
	var spans []span
	for key, msg := range raw {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return fail("__metadata__ is not an object of strings: %v", err)
			}
			continue
		}
		var e entry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return fail("tensor %s: %v", key, err)
		}
		want, err := numBytes(e.DType, e.Shape)
		if err != nil {
			return fail("tensor %s: %v", key, err)
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end < b {
			return fail("tensor %s: data_offsets [%d, %d] invalid", key, b, end)
		}
		if end > dataLen {
			return fail("tensor %s: data_offsets end %d past the data section's %d bytes", key, end, dataLen)
		}
		if end-b != want {
			return fail("tensor %s: %d bytes for %s shape %v, want %d", key, end-b, e.DType, e.Shape, want)
		}
		f.entries[key] = e
		spans = append(spans, span{key, b, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var at int64
	for _, s := range spans {
		if s.begin != at {
			if s.begin < at {
				return fail("tensor %s overlaps the previous tensor", s.name)
			}
			return fail("gap of %d bytes before tensor %s", s.begin-at, s.name)
		}
		at = s.end
	}
	if at != dataLen {
		return fail("data section holds %d bytes, tensors cover %d", dataLen, at)
	}
	return f, nil
}

// Metadata returns the header's __metadata__ (never nil).
func (f *File) Metadata() map[string]string {
	if f.metadata == nil {
		return map[string]string{}
	}
	return f.metadata
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

// Tensor reads one tensor.
func (f *File) Tensor(name string) (Tensor, error) {
	e, ok := f.entries[name]
	if !ok {
		return Tensor{}, fmt.Errorf("%s: no tensor %s", f.name, name)
	}
	data := make([]byte, e.Offsets[1]-e.Offsets[0])
	if _, err := f.r.ReadAt(data, f.base+e.Offsets[0]); err != nil && !(errors.Is(err, io.EOF) && len(data) == 0) {
		return Tensor{}, fmt.Errorf("%s: tensor %s: %w", f.name, name, err)
	}
	return Tensor{Name: name, DType: e.DType, Shape: slices.Clone(e.Shape), Data: data}, nil
}

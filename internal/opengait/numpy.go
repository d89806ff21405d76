package opengait

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nlpodyssey/gopickle/types"
)

// AllowedCallables lists, as module.name, every callable a pickle may name
// with GLOBAL or STACK_GLOBAL: exactly those NumPy writes for an ndarray.
// Each is implemented here in Go, for the arguments NumPy passes; nothing
// in a pickle is ever executed.
//
//   - numpy.core.multiarray._reconstruct (NumPy 1.x) and
//     numpy._core.multiarray._reconstruct (NumPy 2.x): _reconstruct(ndarray,
//     (0,), b'b') makes the empty array that BUILD then fills with its state
//     (version, shape, dtype, is_fortran, raw bytes); protocols 2 to 4.
//   - numpy.ndarray: the class passed to _reconstruct (never called).
//   - numpy.dtype: dtype('u1', False, True), then BUILD with its state
//     (version, byte order, subarray, names, fields, itemsize, alignment,
//     flags); structured and subarray dtypes are refused.
//   - _codecs.encode: protocol 2 has no bytes type, so NumPy writes the raw
//     bytes as a str with one character per byte and _codecs.encode(s,
//     'latin1') to turn it back.
//   - numpy.core.numeric._frombuffer (NumPy 1.x) and
//     numpy._core.numeric._frombuffer (NumPy 2.x): protocol 5 writes
//     _frombuffer(buf, dtype, shape, order) with the pixels in-band as a
//     BYTEARRAY8 (or BINBYTES for a read-only array); out-of-band buffers
//     are refused.
var AllowedCallables = []string{
	"numpy.core.multiarray._reconstruct",
	"numpy._core.multiarray._reconstruct",
	"numpy.ndarray",
	"numpy.dtype",
	"_codecs.encode",
	"numpy.core.numeric._frombuffer",
	"numpy._core.numeric._frombuffer",
}

// allowed returns nil if module.name is in AllowedCallables, else an
// ErrCallable error naming it.
func allowed(module, name string) error {
	full := module + "." + name
	if slices.Contains(AllowedCallables, full) {
		return nil
	}
	if len(full) > 48 {
		full = full[:48] + "…"
	}
	return fmt.Errorf("%w: %q", ErrCallable, full)
}

// lookup is the pickle library's FindClass hook: the Go value standing for
// an allowed callable, or an ErrCallable error (scan refuses such names
// first).
func lookup(module, name string) (any, error) {
	if err := allowed(module, name); err != nil {
		return nil, err
	}
	switch name {
	case "_reconstruct":
		return reconstructFunc{}, nil
	case "ndarray":
		return ndarrayClass{}, nil
	case "dtype":
		return dtypeClass{}, nil
	case "encode":
		return codecsEncode{}, nil
	case "_frombuffer":
		return frombufferFunc{}, nil
	}
	panic("opengait: allow-list entry without an implementation: " + module + "." + name)
}

// ndarrayClass stands for numpy.ndarray. It is neither callable nor
// instantiable: it is only an argument of _reconstruct.
type ndarrayClass struct{}

// ndarray is a NumPy array being rebuilt. built is set once its shape,
// dtype, order and bytes are known.
type ndarray struct {
	shape   []int
	dtype   *dtype
	fortran bool // bytes in Fortran (column-major) order
	data    []byte
	built   bool
}

// reconstructFunc stands for numpy.core.multiarray._reconstruct.
type reconstructFunc struct{}

// Call implements _reconstruct(ndarray, shape, typecode): an empty array
// whose state BUILD sets.
func (reconstructFunc) Call(args ...any) (any, error) {
	if len(args) != 3 {
		return nil, notArray("_reconstruct called with %d arguments, want 3", len(args))
	}
	if _, ok := args[0].(ndarrayClass); !ok {
		return nil, notArray("_reconstruct of %s, want numpy.ndarray", describe(args[0]))
	}
	return &ndarray{}, nil
}

// PySetState implements ndarray.__setstate__ for the state NumPy writes:
// (version, shape, dtype, is_fortran, rawdata) or the older form without
// version. rawdata must be raw bytes (bytes, a str from protocol 2's
// _codecs.encode, or a Python 2 str); a list means an object array.
func (a *ndarray) PySetState(state any) error {
	if a.built {
		return notArray("array state set twice")
	}
	t, ok := state.(*types.Tuple)
	if !ok {
		return notArray("array state is %s, want a tuple", describe(state))
	}
	s := []any(*t)
	switch len(s) {
	case 5:
		if v, ok := s[0].(int); !ok || v != 1 {
			return notArray("array state version %s, want 1", describe(s[0]))
		}
		s = s[1:]
	case 4:
	default:
		return notArray("array state has %d items, want 4 or 5", len(s))
	}
	shape, err := toShape(s[0])
	if err != nil {
		return err
	}
	dt, ok := s[1].(*dtype)
	if !ok {
		return notArray("array dtype is %s", describe(s[1]))
	}
	fortran, ok := s[2].(bool)
	if !ok {
		return notArray("array is_fortran flag is %s, want a bool", describe(s[2]))
	}
	data, err := rawBytes(s[3])
	if err != nil {
		return err
	}
	*a = ndarray{shape: shape, dtype: dt, fortran: fortran, data: data, built: true}
	return nil
}

// dtypeClass stands for numpy.dtype.
type dtypeClass struct{}

// dtype is a NumPy data type: its type string without byte order ("u1",
// "f4", …) and its byte order character.
type dtype struct {
	code  string
	order string
}

// Call implements numpy.dtype(code, align, copy).
func (dtypeClass) Call(args ...any) (any, error) {
	if len(args) < 1 || len(args) > 3 {
		return nil, notArray("numpy.dtype called with %d arguments", len(args))
	}
	code, ok := args[0].(string)
	if !ok || code == "" || len(code) > 16 {
		return nil, notArray("numpy.dtype of %s", describe(args[0]))
	}
	return &dtype{code: code, order: "|"}, nil
}

// PySetState implements dtype.__setstate__ for the state NumPy writes:
// (version, byteorder, subarray, names, fields, elsize, alignment, flags
// [, metadata]). Subarray, structured (names, fields) dtypes are refused.
func (d *dtype) PySetState(state any) error {
	t, ok := state.(*types.Tuple)
	if !ok || (t.Len() != 8 && t.Len() != 9) {
		return notArray("dtype state %s, want a tuple of 8 or 9 items", describe(state))
	}
	order, ok := t.Get(1).(string)
	if !ok || len(order) != 1 || !strings.Contains("<>|=", order) {
		return notArray("dtype byte order %s", describe(t.Get(1)))
	}
	for i, what := range []string{2: "a subarray", 3: "field names", 4: "fields"} {
		if i >= 2 && t.Get(i) != nil {
			return notArray("dtype %q has %s (structured arrays are not silhouettes)", d.code, what)
		}
	}
	d.order = order
	return nil
}

// codecsEncode stands for _codecs.encode.
type codecsEncode struct{}

// Call implements _codecs.encode(s, 'latin1'): each character, which must
// be below U+0100, becomes one byte.
func (codecsEncode) Call(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, notArray("_codecs.encode called with %d arguments, want 2", len(args))
	}
	s, ok1 := args[0].(string)
	enc, ok2 := args[1].(string)
	if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
		return nil, notArray("_codecs.encode(%s, %s), want a str and 'latin1'", describe(args[0]), describe(args[1]))
	}
	return latin1(s)
}

// latin1 encodes s as Latin-1: each character, which must be below U+0100,
// becomes one byte.
func latin1(s string) ([]byte, error) {
	out := make([]byte, 0, utf8.RuneCountInString(s))
	for _, r := range s {
		if r > 0xff {
			return nil, notArray("character U+%04X is not latin-1", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// frombufferFunc stands for numpy.core.numeric._frombuffer.
type frombufferFunc struct{}

// Call implements _frombuffer(buf, dtype, shape, order).
func (frombufferFunc) Call(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, notArray("_frombuffer called with %d arguments, want 4", len(args))
	}
	data, err := rawBytes(args[0])
	if err != nil {
		return nil, err
	}
	dt, ok := args[1].(*dtype)
	if !ok {
		return nil, notArray("_frombuffer dtype is %s", describe(args[1]))
	}
	shape, err := toShape(args[2])
	if err != nil {
		return nil, err
	}
	order, ok := args[3].(string)
	if !ok || (order != "C" && order != "F") {
		return nil, notArray("_frombuffer order %s, want 'C' or 'F'", describe(args[3]))
	}
	return &ndarray{shape: shape, dtype: dt, fortran: order == "F", data: data, built: true}, nil
}

// toShape converts a pickled shape tuple to dimensions; each must be a
// non-negative int (a Python int beyond int64 arrives as *big.Int and is
// refused).
func toShape(v any) ([]int, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, notArray("array shape is %s, want a tuple", describe(v))
	}
	shape := make([]int, t.Len())
	for i := range shape {
		n, ok := t.Get(i).(int)
		if !ok || n < 0 {
			return nil, notArray("array dimension %d is %s", i, describe(t.Get(i)))
		}
		shape[i] = n
	}
	return shape, nil
}

// rawBytes returns the bytes of a pickled bytes or bytearray, or of a str
// (NumPy's __setstate__ encodes a str as Latin-1). Anything else, such as
// the list of an object array, is an error.
func rawBytes(v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *types.ByteArray:
		return []byte(*b), nil
	case string:
		return latin1(b)
	}
	return nil, notArray("array data is %s, want raw bytes (an object array?)", describe(v))
}

// describe names a pickled value in errors without printing its content.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case int:
		return fmt.Sprintf("%d", x)
	case bool:
		return fmt.Sprintf("%t", x)
	case string:
		if len(x) > 24 {
			return fmt.Sprintf("a str of %d bytes", len(x))
		}
		return fmt.Sprintf("%q", x)
	case []byte:
		return fmt.Sprintf("bytes of length %d", len(x))
	case *big.Int:
		return "an int beyond 64 bits"
	case *types.Tuple:
		return fmt.Sprintf("a tuple of %d items", x.Len())
	case *ndarray:
		return "an ndarray"
	case *dtype:
		return "a dtype"
	case ndarrayClass:
		return "numpy.ndarray"
	case dtypeClass:
		return "numpy.dtype"
	case reconstructFunc:
		return "numpy's _reconstruct"
	case frombufferFunc:
		return "numpy's _frombuffer"
	case codecsEncode:
		return "_codecs.encode"
	}
	return fmt.Sprintf("a %T", v)
}

// notArray returns an ErrNotSilhouettes error with a formatted reason.
func notArray(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotSilhouettes, fmt.Sprintf(format, args...))
}

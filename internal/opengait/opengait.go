// Package opengait reads gait silhouettes in OpenGait's pretreated form and
// turns them into gaitord GEIs.
//
// # Format
//
// OpenGait (github.com/ShiqiYu/OpenGait, datasets/pretreatment.py) keeps one
// walk per folder ROOT/<subject>/<type>/<view>/, holding one or more
// <anything>.pkl files; a silhouette file is a pickled NumPy uint8 array of
// T×H×W (T frames of H rows × W columns, usually 64×64) with values 0..255.
// Walk lists such a tree; Decode and Read turn one file into Frames.
//
// # Reading pickles without executing them
//
// Pickle is a program for a stack machine whose GLOBAL and STACK_GLOBAL
// opcodes name arbitrary Python callables that REDUCE then calls. The file
// is interpreted by github.com/nlpodyssey/gopickle (v0.2.0), which never
// runs Python: every callable a pickle names goes through its FindClass
// hook, and ours (lookup) resolves only AllowedCallables, the functions NumPy
// writes for an ndarray, implemented here in Go; everything else (os.system,
// builtins.eval, …) is refused with ErrCallable.
//
// Four properties of gopickle v0.2.0 made a pre-scan of the opcode stream
// (scan) necessary; it runs before the library sees a byte:
//
//   - gopickle allocates whatever a length claims (make([]byte, n) for
//     BINBYTES, BINUNICODE, their 8-byte forms, BYTEARRAY8, LONG4, FRAME)
//     before reading, so a 20-byte file claiming 2^60 bytes would exhaust
//     memory. The scan checks every claimed length against the bytes left in
//     the file, refuses truncated streams, trailing bytes and more than
//     maxOps opcodes (bounding the per-opcode allocations).
//   - gopickle resolves collections.OrderedDict, __builtin__.object and
//     copy_reg._reconstructor itself, without calling FindClass. The scan
//     checks the names of every GLOBAL (inline) and STACK_GLOBAL (strings it
//     tracks on an abstract stack and through the memo) against the
//     allow-list, so those three are refused too.
//   - gopickle formats offending values whole (%#v) into some error
//     messages (a bytes object given to REDUCE, STACK_GLOBAL or BUILD), so a
//     256 MiB payload in the wrong place would become a 1.5 GB string. The
//     scan runs the stream on types (str, bytes, tuple, allowed callable,
//     what a callable returned) and refuses every such misuse first.
//   - gopickle panics on some malformed input (opcode 0xff indexes past its
//     255-entry dispatch table; LONG1 of length 0; DICT of an odd item
//     count). The scan refuses these, and loading also runs under recover.
//
// Only the opcodes Python writes for a NumPy array with protocols 2 to 5 are
// accepted (the scan's opcode table marks them); protocols 0 and 1,
// persistent IDs, the extension registry, instantiation opcodes, lists,
// dicts, sets and out-of-band buffers are refused.
//
// Pickles written by Python 3 with NumPy 1.x or 2.x, protocols 2 to 5, are
// read; C-order and Fortran-order arrays both give frames in C order.
//
// # GEIs
//
// GEI builds a GEI from Frames with gei.FromSilhouettes, the one frame
// normalisation gaitord uses for silhouette folders too: each frame is
// cropped to its bounding box, area-averaged to the GEI height keeping its
// aspect ratio and centred on its intensity-weighted column centroid, and
// the frames are averaged. OpenGait's frames are already aligned (cubic
// resize to 64 rows, centred on the median column, cut to 64×64), so they
// pass through a second, gaitord-exact alignment; docs/opengait.md lists the
// differences. ConvertTree converts a whole tree into a layout gaitord's
// dataset readers train on.
package opengait

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"

	"github.com/gaitord/gaitord/internal/boundedfile"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/nlpodyssey/gopickle/pickle"
)

// MaxFileBytes bounds the size of a pickle file read into memory (256 MiB,
// about 65,000 frames of 64×64).
const MaxFileBytes = 256 << 20

// Sentinel errors, matched with errors.Is; returned errors wrap them with the
// file name and the reason.
var (
	// ErrCallable means the pickle names a callable not in AllowedCallables.
	ErrCallable = errors.New("callable not on the NumPy array allow-list")
	// ErrMalformed means the opcode stream is not a well-formed pickle of
	// protocol 2 to 5: truncated, lying about a length, an unknown or refused
	// opcode, or one the pickle library cannot execute.
	ErrMalformed = errors.New("malformed pickle")
	// ErrNotSilhouettes means the pickle is well-formed but does not hold a
	// non-empty T×H×W uint8 NumPy array.
	ErrNotSilhouettes = errors.New("not a T×H×W uint8 silhouette array")
)

// Frames is a silhouette sequence: T frames of H×W 8-bit pixels, row-major,
// frame after frame (Pix[(t*H+y)*W+x]).
type Frames struct {
	T, H, W int
	Pix     []uint8
}

// Frame returns frame i as a gray image sharing Pix (no copy).
func (f Frames) Frame(i int) *image.Gray {
	n := f.H * f.W
	return &image.Gray{Pix: f.Pix[i*n : (i+1)*n : (i+1)*n], Stride: f.W, Rect: image.Rect(0, 0, f.W, f.H)}
}

// Images returns the frames as gray images sharing Pix.
func (f Frames) Images() []image.Image {
	out := make([]image.Image, f.T)
	for i := range out {
		out[i] = f.Frame(i)
	}
	return out
}

// IsPickle reports whether data starts as a pickle Read can accept does: the
// PROTO opcode (0x80) followed by a protocol number from 2 to 5. It is a
// content sniff for telling pickles from other files (a PNG starts with
// 0x89), not a check of the stream: Decode still refuses a malformed one.
func IsPickle(head []byte) bool {
	return len(head) >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5
}

// IsPickleFile reads the first two bytes of the file at path and reports
// whether they are IsPickle's; an unreadable or shorter file is not.
func IsPickleFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return IsPickle(head)
}

// Read reads the OpenGait pickle at path (see Decode). Files over
// MaxFileBytes are refused before reading. Every error names the file.
func Read(path string) (Frames, error) {
	data, err := boundedfile.Read(path, MaxFileBytes)
	if err != nil {
		return Frames{}, fmt.Errorf("read OpenGait pickle %s: %w", path, err)
	}
	return Decode(path, data)
}

// Decode reads a pickled NumPy uint8 array of T×H×W (T, H, W ≥ 1) from
// data, as the package doc describes, and returns its frames in C order.
// name is used in errors only. Errors wrap ErrMalformed, ErrCallable or
// ErrNotSilhouettes and name the file.
func Decode(name string, data []byte) (Frames, error) {
	f, err := decode(data)
	if err != nil {
		return Frames{}, fmt.Errorf("read OpenGait pickle %s: %w", name, err)
	}
	return f, nil
}

// decode is Decode without the file name.
func decode(data []byte) (Frames, error) {
	if len(data) > MaxFileBytes {
		return Frames{}, malformed("%d bytes, over the %d-byte limit", len(data), MaxFileBytes)
	}
	if err := scan(data); err != nil {
		return Frames{}, err
	}
	u := pickle.NewUnpickler(bytes.NewReader(data))
	u.FindClass = lookup
	v, err := load(&u)
	if err != nil {
		return Frames{}, err
	}
	a, ok := v.(*ndarray)
	switch {
	case !ok:
		return Frames{}, notArray("the pickle holds %s, not a NumPy array", describe(v))
	case !a.built:
		return Frames{}, notArray("the array's state (shape, dtype, bytes) is never set")
	}
	return a.frames()
}

// load runs the unpickler, turning a panic of the library into ErrMalformed
// (the scan refuses every stream known to cause one; this is a safety net).
func load(u *pickle.Unpickler) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, malformed("the pickle library failed on this stream: %v", r)
		}
	}()
	v, err = u.Load()
	if err != nil && !errors.Is(err, ErrCallable) && !errors.Is(err, ErrNotSilhouettes) {
		err = fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return v, err
}

// frames checks that a is a non-empty 3-D uint8 array whose bytes match its
// shape and returns its frames in C order.
func (a *ndarray) frames() (Frames, error) {
	if a.dtype.code != "u1" {
		return Frames{}, notArray("dtype %q, want \"u1\" (uint8)", a.dtype.code)
	}
	if len(a.shape) != 3 {
		return Frames{}, notArray("%d-D array of shape %v, want T×H×W (3-D)", len(a.shape), a.shape)
	}
	t, h, w := a.shape[0], a.shape[1], a.shape[2]
	if t == 0 || h == 0 || w == 0 {
		return Frames{}, notArray("empty array of shape %v", a.shape)
	}
	// Compare without overflow: t*h*w == len(data) with each factor ≥ 1.
	n := len(a.data)
	if h > n || w > n/h || t > n/(h*w) || t*h*w != n {
		return Frames{}, notArray("shape %v needs %d×%d×%d bytes, the pickle holds %d", a.shape, t, h, w, n)
	}
	f := Frames{T: t, H: h, W: w, Pix: a.data}
	if a.fortran {
		// Fortran order: element (i, y, x) is at i + T*(y + H*x).
		f.Pix = make([]uint8, n)
		for i := range t {
			for y := range h {
				for x := range w {
					f.Pix[(i*h+y)*w+x] = a.data[i+t*(y+h*x)]
				}
			}
		}
	}
	return f, nil
}

// GEI builds the GEI of f with gei.FromSilhouettes (see the package doc):
// size.H*size.W values in [0, 1], the number of frames averaged and the
// number skipped as all-black. No usable frame is gei.ErrNoFrames.
func GEI(f Frames, size gei.Size) (g []float32, used, skipped int, err error) {
	return gei.FromSilhouettes(f.Images(), size)
}

// LoadGEI reads the OpenGait pickle at path and builds its GEI (Read, then
// GEI). Every error names the file.
func LoadGEI(path string, size gei.Size) (g []float32, used, skipped int, err error) {
	f, err := Read(path)
	if err != nil {
		return nil, 0, 0, err
	}
	g, used, skipped, err = GEI(f, size)
	if err != nil {
		return nil, used, skipped, fmt.Errorf("read OpenGait pickle %s: %w", path, err)
	}
	return g, used, skipped, nil
}

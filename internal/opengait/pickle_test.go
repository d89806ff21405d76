package opengait

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReadNumPyPickles reads arrays pickled by Debian's python3 and NumPy
// with protocols 2 to 5, in several shapes, C and Fortran order, writable
// and read-only, and NumPy 2.x's module names (hand-rewritten, since
// Debian's NumPy is 1.x): the frames must equal the array's C-order bytes
// exactly.
func TestReadNumPyPickles(t *testing.T) {
	dir := t.TempDir()
	runPython(t, dir, `
rng = np.random.default_rng(7)
index = []
shapes = [(1, 8, 8), (3, 64, 64), (2, 64, 44), (4, 17, 9), (30, 64, 64), (2, 128, 88)]
for proto in (2, 3, 4, 5):
    for shape in shapes:
        for order in ('C', 'F'):
            a = rng.integers(0, 256, size=shape, dtype=np.uint8)
            if order == 'F':
                a = np.asfortranarray(a)
            name = 'p%d_%s_%s.pkl' % (proto, 'x'.join(map(str, shape)), order)
            save(name, a, proto)
            with open(os.path.join(OUT, name + '.bin'), 'wb') as f:
                f.write(a.tobytes(order='C'))
            index.append({'name': name, 'shape': list(shape)})
# a read-only array: protocol 5 writes its buffer as bytes, not bytearray
a = rng.integers(0, 256, size=(3, 10, 12), dtype=np.uint8)
a.flags.writeable = False
save('p5_readonly.pkl', a, 5)
open(os.path.join(OUT, 'p5_readonly.pkl.bin'), 'wb').write(a.tobytes())
index.append({'name': 'p5_readonly.pkl', 'shape': [3, 10, 12]})
# a non-contiguous view: protocol 5 falls back to _reconstruct
a = rng.integers(0, 256, size=(4, 20, 30), dtype=np.uint8)[::2, :, ::3]
save('p5_strided.pkl', a, 5)
open(os.path.join(OUT, 'p5_strided.pkl.bin'), 'wb').write(a.tobytes())
index.append({'name': 'p5_strided.pkl', 'shape': list(a.shape)})
# NumPy 2.x names: numpy._core instead of numpy.core
a = rng.integers(0, 256, size=(2, 9, 7), dtype=np.uint8)
open(os.path.join(OUT, 'np2.bin'), 'wb').write(a.tobytes())
p2 = pickle.dumps(a, protocol=2)
assert p2.count(b'cnumpy.core.multiarray\n') == 1
with open(os.path.join(OUT, 'np2_p2.pkl'), 'wb') as f:
    f.write(p2.replace(b'cnumpy.core.multiarray\n', b'cnumpy._core.multiarray\n'))
def rename(data, old, new):
    # SHORT_BINUNICODE old -> new inside the first FRAME, whose length grows.
    data = bytearray(data)
    assert data[2] == 0x95
    i = data.index(b'\x8c' + bytes([len(old)]) + old)
    data[i:i + 2 + len(old)] = b'\x8c' + bytes([len(new)]) + new
    n = int.from_bytes(data[3:11], 'little') + len(new) - len(old)
    data[3:11] = n.to_bytes(8, 'little')
    return bytes(data)
for proto, old, new in ((4, b'numpy.core.multiarray', b'numpy._core.multiarray'), (5, b'numpy.core.numeric', b'numpy._core.numeric')):
    with open(os.path.join(OUT, 'np2_p%d.pkl' % proto), 'wb') as f:
        f.write(rename(pickle.dumps(a, protocol=proto), old, new))
for name in ('np2_p2.pkl', 'np2_p4.pkl', 'np2_p5.pkl'):
    os.link(os.path.join(OUT, 'np2.bin'), os.path.join(OUT, name + '.bin'))
    index.append({'name': name, 'shape': [2, 9, 7]})
json.dump(index, open(os.path.join(OUT, 'index.json'), 'w'))
`)
	var index []struct {
		Name  string
		Shape [3]int
	}
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	if len(index) != 4*6*2+5 {
		t.Fatalf("%d pickles written, want %d", len(index), 4*6*2+5)
	}
	for _, e := range index {
		path := filepath.Join(dir, e.Name)
		f, err := Read(path)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		want, err := os.ReadFile(path + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		if [3]int{f.T, f.H, f.W} != e.Shape || !bytes.Equal(f.Pix, want) {
			t.Errorf("%s: %dx%dx%d, want %v; pixels equal: %v", e.Name, f.T, f.H, f.W, e.Shape, bytes.Equal(f.Pix, want))
		}
		// Frame i is the i-th H×W block, row-major.
		last := f.Frame(f.T - 1)
		if last.Bounds().Dx() != f.W || last.Bounds().Dy() != f.H || last.GrayAt(f.W-1, f.H-1).Y != want[len(want)-1] || last.GrayAt(0, 0).Y != want[(f.T-1)*f.H*f.W] {
			t.Errorf("%s: last frame does not view the last block", e.Name)
		}
	}
}

// TestRefusedNumPyPickles: real pickles that are not T×H×W uint8 arrays, or
// that a reader could only honour by executing or fetching something.
func TestRefusedNumPyPickles(t *testing.T) {
	dir := t.TempDir()
	runPython(t, dir, `
a = np.zeros((3, 8, 8), dtype=np.uint8)
save('float32.pkl', a.astype(np.float32), 4)
save('bool.pkl', a.astype(bool), 4)
save('int64.pkl', a.astype(np.int64), 2)
save('big_endian.pkl', a.astype('>u2'), 3)
save('2d.pkl', a[0], 4)
save('4d.pkl', a[None], 5)
save('empty.pkl', a[:0], 4)
save('structured.pkl', np.zeros((2, 3, 4), dtype=[('x', 'u1')]), 3)
save('object.pkl', np.array([[[1, 'a']]], dtype=object), 4)
save('dict.pkl', {'sils': 1}, 4)
save('list.pkl', [a], 4)
save('proto0.pkl', a, 0)
save('proto1.pkl', a, 1)
save('out_of_band.pkl', a, 5, buffer_callback=lambda b: False)
data = pickle.dumps(a, protocol=4)
open(os.path.join(OUT, 'trailing.pkl'), 'wb').write(data + data)
`)
	for name, want := range map[string]struct {
		err error
		msg string
	}{
		"float32.pkl":     {ErrNotSilhouettes, `dtype "f4", want "u1" (uint8)`},
		"bool.pkl":        {ErrNotSilhouettes, `dtype "b1"`},
		"int64.pkl":       {ErrNotSilhouettes, `dtype "i8"`},
		"big_endian.pkl":  {ErrNotSilhouettes, `dtype "u2"`},
		"2d.pkl":          {ErrNotSilhouettes, "2-D array of shape [8 8], want T×H×W (3-D)"},
		"4d.pkl":          {ErrNotSilhouettes, "4-D array of shape [1 3 8 8]"},
		"empty.pkl":       {ErrNotSilhouettes, "empty array of shape [0 8 8]"},
		"structured.pkl":  {ErrMalformed, "EMPTY_DICT opcode at offset 140 refused"},
		"object.pkl":      {ErrMalformed, "EMPTY_LIST opcode at offset 144 refused"},
		"dict.pkl":        {ErrMalformed, "EMPTY_DICT opcode at offset 11 refused"},
		"list.pkl":        {ErrMalformed, "EMPTY_LIST opcode at offset 11 refused"},
		"proto0.pkl":      {ErrMalformed, "not a pickle of protocol 2 to 5"},
		"proto1.pkl":      {ErrMalformed, "not a pickle of protocol 2 to 5"},
		"out_of_band.pkl": {ErrMalformed, "NEXT_BUFFER opcode at offset"},
		"trailing.pkl":    {ErrMalformed, "bytes after the STOP opcode"},
	} {
		path := filepath.Join(dir, name)
		_, err := Read(path)
		checkRefusal(t, name, path, err, want.err, want.msg)
	}
}

// checkRefusal fails unless err wraps sentinel, names path, contains msg and
// is one line.
func checkRefusal(t *testing.T, what, path string, err, sentinel error, msg string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%s: accepted", what)
	case !errors.Is(err, sentinel):
		t.Errorf("%s: %v, want %v", what, err, sentinel)
	case !strings.Contains(err.Error(), msg):
		t.Errorf("%s: %v, want it to say %q", what, err, msg)
	case !strings.HasPrefix(err.Error(), "read OpenGait pickle "+path+": "):
		t.Errorf("%s: %v does not name %s", what, err, path)
	case strings.Contains(err.Error(), "\n"):
		t.Errorf("%s: error spans lines: %q", what, err)
	}
}

// hostile lists hand-made pickles that must be refused, with the sentinel
// and a phrase of the error. They are also fuzz seeds.
var hostile = []struct {
	name string
	data string
	err  error
	msg  string
}{
	// os.system("id") through REDUCE, as pickle.dumps(os.system-reducer, 2) writes it.
	{"os_system_reduce", "\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.", ErrCallable, `"posix.system" (GLOBAL at offset 2)`},
	{"os_system_stack_global", "\x80\x04\x95\x14\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.", ErrCallable, `"os.system" (STACK_GLOBAL at offset 23)`},
	{"builtins_eval", "\x80\x03cbuiltins\neval\nX\x0b\x00\x00\x00__import__(\x85R.", ErrCallable, `"builtins.eval"`},
	{"subprocess_after_numpy", "\x80\x02cnumpy\ndtype\ncsubprocess\ncall\n.", ErrCallable, `"subprocess.call"`},
	// Names gopickle resolves itself, without asking the allow-list.
	{"copyreg_stack_global", "\x80\x04\x8c\x08copy_reg\x8c\x0e_reconstructor\x93.", ErrCallable, `"copy_reg._reconstructor" (STACK_GLOBAL at offset 28)`},
	{"object_stack_global", "\x80\x04\x8c\x0b__builtin__\x8c\x06object\x93.", ErrCallable, `"__builtin__.object" (STACK_GLOBAL`},
	{"ordereddict_global", "\x80\x02ccollections\nOrderedDict\n)R.", ErrCallable, `"collections.OrderedDict"`},
	// Lengths claiming more than the file holds.
	{"binbytes8_exabytes", "\x80\x04\x8e" + le8(1<<60) + "abc.", ErrMalformed, "BINBYTES8 at offset 2 claims 1152921504606846976 bytes, only 4 left"},
	{"binunicode8_exabytes", "\x80\x04\x8d" + le8(1<<62) + ".", ErrMalformed, "BINUNICODE8 at offset 2 claims 4611686018427387904 bytes"},
	{"bytearray8_max", "\x80\x05\x96" + le8(1<<64-1) + ".", ErrMalformed, "BYTEARRAY8 at offset 2 claims 18446744073709551615 bytes"},
	{"binbytes_4g", "\x80\x03B" + le4(1<<32-1) + ".", ErrMalformed, "BINBYTES at offset 2 claims 4294967295 bytes"},
	{"binunicode_4g", "\x80\x03X" + le4(1<<32-1) + ".", ErrMalformed, "BINUNICODE at offset 2 claims 4294967295 bytes"},
	{"frame_exabytes", "\x80\x04\x95" + le8(1<<60) + "N.", ErrMalformed, "FRAME at offset 2 claims"},
	{"long4", "\x80\x02\x8b" + le4(1<<32-5) + ".", ErrMalformed, "LONG4 opcode at offset 2 refused: only the opcodes of a plain NumPy array's pickle are read"},
	{"short_binbytes_past_end", "\x80\x03C\xffab.", ErrMalformed, "SHORT_BINBYTES at offset 2 claims 255 bytes, only 3 left"},
	// Truncated streams.
	{"empty", "", ErrMalformed, "empty file"},
	{"proto_only", "\x80", ErrMalformed, "PROTO at offset 0 needs 1 argument bytes, 0 left (truncated)"},
	{"no_stop", "\x80\x02N", ErrMalformed, "without a STOP opcode (truncated)"},
	{"binint_cut", "\x80\x02J\x01\x02", ErrMalformed, "BININT at offset 2 needs 4 argument bytes, 2 left"},
	{"global_long_name", "\x80\x02c" + strings.Repeat("x", 300) + "\nsystem\n.", ErrMalformed, "GLOBAL at offset 2: a name of 300 bytes (over 256)"},
	{"stack_global_long_name", "\x80\x04\x8c\xff" + strings.Repeat("\x01", 255) + "\x8c\x06system\x93.", ErrCallable, `"\x01\x01`},
	{"global_cut", "\x80\x02cnumpy\nndar", ErrMalformed, "GLOBAL at offset 2: stream ends inside its text argument"},
	// Opcodes the reader refuses.
	{"not_an_opcode", "\x80\x02\xff.", ErrMalformed, "byte 0xff at offset 2 is not a pickle opcode"},
	{"persid", "\x80\x02P1\n.", ErrMalformed, "PERSID opcode at offset 2 refused"},
	{"ext1", "\x80\x02\x82\x01.", ErrMalformed, "EXT1 opcode at offset 2 refused"},
	{"inst", "\x80\x02(iposix\nsystem\n.", ErrMalformed, "INST opcode at offset 3 refused"},
	{"newobj", "\x80\x02cnumpy\nndarray\n)\x81.", ErrMalformed, "NEWOBJ opcode at offset 18 refused"},
	{"next_buffer", "\x80\x05\x97.", ErrMalformed, "out-of-band buffers"},
	{"unicode_text", "\x80\x02Vabc\n.", ErrMalformed, "UNICODE opcode at offset 2 refused"},
	{"second_proto", "\x80\x02\x80\x02N.", ErrMalformed, "PROTO opcode at offset 2: only allowed at offset 0"},
	{"proto_6", "\x80\x06N.", ErrMalformed, "pickle protocol 6"},
	{"too_many_ops", "\x80\x02" + strings.Repeat("N", 4200) + ".", ErrMalformed, "more than 4096 opcodes"},
	// Streams on which gopickle v0.2.0 panics (LONG1 of length 0, DICT of an odd item count).
	{"long1_empty", "\x80\x02\x8a\x00.", ErrMalformed, "LONG1 at offset 2 has no bytes"},
	{"dict_odd", "\x80\x02(K\x01d.", ErrMalformed, "DICT opcode at offset 5 refused"},
	// Misuses on which gopickle formats a value of any size into its error (%#v).
	{"big_str_as_module", "\x80\x04X" + le4(300) + strings.Repeat("a", 300) + "\x8c\x05dtype\x93.", ErrMalformed, "STACK_GLOBAL at offset 314 names a str.a str, want two short strs"},
	{"bytearray_as_name", "\x80\x05\x8c\x05numpy\x96" + le8(300) + strings.Repeat("b", 300) + "\x93.", ErrMalformed, "names a str.bytes, want two short strs"},
	{"bytes_reduced", "\x80\x03B" + le4(300) + strings.Repeat("c", 300) + ")R.", ErrMalformed, "REDUCE at offset 308 calls bytes with a tuple"},
	{"build_on_bytes", "\x80\x03C\x01x)b.", ErrMalformed, "BUILD at offset 6 sets a tuple as the state of bytes"},
	{"build_bytes_state", "\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00u1\x85RC\x01xb.", ErrMalformed, "sets bytes as the state of the result of numpy.dtype"},
	{"build_on_nothing", "\x80\x02)b.", ErrMalformed, "BUILD at offset 3 sets a tuple as the state of nothing"},
	{"build_on_encode", "\x80\x02c_codecs\nencode\n)R)b.", ErrMalformed, "state of the result of _codecs.encode"},
	// Stack and memo misuse.
	{"binget_unset", "\x80\x02h\x05.", ErrMalformed, "BINGET at offset 2 reads memo slot 5, never set"},
	{"tuple_without_mark", "\x80\x02Nt.", ErrMalformed, "TUPLE at offset 3 without a MARK"},
	{"tuple3_underflow", "\x80\x02N(NN\x87.", ErrMalformed, "TUPLE3 at offset 6: stack underflow"},
	{"stop_on_empty", "\x80\x02.", ErrMalformed, "STOP at offset 2: stack underflow"},
	{"memoize_mark", "\x80\x04(\x94.", ErrMalformed, "MEMOIZE at offset 3: nothing to memoize"},
	// Well-formed pickles of the wrong thing.
	{"plain_int", "\x80\x02K\x07.", ErrNotSilhouettes, "holds 7, not a NumPy array"},
	{"reconstruct_unbuilt", "\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R.", ErrNotSilhouettes, "the array's state (shape, dtype, bytes) is never set"},
	{"reconstruct_not_ndarray", "\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85C\x01b\x87R.", ErrNotSilhouettes, "_reconstruct of numpy.dtype, want numpy.ndarray"},
	{"ndarray_called", "\x80\x02cnumpy\nndarray\n)R.", ErrMalformed, "REDUCE at offset 18 calls numpy.ndarray with a tuple"},
	{"encode_not_latin1", "\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf_8\x86R.", ErrNotSilhouettes, "want a str and 'latin1'"},
	{"encode_wide_char", "\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc4\x80X\x06\x00\x00\x00latin1\x86R.", ErrNotSilhouettes, "character U+0100 is not latin-1"},
	{"shape_mismatch", string(npPickle([]int{2, 3, 4}, "u1", false, counting(23))), ErrNotSilhouettes, "shape [2 3 4] needs 2×3×4 bytes, the pickle holds 23"},
	{"shape_overflow", string(npPickle([]int{1<<31 - 1, 1<<31 - 1, 1<<31 - 1}, "u1", false, counting(8))), ErrNotSilhouettes, "the pickle holds 8"},
	{"shape_negative", string(npPickle([]int{-1, 2, 4}, "u1", false, counting(8))), ErrNotSilhouettes, "array dimension 0 is -1"},
	{"dtype_f8", string(npPickle([]int{1, 1, 1}, "f8", false, counting(8))), ErrNotSilhouettes, `dtype "f8"`},
	{"dtype_subarray", strings.Replace(string(npPickle([]int{1, 1, 1}, "u1", false, counting(1))), "|NNNJ", "|)NNJ", 1), ErrNotSilhouettes, `dtype "u1" has a subarray`},
	{"data_not_bytes", strings.Replace(string(npPickle([]int{0, 0, 0}, "u1", false, nil)), "B\x00\x00\x00\x00", ")", 1), ErrNotSilhouettes, "array data is a tuple of 0 items, want raw bytes"},
	{"state_twice", strings.Replace(string(npPickle([]int{1, 1, 1}, "u1", false, counting(1))), "tb.", "t\x94bh\x00b.", 1), ErrNotSilhouettes, "array state set twice"},
}

func TestDecodeRefusesHostile(t *testing.T) {
	for _, h := range hostile {
		path := "hostile/" + h.name + ".pkl"
		_, err := Decode(path, []byte(h.data))
		checkRefusal(t, h.name, path, err, h.err, h.msg)
	}
}

// TestReadRefusesFromFiles runs a few hostile pickles through Read, the
// path the CLI takes, and checks that refusing a 4 GiB claim allocates
// nothing near its size.
func TestReadRefusesFromFiles(t *testing.T) {
	dir := t.TempDir()
	for _, h := range hostile[:9] {
		path := writeFile(t, dir, h.name+".pkl", []byte(h.data))
		_, err := Read(path)
		checkRefusal(t, h.name, path, err, h.err, h.msg)
	}
	path := writeFile(t, dir, "binbytes_4g.pkl", []byte("\x80\x03B"+le4(1<<32-1)+"."))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(path)
	runtime.ReadMemStats(&after)
	checkRefusal(t, "binbytes_4g", path, err, ErrMalformed, "claims 4294967295 bytes")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("refusing a 4 GiB claim allocated %d bytes", grew)
	}
	if _, err := Read(filepath.Join(dir, "missing.pkl")); err == nil || !strings.Contains(err.Error(), "missing.pkl") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("folder: %v", err)
	}
}

// TestDecodeHandBuilt checks the Go-side builder against the reader, so the
// hostile variants built with it differ from a valid pickle only where
// intended; Fortran order is transposed to C order.
func TestDecodeHandBuilt(t *testing.T) {
	f, err := Decode("c.pkl", npPickle([]int{2, 3, 4}, "u1", false, counting(24)))
	if err != nil {
		t.Fatal(err)
	}
	if f.T != 2 || f.H != 3 || f.W != 4 || !bytes.Equal(f.Pix, counting(24)) {
		t.Fatalf("C order: %+v", f)
	}
	f, err = Decode("f.pkl", npPickle([]int{2, 3, 4}, "u1", true, counting(24)))
	if err != nil {
		t.Fatal(err)
	}
	// Element (i, y, x) of a Fortran-order 2×3×4 array is byte i + 2*(y + 3*x).
	for i := range 2 {
		for y := range 3 {
			for x := range 4 {
				if got, want := f.Frame(i).GrayAt(x, y).Y, byte(i+2*(y+3*x)); got != want {
					t.Fatalf("Fortran (%d,%d,%d) = %d, want %d", i, y, x, got, want)
				}
			}
		}
	}
}

// TestDecodeStrData: NumPy's __setstate__ takes a str as Latin-1 bytes.
func TestDecodeStrData(t *testing.T) {
	p := npPickle([]int{1, 1, 3}, "u1", false, []byte("a\xc3\xbfb")) // "aÿb" as UTF-8
	p = bytes.Replace(p, []byte("B\x04\x00\x00\x00a\xc3\xbfb"), []byte("X\x04\x00\x00\x00a\xc3\xbfb"), 1)
	f, err := Decode("str.pkl", p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Pix, []byte{'a', 0xff, 'b'}) {
		t.Fatalf("pixels %v, want [97 255 98]", f.Pix)
	}
}

func ExampleDecode() {
	// The protocol-3 pickle NumPy writes for np.arange(8, dtype=np.uint8).reshape(2, 2, 2).
	f, err := Decode("walk.pkl", npPickle([]int{2, 2, 2}, "u1", false, counting(8)))
	fmt.Println(f.T, f.H, f.W, f.Pix, err)
	_, err = Decode("walk.pkl", []byte("\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R."))
	fmt.Println(err)
	// Output:
	// 2 2 2 [0 1 2 3 4 5 6 7] <nil>
	// read OpenGait pickle walk.pkl: callable not on the NumPy array allow-list: "posix.system" (GLOBAL at offset 2)
}

// IsPickle tells pickles of protocols 2 to 5 (what NumPy writes, each
// protocol written here by Python) from PNGs, text, protocols 0 and 1 and
// short files, by content alone.
func TestIsPickle(t *testing.T) {
	dir := t.TempDir()
	runPython(t, dir, `
for p in (2, 3, 4, 5):
    save('p%d.bin' % p, np.zeros((1, 2, 2), np.uint8), p)
save('p0.pkl', np.zeros((1, 2, 2), np.uint8), 0)
save('p1.pkl', np.zeros((1, 2, 2), np.uint8), 1)
`)
	for p := 2; p <= 5; p++ {
		if path := filepath.Join(dir, fmt.Sprintf("p%d.bin", p)); !IsPickleFile(path) {
			t.Errorf("protocol %d pickle %s not recognised", p, path)
		}
	}
	png := writeFile(t, dir, "a.pkl", []byte("\x89PNG\r\n\x1a\n"))
	for _, path := range []string{filepath.Join(dir, "p0.pkl"), filepath.Join(dir, "p1.pkl"), png,
		writeFile(t, dir, "one.pkl", []byte{0x80}), writeFile(t, dir, "p6.pkl", []byte{0x80, 6, 0}),
		writeFile(t, dir, "empty.pkl", nil), filepath.Join(dir, "missing.pkl"), dir} {
		if IsPickleFile(path) {
			t.Errorf("%s taken for a pickle", path)
		}
	}
}

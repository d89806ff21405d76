package opengait

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// debianPython is the interpreter with Debian's NumPy (python3-numpy).
const debianPython = "/usr/bin/python3"

// requireNumPy skips unless Debian's python3 can import numpy.
func requireNumPy(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		t.Skipf("%s not found: install Debian's python3-numpy (scripts/install_test_deps.sh)", debianPython)
	}
	if out, err := exec.Command(debianPython, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("%s cannot import numpy (%v: %s): apt-get install python3-numpy", debianPython, err, strings.TrimSpace(string(out)))
	}
}

// pyPrelude is prepended to every script run by runPython: OUT is the
// folder given, save(path, obj, proto) pickles obj there with pickle.dumps.
const pyPrelude = `
import numpy as np, pickle, os, sys, json
OUT = sys.argv[1]
def save(rel, obj, proto, **kw):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(pickle.dumps(obj, protocol=proto, **kw))
`

// runPython runs script (after pyPrelude) with Debian's python3 and NumPy,
// with dir as sys.argv[1].
func runPython(t *testing.T, dir, script string) {
	t.Helper()
	requireNumPy(t)
	cmd := exec.Command(debianPython, "-c", pyPrelude+script, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// npPickle builds, by hand, the protocol-3 pickle NumPy 1.x writes for an
// array (see the pickletools listing in docs/opengait.md): _reconstruct,
// then BUILD with (1, shape, dtype(code), fortran, data).
func npPickle(shape []int, code string, fortran bool, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x03cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01(")
	for _, d := range shape {
		b.WriteByte('J')
		binary.Write(&b, binary.LittleEndian, int32(d))
	}
	b.WriteString("tcnumpy\ndtype\n")
	b.WriteByte('X')
	binary.Write(&b, binary.LittleEndian, uint32(len(code)))
	b.WriteString(code)
	b.WriteString("\x89\x88\x87R(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
	if fortran {
		b.WriteByte(0x88)
	} else {
		b.WriteByte(0x89)
	}
	b.WriteByte('B')
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	b.WriteString("tb.")
	return b.Bytes()
}

// le8 is n as 8 little-endian bytes.
func le8(n uint64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], n)
	return string(b[:])
}

// le4 is n as 4 little-endian bytes.
func le4(n uint32) string {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], n)
	return string(b[:])
}

// writeFile writes data to dir/rel, creating folders, and returns the path.
func writeFile(t testing.TB, dir, rel string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// counting returns 0, 1, 2, … (mod 256) as n bytes.
func counting(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i)
	}
	return out
}

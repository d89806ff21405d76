package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceAndFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("partial new content"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("old file changed to %q", b)
	}
	if err := WriteBytes(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	entries, _ := os.ReadDir(dir)
	if string(b) != "new" || fi.Mode().Perm() != 0o644 || len(entries) != 1 {
		t.Fatalf("content %q mode %v entries %d", b, fi.Mode().Perm(), len(entries))
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "f"), nil); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}

// writer returns a File that writes s.
func writer(path, s string) File {
	return File{Path: path, Write: func(w io.Writer) error { _, err := io.WriteString(w, s); return err }}
}

// noTemps fails if dir holds a temporary file.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) != "" && e.Name()[0] == '.' {
			t.Errorf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

func readOr(path, missing string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return missing
	}
	return string(b)
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "w.md"), filepath.Join(dir, "w.json"), filepath.Join(dir, "w.safetensors")
	if err := WriteAll([]File{writer(a, "card"), writer(b, "{}"), writer(c, "weights")}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{a: "card", b: "{}", c: "weights"} {
		fi, err := os.Stat(p)
		if got := readOr(p, "(missing)"); got != want || err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("%s = %q (%v), want %q with mode 0644", p, got, err, want)
		}
	}
	noTemps(t, dir)

	// A failure while staging the third file: nothing changes.
	boom := errors.New("boom")
	err := WriteAll([]File{writer(a, "card 2"), writer(b, "{2}"), {Path: c, Write: func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	}}})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), c) {
		t.Fatalf("err = %v, want boom naming %s", err, c)
	}
	for p, want := range map[string]string{a: "card", b: "{}", c: "weights"} {
		if got := readOr(p, "(missing)"); got != want {
			t.Fatalf("after a failed set %s = %q, want the old %q", p, got, want)
		}
	}
	noTemps(t, dir)

	// A new set that fails creates none of its files.
	d, e := filepath.Join(dir, "new.md"), filepath.Join(dir, "new.json")
	if err := WriteAll([]File{writer(d, "x"), {Path: e, Write: func(io.Writer) error { return boom }}}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(d); err == nil {
		t.Fatalf("%s written by a failed set", d)
	}

	// A folder at a target is refused before anything is written.
	folder := filepath.Join(dir, "folder")
	os.Mkdir(folder, 0o755)
	err = WriteAll([]File{writer(a, "card 3"), writer(folder, "x")})
	if err == nil || !strings.Contains(err.Error(), "is a directory") || readOr(a, "") != "card" {
		t.Fatalf("folder target: err %v, %s = %q", err, a, readOr(a, ""))
	}
	// So is a path named twice.
	if err := WriteAll([]File{writer(a, "1"), writer(filepath.Join(dir, ".", "w.md"), "2")}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate path: %v", err)
	}
	// A missing folder fails staging; the other files are untouched.
	if err := WriteAll([]File{writer(a, "card 4"), writer(filepath.Join(dir, "no", "w.json"), "x")}); err == nil || readOr(a, "") != "card" {
		t.Fatalf("missing folder: err %v, %s = %q", err, a, readOr(a, ""))
	}
	noTemps(t, dir)
}

// A rename that fails after staging (here: the second target became a
// folder while the third file was staged) removes the files already renamed
// and the remaining temporary files.
func TestWriteAllRenameFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	err := WriteAll([]File{writer(a, "A"), writer(b, "B"), {Path: c, Write: func(w io.Writer) error {
		if err := os.Mkdir(b, 0o755); err != nil {
			return err
		}
		_, err := io.WriteString(w, "C")
		return err
	}}})
	if err == nil || !strings.Contains(err.Error(), b) {
		t.Fatalf("err = %v, want a rename error naming %s", err, b)
	}
	for _, p := range []string{a, c} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after a failed commit", p)
		}
	}
	noTemps(t, dir)
}

func TestWriteVia(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "v.mp4")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	var seen string
	err := WriteVia(p, func(tmp string) error {
		seen = tmp
		if filepath.Dir(tmp) != dir || filepath.Ext(tmp) == ".mp4" {
			t.Errorf("temporary file %s", tmp)
		}
		os.WriteFile(tmp, []byte("partial"), 0o600)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("old file changed to %q", b)
	}
	if _, err := os.Stat(seen); !os.IsNotExist(err) {
		t.Fatalf("temporary file %s left behind: %v", seen, err)
	}
	if err := WriteVia(p, func(tmp string) error { return os.WriteFile(tmp, []byte("new"), 0o600) }); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	entries, _ := os.ReadDir(dir)
	if string(b) != "new" || fi.Mode().Perm() != 0o644 || len(entries) != 1 {
		t.Fatalf("content %q mode %v entries %d", b, fi.Mode().Perm(), len(entries))
	}
}

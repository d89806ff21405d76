package boundedfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Repeat("x", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok", 10)
	b, err := Read(ok, 10)
	if err != nil || string(b) != "xxxxxxxxxx" {
		t.Fatalf("Read(10 bytes, limit 10) = %q, %v", b, err)
	}
	for _, c := range []struct {
		name, path string
		limit      int64
		want       error
		text       string
	}{
		{"over the limit", ok, 9, ErrTooLarge, "file too large: 10 bytes, over the 9-byte limit"},
		{"empty", write("empty", 0), 9, ErrEmpty, "empty file"},
		{"directory", dir, 9, ErrNotRegular, "not a regular file"},
		{"missing", filepath.Join(dir, "none"), 9, os.ErrNotExist, "no such file"},
	} {
		_, err := Read(c.path, c.limit)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: error %v, want %v containing %q", c.name, err, c.want, c.text)
		}
	}
}

// Package boundedfile reads a whole input file into memory with a size
// limit checked before anything is read: the one reader behind GEI PNGs,
// silhouette frames and OpenGait pickles.
//
// Contract: Read opens path, refuses anything but a regular file, refuses an
// empty file (ErrEmpty) and a file over limit bytes (ErrTooLarge, decided
// from the file's size before reading, and again on the bytes read, so a
// file that grows while being read cannot exceed the limit). Errors do not
// name the file; callers add it with the kind of file they expected.
package boundedfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrEmpty means the file has zero bytes.
	ErrEmpty = errors.New("empty file")
	// ErrTooLarge means the file is over the caller's limit.
	ErrTooLarge = errors.New("file too large")
	// ErrNotRegular means the path is a directory, a device, a pipe…
	ErrNotRegular = errors.New("not a regular file")
)

// Read returns the contents of the regular file at path, of 1 to limit
// bytes.
func Read(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	if st.Size() == 0 {
		return nil, ErrEmpty
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%w: %d bytes, over the %d-byte limit", ErrTooLarge, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	switch {
	case len(data) == 0:
		return nil, ErrEmpty
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("%w: over the %d-byte limit", ErrTooLarge, limit)
	}
	return data, nil
}

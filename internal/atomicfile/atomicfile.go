// Package atomicfile writes files so that readers see either the old content
// or the complete new content, never a partial file: the data goes to a
// temporary file in the same folder, which is synced, given mode 0644 and
// renamed over the target; the folder is then synced so the rename survives
// a crash. On any failure the temporary file is removed and the previous
// file is left untouched.
//
// WriteAll does the same for a set of files that belong together (an
// export's weights, model card and configuration): all of them are written
// or none is.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write produces (buffered).
func Write(path string, write func(io.Writer) error) error {
	tmp, err := stage(path, write)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// WriteBytes creates or replaces path with data.
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteVia creates or replaces path with a file that another program
// writes: produce gets the name of an empty temporary file in path's
// folder (its name does not end in path's extension) and must fill it,
// for example by running a program that writes there. The file is then
// given mode 0644, synced and renamed over path as by Write; if produce
// fails, the temporary file is removed and path is left untouched.
func WriteVia(path string, produce func(tmp string) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = produce(tmp); err != nil {
		return err
	}
	if f, err = os.OpenFile(tmp, os.O_RDWR, 0); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// File is one member of a set written by WriteAll.
type File struct {
	Path  string
	Write func(io.Writer) error
}

// WriteAll writes a set of files all or none, in three steps:
//
//  1. Check: a target that exists must be a regular file (a folder or a
//     device at a target's path is refused before anything is written), and
//     no path may appear twice.
//  2. Stage: every file is written to a temporary file in its target's
//     folder, synced and given mode 0644, in the order given. If one fails
//     (a write error, a full disk, a folder that is missing or read-only),
//     every temporary file is removed and no target has changed.
//  3. Commit: the temporary files are renamed over their targets in the
//     order given and the folders synced. Each rename is atomic; if one
//     fails (the folder was removed or made read-only after staging), the
//     targets this call already renamed are removed again and the remaining
//     temporary files too, so the set is never left half new, half old.
//
// Put the file whose presence readers look for last: once it appears, the
// others of the set are in place.
func WriteAll(files []File) error {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		abs, err := filepath.Abs(f.Path)
		if err != nil {
			return err
		}
		if seen[abs] {
			return fmt.Errorf("%s: named twice in one set of files", f.Path)
		}
		seen[abs] = true
		if fi, err := os.Stat(f.Path); err == nil && !fi.Mode().IsRegular() {
			return &os.PathError{Op: "write", Path: f.Path, Err: errNotRegular(fi)}
		}
	}
	tmps := make([]string, 0, len(files))
	removeAll := func(paths []string) {
		for _, p := range paths {
			os.Remove(p)
		}
	}
	for _, f := range files {
		tmp, err := stage(f.Path, f.Write)
		if err != nil {
			removeAll(tmps)
			return fmt.Errorf("%s: %w", f.Path, unwrapPath(err))
		}
		tmps = append(tmps, tmp)
	}
	for i, f := range files {
		if err := os.Rename(tmps[i], f.Path); err != nil {
			done := make([]string, i)
			for j := range done {
				done[j] = files[j].Path
			}
			removeAll(done)
			removeAll(tmps[i:])
			return fmt.Errorf("%s: %w", f.Path, unwrapPath(err))
		}
	}
	synced := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f.Path); !synced[d] {
			syncDir(d)
			synced[d] = true
		}
	}
	return nil
}

// unwrapPath drops an *os.PathError's or *os.LinkError's operation and
// paths (those of a temporary file), keeping the cause: the caller names
// the target instead.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// errNotRegular says what a non-regular target is.
func errNotRegular(fi os.FileInfo) error {
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	return fmt.Errorf("not a regular file (%v)", fi.Mode().Type())
}

// stage writes what write produces to a new temporary file beside path,
// synced and with mode 0644, and returns its name; on failure it removes it.
func stage(path string, write func(io.Writer) error) (tmp string, err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return "", err
	}
	if err = bw.Flush(); err != nil {
		return "", err
	}
	if err = f.Chmod(0o644); err != nil {
		return "", err
	}
	if err = f.Sync(); err != nil {
		return "", err
	}
	if err = f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// syncDir makes renames in dir durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

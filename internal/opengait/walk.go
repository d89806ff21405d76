package opengait

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Pickle is one .pkl file of an OpenGait tree.
type Pickle struct {
	// Subject, Type and View are the folder names above the file, as
	// written ("001", "nm-01", "090"; OU-MVLP: "00001", "00", "000").
	Subject, Type, View string
	// Path is ROOT/<subject>/<type>/<view>/<name>.pkl.
	Path string
}

// Dir returns the pickle's sequence folder ROOT/<subject>/<type>/<view>.
func (p Pickle) Dir() string { return filepath.Dir(p.Path) }

// Tree is an OpenGait tree as Walk found it.
type Tree struct {
	// Root is the folder walked.
	Root string
	// Pickles lists the .pkl files, sorted by subject, type, view and file
	// name (byte order).
	Pickles []Pickle
	// Ignored lists, sorted, the entries that do not fit the layout: files
	// at the subject or type level, files in a view folder without the .pkl
	// extension, folders inside a view folder.
	Ignored []string
}

// Walk lists the OpenGait tree at root: <subject>/<type>/<view>/*.pkl, the
// layout OpenGait's DataSet reads (the .pkl extension is case-sensitive, as
// there). Symbolic links are followed; entries whose names start with "."
// are skipped silently. The error is non-nil if root or one of its folders
// cannot be read, or if the tree holds no .pkl file at the expected depth.
func Walk(root string) (Tree, error) {
	t := Tree{Root: root}
	subjects, err := readDir(root)
	if err != nil {
		return t, fmt.Errorf("read OpenGait tree %s: %w", root, err)
	}
	for _, s := range subjects {
		if !s.dir {
			t.Ignored = append(t.Ignored, s.path)
			continue
		}
		types, err := readDir(s.path)
		if err != nil {
			return t, fmt.Errorf("read OpenGait tree %s: %w", root, err)
		}
		for _, ty := range types {
			if !ty.dir {
				t.Ignored = append(t.Ignored, ty.path)
				continue
			}
			views, err := readDir(ty.path)
			if err != nil {
				return t, fmt.Errorf("read OpenGait tree %s: %w", root, err)
			}
			for _, v := range views {
				if !v.dir {
					t.Ignored = append(t.Ignored, v.path)
					continue
				}
				files, err := readDir(v.path)
				if err != nil {
					return t, fmt.Errorf("read OpenGait tree %s: %w", root, err)
				}
				for _, f := range files {
					if f.dir || !strings.HasSuffix(f.name, ".pkl") {
						t.Ignored = append(t.Ignored, f.path)
						continue
					}
					t.Pickles = append(t.Pickles, Pickle{Subject: s.name, Type: ty.name, View: v.name, Path: f.path})
				}
			}
		}
	}
	sort.Strings(t.Ignored)
	if len(t.Pickles) == 0 {
		return t, fmt.Errorf("read OpenGait tree %s: no <subject>/<type>/<view>/*.pkl files", root)
	}
	return t, nil
}

// entry is a directory entry with symbolic links resolved.
type entry struct {
	name, path string
	dir        bool
}

// readDir lists dir's entries that do not start with ".", sorted by name,
// following symbolic links (a dangling link counts as a file).
func readDir(dir string) ([]entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, d := range des {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		e := entry{name: d.Name(), path: filepath.Join(dir, d.Name()), dir: d.IsDir()}
		if d.Type()&os.ModeSymlink != 0 {
			if fi, err := os.Stat(e.path); err == nil {
				e.dir = fi.IsDir()
			}
		}
		out = append(out, e)
	}
	return out, nil
}

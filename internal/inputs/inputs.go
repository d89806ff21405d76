// Package inputs finds and reads what `gaitord predict` is given: GEI PNGs,
// folders of binary silhouette frames (one walk), OpenGait pickles (one walk,
// docs/opengait.md) and, for a fused prediction, every one of those a folder
// holds. Each input becomes one GEI through the one reader of its kind
// (gei.Load, gei.LoadSilhouetteDir, opengait.LoadGEI), so prediction reads
// exactly what training and conversion read.
//
// # How a path is classified
//
// A file named on the command line is sniffed by content: a PNG signature
// makes it a GEI, a pickle header of protocol 2 to 5 (opengait.IsPickle) an
// OpenGait walk, whatever its name; any other file is an OpenGait walk if its
// extension is .pkl (so that the pickle reader says what is wrong with it)
// and a GEI otherwise (so that the PNG reader does).
//
// In a folder, the *.png files (any case) are either one walk of silhouette
// frames (the first PNG is pure black and white, gei.IsSilhouette, or frames
// is set) or GEIs, one input each; its *.pkl files (OpenGait's case-sensitive
// rule) are one walk each; other files are ignored. Expand looks at the
// folders it is given only; Set also descends into their subfolders (names
// starting with "." are skipped), so one person's OpenGait subject folder
// <subject>/<type>/<view>/*.pkl or a folder of GEIs is one set.
package inputs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/opengait"
)

// Input is one GEI to predict: a file or a folder of silhouette frames.
type Input struct {
	// Path is the GEI, the silhouette folder or the pickle.
	Path string
	// Source is how Path is read: api.SourceGEI, api.SourceSilhouettes or
	// api.SourceOpenGait.
	Source string
	// Err, when set, says why Path gave no input (it does not exist, a
	// folder holds nothing to predict); such an input is reported, not read.
	Err error
}

// Load reads the input's GEI at size with its source's reader. Every error
// names the file or folder.
func (in Input) Load(size gei.Size) ([]float32, error) {
	if in.Err != nil {
		return nil, in.Err
	}
	switch in.Source {
	case api.SourceSilhouettes:
		g, _, _, err := gei.LoadSilhouetteDir(in.Path, size)
		return g, err
	case api.SourceOpenGait:
		g, _, _, err := opengait.LoadGEI(in.Path, size)
		return g, err
	case api.SourceGEI:
		return gei.Load(in.Path, size)
	}
	return nil, fmt.Errorf("%s: unknown input source %q", in.Path, in.Source)
}

// Expand lists the inputs named by paths, in order: a file is one input (see
// the package doc), a folder the inputs it holds directly. A path that does
// not exist, or a folder holding no PNG or pickle, is an Input with Err set,
// so the caller reports it among the others.
func Expand(paths []string, frames bool) []Input {
	var out []Input
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out = append(out, Input{Path: p, Err: fmt.Errorf("%s: %w", p, unwrapPath(err))})
			continue
		}
		if !fi.IsDir() {
			out = append(out, Input{Path: p, Source: Sniff(p)})
			continue
		}
		ins, err := folder(p, frames)
		switch {
		case err != nil:
			out = append(out, Input{Path: p, Err: err})
		case len(ins) == 0:
			out = append(out, Input{Path: p, Err: fmt.Errorf("%s: folder holds no .png or .pkl files", p)})
		default:
			out = append(out, ins...)
		}
	}
	return out
}

// Set lists the inputs of one person for a fused prediction: a file alone,
// or every input of a folder and of its subfolders (see the package doc),
// sorted by path. A path that does not exist or holds no input is an error
// naming it.
func Set(path string, frames bool) ([]Input, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if !fi.IsDir() {
		return []Input{{Path: path, Source: Sniff(path)}}, nil
	}
	var out []Input
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", p, unwrapPath(err))
		}
		if !d.IsDir() {
			return nil
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		ins, err := folder(p, frames)
		out = append(out, ins...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no GEI (.png), silhouette folder or OpenGait pickle (.pkl) in it or below", path)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// folder lists the inputs directly in dir: its PNGs as one silhouette walk
// or as GEIs, and its .pkl files.
func folder(dir string, frames bool) ([]Input, error) {
	pngs, err := gei.ListPNGs(dir)
	if err != nil {
		return nil, err
	}
	var out []Input
	switch {
	case len(pngs) == 0:
	case frames || gei.IsSilhouette(pngs[0]):
		out = append(out, Input{Path: dir, Source: api.SourceSilhouettes})
	default:
		for _, f := range pngs {
			out = append(out, Input{Path: f, Source: api.SourceGEI})
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && strings.HasSuffix(e.Name(), ".pkl") {
			out = append(out, Input{Path: filepath.Join(dir, e.Name()), Source: api.SourceOpenGait})
		}
	}
	return out, nil
}

// Sniff classifies a file by its first bytes (see the package doc):
// api.SourceGEI or api.SourceOpenGait.
func Sniff(path string) string {
	head := make([]byte, 8)
	if f, err := os.Open(path); err == nil {
		n, _ := io.ReadFull(f, head)
		head = head[:n]
		f.Close()
	} else {
		head = nil
	}
	switch {
	case strings.HasPrefix(string(head), "\x89PNG"):
		return api.SourceGEI
	case opengait.IsPickle(head):
		return api.SourceOpenGait
	case strings.EqualFold(filepath.Ext(path), ".pkl"):
		return api.SourceOpenGait
	}
	return api.SourceGEI
}

// unwrapPath drops an *os.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

package gei

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Accumulator builds a GEI from silhouette frames added one at a time: the
// mean of the frames normalised as FromSilhouettes describes. It is what
// FromSilhouettes and LoadSilhouetteDir use, and what the video pipeline
// uses for the silhouettes it cuts out of footage, so a GEI from footage
// and one from mask files are made the same way.
type Accumulator struct {
	size          Size
	sum           []float64
	used, skipped int
}

// NewAccumulator returns an empty accumulator; the zero size means DefaultSize.
func NewAccumulator(size Size) (*Accumulator, error) {
	size, err := size.resolve()
	if err != nil {
		return nil, err
	}
	return &Accumulator{size: size, sum: make([]float64, size.H*size.W)}, nil
}

// Add normalises one frame (see FromSilhouettes) and adds it; nil, empty
// or all-black frames are skipped and counted. It reports whether the
// frame was used.
func (a *Accumulator) Add(img image.Image) bool {
	if img == nil || img.Bounds().Empty() {
		a.skipped++
		return false
	}
	p, ok := cropToSilhouette(toPlane(img))
	if !ok {
		a.skipped++
		return false
	}
	for k, v := range fit(p, a.size) {
		a.sum[k] += float64(v)
	}
	a.used++
	return true
}

// Used and Skipped count the frames averaged and the frames skipped.
func (a *Accumulator) Used() int    { return a.used }
func (a *Accumulator) Skipped() int { return a.skipped }

// GEI returns the mean of the added frames, or ErrNoFrames if none was used.
func (a *Accumulator) GEI() ([]float32, error) {
	if a.used == 0 {
		return nil, fmt.Errorf("%w (%d skipped as empty)", ErrNoFrames, a.skipped)
	}
	out := make([]float32, len(a.sum))
	for k, v := range a.sum {
		out[k] = float32(v / float64(a.used))
	}
	return out, nil
}

// cropToSilhouette crops p to the bounding box of its pixels > 0; ok is
// false when there are none.
func cropToSilhouette(p plane) (plane, bool) {
	x0, y0, x1, y1 := p.w, p.h, -1, -1
	for y := 0; y < p.h; y++ {
		for x, v := range p.v[y*p.w : (y+1)*p.w] {
			if v > 0 {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return plane{}, false
	}
	c := plane{w: x1 - x0 + 1, h: y1 - y0 + 1}
	c.v = make([]float32, 0, c.w*c.h)
	for y := y0; y <= y1; y++ {
		c.v = append(c.v, p.v[y*p.w+x0:y*p.w+x1+1]...)
	}
	return c, true
}

// FromSilhouettes builds a GEI from silhouette frames. Each frame is
// converted to gray as in Preprocess (intensity kept, not binarised),
// cropped to the bounding box of its pixels > 0, and then normalised with
// the rules 3–5 of Preprocess: scaled to height size.H keeping its aspect
// ratio by area averaging and, unless the scaled width is size.W, centred on
// its intensity-weighted horizontal centroid in a size.H×size.W canvas. The
// GEI is the mean of the normalised frames.
//
// Nil, empty and all-black frames are skipped and counted in skipped; used
// counts the averaged frames. No usable frame is an error (ErrNoFrames).
func FromSilhouettes(frames []image.Image, size Size) (gei []float32, used, skipped int, err error) {
	acc, err := NewAccumulator(size)
	if err != nil {
		return nil, 0, 0, err
	}
	for _, f := range frames {
		acc.Add(f)
	}
	gei, err = acc.GEI()
	return gei, acc.used, acc.skipped, err
}

// LoadSilhouetteDir reads every *.png file in dir (case-insensitive
// extension, sorted by name) as a silhouette frame and builds their GEI as
// FromSilhouettes does, decoding one frame at a time (see Walk). Each
// frame's PNG header is checked against MaxPixels and MaxSide before
// decoding. A frame that cannot be read is an error naming it; a folder
// without PNG files or without a usable frame is an error naming the folder.
func LoadSilhouetteDir(dir string, size Size) (gei []float32, used, skipped int, err error) {
	w, err := NewWalk(size)
	if err != nil {
		return nil, 0, 0, err
	}
	names, err := pngNames(dir)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read silhouette folder %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, 0, 0, fmt.Errorf("read silhouette folder %s: no .png frames", dir)
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		data, err := readFile(path)
		if err != nil {
			return nil, w.acc.Used(), w.acc.Skipped(), fmt.Errorf("read silhouette %s: %w", path, err)
		}
		if err := w.AddPNG(path, data); err != nil {
			return nil, w.acc.Used(), w.acc.Skipped(), err
		}
	}
	gei, used, skipped, err = w.GEI()
	if err != nil {
		return nil, used, skipped, fmt.Errorf("read silhouette folder %s: %w", dir, err)
	}
	return gei, used, skipped, nil
}

// Walk builds one GEI from the silhouette frames of one walk, added one at a
// time so that only one decoded frame is held at once: LoadSilhouetteDir
// reads a folder through it and `gaitord serve` the frames of an upload. The
// GEI is the one FromSilhouettes gives for the same frames in the same order.
type Walk struct{ acc *Accumulator }

// NewWalk returns an empty Walk for size (the zero Size is DefaultSize).
func NewWalk(size Size) (*Walk, error) {
	acc, err := NewAccumulator(size)
	if err != nil {
		return nil, err
	}
	return &Walk{acc: acc}, nil
}

// Add adds one decoded frame; nil, empty and all-black frames are skipped.
func (w *Walk) Add(img image.Image) { w.acc.Add(img) }

// AddPNG decodes one silhouette frame held in memory, with the header
// checks of Load, and adds it; name stands for the frame in errors.
func (w *Walk) AddPNG(name string, data []byte) error {
	if len(data) > maxFileBytes {
		return fmt.Errorf("read silhouette %s: %w: %d bytes (limit %d)", name, ErrTooLarge, len(data), maxFileBytes)
	}
	img, err := decodePNG(data)
	if err != nil {
		return fmt.Errorf("read silhouette %s: %w", name, err)
	}
	w.acc.Add(img)
	return nil
}

// GEI returns the mean of the frames added so far and how many were used
// and skipped; no usable frame is ErrNoFrames.
func (w *Walk) GEI() (gei []float32, used, skipped int, err error) {
	gei, err = w.acc.GEI()
	return gei, w.acc.Used(), w.acc.Skipped(), err
}

// IsSilhouette reports whether the PNG at path is a binary silhouette frame
// (every pixel pure black or pure white, some of it white) rather than a GEI,
// whose averaged frames give intermediate greys. A file that cannot be read
// or decoded within the size limits (MaxPixels, MaxSide) is not one.
func IsSilhouette(path string) bool {
	data, err := readFile(path)
	if err != nil {
		return false
	}
	img, err := decodePNG(data)
	if err != nil {
		return false
	}
	b := img.Bounds()
	white := false
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			switch color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y {
			case 0:
			case 255:
				white = true
			default:
				return false
			}
		}
	}
	return white
}

// ListPNGs returns the paths of the *.png entries (any case of the
// extension) directly in dir that are not folders, symbolic links included,
// sorted by name. An unreadable dir is an error naming it.
func ListPNGs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, unwrapPathError(err))
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".png") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// unwrapPathError drops an *os.PathError's repetition of the path.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// pngNames lists the regular *.png files of dir, sorted.
func pngNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".png") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

package gei

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// accumulator sums normalised silhouette frames into a GEI.
type accumulator struct {
	size          Size
	sum           []float64
	used, skipped int
}

// newAccumulator returns an empty accumulator for a resolved size.
func newAccumulator(size Size) *accumulator {
	return &accumulator{size: size, sum: make([]float64, size.H*size.W)}
}

// add normalises one frame and adds it; nil or all-black frames are skipped.
func (a *accumulator) add(img image.Image) {
	if img == nil || img.Bounds().Empty() {
		a.skipped++
		return
	}
	p, ok := cropToSilhouette(toPlane(img))
	if !ok {
		a.skipped++
		return
	}
	for k, v := range fit(p, a.size) {
		a.sum[k] += float64(v)
	}
	a.used++
}

// gei returns the mean of the added frames, or ErrNoFrames if none was used.
func (a *accumulator) gei() ([]float32, error) {
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
	size, err = size.resolve()
	if err != nil {
		return nil, 0, 0, err
	}
	acc := newAccumulator(size)
	for _, f := range frames {
		acc.add(f)
	}
	gei, err = acc.gei()
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
			return nil, w.acc.used, w.acc.skipped, fmt.Errorf("read silhouette %s: %w", path, err)
		}
		if err := w.AddPNG(path, data); err != nil {
			return nil, w.acc.used, w.acc.skipped, err
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
type Walk struct{ acc *accumulator }

// NewWalk returns an empty Walk for size (the zero Size is DefaultSize).
func NewWalk(size Size) (*Walk, error) {
	size, err := size.resolve()
	if err != nil {
		return nil, err
	}
	return &Walk{acc: newAccumulator(size)}, nil
}

// Add adds one decoded frame; nil, empty and all-black frames are skipped.
func (w *Walk) Add(img image.Image) { w.acc.add(img) }

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
	w.acc.add(img)
	return nil
}

// GEI returns the mean of the frames added so far and how many were used
// and skipped; no usable frame is ErrNoFrames.
func (w *Walk) GEI() (gei []float32, used, skipped int, err error) {
	gei, err = w.acc.gei()
	return gei, w.acc.used, w.acc.skipped, err
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

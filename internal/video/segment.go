package video

import (
	"sort"
)

// detection is one person-sized group of foreground components in a frame.
type detection struct {
	labels         []int32 // the components' labels in the label image
	x0, y0, x1, y1 int     // bounding box, inclusive
	area           int
	border         bool // touches the image border
}

// width and height of the box in pixels.
func (d *detection) width() int  { return d.x1 - d.x0 + 1 }
func (d *detection) height() int { return d.y1 - d.y0 + 1 }

// has reports whether label belongs to the detection.
func (d *detection) has(label int32) bool {
	for _, l := range d.labels {
		if l == label {
			return true
		}
	}
	return false
}

// segmenter turns frames into detections: background model with shadow
// removal (but not on the body, above the feet), edge refinement, a 3×3
// majority filter, components, hole filling, grouping.
type segmenter struct {
	w, h    int
	bg      *background
	raw     []byte // the model's mask
	bin     []byte // foreground 0/1
	tmp     []byte
	lab     *labeller
	hold    []byte // the last frame's detections, for the background's selective update
	minArea int
	workers int
}

// newSegmenter returns a segmenter for w×h frames at fps frames/s.
func newSegmenter(w, h int, fps float64, workers int) *segmenter {
	n := w * h
	return &segmenter{w: w, h: h, bg: newBackground(w, h, defaultBG(fps)), raw: make([]byte, n), bin: make([]byte, n),
		tmp: make([]byte, n), hold: make([]byte, n), lab: newLabeller(w, h),
		minArea: max(12, n/2500), workers: workers}
}

// frame segments one RGB frame and returns its detections, largest first.
// The label image (s.lab.labels) stays valid until the next call.
func (s *segmenter) frame(rgb []byte) []detection {
	s.bg.apply(rgb, s.raw, s.hold, s.workers)
	for i, v := range s.raw {
		s.bin[i] = 0
		if v == maskForeground {
			s.bin[i] = 1
		}
	}
	shadowsOnBody(s.raw, s.bin, s.tmp, s.lab, s.w)
	s.bg.refineEdges(rgb, s.bin, s.tmp)
	majority3(s.tmp, s.bin, s.w, s.h)
	blobs := s.lab.label(s.bin)
	kept := blobs[:0]
	for _, b := range blobs {
		if b.area >= s.minArea {
			kept = append(kept, b)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].area > kept[j].area })
	gone := map[int32]bool{}
	for i := range kept {
		if !gone[kept[i].label] {
			s.lab.fillHoles(&kept[i], func(l int32) { gone[l] = true })
		}
	}
	var dets []detection
	for _, b := range kept {
		if gone[b.label] {
			continue
		}
		dets = append(dets, detection{labels: []int32{b.label}, x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1, area: b.area})
	}
	dets = group(dets)
	for i := range dets {
		d := &dets[i]
		d.border = d.x0 <= 0 || d.y0 <= 0 || d.x1 >= s.w-1 || d.y1 >= s.h-1
	}
	return dets
}

// shadowsOnBody turns into foreground (in bin) the shadow pixels (in raw)
// that are part of a walker's body. Grey trousers over a grey floor look
// like a shadow of the floor to the background model (a darker copy of
// the same colour), but a walker's shadow lies on the floor at the level
// of the feet, not above them. So the foreground and shadow pixels
// together are split into 8-connected regions, and in each region that
// holds foreground, the shadow pixels within the columns of its
// foreground and above its lowest foreground row less a tenth of the
// foreground's height (above the ankles) become foreground. ext is
// scratch; lab labels it.
func shadowsOnBody(raw, bin, ext []byte, lab *labeller, w int) {
	shadows := false
	for i, v := range raw {
		ext[i] = 0
		if v != maskBackground {
			ext[i] = 1
			shadows = shadows || v == maskShadow
		}
	}
	if !shadows {
		return
	}
	regions := lab.label(ext)
	type extent struct{ x0, y0, x1, y1 int }
	fg := make([]extent, len(regions)+1)
	for i := range fg {
		fg[i] = extent{w, 1 << 30, -1, -1}
	}
	for i, l := range lab.labels {
		if l != 0 && raw[i] == maskForeground {
			e := &fg[l]
			x, y := i%w, i/w
			e.x0, e.x1, e.y0, e.y1 = min(e.x0, x), max(e.x1, x), min(e.y0, y), max(e.y1, y)
		}
	}
	for i, l := range lab.labels {
		if l == 0 || raw[i] != maskShadow {
			continue
		}
		e := fg[l]
		x, y := i%w, i/w
		if e.x1 >= 0 && x >= e.x0 && x <= e.x1 && y < e.y1-(e.y1-e.y0+1)/10 {
			bin[i] = 1
		}
	}
}

// holdFor marks, for the next frame's background update, the pixels of
// the detections the tracker wants held (see tracker.step).
func (s *segmenter) holdFor(dets []detection, hold []bool) {
	held := map[int32]bool{}
	for d := range dets {
		if hold[d] {
			for _, l := range dets[d].labels {
				held[l] = true
			}
		}
	}
	for i, l := range s.lab.labels {
		s.hold[i] = 0
		if l != 0 && held[l] {
			s.hold[i] = 1
		}
	}
}

// group merges detections that are fragments of one body: boxes that
// share most of the narrower one's columns and are at most a quarter of
// the taller one's height apart vertically (a head cut off at a
// camouflaged neck, legs cut off at the belt). It repeats until nothing
// merges and returns the groups, largest first.
func group(dets []detection) []detection {
	for merged := true; merged; {
		merged = false
		for i := 0; i < len(dets) && !merged; i++ {
			for j := i + 1; j < len(dets); j++ {
				a, b := &dets[i], &dets[j]
				overlap := min(a.x1, b.x1) - max(a.x0, b.x0) + 1
				gap := max(a.y0, b.y0) - min(a.y1, b.y1) - 1
				if overlap < min(a.width(), b.width())/2 || gap > max(a.height(), b.height())/4 {
					continue
				}
				a.labels = append(a.labels, b.labels...)
				a.x0, a.y0, a.x1, a.y1 = min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1)
				a.area += b.area
				dets = append(dets[:j], dets[j+1:]...)
				merged = true
				break
			}
		}
	}
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].area > dets[j].area })
	return dets
}

package video

import (
	"math"
	"sort"
)

// seenKind says how a track was seen in a frame.
type seenKind uint8

const (
	seenClear   seenKind = iota // alone, inside the frame: usable for the GEI
	seenBorder                  // touching the image border
	seenMerged                  // one blob with another walker
	seenMissing                 // not detected
)

// String names the kind as Box.Seen does.
func (k seenKind) String() string {
	return [...]string{"clear", "border", "merged", "missing"}[k]
}

// rect is a box in pixels, inclusive.
type rect struct{ x0, y0, x1, y1 float64 }

func (r rect) w() float64    { return r.x1 - r.x0 + 1 }
func (r rect) h() float64    { return r.y1 - r.y0 + 1 }
func (r rect) area() float64 { return r.w() * r.h() }
func (r rect) cx() float64   { return (r.x0 + r.x1) / 2 }
func (r rect) cy() float64   { return (r.y0 + r.y1) / 2 }

// shift moves the box by (dx, dy).
func (r rect) shift(dx, dy float64) rect { return rect{r.x0 + dx, r.y0 + dy, r.x1 + dx, r.y1 + dy} }

// inter is the area of the intersection of a and b.
func inter(a, b rect) float64 {
	w := math.Min(a.x1, b.x1) - math.Max(a.x0, b.x0) + 1
	h := math.Min(a.y1, b.y1) - math.Max(a.y0, b.y0) + 1
	if w <= 0 || h <= 0 {
		return 0
	}
	return w * h
}

// detRect is a detection's box.
func detRect(d *detection) rect {
	return rect{float64(d.x0), float64(d.y0), float64(d.x1), float64(d.y1)}
}

// histBins is the size of a track's colour histogram: 4 levels per channel.
const histBins = 64

// trackFrame is what a track recorded in one frame.
type trackFrame struct {
	frame int
	kind  seenKind
	box   rect
	sig   float64 // lower-body width / height on clear frames, NaN otherwise
	feet  float64 // left-right difference of the lowest points / height, NaN otherwise
	sil   int32   // index of the silhouette in track.sils, -1 if none
}

// silhouette is a clear frame's mask cut to the detection's box, one bit
// per pixel, row-major.
type silhouette struct {
	x0, y0, w, h int
	bits         []uint64
}

// track is one walker (or a blob that may turn out not to be one).
type track struct {
	frames []trackFrame
	sils   []silhouette
	box    rect    // last box, observed or predicted
	vx, vy float64 // box motion, pixels per frame
	moving bool    // vx, vy have been measured
	missed int     // frames since the last detection
	hits   int     // frames with a detection (merged ones included)
	// mergedRun counts the frames since it was last seen on its own
	mergedRun int
	bytes     int // silhouette bytes kept
	hist      [histBins]float64
	histN     int
}

// last returns the last recorded frame.
func (t *track) last() *trackFrame { return &t.frames[len(t.frames)-1] }

// tracker associates detections with tracks frame by frame.
type tracker struct {
	w, h      int
	fps       float64
	maxMissed int
	maxBytes  int // silhouette bytes a track may keep
	// establishHits is the number of detections after which a track is
	// a walker's, not a fragment's (0.15 s, at least 4)
	establishHits int
	// maxMerged is the longest two walkers stay merged (3 s): longer, it
	// is one walker tracked twice
	maxMerged int
	open      []*track
	done      func(*track) // called with each track that ends
}

// newTracker returns a tracker for w×h frames at fps whose tracks keep
// up to maxBytes of silhouettes each; done receives the tracks as they
// end, in the order they end.
func newTracker(w, h int, fps float64, maxBytes int, done func(*track)) *tracker {
	return &tracker{w: w, h: h, fps: fps, maxMissed: max(3, int(math.Round(0.7*fps))), maxBytes: maxBytes,
		establishHits: max(4, int(math.Round(0.15*fps))), maxMerged: max(10, int(math.Round(3*fps))), done: done}
}

// step takes the detections of frame i; labels is the frame's label image
// and rgb its pixels.
//
// Each track's box is predicted with its velocity. A detection covering
// at least 40 % of the predicted boxes of several tracks is resolved
// first: if two or more of them are established (seen in enough frames)
// and move differently, they are merged in it (a crossing); if one is, it
// takes the detection; the young ones (fragments that started their own
// track as the walker entered), those moving like the track seen most
// (fragments of the same walker) and those merged for over 3 s are
// dropped. Then the other tracks and detections are paired,
// cheapest first, by 1 − IoU + half the centre distance in box heights +
// half the colour histogram distance, within reach (IoU >= 0.1 or a
// distance under 0.6 heights). Tracks left over coast on their velocity;
// detections left over start tracks unless they lie inside a track's box.
// Two tracks whose boxes coincide and move alike are one walker twice:
// the younger is dropped.
//
// It returns, per detection, whether the background model should hold
// still under it next frame: every detection but those of a track that has
// stayed put for a second (a ghost the model should learn away).
func (tr *tracker) step(i int, dets []detection, labels []int32, rgb []byte) (hold []bool) {
	hold = make([]bool, len(dets))
	for d := range hold {
		hold[d] = true
	}
	pred := make([]rect, len(tr.open))
	for k, t := range tr.open {
		pred[k] = t.box.shift(t.vx, t.vy)
	}
	trackDone := make([]bool, len(tr.open))
	detDone := make([]bool, len(dets))
	drop := make([]bool, len(tr.open))
	established := func(t *track) bool { return t.hits >= tr.establishHits }
	// detections claimed by several tracks
	claimants := make([][]int, len(dets))
	for k := range tr.open {
		bestD, bestCov := -1, 0.4
		for d := range dets {
			if c := inter(pred[k], detRect(&dets[d])) / pred[k].area(); c >= bestCov {
				bestD, bestCov = d, c
			}
		}
		if bestD >= 0 {
			claimants[bestD] = append(claimants[bestD], k)
		}
	}
	for d, ks := range claimants {
		if len(ks) < 2 {
			continue
		}
		var old, young []int
		for _, k := range ks {
			if established(tr.open[k]) {
				old = append(old, k)
			} else {
				young = append(young, k)
			}
		}
		if len(old) == 0 { // keep the young track seen most
			sort.SliceStable(young, func(a, b int) bool { return tr.open[young[a]].hits > tr.open[young[b]].hits })
			old, young = young[:1], young[1:]
		}
		// established tracks that move alike are fragments of one walker
		// (walkers who cross move differently), as are tracks that have
		// been merged for longer than a crossing takes: keep the one seen most
		sort.SliceStable(old, func(a, b int) bool { return tr.open[old[a]].hits > tr.open[old[b]].hits })
		for a := 1; a < len(old); a++ {
			if ta, tb := tr.open[old[0]], tr.open[old[a]]; tr.alike(ta, tb) || tb.mergedRun >= tr.maxMerged {
				young = append(young, old[a])
				old = append(old[:a], old[a+1:]...)
				a--
			}
		}
		for _, k := range young {
			drop[k], trackDone[k] = true, true
		}
		detDone[d] = true
		if len(old) == 1 {
			trackDone[old[0]] = true
			tr.observe(tr.open[old[0]], i, &dets[d], labels, rgb)
			hold[d] = !tr.static(tr.open[old[0]])
			continue
		}
		for _, k := range old {
			trackDone[k] = true
			t := tr.open[k]
			t.box, t.missed = pred[k], 0
			t.hits++
			t.mergedRun++
			t.frames = append(t.frames, trackFrame{frame: i, kind: seenMerged, box: pred[k], sig: math.NaN(), feet: math.NaN(), sil: -1})
		}
	}
	// one-to-one matches, cheapest first
	type pair struct {
		k, d int
		cost float64
	}
	var pairs []pair
	hists := make([]*[histBins]float64, len(dets))
	for k, t := range tr.open {
		if trackDone[k] {
			continue
		}
		p := pred[k]
		for d := range dets {
			if detDone[d] {
				continue
			}
			r := detRect(&dets[d])
			iou := inter(p, r) / (p.area() + r.area() - inter(p, r))
			dist := math.Hypot(p.cx()-r.cx(), p.cy()-r.cy()) / p.h()
			if iou < 0.1 && dist > 0.6 {
				continue
			}
			cost := (1 - iou) + 0.5*dist
			if t.histN > 0 {
				if hists[d] == nil {
					hists[d] = detHist(&dets[d], labels, rgb, tr.w)
				}
				cost += 0.5 * (1 - bhattacharyya(&t.hist, hists[d]))
			}
			pairs = append(pairs, pair{k, d, cost})
		}
	}
	sort.Slice(pairs, func(a, b int) bool { return pairs[a].cost < pairs[b].cost })
	for _, pr := range pairs {
		if trackDone[pr.k] || detDone[pr.d] {
			continue
		}
		trackDone[pr.k], detDone[pr.d] = true, true
		tr.observe(tr.open[pr.k], i, &dets[pr.d], labels, rgb)
		hold[pr.d] = !tr.static(tr.open[pr.k])
	}
	// one walker tracked twice: coinciding boxes moving alike
	for a := range tr.open {
		for b := a + 1; b < len(tr.open); b++ {
			if drop[a] || drop[b] {
				continue
			}
			ta, tb := tr.open[a], tr.open[b]
			ov := inter(ta.box, tb.box)
			if iou := ov / (ta.box.area() + tb.box.area() - ov); iou > 0.6 && tr.alike(ta, tb) {
				if ta.hits >= tb.hits {
					drop[b] = true
				} else {
					drop[a] = true
				}
			}
		}
	}
	// tracks without a detection coast; those gone for too long, or
	// predicted out of the frame, end
	kept := tr.open[:0]
	for k, t := range tr.open {
		if drop[k] {
			continue
		}
		if !trackDone[k] {
			t.missed++
			t.box = pred[k]
			t.frames = append(t.frames, trackFrame{frame: i, kind: seenMissing, box: pred[k], sig: math.NaN(), feet: math.NaN(), sil: -1})
			out := t.box.x1 < 0 || t.box.x0 > float64(tr.w-1) || t.box.y1 < 0 || t.box.y0 > float64(tr.h-1)
			if t.missed > tr.maxMissed || out {
				tr.end(t)
				continue
			}
		}
		kept = append(kept, t)
	}
	tr.open = kept
	// new tracks from the other detections, unless they lie within a
	// walker's box (a stray fragment of it)
	for d := range dets {
		if detDone[d] {
			continue
		}
		r := detRect(&dets[d])
		inside := false
		for _, t := range tr.open {
			if inter(t.box, r) >= 0.6*r.area() {
				inside = true
				break
			}
		}
		if inside {
			continue
		}
		t := &track{}
		tr.observe(t, i, &dets[d], labels, rgb)
		tr.open = append(tr.open, t)
	}
	return hold
}

// static reports whether a track seen for over a second has not moved in
// that second: its box centre within a tenth of its height (plus two
// pixels) of where it was, its height within 5 % (plus two pixels).
func (tr *tracker) static(t *track) bool {
	back := int(math.Round(tr.fps))
	if len(t.frames) <= back {
		return false
	}
	a, b := t.frames[len(t.frames)-1-back].box, t.box
	h := math.Max(a.h(), 1)
	return math.Abs(a.cx()-b.cx()) < 0.1*h+2 && math.Abs(a.cy()-b.cy()) < 0.1*h+2 && math.Abs(a.h()-b.h()) < 0.05*h+2
}

// alike reports whether two tracks move alike: velocities within half a
// pixel per frame, or within a quarter of the faster one's speed.
func (tr *tracker) alike(a, b *track) bool {
	dv := math.Hypot(a.vx-b.vx, a.vy-b.vy)
	return dv <= math.Max(0.5, 0.25*math.Max(math.Hypot(a.vx, a.vy), math.Hypot(b.vx, b.vy)))
}

// observe records detection d as track t's frame i and updates its motion
// and colour.
func (tr *tracker) observe(t *track, i int, d *detection, labels []int32, rgb []byte) {
	r := detRect(d)
	left, right := d.x0 <= 0, d.x1 >= tr.w-1
	if len(t.frames) > 0 && t.last().kind != seenMissing && t.last().kind != seenMerged {
		prev := t.last().box
		// motion from the edge that is not cut by the border
		var dx float64
		switch {
		case left && !right:
			dx = r.x1 - prev.x1
		case right && !left:
			dx = r.x0 - prev.x0
		default:
			dx = r.cx() - prev.cx()
		}
		dy := r.y1 - prev.y1 // the feet
		if d.y1 >= tr.h-1 {
			dy = r.y0 - prev.y0
		}
		if t.moving {
			t.vx, t.vy = 0.7*t.vx+0.3*dx, 0.7*t.vy+0.3*dy
		} else {
			t.vx, t.vy, t.moving = dx, dy, true
		}
	}
	t.box, t.missed, t.mergedRun = r, 0, 0
	t.hits++
	f := trackFrame{frame: i, kind: seenClear, box: r, sig: math.NaN(), feet: math.NaN(), sil: -1}
	if d.border {
		f.kind = seenBorder
	} else {
		s := cutSilhouette(d, labels, tr.w)
		f.sig, f.feet = lowerWidth(&s), feetDifference(&s)
		if t.bytes+8*len(s.bits) <= tr.maxBytes {
			f.sil = int32(len(t.sils))
			t.sils = append(t.sils, s)
			t.bytes += 8 * len(s.bits)
		}
		h := detHist(d, labels, rgb, tr.w)
		n := float64(min(t.histN, 20))
		for k := range t.hist {
			t.hist[k] = (t.hist[k]*n + h[k]) / (n + 1)
		}
		t.histN++
	}
	t.frames = append(t.frames, f)
}

// end hands a finished track over.
func (tr *tracker) end(t *track) {
	// drop the trailing frames in which it was not seen
	for len(t.frames) > 0 && t.last().kind == seenMissing {
		t.frames = t.frames[:len(t.frames)-1]
	}
	tr.done(t)
}

// finish ends every open track.
func (tr *tracker) finish() {
	for _, t := range tr.open {
		tr.end(t)
	}
	tr.open = nil
}

// cutSilhouette packs the detection's pixels within its box.
func cutSilhouette(d *detection, labels []int32, w int) silhouette {
	s := silhouette{x0: d.x0, y0: d.y0, w: d.width(), h: d.height()}
	s.bits = make([]uint64, (s.w*s.h+63)/64)
	for y := 0; y < s.h; y++ {
		row := labels[(y+d.y0)*w+d.x0 : (y+d.y0)*w+d.x1+1]
		for x, l := range row {
			if l != 0 && d.has(l) {
				k := y*s.w + x
				s.bits[k>>6] |= 1 << (k & 63)
			}
		}
	}
	return s
}

// at reports whether pixel (x, y) of the box is the walker's.
func (s *silhouette) at(x, y int) bool {
	k := y*s.w + x
	return s.bits[k>>6]&(1<<(k&63)) != 0
}

// lowerWidth is the width of the silhouette's lower 40 % (its legs) over
// its height: the gait signal, widest when the feet are apart.
func lowerWidth(s *silhouette) float64 {
	lo, hi := s.w, -1
	for y := s.h * 6 / 10; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			if s.at(x, y) {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
	}
	if hi < 0 {
		return math.NaN()
	}
	return float64(hi-lo+1) / float64(s.h)
}

// feetDifference is the difference between the lowest rows of the left
// and right halves of the silhouette's lower 35 % (split at its
// horizontal centroid), over its height: seen from the front or back it
// swings once per gait cycle as one foot, then the other, is lifted.
func feetDifference(s *silhouette) float64 {
	y0 := s.h * 65 / 100
	var sum, n int
	for y := y0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			if s.at(x, y) {
				sum += x
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	split := (2*sum + n) / (2 * n)
	lowL, lowR := -1, -1
	for y := y0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			if s.at(x, y) {
				if x < split {
					lowL = y
				} else {
					lowR = y
				}
			}
		}
	}
	if lowL < 0 || lowR < 0 {
		return math.NaN()
	}
	return float64(lowL-lowR) / float64(s.h)
}

// detHist is the normalised 4×4×4 RGB histogram of a detection's pixels.
func detHist(d *detection, labels []int32, rgb []byte, w int) *[histBins]float64 {
	var h [histBins]float64
	n := 0
	for y := d.y0; y <= d.y1; y++ {
		for x := d.x0; x <= d.x1; x++ {
			l := labels[y*w+x]
			if l == 0 || !d.has(l) {
				continue
			}
			p := rgb[3*(y*w+x):]
			h[int(p[0]>>6)<<4|int(p[1]>>6)<<2|int(p[2]>>6)]++
			n++
		}
	}
	if n > 0 {
		for k := range h {
			h[k] /= float64(n)
		}
	}
	return &h
}

// bhattacharyya is the Bhattacharyya coefficient of two normalised
// histograms: 1 for equal ones, 0 for disjoint ones.
func bhattacharyya(a, b *[histBins]float64) float64 {
	var s float64
	for k := range a {
		s += math.Sqrt(a[k] * b[k])
	}
	return s
}

package video

import (
	"image"
	"math"
	"sort"

	"github.com/gaitord/gaitord/internal/gei"
)

// typicalCycle is the gait cycle assumed, in seconds, for a walker seen
// too briefly to measure its own.
const typicalCycle = 1.1

// walkerRules decide which tracks are walkers and which frames count.
type walkerRules struct {
	fps       float64
	width     int     // frame width in pixels
	minHits   int     // detections a walker needs
	minHeight float64 // median box height in pixels
	minNoted  int     // frames a walker without a GEI must span to be noted
	size      gei.Size
	keep      bool // keep the averaged silhouettes in Track (Options.KeepSilhouettes)
}

// outcome is what a finished track became: a track with a GEI, a note,
// or nothing (not a walker).
type outcome struct {
	track *Track
	note  *Note
}

// finalize turns a finished track into a Track (GEI over whole clear
// cycles), a Note (a walker without a whole clear cycle, seen over at
// least minNoted frames) or nothing (a blob that is not a walker: too few
// detections, merged with another for most of them, too small, not
// upright, not moving).
func (wr walkerRules) finalize(t *track) outcome {
	if len(t.frames) == 0 {
		return outcome{}
	}
	var heights, widths []float64
	var seen []int // indices of frames with a detection
	for k, f := range t.frames {
		if f.kind != seenMissing {
			seen = append(seen, k)
		}
		if f.kind == seenClear || f.kind == seenBorder {
			heights = append(heights, f.box.h())
			widths = append(widths, f.box.w())
		}
	}
	merged := 0
	for _, k := range seen {
		if t.frames[k].kind == seenMerged {
			merged++
		}
	}
	if len(seen) < wr.minHits || len(heights) == 0 || 2*merged > len(seen) {
		return outcome{}
	}
	medH, medW := median(heights), median(widths)
	if medH < wr.minHeight || medH < 1.1*medW && !wr.anyUpright(t) {
		return outcome{}
	}
	first, last := t.frames[seen[0]], t.frames[seen[len(seen)-1]]
	dx := last.box.cx() - first.box.cx()
	scale := math.Abs(math.Log(last.box.h() / first.box.h()))
	if math.Abs(dx) < 0.5*medH && scale < 0.2 {
		return outcome{}
	}
	good := wr.goodFrames(t)
	sig, feet := make([]float64, len(t.frames)), make([]float64, len(t.frames))
	for k, f := range t.frames {
		sig[k], feet[k] = math.NaN(), math.NaN()
		if good[k] {
			sig[k], feet[k] = f.sig, f.feet
		}
	}
	period, _, ok := gaitPeriod(sig, feet, wr.fps)
	note := &Note{First: first.frame, Last: last.frame, Cycle: typicalCycle * wr.fps}
	if last.frame-first.frame+1 < wr.minNoted && len(good) > 0 {
		note = nil // too brief to tell a walker from a stray blob
	}
	if !ok {
		return outcome{note: note}
	}
	note.Cycle = period
	windows := wholeCycles(good, period)
	if len(windows) == 0 {
		return outcome{note: note}
	}
	acc, err := gei.NewAccumulator(wr.size)
	if err != nil {
		return outcome{note: note}
	}
	out := &Track{First: first.frame, Last: last.frame, Period: period}
	for _, w := range windows {
		out.Cycles += w.cycles
		out.Windows = append(out.Windows, [2]int{t.frames[w.a].frame, t.frames[w.b].frame})
		for k := w.a; k <= w.b; k++ {
			if good[k] && t.frames[k].sil >= 0 {
				sil := &t.sils[t.frames[k].sil]
				if acc.Add(sil.image()) && wr.keep {
					out.sils = append(out.sils, keptSilhouette{frame: t.frames[k].frame, sil: sil})
				}
			}
		}
	}
	if out.GEI, err = acc.GEI(); err != nil {
		return outcome{note: note}
	}
	out.Used = acc.Used()
	out.ViewHint = viewHint(first.box, last.box, wr.width)
	for _, f := range t.frames[seen[0] : seen[len(seen)-1]+1] {
		out.Boxes = append(out.Boxes, Box{Frame: f.frame, X0: int(math.Round(f.box.x0)), Y0: int(math.Round(f.box.y0)),
			X1: int(math.Round(f.box.x1)) + 1, Y1: int(math.Round(f.box.y1)) + 1, Seen: f.kind.String()})
	}
	return outcome{track: out}
}

// anyUpright reports whether the track was ever clearly taller than wide
// (a walker seen from the front at the start of a stride may be wide).
func (wr walkerRules) anyUpright(t *track) bool {
	for _, f := range t.frames {
		if f.kind == seenClear && f.box.h() >= 1.5*f.box.w() {
			return true
		}
	}
	return false
}

// goodFrames marks the clear frames with a silhouette whose box height is
// within 12 % of the median height of the clear frames within 0.5 s, and
// whose width is under 1.6 times their median width: the others are
// missing a part (a camouflaged head) or carry a stray blob.
func (wr walkerRules) goodFrames(t *track) []bool {
	good := make([]bool, len(t.frames))
	half := max(2, int(math.Round(0.5*wr.fps)))
	var hs, ws []float64
	for k, f := range t.frames {
		if f.kind != seenClear || f.sil < 0 {
			continue
		}
		hs, ws = hs[:0], ws[:0]
		for j := max(0, k-half); j <= min(len(t.frames)-1, k+half); j++ {
			if g := t.frames[j]; g.kind == seenClear {
				hs = append(hs, g.box.h())
				ws = append(ws, g.box.w())
			}
		}
		mh, mw := median(hs), median(ws)
		good[k] = math.Abs(f.box.h()-mh) <= 0.12*mh && f.box.w() <= 1.6*mw
	}
	return good
}

// window is a span of track frames [a, b] holding a whole number of cycles.
type window struct{ a, b, cycles int }

// wholeCycles finds the runs of good frames, bridging gaps of up to a
// tenth of a period (at least one frame), and cuts from the middle of
// each run the longest span of whole cycles.
func wholeCycles(good []bool, period float64) []window {
	gap := max(1, int(math.Round(period/10)))
	var out []window
	k := 0
	for k < len(good) {
		if !good[k] {
			k++
			continue
		}
		a, b := k, k
		for j := k + 1; j < len(good); j++ {
			if good[j] {
				b = j
			} else if j-b > gap {
				break
			}
		}
		k = b + 1
		n := b - a + 1
		c := int(float64(n) / period)
		if c < 1 {
			continue
		}
		l := min(n, int(math.Round(float64(c)*period)))
		s := a + (n-l)/2
		out = append(out, window{s, s + l - 1, c})
	}
	return out
}

// viewHint names the walking direction from the first and last boxes of
// a walker in a frame w pixels wide. With a pinhole camera, a walker's
// lateral position in body heights, u = (box centre − w/2) / box height,
// changes only when it moves across the view, and its depth in body
// heights, f / box height, only when it moves along it (f, the focal
// length in pixels, taken as that of a 60° lens, 0.87 w). Whichever
// changed more names the direction.
func viewHint(a, b rect, w int) string {
	f := 0.87 * float64(w)
	du := (b.cx()-float64(w)/2)/b.h() - (a.cx()-float64(w)/2)/a.h()
	dz := f/b.h() - f/a.h()
	if math.Abs(du) >= math.Abs(dz) {
		if b.cx() > a.cx() {
			return "left-to-right"
		}
		return "right-to-left"
	}
	if dz < 0 {
		return "towards"
	}
	return "away"
}

// image expands the silhouette into a gray crop (255 the walker, 0 not).
func (s *silhouette) image() *image.Gray {
	img := image.NewGray(image.Rect(s.x0, s.y0, s.x0+s.w, s.y0+s.h))
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			if s.at(x, y) {
				img.Pix[y*img.Stride+x] = 255
			}
		}
	}
	return img
}

// median of v (v is reordered); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

package video

import (
	"math"
	"testing"
)

// person is a coloured box on a tracking test stage.
type person struct {
	x0, y0, x1, y1 int // inclusive
	colour         [3]byte
}

// stage draws people into a label image and an RGB frame and returns one
// detection per group of overlapping people (overlapping boxes make one
// blob, as in footage).
func stage(w, h int, people []person) ([]detection, []int32, []byte) {
	labels := make([]int32, w*h)
	rgb := make([]byte, w*h*3)
	for i, p := range people {
		for y := max(0, p.y0); y <= min(h-1, p.y1); y++ {
			for x := max(0, p.x0); x <= min(w-1, p.x1); x++ {
				labels[y*w+x] = int32(i + 1)
				copy(rgb[3*(y*w+x):], p.colour[:])
			}
		}
	}
	var dets []detection
	for i, p := range people {
		if p.x1 < 0 || p.x0 >= w {
			continue
		}
		d := detection{labels: []int32{int32(i + 1)}, x0: max(0, p.x0), y0: max(0, p.y0), x1: min(w-1, p.x1), y1: min(h-1, p.y1)}
		d.area = (d.x1 - d.x0 + 1) * (d.y1 - d.y0 + 1)
		merged := false
		for k := range dets {
			o := &dets[k]
			if o.x0 <= d.x1 && d.x0 <= o.x1 && o.y0 <= d.y1 && d.y0 <= o.y1 {
				o.labels = append(o.labels, d.labels...)
				o.x0, o.y0, o.x1, o.y1 = min(o.x0, d.x0), min(o.y0, d.y0), max(o.x1, d.x1), max(o.y1, d.y1)
				o.area += d.area
				merged = true
			}
		}
		if !merged {
			dets = append(dets, d)
		}
	}
	for k := range dets {
		d := &dets[k]
		d.border = d.x0 <= 0 || d.y0 <= 0 || d.x1 >= w-1 || d.y1 >= h-1
	}
	return dets, labels, rgb
}

// Two walkers cross; each keeps its track through the merge, and a third
// walker seen only briefly ends as its own short track.
func TestTrackerCrossing(t *testing.T) {
	const w, h = 400, 120
	var ended []*track
	tr := newTracker(w, h, 30, 1<<20, func(t *track) { ended = append(ended, t) })
	red, blue := [3]byte{220, 30, 30}, [3]byte{30, 30, 220}
	const frames = 140
	for i := 0; i < frames; i++ {
		a := 10 + 3*i      // left to right
		b := 370 - 2*i     // right to left, slower
		bob := 2 * (i % 2) // a little vertical jitter
		people := []person{
			{a, 20 + bob, a + 20, 100, red},
			{b, 30, b + 16, 95 + bob, blue},
		}
		dets, labels, rgb := stage(w, h, people)
		tr.step(i, dets, labels, rgb)
	}
	tr.finish()
	if len(ended) != 2 {
		t.Fatalf("%d tracks, want 2", len(ended))
	}
	merged := 0
	for _, tk := range ended {
		// which walker is it at its start and at its end?
		first, last := tk.frames[0], tk.frames[len(tk.frames)-1]
		startsLeft := first.box.cx() < 200
		endsRight := last.box.cx() > 200
		if startsLeft != endsRight {
			t.Errorf("track from %v to %v swapped walkers", first.box, last.box)
		}
		for _, f := range tk.frames {
			if f.kind == seenMerged {
				merged++
			}
			// while merged, the predicted box follows the walker's own motion
			if f.kind == seenMerged {
				x := 10 + 3*f.frame
				if !startsLeft {
					x = 370 - 2*f.frame
				}
				if math.Abs(f.box.x0-float64(x)) > 6 {
					t.Errorf("frame %d: predicted x0 %.1f, walker at %d", f.frame, f.box.x0, x)
				}
			}
		}
	}
	if merged < 10 {
		t.Errorf("%d merged frames, want the crossing's", merged)
	}
}

// A walker entering in two pieces (arm and body) that then join gets one
// track (the other is dropped, never handed over); a blob
// standing still is released from the background's hold after a second.
func TestTrackerFragmentsAndGhosts(t *testing.T) {
	const w, h = 300, 100
	var ended []*track
	tr := newTracker(w, h, 30, 1<<20, func(t *track) { ended = append(ended, t) })
	green, grey := [3]byte{30, 200, 30}, [3]byte{120, 120, 120}
	var ghostHold []bool
	for i := 0; i < 60; i++ {
		x := -20 + 3*i
		people := []person{
			{x, 10, x + 18, 90, green},
			{250, 60, 265, 80, grey}, // a ghost: never moves
		}
		if i < 4 { // entering: the arm shows apart from the body, then joins it
			people = append(people, person{x + 22, 40, x + 26, 60, green})
		} else {
			people = append(people, person{x + 16, 40, x + 24, 60, green})
		}
		dets, labels, rgb := stage(w, h, people)
		hold := tr.step(i, dets, labels, rgb)
		for d := range dets {
			if dets[d].x0 == 250 {
				ghostHold = append(ghostHold, hold[d])
			}
		}
	}
	tr.finish()
	walkers := 0
	for _, tk := range ended {
		if tk.frames[0].box.x0 < 100 {
			walkers++
		}
	}
	if walkers != 1 {
		t.Errorf("%d tracks for the walker, want 1", walkers)
	}
	if !ghostHold[0] || !ghostHold[20] || ghostHold[40] || ghostHold[59] {
		t.Errorf("ghost held at frames 0, 20, 40, 59: %v %v %v %v", ghostHold[0], ghostHold[20], ghostHold[40], ghostHold[59])
	}
}

// A walker missing for a few frames (hidden) keeps its track; one leaving
// the frame ends it.
func TestTrackerShortOcclusion(t *testing.T) {
	const w, h = 300, 100
	var ended []*track
	tr := newTracker(w, h, 30, 1<<20, func(t *track) { ended = append(ended, t) })
	for i := 0; i < 110; i++ {
		x := 5 + 3*i
		var people []person
		if i < 40 || i >= 50 { // hidden for 10 frames (a third of a second)
			people = append(people, person{x, 10, x + 18, 90, [3]byte{200, 200, 30}})
		}
		dets, labels, rgb := stage(w, h, people)
		tr.step(i, dets, labels, rgb)
	}
	if len(ended) != 1 || len(tr.open) != 0 {
		t.Fatalf("%d tracks ended, %d open; want the one walker ended on leaving", len(ended), len(tr.open))
	}
	missing := 0
	for _, f := range ended[0].frames {
		if f.kind == seenMissing {
			missing++
		}
	}
	if missing != 10 {
		t.Errorf("%d missing frames, want 10", missing)
	}
}

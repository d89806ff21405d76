package video

import (
	"strings"
	"testing"
)

// parseMask reads rows of '#' (1) and '.' (0).
func parseMask(rows ...string) ([]byte, int, int) {
	w, h := len(rows[0]), len(rows)
	m := make([]byte, w*h)
	for y, r := range rows {
		for x, c := range r {
			if c == '#' {
				m[y*w+x] = 1
			}
		}
	}
	return m, w, h
}

func TestLabel(t *testing.T) {
	m, w, h := parseMask(
		"##....#...",
		"##...#....", // diagonal joins with 8-connectivity
		"......#..#",
		"#.#...#..#",
		"#.#......#",
		"###.......", // a U: two arms joined at the bottom
	)
	l := newLabeller(w, h)
	blobs := l.label(m)
	if len(blobs) != 4 {
		t.Fatalf("%d blobs, want 4: %+v", len(blobs), blobs)
	}
	want := []blob{
		{label: 1, area: 4, x0: 0, y0: 0, x1: 1, y1: 1},
		{label: 2, area: 4, x0: 5, y0: 0, x1: 6, y1: 3},
		{label: 3, area: 3, x0: 9, y0: 2, x1: 9, y1: 4},
		{label: 4, area: 7, x0: 0, y0: 3, x1: 2, y1: 5},
	}
	for i, b := range blobs {
		if b != want[i] {
			t.Errorf("blob %d: %+v, want %+v", i, b, want[i])
		}
	}
	for i, v := range m {
		if (v != 0) != (l.labels[i] != 0) {
			t.Fatalf("pixel %d: mask %d label %d", i, v, l.labels[i])
		}
	}
	if l.labels[5*w+1] != 4 || l.labels[3*w+0] != 4 || l.labels[3*w+2] != 4 {
		t.Error("the U's arms are not one blob")
	}
}

func TestFillHoles(t *testing.T) {
	m, w, h := parseMask(
		"#######...",
		"#.....#...",
		"#..#..#.##",
		"#.....#.#.",
		"###.###.##", // a gap at the bottom: not a hole
		"#.....#...",
		"#######...",
	)
	l := newLabeller(w, h)
	blobs := l.label(m)
	var absorbed []int32
	big := blobs[0]
	l.fillHoles(&big, func(lab int32) { absorbed = append(absorbed, lab) })
	// rows 1-3 inside the frame connect to row 5 through the gap in row 4,
	// and row 5's inside is closed by the frame: all of it is one hole
	inside := 0
	for y := 1; y <= 5; y++ {
		for x := 1; x <= 5; x++ {
			if l.labels[y*w+x] == big.label {
				inside++
			}
		}
	}
	if inside != 25 {
		t.Errorf("%d of the 25 pixels inside the frame belong to it", inside)
	}
	if len(absorbed) != 1 || absorbed[0] != blobs[1].label {
		t.Errorf("absorbed %v, want the dot's label %d", absorbed, blobs[1].label)
	}
	if big.area != l.count(big.label) {
		t.Errorf("area %d, counted %d", big.area, l.count(big.label))
	}
	// the C shape at the right is open: nothing to fill
	c := blobs[2]
	before := c.area
	l.fillHoles(&c, func(int32) {})
	if c.area != before {
		t.Errorf("open shape grew from %d to %d", before, c.area)
	}
}

// count is the number of pixels labelled lab.
func (l *labeller) count(lab int32) int {
	n := 0
	for _, v := range l.labels {
		if v == lab {
			n++
		}
	}
	return n
}

func TestGroupFragments(t *testing.T) {
	dets := []detection{
		{labels: []int32{1}, x0: 10, y0: 30, x1: 30, y1: 100, area: 900}, // body
		{labels: []int32{2}, x0: 14, y0: 12, x1: 26, y1: 27, area: 150},  // head above it, a small gap
		{labels: []int32{3}, x0: 60, y0: 30, x1: 80, y1: 100, area: 800}, // another walker beside
		{labels: []int32{4}, x0: 62, y0: 5, x1: 78, y1: 10, area: 60},    // too far above the other one
	}
	got := group(dets)
	if len(got) != 3 {
		t.Fatalf("%d groups, want 3: %+v", len(got), got)
	}
	g := got[0]
	if len(g.labels) != 2 || g.area != 1050 || g.x0 != 10 || g.y0 != 12 || g.x1 != 30 || g.y1 != 100 {
		t.Errorf("body and head: %+v", g)
	}
	if len(got[1].labels) != 1 || got[1].labels[0] != 3 {
		t.Errorf("the other walker: %+v", got[1])
	}
}

func TestSegmenterFindsObjectWithShadow(t *testing.T) {
	const w, h = 80, 60
	s := newScene(w, h)
	seg := newSegmenter(w, h, 30, 1)
	for i := 0; i < 30; i++ {
		if dets := seg.frame(s.frame(1, nil)); i > 5 && len(dets) != 0 {
			t.Fatalf("frame %d: %d detections in an empty scene", i, len(dets))
		}
	}
	// an upright box with a hole (a camouflaged patch) and a shadow beside its foot
	paint := func(x, y int, c []float64) {
		body := x >= 20 && x < 32 && y >= 10 && y < 50
		patch := x >= 24 && x < 28 && y >= 20 && y < 26
		shadow := x >= 32 && x < 50 && y >= 44 && y < 50
		switch {
		case body && !patch:
			c[0], c[1], c[2] = 200, 40, 40
		case shadow:
			c[0], c[1], c[2] = 0.6*c[0], 0.6*c[1], 0.6*c[2]
		}
	}
	dets := seg.frame(s.frame(1, paint))
	if len(dets) != 1 {
		t.Fatalf("%d detections, want 1: %+v", len(dets), dets)
	}
	d := dets[0]
	// the majority filter rounds off the four corners
	if d.x0 != 20 || d.x1 != 31 || d.y0 != 10 || d.y1 != 49 || d.area != 12*40-4 || d.border {
		t.Errorf("detection %+v, want the 12x40 box at (20,10) less its corners, holes filled, no shadow", d)
	}
	var b strings.Builder
	for y := 8; y < 52; y += 4 {
		for x := 18; x < 52; x++ {
			if seg.lab.labels[y*w+x] != 0 {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	t.Logf("labels:\n%s", b.String())
}

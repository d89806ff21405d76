package video

import (
	"strings"
	"testing"
)

// flags parses a pattern of good ('#') and bad ('.') frames.
func flags(p string) []bool {
	out := make([]bool, len(p))
	for i, c := range p {
		out[i] = c == '#'
	}
	return out
}

func TestWholeCycles(t *testing.T) {
	cases := []struct {
		pattern string
		period  float64
		want    []window
	}{
		// 25 good frames, period 10: two cycles (20 frames) from the middle
		{strings.Repeat("#", 25), 10, []window{{2, 21, 2}}},
		// a one-frame gap is bridged (gap allowed: period/10 = 1)
		{strings.Repeat("#", 12) + "." + strings.Repeat("#", 12), 10, []window{{2, 21, 2}}},
		// a longer gap splits the run; the short part has no whole cycle
		{strings.Repeat("#", 12) + "..." + strings.Repeat("#", 8), 10, []window{{1, 10, 1}}},
		// a fractional period: round(3 × 7.4) = 22 frames of 23
		{strings.Repeat("#", 23), 7.4, []window{{0, 21, 3}}},
		{strings.Repeat("#", 9), 10, nil},
		{"", 10, nil},
	}
	for _, c := range cases {
		got := wholeCycles(flags(c.pattern), c.period)
		if len(got) != len(c.want) {
			t.Errorf("%q period %g: %v, want %v", c.pattern, c.period, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q period %g: %v, want %v", c.pattern, c.period, got, c.want)
			}
		}
	}
}

func TestViewHint(t *testing.T) {
	box := func(cx, h float64) rect { return rect{cx - h/4, 100 - h, cx + h/4, 100} }
	cases := []struct {
		a, b rect
		want string
	}{
		{box(50, 100), box(550, 100), "left-to-right"},
		{box(600, 100), box(40, 110), "right-to-left"},
		{box(320, 60), box(330, 180), "towards"},
		{box(300, 180), box(310, 60), "away"},
		// coming towards the camera 1.3 m left of its axis: drifts left in
		// the picture, but its position in body heights stays put
		{box(260, 80), box(140, 240), "towards"},
		// crossing diagonally, mostly across: 3 heights across, scale ×1.2
		{box(100, 100), box(420, 120), "left-to-right"},
	}
	for _, c := range cases {
		if got := viewHint(c.a, c.b, 640); got != c.want {
			t.Errorf("%v → %v: %s, want %s", c.a, c.b, got, c.want)
		}
	}
}

func TestNoteString(t *testing.T) {
	n := Note{First: 3, Last: 17, Cycle: 29.6}
	if got := n.String(); got != "a walker at frames 3–17 was visible for less than one gait cycle (~30 frames)" {
		t.Fatalf("got %q", got)
	}
}

func TestSilhouetteImage(t *testing.T) {
	m, w, h := parseMask(
		"......",
		".##...",
		".####.",
		"..#...",
	)
	l := newLabeller(w, h)
	l.label(m)
	d := detection{labels: []int32{1}, x0: 1, y0: 1, x1: 4, y1: 3}
	s := cutSilhouette(&d, l.labels, w)
	img := s.image()
	if img.Bounds().Min.X != 1 || img.Bounds().Min.Y != 1 || img.Bounds().Dx() != 4 || img.Bounds().Dy() != 3 {
		t.Fatalf("bounds %v", img.Bounds())
	}
	for y := 1; y <= 3; y++ {
		for x := 1; x <= 4; x++ {
			if (img.GrayAt(x, y).Y == 255) != (m[y*w+x] == 1) {
				t.Fatalf("pixel (%d,%d) differs", x, y)
			}
		}
	}
	// the lower 40 % of the 3 rows starts at row 3*6/10 = 1 of the box:
	// columns 0..3 over a height of 3
	if got := lowerWidth(&s); got != 4.0/3 {
		t.Errorf("lower width %v, want 4/3", got)
	}
}

package video

import (
	"math/rand/v2"
	"testing"
)

// scene is a textured w×h RGB picture with per-frame Gaussian noise.
type scene struct {
	w, h int
	base []float64
	r    *rand.Rand
}

func newScene(w, h int) *scene {
	s := &scene{w: w, h: h, base: make([]float64, w*h*3), r: rand.New(rand.NewPCG(1, 2))}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			k := 3 * (y*w + x)
			s.base[k] = 60 + float64((x/7+y/5)%4)*40 // tiles
			s.base[k+1] = 90 + float64(x%13)*5
			s.base[k+2] = 140 - float64(y%11)*6
		}
	}
	return s
}

// frame renders the scene with gain, noise sd 2, then paint on top.
func (s *scene) frame(gain float64, paint func(x, y int, c []float64)) []byte {
	out := make([]byte, len(s.base))
	c := make([]float64, 3)
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			k := 3 * (y*s.w + x)
			copy(c, s.base[k:k+3])
			for i := range c {
				c[i] *= gain
			}
			if paint != nil {
				paint(x, y, c)
			}
			for i := range c {
				out[k+i] = uint8(min(255, max(0, c[i]+2*s.r.NormFloat64()+0.5)))
			}
		}
	}
	return out
}

// count returns how many mask pixels in the box [x0,x1)×[y0,y1) have value v.
func count(mask []byte, w, x0, y0, x1, y1 int, v byte) int {
	n := 0
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if mask[y*w+x] == v {
				n++
			}
		}
	}
	return n
}

func TestBackgroundObjectsShadowsAndGain(t *testing.T) {
	const w, h = 80, 60
	s := newScene(w, h)
	bg := newBackground(w, h, defaultBG(30))
	mask := make([]byte, w*h)
	for i := 0; i < 40; i++ {
		bg.apply(s.frame(1, nil), mask, nil, 2)
	}
	if n := count(mask, w, 0, 0, w, h, maskBackground); n < w*h*998/1000 {
		t.Fatalf("static scene: %d of %d pixels background", n, w*h)
	}
	// a red box is foreground; a darker copy of the background (a
	// shadow, 60 % brightness) is a shadow
	bg.apply(s.frame(1, func(x, y int, c []float64) {
		switch {
		case x >= 10 && x < 30 && y >= 10 && y < 50:
			c[0], c[1], c[2] = 220, 30, 40
		case x >= 50 && x < 70 && y >= 30 && y < 50:
			c[0], c[1], c[2] = 0.6*c[0], 0.6*c[1], 0.6*c[2]
		}
	}), mask, nil, 1)
	if n := count(mask, w, 10, 10, 30, 50, maskForeground); n < 800 {
		t.Errorf("object: %d of 800 pixels foreground", n)
	}
	if n := count(mask, w, 50, 30, 70, 50, maskShadow); n < 380 {
		t.Errorf("shadow: %d of 400 pixels shadow", n)
	}
	// the whole picture 12 % brighter (lights, exposure) changes nothing
	bg.apply(s.frame(1.12, nil), mask, nil, 2)
	if n := count(mask, w, 0, 0, w, h, maskBackground); n < w*h*99/100 || bg.lastGain < 1.10 || bg.lastGain > 1.14 {
		t.Errorf("brighter frame: %d of %d pixels background, gain %.3f", n, w*h, bg.lastGain)
	}
}

// A box standing still is learnt into the background unless the pixels
// are held (the selective update for walkers).
func TestBackgroundHold(t *testing.T) {
	const w, h = 60, 40
	s := newScene(w, h)
	box := func(x, y int, c []float64) {
		if x >= 20 && x < 40 && y >= 10 && y < 30 {
			c[0], c[1], c[2] = 30, 200, 60
		}
	}
	for _, held := range []bool{false, true} {
		bg := newBackground(w, h, defaultBG(30))
		mask := make([]byte, w*h)
		hold := make([]byte, w*h)
		for i := 0; i < 150; i++ {
			bg.apply(s.frame(1, nil), mask, nil, 1)
		}
		var fg int
		for i := 0; i < 60; i++ { // 2 s
			bg.apply(s.frame(1, box), mask, hold, 1)
			fg = count(mask, w, 20, 10, 40, 30, maskForeground)
			if held {
				copy(hold, mask)
			}
		}
		if held && fg < 400 || !held && fg > 0 {
			t.Errorf("held %v: %d of 400 pixels still foreground after 2 s", held, fg)
		}
	}
}

// Compression blurs an outline over a pixel: refineEdges gives each edge
// pixel to the side its colour is closer to.
func TestRefineEdges(t *testing.T) {
	const w, h = 40, 30
	s := newScene(w, h)
	bg := newBackground(w, h, defaultBG(30))
	mask := make([]byte, w*h)
	for i := 0; i < 30; i++ {
		bg.apply(s.frame(1, nil), mask, nil, 1)
	}
	// a white box 10..29 × 8..21 with a ring around it that is mostly
	// background (15 % white), all flagged foreground
	rgb := s.frame(1, func(x, y int, c []float64) {
		in := x >= 10 && x < 30 && y >= 8 && y < 22
		ring := x >= 9 && x < 31 && y >= 7 && y < 23
		switch {
		case in:
			c[0], c[1], c[2] = 250, 250, 250
		case ring:
			for i := range c {
				c[i] = 0.85*c[i] + 0.15*250
			}
		}
	})
	bin := make([]byte, w*h)
	for y := 7; y < 23; y++ {
		for x := 9; x < 31; x++ {
			bin[y*w+x] = 1
		}
	}
	out := make([]byte, w*h)
	bg.refineEdges(rgb, bin, out)
	if n := count(out, w, 9, 7, 31, 23, 1); n != 20*14 {
		t.Fatalf("%d foreground pixels after refining, want the %d of the box", n, 20*14)
	}
	if n := count(out, w, 10, 8, 30, 22, 1); n != 20*14 {
		t.Fatalf("the box lost %d pixels", 20*14-n)
	}
}

func TestMajority3(t *testing.T) {
	const w, h = 12, 8
	m := make([]byte, w*h)
	m[1*w+1] = 1 // a speck
	for y := 0; y < h; y++ {
		m[y*w+5] = 1 // a one-pixel line
		m[y*w+8], m[y*w+9] = 1, 1
	} // a two-pixel line
	out := make([]byte, w*h)
	majority3(m, out, w, h)
	if out[1*w+1] != 0 || count(out, w, 5, 0, 6, h, 1) != 0 {
		t.Error("speck or one-pixel line kept")
	}
	if count(out, w, 8, 0, 10, h, 1) != 2*h {
		t.Errorf("two-pixel line: %d of %d pixels kept", count(out, w, 8, 0, 10, h, 1), 2*h)
	}
}

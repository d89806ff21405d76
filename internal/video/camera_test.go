package video

import (
	"math"
	"testing"
)

// panned renders a textured w×h frame seen from horizontal offset off,
// with a walker-sized box moving across it.
func panned(w, h int, off float64, box int) []byte {
	rgb := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			u := float64(x) + off
			v := 128 + 60*math.Sin(u/9)*math.Cos(float64(y)/7) + 30*math.Sin(u/23+float64(y)/17)
			if x >= box && x < box+12 && y > h/4 && y < h*3/4 {
				v = 250
			}
			k := 3 * (y*w + x)
			rgb[k], rgb[k+1], rgb[k+2] = byte(v), byte(v*0.8), byte(255-v)
		}
	}
	return rgb
}

func TestCameraCheck(t *testing.T) {
	const w, h, fps = 160, 120, 30
	for _, pan := range []float64{0, 0.4, 3} {
		c := newCameraCheck(w, h, fps)
		stopped := -1
		for i := 0; i < 120 && stopped < 0; i++ {
			if c.moving(panned(w, h, pan*float64(i), (2*i)%w)) {
				stopped = i
			}
		}
		switch {
		case pan == 0 && (stopped >= 0 || c.movedOverall()):
			t.Errorf("static camera seen moving: %s", c)
		case pan > 0 && stopped < 0:
			t.Errorf("pan of %g px/frame not seen: %s", pan, c)
		}
	}
}

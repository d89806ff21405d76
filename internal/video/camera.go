package video

import (
	"fmt"
	"math"
)

// cameraCheck tells a moving camera from a static one by the motion of
// the whole picture. Each frame is shrunk to gray blocks (at most 160
// across) and compared with the previous frame and with the frame half a
// second earlier at every shift of up to 3 blocks each way. In footage
// from a static camera the mean absolute difference is smallest unshifted
// (walkers cover a small part of the frame; no shift reduces sensor
// noise), while a pan or a shaking camera makes a shifted comparison
// clearly better: under 85 % of the unshifted difference and at least 0.3
// gray levels below it. When 2 s of comparisons in a row, or over half of
// all of them at the end, show such a shift, no stable background can
// form and the footage is refused.
type cameraCheck struct {
	w, block   int         // frame width, block side
	sw, sh     int         // shrunk size
	ring       [][]float32 // the last lag small frames
	spare      []float32
	n          int
	lag, limit int
	run, moved int
	compared   int
	shiftSum   float64
}

// maxShift is the largest shift tried, in blocks.
const maxShift = 3

// newCameraCheck returns a check for w×h footage at fps.
func newCameraCheck(w, h int, fps float64) *cameraCheck {
	block := max(2, (w+159)/160)
	lag := max(2, int(math.Round(fps/2)))
	c := &cameraCheck{w: w, block: block, sw: w / block, sh: h / block, lag: lag, limit: max(10, int(math.Round(2*fps)))}
	c.ring = make([][]float32, lag)
	return c
}

// moving takes one RGB frame and reports whether the camera has been
// moving for 2 s in a row. The frame is compared with the previous one
// (fast pans) and with the one half a second earlier (slow pans).
func (c *cameraCheck) moving(rgb []byte) bool {
	slot := c.n % c.lag
	old := c.ring[slot]                 // the frame lag frames ago, or nil
	last := c.ring[(c.n+c.lag-1)%c.lag] // the previous frame, or nil
	cur := c.shrink(rgb, c.spare)
	c.ring[slot], c.spare = cur, old
	c.n++
	if last == nil || c.sw <= 2*maxShift+2 || c.sh <= 2*maxShift+2 {
		return false
	}
	shift, moved := c.shifted(last, cur)
	if !moved && old != nil {
		shift, moved = c.shifted(old, cur)
	}
	c.compared++
	if moved {
		c.run++
		c.moved++
		c.shiftSum += shift
	} else {
		c.run = 0
	}
	return c.run >= c.limit
}

// shifted compares a with b at every shift and reports whether a shifted
// comparison is clearly better than the unshifted one, and by how many
// pixels.
func (c *cameraCheck) shifted(a, b []float32) (float64, bool) {
	best, bx, by := math.Inf(1), 0, 0
	zero := c.diff(a, b, 0, 0)
	for dy := -maxShift; dy <= maxShift; dy++ {
		for dx := -maxShift; dx <= maxShift; dx++ {
			if d := c.diff(a, b, dx, dy); d < best {
				best, bx, by = d, dx, dy
			}
		}
	}
	moved := (bx != 0 || by != 0) && best < 0.85*zero && zero-best >= 0.3
	return math.Hypot(float64(bx), float64(by)) * float64(c.block), moved
}

// movedOverall reports whether over half of the comparisons (at least
// ten) showed the picture shifted.
func (c *cameraCheck) movedOverall() bool {
	return c.compared >= 10 && 2*c.moved > c.compared
}

// String describes what was seen.
func (c *cameraCheck) String() string {
	shift := 0.0
	if c.moved > 0 {
		shift = c.shiftSum / float64(c.moved)
	}
	return fmt.Sprintf("the picture shifted (by about %.0f pixels) in %d of %d frames", shift, c.moved, c.compared)
}

// shrink averages the frame's gray level over block×block squares into
// dst (allocated if nil).
func (c *cameraCheck) shrink(rgb []byte, dst []float32) []float32 {
	if dst == nil {
		dst = make([]float32, c.sw*c.sh)
	}
	fw := c.w
	inv := 1 / float32(3*c.block*c.block)
	for by := 0; by < c.sh; by++ {
		for bx := 0; bx < c.sw; bx++ {
			var s int
			for y := by * c.block; y < (by+1)*c.block; y++ {
				row := rgb[3*(y*fw+bx*c.block) : 3*(y*fw+(bx+1)*c.block)]
				for _, v := range row {
					s += int(v)
				}
			}
			dst[by*c.sw+bx] = float32(s) * inv
		}
	}
	return dst
}

// diff is the mean absolute difference between a shifted by (dx, dy) and
// b, over the blocks both cover, leaving out a margin of maxShift.
func (c *cameraCheck) diff(a, b []float32, dx, dy int) float64 {
	var s float64
	n := 0
	for y := maxShift; y < c.sh-maxShift; y++ {
		ra := a[(y+dy)*c.sw : (y+dy+1)*c.sw]
		rb := b[y*c.sw : (y+1)*c.sw]
		for x := maxShift; x < c.sw-maxShift; x++ {
			s += math.Abs(float64(ra[x+dx] - rb[x]))
			n++
		}
	}
	return s / float64(n)
}

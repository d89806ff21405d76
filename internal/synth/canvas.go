package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// canvas is a binary silhouette frame: 255 is the person, 0 background.
// With parts set, drawing writes the current pen (a body part, see
// footage.go) instead of 255, so colour footage can dress the walker; the
// set of non-zero pixels, the silhouette, is the same either way.
type canvas struct {
	img   *image.Gray
	w, h  int
	parts bool
	pen   uint8
}

// ink is the value drawing writes: 255, or the pen for a parts canvas.
func (c *canvas) ink() uint8 {
	if c.parts {
		return c.pen
	}
	return 255
}

// newCanvas returns a black w×h canvas.
func newCanvas(w, h int) *canvas {
	return &canvas{img: image.NewGray(image.Rect(0, 0, w, h)), w: w, h: h}
}

// fill sets every pixel whose centre (x+0.5, y+0.5) is inside, within the
// box [x0, x1]×[y0, y1] clipped to the canvas, to v.
func (c *canvas) fill(x0, y0, x1, y1 float64, v uint8, inside func(px, py float64) bool) {
	ix0, iy0 := max(0, int(math.Floor(x0))), max(0, int(math.Floor(y0)))
	ix1, iy1 := min(c.w-1, int(math.Ceil(x1))), min(c.h-1, int(math.Ceil(y1)))
	for y := iy0; y <= iy1; y++ {
		row := c.img.Pix[y*c.img.Stride:]
		for x := ix0; x <= ix1; x++ {
			if inside(float64(x)+0.5, float64(y)+0.5) {
				row[x] = v
			}
		}
	}
}

// capsule fills the points within r pixels of segment (ax,ay)-(bx,by).
func (c *canvas) capsule(ax, ay, bx, by, r float64) {
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	c.fill(math.Min(ax, bx)-r, math.Min(ay, by)-r, math.Max(ax, bx)+r, math.Max(ay, by)+r, c.ink(),
		func(px, py float64) bool {
			t := 0.0
			if l2 > 0 {
				t = clamp(((px-ax)*dx+(py-ay)*dy)/l2, 0, 1)
			}
			ex, ey := px-ax-t*dx, py-ay-t*dy
			return ex*ex+ey*ey <= r*r
		})
}

// limb draws a body segment between two body points with radius r in body units.
func (c *canvas) limb(cam camera, p, q vec, r float64) {
	ax, ay := cam.project(p)
	bx, by := cam.project(q)
	c.capsule(ax, ay, bx, by, math.Max(0.5, r*cam.scale))
}

// ellipse fills the axis-aligned ellipse centred at (cx, cy).
func (c *canvas) ellipse(cx, cy, rx, ry float64) {
	rx, ry = math.Max(rx, 0.5), math.Max(ry, 0.5)
	c.fill(cx-rx, cy-ry, cx+rx, cy+ry, c.ink(), func(px, py float64) bool {
		u, v := (px-cx)/rx, (py-cy)/ry
		return u*u+v*v <= 1
	})
}

// polygon fills a convex polygon (vertices in either winding order).
func (c *canvas) polygon(pts [][2]float64) {
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range pts {
		x0, y0, x1, y1 = math.Min(x0, p[0]), math.Min(y0, p[1]), math.Max(x1, p[0]), math.Max(y1, p[1])
	}
	c.fill(x0, y0, x1, y1, c.ink(), func(px, py float64) bool {
		pos, neg := false, false
		for i, a := range pts {
			b := pts[(i+1)%len(pts)]
			cr := (b[0]-a[0])*(py-a[1]) - (b[1]-a[1])*(px-a[0])
			pos, neg = pos || cr > 0, neg || cr < 0
		}
		return !(pos && neg)
	})
}

// noise imitates segmentation errors: up to two small discs, centred on
// random silhouette pixels, are filled or cleared.
func (c *canvas) noise(r *rand.Rand) {
	for range r.IntN(3) {
		for try := 0; try < 50; try++ {
			x, y := r.IntN(c.w), r.IntN(c.h)
			if c.img.Pix[y*c.img.Stride+x] == 0 {
				continue
			}
			rad := 1 + 1.5*r.Float64()
			v := uint8(255 * r.IntN(2))
			cx, cy := float64(x)+0.5, float64(y)+0.5
			c.fill(cx-rad, cy-rad, cx+rad, cy+rad, v, func(px, py float64) bool {
				return (px-cx)*(px-cx)+(py-cy)*(py-cy) <= rad*rad
			})
			break
		}
	}
}

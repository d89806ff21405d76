package synth

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gaitord/gaitord/internal/gei"
)

// vec is a point of the walker in body units (standing height = 1): x
// forward, y up from the ground, z to the walker's left.
type vec struct{ x, y, z float64 }

// add returns p + q.
func (p vec) add(q vec) vec { return vec{p.x + q.x, p.y + q.y, p.z + q.z} }

// camera projects body points to pixels of a square frame.
type camera struct {
	sinV, cosV     float64 // view angle: 90° is a side view, 0° frontal
	scale          float64 // pixels per body unit
	centreX, floor float64 // pixel column of x=z=0 and pixel row of y=0
}

// project returns the pixel position of p: horizontally x*sin(view) +
// z*cos(view) (side views show the stride, frontal views the width).
func (c camera) project(p vec) (px, py float64) {
	u := p.x*c.sinV + p.z*c.cosV
	return c.centreX + u*c.scale, c.floor - p.y*c.scale
}

// width returns the on-screen width in pixels of a body part that is w wide
// (left-right) and d deep (front-back).
func (c camera) width(w, d float64) float64 {
	return (w*math.Abs(c.cosV) + d*math.Abs(c.sinV)) * c.scale
}

// gait is the per-sequence walking style.
type gait struct {
	phase0, speed, jitter float64
	frames                int
}

// frameSide returns the frame side in pixels for a GEI size: 2.5 × height.
func frameSide(size gei.Size) int { return size.H * 5 / 2 }

// Render draws one gait cycle of subject walking, seen from view (degrees;
// 90 is a side view, 0 frontal), as binary silhouettes and returns their
// GEI built by gei.FromSilhouettes, so the normalisation is that of real
// data. seq (>= 0) selects the sequence: starting phase, walking speed,
// frame count (18–24) and the per-frame pose and segmentation noise all
// follow from subject.Seed, view and seq, so the same arguments give the
// same GEI.
func Render(subject SubjectParams, view, seq int, size gei.Size) ([]float32, error) {
	if err := size.Validate(); err != nil {
		return nil, fmt.Errorf("render subject %d: %w", subject.ID, err)
	}
	if size == (gei.Size{}) {
		size = gei.DefaultSize
	}
	if err := subject.validate(); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if seq < 0 {
		return nil, fmt.Errorf("render subject %d: negative sequence %d", subject.ID, seq)
	}
	r := rand.New(rand.NewPCG(subject.Seed, uint64(view)<<32^uint64(seq)*0x9e3779b97f4a7c15))
	g := gait{phase0: r.Float64(), speed: 1 + 0.06*r.NormFloat64(), jitter: 1.5, frames: 18 + r.IntN(7)}
	side := frameSide(size)
	rad := float64(view) * math.Pi / 180
	cam := camera{sinV: math.Sin(rad), cosV: math.Cos(rad), scale: subject.HeightFrac * float64(side),
		centreX: float64(side) / 2, floor: 0.95 * float64(side)}
	frames := make([]image.Image, g.frames)
	for i := range frames {
		c := newCanvas(side, side)
		t := g.phase0 + float64(i)/float64(g.frames)
		drawWalker(c, subject, g, cam, t, r)
		c.noise(r)
		frames[i] = c.img
	}
	out, _, _, err := gei.FromSilhouettes(frames, size)
	if err != nil {
		return nil, fmt.Errorf("render subject %d view %d seq %d: %w", subject.ID, view, seq, err)
	}
	return out, nil
}

// drawWalker draws the walker at gait phase t (cycles) on c.
func drawWalker(c *canvas, s SubjectParams, g gait, cam camera, t float64, r *rand.Rand) {
	deg := func(d float64) float64 { return (d + g.jitter*r.NormFloat64()) * math.Pi / 180 }
	hipY := s.LegFrac + 0.012*math.Cos(4*math.Pi*t)
	hip := vec{0, hipY, 0}
	lean := deg(s.Stoop)
	trunk := 1 - s.HeadFrac - s.LegFrac - 0.025
	neck := hip.add(vec{trunk * math.Sin(lean), trunk * math.Cos(lean), 0})
	shoulder := hip.add(vec{0.9 * trunk * math.Sin(lean), 0.9 * trunk * math.Cos(lean), 0})
	for i, side := range []float64{1, -1} {
		far := uint8(0)
		if i == 0 {
			far = partFar // drawn first, so behind the other side
		}
		phi := 2 * math.Pi * (t + (1-side)/4) // right side half a cycle later
		drawLeg(c, s, g, cam, hip.add(vec{0, 0, side * 0.3 * s.HipW}), phi, deg, far)
		drawArm(c, s, g, cam, shoulder.add(vec{0, -0.01, side * (0.5*s.ShoulderW + 0.2*s.LimbW)}), phi, deg, far)
	}
	c.pen = partShirt
	drawTorso(c, s, cam, hip, shoulder)
	nx, ny := cam.project(neck)
	sx, sy := cam.project(shoulder)
	c.pen = partSkin
	c.capsule(sx, sy, nx, ny, 0.03*cam.scale)
	head := neck.add(vec{s.HeadFwd + 0.5*s.HeadFrac*math.Sin(1.3*lean), 0.5*s.HeadFrac*math.Cos(lean) + 0.005, 0})
	hx, hy := cam.project(head)
	rx, ry := 0.5*cam.width(0.65*s.HeadFrac, 0.85*s.HeadFrac), 0.5*s.HeadFrac*cam.scale
	c.ellipse(hx, hy, rx, ry)
	if c.parts { // hair: a cap inside the head's outline, so the silhouette is unchanged
		c.pen = partHair
		c.ellipse(hx, hy-0.25*ry, 0.9*rx, 0.7*ry)
	}
}

// drawLeg draws thigh, shank and foot from hip at gait phase phi (radians).
// far is partFar for the leg on the far side, 0 for the near one.
func drawLeg(c *canvas, s SubjectParams, g gait, cam camera, hip vec, phi float64, deg func(float64) float64, far uint8) {
	seg := (s.LegFrac - 0.03) / 2
	thigh := deg(g.speed * s.ThighAmp * math.Sin(phi))
	knee := thigh - deg(s.KneeBend+g.speed*s.KneeAmp*math.Pow(math.Max(0, math.Cos(phi)), 2))
	kp := hip.add(vec{seg * math.Sin(thigh), -seg * math.Cos(thigh), 0})
	ap := kp.add(vec{seg * math.Sin(knee), -seg * math.Cos(knee), 0})
	tp := ap.add(vec{0.14 * math.Cos(knee), 0.14*math.Sin(knee) - 0.015, 0})
	c.pen = partTrousers | far
	c.limb(cam, hip, kp, 0.5*s.LimbW)
	c.limb(cam, kp, ap, 0.4*s.LimbW)
	c.pen = partShoes | far
	c.limb(cam, ap, tp, 0.022)
}

// drawArm draws the upper arm and forearm from the shoulder joint; the arm
// swings against the same-side leg. far is as for drawLeg.
func drawArm(c *canvas, s SubjectParams, g gait, cam camera, sh vec, phi float64, deg func(float64) float64, far uint8) {
	upper, fore := 0.37*s.LegFrac, 0.42*s.LegFrac
	swing := deg(-g.speed * s.ArmAmp * math.Sin(phi))
	elbow := swing + deg(12+0.5*g.speed*s.ArmAmp*math.Max(0, -math.Sin(phi)))
	ep := sh.add(vec{upper * math.Sin(swing), -upper * math.Cos(swing), 0})
	wp := ep.add(vec{fore * math.Sin(elbow), -fore * math.Cos(elbow), 0})
	c.pen = partShirt | far
	c.limb(cam, sh, ep, 0.3*s.LimbW)
	c.pen = partSkin | far
	c.limb(cam, ep, wp, 0.25*s.LimbW)
}

// drawTorso draws the trunk as a trapezoid from hip to shoulder whose
// on-screen widths follow the view.
func drawTorso(c *canvas, s SubjectParams, cam camera, hip, shoulder vec) {
	bx, by := cam.project(hip.add(vec{0, -0.03, 0}))
	tx, ty := cam.project(shoulder)
	dx, dy := tx-bx, ty-by
	n := math.Hypot(dx, dy)
	if n == 0 {
		return
	}
	nx, ny := -dy/n, dx/n
	hb := 0.5 * cam.width(s.HipW, 0.95*s.Depth)
	ht := 0.5 * cam.width(s.ShoulderW, s.Depth)
	c.polygon([][2]float64{{bx + nx*hb, by + ny*hb}, {tx + nx*ht, ty + ny*ht}, {tx - nx*ht, ty - ny*ht}, {bx - nx*hb, by - ny*hb}})
	c.capsule(tx+nx*(ht-0.3*s.LimbW*cam.scale), ty+ny*(ht-0.3*s.LimbW*cam.scale),
		tx-nx*(ht-0.3*s.LimbW*cam.scale), ty-ny*(ht-0.3*s.LimbW*cam.scale), 0.3*s.LimbW*cam.scale)
}

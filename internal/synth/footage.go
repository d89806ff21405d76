package synth

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
)

// Footage: colour video of the parametric walkers of this package, with
// ground truth, for testing gaitord's video pipeline (internal/video).
//
// The scene is seen by a static pinhole camera (60° horizontal field of
// view, 1.6 m above a flat floor, looking level; the horizon 30 % down the
// frame). A ground point at depth Z metres and lateral offset X appears at
// column W/2 + f·X/Z and row H·0.3 + f·1.6/Z, f = (W/2)/tan 30°, and a
// person h metres tall is f·h/Z pixels tall. Behind the walkers: a wall
// 10 m away (pastel paint, panel seams, posters, smooth texture) over a
// tiled floor drawn in perspective. Per frame: a slow illumination drift
// (a gain 1 ± Drift with a 12 s period), a soft shadow on the floor beside
// each walker's feet (the floor darkened by up to Shadow, colour kept),
// the walkers far to near in their clothes (far-side limbs darker, a
// little texture), then Gaussian sensor noise of Noise levels per channel.
//
// A walker's body, posture and gait follow its SubjectParams as in the
// GEI dataset; its gait cycle lasts 1.1 s × sqrt(leg length / 0.85 m),
// longer after 50, and its speed is its stride (4 × leg length ×
// sin(thigh swing)) per cycle, so its feet roughly keep their place on
// the floor. Ground truth per walker: the frames in which it is visible,
// its period in frames per gait cycle, its age and gender, and per frame
// its silhouette mask (the whole body, also where another walker hides
// it; shadows are not part of it).

// Direction is where a walker goes, as seen by the camera.
type Direction int

// The four walking directions.
const (
	LeftToRight Direction = iota
	RightToLeft
	Towards
	Away
)

// String returns "left-to-right", "right-to-left", "towards" or "away".
func (d Direction) String() string {
	switch d {
	case LeftToRight:
		return "left-to-right"
	case RightToLeft:
		return "right-to-left"
	case Towards:
		return "towards"
	case Away:
		return "away"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// Clothes are a walker's colours (8-bit RGB).
type Clothes struct {
	Shirt, Trousers, Shoes, Skin, Hair [3]uint8
}

// WalkerSpec places one walker in the footage.
type WalkerSpec struct {
	// Subject is the walker's body and gait (NewSubject, SampleSubject).
	Subject SubjectParams
	// Direction is the walking direction.
	Direction Direction
	// Depth is the distance from the camera in metres at which a walker
	// crosses the view (left-to-right, right-to-left); 0 means 5.5. For
	// towards and away walkers it is ignored: they walk between 9 m (in
	// front of the wall) and the nearest depth at which their feet are
	// still in view.
	Depth float64
	// Offset is the lateral position in metres of a towards or away walker
	// (0 is the centre line); ignored when crossing.
	Offset float64
	// Start is the frame at which the walker starts, just out of view (a
	// crossing walker) or 9 m away (towards); it may be negative.
	Start int
	// Clothes are its colours; the zero value draws them from the subject's seed.
	Clothes Clothes
}

// FootageOptions configure RenderFootage. Zero fields take the defaults.
type FootageOptions struct {
	// Width and Height are the frame size, even; default 320×240.
	Width, Height int
	// FPS is the frame rate; default 30.
	FPS int
	// Frames is the number of frames; 0 means until the last walker has
	// left the view (at least one frame).
	Frames int
	// Seed makes the scene and the noise reproducible.
	Seed uint64
	// Walkers are the people; none gives an empty scene (set Frames).
	Walkers []WalkerSpec
	// Noise is the sensor noise standard deviation in 8-bit levels;
	// default 2, negative for none.
	Noise float64
	// Drift is the illumination drift amplitude (relative gain); default
	// 0.05, negative for none.
	Drift float64
	// Shadow is the darkest a walker's soft shadow makes the floor
	// (relative); default 0.4, negative for none.
	Shadow float64
	// Pan moves the camera sideways by this many pixels per frame (a
	// moving camera, which the video pipeline must refuse); default 0.
	Pan float64
}

// WalkerTruth is the ground truth of one walker of the footage.
type WalkerTruth struct {
	// Walker is its 1-based position in FootageOptions.Walkers.
	Walker int `json:"walker"`
	// Subject, Age and Gender ("M" or "F") are its labels.
	Subject int    `json:"subject"`
	Age     int    `json:"age"`
	Gender  string `json:"gender"`
	// Direction is its walking direction (Direction.String).
	Direction string `json:"direction"`
	// Period is its gait cycle in frames.
	Period float64 `json:"period"`
	// First and Last are the first and last frames in which any of it is
	// visible; both -1 if it never is.
	First int `json:"first"`
	Last  int `json:"last"`
}

// FootageTruth is the ground truth of a rendered footage.
type FootageTruth struct {
	Width   int           `json:"width"`
	Height  int           `json:"height"`
	FPS     int           `json:"fps"`
	Frames  int           `json:"frames"`
	Walkers []WalkerTruth `json:"walkers"`
}

// Mask is one walker's silhouette in one frame: Img's bounds are its
// bounding box in frame coordinates (clipped to the frame), 255 inside
// the body, 0 outside.
type Mask struct {
	Walker int
	Img    *image.Gray
}

// Body parts, the pens of a parts canvas (see canvas.ink).
const (
	partTrousers uint8 = 1 + iota
	partShoes
	partShirt
	partSkin
	partHair
	partFar uint8 = 8 // or'ed in for limbs on the far side
)

// scene geometry (see the package comment on footage).
const (
	camHeight  = 1.6  // camera height, m
	horizonRel = 0.3  // horizon row / frame height
	wallDepth  = 10.0 // m
	farDepth   = 9.0  // where towards walkers start, m
	crossDepth = 5.5  // default crossing depth, m

	driftPeriod = 12.0 // s
)

// walkerPlan is a walker's motion, derived once from its spec.
type walkerPlan struct {
	spec    WalkerSpec
	heightM float64 // standing height, m
	period  float64 // frames per gait cycle
	speed   float64 // m per frame
	frames  int     // frames from Start until it has left the view
	x0, z0  float64 // position at Start, m
	dx, dz  float64 // motion per frame, m
	sinV    float64 // body orientation (camera.sinV/cosV)
	cosV    float64
	phase0  float64
	clothes Clothes
}

// footageScene holds what is fixed over the footage.
type footageScene struct {
	o       FootageOptions
	f       float64   // focal length, px
	horizon float64   // row
	bg      []float32 // background, (W + pan margin) × H × 3
	bgW     int
	plans   []walkerPlan
}

// withDefaults fills in the defaults and validates.
func (o FootageOptions) withDefaults() (FootageOptions, error) {
	o.Width, o.Height, o.FPS = orDefault(o.Width, 320), orDefault(o.Height, 240), orDefault(o.FPS, 30)
	if o.Noise == 0 {
		o.Noise = 2
	}
	if o.Drift == 0 {
		o.Drift = 0.05
	}
	if o.Shadow == 0 {
		o.Shadow = 0.4
	}
	switch {
	case o.Width < 32 || o.Height < 32 || o.Width%2 != 0 || o.Height%2 != 0 || o.Width > 7680 || o.Height > 4320:
		return o, fmt.Errorf("footage: frame size %dx%d, want even sides 32..7680 x 32..4320", o.Width, o.Height)
	case o.FPS < 1 || o.FPS > 240:
		return o, fmt.Errorf("footage: %d fps, want 1..240", o.FPS)
	case o.Frames < 0:
		return o, fmt.Errorf("footage: %d frames", o.Frames)
	case len(o.Walkers) == 0 && o.Frames == 0:
		return o, fmt.Errorf("footage: no walkers and no frame count")
	case o.Drift >= 0.5 || o.Shadow >= 0.9 || o.Noise > 50 || math.IsNaN(o.Pan) || math.Abs(o.Pan) > 100:
		return o, fmt.Errorf("footage: drift %g, shadow %g, noise %g, pan %g out of range", o.Drift, o.Shadow, o.Noise, o.Pan)
	}
	for i, w := range o.Walkers {
		if err := w.Subject.validate(); err != nil {
			return o, fmt.Errorf("footage: walker %d: %w", i+1, err)
		}
		if w.Direction < LeftToRight || w.Direction > Away || w.Depth < 0 || (w.Depth > 0 && w.Depth < 2) || w.Depth > 40 {
			return o, fmt.Errorf("footage: walker %d: direction %v, depth %g m (want 2..40)", i+1, w.Direction, w.Depth)
		}
	}
	return o, nil
}

// newScene plans the walkers and paints the background.
func newScene(o FootageOptions) *footageScene {
	sc := &footageScene{o: o, f: float64(o.Width) / 2 / math.Tan(math.Pi/6), horizon: horizonRel * float64(o.Height)}
	last := 0
	for i, w := range o.Walkers {
		p := sc.plan(w, o.Seed, i)
		sc.plans = append(sc.plans, p)
		last = max(last, w.Start+p.frames)
	}
	if o.Frames == 0 {
		sc.o.Frames = max(last, 1)
	}
	sc.bgW = o.Width + int(math.Ceil(math.Abs(o.Pan)*float64(sc.o.Frames))) + 1
	sc.bg = paintBackground(sc, o.Seed)
	return sc
}

// plan derives a walker's motion from its spec.
func (sc *footageScene) plan(w WalkerSpec, seed uint64, i int) walkerPlan {
	s := w.Subject
	r := rand.New(rand.NewPCG(s.Seed^seed, 0xf00d+uint64(i)))
	p := walkerPlan{spec: w, heightM: s.HeightFrac * 1.9 / 0.85, phase0: r.Float64(), clothes: w.Clothes}
	if p.clothes == (Clothes{}) {
		p.clothes = randomClothes(r)
	}
	leg := s.LegFrac * p.heightM
	cycle := 1.1 * math.Sqrt(leg/0.85) * (1 + 0.004*math.Max(0, float64(s.Age-50)))
	cycle = clamp(cycle, 0.7, 1.6)
	fps := float64(sc.o.FPS)
	p.period = cycle * fps
	stride := math.Max(0.3, 4*leg*math.Sin(s.ThighAmp*math.Pi/180))
	p.speed = stride / cycle / fps
	margin := 0.35 * p.heightM // beyond the frame edge: arms, stride
	switch w.Direction {
	case LeftToRight, RightToLeft:
		z := w.Depth
		if z == 0 {
			z = crossDepth
		}
		half := z*float64(sc.o.Width)/2/sc.f + margin
		dir := 1.0
		if w.Direction == RightToLeft {
			dir = -1
		}
		p.x0, p.z0, p.dx = -dir*half, z, dir*p.speed
		p.sinV = dir // 90° or 270°: a side view facing the way it goes
		p.frames = int(math.Ceil(2 * half / p.speed))
	case Towards, Away:
		near := math.Max(2, sc.f*camHeight/(float64(sc.o.Height)-sc.horizon)+0.3) // feet still in view
		dir := -1.0
		p.z0, p.cosV = farDepth, 1 // facing the camera
		if w.Direction == Away {
			dir, p.z0, p.cosV = 1, near, -1
		}
		p.x0, p.dz = w.Offset, dir*p.speed
		p.frames = int(math.Ceil((farDepth - near) / p.speed))
	}
	return p
}

// randomClothes draws everyday colours.
func randomClothes(r *rand.Rand) Clothes {
	pick := func(c [][3]uint8) [3]uint8 { return c[r.IntN(len(c))] }
	shirts := [][3]uint8{{200, 40, 40}, {40, 80, 170}, {40, 140, 70}, {235, 235, 230}, {230, 190, 40},
		{120, 120, 125}, {30, 30, 35}, {25, 40, 90}, {150, 60, 140}, {240, 130, 50}}
	trousers := [][3]uint8{{50, 70, 120}, {30, 30, 35}, {170, 150, 110}, {100, 100, 105}, {90, 60, 40}, {40, 50, 70}}
	shoes := [][3]uint8{{20, 20, 20}, {230, 230, 230}, {100, 60, 30}}
	skins := [][3]uint8{{240, 200, 170}, {210, 160, 120}, {170, 120, 80}, {110, 70, 45}}
	hair := [][3]uint8{{30, 20, 15}, {90, 60, 30}, {200, 170, 100}, {150, 150, 150}}
	return Clothes{Shirt: pick(shirts), Trousers: pick(trousers), Shoes: pick(shoes), Skin: pick(skins), Hair: pick(hair)}
}

// RenderFootage renders the footage frame by frame and returns its ground
// truth. For every frame, frame is called with the frame index, the RGB
// pixels (Width*Height*3 bytes, row-major; reused by the next frame) and
// the masks of the walkers visible in it, in walker order. The output
// depends only on opts. An error from frame stops the rendering and is
// returned.
func RenderFootage(opts FootageOptions, frame func(i int, rgb []byte, masks []Mask) error) (FootageTruth, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return FootageTruth{}, err
	}
	sc := newScene(o)
	o = sc.o
	truth := FootageTruth{Width: o.Width, Height: o.Height, FPS: o.FPS, Frames: o.Frames}
	for i, p := range sc.plans {
		g := "F"
		if p.spec.Subject.Male {
			g = "M"
		}
		truth.Walkers = append(truth.Walkers, WalkerTruth{Walker: i + 1, Subject: p.spec.Subject.ID, Age: p.spec.Subject.Age,
			Gender: g, Direction: p.spec.Direction.String(), Period: p.period, First: -1, Last: -1})
	}
	buf := make([]float32, o.Width*o.Height*3)
	rgb := make([]byte, len(buf))
	for i := 0; i < o.Frames; i++ {
		masks := sc.renderFrame(i, buf, rgb)
		for _, m := range masks {
			wt := &truth.Walkers[m.Walker-1]
			if wt.First < 0 {
				wt.First = i
			}
			wt.Last = i
		}
		if err := frame(i, rgb, masks); err != nil {
			return truth, err
		}
	}
	return truth, nil
}

// project returns the column and floor row of ground point (x, z) and
// the pixels per metre there.
func (sc *footageScene) project(x, z float64) (col, row, ppm float64) {
	ppm = sc.f / z
	return float64(sc.o.Width)/2 + x*ppm, sc.horizon + camHeight*ppm, ppm
}

// renderFrame renders frame i into rgb (buf is float scratch) and returns
// the masks of the visible walkers.
func (sc *footageScene) renderFrame(i int, buf []float32, rgb []byte) []Mask {
	o := sc.o
	w, h := o.Width, o.Height
	r := rand.New(rand.NewPCG(o.Seed, 0xf7a3e^uint64(i)))
	gain := float32(1 + math.Max(o.Drift, 0)*math.Sin(2*math.Pi*float64(i)/(driftPeriod*float64(o.FPS))))
	off := int(math.Round(o.Pan * float64(i)))
	if o.Pan < 0 {
		off += sc.bgW - w - 1
	}
	for y := 0; y < h; y++ {
		src := sc.bg[(y*sc.bgW+off)*3 : (y*sc.bgW+off+w)*3]
		dst := buf[y*w*3 : (y+1)*w*3]
		for k, v := range src {
			dst[k] = v * gain
		}
	}
	// who is where, drawn far to near
	type placed struct {
		walker  int
		p       *walkerPlan
		x, z, t float64
	}
	var ps []placed
	for k := range sc.plans {
		p := &sc.plans[k]
		n := i - p.spec.Start
		if n < 0 || n > p.frames {
			continue
		}
		ps = append(ps, placed{k + 1, p, p.x0 + p.dx*float64(n), p.z0 + p.dz*float64(n), p.phase0 + float64(n)/p.period})
	}
	for a := 1; a < len(ps); a++ {
		for b := a; b > 0 && ps[b].z > ps[b-1].z; b-- {
			ps[b], ps[b-1] = ps[b-1], ps[b]
		}
	}
	if o.Shadow > 0 {
		for _, q := range ps {
			sc.shadow(buf, q.x, q.z, q.p.heightM)
		}
	}
	var masks []Mask
	for _, q := range ps {
		if m := sc.drawWalker(buf, q.walker, q.p, q.x, q.z, q.t, gain, r); m != nil {
			masks = append(masks, *m)
		}
	}
	for a := 1; a < len(masks); a++ { // walker order
		for b := a; b > 0 && masks[b].Walker < masks[b-1].Walker; b-- {
			masks[b], masks[b-1] = masks[b-1], masks[b]
		}
	}
	noise := float32(math.Max(o.Noise, 0))
	if noise == 0 {
		for k, v := range buf {
			rgb[k] = uint8(min(255, max(0, v+0.5)))
		}
		return masks
	}
	var bits uint64
	for k, v := range buf {
		if k&3 == 0 {
			bits = r.Uint64()
		}
		v += noise * gaussTable[bits&0xffff]
		bits >>= 16
		rgb[k] = uint8(min(255, max(0, v+0.5)))
	}
	return masks
}

// gaussTable holds 65536 standard normal quantiles, (i+0.5)/65536 for
// i = 0…65535: indexed by 16 random bits it gives Gaussian noise four
// times per random number, much faster than NormFloat64.
var gaussTable = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = float32(math.Sqrt2 * math.Erfinv(2*(float64(i)+0.5)/(1<<16)-1))
	}
	return &t
}()

// shadow darkens the floor beside the feet of a walker standing at (x, z):
// a soft ellipse offset away from a light at the upper left.
func (sc *footageScene) shadow(buf []float32, x, z, heightM float64) {
	col, row, ppm := sc.project(x, z)
	hp := heightM * ppm
	cx, cy := col+0.3*hp, row+0.01*hp
	rx, ry := 0.5*hp, 0.06*hp
	w, h := sc.o.Width, sc.o.Height
	x0, x1 := max(0, int(cx-2*rx)), min(w-1, int(cx+2*rx))
	y0, y1 := max(0, int(cy-2*ry)), min(h-1, int(cy+2*ry))
	for y := y0; y <= y1; y++ {
		dy := (float64(y) + 0.5 - cy) / ry
		for x := x0; x <= x1; x++ {
			dx := (float64(x) + 0.5 - cx) / rx
			f := float32(1 - sc.o.Shadow*math.Exp(-1.5*(dx*dx+dy*dy)))
			k := 3 * (y*w + x)
			buf[k] *= f
			buf[k+1] *= f
			buf[k+2] *= f
		}
	}
}

// drawWalker paints walker (1-based) at ground position (x, z) and gait
// phase t over buf and returns its mask, or nil if none of it is in view.
func (sc *footageScene) drawWalker(buf []float32, walker int, p *walkerPlan, x, z, t float64, gain float32, r *rand.Rand) *Mask {
	col, row, ppm := sc.project(x, z)
	hp := p.heightM * ppm // pixel height
	ox, oy := int(math.Floor(col-0.9*hp)), int(math.Floor(row-1.1*hp))
	cw, ch := int(1.8*hp)+2, int(1.2*hp)+2
	c := newCanvas(cw, ch)
	c.parts = true
	cam := camera{sinV: p.sinV, cosV: p.cosV, scale: hp, centreX: col - float64(ox), floor: row - float64(oy)}
	drawWalker(c, p.spec.Subject, gait{speed: 1, jitter: 0.5}, cam, t, r)
	w, h := sc.o.Width, sc.o.Height
	bounds := image.Rect(ox, oy, ox+cw, oy+ch).Intersect(image.Rect(0, 0, w, h))
	if bounds.Empty() {
		return nil
	}
	// the silhouette's bounding box within the visible part
	bx0, by0, bx1, by1 := bounds.Max.X, bounds.Max.Y, bounds.Min.X-1, bounds.Min.Y-1
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if c.img.Pix[(y-oy)*c.img.Stride+x-ox] != 0 {
				bx0, bx1, by0, by1 = min(bx0, x), max(bx1, x), min(by0, y), max(by1, y)
			}
		}
	}
	if bx1 < bx0 {
		return nil
	}
	m := image.NewGray(image.Rect(bx0, by0, bx1+1, by1+1))
	colours := [6][3]uint8{{}, p.clothes.Trousers, p.clothes.Shoes, p.clothes.Shirt, p.clothes.Skin, p.clothes.Hair}
	for y := by0; y <= by1; y++ {
		shade := float32(1.04 - 0.12*(float64(y)-(row-hp))/hp) // lit from above
		for x := bx0; x <= bx1; x++ {
			part := c.img.Pix[(y-oy)*c.img.Stride+x-ox]
			if part == 0 {
				continue
			}
			m.Pix[(y-by0)*m.Stride+x-bx0] = 255
			f := shade * gain * (1 + 0.03*float32(r.NormFloat64()))
			if part&partFar != 0 {
				f *= 0.78
			}
			cl := colours[part&^partFar]
			k := 3 * (y*w + x)
			buf[k], buf[k+1], buf[k+2] = float32(cl[0])*f, float32(cl[1])*f, float32(cl[2])*f
		}
	}
	return &Mask{Walker: walker, Img: m}
}

// paintBackground paints the wall and the tiled floor, sc.bgW × H × 3.
func paintBackground(sc *footageScene, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 0xbac6))
	w, h := sc.bgW, sc.o.Height
	bg := make([]float32, w*h*3)
	walls := [][3]float32{{225, 215, 190}, {200, 210, 200}, {190, 200, 215}, {215, 200, 200}}
	wall := walls[r.IntN(len(walls))]
	tiles := [][2][3]float32{{{150, 150, 155}, {185, 180, 170}}, {{170, 100, 70}, {200, 150, 110}}, {{90, 110, 100}, {140, 150, 135}}}
	tile := tiles[r.IntN(len(tiles))]
	ppmWall := sc.f / wallDepth
	wallBottom := sc.horizon + camHeight*ppmWall
	// posters: saturated rectangles on the wall, in wall metres
	type poster struct {
		x0, x1, y0, y1 float64
		c              [3]float32
	}
	var posters []poster
	span := float64(w) / ppmWall
	for k := 0; k < int(span/1.5)+1; k++ {
		px := r.Float64()*span - 0.5
		pw, ph := 0.4+0.8*r.Float64(), 0.5+0.8*r.Float64()
		py := 1.0 + 0.8*r.Float64()
		posters = append(posters, poster{px, px + pw, py, py + ph,
			[3]float32{float32(40 + r.IntN(200)), float32(40 + r.IntN(200)), float32(40 + r.IntN(200))}})
	}
	nz := newValueNoise(r)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c [3]float32
			tex := float32(1 + 0.05*nz.at(float64(x)/23, float64(y)/23) + 0.03*nz.at(float64(x)/5, float64(y)/5))
			if float64(y)+0.5 < wallBottom {
				wx := (float64(x) + 0.5 - float64(sc.o.Width)/2) / ppmWall // m along the wall
				wy := (wallBottom - float64(y) - 0.5) / ppmWall            // m above the floor
				c = wall
				if math.Abs(wx-math.Round(wx/0.9)*0.9) < 0.015 { // panel seams
					c = [3]float32{c[0] * 0.85, c[1] * 0.85, c[2] * 0.85}
				}
				for _, p := range posters {
					if wx >= p.x0 && wx < p.x1 && wy >= p.y0 && wy < p.y1 {
						c = p.c
						if wy > p.y0+0.6*(p.y1-p.y0) {
							c = [3]float32{255 - p.c[0]*0.5, 255 - p.c[1]*0.5, 255 - p.c[2]*0.5}
						}
					}
				}
			} else {
				z := sc.f * camHeight / (float64(y) + 0.5 - sc.horizon)
				gx := (float64(x) + 0.5 - float64(sc.o.Width)/2) * z / sc.f
				ix, iz := int(math.Floor(gx/0.6)), int(math.Floor(z/0.6))
				c = tile[(ix+iz)&1]
				fx, fz := gx/0.6-math.Floor(gx/0.6), z/0.6-math.Floor(z/0.6)
				if fx < 0.03 || fz < 0.03 { // grout
					c = [3]float32{c[0] * 0.8, c[1] * 0.8, c[2] * 0.8}
				}
			}
			k := 3 * (y*w + x)
			bg[k], bg[k+1], bg[k+2] = c[0]*tex, c[1]*tex, c[2]*tex
		}
	}
	return bg
}

// valueNoise is smooth lattice noise in [-1, 1].
type valueNoise struct{ grid [64 * 64]float64 }

// newValueNoise fills the lattice from r.
func newValueNoise(r *rand.Rand) *valueNoise {
	n := &valueNoise{}
	for k := range n.grid {
		n.grid[k] = 2*r.Float64() - 1
	}
	return n
}

// at interpolates the lattice bilinearly (smoothstep) at (x, y), wrapping.
func (n *valueNoise) at(x, y float64) float64 {
	x0, y0 := math.Floor(x), math.Floor(y)
	fx, fy := x-x0, y-y0
	fx, fy = fx*fx*(3-2*fx), fy*fy*(3-2*fy)
	i, j := int(x0)&63, int(y0)&63
	g := func(a, b int) float64 { return n.grid[(b&63)*64+(a&63)] }
	top := g(i, j)*(1-fx) + g(i+1, j)*fx
	bot := g(i, j+1)*(1-fx) + g(i+1, j+1)*fx
	return top*(1-fy) + bot*fy
}

// FootageWalkers returns n walkers for footage at fps, the scene that
// `gaitord synth --video` renders: subjects drawn as SampleSubject(seed,
// i, minAge, maxAge) for i = 1..n; directions in turn left-to-right,
// right-to-left, towards, away; crossing walkers at depths 5–6.5 m (a
// right-to-left walker crosses the left-to-right one before it); each
// starting 1.5 s after the one before, the first at frame 0.
func FootageWalkers(n int, seed int64, minAge, maxAge, fps int) []WalkerSpec {
	dirs := []Direction{LeftToRight, RightToLeft, Towards, Away}
	out := make([]WalkerSpec, n)
	for i := range out {
		out[i] = WalkerSpec{Subject: SampleSubject(seed, i+1, minAge, maxAge), Direction: dirs[i%len(dirs)],
			Depth: 5 + 0.5*float64(i%4), Offset: 0.6 * float64(i%3-1), Start: int(math.Round(1.5 * float64(i*fps)))}
	}
	return out
}

package gei

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// plane is a gray image as row-major float32 values in [0, 1].
type plane struct {
	w, h int
	v    []float32
}

// Preprocess converts img to the model input: size.H*size.W float32 values
// in [0, 1], row-major. It is the one preprocessing used by Load, training,
// evaluation and prediction. The rules:
//
//  1. Gray conversion: 8-bit gray is v/255, 16-bit gray is v/65535; every
//     other colour model (RGB, RGBA, paletted, gray+alpha) goes through
//     color.GrayModel (luma 0.299R+0.587G+0.114B on alpha-premultiplied
//     colour, i.e. composited over black), then /255.
//  2. Images smaller than MinSide×MinSide are refused (ErrTooSmall), as are
//     all-black images (ErrNoSilhouette).
//  3. An image of exactly size is converted pixel for pixel.
//  4. Otherwise it is scaled to height size.H keeping its aspect ratio
//     (width round(w*H/h), at least 1) by area averaging: each output pixel
//     is the mean of the source area it covers, weighted by exact overlap,
//     so a 2× downscale is the mean of each 2×2 block.
//  5. If the scaled width differs from size.W, the image is shifted
//     horizontally so that its intensity-weighted horizontal centroid cx
//     (pixel centres at x+0.5) lands on the canvas centre: column x moves to
//     x+round(W/2-cx). Columns falling outside are cropped, missing columns
//     are zero. The image is never stretched horizontally.
//
// python/gaitord_torch.py mirrors these rules, and FromSilhouettes', bit for
// bit, for Python users; tests/e2e/pymodule_test.go checks that they agree.
func Preprocess(img image.Image, size Size) ([]float32, error) {
	size, err := size.resolve()
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, fmt.Errorf("nil image")
	}
	b := img.Bounds()
	if b.Dx() < MinSide || b.Dy() < MinSide {
		return nil, fmt.Errorf("%w: %dx%d (width x height), need at least %dx%d",
			ErrTooSmall, b.Dx(), b.Dy(), MinSide, MinSide)
	}
	p := toPlane(img)
	if p.isBlack() {
		return nil, fmt.Errorf("%w: every pixel of the %dx%d image is 0", ErrNoSilhouette, p.w, p.h)
	}
	return fit(p, size), nil
}

// toPlane converts img to gray values in [0, 1] (rule 1 of Preprocess).
func toPlane(img image.Image) plane {
	b := img.Bounds()
	p := plane{w: b.Dx(), h: b.Dy(), v: make([]float32, b.Dx()*b.Dy())}
	switch m := img.(type) {
	case *image.Gray:
		for y := 0; y < p.h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+p.w]
			for x, g := range row {
				p.v[y*p.w+x] = float32(g) / 255
			}
		}
	case *image.Gray16:
		for y := 0; y < p.h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+2*p.w]
			for x := 0; x < p.w; x++ {
				g := uint16(row[2*x])<<8 | uint16(row[2*x+1])
				p.v[y*p.w+x] = float32(g) / 65535
			}
		}
	default:
		for y := 0; y < p.h; y++ {
			for x := 0; x < p.w; x++ {
				g := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
				p.v[y*p.w+x] = float32(g.Y) / 255
			}
		}
	}
	return p
}

// isBlack reports whether every value is 0.
func (p plane) isBlack() bool {
	for _, v := range p.v {
		if v > 0 {
			return false
		}
	}
	return true
}

// fit applies rules 3–5 of Preprocess to a non-empty plane.
func fit(p plane, size Size) []float32 {
	if p.w == size.W && p.h == size.H {
		return append([]float32(nil), p.v...)
	}
	nw := int(math.Round(float64(p.w) * float64(size.H) / float64(p.h)))
	nw = max(nw, 1)
	rows := scaleRows(p, size.H) // size.H × p.w, float64
	offset := 0
	if nw != size.W {
		offset = int(math.Round(float64(size.W)/2 - centroidX(rows, p.w, nw)))
	}
	out := make([]float32, size.H*size.W)
	col := make([]float64, size.H)
	for x := 0; x < size.W; x++ {
		j := x - offset // column of the scaled image
		if j < 0 || j >= nw {
			continue
		}
		clear(col)
		forSpan(j, p.w, nw, func(i int, wt float64) {
			for y := range col {
				col[y] += wt * rows[y*p.w+i]
			}
		})
		for y, v := range col {
			out[y*size.W+x] = float32(v)
		}
	}
	return out
}

// scaleRows area-averages p vertically to h rows, keeping its width.
func scaleRows(p plane, h int) []float64 {
	out := make([]float64, h*p.w)
	for y := 0; y < h; y++ {
		dst := out[y*p.w : (y+1)*p.w]
		forSpan(y, p.h, h, func(i int, wt float64) {
			src := p.v[i*p.w : (i+1)*p.w]
			for x, v := range src {
				dst[x] += wt * float64(v)
			}
		})
	}
	return out
}

// centroidX returns the intensity-weighted horizontal centroid, in scaled
// pixel units with centres at j+0.5, of rows (h×w) scaled horizontally to nw
// columns. Area averaging is linear, so it works on column sums.
func centroidX(rows []float64, w, nw int) float64 {
	colSum := make([]float64, w)
	for k, v := range rows {
		colSum[k%w] += v
	}
	var mass, moment float64
	for j := 0; j < nw; j++ {
		var m float64
		forSpan(j, w, nw, func(i int, wt float64) { m += wt * colSum[i] })
		mass += m
		moment += m * (float64(j) + 0.5)
	}
	if mass <= 0 {
		return float64(nw) / 2
	}
	return moment / mass
}

// forSpan calls fn for every source cell i (of src cells) overlapping
// destination cell j (of dst cells covering the same extent), with weight
// overlap/|cell j|. Overlaps are computed in integers (source cell i spans
// [i*dst, (i+1)*dst), destination cell j spans [j*src, (j+1)*src)), so the
// weights are exact ratios and sum to 1.
func forSpan(j, src, dst int, fn func(i int, wt float64)) {
	lo, hi := int64(j)*int64(src), int64(j+1)*int64(src)
	d := int64(dst)
	for i := lo / d; i*d < hi; i++ {
		ov := min(hi, (i+1)*d) - max(lo, i*d)
		if ov > 0 {
			fn(int(i), float64(ov)/float64(src))
		}
	}
}

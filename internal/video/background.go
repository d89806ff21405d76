package video

import (
	"sync"
)

// Foreground mask values written by background.apply.
const (
	maskBackground = 0
	maskShadow     = 127
	maskForeground = 255
)

// bgParams are the background model's settings; defaultBG gives OpenCV's
// MOG2 defaults except the history, which the frame rate sets.
type bgParams struct {
	modes      int     // most Gaussians per pixel
	history    int     // frames; the learning rate is 1/min(2n, history)
	bgRatio    float32 // TB: the heaviest components up to this total weight are background
	varThresh  float32 // Tb: squared Mahalanobis distance under which a pixel is background
	varGen     float32 // Tg: squared distance under which a sample updates a component
	varInit    float32 // variance of a new component
	varMin     float32
	varMax     float32
	complexity float32 // CT: prior that prunes weak components
	shadowTau  float32 // darkest a shadow may make a pixel (brightness ratio)
}

// defaultBG returns the model settings for footage at fps frames/s: a
// history of 6 s (at least 100 frames), so slow illumination changes are
// followed while a walker passing over a pixel is not learnt.
func defaultBG(fps float64) bgParams {
	return bgParams{modes: 4, history: max(100, int(6*fps)), bgRatio: 0.9, varThresh: 16, varGen: 9,
		varInit: 25, varMin: 25, varMax: 75, complexity: 0.05, shadowTau: 0.5}
}

// background is a per-pixel adaptive mixture of Gaussians over RGB, after
// Zivkovic's improved GMM (Zivkovic 2004, Zivkovic & van der Heijden 2006)
// as OpenCV's BackgroundSubtractorMOG2 implements it: each pixel keeps up
// to bgParams.modes components (weight, mean colour, one variance), sorted
// by weight; a new sample updates the first component within Tg variances
// (or replaces the weakest), and is background when it lies within Tb
// variances of one of the heaviest components that together hold TB of
// the weight. Before that, the frame is divided by its global gain
// against the model (see gain). Weights decay at the learning rate and components that fall
// under the complexity prior are dropped. A foreground sample is a shadow
// (Prati et al.'s test as in MOG2) when it is a darker copy of a
// background colour: x ≈ a·μ with Tau <= a <= 1 and |x − a·μ|² < Tb·σ²·a².
type background struct {
	p      bgParams
	w, h   int
	frames int
	weight []float32 // pixel*modes
	mean   []float32 // (pixel*modes)*3
	vari   []float32 // pixel*modes
	used   []uint8   // components in use, per pixel
	// lastGain is the gain the last frame was divided by.
	lastGain float32
}

// newBackground returns an empty model for w×h frames.
func newBackground(w, h int, p bgParams) *background {
	n := w * h
	return &background{p: p, w: w, h: h, weight: make([]float32, n*p.modes), mean: make([]float32, n*p.modes*3),
		vari: make([]float32, n*p.modes), used: make([]uint8, n)}
}

// apply classifies rgb (w*h*3 bytes) into mask (w*h bytes: maskBackground,
// maskShadow or maskForeground) and updates the model with it, over
// workers goroutines (rows split between them). The frame is first
// divided by its global gain against the model (see gain).
//
// hold, if not nil, marks (non-zero) the pixels where the previous frame
// had a walker: there the model learns at holdRate times the usual rate,
// so that a foot standing on the floor for half a stride, or a slow
// torso, is not learnt into the background (selective update), while a
// wrong detection still fades in time.
func (b *background) apply(rgb, mask, hold []byte, workers int) {
	b.frames++
	alpha := 1 / float32(min(2*b.frames, b.p.history))
	inv := 1 / b.gain(rgb)
	b.lastGain = 1 / inv
	workers = max(1, min(workers, b.h))
	if workers == 1 {
		b.rows(rgb, mask, hold, 0, b.h, alpha, inv)
		return
	}
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		y0, y1 := b.h*k/workers, b.h*(k+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.rows(rgb, mask, hold, y0, y1, alpha, inv)
		}()
	}
	wg.Wait()
}

// holdRate scales the learning rate where a walker was (see apply).
const holdRate = 0.05

// gain estimates how much brighter the whole frame is than the model:
// the median, over a grid of every 4th pixel in both directions, of the
// ratio of the frame's brightness (R+G+B) to that of the pixel's heaviest
// component, where the model is bright enough (sum over 30) to say. A
// median is untouched by the walkers, who cover a small part of the
// frame; dividing the frame by it lets the model ignore illumination
// drift and exposure changes, which a per-pixel model learning at
// 1/history per frame would trail by many levels. 1 until the model has
// seen a frame; clamped to [0.5, 2].
func (b *background) gain(rgb []byte) float32 {
	if b.frames <= 1 {
		return 1
	}
	const bins, lo, hi = 1024, 0.5, 2.0
	var hist [bins]int32
	n := 0
	m := b.p.modes
	for y := 2; y < b.h; y += 4 {
		for x := 2; x < b.w; x += 4 {
			px := y*b.w + x
			if b.used[px] == 0 {
				continue
			}
			mu := b.mean[px*m*3 : px*m*3+3]
			den := mu[0] + mu[1] + mu[2]
			if den < 30 {
				continue
			}
			num := float32(rgb[3*px]) + float32(rgb[3*px+1]) + float32(rgb[3*px+2])
			k := int((num/den - lo) / (hi - lo) * bins)
			hist[min(max(k, 0), bins-1)]++
			n++
		}
	}
	if n < 16 {
		return 1
	}
	half := int32(n / 2)
	var acc int32
	for k, c := range hist {
		acc += c
		if acc > half {
			return lo + (float32(k)+0.5)*(hi-lo)/bins
		}
	}
	return 1
}

// rows runs the model over rows y0..y1-1 of the frame scaled by inv.
func (b *background) rows(rgb, mask, hold []byte, y0, y1 int, alpha0, inv float32) {
	m := b.p.modes
	tb, tg, TB := b.p.varThresh, b.p.varGen, b.p.bgRatio
	for px := y0 * b.w; px < y1*b.w; px++ {
		alpha := alpha0
		if hold != nil && hold[px] != 0 {
			alpha *= holdRate
		}
		prune := -alpha * b.p.complexity
		one := 1 - alpha
		x := rgb[3*px : 3*px+3 : 3*px+3]
		r, g, bl := float32(x[0])*inv, float32(x[1])*inv, float32(x[2])*inv
		W := b.weight[px*m : px*m+m : px*m+m]
		V := b.vari[px*m : px*m+m : px*m+m]
		M := b.mean[px*m*3 : px*m*3+3*m : px*m*3+3*m]
		n := int(b.used[px])
		fits, isBG := false, false
		var total float32
		for k := 0; k < n; k++ {
			w := one*W[k] + prune
			swaps := 0
			if !fits {
				v := V[k]
				dr, dg, db := M[3*k]-r, M[3*k+1]-g, M[3*k+2]-bl
				d2 := dr*dr + dg*dg + db*db
				if total < TB && d2 < tb*v {
					isBG = true
				}
				if d2 < tg*v {
					fits = true
					w += alpha
					f := alpha / w
					M[3*k] -= f * dr
					M[3*k+1] -= f * dg
					M[3*k+2] -= f * db
					v += f * (d2 - v)
					V[k] = min(max(v, b.p.varMin), b.p.varMax)
					// only the updated component can move up
					for i := k; i > 0 && w >= W[i-1]; i-- {
						swaps++
						W[i], W[i-1] = W[i-1], W[i]
						V[i], V[i-1] = V[i-1], V[i]
						M[3*i], M[3*i-3] = M[3*i-3], M[3*i]
						M[3*i+1], M[3*i-2] = M[3*i-2], M[3*i+1]
						M[3*i+2], M[3*i-1] = M[3*i-1], M[3*i+2]
					}
				}
			}
			if w < -prune {
				w = 0
				n--
			}
			W[k-swaps] = w
			total += w
		}
		if total > 0 {
			inv := 1 / total
			for k := 0; k < n; k++ {
				W[k] *= inv
			}
		}
		if !fits {
			k := n
			if n == m {
				k = m - 1
			} else {
				n++
			}
			if n == 1 {
				W[k] = 1
			} else {
				W[k] = alpha
				for i := 0; i < n-1; i++ {
					W[i] *= one
				}
			}
			M[3*k], M[3*k+1], M[3*k+2] = r, g, bl
			V[k] = b.p.varInit
			for i := k; i > 0 && alpha >= W[i-1]; i-- {
				W[i], W[i-1] = W[i-1], W[i]
				V[i], V[i-1] = V[i-1], V[i]
				M[3*i], M[3*i-3] = M[3*i-3], M[3*i]
				M[3*i+1], M[3*i-2] = M[3*i-2], M[3*i+1]
				M[3*i+2], M[3*i-1] = M[3*i-1], M[3*i+2]
			}
		}
		b.used[px] = uint8(n)
		switch {
		case isBG:
			mask[px] = maskBackground
		case b.shadow(r, g, bl, W, V, M, n):
			mask[px] = maskShadow
		default:
			mask[px] = maskForeground
		}
	}
}

// shadow reports whether (r, g, b) is a darker copy of one of the
// background components of a pixel (see background).
func (b *background) shadow(r, g, bl float32, W, V, M []float32, n int) bool {
	var total float32
	for k := 0; k < n; k++ {
		mr, mg, mb := M[3*k], M[3*k+1], M[3*k+2]
		num := r*mr + g*mg + bl*mb
		den := mr*mr + mg*mg + mb*mb
		if den == 0 {
			return false
		}
		if num <= den && num >= b.p.shadowTau*den {
			a := num / den
			dr, dg, db := a*mr-r, a*mg-g, a*mb-bl
			if dr*dr+dg*dg+db*db < b.p.varThresh*V[k]*a*a {
				return true
			}
		}
		total += W[k]
		if total > b.p.bgRatio {
			return false
		}
	}
	return false
}

// refineEdges re-decides the pixels on the boundary of the binary
// foreground m (1 foreground, 0 not): a foreground pixel with a
// background 4-neighbour stays foreground only if its colour is closer to
// the mean colour of its foreground 8-neighbours than to the background
// (the heaviest component, at the last frame's gain). Compression blurs a
// walker's outline over a pixel or two (chroma is stored at half
// resolution); the background model flags the blurred pixels, this puts
// each back on the side it resembles. out receives the result.
func (b *background) refineEdges(rgb, m, out []byte) {
	w, h := b.w, b.h
	copy(out, m)
	g := b.lastGain
	modes := b.p.modes
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			p := y*w + x
			if m[p] == 0 || (m[p-1] != 0 && m[p+1] != 0 && m[p-w] != 0 && m[p+w] != 0) || b.used[p] == 0 {
				continue
			}
			var fr, fg, fb float32
			n := 0
			for _, q := range [8]int{p - w - 1, p - w, p - w + 1, p - 1, p + 1, p + w - 1, p + w, p + w + 1} {
				if m[q] != 0 {
					fr += float32(rgb[3*q])
					fg += float32(rgb[3*q+1])
					fb += float32(rgb[3*q+2])
					n++
				}
			}
			if n == 0 {
				out[p] = 0
				continue
			}
			inv := 1 / float32(n)
			r, gr, bl := float32(rgb[3*p]), float32(rgb[3*p+1]), float32(rgb[3*p+2])
			df := sq(r-fr*inv) + sq(gr-fg*inv) + sq(bl-fb*inv)
			mu := b.mean[p*modes*3 : p*modes*3+3]
			db := sq(r-mu[0]*g) + sq(gr-mu[1]*g) + sq(bl-mu[2]*g)
			if db < df {
				out[p] = 0
			}
		}
	}
}

// sq is x².
func sq(x float32) float32 { return x * x }

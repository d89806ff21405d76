package video

import "math"

// Gait period from the silhouette's own signals.
//
// Seen from the side, the width of the lower body (over the silhouette's
// height) peaks twice per gait cycle, at each double support (feet apart):
// it repeats every step, since the left and right steps look alike in a
// binary silhouette. Seen from the front or the back the legs do not
// spread sideways, but the foot in swing is lifted: the difference
// between the lowest points of the lower body's left and right halves
// swings from one side to the other once per cycle. gaitPeriod measures
// both and keeps the clearer rhythm:
//
//  1. Slow changes (perspective, entering the view) are removed by
//     subtracting a centred moving average over 1.2 s.
//  2. The normalised autocorrelation R(L) = Σ a(t)a(t+L) /
//     sqrt(Σ a(t)² Σ a(t+L)²) is taken over the pairs of samples present
//     at both ends.
//  3. The base lag is the first local maximum in the plausible range (a
//     step of 0.25–0.8 s for the width, a cycle of 0.6–2 s for the
//     left-right difference) that reaches 80 % of the highest one there
//     (so a multiple is not taken for it), refined to a fraction of a frame
//     by a parabola through its neighbours. It must reach R = 0.25.
//  4. The base is then fitted by least squares to the clear peaks (R >=
//     0.25) near its whole multiples, out to lags where a third of the
//     samples still pair up: a peak at k bases pins the base to 1/k of its
//     error. The cycle is two bases for the width, one for the feet.
//
// The width's rhythm is kept when its base peak reaches R = 0.4; otherwise
// the one with the higher base peak.

// periodMinR is the autocorrelation a peak needs to count.
const periodMinR = 0.25

// rhythm is a periodicity found in one signal.
type rhythm struct {
	period   float64 // gait cycle, frames
	strength float64 // autocorrelation at the base peak
	ok       bool
}

// gaitPeriod returns the gait cycle in frames from the lower-body width
// and left-right foot difference signals (NaN where missing) and the
// strength of its rhythm; ok is false when neither has one.
func gaitPeriod(width, feet []float64, fps float64) (period, strength float64, ok bool) {
	w := findRhythm(width, fps, 0.25, 0.8, 2)
	if w.ok && w.strength >= 0.4 {
		return w.period, w.strength, true
	}
	f := findRhythm(feet, fps, 0.6, 2.0, 1)
	if f.ok && (!w.ok || f.strength > w.strength) {
		return f.period, f.strength, true
	}
	return w.period, w.strength, w.ok
}

// findRhythm looks in sig for a base period between lo and hi seconds,
// of which a gait cycle holds perCycle, and returns the cycle (see above).
func findRhythm(sig []float64, fps, lo, hi float64, perCycle int) rhythm {
	n := len(sig)
	a := detrend(sig, int(math.Round(1.2*fps))|1)
	minPairs := max(8, int(math.Round(0.4*fps)))
	minLag, maxBase := max(2, int(math.Floor(lo*fps))), int(math.Ceil(hi*fps))
	maxLag := min(n-minPairs, 8*perCycle*maxBase)
	if maxLag < minLag+1 {
		return rhythm{}
	}
	R := make([]float64, maxLag+2)
	for L := 1; L <= maxLag+1; L++ {
		R[L] = autocorr(a, L, minPairs)
	}
	isPeak := func(L int) bool { return L > 0 && L <= maxLag && R[L] >= R[L-1] && R[L] >= R[L+1] && !math.IsNaN(R[L]) }
	best := math.Inf(-1)
	for L := minLag; L <= min(maxBase, maxLag); L++ {
		if isPeak(L) {
			best = math.Max(best, R[L])
		}
	}
	if best < periodMinR {
		return rhythm{strength: math.Max(best, 0)}
	}
	base := 0
	for L := minLag; L <= min(maxBase, maxLag); L++ {
		if isPeak(L) && R[L] >= 0.8*best {
			base = L
			break
		}
	}
	// the peaks at whole multiples of the base, out to lags that still
	// have a third of the samples paired, pin it down by least squares:
	// b = Σ k·L_k / Σ k²
	b := refinePeak(R, base)
	var skl, skk float64
	half := max(1, int(math.Round(0.2*b)))
	for k := 1; ; k++ {
		centre := int(math.Round(float64(k) * b))
		if centre-half > min(maxLag, 2*n/3) {
			break
		}
		peak := -1
		for L := max(1, centre-half); L <= min(maxLag, centre+half); L++ {
			if isPeak(L) && (peak < 0 || R[L] > R[peak]) {
				peak = L
			}
		}
		if peak < 0 || R[peak] < periodMinR {
			continue
		}
		skl += float64(k) * refinePeak(R, peak)
		skk += float64(k * k)
	}
	if skk > 0 {
		b = skl / skk
	}
	return rhythm{period: b * float64(perCycle), strength: R[base], ok: true}
}

// detrend subtracts from each present sample the mean of the present
// samples in a centred window of win samples; missing samples stay NaN.
func detrend(sig []float64, win int) []float64 {
	n := len(sig)
	out := make([]float64, n)
	sum := make([]float64, n+1)
	cnt := make([]int, n+1)
	for i, v := range sig {
		sum[i+1], cnt[i+1] = sum[i], cnt[i]
		if !math.IsNaN(v) {
			sum[i+1] += v
			cnt[i+1]++
		}
	}
	for i, v := range sig {
		if math.IsNaN(v) {
			out[i] = math.NaN()
			continue
		}
		lo, hi := max(0, i-win/2), min(n, i+win/2+1)
		out[i] = v - (sum[hi]-sum[lo])/float64(cnt[hi]-cnt[lo])
	}
	return out
}

// autocorr is the normalised autocorrelation of a at lag L over the pairs
// present at both ends; NaN with fewer than minPairs pairs or no variance.
func autocorr(a []float64, L, minPairs int) float64 {
	var sxy, sxx, syy float64
	pairs := 0
	for t := 0; t+L < len(a); t++ {
		x, y := a[t], a[t+L]
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		sxy += x * y
		sxx += x * x
		syy += y * y
		pairs++
	}
	if pairs < minPairs || sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// refinePeak places the maximum of the parabola through R at L-1, L, L+1.
func refinePeak(R []float64, L int) float64 {
	if L < 1 || L+1 >= len(R) || math.IsNaN(R[L-1]) || math.IsNaN(R[L+1]) {
		return float64(L)
	}
	den := R[L-1] - 2*R[L] + R[L+1]
	if den >= 0 {
		return float64(L)
	}
	return float64(L) + 0.5*(R[L-1]-R[L+1])/den
}

package synth

import (
	"math"
	"sync"
	"testing"

	"github.com/gaitord/gaitord/internal/gei"
)

// geiFeatures are hand-picked pixel statistics of a 64×44 side-view GEI.
func geiFeatures(g []float32) []float64 {
	const h, w = 64, 44
	rowsMean := func(y0, y1 int) float64 {
		var s float64
		for _, v := range g[y0*w : y1*w] {
			s += float64(v)
		}
		return s / float64((y1-y0)*w)
	}
	// centroid and spread of columns in rows y0..y1
	moments := func(y0, y1 int) (cx, sd float64) {
		var m, mx, mxx float64
		for y := y0; y < y1; y++ {
			for x := 0; x < w; x++ {
				v := float64(g[y*w+x])
				m += v
				mx += v * float64(x)
				mxx += v * float64(x) * float64(x)
			}
		}
		if m == 0 {
			return 0, 0
		}
		cx = mx / m
		return cx, math.Sqrt(math.Max(0, mxx/m-cx*cx))
	}
	headX, _ := moments(0, 10)
	trunkX, _ := moments(16, 30)
	_, legSD := moments(44, 64)
	return []float64{
		rowsMean(0, 12),  // head size: children have big heads
		rowsMean(0, h),   // overall mass: body width relative to height
		legSD,            // stride
		headX - trunkX,   // forward lean of head over trunk: stoop
		rowsMean(40, 52), // knee region
	}
}

// pearson returns the correlation coefficient of x and y.
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var sx, sy, sxx, syy, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		syy += y[i] * y[i]
		sxy += x[i] * y[i]
	}
	return (sxy - sx*sy/n) / math.Sqrt((sxx-sx*sx/n)*(syy-sy*sy/n))
}

// sideViewData renders the side-view GEI (seq 0) of n sampled subjects.
func sideViewData(t *testing.T, n int) (feats [][]float64, ages []float64) {
	feats, ages = make([][]float64, n), make([]float64, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 2 {
				s := SampleSubject(42, i+1, 2, 80)
				g, err := Render(s, 90, 0, gei.DefaultSize)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				feats[i], ages[i] = geiFeatures(g), float64(s.Age)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	return feats, ages
}

// leastSquares fits y ≈ X·b (X includes a column of ones) through the
// normal equations, solved by Gaussian elimination with partial pivoting.
func leastSquares(x [][]float64, y []float64) []float64 {
	p := len(x[0])
	a := make([][]float64, p)
	for r := range a {
		a[r] = make([]float64, p+1)
		for i := range x {
			for c := 0; c < p; c++ {
				a[r][c] += x[i][r] * x[i][c]
			}
			a[r][p] += x[i][r] * y[i]
		}
		a[r][r] += 1e-9 // keeps the system regular
	}
	for c := 0; c < p; c++ {
		piv := c
		for r := c + 1; r < p; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		a[c], a[piv] = a[piv], a[c]
		for r := 0; r < p; r++ {
			if r != c {
				f := a[r][c] / a[c][c]
				for k := c; k <= p; k++ {
					a[r][k] -= f * a[c][k]
				}
			}
		}
	}
	b := make([]float64, p)
	for r := range b {
		b[r] = a[r][p] / a[r][r]
	}
	return b
}

// design returns the regression row [1, f..., f²...] of a feature vector.
func design(f []float64) []float64 {
	row := []float64{1}
	row = append(row, f...)
	for _, v := range f {
		row = append(row, v*v)
	}
	return row
}

// The synthetic GEIs carry an age signal that needs no neural network:
// over 200 subjects (side view), the head-over-trunk lean correlates with
// age, and a least-squares fit on five pixel statistics and their squares,
// trained on odd IDs, predicts the even IDs' ages far better than the
// training mean does.
func TestAgeSignal(t *testing.T) {
	feats, ages := sideViewData(t, 200)
	lean := make([]float64, len(feats))
	for i := range feats {
		lean[i] = feats[i][3]
	}
	r := pearson(lean, ages)
	var xs [][]float64
	var nTest, meanAge float64
	var ysTrain []float64
	for i := 0; i < len(feats); i += 2 { // index 0 is ID 1: odd IDs train
		xs = append(xs, design(feats[i]))
		ysTrain = append(ysTrain, ages[i])
		meanAge += ages[i]
	}
	meanAge /= float64(len(ysTrain))
	b := leastSquares(xs, ysTrain)
	var maeFit, maeMean float64
	for i := 1; i < len(feats); i += 2 { // even IDs test
		var pred float64
		for k, v := range design(feats[i]) {
			pred += b[k] * v
		}
		maeFit += math.Abs(pred - ages[i])
		maeMean += math.Abs(meanAge - ages[i])
		nTest++
	}
	maeFit /= nTest
	maeMean /= nTest
	t.Logf("Pearson r(lean, age) = %.3f; test MAE: least squares %.2f years, mean predictor %.2f years", r, maeFit, maeMean)
	if math.Abs(r) < 0.5 {
		t.Errorf("|r| = %.3f, want > 0.5", math.Abs(r))
	}
	if maeFit > 0.6*maeMean {
		t.Errorf("least-squares MAE %.2f is not clearly below the mean predictor's %.2f", maeFit, maeMean)
	}
}

// Adult men have wider shoulders and narrower hips than women: in the
// frontal GEI, the shoulder-row minus hip-row mass separates the genders.
func TestGenderSignal(t *testing.T) {
	rowMass := func(g []float32, y0, y1 int) float64 {
		var s float64
		for _, v := range g[y0*44 : y1*44] {
			s += float64(v)
		}
		return s / float64(y1-y0)
	}
	var m, f []float64
	for id := 1; id <= 80; id++ {
		s := SampleSubject(7, id, 20, 60)
		g, err := Render(s, 0, 0, gei.DefaultSize)
		if err != nil {
			t.Fatal(err)
		}
		d := rowMass(g, 13, 18) - rowMass(g, 28, 33)
		if s.Male {
			m = append(m, d)
		} else {
			f = append(f, d)
		}
	}
	mm, sm := meanSD(m)
	mf, sf := meanSD(f)
	sep := (mm - mf) / math.Sqrt((sm*sm+sf*sf)/2)
	t.Logf("shoulder-hip mass: men %.2f±%.2f (n=%d), women %.2f±%.2f (n=%d), separation %.2f SD", mm, sm, len(m), mf, sf, len(f), sep)
	if sep < 1.5 {
		t.Errorf("gender separation %.2f SD, want >= 1.5", sep)
	}
}

// meanSD returns the mean and standard deviation of v.
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

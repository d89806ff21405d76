package gei

import (
	"image"
	"math"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the Load pipeline (header check,
// decode, Preprocess) and to FromSilhouettes: no input may panic, and a
// success must give 64×44 finite values in [0, 1]. The decode limit is
// lowered to 1 megapixel so that fuzzed headers cannot make the fuzzer
// allocate gigabytes. Seeds: testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	pixelLimit = 1 << 20
	f.Cleanup(func() { pixelLimit = MaxPixels })
	f.Add(encodePNG(f, grayImage(44, 64, func(x, y int) uint8 { return uint8(x * y) })))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode("fuzz.png", data, DefaultSize)
		if err == nil {
			checkGEI(t, got)
		}
		img, err := decodePNG(data)
		if err != nil {
			return
		}
		if g, _, _, err := FromSilhouettes([]image.Image{img}, DefaultSize); err == nil {
			checkGEI(t, g)
		}
	})
}

// checkGEI fails unless g is 64×44 finite values in [0, 1].
func checkGEI(t *testing.T, g []float32) {
	t.Helper()
	if len(g) != 64*44 {
		t.Fatalf("%d values", len(g))
	}
	for k, v := range g {
		if math.IsNaN(float64(v)) || v < 0 || v > 1+1e-6 {
			t.Fatalf("value %d = %v", k, v)
		}
	}
}

package gei

import (
	"image"
	"math/rand/v2"
	"testing"
)

// A 2× downscale of 128×88 to 64×44 is the exact mean of each 2×2 block;
// checked through Load (PNG) and on the image directly.
func TestPreprocessHalfIsBlockMean(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	img := grayImage(88, 128, func(int, int) uint8 { return uint8(r.IntN(256)) })
	want := make([]float64, 64*44)
	for y := 0; y < 64; y++ {
		for x := 0; x < 44; x++ {
			sum := int(img.GrayAt(2*x, 2*y).Y) + int(img.GrayAt(2*x+1, 2*y).Y) +
				int(img.GrayAt(2*x, 2*y+1).Y) + int(img.GrayAt(2*x+1, 2*y+1).Y)
			want[y*44+x] = float64(sum) / 4 / 255
		}
	}
	got, err := Preprocess(img, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, want, 1e-6)
	got, err = Load(writePNG(t, t.TempDir(), "big.png", img), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, want, 1e-6)
}

// A 2× upscale (32×22 to 64×44) by area averaging repeats each pixel 2×2.
func TestPreprocessDoubleRepeatsPixels(t *testing.T) {
	img := grayImage(22, 32, func(x, y int) uint8 { return uint8(x*10 + y) })
	got, err := Preprocess(img, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 64*44)
	for y := 0; y < 64; y++ {
		for x := 0; x < 44; x++ {
			want[y*44+x] = float64((x/2)*10+y/2) / 255
		}
	}
	assertClose(t, got, want, 1e-6)
}

// 128×40 halves to 64×20: columns 6,7 (255) -> column 3 = 1.0, columns 8,9
// (51) -> column 4 = 0.2. Centroid (3.5*1 + 4.5*0.2)/1.2 = 3.667, shift
// round(22-3.667) = 18: the bar lands on columns 21 and 22, zero padding
// elsewhere, nothing stretched.
func TestPreprocessNarrowIsCentredAndPadded(t *testing.T) {
	img := grayImage(40, 128, func(x, _ int) uint8 {
		switch x {
		case 6, 7:
			return 255
		case 8, 9:
			return 51
		}
		return 0
	})
	got, err := Preprocess(img, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, barGEI(DefaultSize, map[int]float64{21: 1, 22: 0.2}), 1e-6)
}

// 64×100 keeps its scale: bar at columns 70,71 plus one pixel at (10, 0).
// Centroid (128*71 + 10.5)/129 = 70.53, shift round(22-70.53) = -49: the
// bar lands on 21,22 and the lone pixel (column -39) is cropped.
func TestPreprocessWideIsCentredAndCropped(t *testing.T) {
	img := grayImage(100, 64, func(x, y int) uint8 {
		if x == 70 || x == 71 || (x == 10 && y == 0) {
			return 255
		}
		return 0
	})
	got, err := Preprocess(img, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, got, barGEI(DefaultSize, map[int]float64{21: 1, 22: 1}), 1e-6)
}

// 128×88 target from a 256×176 image: also the large size works, 2×2 means.
func TestPreprocessLargeSize(t *testing.T) {
	img := grayImage(176, 256, func(x, y int) uint8 { return uint8((x + 2*y) % 251) })
	got, err := Preprocess(img, LargeSize)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 128*88)
	for y := 0; y < 128; y++ {
		for x := 0; x < 88; x++ {
			s := 0
			for _, d := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				s += (2*x + d[0] + 2*(2*y+d[1])) % 251
			}
			want[y*88+x] = float64(s) / 4 / 255
		}
	}
	assertClose(t, got, want, 1e-6)
}

func TestPreprocessBadInput(t *testing.T) {
	if _, err := Preprocess(nil, DefaultSize); err == nil {
		t.Fatal("nil image accepted")
	}
	if _, err := Preprocess(image.NewGray(image.Rect(0, 0, 0, 0)), DefaultSize); err == nil {
		t.Fatal("empty image accepted")
	}
	// A silhouette from a non-zero origin image is read from its bounds.
	img := grayImage(60, 70, func(int, int) uint8 { return 0 }).SubImage(image.Rect(10, 3, 54, 67)).(*image.Gray)
	img.Pix[0] = 255 // pixel (10, 3)
	got, err := Preprocess(img, DefaultSize)
	if err != nil || got[0] != 1 || got[1] != 0 {
		t.Fatalf("sub-image: err %v, first values %v", err, got[:2])
	}
}

func TestForSpanWeightsSumToOne(t *testing.T) {
	for _, c := range [][2]int{{7, 3}, {3, 7}, {128, 64}, {100, 44}, {13, 13}} {
		src, dst := c[0], c[1]
		cover := make([]float64, src)
		for j := 0; j < dst; j++ {
			var s float64
			forSpan(j, src, dst, func(i int, w float64) { s += w; cover[i] += w })
			if s < 1-1e-12 || s > 1+1e-12 {
				t.Fatalf("%d->%d cell %d: weights sum to %v", src, dst, j, s)
			}
		}
		// Every source cell contributes its full area: sum of weights = dst/src.
		for i, c := range cover {
			if d := c - float64(dst)/float64(src); d > 1e-12 || d < -1e-12 {
				t.Fatalf("%d->%d source %d: total weight %v", src, dst, i, c)
			}
		}
	}
}

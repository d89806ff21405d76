package gei

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// encodePNG encodes img as PNG bytes.
func encodePNG(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to dir/name and returns the path.
func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// writePNG encodes img to dir/name and returns the path.
func writePNG(tb testing.TB, dir, name string, img image.Image) string {
	tb.Helper()
	return writeFile(tb, dir, name, encodePNG(tb, img))
}

// grayImage returns a w×h gray image with pixel (x, y) = f(x, y).
func grayImage(w, h int, f func(x, y int) uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetGray(x, y, color.Gray{Y: f(x, y)})
		}
	}
	return img
}

// pngHeaderOnly builds, by hand, a PNG signature plus an IHDR chunk that
// declares a w×h 8-bit gray image, with the chunk CRC, and nothing else.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; colour type 0 (gray), compression, filter, interlace 0
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// assertClose fails unless got and want have the same length and every
// value is within tol.
func assertClose(t *testing.T, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for k := range got {
		if math.Abs(float64(got[k])-want[k]) > tol || math.IsNaN(float64(got[k])) {
			t.Fatalf("value %d: got %v, want %v", k, got[k], want[k])
		}
	}
}

// barGEI returns a 64×44 expectation: every row holds cols[x] at column x,
// zero elsewhere.
func barGEI(size Size, cols map[int]float64) []float64 {
	out := make([]float64, size.H*size.W)
	for y := 0; y < size.H; y++ {
		for x, v := range cols {
			out[y*size.W+x] = v
		}
	}
	return out
}

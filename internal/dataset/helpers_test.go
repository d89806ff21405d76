package dataset

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writePNG writes a w×h 8-bit grayscale PNG whose pixel (x, y) is pix(x, y).
func writePNG(tb testing.TB, path string, w, h int, pix func(x, y int) uint8) {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: pix(x, y)})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// decodePNG is the tests' stand-in for gei.Load: a grayscale PNG as
// row-major float32 values in [0, 1].
func decodePNG(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	out := make([]float32, 0, b.Dx()*b.Dy())
	if g, ok := img.(*image.Gray); ok {
		for y := range b.Dy() {
			for _, p := range g.Pix[y*g.Stride : y*g.Stride+b.Dx()] {
				out = append(out, float32(p)/255)
			}
		}
		return out, nil
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out = append(out, float32(color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y)/255)
		}
	}
	return out, nil
}

// writeFile writes content, creating folders.
func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// tinyPNG writes a 6×4 PNG whose pixels encode v.
func tinyPNG(tb testing.TB, path string, v int) {
	writePNG(tb, path, 6, 4, func(x, y int) uint8 { return uint8(v*7 + x*3 + y*11) })
}

// problemStrings renders problems with paths relative to root and "/" separators.
func problemStrings(root string, ps []Problem) []string {
	var out []string
	for _, p := range ps {
		s := p.String()
		s = strings.ReplaceAll(s, root+string(filepath.Separator), "")
		out = append(out, filepath.ToSlash(s))
	}
	return out
}

// wantProblems checks that got equals want exactly (order included).
func wantProblems(t *testing.T, root string, got []Problem, want []string) {
	t.Helper()
	gs := problemStrings(root, got)
	if !slices.Equal(gs, want) {
		t.Errorf("problems:\n got:\n  %s\n want:\n  %s", strings.Join(gs, "\n  "), strings.Join(want, "\n  "))
	}
}

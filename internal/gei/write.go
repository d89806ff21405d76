package gei

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/gaitord/gaitord/internal/atomicfile"
)

// WritePNG writes gei (size.H*size.W values, row-major) to path as an 8-bit
// gray PNG: each value v becomes round(v*255) clamped to [0, 255] (NaN
// becomes 0). The file is written atomically (see package atomicfile).
func WritePNG(path string, gei []float32, size Size) error {
	size, err := size.resolve()
	if err != nil {
		return fmt.Errorf("write GEI %s: %w", path, err)
	}
	if len(gei) != size.H*size.W {
		return fmt.Errorf("write GEI %s: %d values, want %d for %s", path, len(gei), size.H*size.W, size)
	}
	err = atomicfile.Write(path, func(w io.Writer) error { return EncodePNG(w, gei, size) })
	if err != nil {
		return fmt.Errorf("write GEI %s: %w", path, err)
	}
	return nil
}

// EncodePNG writes gei as WritePNG does, to w: an 8-bit gray PNG of
// size.W×size.H pixels, each value v as round(v*255) clamped to [0, 255].
func EncodePNG(w io.Writer, gei []float32, size Size) error {
	size, err := size.resolve()
	if err != nil {
		return err
	}
	if len(gei) != size.H*size.W {
		return fmt.Errorf("%d values, want %d for %s", len(gei), size.H*size.W, size)
	}
	img := image.NewGray(image.Rect(0, 0, size.W, size.H))
	for k, v := range gei {
		img.Pix[k] = toByte(v)
	}
	return png.Encode(w, img)
}

// toByte maps [0, 1] to 0..255 with rounding and clamping; NaN maps to 0.
func toByte(v float32) uint8 {
	f := math.Round(float64(v) * 255)
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= 255:
		return 255
	}
	return uint8(f)
}

// Quantize rounds every value of gei, in place, to the 8-bit level WritePNG
// stores (round(v*255)/255, clamped to [0, 1]), the value Load reads back.
// A GEI made in memory (from footage) and then quantized is exactly what
// its PNG holds and what a model trained on GEI PNGs was fed.
func Quantize(gei []float32) {
	for i, v := range gei {
		gei[i] = float32(toByte(v)) / 255
	}
}

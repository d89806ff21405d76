package gei

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"

	"github.com/gaitord/gaitord/internal/boundedfile"
)

// pngSignature opens every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pixelLimit is the decode limit in pixels; tests lower it to keep fuzzing
// memory small. Production code never changes it.
var pixelLimit = MaxPixels

// Load reads the PNG at path and returns the GEI preprocessed to size (see
// Preprocess): size.H*size.W float32 values in [0, 1], row-major.
//
// The PNG header is checked before any pixel is decoded: images declaring
// more than MaxPixels pixels or a side over MaxSide are refused (ErrTooLarge).
// Zero-byte files (ErrEmptyFile), non-PNG or truncated data, images smaller
// than MinSide (ErrTooSmall) and all-black images (ErrNoSilhouette) are
// errors. Gray 8- and 16-bit, RGB, RGBA and paletted PNGs are accepted; see
// Preprocess for the gray conversion. Every error names the file.
func Load(path string, size Size) ([]float32, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read GEI %s: %w", path, err)
	}
	return Decode(path, data, size)
}

// Decode is Load on PNG bytes already in memory, for example an upload to
// `gaitord serve`: the same header checks, decoding and Preprocess. name
// stands for the file in errors (it is never opened).
func Decode(name string, data []byte, size Size) ([]float32, error) {
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("read GEI %s: %w: %d bytes (limit %d)", name, ErrTooLarge, len(data), maxFileBytes)
	}
	img, err := decodePNG(data)
	if err != nil {
		return nil, fmt.Errorf("read GEI %s: %w", name, err)
	}
	out, err := Preprocess(img, size)
	if err != nil {
		return nil, fmt.Errorf("read GEI %s: %w", name, err)
	}
	return out, nil
}

// readFile reads a whole PNG or frame file (boundedfile.Read, at most
// maxFileBytes); an oversized file is also ErrTooLarge.
func readFile(path string) ([]byte, error) {
	data, err := boundedfile.Read(path, maxFileBytes)
	if errors.Is(err, boundedfile.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
	}
	return data, err
}

// decodePNG checks the PNG header against the size limits and only then
// decodes the pixels. Errors do not name a file; callers add it.
func decodePNG(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, ErrEmptyFile
	}
	if !bytes.HasPrefix(data, pngSignature) {
		// image/png says "unexpected EOF" for a file shorter than the signature.
		return nil, errors.New("decode PNG header: not a PNG file (no PNG signature)")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode PNG header: %w", err)
	}
	if err := checkDeclared(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode PNG: %w", err)
	}
	return img, nil
}

// checkDeclared refuses a declared image size over the decode limits.
func checkDeclared(w, h int) error {
	if w > MaxSide || h > MaxSide || int64(w)*int64(h) > int64(pixelLimit) {
		return fmt.Errorf("%w: header declares %dx%d (width x height; limit %d pixels, %d per side)",
			ErrTooLarge, w, h, pixelLimit, MaxSide)
	}
	return nil
}

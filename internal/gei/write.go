package gei

import (
	"bufio"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
)

// WritePNG writes gei (size.H*size.W values, row-major) to path as an 8-bit
// gray PNG: each value v becomes round(v*255) clamped to [0, 255] (NaN
// becomes 0). The file is written atomically (see WriteFileAtomic).
func WritePNG(path string, gei []float32, size Size) error {
	size, err := size.resolve()
	if err != nil {
		return fmt.Errorf("write GEI %s: %w", path, err)
	}
	if len(gei) != size.H*size.W {
		return fmt.Errorf("write GEI %s: %d values, want %d for %s", path, len(gei), size.H*size.W, size)
	}
	img := image.NewGray(image.Rect(0, 0, size.W, size.H))
	for k, v := range gei {
		img.Pix[k] = toByte(v)
	}
	err = WriteFileAtomic(path, func(w io.Writer) error { return png.Encode(w, img) })
	if err != nil {
		return fmt.Errorf("write GEI %s: %w", path, err)
	}
	return nil
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

// WriteFileAtomic writes a file through write into a temporary file in the
// same folder, fsyncs it and renames it over path, so readers see either the
// old file or the complete new one. The new file has mode 0644. On error the
// temporary file is removed and path is left untouched.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriter(f)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir fsyncs a folder so a rename in it is durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

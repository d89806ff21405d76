// Package gei turns images into the float32 input of gaitord's Global-Local
// CNN: it loads gait energy images (GEIs) from PNG files, normalises them to
// the model's input size with one shared rule (Preprocess), builds GEIs from
// silhouette frames and converts whole OU-MVLP silhouette trees to GEIs
// (RunJobs does the parallel build-and-write for other tree formats too).
//
// Every GEI is a row-major slice of Size.H*Size.W float32 values in [0, 1].
package gei

import (
	"errors"
	"fmt"

	"github.com/gaitord/gaitord/internal/boundedfile"
)

// Size is the model input size in pixels: H rows of W columns.
// The zero Size means DefaultSize.
type Size struct{ H, W int }

// DefaultSize is the default model input size, 64×44 (OU-MVLP GEIs halved).
var DefaultSize = Size{H: 64, W: 44}

// LargeSize is the full OU-MVLP GEI size, 128×88; same 16:11 aspect as DefaultSize.
var LargeSize = Size{H: 128, W: 88}

// String formats the size as "HxW", for example "64x44".
func (s Size) String() string { return fmt.Sprintf("%dx%d", s.H, s.W) }

// Validate returns an error unless s is a supported size (64×44 or 128×88).
// The zero Size is valid and stands for DefaultSize.
func (s Size) Validate() error {
	switch s {
	case Size{}, DefaultSize, LargeSize:
		return nil
	}
	return fmt.Errorf("unsupported GEI size %s (want %s or %s)", s, DefaultSize, LargeSize)
}

// resolve validates s and maps the zero Size to DefaultSize.
func (s Size) resolve() (Size, error) {
	if err := s.Validate(); err != nil {
		return Size{}, err
	}
	if s == (Size{}) {
		return DefaultSize, nil
	}
	return s, nil
}

// Limits on the images Load and LoadSilhouetteDir accept.
const (
	// MaxPixels is the largest declared width×height decoded (64 megapixels).
	MaxPixels = 64_000_000
	// MaxSide is the largest declared width or height decoded.
	MaxSide = 16384
	// MinSide is the smallest width or height Load accepts for a GEI.
	MinSide = 8
	// maxFileBytes bounds the size of a PNG file read into memory.
	maxFileBytes = 256 << 20
)

// Sentinel errors, matched with errors.Is; returned errors wrap them with the
// file name and details.
var (
	// ErrEmptyFile means the file has zero bytes.
	ErrEmptyFile = boundedfile.ErrEmpty
	// ErrTooLarge means the PNG header declares an image over MaxPixels or MaxSide.
	ErrTooLarge = errors.New("image too large")
	// ErrTooSmall means the image is smaller than MinSide in width or height.
	ErrTooSmall = errors.New("image too small to hold a silhouette")
	// ErrNoSilhouette means every pixel is black.
	ErrNoSilhouette = errors.New("all-black image, no silhouette")
	// ErrNoFrames means no frame held a silhouette.
	ErrNoFrames = errors.New("no usable silhouette frames")
)

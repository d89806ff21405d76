package synth

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/ffmpeg"
)

// FootageFiles are the files WriteFootage writes.
type FootageFiles struct {
	// Video is the encoded footage.
	Video string
	// Masks is the folder of ground-truth masks: Masks/walker<NN>/<frame,
	// 5 digits>.png, one full-frame 8-bit gray PNG (255 body, 0 elsewhere)
	// per frame in which the walker is visible; each walker's folder is
	// what `gaitord gei --frames` reads. Empty if masks were not asked for.
	Masks string
	// Truth is the ground truth as JSON (FootageTruth).
	Truth string
}

// MaskDir is the folder of walker w's masks under a masks folder.
func MaskDir(masks string, walker int) string {
	return filepath.Join(masks, fmt.Sprintf("walker%02d", walker))
}

// MaskPath is walker w's mask of frame i under a masks folder.
func MaskPath(masks string, walker, frame int) string {
	return filepath.Join(MaskDir(masks, walker), fmt.Sprintf("%05d.png", frame))
}

// WriteFootage renders the footage (RenderFootage) and encodes it with
// FFmpeg to video (the container and codec follow the extension, see
// ffmpeg.Encode), writing the ground truth as JSON to truth and, if masks
// is not empty, the masks under that folder (see FootageFiles). Frames are
// streamed to the encoder, never all held. Every file is written
// atomically; on error the video and truth files are not written.
func WriteFootage(ctx context.Context, p ffmpeg.Programs, files FootageFiles, opts FootageOptions) (FootageTruth, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return FootageTruth{}, err
	}
	var truth FootageTruth
	enc := ffmpeg.EncodeOptions{Width: o.Width, Height: o.Height, FPS: o.FPS}
	err = p.Encode(ctx, files.Video, enc, func(write func([]byte) error) error {
		var err error
		truth, err = RenderFootage(o, func(i int, rgb []byte, masks []Mask) error {
			if err := write(rgb); err != nil {
				return err
			}
			if files.Masks == "" {
				return nil
			}
			for _, m := range masks {
				if err := writeMask(files.Masks, m, i, o.Width, o.Height); err != nil {
					return err
				}
			}
			return nil
		})
		return err
	})
	if err != nil {
		return FootageTruth{}, fmt.Errorf("footage: %w", err)
	}
	data, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		return FootageTruth{}, fmt.Errorf("footage: %w", err)
	}
	if err := atomicfile.WriteBytes(files.Truth, append(data, '\n')); err != nil {
		return FootageTruth{}, fmt.Errorf("footage: write truth %s: %w", files.Truth, err)
	}
	return truth, nil
}

// writeMask writes one walker's mask of frame i as a full-frame PNG.
func writeMask(dir string, m Mask, i, w, h int) error {
	full := image.NewGray(image.Rect(0, 0, w, h))
	b := m.Img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		copy(full.Pix[y*full.Stride+b.Min.X:y*full.Stride+b.Max.X], m.Img.Pix[(y-b.Min.Y)*m.Img.Stride:])
	}
	if err := os.MkdirAll(MaskDir(dir, m.Walker), 0o755); err != nil {
		return err
	}
	path := MaskPath(dir, m.Walker, i)
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, full) }); err != nil {
		return fmt.Errorf("write mask %s: %w", path, err)
	}
	return nil
}

// ReadFootageTruth reads a truth file written by WriteFootage.
func ReadFootageTruth(path string) (FootageTruth, error) {
	var t FootageTruth
	data, err := os.ReadFile(path)
	if err != nil {
		return t, fmt.Errorf("read footage truth: %w", err)
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return t, fmt.Errorf("read footage truth %s: %w", path, err)
	}
	return t, nil
}

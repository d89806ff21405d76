package cli

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/video"
)

// count is the number of true values.
func count(b ...bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// runGEIVideo is `gaitord gei --video`: one GEI per walker (and its
// silhouette frames with --masks). Nothing is written unless a walker is
// found.
func runGEIVideo(s Streams, o *GEIOptions) error {
	size := gei.Size{H: o.Height, W: o.Width}
	if err := size.Validate(); err != nil {
		return usagef("--height %d --width %d: %v", o.Height, o.Width, err)
	}
	if o.MaxPixels <= 0 || o.FPS <= 0 {
		return usagef("--max-pixels %d, --fps %g: must be positive", o.MaxPixels, o.FPS)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in := footageInput{path: o.Video}
	if fi, err := os.Stat(o.Video); err == nil && fi.IsDir() {
		in.frames = true
	}
	res, err := analyzeFootage(ctx, in, video.Options{Size: size, MaxPixels: o.MaxPixels, FPS: o.FPS, KeepSilhouettes: o.Masks != ""})
	for _, n := range res.Notes {
		fmt.Fprintf(s.Err, "%s: %s\n", in.path, n)
	}
	if err != nil {
		return err
	}
	if res.Truncation != "" {
		fmt.Fprintf(s.Err, "warning: %s: %s\n", in.path, res.Truncation)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", o.Out, unwrapPath(err))
	}
	for _, t := range res.Tracks {
		path := geiName(o.Out, in, t.ID)
		if err := gei.WritePNG(path, t.GEI, size); err != nil {
			return err
		}
		msg := fmt.Sprintf("wrote %s: track %d, frames %d-%d, period %.1f frames, %d cycle%s (%d frames), %s",
			path, t.ID, t.First, t.Last, t.Period, t.Cycles, plural(t.Cycles), t.Used, t.ViewHint)
		if o.Masks != "" {
			dir := filepath.Join(o.Masks, strings.TrimSuffix(filepath.Base(path), ".png"))
			if err := writeSilhouettes(dir, t.Silhouettes(), res.Width, res.Height); err != nil {
				return err
			}
			msg += fmt.Sprintf("; silhouettes in %s", dir)
		}
		fmt.Fprintln(s.Out, msg)
	}
	return nil
}

// writeSilhouettes writes each silhouette as a full-frame w×h 8-bit gray
// PNG (255 on the walker), dir/<frame, 5 digits>.png. The frames go to a
// temporary folder beside dir that is renamed into place when all are
// written, replacing an earlier dir: a failure leaves no partial folder.
func writeSilhouettes(dir string, sils []video.Silhouette, w, h int) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("masks %s: %w", dir, unwrapPath(err))
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("masks %s: %w", dir, unwrapPath(err))
	}
	defer os.RemoveAll(tmp)
	full := image.NewGray(image.Rect(0, 0, w, h))
	for _, sil := range sils {
		clear(full.Pix)
		b := sil.Image.Bounds().Intersect(full.Bounds())
		for y := b.Min.Y; y < b.Max.Y; y++ {
			copy(full.Pix[y*full.Stride+b.Min.X:y*full.Stride+b.Max.X], sil.Image.Pix[sil.Image.PixOffset(b.Min.X, y):])
		}
		path := filepath.Join(tmp, fmt.Sprintf("%05d.png", sil.Frame))
		if err := atomicfile.Write(path, func(wr io.Writer) error { return png.Encode(wr, full) }); err != nil {
			return fmt.Errorf("masks %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("masks %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("masks %s: %w", dir, err)
	}
	return nil
}

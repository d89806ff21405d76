package video

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // decoders for folders of frames
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gaitord/gaitord/internal/ffmpeg"
)

// frameExts are the extensions of colour frames in a folder.
var frameExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true}

// AnalyzeFrames is Analyze on a folder of colour frames: the *.png,
// *.jpg and *.jpeg files of dir (extensions in any case), in name order,
// at opts.FPS frames per second (25 if zero). Every frame must have the
// size of the first; each header is checked against opts.MaxPixels before
// its pixels are decoded, and frames are decoded one at a time. Errors
// name the folder or the frame.
func AnalyzeFrames(ctx context.Context, dir string, opts Options) (Result, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", dir, unwrapPath(err))
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && frameExts[strings.ToLower(filepath.Ext(e.Name()))] {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return Result{}, fmt.Errorf("%s: %w: no .png, .jpg or .jpeg files", dir, ErrNotFrames)
	}
	limit := opts.MaxPixels
	if limit <= 0 {
		limit = ffmpeg.DefaultMaxPixels
	}
	fps := opts.FPS
	if fps <= 0 {
		fps = 25
	}
	first := filepath.Join(dir, names[0])
	cfg, err := frameConfig(first, limit)
	if err != nil {
		return Result{}, err
	}
	res := Result{Source: dir, Width: cfg.Width, Height: cfg.Height, FPS: fps}
	rgba := image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
	rgb := make([]byte, cfg.Width*cfg.Height*3)
	k := 0
	next := func() ([]byte, error) {
		if k == len(names) {
			return nil, io.EOF
		}
		path := filepath.Join(dir, names[k])
		k++
		c, err := frameConfig(path, limit)
		if err != nil {
			return nil, err
		}
		if c.Width != cfg.Width || c.Height != cfg.Height {
			return nil, fmt.Errorf("%s: %dx%d, but the first frame %s is %dx%d", path, c.Width, c.Height, names[0], cfg.Width, cfg.Height)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		for i := 0; i < cfg.Width*cfg.Height; i++ {
			copy(rgb[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
		}
		return rgb, nil
	}
	err = analyze(ctx, &res, next, opts)
	return res, err
}

// frameConfig reads a frame's header and checks its size.
func frameConfig(path string, limit int) (image.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return image.Config{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return image.Config{}, fmt.Errorf("%s: not a PNG or JPEG image: %w", path, err)
	}
	if cfg.Width < 16 || cfg.Height < 16 {
		return image.Config{}, fmt.Errorf("%s: %dx%d is too small for footage", path, cfg.Width, cfg.Height)
	}
	if cfg.Width*cfg.Height > limit {
		return image.Config{}, fmt.Errorf("%s: %w: %dx%d is %.1f megapixels, over the limit of %.1f megapixels",
			path, ffmpeg.ErrTooLarge, cfg.Width, cfg.Height, float64(cfg.Width*cfg.Height)/1e6, float64(limit)/1e6)
	}
	return cfg, nil
}

// unwrapPath drops the *os.PathError wrapper (its message repeats the path).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

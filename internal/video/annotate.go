package video

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"math"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Annotate decodes the video at path a second time and writes it to out
// with, in every frame, the box of each track present in it (Track.Boxes:
// a 2-pixel outline where the walker was seen clear, 1 pixel where it was
// at the border, merged or missing) in the track's colour, and above the
// box the track's caption (captions[Track.ID], e.g. its id and predicted
// age), drawn with the 7×13 bitmap font of golang.org/x/image/font/basicfont
// (ASCII only; no font files). tracks come from Analyze on the same file
// with the same opts, so frame k here is frame k there. The output is
// encoded by FFmpeg (ffmpeg.Encode: the container and codec follow out's
// extension) at the frame rate rounded to a whole number and the frame
// size rounded down to even sides; it appears whole or not at all.
func Annotate(ctx context.Context, path, out string, tracks []Track, captions map[int]string, opts Options) error {
	progs, err := ffmpeg.Find(opts.FFmpeg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dec, err := progs.Open(ctx, path, ffmpeg.DecodeOptions{MaxPixels: opts.MaxPixels})
	if err != nil {
		return err
	}
	defer dec.Close()
	in := dec.Info()
	w, h := in.Width&^1, in.Height&^1
	enc := ffmpeg.EncodeOptions{Width: w, Height: h, FPS: max(1, int(math.Round(in.FPS)))}
	err = progs.Encode(ctx, out, enc, func(write func([]byte) error) error {
		frame := make([]byte, w*h*3)
		for i := 0; ; i++ {
			rgb, err := dec.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			for y := 0; y < h; y++ {
				copy(frame[y*w*3:(y+1)*w*3], rgb[y*in.Width*3:])
			}
			img := &rgbImage{pix: frame, w: w, h: h}
			for _, t := range tracks {
				if b, ok := boxAt(t, i); ok {
					drawBox(img, b, trackColour(t.ID), captions[t.ID])
				}
			}
			if err := write(frame); err != nil {
				return err
			}
		}
	})
	if err != nil {
		return fmt.Errorf("annotate %s: %w", path, err)
	}
	return nil
}

// boxAt returns the track's box in frame i.
func boxAt(t Track, i int) (Box, bool) {
	if len(t.Boxes) == 0 {
		return Box{}, false
	}
	k := i - t.Boxes[0].Frame
	if k < 0 || k >= len(t.Boxes) || t.Boxes[k].Frame != i {
		return Box{}, false
	}
	return t.Boxes[k], true
}

// trackPalette are the track colours, picked in turn by track number:
// saturated, far from skin and from each other.
var trackPalette = []color.RGBA{
	{255, 64, 64, 255}, {64, 200, 255, 255}, {255, 220, 0, 255}, {80, 255, 80, 255},
	{255, 64, 255, 255}, {255, 150, 0, 255}, {160, 120, 255, 255}, {0, 255, 200, 255},
}

// trackColour is the colour of track id (1, 2, …).
func trackColour(id int) color.RGBA {
	return trackPalette[(max(id, 1)-1)%len(trackPalette)]
}

// drawBox draws b's outline and, above it (inside when there is no room),
// the caption in white on a band of the box's colour darkened.
func drawBox(img *rgbImage, b Box, c color.RGBA, caption string) {
	thick := 1
	if b.Seen == "clear" {
		thick = 2
	}
	r := image.Rect(b.X0, b.Y0, b.X1, b.Y1).Intersect(img.Bounds())
	if r.Empty() {
		return
	}
	for k := 0; k < thick; k++ {
		img.fill(image.Rect(r.Min.X, r.Min.Y+k, r.Max.X, r.Min.Y+k+1), c)
		img.fill(image.Rect(r.Min.X, r.Max.Y-1-k, r.Max.X, r.Max.Y-k), c)
		img.fill(image.Rect(r.Min.X+k, r.Min.Y, r.Min.X+k+1, r.Max.Y), c)
		img.fill(image.Rect(r.Max.X-1-k, r.Min.Y, r.Max.X-k, r.Max.Y), c)
	}
	if caption == "" {
		return
	}
	face := basicfont.Face7x13
	tw := font.MeasureString(face, caption).Ceil() + 4
	th := face.Height + 2
	x0 := min(max(r.Min.X, 0), max(img.w-tw, 0))
	y0 := r.Min.Y - th
	if y0 < 0 {
		y0 = r.Min.Y + thick
	}
	band := color.RGBA{c.R / 3, c.G / 3, c.B / 3, 255}
	img.fill(image.Rect(x0, y0, x0+tw, y0+th), band)
	d := font.Drawer{Dst: img, Src: image.NewUniform(color.White), Face: face,
		Dot: fixed.P(x0+2, y0+1+face.Ascent)}
	d.DrawString(caption)
}

// rgbImage is a draw.Image over a packed RGB frame (3 bytes per pixel),
// the layout ffmpeg decodes to and encodes from.
type rgbImage struct {
	pix  []byte
	w, h int
}

var _ draw.Image = (*rgbImage)(nil)

func (m *rgbImage) ColorModel() color.Model { return color.RGBAModel }
func (m *rgbImage) Bounds() image.Rectangle { return image.Rect(0, 0, m.w, m.h) }

func (m *rgbImage) At(x, y int) color.Color {
	if !image.Pt(x, y).In(m.Bounds()) {
		return color.RGBA{}
	}
	k := (y*m.w + x) * 3
	return color.RGBA{m.pix[k], m.pix[k+1], m.pix[k+2], 255}
}

func (m *rgbImage) Set(x, y int, c color.Color) {
	if !image.Pt(x, y).In(m.Bounds()) {
		return
	}
	r, g, b, _ := c.RGBA()
	k := (y*m.w + x) * 3
	m.pix[k], m.pix[k+1], m.pix[k+2] = uint8(r>>8), uint8(g>>8), uint8(b>>8)
}

// fill paints r (clipped to the frame) with c.
func (m *rgbImage) fill(r image.Rectangle, c color.RGBA) {
	r = r.Intersect(m.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			k := (y*m.w + x) * 3
			m.pix[k], m.pix[k+1], m.pix[k+2] = c.R, c.G, c.B
		}
	}
}

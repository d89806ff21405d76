package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gaitord/gaitord/internal/ffmpeg"
)

// twoWalkers crosses a man and a child at different depths.
func twoWalkers(seed uint64) FootageOptions {
	return FootageOptions{Width: 160, Height: 120, Seed: seed, Walkers: []WalkerSpec{
		{Subject: NewSubject(1, 40, true, 11), Direction: LeftToRight, Depth: 5},
		{Subject: NewSubject(2, 7, false, 12), Direction: RightToLeft, Depth: 6.5, Start: 10},
	}}
}

// renderFootageAll renders opts and returns a hash of every frame, the masks per
// frame and the truth.
func renderFootageAll(t *testing.T, opts FootageOptions) ([]byte, [][]Mask, FootageTruth) {
	t.Helper()
	h := sha256.New()
	var masks [][]Mask
	truth, err := RenderFootage(opts, func(i int, rgb []byte, m []Mask) error {
		if len(rgb) != opts.Width*opts.Height*3 {
			t.Fatalf("frame %d: %d bytes", i, len(rgb))
		}
		h.Write(rgb)
		masks = append(masks, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil), masks, truth
}

func TestFootageIsDeterministic(t *testing.T) {
	a, _, ta := renderFootageAll(t, twoWalkers(1))
	b, _, tb := renderFootageAll(t, twoWalkers(1))
	c, _, _ := renderFootageAll(t, twoWalkers(2))
	if !bytes.Equal(a, b) || ta.Frames != tb.Frames {
		t.Fatal("same options rendered different footage")
	}
	if bytes.Equal(a, c) {
		t.Fatal("another seed rendered the same footage")
	}
}

func TestFootageTruth(t *testing.T) {
	_, masks, truth := renderFootageAll(t, twoWalkers(3))
	if truth.Width != 160 || truth.Height != 120 || truth.FPS != 30 || len(truth.Walkers) != 2 || truth.Frames != len(masks) {
		t.Fatalf("truth %+v for %d frames", truth, len(masks))
	}
	// The footage runs until the last walker has left: the last frame is empty.
	if len(masks[len(masks)-1]) != 0 {
		t.Fatal("a walker is still in view in the last frame")
	}
	for k, w := range truth.Walkers {
		first, last := -1, -1
		for i, ms := range masks {
			for _, m := range ms {
				if m.Walker == w.Walker {
					if first < 0 {
						first = i
					}
					last = i
					if !m.Img.Bounds().In(image.Rect(0, 0, 160, 120)) {
						t.Fatalf("walker %d frame %d: mask bounds %v outside the frame", w.Walker, i, m.Img.Bounds())
					}
				}
			}
		}
		if first != w.First || last != w.Last || first < 0 {
			t.Errorf("walker %d: truth frames %d–%d, masks %d–%d", w.Walker, w.First, w.Last, first, last)
		}
		// 1.1 s × sqrt(leg length / 0.85 m) at 30 fps: a child's cycle is shorter
		if w.Period < 20 || w.Period > 45 {
			t.Errorf("walker %d: period %.1f frames", w.Walker, w.Period)
		}
		if want := []string{"left-to-right", "right-to-left"}[k]; w.Direction != want || w.Age != []int{40, 7}[k] {
			t.Errorf("walker %d: %+v", w.Walker, w)
		}
	}
	if truth.Walkers[1].Period >= truth.Walkers[0].Period {
		t.Errorf("the child's cycle %.1f is not shorter than the man's %.1f", truth.Walkers[1].Period, truth.Walkers[0].Period)
	}
}

// With no noise, drift or shadow the masks are exactly the pixels that
// differ from the empty scene.
func TestFootageMasksAreTheWalkers(t *testing.T) {
	opts := twoWalkers(4)
	opts.Noise, opts.Drift, opts.Shadow = -1, -1, -1
	var empty []byte
	_, err := RenderFootage(FootageOptions{Width: 160, Height: 120, Seed: 4, Frames: 1, Noise: -1, Drift: -1, Shadow: -1},
		func(_ int, rgb []byte, _ []Mask) error { empty = append([]byte(nil), rgb...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	checked, changed := 0, 0
	_, err = RenderFootage(opts, func(i int, rgb []byte, masks []Mask) error {
		in := make([]bool, 160*120)
		for _, m := range masks {
			b := m.Img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					if m.Img.GrayAt(x, y).Y == 255 {
						in[y*160+x] = true
					}
				}
			}
		}
		for p, inside := range in {
			same := bytes.Equal(rgb[3*p:3*p+3], empty[3*p:3*p+3])
			if !inside && !same {
				t.Fatalf("frame %d pixel %d: changed outside every mask", i, p)
			}
			if inside {
				checked++
				if !same {
					changed++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 1000 || float64(changed) < 0.99*float64(checked) {
		t.Fatalf("%d of %d walker pixels differ from the empty scene", changed, checked)
	}
}

func TestFootageDirections(t *testing.T) {
	for _, d := range []Direction{Towards, Away} {
		_, masks, truth := renderFootageAll(t, FootageOptions{Width: 160, Height: 120, Walkers: []WalkerSpec{
			{Subject: NewSubject(1, 30, true, 5), Direction: d}}})
		first, last := masks[truth.Walkers[0].First][0].Img.Bounds(), masks[truth.Walkers[0].Last][0].Img.Bounds()
		grows := last.Dy() > 2*first.Dy()
		if grows != (d == Towards) || truth.Walkers[0].Direction != d.String() {
			t.Errorf("%v: height %d → %d", d, first.Dy(), last.Dy())
		}
	}
}

func TestFootageOptionErrors(t *testing.T) {
	good := WalkerSpec{Subject: NewSubject(1, 30, true, 5)}
	broken := good
	broken.Subject.HeadFrac = 0.7
	for _, o := range []FootageOptions{
		{}, // nobody and no frame count
		{Width: 31, Frames: 1},
		{Width: 321, Frames: 1},
		{FPS: 500, Frames: 1},
		{Frames: -1},
		{Drift: 0.6, Frames: 1},
		{Pan: 1000, Frames: 1},
		{Walkers: []WalkerSpec{broken}},
		{Walkers: []WalkerSpec{{Subject: good.Subject, Depth: 1}}},
		{Walkers: []WalkerSpec{{Subject: good.Subject, Direction: 7}}},
	} {
		if _, err := RenderFootage(o, func(int, []byte, []Mask) error { return nil }); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	stop := io.ErrUnexpectedEOF
	if _, err := RenderFootage(FootageOptions{Frames: 5}, func(int, []byte, []Mask) error { return stop }); err != stop {
		t.Errorf("the frame callback's error was not returned: %v", err)
	}
}

func TestWriteFootage(t *testing.T) {
	p, err := ffmpeg.Find("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := FootageFiles{Video: filepath.Join(dir, "walk.mkv"), Masks: filepath.Join(dir, "masks"), Truth: filepath.Join(dir, "truth.json")}
	opts := twoWalkers(5)
	truth, err := WriteFootage(context.Background(), p, files, opts)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadFootageTruth(files.Truth)
	if err != nil || back.Frames != truth.Frames || len(back.Walkers) != 2 || back.Walkers[1] != truth.Walkers[1] {
		t.Fatalf("truth read back %+v, %v; wrote %+v", back, err, truth)
	}
	for _, w := range truth.Walkers {
		entries, err := os.ReadDir(MaskDir(files.Masks, w.Walker))
		if err != nil || len(entries) != w.Last-w.First+1 {
			t.Fatalf("walker %d: %d mask files for frames %d–%d (%v)", w.Walker, len(entries), w.First, w.Last, err)
		}
		f, err := os.Open(MaskPath(files.Masks, w.Walker, w.First+5))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds() != image.Rect(0, 0, 160, 120) {
			t.Fatalf("mask: %v, %v", img.Bounds(), err)
		}
	}
	d, err := p.Open(context.Background(), files.Video, ffmpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	n := 0
	for ; ; n++ {
		if _, err := d.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if in := d.Info(); n != truth.Frames || in.Width != 160 || in.Height != 120 || in.FPS != 30 {
		t.Fatalf("decoded %d frames of %+v, want %d", n, in, truth.Frames)
	}
	// a failed render leaves no video and no truth file
	bad := FootageFiles{Video: filepath.Join(dir, "bad.mp4"), Truth: filepath.Join(dir, "bad.json")}
	if _, err := WriteFootage(context.Background(), p, bad, FootageOptions{}); err == nil {
		t.Fatal("empty options accepted")
	}
	for _, f := range []string{bad.Video, bad.Truth} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failure", f)
		}
	}
}

func TestFootageWalkers(t *testing.T) {
	ws := FootageWalkers(5, 7, 20, 40, 30)
	dirs := []Direction{LeftToRight, RightToLeft, Towards, Away, LeftToRight}
	for i, w := range ws {
		if w.Direction != dirs[i] || w.Start != 45*i || w.Subject.Age < 20 || w.Subject.Age > 40 {
			t.Errorf("walker %d: %v from frame %d, age %d", i+1, w.Direction, w.Start, w.Subject.Age)
		}
		if w.Subject != SampleSubject(7, i+1, 20, 40) {
			t.Errorf("walker %d is not SampleSubject(seed, %d, …)", i+1, i+1)
		}
	}
	if _, err := (FootageOptions{Walkers: ws}).withDefaults(); err != nil {
		t.Fatal(err)
	}
	if truth, err := RenderFootage(FootageOptions{Width: 64, Height: 48, Walkers: ws[:2]}, func(int, []byte, []Mask) error { return nil }); err != nil || len(truth.Walkers) != 2 || truth.Walkers[1].First < 0 {
		t.Fatalf("render: %v %+v", err, truth)
	}
}

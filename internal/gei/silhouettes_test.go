package gei

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// Frames whose silhouette fills the whole 64×44 frame (every pixel > 0)
// need no cropping, scaling or shifting: the GEI is the plain mean.
func TestFromSilhouettesFullFramesArePlainMean(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var frames []image.Image
	sum := make([]float64, 64*44)
	for range 5 {
		f := grayImage(44, 64, func(int, int) uint8 { return uint8(1 + r.IntN(255)) })
		for k, v := range f.Pix {
			sum[k] += float64(v) / 255
		}
		frames = append(frames, f)
	}
	frames = append(frames, nil, grayImage(50, 70, func(int, int) uint8 { return 0 }))
	for k := range sum {
		sum[k] /= 5
	}
	got, used, skipped, err := FromSilhouettes(frames, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	if used != 5 || skipped != 2 {
		t.Fatalf("used %d skipped %d, want 5 and 2", used, skipped)
	}
	assertClose(t, got, sum, 1e-6)
}

// rectFrame is a w×h black frame with a filled rectangle of value v.
func rectFrame(w, h int, r image.Rectangle, v uint8) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return img
}

// translatedFrames: two 128×40 rectangles (255) at different places in
// 150×200 frames and one 64×20 rectangle of value 102 (0.4). After cropping
// each becomes 64×20 (the first two halved), centroid 10, shift
// round(22-10) = 12: columns 12..31 hold (1+1+0.4)/3 = 0.8.
func translatedFrames() ([]image.Image, []float64) {
	frames := []image.Image{
		rectFrame(150, 200, image.Rect(10, 20, 50, 148), 255),
		rectFrame(150, 200, image.Rect(90, 60, 130, 188), 255),
		rectFrame(150, 200, image.Rect(0, 0, 0, 0), 0), // empty: skipped
		rectFrame(150, 200, image.Rect(120, 130, 140, 194), 102),
	}
	cols := map[int]float64{}
	for x := 12; x < 32; x++ {
		cols[x] = 0.8
	}
	return frames, barGEI(DefaultSize, cols)
}

func TestFromSilhouettesCropsScalesAndCentres(t *testing.T) {
	frames, want := translatedFrames()
	got, used, skipped, err := FromSilhouettes(frames, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	if used != 3 || skipped != 1 {
		t.Fatalf("used %d skipped %d, want 3 and 1", used, skipped)
	}
	assertClose(t, got, want, 1e-6)
}

func TestFromSilhouettesNoFrames(t *testing.T) {
	for _, frames := range [][]image.Image{nil, {nil}, {rectFrame(9, 9, image.Rectangle{}, 0)}} {
		_, used, _, err := FromSilhouettes(frames, DefaultSize)
		if !errors.Is(err, ErrNoFrames) || used != 0 {
			t.Fatalf("%d frames: used %d err %v", len(frames), used, err)
		}
	}
	if _, _, _, err := FromSilhouettes(nil, Size{H: 1, W: 1}); err == nil {
		t.Fatal("unsupported size accepted")
	}
}

func TestLoadSilhouetteDir(t *testing.T) {
	dir := t.TempDir()
	frames, want := translatedFrames()
	for i, f := range frames {
		writePNG(t, dir, []string{"0001.png", "0002.PNG", "0003.png", "0004.png"}[i], f)
	}
	writeFile(t, dir, "notes.txt", []byte("not a frame"))
	got, used, skipped, err := LoadSilhouetteDir(dir, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	if used != 3 || skipped != 1 {
		t.Fatalf("used %d skipped %d, want 3 and 1", used, skipped)
	}
	assertClose(t, got, want, 1e-6)

	bad := writeFile(t, dir, "0005.png", []byte("garbage"))
	if _, _, _, err := LoadSilhouetteDir(dir, DefaultSize); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt frame: error %v does not name %s", err, bad)
	}
	empty := t.TempDir()
	if _, _, _, err := LoadSilhouetteDir(empty, DefaultSize); err == nil || !strings.Contains(err.Error(), empty) {
		t.Fatalf("empty folder: %v", err)
	}
	black := t.TempDir()
	writePNG(t, black, "1.png", rectFrame(20, 20, image.Rectangle{}, 0))
	if _, _, skipped, err := LoadSilhouetteDir(black, DefaultSize); !errors.Is(err, ErrNoFrames) || skipped != 1 {
		t.Fatalf("all-black folder: skipped %d err %v", skipped, err)
	}
	bomb := t.TempDir()
	writeFile(t, bomb, "1.png", pngHeaderOnly(100000, 100000))
	if _, _, _, err := LoadSilhouetteDir(bomb, DefaultSize); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("bomb frame: %v", err)
	}
}

// A Walk fed the frames' PNG bytes gives FromSilhouettes' GEI; its errors name
// the frame and keep the sentinel errors.
func TestWalkFromPNGBytes(t *testing.T) {
	frames, want := translatedFrames()
	w, err := NewWalk(DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.AddPNG(fmt.Sprintf("upload/%d.png", i), encodePNG(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	got, used, skipped, err := w.GEI()
	if err != nil || used != 3 || skipped != 1 {
		t.Fatalf("used %d skipped %d err %v", used, skipped, err)
	}
	assertClose(t, got, want, 1e-6)
	ref, _, _, _ := FromSilhouettes(append([]image.Image(nil), frames...), DefaultSize)
	if !slices.Equal(got, ref) {
		t.Fatal("Walk differs from FromSilhouettes")
	}

	if err := w.AddPNG("upload/bomb.png", pngHeaderOnly(100000, 100000)); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "upload/bomb.png") {
		t.Fatalf("bomb frame: %v", err)
	}
	if err := w.AddPNG("upload/empty.png", nil); !errors.Is(err, ErrEmptyFile) {
		t.Fatalf("empty frame: %v", err)
	}
	empty, _ := NewWalk(Size{})
	if _, _, _, err := empty.GEI(); !errors.Is(err, ErrNoFrames) {
		t.Fatalf("no frames: %v", err)
	}
	if _, err := NewWalk(Size{H: 10, W: 10}); err == nil {
		t.Fatal("NewWalk accepted 10x10")
	}
}

package gei

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
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

func TestIsSilhouette(t *testing.T) {
	dir := t.TempDir()
	rgba := image.NewRGBA(image.Rect(0, 0, 6, 8))
	for y := 2; y < 6; y++ {
		for x := 1; x < 4; x++ {
			rgba.Set(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	for _, c := range []struct {
		name string
		path string
		want bool
	}{
		{"binary gray frame", writePNG(t, dir, "frame.png", grayImage(6, 8, func(x, y int) uint8 { return uint8(255 * ((x + y) % 2)) })), true},
		{"binary RGBA frame", writePNG(t, dir, "rgba.png", rgba), true},
		{"GEI with greys", writePNG(t, dir, "gei.png", grayImage(6, 8, func(x, y int) uint8 { return uint8(30 * x) })), false},
		{"all black", writePNG(t, dir, "black.png", grayImage(6, 8, func(int, int) uint8 { return 0 })), false},
		{"one grey pixel", writePNG(t, dir, "grey1.png", grayImage(6, 8, func(x, y int) uint8 {
			if x == 5 && y == 7 {
				return 254
			}
			return uint8(255 * (x % 2))
		})), false},
		{"not a PNG", writeFile(t, dir, "text.png", []byte("hello")), false},
		{"header over the limits", writeFile(t, dir, "huge.png", pngHeaderOnly(MaxSide+1, 2)), false},
		{"missing", filepath.Join(dir, "none.png"), false},
	} {
		if got := IsSilhouette(c.path); got != c.want {
			t.Errorf("%s: IsSilhouette = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestListPNGs(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.png", "a.PNG", "c.txt", "sub/d.png"} {
		writeFile(t, dir, n, []byte("x"))
	}
	if err := os.Symlink(filepath.Join(dir, "b.png"), filepath.Join(dir, "link.png")); err != nil {
		t.Fatal(err)
	}
	got, err := ListPNGs(dir)
	want := []string{filepath.Join(dir, "a.PNG"), filepath.Join(dir, "b.png"), filepath.Join(dir, "link.png")}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListPNGs = %v, %v; want %v", got, err, want)
	}
	none := filepath.Join(dir, "none")
	if _, err := ListPNGs(none); err == nil || err.Error() != none+": no such file or directory" {
		t.Fatalf("missing folder: %v", err)
	}
}

// The video pipeline adds crops whose bounds sit where the walker was in
// the frame; an Accumulator must treat them as the same frames at (0, 0).
func TestAccumulatorTakesOffsetCrops(t *testing.T) {
	frames, want := translatedFrames()
	acc, err := NewAccumulator(Size{})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		big := image.NewGray(image.Rect(-7, -3, 300, 400))
		for y := 0; y < 200; y++ {
			copy(big.Pix[(y+3)*big.Stride+7:], f.(*image.Gray).Pix[y*150:(y+1)*150])
		}
		crop := big.SubImage(image.Rect(i*13-7, -3, i*13+150, 220))
		if used := acc.Add(crop); used != (i != 2) {
			t.Fatalf("frame %d: Add reported %v", i, used)
		}
	}
	got, err := acc.GEI()
	if err != nil {
		t.Fatal(err)
	}
	if acc.Used() != 3 || acc.Skipped() != 1 {
		t.Fatalf("used %d skipped %d, want 3 and 1", acc.Used(), acc.Skipped())
	}
	assertClose(t, got, want, 1e-6)
	if _, err := NewAccumulator(Size{H: 3, W: 3}); err == nil {
		t.Fatal("unsupported size accepted")
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

package gei

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadGray8ExactSize(t *testing.T) {
	img := grayImage(44, 64, func(x, y int) uint8 { return uint8((x*7 + y*3) % 256) })
	path := writePNG(t, t.TempDir(), "g8.png", img)
	got, err := Load(path, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 44; x++ {
			want := float32((x*7+y*3)%256) / 255
			if got[y*44+x] != want {
				t.Fatalf("pixel (%d,%d): got %v, want %v", x, y, got[y*44+x], want)
			}
		}
	}
	// Zero Size means DefaultSize.
	if got0, err := Load(path, Size{}); err != nil || len(got0) != 64*44 || got0[1] != got[1] {
		t.Fatalf("zero Size: len %d err %v", len(got0), err)
	}
}

func TestLoadGray16(t *testing.T) {
	img := image.NewGray16(image.Rect(0, 0, 44, 64))
	img.SetGray16(0, 0, color.Gray16{Y: 65535})
	img.SetGray16(1, 0, color.Gray16{Y: 32768})
	img.SetGray16(2, 0, color.Gray16{Y: 257})
	img.SetGray16(43, 63, color.Gray16{Y: 1})
	got, err := Load(writePNG(t, t.TempDir(), "g16.png", img), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 64*44)
	want[0] = 1
	want[1] = 32768.0 / 65535 // 0.500007629...
	want[2] = 1.0 / 255       // 257/65535
	want[63*44+43] = 1.0 / 65535
	assertClose(t, got, want, 1e-7)
}

// Luma of color.GrayModel: y = (19595 R + 38470 G + 7471 B + 2^15) >> 24 on
// 16-bit premultiplied channels (8-bit c becomes c*257):
// (200,100,50) -> 2091897118>>24 = 124; (0,0,255) -> 489644753>>24 = 29;
// (0,255,0) -> 2521164218>>24 = 150; white at alpha 128 -> premultiplied
// 0x8080 per channel -> 2155905024>>24 = 128.
func TestLoadRGBAndRGBA(t *testing.T) {
	cases := []struct {
		name string
		px   [3]color.NRGBA
		want [3]float64
	}{
		{"rgb", [3]color.NRGBA{{200, 100, 50, 255}, {0, 0, 255, 255}, {255, 255, 255, 255}},
			[3]float64{124.0 / 255, 29.0 / 255, 1}},
		{"rgba", [3]color.NRGBA{{255, 255, 255, 128}, {200, 100, 50, 255}, {255, 0, 0, 0}},
			[3]float64{128.0 / 255, 124.0 / 255, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := image.NewNRGBA(image.Rect(0, 0, 44, 64))
			for y := 0; y < 64; y++ {
				for x := 0; x < 44; x++ {
					img.SetNRGBA(x, y, color.NRGBA{0, 0, 0, 255})
				}
			}
			want := make([]float64, 64*44)
			for i, p := range c.px {
				img.SetNRGBA(i, 5, p)
				want[5*44+i] = c.want[i]
			}
			data := encodePNG(t, img)
			// Colour type byte of IHDR: 2 = RGB, 6 = RGBA.
			if ct, wantCT := data[25], map[string]byte{"rgb": 2, "rgba": 6}[c.name]; ct != wantCT {
				t.Fatalf("encoded colour type %d, want %d", ct, wantCT)
			}
			got, err := Load(writeFile(t, t.TempDir(), c.name+".png", data), DefaultSize)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, got, want, 1e-7)
		})
	}
}

func TestLoadPaletted(t *testing.T) {
	pal := color.Palette{color.Black, color.Gray{Y: 90}, color.RGBA{0, 255, 0, 255}}
	img := image.NewPaletted(image.Rect(0, 0, 44, 64), pal)
	img.SetColorIndex(3, 4, 1)
	img.SetColorIndex(4, 4, 2)
	data := encodePNG(t, img)
	if data[25] != 3 {
		t.Fatalf("encoded colour type %d, want 3 (paletted)", data[25])
	}
	got, err := Load(writeFile(t, t.TempDir(), "pal.png", data), DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, 64*44)
	want[4*44+3] = 90.0 / 255  // gray 90 stays 90
	want[4*44+4] = 150.0 / 255 // pure green, see TestLoadRGBAndRGBA
	assertClose(t, got, want, 1e-7)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	valid := encodePNG(t, grayImage(44, 64, func(x, y int) uint8 { return uint8(x + y) }))
	cases := []struct {
		name    string
		data    []byte
		is      error  // sentinel, if any
		message string // substring of the error
	}{
		{"empty.png", nil, ErrEmptyFile, "empty file"},
		{"garbage.png", []byte("this is not a PNG file at all, just text"), nil, "decode PNG header"},
		{"truncated.png", valid[:len(valid)/2], nil, "decode PNG"},
		{"one.png", encodePNG(t, grayImage(1, 1, func(int, int) uint8 { return 255 })), ErrTooSmall, "1x1"},
		{"seven.png", encodePNG(t, grayImage(7, 8, func(int, int) uint8 { return 255 })), ErrTooSmall, "too small to hold a silhouette"},
		{"black.png", encodePNG(t, grayImage(44, 64, func(int, int) uint8 { return 0 })), ErrNoSilhouette, "no silhouette"},
		{"bomb.png", pngHeaderOnly(100000, 100000), ErrTooLarge, "100000x100000"},
		{"wide.png", pngHeaderOnly(20000, 8), ErrTooLarge, "20000x8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, dir, c.name, c.data)
			got, err := Load(path, DefaultSize)
			if err == nil {
				t.Fatalf("no error, got %d values", len(got))
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("error %q is not %v", err, c.is)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("error %q does not name %s and %q", err, path, c.message)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "missing.png"), DefaultSize); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := Load(writeFile(t, dir, "ok.png", valid), Size{H: 32, W: 22}); err == nil || !strings.Contains(err.Error(), "unsupported GEI size 32x22") {
		t.Fatalf("unsupported size: %v", err)
	}
}

// The bomb is refused from its header alone: the file holds no image data,
// so a decode attempt would fail with a different error, not ErrTooLarge.
func TestBombRefusedBeforeDecoding(t *testing.T) {
	data := pngHeaderOnly(100000, 100000)
	if len(data) != 8+4+4+13+4 {
		t.Fatalf("crafted header is %d bytes", len(data))
	}
	_, err := decodePNG(data)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	// Within the limits the same header-only file is a decode error.
	_, err = decodePNG(pngHeaderOnly(64, 64))
	if err == nil || errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "decode PNG") {
		t.Fatalf("small header-only PNG: %v", err)
	}
}

// Decode is Load on bytes: same values, errors naming the given name.
func TestDecodeEqualsLoad(t *testing.T) {
	img := grayImage(88, 128, func(x, y int) uint8 { return uint8(x + 2*y) })
	data := encodePNG(t, img)
	path := writeFile(t, t.TempDir(), "g.png", data)
	want, err := Load(path, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode("upload.png", data, DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatal("Decode differs from Load")
	}
	for _, c := range []struct {
		data []byte
		is   error
	}{{nil, ErrEmptyFile}, {pngHeaderOnly(100000, 100000), ErrTooLarge}, {data[:len(data)/2], nil}} {
		_, err := Decode("upload.png", c.data, DefaultSize)
		if err == nil || !strings.Contains(err.Error(), "upload.png") || (c.is != nil && !errors.Is(err, c.is)) {
			t.Fatalf("%d bytes: %v", len(c.data), err)
		}
	}
}

package video

import (
	"context"
	"image"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
)

// TestDrawBox checks the outline, its thickness by how the walker was
// seen, and the caption band with white text above the box.
func TestDrawBox(t *testing.T) {
	img := &rgbImage{pix: make([]byte, 200*100*3), w: 200, h: 100}
	red := trackColour(1)
	drawBox(img, Box{X0: 50, Y0: 40, X1: 90, Y1: 95, Seen: "clear"}, red, "#1 age 34 (26-43) F")
	at := func(x, y int) [3]byte { k := (y*200 + x) * 3; return [3]byte{img.pix[k], img.pix[k+1], img.pix[k+2]} }
	want := [3]byte{red.R, red.G, red.B}
	for _, p := range []image.Point{{50, 60}, {51, 60}, {89, 60}, {88, 60}, {70, 40}, {70, 41}, {70, 94}, {70, 93}} {
		if at(p.X, p.Y) != want {
			t.Errorf("outline pixel %v = %v, want %v", p, at(p.X, p.Y), want)
		}
	}
	for _, p := range []image.Point{{52, 60}, {87, 60}, {70, 42}, {70, 92}, {49, 60}, {90, 60}} {
		if at(p.X, p.Y) != [3]byte{} {
			t.Errorf("pixel %v = %v, want untouched", p, at(p.X, p.Y))
		}
	}
	white, band := 0, 0
	for y := 40 - 15; y < 40; y++ {
		for x := 50; x < 200; x++ {
			switch at(x, y) {
			case [3]byte{255, 255, 255}:
				white++
			case [3]byte{red.R / 3, red.G / 3, red.B / 3}:
				band++
			}
		}
	}
	if white < 50 || band < 500 {
		t.Errorf("caption: %d white text pixels on %d band pixels above the box", white, band)
	}
	// a box seen merged is 1 pixel thick; one at the top edge gets its
	// caption inside
	img2 := &rgbImage{pix: make([]byte, 200*100*3), w: 200, h: 100}
	drawBox(img2, Box{X0: 10, Y0: 0, X1: 60, Y1: 50, Seen: "merged"}, red, "x")
	if k := (30*200 + 11) * 3; img2.pix[k] != 0 || img2.pix[k-3] != red.R {
		t.Errorf("merged box not drawn 1 pixel thick")
	}
	inside := false
	for k := (2*200 + 10) * 3; k < (15*200)*3; k += 3 {
		inside = inside || img2.pix[k] == 255 && img2.pix[k+1] == 255
	}
	if !inside {
		t.Errorf("caption of a box at the top edge not drawn inside it")
	}
}

// TestSilhouettesAndAnnotate analyses footage keeping the silhouettes,
// checks that they average back to the track's GEI, and annotates the
// footage: the output has every frame, frames without a walker are the
// input's, and the box is drawn in the track's colour where the track was.
func TestSilhouettesAndAnnotate(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes and decodes footage")
	}
	files, _ := footage(t, "walk.mp4", synth.FootageOptions{Seed: 5, Walkers: []synth.WalkerSpec{walker(1, 30, true, synth.LeftToRight, 4.5, 10)}})
	res, err := Analyze(context.Background(), files.Video, Options{KeepSilhouettes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tracks) != 1 {
		t.Fatalf("%d tracks, want 1", len(res.Tracks))
	}
	tr := res.Tracks[0]
	sils := tr.Silhouettes()
	if len(sils) != tr.Used {
		t.Fatalf("%d silhouettes kept, %d averaged", len(sils), tr.Used)
	}
	acc, _ := gei.NewAccumulator(gei.Size{})
	for i, s := range sils {
		if i > 0 && s.Frame <= sils[i-1].Frame || s.Frame < tr.First || s.Frame > tr.Last {
			t.Fatalf("silhouette %d at frame %d (track %d-%d)", i, s.Frame, tr.First, tr.Last)
		}
		acc.Add(s.Image)
	}
	g, _ := acc.GEI()
	for k := range g {
		if g[k] != tr.GEI[k] {
			t.Fatalf("silhouettes average to %v at %d, the track's GEI has %v", g[k], k, tr.GEI[k])
		}
	}
	if res2, _ := Analyze(context.Background(), files.Video, Options{}); len(res2.Tracks[0].Silhouettes()) != 0 {
		t.Errorf("silhouettes kept without KeepSilhouettes")
	}

	out := filepath.Join(t.TempDir(), "ann.avi") // MJPEG: little loss on thin lines
	if err := Annotate(context.Background(), files.Video, out, res.Tracks, map[int]string{1: "#1 age 30"}, Options{}); err != nil {
		t.Fatal(err)
	}
	p, _ := ffmpeg.Find("")
	orig, err := p.Open(context.Background(), files.Video, ffmpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ann, err := p.Open(context.Background(), out, ffmpeg.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	w := ann.Info().Width
	red := trackColour(1)
	boxed := 0
	for i := 0; ; i++ {
		a, errA := ann.Next()
		o, errO := orig.Next()
		if errA == io.EOF || errO == io.EOF {
			if errA != errO {
				t.Fatalf("frame %d: annotated %v, original %v", i, errA, errO)
			}
			if i != res.Frames {
				t.Fatalf("%d frames, want %d", i, res.Frames)
			}
			break
		}
		if errA != nil || errO != nil {
			t.Fatal(errA, errO)
		}
		b, ok := boxAt(tr, i)
		if !ok {
			diff := 0
			for k := range a {
				diff += abs(int(a[k]) - int(o[k]))
			}
			if mean := float64(diff) / float64(len(a)); mean > 4 {
				t.Fatalf("frame %d without a track differs from the input by %.1f levels", i, mean)
			}
			continue
		}
		if b.Seen != "clear" || b.X0 < 2 || b.X1 > w-2 {
			continue
		}
		y := (b.Y0 + b.Y1) / 2
		k := (y*w + b.X0) * 3
		if r, g := int(a[k]), int(a[k+1]); abs(r-int(red.R)) < 60 && abs(g-int(red.G)) < 60 {
			boxed++
		}
	}
	if boxed < 20 {
		t.Errorf("the box's left edge is in the track's colour in %d frames", boxed)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

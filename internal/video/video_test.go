package video

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/atomicfile"
	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
)

// crossing is 640×480 footage of a man walking right and a girl walking
// left further back, crossing in the middle of the view.
func crossing() synth.FootageOptions {
	return synth.FootageOptions{Width: 640, Height: 480, Seed: 3, Walkers: []synth.WalkerSpec{
		walker(1, 35, true, synth.LeftToRight, 5, 0),
		walker(2, 8, false, synth.RightToLeft, 6.5, 20),
	}}
}

// The quality figures of the issue, on footage with ground truth:
// silhouette IoU, GEI against the GEI of the true masks, period, and the
// identities of two walkers who cross.
func TestFootageQuality(t *testing.T) {
	files, truth := footage(t, "walk.mp4", crossing())
	ev, err := evaluate(t, files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := ev.res
	if len(res.Tracks) != 2 || len(res.Notes) != 0 || res.Truncation != "" {
		t.Fatalf("%d tracks, notes %v, truncation %q; want 2 tracks", len(res.Tracks), res.Notes, res.Truncation)
	}
	if res.Width != 640 || res.Height != 480 || res.FPS != 30 || res.Frames != truth.Frames {
		t.Fatalf("result %dx%d at %g fps, %d frames; footage has %d", res.Width, res.Height, res.FPS, res.Frames, truth.Frames)
	}
	iou := mean(ev.ious)
	t.Logf("silhouette IoU: mean %.3f over %d frames (min %.3f)", iou, len(ev.ious), minOf(ev.ious))
	if iou < 0.90 {
		t.Errorf("mean IoU %.3f, want >= 0.90", iou)
	}
	for _, tk := range res.Tracks {
		w := truth.Walkers[ev.walkerOf[tk.ID]-1]
		t.Logf("track %d = walker %d (%s): frames %d–%d, period %.2f (true %.2f), %d cycles from %d frames, %s; GEI mean |diff| %.4f",
			tk.ID, w.Walker, w.Direction, tk.First, tk.Last, tk.Period, w.Period, tk.Cycles, tk.Used, tk.ViewHint, ev.geiDiff[tk.ID])
		// numbered in order of first appearance: walker 1 enters first
		if w.Walker != tk.ID {
			t.Errorf("track %d follows walker %d", tk.ID, w.Walker)
		}
		if math.Abs(tk.Period-w.Period) > 1 {
			t.Errorf("track %d: period %.2f, true %.2f", tk.ID, tk.Period, w.Period)
		}
		if ev.geiDiff[tk.ID] > 0.03 {
			t.Errorf("track %d: GEI differs from the true masks' by %.4f on average, want <= 0.03", tk.ID, ev.geiDiff[tk.ID])
		}
		if tk.ViewHint != w.Direction {
			t.Errorf("track %d: view hint %s, walker goes %s", tk.ID, tk.ViewHint, w.Direction)
		}
		if tk.First < w.First || tk.Last > w.Last || tk.Cycles < 1 || len(tk.GEI) != 64*44 {
			t.Errorf("track %d: frames %d–%d (walker visible %d–%d), %d cycles, %d GEI values", tk.ID, tk.First, tk.Last, w.First, w.Last, tk.Cycles, len(tk.GEI))
		}
		// a box for every frame, the crossing among them, clear frames after it
		merged, clearAfter := 0, 0
		for k, b := range tk.Boxes {
			if b.Frame != tk.First+k {
				t.Fatalf("track %d: box %d is for frame %d", tk.ID, k, b.Frame)
			}
			switch {
			case b.Seen == "merged":
				merged++
			case b.Seen == "clear" && merged > 0:
				clearAfter++
			}
		}
		if merged < 5 || clearAfter < 5 {
			t.Errorf("track %d: %d merged frames, %d clear frames after them", tk.ID, merged, clearAfter)
		}
	}
	// Identities are kept: every clear silhouette, before and after the
	// crossing, overlaps its own walker's true mask (a swap would give 0).
	if m := minOf(ev.ious); m < 0.5 {
		t.Errorf("a silhouette overlaps its walker's mask by IoU %.3f only", m)
	}
}

// minOf is the smallest value; +Inf for none.
func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// Walkers along the view: one comes towards the camera, one walks away.
func TestAlongTheView(t *testing.T) {
	ws := []synth.WalkerSpec{walker(3, 50, false, synth.Towards, 0, 15), walker(4, 70, true, synth.Away, 0, 15)}
	ws[0].Offset, ws[1].Offset = -1.3, 1.3
	files, truth := footage(t, "along.mp4", synth.FootageOptions{Width: 640, Height: 480, Seed: 4, Walkers: ws})
	res, err := Analyze(context.Background(), files.Video, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tracks) != 2 {
		t.Fatalf("%d tracks, notes %v", len(res.Tracks), res.Notes)
	}
	for _, tk := range res.Tracks {
		// the towards walker is on the left (offset −1.3 m)
		w := truth.Walkers[0]
		if tk.Boxes[0].X0 > 320 {
			w = truth.Walkers[1]
		}
		t.Logf("track %d (%s): period %.2f (true %.2f), %d cycles, %s", tk.ID, w.Direction, tk.Period, w.Period, tk.Cycles, tk.ViewHint)
		if tk.ViewHint != w.Direction || math.Abs(tk.Period-w.Period) > 1 {
			t.Errorf("track %d: %s with period %.2f; walker %s, %.2f", tk.ID, tk.ViewHint, tk.Period, w.Direction, w.Period)
		}
	}
}

// oneWalker is 320×240 footage of one walker crossing.
func oneWalker(seed uint64) synth.FootageOptions {
	return synth.FootageOptions{Seed: seed, Walkers: []synth.WalkerSpec{walker(5, 30, true, synth.LeftToRight, 4.5, 0)}}
}

// Bad input: one error line naming the file, matched by its sentinel.
func TestBadInputs(t *testing.T) {
	p, err := ffmpeg.Find("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	text := write("notes.mp4", []byte("these are not moving pictures\n"))
	// a PNG renamed .mp4
	pngFile := filepath.Join(dir, "still.png")
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	if err := atomicfile.Write(pngFile, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(pngFile)
	renamed := write("still.mp4", data)
	// zero frames: a Matroska header cut before the first frame
	walk, _ := footage(t, "walk.mkv", oneWalker(1))
	data, _ = os.ReadFile(walk.Video)
	header := write("header.mkv", data[:600])
	// an MP4 with its index at the end, cut in half: nothing can be read
	tail := filepath.Join(dir, "tail.mp4")
	if out, err := exec(p, "-i", walk.Video, "-c", "copy", tail); err != nil {
		t.Fatalf("remux: %v\n%s", err, out)
	}
	data, _ = os.ReadFile(tail)
	cutTail := write("cut.mp4", data[:len(data)/2])
	// nobody walks past
	empty, _ := footage(t, "empty.mp4", synth.FootageOptions{Seed: 2, Frames: 60})
	// only walkers seen for less than a cycle: they enter as the video ends
	short, _ := footage(t, "short.mp4", synth.FootageOptions{Seed: 2, Frames: 90, Walkers: []synth.WalkerSpec{
		walker(1, 35, true, synth.LeftToRight, 5, 60), walker(2, 30, false, synth.RightToLeft, 6, 62)}})
	// the camera pans
	pan, _ := footage(t, "pan.mp4", synth.FootageOptions{Seed: 2, Frames: 90, Pan: 1, Walkers: oneWalker(2).Walkers})

	cases := []struct {
		path string
		opts Options
		want error
		text string
	}{
		{text, Options{}, ffmpeg.ErrNotVideo, "Invalid data found"},
		{renamed, Options{}, ffmpeg.ErrNotVideo, "a still image (png)"},
		{header, Options{}, ffmpeg.ErrNoFrames, "no frames decoded"},
		{cutTail, Options{}, ffmpeg.ErrNotVideo, "moov atom not found"},
		{empty.Video, Options{}, ErrNoWalker, "no walking person found in 60 frames"},
		{short.Video, Options{}, ErrShortWalkers, "2 walkers seen"},
		{pan.Video, Options{}, ErrMovingCamera, "the picture shifted"},
		{walk.Video, Options{MaxPixels: 320*240 - 1}, ffmpeg.ErrTooLarge, "320x240 is 0.1 megapixels, over the limit of 0.1 megapixels"},
		{walk.Video, Options{FFmpeg: filepath.Join(dir, "no", "ffmpeg")}, ffmpeg.ErrNotInstalled, "scripts/install_libtorch.sh"},
		{filepath.Join(dir, "missing.mp4"), Options{}, os.ErrNotExist, "no such file"},
		{walk.Video, Options{Size: gei.Size{H: 10, W: 10}}, nil, "unsupported GEI size"},
	}
	for _, c := range cases {
		res, err := Analyze(context.Background(), c.path, c.opts)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err %v, want %v", filepath.Base(c.path), err, c.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, c.path+": ") || !strings.Contains(msg, c.text) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q, want one line starting with the path and holding %q", filepath.Base(c.path), msg, c.text)
		}
		if len(res.Tracks) != 0 {
			t.Errorf("%s: %d tracks alongside the error", filepath.Base(c.path), len(res.Tracks))
		}
		if c.want == ErrShortWalkers {
			if len(res.Notes) != 2 {
				t.Errorf("short walkers: notes %v", res.Notes)
			}
			for _, n := range res.Notes {
				if n.Last != 89 || n.Last-n.First+1 >= int(n.Cycle) || !strings.Contains(n.String(), "less than one gait cycle") {
					t.Errorf("note %+v: %s", n, n)
				}
			}
		}
	}
}

// exec runs ffmpeg for a test's set-up.
func exec(p ffmpeg.Programs, args ...string) ([]byte, error) {
	return execCommand(p.FFmpeg, append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
}

// A truncated file: what decodes is analysed and the truncation reported.
func TestTruncatedFootage(t *testing.T) {
	files, truth := footage(t, "walk.mkv", oneWalker(3))
	data, err := os.ReadFile(files.Video)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mkv")
	if err := os.WriteFile(cut, data[:len(data)*3/4], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(context.Background(), cut, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames >= truth.Frames || res.Frames < truth.Frames/2 || len(res.Tracks) != 1 {
		t.Fatalf("%d of %d frames, %d tracks", res.Frames, truth.Frames, len(res.Tracks))
	}
	want := fmt.Sprintf("truncated or corrupt: decoded %d of %d frames", res.Frames, truth.Frames)
	if !strings.HasPrefix(res.Truncation, want) || strings.Contains(res.Truncation, "\n") {
		t.Fatalf("truncation note %q, want %q…", res.Truncation, want)
	}
}

// A folder of colour frames is analysed like a video; with lossless PNG
// frames the period is as good.
func TestAnalyzeFrames(t *testing.T) {
	dir := t.TempDir()
	opts := oneWalker(4)
	truth, err := synth.RenderFootage(opts, func(i int, rgb []byte, _ []synth.Mask) error {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for p := 0; p < 320*240; p++ {
			copy(img.Pix[4*p:], rgb[3*p:3*p+3])
			img.Pix[4*p+3] = 255
		}
		path := filepath.Join(dir, fmt.Sprintf("f%04d.png", i))
		if i%2 == 1 { // a mix of PNG and JPEG, as exported by tools
			path = filepath.Join(dir, fmt.Sprintf("f%04d.JPG", i))
			return atomicfile.Write(path, func(w io.Writer) error { return jpeg.Encode(w, img, &jpeg.Options{Quality: 95}) })
		}
		return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
	})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644)
	res, err := AnalyzeFrames(context.Background(), dir, Options{FPS: 30})
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames != truth.Frames || res.FPS != 30 || len(res.Tracks) != 1 {
		t.Fatalf("%d frames at %g fps, %d tracks", res.Frames, res.FPS, len(res.Tracks))
	}
	if tk := res.Tracks[0]; math.Abs(tk.Period-truth.Walkers[0].Period) > 1 || tk.ViewHint != "left-to-right" {
		t.Fatalf("period %.2f (true %.2f), %s", tk.Period, truth.Walkers[0].Period, tk.ViewHint)
	}
	// the model's input is the GEI as a PNG holds it; the record carries the track
	tk := res.Tracks[0]
	in := tk.Input()
	for i, v := range in {
		if q := math.Round(float64(tk.GEI[i])*255) / 255; math.Abs(float64(v)-q) > 1e-6 {
			t.Fatalf("input %d is %v, the GEI %v quantized is %v", i, v, tk.GEI[i], q)
		}
	}
	if in[0] = 2; tk.GEI[0] == 2 {
		t.Fatal("Input shares the GEI's values")
	}
	r := tk.Record(api.Prediction{Age: 33}, "walk.mp4")
	if r.Age != 33 || r.Path != "walk.mp4" || r.Source != api.SourceVideo || r.Track != 1 || *r.Frames != [2]int{tk.First, tk.Last} ||
		r.Period != tk.Period || r.Cycles != tk.Cycles || r.ViewHint != tk.ViewHint {
		t.Fatalf("record %+v of track %+v", r, tk)
	}
	// MaxFrames stops footage that goes on longer
	if _, err := AnalyzeFrames(context.Background(), dir, Options{FPS: 30, MaxFrames: 10}); !errors.Is(err, ErrTooLong) ||
		!strings.Contains(err.Error(), "more than 10 frames") || !strings.HasPrefix(err.Error(), dir+": ") {
		t.Errorf("over MaxFrames: %v", err)
	}
	// errors name the folder or the frame
	bad := filepath.Join(dir, "f0003.png")
	os.WriteFile(bad, []byte("not an image"), 0o644)
	if _, err := AnalyzeFrames(context.Background(), dir, Options{}); err == nil || !strings.HasPrefix(err.Error(), bad+": ") {
		t.Errorf("corrupt frame: %v", err)
	}
	small := filepath.Join(dir, "f0005.png")
	atomicfile.Write(small, func(w io.Writer) error { return png.Encode(w, image.NewGray(image.Rect(0, 0, 100, 80))) })
	os.Remove(bad)
	if _, err := AnalyzeFrames(context.Background(), dir, Options{}); err == nil || !strings.Contains(err.Error(), "100x80, but the first frame") {
		t.Errorf("frame of another size: %v", err)
	}
	if _, err := AnalyzeFrames(context.Background(), dir, Options{MaxPixels: 1000}); !errors.Is(err, ffmpeg.ErrTooLarge) {
		t.Errorf("over the size limit: %v", err)
	}
	empty := t.TempDir()
	if _, err := AnalyzeFrames(context.Background(), empty, Options{}); !errors.Is(err, ErrNotFrames) || !strings.HasPrefix(err.Error(), empty+": ") {
		t.Errorf("empty folder: %v", err)
	}
}

// Memory does not grow with the footage's length: the live heap, sampled
// whenever nobody is in view, stays within a few MiB across 30 s of
// footage with three walkers passing one after another.
func TestMemoryBounded(t *testing.T) {
	var ws []synth.WalkerSpec
	for k := 0; k < 3; k++ {
		ws = append(ws, walker(10+k, 30+10*k, k%2 == 0, synth.Direction(k%2), 4.5, 300*k))
	}
	files, truth := footage(t, "long.mp4", synth.FootageOptions{Seed: 6, Frames: 900, Walkers: ws})
	busy := func(i int) bool {
		for _, w := range truth.Walkers {
			if i >= w.First-30 && i <= w.Last+30 {
				return true
			}
		}
		return false
	}
	var samples []float64
	var ms runtime.MemStats
	opts := Options{Progress: func(i int) {
		if i%50 == 0 && !busy(i) {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			samples = append(samples, float64(ms.HeapAlloc)/(1<<20))
		}
	}}
	res, err := Analyze(context.Background(), files.Video, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tracks) != 3 || len(samples) < 4 {
		t.Fatalf("%d tracks %+v, notes %v, %d samples; truth %+v", len(res.Tracks), res.Tracks, res.Notes, len(samples), truth)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range samples[1:] {
		lo, hi = math.Min(lo, s), math.Max(hi, s)
	}
	t.Logf("live heap between walkers: %.1f–%.1f MiB over %d samples", lo, hi, len(samples)-1)
	if hi-lo > 2 {
		t.Errorf("the live heap grew by %.1f MiB over the footage", hi-lo)
	}
}

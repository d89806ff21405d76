package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// programs finds the installed FFmpeg (scripts/install_test_deps.sh installs it).
func programs(t testing.TB) Programs {
	t.Helper()
	p, err := Find("")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// colourFrame is a w×h RGB frame of one colour with a white 8×8 marker
// whose top-left corner is at (mx, my).
func colourFrame(w, h int, c [3]byte, mx, my int) []byte {
	f := make([]byte, w*h*3)
	for i := 0; i < w*h; i++ {
		copy(f[3*i:], c[:])
	}
	for y := my; y < my+8; y++ {
		for x := mx; x < mx+8; x++ {
			copy(f[3*(y*w+x):], []byte{255, 255, 255})
		}
	}
	return f
}

// palette gives frame i a colour far from its neighbours'.
func palette(i int) [3]byte {
	return [3]byte{byte(40 + 50*(i%4)), byte(40 + 60*((i/4)%3)), byte(200 - 30*(i%5))}
}

// encodeTest writes n frames of w×h at fps with Encode; frame i is
// palette(i) with the marker near the top-left corner.
func encodeTest(t testing.TB, p Programs, path string, w, h, fps, n int) {
	t.Helper()
	err := p.Encode(context.Background(), path, EncodeOptions{Width: w, Height: h, FPS: fps}, func(write func([]byte) error) error {
		for i := 0; i < n; i++ {
			if err := write(colourFrame(w, h, palette(i), 4, 4)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ffmpegRun runs ffmpeg with args (test set-up only).
func ffmpegRun(t testing.TB, p Programs, args ...string) {
	t.Helper()
	out, err := exec.Command(p.FFmpeg, append([]string{"-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// decodeAll decodes path and returns the frames' mean colours and the report.
func decodeAll(t testing.TB, p Programs, path string, opts DecodeOptions) (Info, [][3]float64, Report, error) {
	t.Helper()
	d, err := p.Open(context.Background(), path, opts)
	if err != nil {
		return Info{}, nil, Report{}, err
	}
	defer d.Close()
	in := d.Info()
	var means [][3]float64
	for {
		f, err := d.Next()
		if err == io.EOF {
			return in, means, d.Report(), nil
		}
		if err != nil {
			return in, means, d.Report(), err
		}
		if len(f) != in.Width*in.Height*3 {
			t.Fatalf("frame of %d bytes for %dx%d", len(f), in.Width, in.Height)
		}
		var m [3]float64
		// mean over the bottom half, away from the marker
		for i := len(f) / 2; i < len(f); i += 3 {
			for c := 0; c < 3; c++ {
				m[c] += float64(f[i+c])
			}
		}
		for c := range m {
			m[c] /= float64(len(f) / 6)
		}
		means = append(means, m)
	}
}

func TestRoundTrip(t *testing.T) {
	p := programs(t)
	for _, ext := range Extensions() {
		t.Run(ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "walk"+ext)
			encodeTest(t, p, path, 64, 48, 25, 20)
			in, means, rep, err := decodeAll(t, p, path, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if in.Width != 64 || in.Height != 48 || in.FPS != 25 || in.VFR || in.Rotation != 0 {
				t.Fatalf("info %+v", in)
			}
			if len(means) != 20 || rep.Frames != 20 || rep.Truncated || rep.Message != "" {
				t.Fatalf("%d frames, report %+v", len(means), rep)
			}
			for i, m := range means {
				want := palette(i)
				for c := range m {
					if d := m[c] - float64(want[c]); d > 6 || d < -6 {
						t.Fatalf("frame %d: mean colour %v, want %v", i, m, want)
					}
				}
			}
		})
	}
}

func TestRotationHonoured(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	src, rot := filepath.Join(dir, "src.mp4"), filepath.Join(dir, "rot.mp4")
	encodeTest(t, p, src, 64, 48, 25, 5)
	ffmpegRun(t, p, "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate=90", rot)
	d, err := p.Open(context.Background(), rot, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := d.Info()
	if in.Width != 48 || in.Height != 64 || in.CodedWidth != 64 || in.Rotation != 90 {
		t.Fatalf("info %+v, want 48x64 displayed, rotation 90", in)
	}
	f, err := d.Next()
	if err != nil {
		t.Fatal(err)
	}
	// The display matrix turns the picture 90° counter-clockwise: the white
	// marker near the coded top-left corner ends near the bottom-left one.
	at := func(x, y int) int { return int(f[3*(y*in.Width+x)]) }
	if at(7, in.Height-8) < 200 || at(7, 7) > 200 || at(in.Width-8, 7) > 200 {
		t.Fatalf("marker: bottom-left red %d, top-left red %d, top-right red %d", at(7, in.Height-8), at(7, 7), at(in.Width-8, 7))
	}
}

func TestVariableFrameRate(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.mkv")
	encodeTest(t, p, src, 64, 48, 30, 90)
	for _, ext := range []string{".mp4", ".mkv"} {
		// Keep all of the first 30 frames (1 s), then one frame in three
		// (2 s): 50 frames over 3 s with their original timestamps.
		vfr := filepath.Join(dir, "vfr"+ext)
		ffmpegRun(t, p, "-i", src, "-vf", `select=lt(n\,30)+not(mod(n\,3))`, "-fps_mode", "vfr", "-c:v", "libx264", vfr)
		in, means, rep, err := decodeAll(t, p, vfr, DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// MP4 stores the frame count, so ffprobe sees the variable rate.
		if in.FPS != 30 || in.VFR != (ext == ".mp4") {
			t.Fatalf("%s: info %+v, want 30 fps, VFR %v", ext, in, ext == ".mp4")
		}
		// Resampled to 30 fps by timestamp: frame k shows a kept source
		// frame on screen within one frame of k/30 s (FFmpeg rounds).
		if n := len(means); n < 88 || n > 90 || rep.Truncated {
			t.Fatalf("%s: %d frames, report %+v", ext, n, rep)
		}
		for k, m := range means {
			found := false
			for shown := max(0, k-2); shown <= k+2 && !found; shown++ {
				if shown >= 30 && shown%3 != 0 {
					continue
				}
				want := palette(shown)
				found = true
				for c := range m {
					if d := m[c] - float64(want[c]); d > 6 || d < -6 {
						found = false
					}
				}
			}
			if !found {
				t.Fatalf("%s frame %d: mean colour %v is no kept source frame near %d", ext, k, m, k)
			}
		}
	}
}

func TestTruncatedKeepsWhatDecodes(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	full, cut := filepath.Join(dir, "full.mkv"), filepath.Join(dir, "cut.mkv")
	encodeTest(t, p, full, 64, 48, 25, 100)
	data, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	in, means, rep, err := decodeAll(t, p, cut, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(means) == 0 || len(means) >= 100 || !rep.Truncated || in.Frames != 100 {
		t.Fatalf("%d frames, info %+v, report %+v", len(means), in, rep)
	}
	note := rep.TruncationNote()
	if !strings.Contains(note, fmt.Sprintf("decoded %d of 100 frames", len(means))) || strings.Contains(note, "\n") {
		t.Fatalf("note %q", note)
	}
	if (Report{Frames: 5}).TruncationNote() != "" {
		t.Fatal("complete stream has a truncation note")
	}
}

func TestBadInputs(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.mkv")
	encodeTest(t, p, good, 64, 48, 25, 10)
	data, _ := os.ReadFile(good)
	png := filepath.Join(dir, "still.png")
	ffmpegRun(t, p, "-i", good, "-frames:v", "1", png)
	pngData, _ := os.ReadFile(png)
	files := map[string][]byte{
		"text.mp4":   []byte("this is not a video at all\n"),
		"png.mp4":    pngData,
		"empty.mp4":  nil,
		"header.mkv": data[:600], // the stream header, cut before the first frame
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	wav := filepath.Join(dir, "sound.wav")
	ffmpegRun(t, p, "-f", "lavfi", "-i", "sine=duration=0.2", wav)
	cases := []struct {
		name string
		opts DecodeOptions
		want error
		text string
	}{
		{"text.mp4", DecodeOptions{}, ErrNotVideo, "Invalid data found when processing input"},
		{"png.mp4", DecodeOptions{}, ErrNotVideo, "a still image (png)"},
		{"empty.mp4", DecodeOptions{}, ErrNotVideo, "empty file"},
		{"header.mkv", DecodeOptions{}, ErrNoFrames, "no frames decoded"},
		{"sound.wav", DecodeOptions{}, ErrNotVideo, "no video stream"},
		{"good.mkv", DecodeOptions{MaxPixels: 64*48 - 1}, ErrTooLarge, "64x48 is 0.0 megapixels, over the limit"},
		{"missing.mp4", DecodeOptions{}, os.ErrNotExist, "no such file"},
		{".", DecodeOptions{}, ErrNotVideo, "not a regular file"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		_, _, _, err := decodeAll(t, p, path, c.opts)
		if err == nil || !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, c.text) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q, want one line starting with the path and holding %q", c.name, msg, c.text)
		}
	}
}

func TestMissingProgramNamesInstallStep(t *testing.T) {
	for _, name := range []string{"/nonexistent/ffmpeg", "gaitord-no-such-ffmpeg"} {
		_, err := Find(name)
		if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "scripts/install_libtorch.sh") {
			t.Errorf("Find(%q): %v", name, err)
		}
	}
	// ffprobe is looked up next to the given ffmpeg first, then on PATH.
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755)
	p, err := Find(fake)
	if err != nil || p.FFmpeg != fake || p.FFprobe == "" {
		t.Fatalf("Find(%s) = %+v, %v", fake, p, err)
	}
	os.WriteFile(filepath.Join(dir, "ffprobe"), []byte("#!/bin/sh\n"), 0o755)
	if p, _ = Find(fake); p.FFprobe != filepath.Join(dir, "ffprobe") {
		t.Fatalf("ffprobe %s, want the one beside ffmpeg", p.FFprobe)
	}
}

func TestSummarize(t *testing.T) {
	stderr := "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x561d7af10640] moov atom not found\n" +
		"[h264 @ 0x55d0c0a2b4c0] error while decoding MB 3 4\n" +
		"[h264 @ 0x55d0c0a2b4c1] error while decoding MB 3 4\n" +
		"file:x.mp4: Invalid data found when processing input\n" +
		"[h264 @ 0x55d0c0a2b4c0] concealing 10 errors\n"
	got := Summarize([]byte(stderr), "file:x.mp4")
	want := "Invalid data found when processing input (mov,mp4,m4a,3gp,3g2,mj2: moov atom not found); 2 more messages"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := Summarize([]byte("  \n"), "x"); got != "" {
		t.Fatalf("blank stderr gave %q", got)
	}
	if got := Summarize([]byte("[h264 @ 0x1] a\n[h264 @ 0x2] b\n"), "x"); got != "h264: a (h264: b)" {
		t.Fatalf("got %q", got)
	}
}

func TestEncodeErrors(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	ok := EncodeOptions{Width: 16, Height: 16, FPS: 10}
	one := func(write func([]byte) error) error { return write(make([]byte, 16*16*3)) }
	if err := p.Encode(context.Background(), filepath.Join(dir, "x.gif"), ok, one); err == nil {
		t.Error("unsupported extension accepted")
	}
	if err := p.Encode(context.Background(), filepath.Join(dir, "x.mp4"), EncodeOptions{Width: 15, Height: 16, FPS: 10}, one); err == nil {
		t.Error("odd width accepted")
	}
	short := func(write func([]byte) error) error { return write(make([]byte, 10)) }
	err := p.Encode(context.Background(), filepath.Join(dir, "x.mp4"), ok, short)
	if err == nil || !strings.Contains(err.Error(), "frame of 10 bytes") {
		t.Errorf("short frame: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed encodes left %d files", len(entries))
	}
	bad := Programs{FFmpeg: "/nonexistent/ffmpeg"}
	if err := bad.Encode(context.Background(), filepath.Join(dir, "x.mp4"), ok, one); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("missing ffmpeg: %v", err)
	}
}

func TestNonSquarePixelsStretched(t *testing.T) {
	p := programs(t)
	dir := t.TempDir()
	src, sar := filepath.Join(dir, "src.mkv"), filepath.Join(dir, "sar.mp4")
	encodeTest(t, p, src, 64, 48, 25, 3)
	ffmpegRun(t, p, "-i", src, "-vf", "setsar=2/1", "-c:v", "libx264", sar)
	in, means, _, err := decodeAll(t, p, sar, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if in.Width != 128 || in.Height != 48 || in.CodedWidth != 64 || len(means) != 3 {
		t.Fatalf("info %+v, %d frames; want 128x48 displayed", in, len(means))
	}
}

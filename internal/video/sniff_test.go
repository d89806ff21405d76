package video

import (
	"os"
	"path/filepath"
	"testing"
)

func TestIsFootage(t *testing.T) {
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR")
	pickle := []byte{0x80, 0x04, 0x95, 0, 0}
	for _, c := range []struct {
		name string
		data []byte
		want bool
	}{
		{"walk.mp4", []byte("anything"), true},
		{"png-renamed.MP4", png, true}, // the name says video: FFmpeg will refuse it
		{"walk.dat", []byte("\x00\x00\x00\x20ftypisom"), true},
		{"notes.txt", []byte("hello\n"), true}, // FFmpeg decides (not a video)
		{"gei.png", png, false},
		{"text.png", []byte("not a png"), false}, // the GEI reader reports it
		{"gei-no-ext", png, false},
		{"seq.pkl", []byte("junk"), false},
		{"seq-no-ext", pickle, false},
		{"proto1", []byte{0x80, 0x01}, true},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := IsFootage(p); got != c.want {
			t.Errorf("IsFootage(%s) = %v, want %v", c.name, got, c.want)
		}
	}
	if IsFootage(filepath.Join(dir, "missing")) {
		t.Errorf("a missing file is footage")
	}
}

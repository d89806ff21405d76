package cli

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/ffmpeg"
)

func TestVideoFlags(t *testing.T) {
	p := execute(t, newPredictCmd, "--checkpoint", "c", "--video", "--save-gei", "g", "--annotate", "a.mp4", "--max-pixels", "100", "x.mp4")
	if !p.Video || p.SaveGEI != "g" || p.Annotate != "a.mp4" || p.MaxPixels != 100 || !reflect.DeepEqual(p.Paths, []string{"x.mp4"}) {
		t.Errorf("predict options %+v", p)
	}
	if p := execute(t, newPredictCmd, "--checkpoint", "c", "x"); p.MaxPixels != ffmpeg.DefaultMaxPixels || p.Video {
		t.Errorf("predict defaults %+v", p)
	}
	g := execute(t, newGEICmd, "--video", "w.mp4", "--out", "o", "--masks", "m", "--fps", "12.5")
	if g.Video != "w.mp4" || g.Out != "o" || g.Masks != "m" || g.FPS != 12.5 || g.MaxPixels != ffmpeg.DefaultMaxPixels {
		t.Errorf("gei options %+v", g)
	}
	s := execute(t, newSynthCmd, "--video", "--out", "o", "--walkers", "3", "--seconds", "4", "--video-size", "320x240", "--fps", "25")
	if !s.Video || s.Walkers != 3 || s.Seconds != 4 || s.VideoSize != "320x240" || s.FPS != 25 {
		t.Errorf("synth options %+v", s)
	}
}

func TestSplitFootageAndNames(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vid := write("walk.mp4", "x")
	gei := write("a.png", "\x89PNG\r\n\x1a\n")
	frames := filepath.Join(dir, "frames")
	os.Mkdir(frames, 0o755)
	missing := filepath.Join(dir, "none.mp4")
	footage, rest := splitFootage([]string{vid, gei, frames, missing}, false)
	if !reflect.DeepEqual(footage, []footageInput{{path: vid}}) || !reflect.DeepEqual(rest, []string{gei, frames, missing}) {
		t.Errorf("without --video: footage %v, rest %v", footage, rest)
	}
	footage, rest = splitFootage([]string{vid, gei, frames}, true)
	if !reflect.DeepEqual(footage, []footageInput{{path: vid}, {path: frames, frames: true}}) || !reflect.DeepEqual(rest, []string{gei}) {
		t.Errorf("with --video: footage %v, rest %v", footage, rest)
	}
	if got := geiName("g", footageInput{path: "/v/walk.2.mp4"}, 3); got != filepath.Join("g", "walk.2_track3.png") {
		t.Errorf("geiName %s", got)
	}
	if got := geiName("g", footageInput{path: "/v/cam1/", frames: true}, 1); got != filepath.Join("g", "cam1_track1.png") {
		t.Errorf("geiName of frames %s", got)
	}
}

func TestAnnotateTargets(t *testing.T) {
	dir := t.TempDir()
	one := []footageInput{{path: "/a/walk.mp4"}}
	two := []footageInput{{path: "/a/walk.mp4"}, {path: "/b/run.avi"}}
	if got, err := annotateTargets(filepath.Join(dir, "o.mp4"), one); err != nil || got[0] != filepath.Join(dir, "o.mp4") {
		t.Errorf("one input: %v %v", got, err)
	}
	if got, err := annotateTargets(dir, one); err != nil || got[0] != filepath.Join(dir, "walk_annotated.mp4") {
		t.Errorf("one input, a folder: %v %v", got, err)
	}
	out := filepath.Join(dir, "ann")
	got, err := annotateTargets(out, two)
	if err != nil || !reflect.DeepEqual(got, []string{filepath.Join(out, "walk_annotated.mp4"), filepath.Join(out, "run_annotated.mp4")}) {
		t.Errorf("two inputs: %v %v", got, err)
	}
	if fi, err := os.Stat(out); err != nil || !fi.IsDir() {
		t.Errorf("folder for two inputs not made: %v", err)
	}
	for _, c := range []struct {
		out     string
		footage []footageInput
		want    string
	}{
		{filepath.Join(dir, "x.mp4"), two, "2 videos need a folder"},
		{"x.mp4", nil, "no video among the inputs"},
		{"x.mp4", []footageInput{{path: "f", frames: true}}, "folder of frames"},
		{dir, []footageInput{{path: "/a/walk.mp4"}, {path: "/b/walk.mkv"}}, "would both be written"},
	} {
		_, err := annotateTargets(c.out, c.footage)
		var ue *UsageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("annotateTargets(%s, %v): %v, want a usage error with %q", c.out, c.footage, err, c.want)
		}
	}
	if got, err := annotateTargets("", two); err != nil || len(got) != 2 || got[0] != "" {
		t.Errorf("no --annotate: %v %v", got, err)
	}
}

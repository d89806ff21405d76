package badinput

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// footage fixtures: rendered once by the real binary (synth --video) at
// 320×240 and shared by the video cases.
var vfx struct {
	once                           sync.Once
	err                            error
	good, empty, short, moving     string
	png, text, truncated, noFrames string
}

func videoFixtures(t *testing.T) {
	t.Helper()
	setup(t)
	vfx.once.Do(func() {
		dir := filepath.Join(fx.dir, "video")
		synth := func(name string, args ...string) string {
			if vfx.err != nil {
				return ""
			}
			out := filepath.Join(dir, name)
			cmd := exec.Command(bin, append([]string{"synth", "--video", "--video-size", "320x240", "--out", out}, args...)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				vfx.err = &os.PathError{Op: "synth --video " + strings.Join(args, " "), Path: out, Err: errorString(string(b))}
			}
			return filepath.Join(out, "walk.mp4")
		}
		vfx.good = synth("good", "--walkers", "1", "--seed", "2")
		vfx.empty = synth("empty", "--walkers", "0", "--seconds", "3")
		vfx.short = synth("short", "--walkers", "1", "--seconds", "1.2")
		vfx.moving = synth("moving", "--walkers", "1", "--seconds", "3", "--pan", "3")
		if vfx.err != nil {
			return
		}
		b, err := os.ReadFile(vfx.good)
		if err != nil {
			vfx.err = err
			return
		}
		write := func(name string, data []byte) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				vfx.err = err
			}
			return p
		}
		gei, _ := os.ReadFile(fx.gei)
		vfx.png = write("gei.mp4", gei)
		vfx.text = write("notes.mp4", []byte("this is not a video\n"))
		vfx.truncated = write("truncated.mp4", b[:len(b)/3])
		// the header (ftyp, moov: faststart puts it first) and no frame data
		vfx.noFrames = write("noframes.mp4", b[:moovEnd(b)+16])
	})
	if vfx.err != nil {
		t.Fatal(vfx.err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// moovEnd is the end offset of the top-level moov box of an MP4.
func moovEnd(b []byte) int {
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if string(b[off+4:off+8]) == "moov" {
			return off + size
		}
		if size < 8 {
			break
		}
		off += size
	}
	return len(b) / 10
}

// TestVideos: every bad video through gei --video (no model) and predict,
// one error line naming the file (predict adds its count), a non-zero
// exit, no output folder or file left.
func TestVideos(t *testing.T) {
	t.Parallel()
	videoFixtures(t)
	f := &fx
	out := t.TempDir()
	geiCase := func(name, video string, want []string, extra ...string) tc {
		o := filepath.Join(out, name)
		return tc{name: "gei/" + name, args: append([]string{"gei", "--video", video, "--out", o, "--masks", o + "-masks"}, extra...),
			code: 1, err: append([]string{"gaitord: " + video + ": "}, want...), noFile: []string{o, o + "-masks"}}
	}
	predictCase := func(name, video string, want []string, extra ...string) tc {
		o := filepath.Join(out, "p-"+name)
		return tc{name: "predict/" + name, args: append([]string{"predict", "--checkpoint", f.weights, "--save-gei", o, "--annotate", o + ".mp4", video}, extra...),
			code: 1, errLines: 2, err: append([]string{"gaitord: " + video + ": "}, want...), noFile: []string{o, o + ".mp4"},
			check: func(t *testing.T, r result) {
				if !strings.Contains(r.stderr, "gaitord: 1 of 1 inputs failed") {
					t.Errorf("no summary line:\n%s", r.stderr)
				}
			}}
	}
	short := regexp.MustCompile(`^` + regexp.QuoteMeta(vfx.short) + `: a walker at frames \d+–\d+ was visible for less than one gait cycle \(~\d+ frames\)$`)
	bad := []struct {
		name, video string
		want        []string
		extra       []string
	}{
		{"text", vfx.text, []string{"not a video", "Invalid data found when processing input"}, nil},
		{"png-renamed-mp4", vfx.png, []string{"not a video: a still image (png)"}, nil},
		{"zero-frames", vfx.noFrames, []string{"no frames"}, nil},
		{"nobody", vfx.empty, []string{"no walking person found"}, nil},
		{"only-short-walkers", vfx.short, []string{"no walker was visible for a whole gait cycle", "1 walker seen"}, nil},
		{"moving-camera", vfx.moving, []string{"no stable background (moving camera?)"}, nil},
		{"too-large", vfx.good, []string{"frames too large", "320x240"}, []string{"--max-pixels", "10000"}},
	}
	var cases []tc
	for _, b := range bad {
		g, p := geiCase(b.name, b.video, b.want, b.extra...), predictCase(b.name, b.video, b.want, b.extra...)
		if b.video == vfx.short {
			g.noteLine, p.noteLine = short, short
			check := p.check
			p.check = func(t *testing.T, r result) {
				check(t, r)
				n := 0
				for _, ln := range strings.Split(r.stderr, "\n") {
					if short.MatchString(ln) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("want one note line for the short walker:\n%s", r.stderr)
				}
			}
		}
		cases = append(cases, g, p)
	}
	// FFmpeg missing: PATH without it; the message names the install step
	noFF := geiCase("ffmpeg-missing", vfx.good, []string{"FFmpeg not installed", "scripts/install_libtorch.sh"})
	noFF.env = []string{"PATH=" + t.TempDir()}
	cases = append(cases, noFF)
	runCases(t, cases)
}

// TestTruncatedVideo: a video cut to a third is used as far as it decodes;
// either a walker is still found (exit 0, a warning naming the file and
// the truncation) or the one error line names the file.
func TestTruncatedVideo(t *testing.T) {
	t.Parallel()
	videoFixtures(t)
	o := filepath.Join(t.TempDir(), "geis")
	r := run(t, "gei", "--video", vfx.truncated, "--out", o)
	switch {
	case r.code == 0:
		if !strings.Contains(r.stderr, "warning: "+vfx.truncated+": truncated or corrupt: decoded ") {
			t.Errorf("exit 0 without a truncation warning:\n%s", r.stderr)
		}
	case r.code == 1:
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "gaitord: "+vfx.truncated+": ") {
			t.Errorf("error line %q", last)
		}
		if _, err := os.Stat(o); err == nil {
			t.Errorf("%s left behind", o)
		}
	default:
		t.Fatalf("exit %d:\n%s", r.code, r.stderr)
	}
	t.Logf("exit %d: %s", r.code, strings.TrimSpace(r.stderr))
}

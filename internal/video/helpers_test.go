package video

import (
	"context"
	"image"
	"image/png"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
)

// footage writes synthetic footage with masks into a new temporary folder.
func footage(t testing.TB, name string, o synth.FootageOptions) (synth.FootageFiles, synth.FootageTruth) {
	t.Helper()
	p, err := ffmpeg.Find("")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := synth.FootageFiles{Video: filepath.Join(dir, name), Masks: filepath.Join(dir, "masks"), Truth: filepath.Join(dir, "truth.json")}
	truth, err := synth.WriteFootage(context.Background(), p, files, o)
	if err != nil {
		t.Fatal(err)
	}
	return files, truth
}

// readMask reads a ground-truth mask; nil if the walker is not in that frame.
func readMask(t testing.TB, masks string, walker, frame int) *image.Gray {
	t.Helper()
	f, err := os.Open(synth.MaskPath(masks, walker, frame))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img.(*image.Gray)
}

// walker returns a subject for footage: id, age, gender.
func walker(id, age int, male bool, dir synth.Direction, depth float64, start int) synth.WalkerSpec {
	return synth.WalkerSpec{Subject: synth.NewSubject(id, age, male, uint64(id)*7919), Direction: dir, Depth: depth, Start: start}
}

// iou is the intersection over union of a silhouette and a mask, in frame
// coordinates.
func iou(s *silhouette, m *image.Gray) float64 {
	inter, union := 0, 0
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if m.Pix[(y-b.Min.Y)*m.Stride+x-b.Min.X] != 0 {
				union++
				if x >= s.x0 && x < s.x0+s.w && y >= s.y0 && y < s.y0+s.h && s.at(x-s.x0, y-s.y0) {
					inter++
				}
			}
		}
	}
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			if s.at(x, y) && m.GrayAt(x+s.x0, y+s.y0).Y == 0 {
				union++
			}
		}
	}
	if union == 0 {
		return 0
	}
	return float64(inter) / float64(union)
}

// evaluation compares an analysis with the footage's ground truth.
type evaluation struct {
	res      Result
	walkerOf map[int]int     // track ID -> walker
	ious     []float64       // per clear, good frame of a predicted track
	geiDiff  map[int]float64 // track ID -> mean |GEI - GT GEI|
}

// evaluate analyses files.Video and compares it with the truth: each
// Track is matched to the walker whose masks its clear silhouettes
// overlap most; the IoU of every good frame's silhouette against that
// walker's mask; the GEI against the GEI of the ground-truth masks of the
// same frames, built by gei.LoadSilhouetteDir as `gaitord gei --frames`
// does.
func evaluate(t testing.TB, files synth.FootageFiles, opts Options) (evaluation, error) {
	t.Helper()
	var raw []*track
	opts.onTrack = func(tr *track) { raw = append(raw, tr) }
	res, err := Analyze(context.Background(), files.Video, opts)
	ev := evaluation{res: res, walkerOf: map[int]int{}, geiDiff: map[int]float64{}}
	if err != nil {
		return ev, err
	}
	truth, err := synth.ReadFootageTruth(files.Truth)
	if err != nil {
		t.Fatal(err)
	}
	rules := walkerRules{fps: res.FPS}
	for _, tr := range raw {
		var track *Track
		for k := range res.Tracks {
			if len(tr.frames) > 0 && res.Tracks[k].Boxes[0].Frame == tr.frames[0].frame && res.Tracks[k].Boxes[0].X0 == int(tr.frames[0].box.x0+0.5) {
				track = &res.Tracks[k]
			}
		}
		if track == nil {
			continue
		}
		good := rules.goodFrames(tr)
		// the walker overlapping most
		best, bestIoU := 0, 0.0
		for _, w := range truth.Walkers {
			var sum float64
			for k, f := range tr.frames {
				if good[k] {
					if m := readMask(t, files.Masks, w.Walker, f.frame); m != nil {
						sum += iou(&tr.sils[f.sil], m)
					}
				}
			}
			if sum > bestIoU {
				best, bestIoU = w.Walker, sum
			}
		}
		ev.walkerOf[track.ID] = best
		// IoU over the good frames where the walker is alone in the truth
		for k, f := range tr.frames {
			if !good[k] {
				continue
			}
			m := readMask(t, files.Masks, best, f.frame)
			if m == nil {
				ev.ious = append(ev.ious, 0)
				continue
			}
			ev.ious = append(ev.ious, iou(&tr.sils[f.sil], m))
		}
		// the same frames' ground-truth masks, as a silhouette folder
		dir := t.TempDir()
		for k, f := range tr.frames {
			inWindow := false
			for _, w := range track.Windows {
				inWindow = inWindow || (f.frame >= w[0] && f.frame <= w[1])
			}
			if good[k] && inWindow {
				src := synth.MaskPath(files.Masks, best, f.frame)
				if err := os.Link(src, filepath.Join(dir, filepath.Base(src))); err != nil {
					t.Fatal(err)
				}
			}
		}
		want, used, _, err := gei.LoadSilhouetteDir(dir, opts.Size)
		if err != nil {
			t.Fatalf("track %d (windows %v, %d frames from %d): %v", track.ID, track.Windows, len(tr.frames), tr.frames[0].frame, err)
		}
		if used != track.Used {
			t.Fatalf("track %d: %d frames averaged, %d ground-truth masks", track.ID, track.Used, used)
		}
		var d float64
		for k := range want {
			d += math.Abs(float64(want[k] - track.GEI[k]))
		}
		ev.geiDiff[track.ID] = d / float64(len(want))
	}
	return ev, nil
}

// mean of v; 0 for none.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// execCommand runs a program and returns its combined output.
func execCommand(name string, args ...string) ([]byte, error) {
	return osexec.Command(name, args...).CombinedOutput()
}

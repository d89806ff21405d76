package video

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"

	"github.com/gaitord/gaitord/internal/ffmpeg"
)

// MaxTrackSilhouetteBytes bounds the silhouettes one track keeps (bit
// packed, about 2.5 KB per frame for a 200-pixel walker): 16 MiB, minutes
// of walking. Frames past it are tracked but not averaged.
const MaxTrackSilhouetteBytes = 16 << 20

// Analyze finds the walkers in a video file and returns their GEIs (see
// the package comment). The file is decoded by FFmpeg (package ffmpeg);
// its errors (not a video, too large, no frames, FFmpeg missing) name the
// file. A truncated file is analysed as far as it decodes and
// Result.Truncation says so. Footage with no walker is ErrNoWalker; with
// walkers but none visible for a whole gait cycle it is ErrShortWalkers,
// returned together with the Result, whose Notes list them; a moving
// camera is ErrMovingCamera. Every error is one line naming the file.
func Analyze(ctx context.Context, path string, opts Options) (Result, error) {
	progs, err := ffmpeg.Find(opts.FFmpeg)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", path, err)
	}
	dec, err := progs.Open(ctx, path, ffmpeg.DecodeOptions{MaxPixels: opts.MaxPixels})
	if err != nil {
		return Result{}, err
	}
	defer dec.Close()
	in := dec.Info()
	if opts.MaxFrames > 0 && in.Frames > opts.MaxFrames {
		return Result{}, fmt.Errorf("%s: %w: %d frames (%.1f s at %.4g fps), over the limit of %d", path, ErrTooLong,
			in.Frames, float64(in.Frames)/in.FPS, in.FPS, opts.MaxFrames)
	}
	res := Result{Source: path, Width: in.Width, Height: in.Height, FPS: in.FPS}
	err = analyze(ctx, &res, dec.Next, opts)
	res.Truncation = dec.Report().TruncationNote()
	return res, err
}

// analyze runs the pipeline over the frames next returns until io.EOF.
func analyze(ctx context.Context, res *Result, next func() ([]byte, error), opts Options) error {
	size := opts.Size
	if err := size.Validate(); err != nil {
		return fmt.Errorf("%s: %w", res.Source, err)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	w, h, fps := res.Width, res.Height, res.FPS
	seg := newSegmenter(w, h, fps, workers)
	rules := walkerRules{fps: fps, width: w, minHits: max(5, int(math.Round(fps/5))), minHeight: math.Max(16, float64(h)/16),
		minNoted: max(8, int(math.Round(0.4*fps))), size: size, keep: opts.KeepSilhouettes}
	var outs []outcome
	tr := newTracker(w, h, fps, MaxTrackSilhouetteBytes, func(t *track) {
		if opts.onTrack != nil {
			opts.onTrack(t)
		}
		if o := rules.finalize(t); o.track != nil || o.note != nil {
			outs = append(outs, o)
		}
	})
	cam := newCameraCheck(w, h, fps)
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", res.Source, err)
		}
		rgb, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if opts.MaxFrames > 0 && res.Frames == opts.MaxFrames {
			return fmt.Errorf("%s: %w: more than %d frames", res.Source, ErrTooLong, opts.MaxFrames)
		}
		res.Frames++
		if cam.moving(rgb) {
			return fmt.Errorf("%s: %w: %s", res.Source, ErrMovingCamera, cam)
		}
		dets := seg.frame(rgb)
		seg.holdFor(dets, tr.step(i, dets, seg.lab.labels, rgb))
		if opts.Progress != nil {
			opts.Progress(i)
		}
	}
	if cam.movedOverall() {
		return fmt.Errorf("%s: %w: %s", res.Source, ErrMovingCamera, cam)
	}
	tr.finish()
	for _, o := range outs {
		if o.track != nil {
			res.Tracks = append(res.Tracks, *o.track)
		} else {
			res.Notes = append(res.Notes, *o.note)
		}
	}
	sort.SliceStable(res.Tracks, func(i, j int) bool { return res.Tracks[i].First < res.Tracks[j].First })
	sort.SliceStable(res.Notes, func(i, j int) bool { return res.Notes[i].First < res.Notes[j].First })
	for i := range res.Tracks {
		res.Tracks[i].ID = i + 1
	}
	switch {
	case len(res.Tracks) > 0:
		return nil
	case len(res.Notes) > 0:
		longest := 0
		for _, n := range res.Notes {
			longest = max(longest, n.Last-n.First+1)
		}
		return fmt.Errorf("%s: %w (%d %s seen, the longest for %d frames)", res.Source, ErrShortWalkers,
			len(res.Notes), plural(len(res.Notes), "walker", "walkers"), longest)
	}
	return fmt.Errorf("%s: %w in %d frames", res.Source, ErrNoWalker, res.Frames)
}

// plural picks the singular or plural word for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

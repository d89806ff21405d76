package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/video"
)

// footageInput is one video file, or one folder of colour frames (--video).
type footageInput struct {
	path   string
	frames bool // a folder of colour frames
}

// splitFootage separates the footage among paths (video files recognised
// by video.IsFootage; folders too with asFrames, the --video flag) from the
// other inputs, which keep their meaning.
func splitFootage(paths []string, asFrames bool) (footage []footageInput, rest []string) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		switch {
		case err == nil && fi.IsDir() && asFrames:
			footage = append(footage, footageInput{path: p, frames: true})
		case err == nil && fi.Mode().IsRegular() && video.IsFootage(p):
			footage = append(footage, footageInput{path: p})
		default:
			rest = append(rest, p)
		}
	}
	return footage, rest
}

// footageName is the base of a footage's output names: the file name
// without its extension, or the folder's name.
func footageName(in footageInput) string {
	base := filepath.Base(filepath.Clean(in.path))
	if in.frames {
		return base
	}
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// geiName is where --save-gei DIR puts track n of in.
func geiName(dir string, in footageInput, n int) string {
	return filepath.Join(dir, fmt.Sprintf("%s_track%d.png", footageName(in), n))
}

// annotateTargets checks --annotate against the footage and says where
// each annotated video goes: with one footage input, OUT itself (or
// OUT/<name>_annotated.mp4 when OUT is a folder); with several, OUT is a
// folder (made if missing) holding <name>_annotated.mp4 per input.
func annotateTargets(out string, footage []footageInput) ([]string, error) {
	if out == "" {
		return make([]string, len(footage)), nil
	}
	if len(footage) == 0 {
		return nil, usagef("--annotate %s: no video among the inputs", out)
	}
	for _, in := range footage {
		if in.frames {
			return nil, usagef("--annotate: %s is a folder of frames; only video files can be annotated", in.path)
		}
	}
	fi, err := os.Stat(out)
	isDir := err == nil && fi.IsDir()
	if len(footage) > 1 && !isDir {
		if filepath.Ext(out) != "" {
			return nil, usagef("--annotate %s: %d videos need a folder, one annotated video per input", out, len(footage))
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, fmt.Errorf("--annotate %s: %w", out, unwrapPath(err))
		}
		isDir = true
	}
	targets := make([]string, len(footage))
	seen := map[string]string{}
	for i, in := range footage {
		targets[i] = out
		if isDir {
			targets[i] = filepath.Join(out, footageName(in)+"_annotated.mp4")
		}
		if prev, ok := seen[targets[i]]; ok {
			return nil, usagef("--annotate: %s and %s would both be written to %s", prev, in.path, targets[i])
		}
		seen[targets[i]] = in.path
	}
	return targets, nil
}

// analyzeFootage runs the video pipeline on one input.
func analyzeFootage(ctx context.Context, in footageInput, opts video.Options) (video.Result, error) {
	if in.frames {
		return video.AnalyzeFrames(ctx, in.path, opts)
	}
	return video.Analyze(ctx, in.path, opts)
}

// caption is the text --annotate draws above a track's box (ASCII: the
// bitmap font has no "±").
func caption(p api.Prediction) string {
	g := "?"
	switch p.Gender {
	case api.Male:
		g = "M"
	case api.Female:
		g = "F"
	}
	r := func(v float64) float64 { return math.Round(v) + 0 } // + 0: no "-0"
	if p.Interval == nil {                                    // a model without a distribution (loss type l1)
		return fmt.Sprintf("#%d age %.0f %s", p.Track, r(p.Age), g)
	}
	return fmt.Sprintf("#%d age %.0f (%.0f-%.0f) %s", p.Track, r(p.Age), r(p.Interval[0]), r(p.Interval[1]), g)
}

// predictFootage predicts every track of every footage input, one input at
// a time and all its tracks in one batch (split at batchSize), printing a
// record per track; walkers seen less than a gait cycle get a stderr line
// each. An input with no predicted track is reported and counted in
// failed; the others continue.
func predictFootage(s Streams, o *PredictOptions, m infer.Net, size gei.Size, footage []footageInput, annotate []string) (failed int, err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tp := newTrackPrinter(s.Out, o.JSON)
	opts := video.Options{Size: size, MaxPixels: o.MaxPixels}
	for i, in := range footage {
		res, err := analyzeFootage(ctx, in, opts)
		for _, n := range res.Notes {
			fmt.Fprintf(s.Err, "%s: %s\n", in.path, n)
		}
		if res.Truncation != "" && err == nil {
			fmt.Fprintf(s.Err, "warning: %s: %s\n", in.path, res.Truncation)
		}
		if err == nil {
			err = predictTracks(ctx, o, m, size, in, res, annotate[i], tp)
		}
		if ctx.Err() != nil {
			return failed, fmt.Errorf("interrupted: %w", ctx.Err())
		}
		if err != nil {
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
		}
		tp.flush()
	}
	return failed, nil
}

// trackPrinter prints video records, as a table or JSON Lines: predict's
// and predict --server's one footage output.
type trackPrinter struct {
	tw  *tabwriter.Writer // nil for JSON
	enc *json.Encoder
}

// newTrackPrinter starts the footage output: the table's header, unless
// asJSON.
func newTrackPrinter(w io.Writer, asJSON bool) *trackPrinter {
	p := &trackPrinter{enc: json.NewEncoder(w)}
	if !asJSON {
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(p.tw, "PATH\tTRACK\tFRAMES\tAGE\t80% INTERVAL\tGENDER\tP\tVIEW")
	}
	return p
}

// print prints one footage input's records.
func (p *trackPrinter) print(records []api.Prediction) error {
	for _, r := range records {
		if p.tw == nil {
			if err := p.enc.Encode(r); err != nil {
				return err
			}
			continue
		}
		frames := "-"
		if r.Frames != nil {
			frames = fmt.Sprintf("%d-%d", r.Frames[0], r.Frames[1])
		}
		fmt.Fprintf(p.tw, "%s\t%d\t%s\t%.1f\t%s\t%s\t%.2f\t%s\n", r.Path, r.Track, frames,
			r.Age, intervalText(r), r.Gender, r.PGender(), r.ViewHint)
	}
	return nil
}

// flush writes out the table so far.
func (p *trackPrinter) flush() {
	if p.tw != nil {
		p.tw.Flush()
	}
}

// predictTracks runs the model on res's tracks, saves their GEIs and the
// annotated video if asked, and prints their records.
func predictTracks(ctx context.Context, o *PredictOptions, m infer.Net, size gei.Size, in footageInput, res video.Result, annotate string, tp *trackPrinter) error {
	n := size.H * size.W
	var records []api.Prediction
	for start := 0; start < len(res.Tracks); start += o.BatchSize {
		tracks := res.Tracks[start:min(start+o.BatchSize, len(res.Tracks))]
		images := make([]float32, 0, len(tracks)*n)
		for _, t := range tracks {
			images = append(images, t.Input()...)
		}
		out, err := infer.Batch(m, images, len(tracks))
		infer.GC()
		if err != nil {
			return fmt.Errorf("%s: %w", in.path, err)
		}
		if o.SaveGEI != "" {
			if err := os.MkdirAll(o.SaveGEI, 0o755); err != nil {
				return fmt.Errorf("--save-gei %s: %w", o.SaveGEI, unwrapPath(err))
			}
		}
		for j, t := range tracks {
			records = append(records, t.Record(out.Prediction(j), in.path))
			if o.SaveGEI != "" {
				if err := gei.WritePNG(geiName(o.SaveGEI, in, t.ID), images[j*n:(j+1)*n], size); err != nil {
					return err
				}
			}
		}
	}
	if annotate != "" {
		captions := map[int]string{}
		for _, p := range records {
			captions[p.Track] = caption(p)
		}
		if err := video.Annotate(ctx, in.path, annotate, res.Tracks, captions, video.Options{MaxPixels: o.MaxPixels}); err != nil {
			return err
		}
	}
	return tp.print(records)
}

// Package video turns footage of people walking past a static camera into
// one GEI per walker, ready for the model: the path from camera footage to
// gaitord's input, as OU-ISIR and CASIA-B silhouettes were made
// (background subtraction, not a segmentation network).
//
// Entry points: Analyze (a video file, decoded by package ffmpeg) and
// AnalyzeFrames (a folder of colour frames). Pipeline, one small file per
// stage, each tested on its own:
//
//  1. Decoding (package ffmpeg; frames.go): frames stream one at a time at
//     a constant frame rate and their displayed size.
//  2. Camera check (camera.go): the whole picture shifting between frames
//     means a moving camera; such footage is refused (ErrMovingCamera).
//  3. Silhouettes (background.go, segment.go, morph.go, components.go):
//     a per-pixel Gaussian mixture learnt from the footage itself (MOG2),
//     on frames divided by their global gain against the model
//     (illumination drift, exposure), learning 20 times slower under
//     moving walkers (selective update); shadows (darker copies of the
//     background colour) dropped, except above a walker's feet, where a
//     shadow cannot lie (grey trousers over a grey floor); edge pixels
//     given to the side their colour is closer to (compression blurs
//     outlines); a 3×3 majority filter; 8-connected components above a
//     minimum area; holes filled; fragments of one body, one above the
//     other, grouped into one detection.
//  4. Tracking (track.go): a constant-velocity box per walker; detections
//     are matched to predicted boxes by overlap, distance and clothing
//     colour; a detection that covers the predicted boxes of two walkers
//     moving differently is a merge (a crossing or an occlusion): both
//     coast on their motion through it and are matched again, by
//     position and colour, when they part. A walker missing for up to
//     0.7 s is kept. Fragments that start their own track are dropped.
//  5. Gait cycle (period.go): the period is found in the silhouette's own
//     signals, the lower body's width (side views) and the difference
//     between its left and right lowest points (front and back views), by
//     normalised autocorrelation.
//  6. GEI (gait.go): only frames where the walker is alone, clear of the
//     image border and of plausible height are used; they are taken in
//     whole cycles (runs of such frames, short gaps tolerated, cut to a
//     whole number of periods) and averaged by gei.Accumulator: cropped,
//     scaled to the model's height, centred on the horizontal centroid,
//     exactly as gaitord makes GEIs from silhouette files.
//
// A walker tracked for less than one whole clear gait cycle gets no GEI:
// it is reported as a Note. Blobs that never look like a walker (too
// small, too brief, merged most of the time, not moving) are dropped
// silently. Walkers are numbered 1, 2, … in order of first appearance
// among those that get a GEI.
//
// Memory is bounded by a few frames and the background model (about 90
// bytes per pixel: four Gaussians of five float32 values, plus masks and
// labels), plus per open track its bit-packed silhouettes (a few KB per
// frame, at most MaxTrackSilhouetteBytes); a track's GEI is made as soon
// as the walker leaves, and its silhouettes are dropped then. The length
// of the footage does not matter.
//
// Why Go and not OpenCV through gocv (measured by bench/gocv/run.sh on the
// loaded 2-core build machine, details in docs/video.md): gocv v0.25.0,
// the only served version that targets an OpenCV as old as Debian 12's
// 4.6, ran MOG2 + a median + connected components at 150–162 frames/s on
// 640×480 footage, against 64–146 frames/s for this package's silhouette
// steps, which do more (146 against 150 when timed back to back). But it
// needs libopencv-dev (66 packages, 372 MiB more) and 40 s of CPU (88 s
// wall) to compile its cgo wrappers on every cold build, where this
// package builds in about a second; and most of
// what makes the silhouettes good enough here (gain compensation,
// selective update, shadows kept on the body, edge refinement) is not in
// OpenCV's MOG2 and would run as Go loops over the same pixels anyway.
// The whole pipeline, decoding included, runs at 69–82 frames/s at
// 640×480 (BenchmarkAnalyze640), over twice real time.
//
// Limits: a static camera; people walking roughly across the view or
// along it, at least about 100 pixels tall for good silhouettes; one
// person per blob when not crossing (people walking side by side at the
// same pace are one walker); a person standing still for long fades into
// the background; a shadow cast on the floor behind a walker (light from
// the camera's side) can be taken for part of the walker.
package video

import (
	"errors"
	"fmt"
	"image"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
)

// Sentinel errors, matched with errors.Is; returned errors wrap them with
// the file name and details.
var (
	// ErrNoWalker means no walking person was found in the footage.
	ErrNoWalker = errors.New("no walking person found")
	// ErrShortWalkers means walkers were found, but none was visible for a
	// whole gait cycle; the Result's Notes list them.
	ErrShortWalkers = errors.New("no walker was visible for a whole gait cycle")
	// ErrMovingCamera means no stable background formed: most of the frame
	// kept changing, as when the camera moves.
	ErrMovingCamera = errors.New("no stable background (moving camera?)")
	// ErrNotFrames means a folder holds no usable colour frames.
	ErrNotFrames = errors.New("no colour frames")
	// ErrTooLong means the footage has more frames than Options.MaxFrames.
	ErrTooLong = errors.New("too many frames")
)

// Options configure Analyze and AnalyzeFrames. The zero value works.
type Options struct {
	// Size is the GEI size, the model's input; zero means gei.DefaultSize.
	Size gei.Size
	// MaxPixels is the largest frame (width × height) accepted; 0 means
	// ffmpeg.DefaultMaxPixels.
	MaxPixels int
	// MaxFrames, if positive, is the most frames analysed: a video whose
	// container announces more is ErrTooLong before decoding, and any
	// footage is stopped with ErrTooLong at frame MaxFrames+1 (`gaitord
	// serve` bounds an upload's decode with it). 0 means no limit.
	MaxFrames int
	// FFmpeg is the ffmpeg program; "" looks it up on PATH (ffprobe is
	// looked up beside it).
	FFmpeg string
	// FPS is the frame rate of a folder of frames; 0 means 25. Videos
	// carry their own.
	FPS float64
	// Workers is the number of goroutines of the background model; 0
	// means runtime.NumCPU().
	Workers int
	// KeepSilhouettes keeps, per track, the silhouettes averaged into its
	// GEI (bit packed, as the track held them) for Track.Silhouettes; they
	// stay until Analyze returns, so memory then grows with the walkers
	// found (a few KB per frame averaged). Off, they are dropped as soon as
	// a track's GEI is made.
	KeepSilhouettes bool
	// Progress, if set, is called after each frame with its index.
	Progress func(frame int)

	// onTrack, if set (by tests), sees every finished track before it is
	// turned into a Track or Note.
	onTrack func(*track)
}

// Box is a walker's bounding box in one frame, in pixels (X1, Y1
// exclusive), with how it was seen.
type Box struct {
	Frame          int
	X0, Y0, X1, Y1 int
	// Seen is "clear" (alone, inside the frame), "border" (touching the
	// image border), "merged" (one blob with another walker; the box is
	// predicted) or "missing" (not detected; predicted).
	Seen string
}

// Track is one walker that got a GEI.
type Track struct {
	// ID numbers the walker: 1, 2, … in order of first appearance.
	ID int
	// First and Last are the first and last frames in which it was detected.
	First, Last int
	// Period is its gait cycle in frames (a cycle is two steps).
	Period float64
	// Cycles is the number of whole cycles averaged into the GEI.
	Cycles int
	// Windows are the frame ranges [first, last] of those cycles.
	Windows [][2]int
	// Used is the number of frames averaged (clear frames in Windows).
	Used int
	// ViewHint is the walking direction: "left-to-right",
	// "right-to-left", "towards" or "away" (from the camera).
	ViewHint string
	// GEI is the gait energy image, Size.H*Size.W values in [0, 1],
	// row-major: exactly the model's input.
	GEI []float32
	// Boxes are its boxes from First to Last, one per frame.
	Boxes []Box

	// sils are the silhouettes averaged, with Options.KeepSilhouettes.
	sils []keptSilhouette
}

// Input is the model's input for the track: its GEI quantized to 8 bits
// (gei.Quantize), exactly what --save-gei writes and a GEI PNG holds, so a
// saved GEI predicts as the track did. `gaitord predict` and `gaitord
// serve` both predict this.
func (t Track) Input() []float32 {
	g := append([]float32(nil), t.GEI...)
	gei.Quantize(g)
	return g
}

// Record is the prediction record of the track: the model's record p for
// Input, with Path, Source "video" and the track's number, frames, period,
// cycles and walking direction. `gaitord predict` prints it and `gaitord
// serve` answers it.
func (t Track) Record(p api.Prediction, path string) api.Prediction {
	p.Path, p.Source = path, api.SourceVideo
	p.Track, p.Frames, p.Period, p.Cycles, p.ViewHint = t.ID, &[2]int{t.First, t.Last}, t.Period, t.Cycles, t.ViewHint
	return p
}

// keptSilhouette is one averaged silhouette and its frame.
type keptSilhouette struct {
	frame int
	sil   *silhouette
}

// Silhouette is one frame's silhouette of a walker: Image is 255 on the
// walker and 0 elsewhere, its bounds the walker's box in frame coordinates.
type Silhouette struct {
	Frame int
	Image *image.Gray
}

// Silhouettes returns, in frame order, the silhouettes averaged into the
// track's GEI (Used of them) when Options.KeepSilhouettes was set, else
// none. Averaging them with gei.Accumulator (as `gaitord gei --frames`
// does with the files) gives GEI again.
func (t Track) Silhouettes() []Silhouette {
	out := make([]Silhouette, len(t.sils))
	for i, k := range t.sils {
		out[i] = Silhouette{Frame: k.frame, Image: k.sil.image()}
	}
	return out
}

// Note reports a walker that got no GEI because it was not visible, clear
// of the border and of other walkers, for a whole gait cycle.
type Note struct {
	// First and Last are the first and last frames in which it was detected.
	First, Last int
	// Cycle is the gait cycle in frames it needed: its own period when one
	// was found, else a typical one (1.1 s).
	Cycle float64
}

// String is the note's line without the file name: "a walker at frames
// 3–17 was visible for less than one gait cycle (~30 frames)".
func (n Note) String() string {
	return fmt.Sprintf("a walker at frames %d–%d was visible for less than one gait cycle (~%.0f frames)", n.First, n.Last, n.Cycle)
}

// Result is what Analyze found in one video.
type Result struct {
	// Source is the file or folder analysed.
	Source string
	// Width, Height and FPS describe the frames; Frames counts them.
	Width, Height int
	FPS           float64
	Frames        int
	// Tracks are the walkers with a GEI, numbered in order of first appearance.
	Tracks []Track
	// Notes are the walkers seen for less than one gait cycle.
	Notes []Note
	// Truncation is "" or a one-line note that the file ended early (what
	// decoded was used).
	Truncation string
}

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newPredictCmd(s, g, nil) })
}

// PredictOptions are the options of `gaitord predict`.
type PredictOptions struct {
	Checkpoint string
	JSON       bool
	Frames     bool // treat every folder as silhouette frames
	BatchSize  int
	Device     string
	Threads    int
	Paths      []string
	Server     string // predict through `gaitord serve` at this URL instead of loading the checkpoint
	TokenFile  string // the server's token (else $GAITORD_TOKEN)
	Video      bool   // folders are colour frames (footage), not GEIs or silhouettes
	SaveGEI    string // folder for each video track's GEI
	Annotate   string // annotated video (one footage input) or folder (several)
	MaxPixels  int    // largest video frame accepted (width × height)
}

// newPredictCmd builds the command; run replaces RunPredict (tests pass one to see
// the options the flags produce).
func newPredictCmd(s Streams, g *Global, run func(*PredictOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *PredictOptions) error {
			if o.Server != "" {
				return RunPredictRemote(s, o)
			}
			return RunPredict(s, g, o)
		}
	}
	o := &PredictOptions{}
	c := &cobra.Command{
		Use:   "predict (--checkpoint FILE | --server URL) PATH...",
		Short: "Predict age (with an 80% interval) and gender for GEIs, silhouette frames or videos",
		Long: `Each PATH is a GEI PNG, a folder of GEI PNGs, or a folder of binary silhouette
frames (turned into a GEI first; detected when its PNGs are pure black and white,
or forced with --frames), or a video file of people walking past a static camera
(any format FFmpeg decodes, recognised by its content; with --video, folders are
colour frames instead). A video gives one record per walker seen for a whole gait
cycle (track, frames, period, cycles, view hint added; docs/video.md); each walker
seen for less gets one line on stderr. The interval is read off the model's own
distribution (its loss type's, docs/losses.md): the predicted CDF P(age ≤ a) = 1 − P(age > a), made monotone, crosses 0.1 and 0.9
at its ends and 0.5 at the median; a model of loss type l1 predicts no distribution
(interval "-", null in JSON). With --server URL the inputs go to a running
'gaitord serve' (token from --token-file or GAITORD_TOKEN) and the output is the same.`,
		Example: `  gaitord predict --checkpoint runs/demo/best.ckpt person.png
  gaitord predict --checkpoint runs/demo/best.ckpt --json geis/ > predictions.jsonl
  gaitord predict --checkpoint runs/demo/best.ckpt --frames Silhouette_090-00/00001
  gaitord predict --server http://127.0.0.1:8080 --json geis/
  gaitord predict --checkpoint runs/demo/best.ckpt --json --save-gei geis/ walk.mp4
  gaitord predict --checkpoint runs/demo/best.ckpt --annotate walk_annotated.mp4 walk.mp4`,
		Args: cobra.MinimumNArgs(1),
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights")
	f.BoolVar(&o.JSON, "json", false, "print JSON Lines, one gaitord.prediction/v2 record per input (docs/prediction.md)")
	f.BoolVar(&o.Frames, "frames", false, "treat every folder as silhouette frames of one walk")
	f.IntVar(&o.BatchSize, "batch-size", 256, "GEIs per forward pass")
	f.StringVar(&o.Device, "device", "cpu", "cpu, cuda or cuda:N")
	f.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (0 = all cores)")
	f.StringVar(&o.Server, "server", "", "predict through 'gaitord serve' at this URL (no --checkpoint)")
	f.StringVar(&o.TokenFile, "token-file", "", "with --server: file holding the bearer token (default $GAITORD_TOKEN)")
	f.BoolVar(&o.Video, "video", false, "treat every folder as colour frames of footage (PNG/JPEG in name order)")
	f.StringVar(&o.SaveGEI, "save-gei", "", "write each video track's GEI to DIR/<video name>_track<N>.png")
	f.StringVar(&o.Annotate, "annotate", "", "write the video with boxes, track ids and ages drawn (a folder for several videos)")
	f.IntVar(&o.MaxPixels, "max-pixels", ffmpeg.DefaultMaxPixels, "largest video frame accepted, width × height")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.Paths = args
		if o.Server == "" && o.Checkpoint == "" {
			return usagef(`required flag(s) "checkpoint" not set (or give --server URL)`)
		}
		return run(o)
	}
	return c
}

type input struct {
	path   string
	source string
	img    []float32
	err    error
}

// PredictFailedError reports inputs that could not be predicted.
type PredictFailedError struct{ Failed, Total int }

func (e *PredictFailedError) Error() string {
	return fmt.Sprintf("%d of %d inputs failed", e.Failed, e.Total)
}

// RunPredict predicts every input; a bad input is reported with its path and
// the rest continue.
func RunPredict(s Streams, g *Global, o *PredictOptions) error {
	if o.BatchSize <= 0 {
		return usagef("--batch-size %d: must be positive", o.BatchSize)
	}
	if o.MaxPixels <= 0 {
		return usagef("--max-pixels %d: must be positive", o.MaxPixels)
	}
	footage, paths := splitFootage(o.Paths, o.Video)
	annotate, err := annotateTargets(o.Annotate, footage)
	if err != nil {
		return err
	}
	engine.SetThreads(o.Threads)
	m, st, err := loadModel(o.Checkpoint, o.Device)
	if err != nil {
		return err
	}
	size := gei.Size{H: st.Model.InputH, W: st.Model.InputW}
	inputs := expandInputs(paths, o.Frames)
	failed := 0
	var tw *tabwriter.Writer
	enc := json.NewEncoder(s.Out)
	if len(inputs) > 0 {
		tw, enc = predictOutput(s, o.JSON)
	}
	for start := 0; start < len(inputs); start += o.BatchSize {
		batch := inputs[start:min(start+o.BatchSize, len(inputs))]
		var ok []*input
		var images []float32
		for i := range batch {
			in := &batch[i]
			if in.err == nil {
				if in.source == "silhouettes" {
					in.img, _, _, in.err = gei.LoadSilhouetteDir(in.path, size)
				} else {
					in.img, in.err = gei.Load(in.path, size)
				}
			}
			if in.err != nil {
				failed++
				fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(in.err.Error()))
				continue
			}
			ok = append(ok, in)
			images = append(images, in.img...)
		}
		if len(ok) == 0 {
			continue
		}
		out, err := infer.Batch(m, images, len(ok))
		infer.GC()
		if err != nil {
			return err
		}
		for j, in := range ok {
			p := out.Prediction(j) // the record serve returns too
			p.Path, p.Source = in.path, in.source
			if err := printPrediction(tw, enc, p); err != nil {
				return err
			}
		}
	}
	if tw != nil {
		tw.Flush()
	}
	vf, err := predictFootage(s, o, m, size, footage, annotate)
	infer.FinishGC()
	if err != nil {
		return err
	}
	if failed += vf; failed > 0 {
		return &PredictFailedError{Failed: failed, Total: len(inputs) + len(footage)}
	}
	return nil
}

// predictOutput starts the output of predict: a table (tw) or, with
// asJSON, JSON Lines (enc); tw is nil for JSON.
func predictOutput(s Streams, asJSON bool) (tw *tabwriter.Writer, enc *json.Encoder) {
	if !asJSON {
		tw = tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tAGE\t80% INTERVAL\tGENDER\tP")
	}
	return tw, json.NewEncoder(s.Out)
}

// printPrediction prints one record as a table row, or as a JSON line when
// tw is nil.
func printPrediction(tw *tabwriter.Writer, enc *json.Encoder, p api.Prediction) error {
	if tw == nil {
		return enc.Encode(p)
	}
	_, err := fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%.2f\n", p.Path, p.Age, intervalText(p), p.Gender, p.PGender())
	return err
}

// intervalText is the table's 80% interval column: "[lo, hi]", or "-" for a
// model without a distribution (loss type l1).
func intervalText(p api.Prediction) string {
	if p.Interval == nil {
		return "-"
	}
	return fmt.Sprintf("[%.1f, %.1f]", p.Interval[0], p.Interval[1])
}

// expandInputs lists the GEIs and silhouette folders named by paths, in order.
func expandInputs(paths []string, frames bool) []input {
	var out []input
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out = append(out, input{path: p, err: fmt.Errorf("%s: %w", p, unwrapPath(err))})
			continue
		}
		if !fi.IsDir() {
			out = append(out, input{path: p, source: "gei"})
			continue
		}
		pngs, err := gei.ListPNGs(p)
		if err != nil {
			out = append(out, input{path: p, err: err})
			continue
		}
		if len(pngs) == 0 {
			out = append(out, input{path: p, err: fmt.Errorf("%s: folder holds no .png files", p)})
			continue
		}
		if frames || gei.IsSilhouette(pngs[0]) {
			out = append(out, input{path: p, source: "silhouettes"})
			continue
		}
		for _, f := range pngs {
			out = append(out, input{path: f, source: "gei"})
		}
	}
	return out
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/inputs"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/trace"
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
	Fuse       bool // each PATH is one person: fuse its GEIs into one prediction
	BatchSize  int
	Device     string
	Precision  string // fp32 or int8 (calibrated on the training split of the checkpoint's data)
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
		Short: "Predict age (with an 80% interval) and gender for GEIs, silhouette frames, OpenGait pickles or videos",
		Long: `Each PATH is a GEI PNG, a folder of GEI PNGs, a folder of binary silhouette
frames (turned into a GEI first; detected when its PNGs are pure black and white,
or forced with --frames), an OpenGait pickle of one walk (a T×H×W uint8 NumPy
array, recognised by its content; docs/opengait.md), or a video file of people
walking past a static camera (any format FFmpeg decodes, recognised by its
content; with --video, folders are colour frames instead). A video gives one
record per walker seen for a whole gait cycle (track, frames, period, cycles,
view hint added; docs/video.md); each walker seen for less gets one line on
stderr. The interval is read off the model's own distribution (its loss type's,
docs/losses.md): the predicted CDF P(age ≤ a) = 1 − P(age > a), made monotone,
crosses 0.1 and 0.9 at its ends and 0.5 at the median; a model of loss type l1
predicts no distribution (interval "-", null in JSON). With --server URL the
inputs go to a running 'gaitord serve' (token from --token-file or
GAITORD_TOKEN) and the output is the same, --fuse and video files included
(folders of colour frames, --save-gei and --annotate need --checkpoint).

With --fuse, each PATH is one person and gives one prediction: every GEI,
silhouette folder and pickle in it and its subfolders goes through the network,
and the ordinal probabilities P(age > k) and P(male) are averaged over them
(the network's set form) before decoding; this needs a model whose head outputs
P(age > k) (loss type odl, ranking or coral). A bad file fails its whole set.`,
		Example: `  gaitord predict --checkpoint runs/demo/best.ckpt person.png
  gaitord predict --checkpoint runs/demo/best.ckpt --json geis/ > predictions.jsonl
  gaitord predict --checkpoint runs/demo/best.ckpt --frames Silhouette_090-00/00001
  gaitord predict --checkpoint runs/demo/best.ckpt 001/nm-01/090/090.pkl
  gaitord predict --checkpoint runs/demo/best.ckpt --fuse person1/ person2/
  gaitord predict --server http://127.0.0.1:8080 --json geis/
  gaitord predict --checkpoint runs/demo/best.ckpt --json --save-gei geis/ walk.mp4
  gaitord predict --checkpoint runs/demo/best.ckpt --annotate walk_annotated.mp4 walk.mp4`,
		Args: cobra.MinimumNArgs(1),
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights")
	f.BoolVar(&o.JSON, "json", false, "print JSON Lines, one gaitord.prediction/v2 record per input (docs/prediction.md)")
	f.BoolVar(&o.Frames, "frames", false, "treat every folder as silhouette frames of one walk")
	f.BoolVar(&o.Fuse, "fuse", false, "each PATH is one person: fuse all its GEIs into one prediction")
	f.IntVar(&o.BatchSize, "batch-size", 256, "GEIs per forward pass (with --fuse: one pass per set)")
	f.StringVar(&o.Device, "device", "cpu", "cpu, cuda or cuda:N")
	precisionFlag(c, &o.Precision)
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

// PredictFailedError reports inputs that could not be predicted.
type PredictFailedError struct{ Failed, Total int }

func (e *PredictFailedError) Error() string {
	return fmt.Sprintf("%d of %d inputs failed", e.Failed, e.Total)
}

// RunPredict predicts every input (with Fuse: every set); a bad input is
// reported with its path and the rest continue.
func RunPredict(s Streams, g *Global, o *PredictOptions) error {
	if o.BatchSize <= 0 {
		return usagef("--batch-size %d: must be positive", o.BatchSize)
	}
	if o.MaxPixels <= 0 {
		return usagef("--max-pixels %d: must be positive", o.MaxPixels)
	}
	footage, paths := splitFootage(o.Paths, o.Video)
	if o.Fuse && (len(footage) > 0 || o.Video || o.SaveGEI != "" || o.Annotate != "") {
		return usagef("--fuse fuses GEIs, silhouette folders and OpenGait pickles; it takes no video (--video, --save-gei, --annotate)")
	}
	annotate, err := annotateTargets(o.Annotate, footage)
	if err != nil {
		return err
	}
	if err := checkPrecision(o.Precision, o.Device); err != nil {
		return err
	}
	if o.Fuse && o.Precision == infer.PrecisionInt8 {
		return &UsageError{infer.ErrFuseInt8}
	}
	engine.SetThreads(o.Threads)
	m, st, err := loadModel(o.Checkpoint, o.Device)
	if err != nil {
		return err
	}
	if o.Fuse {
		if err := infer.CanFuse(st.Model); err != nil {
			return fmt.Errorf("predict --fuse: %s: %w", o.Checkpoint, err)
		}
	}
	var net infer.Net = m
	if o.Precision == infer.PrecisionInt8 {
		q, err := int8Net(s, g, m, st, o.Checkpoint)
		if err != nil {
			return fmt.Errorf("predict --precision int8: %w", err)
		}
		defer q.Close()
		net = q
	}
	size := gei.Size{H: st.Model.InputH, W: st.Model.InputW}
	var pr *printer
	if len(paths) > 0 {
		pr = newPrinter(s.Out, o.JSON, o.Fuse)
	}
	var failed, total int
	if o.Fuse {
		failed, total, err = predictSets(s, m, size, paths, o, pr)
	} else {
		failed, total, err = predictEach(s, net, size, paths, o, pr)
	}
	if err == nil {
		err = pr.flush()
		trace.Mark("print")
	}
	if err != nil {
		infer.FinishGC()
		return err
	}
	vf, err := predictFootage(s, o, net, size, footage, annotate)
	infer.FinishGC()
	trace.Mark("finish")
	if err != nil {
		return err
	}
	if failed += vf; failed > 0 {
		return &PredictFailedError{Failed: failed, Total: total + len(footage)}
	}
	return nil
}

// predictEach predicts every input on its own, BatchSize at a time.
func predictEach(s Streams, m infer.Net, size gei.Size, paths []string, o *PredictOptions, pr *printer) (failed, total int, err error) {
	ins := inputs.Expand(paths, o.Frames)
	for start := 0; start < len(ins); start += o.BatchSize {
		var ok []inputs.Input
		var images []float32
		for _, in := range ins[start:min(start+o.BatchSize, len(ins))] {
			img, err := in.Load(size)
			if err != nil {
				failed++
				fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
				continue
			}
			ok = append(ok, in)
			images = append(images, img...)
		}
		trace.Mark("decode inputs")
		if len(ok) == 0 {
			continue
		}
		out, err := infer.Batch(m, images, len(ok))
		infer.GC()
		if err != nil {
			return failed, len(ins), err
		}
		trace.Mark("forward")
		for j, in := range ok {
			p := out.Prediction(j) // the record serve returns too
			p.Path, p.Source = in.Path, in.Source
			if err := pr.print(p); err != nil {
				return failed, len(ins), err
			}
		}
	}
	return failed, len(ins), nil
}

// predictSets makes one fused prediction per path (infer.Set).
func predictSets(s Streams, m *model.GLCNN, size gei.Size, paths []string, o *PredictOptions, pr *printer) (failed, total int, err error) {
	for _, path := range paths {
		members, err := inputs.Set(path, o.Frames)
		if err != nil {
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
			continue
		}
		var images []float32
		bad := 0
		for _, in := range members {
			img, err := in.Load(size)
			if err != nil {
				bad++
				fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
				continue
			}
			images = append(images, img...)
		}
		if bad > 0 {
			failed++
			continue
		}
		out, err := infer.Set(m, images, len(members))
		infer.GC()
		if err != nil {
			return failed, len(paths), err
		}
		p := out.Prediction(0)
		p.Path, p.Source, p.NInputs = path, api.SourceFused, len(members)
		if err := pr.print(p); err != nil {
			return failed, len(paths), err
		}
	}
	return failed, len(paths), nil
}

// printer writes prediction records as a table or as JSON Lines: predict's
// and predict --server's one output. A nil printer prints nothing.
type printer struct {
	tw   *tabwriter.Writer // nil for JSON
	enc  *json.Encoder
	fuse bool // the table has a GEIS column (NInputs)
}

// newPrinter starts the output: the table's header, unless asJSON.
func newPrinter(w io.Writer, asJSON, fuse bool) *printer {
	p := &printer{enc: json.NewEncoder(w), fuse: fuse}
	if !asJSON {
		p.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if fuse {
			fmt.Fprintln(p.tw, "PATH\tGEIS\tAGE\t80% INTERVAL\tGENDER\tP")
		} else {
			fmt.Fprintln(p.tw, "PATH\tAGE\t80% INTERVAL\tGENDER\tP")
		}
	}
	return p
}

// print prints one record as a table row or a JSON line.
func (p *printer) print(r api.Prediction) error {
	if p.tw == nil {
		return p.enc.Encode(r)
	}
	var err error
	if p.fuse {
		_, err = fmt.Fprintf(p.tw, "%s\t%d\t%.1f\t%s\t%s\t%.2f\n", r.Path, r.NInputs, r.Age, intervalText(r), r.Gender, r.PGender())
	} else {
		_, err = fmt.Fprintf(p.tw, "%s\t%.1f\t%s\t%s\t%.2f\n", r.Path, r.Age, intervalText(r), r.Gender, r.PGender())
	}
	return err
}

// flush writes out the table.
func (p *printer) flush() error {
	if p == nil || p.tw == nil {
		return nil
	}
	return p.tw.Flush()
}

// intervalText is the table's 80% interval column: "[lo, hi]", or "-" for a
// model without a distribution (loss type l1).
func intervalText(p api.Prediction) string {
	if p.Interval == nil {
		return "-"
	}
	return fmt.Sprintf("[%.1f, %.1f]", p.Interval[0], p.Interval[1])
}

// unwrapPath drops an *os.PathError's repetition of the path.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

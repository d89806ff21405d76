package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/inputs"
	"github.com/gaitord/gaitord/internal/model"
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
	Threads    int
	Paths      []string
}

// newPredictCmd builds the command; run replaces RunPredict (tests pass one to see
// the options the flags produce).
func newPredictCmd(s Streams, g *Global, run func(*PredictOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *PredictOptions) error { return RunPredict(s, g, o) }
	}
	o := &PredictOptions{}
	c := &cobra.Command{
		Use:   "predict --checkpoint FILE PATH...",
		Short: "Predict age (with an 80% interval) and gender for GEIs, silhouette frames or OpenGait pickles",
		Long: `Each PATH is a GEI PNG, a folder of GEI PNGs, a folder of binary silhouette
frames (turned into a GEI first; detected when its PNGs are pure black and white,
or forced with --frames), or an OpenGait pickle of one walk (a T×H×W uint8 NumPy
array, recognised by its content; docs/opengait.md). The interval is read off the
model's own ordinal output: the predicted CDF P(age ≤ a) = 1 − P(age > a), made
monotone, crosses 0.1 and 0.9 at its ends and 0.5 at the median.

With --fuse, each PATH is one person and gives one prediction: every GEI,
silhouette folder and pickle in it and its subfolders goes through the network,
and the ordinal probabilities P(age > k) and P(male) are averaged over them
(the network's set form) before decoding. A bad file fails its whole set.`,
		Example: `  gaitord predict --checkpoint runs/demo/best.ckpt person.png
  gaitord predict --checkpoint runs/demo/best.ckpt --json geis/ > predictions.jsonl
  gaitord predict --checkpoint runs/demo/best.ckpt --frames Silhouette_090-00/00001
  gaitord predict --checkpoint runs/demo/best.ckpt 001/nm-01/090/090.pkl
  gaitord predict --checkpoint runs/demo/best.ckpt --fuse person1/ person2/`,
		Args: cobra.MinimumNArgs(1),
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights")
	f.BoolVar(&o.JSON, "json", false, "print JSON Lines, one gaitord.prediction/v1 record per input (docs/prediction.md)")
	f.BoolVar(&o.Frames, "frames", false, "treat every folder as silhouette frames of one walk")
	f.BoolVar(&o.Fuse, "fuse", false, "each PATH is one person: fuse all its GEIs into one prediction")
	f.IntVar(&o.BatchSize, "batch-size", 256, "GEIs per forward pass (with --fuse: one pass per set)")
	f.StringVar(&o.Device, "device", "cpu", "cpu, cuda or cuda:N")
	f.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (0 = all cores)")
	_ = c.MarkFlagRequired("checkpoint")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.Paths = args
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
	engine.SetThreads(o.Threads)
	m, st, err := loadModel(o.Checkpoint, o.Device)
	if err != nil {
		return err
	}
	size := gei.Size{H: st.Model.InputH, W: st.Model.InputW}
	pr := newPrinter(s.Out, o.JSON, o.Fuse)
	var failed, total int
	if o.Fuse {
		failed, total, err = predictSets(s, m, size, o, pr)
	} else {
		failed, total, err = predictEach(s, m, size, o, pr)
	}
	infer.FinishGC()
	if err != nil {
		return err
	}
	if err := pr.flush(); err != nil {
		return err
	}
	if failed > 0 {
		return &PredictFailedError{Failed: failed, Total: total}
	}
	return nil
}

// predictEach predicts every input on its own, BatchSize at a time.
func predictEach(s Streams, m *model.GLCNN, size gei.Size, o *PredictOptions, pr *printer) (failed, total int, err error) {
	ins := inputs.Expand(o.Paths, o.Frames)
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
		if len(ok) == 0 {
			continue
		}
		out, err := infer.Batch(m, images, len(ok))
		infer.GC()
		if err != nil {
			return failed, len(ins), err
		}
		for j, in := range ok {
			if err := pr.print(record(out, j, in.Path, in.Source, 0)); err != nil {
				return failed, len(ins), err
			}
		}
	}
	return failed, len(ins), nil
}

// predictSets makes one fused prediction per path (infer.Set).
func predictSets(s Streams, m *model.GLCNN, size gei.Size, o *PredictOptions, pr *printer) (failed, total int, err error) {
	for _, path := range o.Paths {
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
			return failed, len(o.Paths), err
		}
		if err := pr.print(record(out, 0, path, api.SourceFused, len(members))); err != nil {
			return failed, len(o.Paths), err
		}
	}
	return failed, len(o.Paths), nil
}

// record is row i of out as a prediction record.
func record(out infer.Output, i int, path, source string, n int) api.Prediction {
	d := out.Ordinal[i]
	return api.Prediction{
		Path: path, Source: source, Age: d.Age, Median: d.Median, Interval: [2]float64{d.Lo80, d.Hi80},
		Gender: api.GenderOf(out.PMale[i]), PMale: out.PMale[i], PAgeGT: out.P[i], NInputs: n,
	}
}

// printer writes predictions as a table or as JSON Lines.
type printer struct {
	tw   *tabwriter.Writer // nil for JSON
	enc  *json.Encoder
	fuse bool
}

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

func (p *printer) print(r api.Prediction) error {
	if p.tw == nil {
		return p.enc.Encode(r)
	}
	var err error
	if p.fuse {
		_, err = fmt.Fprintf(p.tw, "%s\t%d\t%.1f\t[%.1f, %.1f]\t%s\t%.2f\n", r.Path, r.NInputs, r.Age, r.Interval[0], r.Interval[1], r.Gender, r.PGender())
	} else {
		_, err = fmt.Fprintf(p.tw, "%s\t%.1f\t[%.1f, %.1f]\t%s\t%.2f\n", r.Path, r.Age, r.Interval[0], r.Interval[1], r.Gender, r.PGender())
	}
	return err
}

func (p *printer) flush() error {
	if p.tw == nil {
		return nil
	}
	return p.tw.Flush()
}

// unwrapPath drops an *os.PathError's repetition of the path.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newSynthCmd(s, g, nil) })
}

// SynthOptions are the options of `gaitord synth`.
type SynthOptions struct {
	Out            string
	Subjects       int
	Views          []int
	Seed           int64
	MinAge, MaxAge int
	Height, Width  int
	Workers        int
	// Video renders footage instead of a GEI dataset (synth.WriteFootage).
	Video bool
	// Walkers, Seconds, VideoSize and FPS shape the footage.
	Walkers   int
	Seconds   float64
	VideoSize string // WxH
	FPS       int
	Pan       float64 // camera pan, pixels per frame (a moving camera, for tests)
}

// newSynthCmd builds the command; run replaces RunSynth (tests pass one to see
// the options the flags produce).
func newSynthCmd(s Streams, g *Global, run func(*SynthOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *SynthOptions) error { return RunSynth(s, g, o) }
	}
	o := &SynthOptions{}
	c := &cobra.Command{
		Use:   "synth",
		Short: "Write a synthetic gait dataset (OU-MVLP layout) whose GEIs carry a real age and gender signal",
		Long: `synth renders walking people from a parametric body model whose proportions and gait
depend on age and gender (head-to-body ratio, posture, stride and arm swing, shoulder
and hip width), with per-subject variation, several views and noise, and averages the
silhouettes into GEIs. The output follows the OU-MVLP layout (GEI/<view>-<seq>/<subject>.png
and labels.csv), so odd subjects train and even subjects test.

With --video it renders colour footage of the same walkers instead (OUT/walk.mp4, H.264):
a static camera over a wall and tiled floor, soft shadows, illumination drift, sensor
noise; walkers in turn left-to-right, right-to-left (crossing the one before), towards
and away; with the ground truth OUT/truth.json (frames, period, direction, age, gender
per walker) and OUT/masks/walkerNN/<frame>.png (what 'gaitord gei --frames' reads).`,
		Example: `  gaitord synth --out data/synth
  gaitord synth --out data/synth-big --subjects 2000 --views 0,30,60,90,180 --seed 7
  gaitord synth --video --out data/footage --walkers 3 --video-size 640x480`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVarP(&o.Out, "out", "o", "", "output folder (must not exist or be empty)")
	f.IntVar(&o.Subjects, "subjects", 400, "number of subjects")
	f.IntSliceVar(&o.Views, "views", []int{0, 30, 60, 90}, "view angles in degrees")
	f.Int64Var(&o.Seed, "seed", 1, "random seed")
	f.IntVar(&o.MinAge, "min-age", 2, "youngest age")
	f.IntVar(&o.MaxAge, "max-age", 80, "oldest age")
	f.IntVar(&o.Height, "height", 64, "GEI height (64 or 128)")
	f.IntVar(&o.Width, "width", 44, "GEI width (44 or 88)")
	f.IntVar(&o.Workers, "workers", 0, "parallel workers (0 = cores)")
	f.BoolVar(&o.Video, "video", false, "render footage with ground truth (walk.mp4, truth.json, masks/) instead of GEIs")
	f.IntVar(&o.Walkers, "walkers", 2, "with --video: number of walkers")
	f.Float64Var(&o.Seconds, "seconds", 0, "with --video: length (0 = until the last walker has left)")
	f.StringVar(&o.VideoSize, "video-size", "640x480", "with --video: frame size WxH")
	f.IntVar(&o.FPS, "fps", 30, "with --video: frame rate")
	f.Float64Var(&o.Pan, "pan", 0, "with --video: pan the camera by this many pixels per frame (footage gaitord must refuse)")
	_ = c.MarkFlagRequired("out")
	c.RunE = func(*cobra.Command, []string) error { return run(o) }
	return c
}

// RunSynth generates the dataset into a temp folder and renames it into place.
func RunSynth(s Streams, g *Global, o *SynthOptions) error {
	if entries, err := os.ReadDir(o.Out); err == nil && len(entries) > 0 {
		return fmt.Errorf("synth: %s exists and is not empty", o.Out)
	}
	if o.Video {
		return runSynthVideo(s, o)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	progress, done := progressFunc(s.Err, g.Quiet, "synth")
	sum, err := synth.Generate(synth.Options{
		Root: o.Out, Subjects: o.Subjects, Views: o.Views, Seed: o.Seed, MinAge: o.MinAge, MaxAge: o.MaxAge,
		Size: gei.Size{H: o.Height, W: o.Width}, Workers: o.Workers,
	}, progress)
	done()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s: %d subjects (%d male, %d female, ages %d–%d), %d GEIs, labels %s\n",
		o.Out, sum.Subjects, sum.Males, sum.Females, sum.MinAge, sum.MaxAge, sum.GEIs, sum.Labels)
	return nil
}

// runSynthVideo is `gaitord synth --video`: synth.WriteFootage of
// synth.FootageWalkers into OUT.
func runSynthVideo(s Streams, o *SynthOptions) error {
	var w, h int
	if _, err := fmt.Sscanf(o.VideoSize, "%dx%d", &w, &h); err != nil || fmt.Sprintf("%dx%d", w, h) != o.VideoSize {
		return usagef("--video-size %q: want WxH, e.g. 640x480", o.VideoSize)
	}
	if o.Walkers < 0 || o.Seconds < 0 || o.FPS <= 0 {
		return usagef("--walkers %d, --seconds %g, --fps %d: must not be negative (fps positive)", o.Walkers, o.Seconds, o.FPS)
	}
	if o.MinAge < 0 || o.MaxAge < o.MinAge {
		return usagef("--min-age %d --max-age %d: want 0 <= min <= max", o.MinAge, o.MaxAge)
	}
	progs, err := ffmpeg.Find("")
	if err != nil {
		return fmt.Errorf("synth --video: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	files := synth.FootageFiles{Video: filepath.Join(o.Out, "walk.mp4"), Masks: filepath.Join(o.Out, "masks"), Truth: filepath.Join(o.Out, "truth.json")}
	opts := synth.FootageOptions{Width: w, Height: h, FPS: o.FPS, Frames: int(math.Round(o.Seconds * float64(o.FPS))), Seed: uint64(o.Seed), Pan: o.Pan,
		Walkers: synth.FootageWalkers(o.Walkers, o.Seed, o.MinAge, o.MaxAge, o.FPS)}
	truth, err := synth.WriteFootage(context.Background(), progs, files, opts)
	if err != nil {
		os.RemoveAll(files.Masks) // the masks of a footage that was not written
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s: %d frames of %dx%d at %d fps, %d walker%s; truth %s, masks %s\n",
		files.Video, truth.Frames, truth.Width, truth.Height, truth.FPS, len(truth.Walkers), plural(len(truth.Walkers)), files.Truth, files.Masks)
	for _, wt := range truth.Walkers {
		fmt.Fprintf(s.Out, "  walker %d: %s, age %d, gender %s, frames %d-%d, period %.1f frames\n",
			wt.Walker, wt.Direction, wt.Age, wt.Gender, wt.First, wt.Last, wt.Period)
	}
	return nil
}

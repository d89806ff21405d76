package cli

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/opengait"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newGEICmd(s, g, nil) })
}

// GEIOptions are the options of `gaitord gei`.
type GEIOptions struct {
	Frames  string // one folder of silhouette frames
	Tree    string // a silhouette tree: OU-MVLP's, or OpenGait's (Format)
	Format  string // the tree's layout: "oumvlp" or "opengait"
	Video   string // a video file, or a folder of colour frames: one GEI per walker
	Masks   string // with Video: folder for each walker's silhouette frames
	Out     string // a GEI PNG (with Frames) or a dataset root (with Tree)
	Height  int
	Width   int
	Workers int
	// OpenGait trees only (see opengait.ConvertOptions).
	Match     string // file-name pattern choosing the silhouette pickle of a walk folder
	Labels    string // ID,gender,age label file; with Partition: write a manifest
	Partition string // OpenGait partition JSON (TRAIN_SET, TEST_SET)
	// MaxPixels is the largest video frame accepted (width × height).
	MaxPixels int
	// FPS is the frame rate of a folder of colour frames (--video DIR).
	FPS float64
}

// Tree formats of `gaitord gei --tree`.
const (
	treeOUMVLP   = "oumvlp"
	treeOpenGait = "opengait"
)

// newGEICmd builds the command; run replaces RunGEI (tests pass one to see
// the options the flags produce).
func newGEICmd(s Streams, g *Global, run func(*GEIOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *GEIOptions) error { return RunGEI(s, g, o) }
	}
	o := &GEIOptions{}
	c := &cobra.Command{
		Use:   "gei",
		Short: "Build GEIs from binary silhouette frames (one folder, or an OU-MVLP or OpenGait silhouette tree) or from a video",
		Long: `Per frame: crop to the silhouette's bounding box, scale to the GEI height keeping the
aspect ratio, centre on the horizontal centroid; then average the frames. Empty frames
are skipped and counted. --tree converts OU-MVLP's Silhouette_<view>-<seq>/<subject>/
folders into the GEI/<view>-<seq>/<subject>.png layout, in parallel. --video finds the
people walking past a static camera in a video file (or a folder of colour frames) and
writes one GEI per walker seen for a whole gait cycle, OUT/<name>_track<N>.png, and with
--masks the silhouette frames averaged into it, MASKS/<name>_track<N>/<frame>.png
(full-frame, what --frames reads back into the same GEI); docs/video.md.

--tree DIR --format opengait reads OpenGait's pretreated <subject>/<type>/<view>/*.pkl
pickles (never executing them; docs/opengait.md). Without --labels it writes the OU-MVLP
layout (every walk must be OU-MVLP-shaped; ages come from a labels file at training
time, as for OU-MVLP). With --labels ID,gender,age and --partition (OpenGait's JSON with
TRAIN_SET and TEST_SET) it writes GEI/<subject>/<type>/<view>.png and a manifest.csv.`,
		Example: `  gaitord gei --frames Silhouette_090-00/00001 --out 00001.png
  gaitord gei --tree /data/OUMVLP_silhouettes --out /data/OUMVLP
  gaitord gei --tree /data/OUMVLP-pkl --format opengait --out /data/OUMVLP
  gaitord gei --tree /data/CASIA-B-pkl --format opengait --labels ages.csv --partition CASIA-B.json --out /data/casia
  gaitord gei --video walk.mp4 --out geis/ --masks masks/`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Frames, "frames", "", "folder of silhouette frames (*.png) of one walk")
	f.StringVar(&o.Tree, "tree", "", "silhouette tree: OU-MVLP's Silhouette_<view>-<seq>/ folders, or OpenGait's (--format opengait)")
	f.StringVar(&o.Format, "format", treeOUMVLP, "--tree layout: oumvlp or opengait")
	f.StringVar(&o.Match, "match", "", "opengait: file-name pattern of the silhouette pickle in each walk folder (e.g. '*-aligned-sils.pkl')")
	f.StringVar(&o.Labels, "labels", "", "opengait: label file (ID,gender,age); with --partition, write a manifest")
	f.StringVar(&o.Partition, "partition", "", "opengait: OpenGait partition JSON (TRAIN_SET, TEST_SET); with --labels")
	f.StringVar(&o.Video, "video", "", "video file (or folder of colour frames) of people walking past a static camera")
	f.StringVar(&o.Masks, "masks", "", "with --video: folder for each walker's silhouette frames")
	f.IntVar(&o.MaxPixels, "max-pixels", ffmpeg.DefaultMaxPixels, "with --video: largest frame accepted, width × height")
	f.Float64Var(&o.FPS, "fps", 25, "with --video DIR: frame rate of the colour frames")
	f.StringVarP(&o.Out, "out", "o", "", "output PNG (--frames), dataset root (--tree) or folder (--video)")
	f.IntVar(&o.Height, "height", 64, "GEI height (64 or 128)")
	f.IntVar(&o.Width, "width", 44, "GEI width (44 or 88)")
	f.IntVar(&o.Workers, "workers", 0, "parallel workers for --tree (0 = cores)")
	_ = c.MarkFlagRequired("out")
	c.RunE = func(*cobra.Command, []string) error { return run(o) }
	return c
}

// RunGEI builds one GEI or converts a tree.
func RunGEI(s Streams, g *Global, o *GEIOptions) error {
	size := gei.Size{H: o.Height, W: o.Width}
	switch {
	case count(o.Frames != "", o.Tree != "", o.Video != "") != 1:
		return usagef("give exactly one of --frames DIR or --tree DIR or --video FILE")
	case o.Format != treeOUMVLP && o.Format != treeOpenGait:
		return usagef("--format %q: want %s or %s", o.Format, treeOUMVLP, treeOpenGait)
	case o.Format != treeOpenGait && (o.Match != "" || o.Labels != "" || o.Partition != ""):
		return usagef("--match, --labels and --partition are for --tree DIR --format opengait")
	case o.Tree == "" && o.Format == treeOpenGait:
		return usagef("--format opengait converts a tree (--tree DIR); predict reads one pickle directly")
	case o.Masks != "" && o.Video == "":
		return usagef("--masks needs --video")
	case o.Video != "":
		return runGEIVideo(s, o)
	case o.Frames != "":
		img, used, skipped, err := gei.LoadSilhouetteDir(o.Frames, size)
		if err != nil {
			return err
		}
		if err := gei.WritePNG(o.Out, img, size); err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "wrote %s from %d frames (%d empty frames skipped)\n", o.Out, used, skipped)
		return nil
	default:
		if o.Workers <= 0 {
			o.Workers = runtime.NumCPU()
		}
		if _, err := os.Stat(o.Tree); err != nil {
			return fmt.Errorf("silhouette tree %s: %w", o.Tree, unwrapPath(err))
		}
		progress, done := progressFunc(s.Err, g.Quiet, "GEIs")
		if o.Format == treeOpenGait {
			st, err := opengait.ConvertTree(o.Tree, o.Out, opengait.ConvertOptions{
				Size: size, Workers: o.Workers, Match: o.Match, Labels: o.Labels, Partition: o.Partition, Progress: progress,
			})
			done()
			if err != nil {
				return err
			}
			return reportOpenGait(s, o, st)
		}
		st, err := gei.ConvertTree(o.Tree, o.Out, size, o.Workers, progress)
		done()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "wrote %d GEIs under %s from %d frames (%d empty frames skipped)\n", st.GEIs, o.Out, st.FramesUsed, st.FramesSkipped)
		for _, f := range st.Failed {
			fmt.Fprintf(s.Err, "gaitord: %s: %s\n", f.Dir, oneLine(f.Err.Error()))
		}
		if len(st.Failed) > 0 {
			return fmt.Errorf("%d silhouette folders gave no GEI", len(st.Failed))
		}
		return nil
	}
}

// reportOpenGait prints what an OpenGait conversion did: the GEIs written,
// what to train on, the walks left out, and each failed walk.
func reportOpenGait(s Streams, o *GEIOptions, st opengait.Stats) error {
	fmt.Fprintf(s.Out, "wrote %d GEIs under %s from %d frames (%d empty frames skipped)\n", st.GEIs, o.Out, st.FramesUsed, st.FramesSkipped)
	if st.Format == "manifest" {
		fmt.Fprintf(s.Out, "manifest %s: %d rows", st.Data, st.Rows)
		for _, reason := range slices.Sorted(maps.Keys(st.Left)) {
			fmt.Fprintf(s.Out, ", %d walks left out (%s)", st.Left[reason], reason)
		}
		if st.NoSplit > 0 {
			fmt.Fprintf(s.Out, ", %d rows in neither partition list", st.NoSplit)
		}
		fmt.Fprintln(s.Out)
	}
	train := fmt.Sprintf("--data %s --format %s", st.Data, st.Format)
	if st.Format == "oumvlp" {
		train += " (ages from " + filepath.Join(st.Data, "labels.csv") + " or data.labels)"
	}
	fmt.Fprintf(s.Out, "train on it with %s\n", train)
	if len(st.Ignored) > 0 {
		fmt.Fprintf(s.Err, "warning: %d entries of %s are not <subject>/<type>/<view>/*.pkl and were ignored (first: %s)\n", len(st.Ignored), o.Tree, st.Ignored[0])
	}
	for _, f := range st.Failed {
		fmt.Fprintf(s.Err, "gaitord: %s: %s\n", f.Dir, oneLine(f.Err.Error()))
	}
	if len(st.Failed) > 0 {
		return fmt.Errorf("%d walk folders gave no GEI", len(st.Failed))
	}
	return nil
}

package cli

import (
	"fmt"
	"os"
	"runtime"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newGEICmd(s, g, nil) })
}

// GEIOptions are the options of `gaitord gei`.
type GEIOptions struct {
	Frames  string // one folder of silhouette frames
	Video   string // a video file, or a folder of colour frames: one GEI per walker
	Masks   string // with Video: folder for each walker's silhouette frames
	Tree    string // an OU-MVLP silhouette tree
	Out     string // a GEI PNG (with Frames) or a dataset root (with Tree)
	Height  int
	Width   int
	Workers int
	// MaxPixels is the largest video frame accepted (width × height).
	MaxPixels int
	// FPS is the frame rate of a folder of colour frames (--video DIR).
	FPS float64
}

// newGEICmd builds the command; run replaces RunGEI (tests pass one to see
// the options the flags produce).
func newGEICmd(s Streams, g *Global, run func(*GEIOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *GEIOptions) error { return RunGEI(s, g, o) }
	}
	o := &GEIOptions{}
	c := &cobra.Command{
		Use:   "gei",
		Short: "Build GEIs from binary silhouette frames (one folder or an OU-MVLP tree) or from a video",
		Long: `Per frame: crop to the silhouette's bounding box, scale to the GEI height keeping the
aspect ratio, centre on the horizontal centroid; then average the frames. Empty frames
are skipped and counted. --tree converts OU-MVLP's Silhouette_<view>-<seq>/<subject>/
folders into the GEI/<view>-<seq>/<subject>.png layout, in parallel. --video finds the
people walking past a static camera in a video file (or a folder of colour frames) and
writes one GEI per walker seen for a whole gait cycle, OUT/<name>_track<N>.png, and with
--masks the silhouette frames averaged into it, MASKS/<name>_track<N>/<frame>.png
(full-frame, what --frames reads back into the same GEI); docs/video.md.`,
		Example: `  gaitord gei --frames Silhouette_090-00/00001 --out 00001.png
  gaitord gei --tree /data/OUMVLP_silhouettes --out /data/OUMVLP
  gaitord gei --video walk.mp4 --out geis/ --masks masks/`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Frames, "frames", "", "folder of silhouette frames (*.png) of one walk")
	f.StringVar(&o.Tree, "tree", "", "OU-MVLP silhouette root holding Silhouette_<view>-<seq>/ folders")
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

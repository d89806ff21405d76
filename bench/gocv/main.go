// Command gocvbench times OpenCV's silhouette steps through gocv v0.25.0
// (the only gocv version that targets an OpenCV as old as Debian 12's
// 4.6) on the frames of a video, for the comparison with gaitord's own Go
// pipeline in docs/video.md: MOG2 with shadow detection, a 3×3 median
// filter, and connected components with statistics, per frame. Frames are
// decoded by the ffmpeg program into memory first, so only those steps
// are timed. It lives in its own module so that gaitord does not depend
// on gocv or OpenCV; bench/gocv/run.sh builds and runs it.
//
//	gocvbench -frames 240 footage.mp4
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

func main() {
	n := flag.Int("frames", 240, "frames to time")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gocvbench [-frames N] VIDEO")
		os.Exit(2)
	}
	path := flag.Arg(0)
	w, h, err := size(path)
	if err != nil {
		fail(err)
	}
	frames, err := decode(path, w, h, *n)
	if err != nil {
		fail(err)
	}
	mog := gocv.NewBackgroundSubtractorMOG2WithParams(180, 16, true)
	defer mog.Close()
	fg, bin, med := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	labels, stats, cents := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer func() {
		for _, m := range []gocv.Mat{fg, bin, med, labels, stats, cents} {
			m.Close()
		}
	}()
	blobs := 0
	start := time.Now()
	for _, f := range frames {
		src, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, f)
		if err != nil {
			fail(err)
		}
		mog.Apply(src, &fg)
		gocv.Threshold(fg, &bin, 200, 255, gocv.ThresholdBinary) // drop shadows (127)
		gocv.MedianBlur(bin, &med, 3)
		blobs += gocv.ConnectedComponentsWithStats(med, &labels, &stats, &cents) - 1
		src.Close()
	}
	el := time.Since(start)
	fmt.Printf("gocv %s (OpenCV %s), %d CPUs: %d frames of %dx%d in %.2f s: %.1f frames/s (%.2f ms/frame), %d blobs\n",
		gocv.Version(), gocv.OpenCVVersion(), runtime.NumCPU(), len(frames), w, h, el.Seconds(), float64(len(frames))/el.Seconds(),
		1000*el.Seconds()/float64(len(frames)), blobs)
}

// size asks ffprobe for the frame size.
func size(path string) (int, int, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	parts := strings.Split(strings.TrimSpace(string(out)), ",")
	if len(parts) != 2 {
		return 0, 0, fmt.Errorf("ffprobe %s: %q", path, out)
	}
	w, err1 := strconv.Atoi(parts[0])
	h, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("ffprobe %s: %q", path, out)
	}
	return w, h, nil
}

// decode reads up to n BGR frames (OpenCV's order) from the ffmpeg program.
func decode(path string, w, h, n int) ([][]byte, error) {
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path, "-frames:v", strconv.Itoa(n),
		"-f", "rawvideo", "-pix_fmt", "bgr24", "pipe:1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var frames [][]byte
	for len(frames) < n {
		f := make([]byte, w*h*3)
		if _, err := io.ReadFull(out, f); err != nil {
			break
		}
		frames = append(frames, f)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("ffmpeg %s: %w", path, err)
	}
	return frames, nil
}

// fail prints the error and exits.
func fail(err error) {
	fmt.Fprintln(os.Stderr, "gocvbench:", err)
	os.Exit(1)
}

// Command footage writes the synthetic benchmark footage of docs/video.md:
// two walkers crossing at 640×480, 30 fps (the footage of
// internal/video's BenchmarkAnalyze640 and TestFootageQuality), with its
// ground-truth masks and truth.json, for tools outside the Go tests such
// as bench/gocv.
//
//	go run ./bench/footage -out /tmp/footage/walk.mp4
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/synth"
)

func main() {
	out := flag.String("out", "footage/walk.mp4", "video to write; masks/ and truth.json go beside it")
	w := flag.Int("width", 640, "frame width")
	h := flag.Int("height", 480, "frame height")
	flag.Parse()
	p, err := ffmpeg.Find("")
	if err == nil {
		err = os.MkdirAll(filepath.Dir(*out), 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "footage:", err)
		os.Exit(1)
	}
	dir := filepath.Dir(*out)
	files := synth.FootageFiles{Video: *out, Masks: filepath.Join(dir, "masks"), Truth: filepath.Join(dir, "truth.json")}
	walker := func(id, age int, male bool, d synth.Direction, depth float64, start int) synth.WalkerSpec {
		return synth.WalkerSpec{Subject: synth.NewSubject(id, age, male, uint64(id)*7919), Direction: d, Depth: depth, Start: start}
	}
	truth, err := synth.WriteFootage(context.Background(), p, files, synth.FootageOptions{Width: *w, Height: *h, Seed: 3,
		Walkers: []synth.WalkerSpec{walker(1, 35, true, synth.LeftToRight, 5, 0), walker(2, 8, false, synth.RightToLeft, 6.5, 20)}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "footage:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s: %d frames of %dx%d at %d fps, %d walkers\n", *out, truth.Frames, truth.Width, truth.Height, truth.FPS, len(truth.Walkers))
}

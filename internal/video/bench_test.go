package video

import (
	"context"
	"runtime"
	"testing"

	"github.com/gaitord/gaitord/internal/synth"
)

// BenchmarkAnalyze640 times decoding + silhouettes + tracking + GEIs on
// 640×480 synthetic footage at 30 fps (two walkers crossing, 270
// frames) and reports frames/s and the peak Go heap in use (sampled
// every 10 frames) in MiB.
//
//	go test -run - -bench Analyze640 -benchtime 3x ./internal/video/
func BenchmarkAnalyze640(b *testing.B) {
	files, truth := footage(b, "bench.mp4", synth.FootageOptions{Width: 640, Height: 480, Seed: 3, Walkers: []synth.WalkerSpec{
		walker(1, 35, true, synth.LeftToRight, 5, 0),
		walker(2, 8, false, synth.RightToLeft, 6.5, 20),
	}})
	var peak uint64
	var ms runtime.MemStats
	opts := Options{Progress: func(i int) {
		if i%10 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := Analyze(context.Background(), files.Video, opts)
		if err != nil || len(res.Tracks) != 2 {
			b.Fatalf("%d tracks, %v", len(res.Tracks), err)
		}
	}
	b.ReportMetric(float64(truth.Frames*b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

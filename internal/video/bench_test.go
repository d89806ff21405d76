package video

import (
	"context"
	"runtime"
	"testing"

	"github.com/gaitord/gaitord/internal/ffmpeg"
)

// BenchmarkAnalyze640 times decoding + silhouettes + tracking + GEIs on
// 640×480 synthetic footage at 30 fps (two walkers crossing, 270
// frames) and reports frames/s and the peak Go heap in use (sampled
// every 10 frames) in MiB.
//
//	go test -run - -bench Analyze640 -benchtime 3x ./internal/video/
func BenchmarkAnalyze640(b *testing.B) {
	files, truth := footage(b, "bench.mp4", crossing())
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

// BenchmarkSegment640 times the silhouette steps alone (background model,
// shadows, edges, majority filter, components, holes, grouping) on the
// frames of the 640×480 footage, decoded into memory first: the part
// that bench/gocv times through OpenCV. It reports frames/s.
//
//	go test -run - -bench Segment640 ./internal/video/
func BenchmarkSegment640(b *testing.B) {
	files, _ := footage(b, "bench.mp4", crossing())
	p, err := ffmpeg.Find("")
	if err != nil {
		b.Fatal(err)
	}
	d, err := p.Open(context.Background(), files.Video, ffmpeg.DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	for len(frames) < 240 {
		f, err := d.Next()
		if err != nil {
			break
		}
		frames = append(frames, append([]byte(nil), f...))
	}
	d.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seg := newSegmenter(640, 480, 30, runtime.NumCPU())
		for _, f := range frames {
			seg.frame(f)
		}
	}
	b.ReportMetric(float64(len(frames)*b.N)/b.Elapsed().Seconds(), "frames/s")
}

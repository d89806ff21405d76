package ffmpeg

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
)

// BenchmarkDecode640 compares, on a 640×480 H.264 file of 300 frames
// (FFmpeg's testsrc2 pattern with sensor-like noise), ffmpeg decoding and
// converting to RGB with nothing after it ("ffmpeg-only", the most a
// libav* binding could reach) against the same through the pipe into Go
// ("pipe"). It reports frames/s.
//
//	go test -run - -bench Decode640 ./internal/ffmpeg/
func BenchmarkDecode640(b *testing.B) {
	p := programs(b)
	path := filepath.Join(b.TempDir(), "bench.mp4")
	ffmpegRun(b, p, "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30,noise=alls=8:allf=t", "-frames:v", "300",
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p", path)
	const frames = 300
	b.Run("ffmpeg-only", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			cmd := exec.Command(p.FFmpeg, "-nostdin", "-v", "error", "-i", "file:"+path, "-map", "0:v:0",
				"-fps_mode", "cfr", "-r", "30/1", "-vf", "scale=640:480", "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
		b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
	})
	b.Run("pipe", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			d, err := p.Open(context.Background(), path, DecodeOptions{})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			var sum byte
			for {
				f, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				sum += f[len(f)/2]
				n++
			}
			d.Close()
			if n != frames {
				b.Fatalf("%d frames", n)
			}
		}
		b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
	})
}

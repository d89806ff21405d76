package dataset

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// geiLike draws a GEI-like blob: bright body, soft edges, varying with i.
func geiLike(i, h, w int) func(x, y int) uint8 {
	return func(x, y int) uint8 {
		dx := float64(x-w/2) / (8 + float64(i%5))
		dy := float64(y-h/2) / 28
		v := 255 * math.Exp(-(dx*dx + dy*dy*dy*dy))
		return uint8(v) &^ uint8((x*y+i)%3)
	}
}

// BenchmarkLoader measures GEIs/s through the Loader: 512 real 64×44 PNG
// files on disk, decoded with image/png and converted to float32 by
// decodePNG, 2 workers, batches of 64, shuffle and flip on. One op is one epoch.
func BenchmarkLoader(b *testing.B) {
	const n, h, w = 512, 64, 44
	dir := b.TempDir()
	samples := make([]Sample, n)
	for i := range samples {
		p := filepath.Join(dir, fmt.Sprintf("%05d.png", i))
		writePNG(b, p, w, h, geiLike(i, h, w))
		samples[i] = Sample{Path: p, Age: i % 90}
	}
	l := NewLoader(samples, LoaderOptions{BatchSize: 64, Shuffle: true, Flip: true, Workers: 2, Prefetch: 4, H: h, W: w, Decode: decodePNG})
	defer l.Close()
	epoch := 0
	b.ResetTimer()
	for b.Loop() {
		got := 0
		for bt := range l.Epoch(epoch) {
			if bt.Err != nil {
				b.Fatal(bt.Err)
			}
			got += len(bt.Indices)
		}
		if got != n {
			b.Fatalf("%d samples", got)
		}
		epoch++
	}
	b.ReportMetric(float64(n*epoch)/b.Elapsed().Seconds(), "GEIs/s")
}

// BenchmarkOpenOUMVLP measures scanning an OU-MVLP tree of 14 views × 2 seqs
// × 2000 subjects (56,000 empty files). One op opens the whole tree.
func BenchmarkOpenOUMVLP(b *testing.B) {
	const subjects = 2000
	root := b.TempDir()
	var labels strings.Builder
	labels.WriteString("ID,gender,age\n")
	for id := 1; id <= subjects; id++ {
		fmt.Fprintf(&labels, "%d,%s,%d\n", id, []string{"M", "F"}[id%2], id%90)
	}
	writeFile(b, filepath.Join(root, "labels.csv"), labels.String())
	for _, v := range OUMVLPViews {
		for _, s := range OUMVLPSeqs {
			d := filepath.Join(root, "GEI", v+"-"+s)
			if err := os.MkdirAll(d, 0o755); err != nil {
				b.Fatal(err)
			}
			for id := 1; id <= subjects; id++ {
				if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%05d.png", id)), nil, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		ds, err := OpenOUMVLP(root, OUMVLPOptions{})
		if err != nil || len(ds.Samples) != 14*2*subjects || ds.Report.Err() != nil {
			b.Fatalf("%v %d %v", err, len(ds.Samples), ds.Report.Err())
		}
	}
	b.ReportMetric(float64(14*2*subjects)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkDecodePNG is the single-goroutine baseline for BenchmarkLoader:
// decodePNG on one 64×44 PNG.
func BenchmarkDecodePNG(b *testing.B) {
	p := filepath.Join(b.TempDir(), "g.png")
	writePNG(b, p, 44, 64, geiLike(3, 64, 44))
	for b.Loop() {
		if _, err := decodePNG(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "GEIs/s")
}

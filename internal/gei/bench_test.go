package gei

import (
	"image"
	"testing"
)

// BenchmarkLoad measures Load on a 64×44 GEI (direct conversion) and on a
// 128×88 GEI scaled to 64×44, reported as GEIs/s.
func BenchmarkLoad(b *testing.B) {
	cases := []struct {
		name string
		w, h int
	}{{"64x44", 44, 64}, {"128x88to64x44", 88, 128}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			img := grayImage(c.w, c.h, func(x, y int) uint8 {
				if x > c.w/4 && x < 3*c.w/4 && y > c.h/10 {
					return uint8(128 + (x*y)%128)
				}
				return 0
			})
			path := writePNG(b, b.TempDir(), "gei.png", image.Image(img))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := Load(path, DefaultSize); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "GEIs/s")
		})
	}
}

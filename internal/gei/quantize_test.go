package gei

import (
	"path/filepath"
	"testing"
)

// TestQuantizeIsWhatThePNGHolds: a quantized GEI written and read back is
// the same float32 values, and quantizing again changes nothing.
func TestQuantizeIsWhatThePNGHolds(t *testing.T) {
	size := Size{H: 64, W: 44}
	g := make([]float32, size.H*size.W)
	for k := range g {
		g[k] = float32(k%997) / 996 * 1.02 // a little over 1 at the top
	}
	g[5] = -0.1
	Quantize(g)
	path := filepath.Join(t.TempDir(), "g.png")
	if err := WritePNG(path, g, size); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path, size)
	if err != nil {
		t.Fatal(err)
	}
	for k := range g {
		if back[k] != g[k] {
			t.Fatalf("value %d: quantized %v, read back %v", k, g[k], back[k])
		}
	}
	if g[5] != 0 || g[996] != 1 || g[4] != float32(1)/255 {
		t.Errorf("clamping or rounding: %v %v %v", g[5], g[996], g[4])
	}
	again := append([]float32(nil), g...)
	Quantize(again)
	for k := range g {
		if again[k] != g[k] {
			t.Fatalf("quantizing twice changed value %d", k)
		}
	}
}

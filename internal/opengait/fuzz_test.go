package opengait

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: no input may panic, not even
// inside the pickle library (where Decode recovers); a success must give
// T, H, W ≥ 1 with T·H·W pixels; a refusal must be one short line wrapping
// one of the package's sentinel errors. Seeds: the hostile pickles
// of TestDecodeRefusesHostile, hand-built arrays, and testdata/fuzz/FuzzDecode
// (pickles written by Debian's NumPy 1.24 with protocols 2 to 5, C and
// Fortran order, and NumPy 2.x module names).
func FuzzDecode(f *testing.F) {
	for _, h := range hostile {
		f.Add([]byte(h.data))
	}
	f.Add(npPickle([]int{2, 3, 4}, "u1", false, counting(24)))
	f.Add(npPickle([]int{2, 3, 4}, "u1", true, counting(24)))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode("fuzz.pkl", data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrCallable) && !errors.Is(err, ErrNotSilhouettes) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
				t.Fatalf("error spans lines or runs long: %q", err)
			}
			if strings.Contains(err.Error(), "the pickle library failed") {
				t.Fatalf("the scan let through a stream the library panics on: %v", err)
			}
			return
		}
		if fr.T < 1 || fr.H < 1 || fr.W < 1 || len(fr.Pix) != fr.T*fr.H*fr.W {
			t.Fatalf("frames %dx%dx%d with %d pixels", fr.T, fr.H, fr.W, len(fr.Pix))
		}
	})
}

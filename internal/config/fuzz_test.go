package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary bytes as a configuration file: Load must never
// panic, its errors must be one line naming the file, and whatever it accepts
// must pass Validate and survive WriteYAML → Load unchanged. GAITORD_*
// variables are cleared so that only the file counts. Seeds:
// testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); strings.HasPrefix(k, EnvPrefix+"_") {
			f.Setenv(k, "")
		}
	}
	if b, err := os.ReadFile("../../configs/default.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("train:\n  batch_size: 8\n  epochs: 1e2\ndata:\n  views: [090, '000']\n  synth:\n    views: [0, 90]\n"))
	f.Add([]byte("model: {input_height: 128, input_width: 88, k: 80}\noptim: {lr: 1e-3, betas: [0.5, 0.9]}\n"))
	f.Add([]byte("train: [\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.yaml")
	back := filepath.Join(dir, "back.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path, nil)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "config "+path+": ") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a config that Validate refuses: %v", err)
		}
		if err := c.WriteYAML(back); err != nil {
			t.Fatalf("WriteYAML: %v", err)
		}
		again, err := Load(back, nil)
		if err != nil {
			t.Fatalf("an accepted config does not load back: %v", err)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, again)
		}
	})
}

package data

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/config"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/synth"
)

func load(t *testing.T, sets ...string) config.Config {
	t.Helper()
	c, err := config.Load("", sets)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The synthetic dataset is generated into its cache folder once, then read
// from there; the decoder reads its GEIs at the configured size.
func TestOpenSynthetic(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("GAITORD_CACHE", cache)
	c := load(t, "data.synth.subjects=6", "data.synth.views=0,90")
	var log bytes.Buffer
	ds, err := Open(c, Options{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	dir := synth.CacheDir(cache, SynthOptions(c))
	if ds.Root != dir || ds.Format != "oumvlp" || len(ds.Samples) != 6*2*2 {
		t.Fatalf("opened %s (%s) with %d samples, want %s with 24", ds.Root, ds.Format, len(ds.Samples), dir)
	}
	if !strings.Contains(log.String(), "generating the synthetic dataset (6 subjects) into "+dir) {
		t.Errorf("log %q", log.String())
	}
	log.Reset()
	if _, err := Open(c, Options{Log: &log}); err != nil || log.Len() != 0 {
		t.Fatalf("second Open: %v, log %q (want no generation)", err, log.String())
	}
	img, err := Decoder(c)(ds.Samples[0].Path)
	if err != nil || len(img) != 64*44 {
		t.Fatalf("decoded %d values, %v", len(img), err)
	}
	want, _ := gei.Load(ds.Samples[0].Path, gei.Size{H: 64, W: 44})
	for i := range want {
		if img[i] != want[i] {
			t.Fatalf("Decoder differs from gei.Load at %d", i)
		}
	}
	// data.views filters the views read.
	ds, err = Open(load(t, "data.synth.subjects=6", "data.synth.views=0,90", "data.views=090"), Options{})
	if err != nil || len(ds.Samples) != 12 || ds.Samples[0].View != "090" {
		t.Fatalf("data.views=090: %d samples, %v", len(ds.Samples), err)
	}
}

func TestOpenOtherFormats(t *testing.T) {
	for _, c := range []struct{ format, want string }{
		{"oumvlp", "data.root is empty: give --data DIR (the OU-MVLP root holding GEI/)"},
		{"oulp-age", "data.root is empty: give --data DIR (the OULP-Age root holding GEI/)"},
		{"manifest", "data.root is empty: give --data FILE.csv (a manifest with path,age,gender)"},
	} {
		if _, err := Open(load(t, "data.format="+c.format), Options{}); err == nil || err.Error() != c.want {
			t.Errorf("%s without a root: %v", c.format, err)
		}
	}
	cfg := load(t)
	cfg.Data.Format = "tfrecord" // past Validate, as a caller could build it
	if _, err := Open(cfg, Options{}); err == nil || !strings.Contains(err.Error(), `data.format "tfrecord"`) {
		t.Errorf("unknown format: %v", err)
	}
	// A manifest is opened with data.allow_outside_root.
	dir := t.TempDir()
	sub := filepath.Join(dir, "m")
	os.MkdirAll(sub, 0o755)
	if err := synth.Ensure(filepath.Join(dir, "s"), synth.Options{Subjects: 2, Views: []int{90}, Seqs: 1, Seed: 1}, nil, nil); err != nil {
		t.Fatal(err)
	}
	m := filepath.Join(sub, "m.csv")
	os.WriteFile(m, []byte("path,age,gender\n../s/GEI/090-00/00001.png,30,M\n"), 0o644)
	for allow, n := range map[string]int{"false": 0, "true": 1} {
		ds, err := Open(load(t, "data.format=manifest", "data.root="+m, "data.allow_outside_root="+allow), Options{})
		if err != nil || len(ds.Samples) != n || ds.Source != m {
			t.Errorf("allow_outside_root=%s: %+v, %v", allow, ds, err)
		}
	}
}

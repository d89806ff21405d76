package synth

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/internal/gei"
)

func TestCacheDir(t *testing.T) {
	o := Options{Subjects: 400, Views: []int{0, 30, 60, 90}, Seed: 1, MinAge: 2, MaxAge: 80, Size: gei.Size{H: 64, W: 44}}
	// The name of the default dataset's folder is pinned: caches made by
	// earlier builds keep being found. sha256("v1 400 [0 30 60 90] 1 2 80 64x44")[:6]
	if got := CacheDir("/c", o); got != "/c/synth-bf2622a5059d" {
		t.Fatalf("CacheDir = %s", got)
	}
	seen := map[string]bool{CacheDir("/c", o): true}
	for _, mod := range []func(*Options){
		func(o *Options) { o.Subjects = 401 },
		func(o *Options) { o.Views = []int{0, 30, 60} },
		func(o *Options) { o.Seed = 2 },
		func(o *Options) { o.MinAge = 3 },
		func(o *Options) { o.MaxAge = 79 },
		func(o *Options) { o.Size = gei.LargeSize },
	} {
		m := o
		mod(&m)
		d := CacheDir("/c", m)
		if seen[d] {
			t.Errorf("options %+v share the folder %s", m, d)
		}
		seen[d] = true
	}
	same := o
	same.Root, same.Workers = "/elsewhere", 7
	if CacheDir("/c", same) != CacheDir("/c", o) {
		t.Error("Root and Workers must not change the folder")
	}
	t.Setenv("GAITORD_CACHE", "/my/cache")
	if CacheBase() != "/my/cache" {
		t.Errorf("CacheBase with GAITORD_CACHE = %s", CacheBase())
	}
}

func TestEnsureGeneratesOnce(t *testing.T) {
	o := Options{Subjects: 4, Views: []int{90}, Seqs: 1, Seed: 5, Workers: 2}
	dir := filepath.Join(t.TempDir(), "nested", "synth-x")
	var log bytes.Buffer
	if err := Ensure(dir, o, &log, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "generating the synthetic dataset (4 subjects) into "+dir) {
		t.Errorf("log %q", log.String())
	}
	// The same files as Generate writes directly, and no temporary folder left.
	ref := o
	ref.Root = t.TempDir()
	if _, err := Generate(ref, nil); err != nil {
		t.Fatal(err)
	}
	got, want := readTree(t, dir), readTree(t, ref.Root)
	if len(got) != len(want) || len(got) != 4+1 {
		t.Fatalf("%d files, want %d", len(got), len(want))
	}
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s differs from Generate's", name)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(dir)); len(ents) != 1 {
		t.Errorf("cache parent holds %d entries, want only the dataset", len(ents))
	}
	// Complete: a second call generates nothing.
	if err := os.Remove(filepath.Join(dir, "GEI", "090-00", "00001.png")); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	if err := Ensure(dir, o, &log, nil); err != nil || log.Len() != 0 {
		t.Fatalf("second Ensure: %v, log %q", err, log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "GEI", "090-00", "00001.png")); err == nil {
		t.Error("second Ensure regenerated a complete dataset")
	}
	// An unusable cache folder is an error naming it.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	bad := filepath.Join(file, "synth-y")
	if err := Ensure(bad, o, nil, nil); err == nil || !strings.Contains(err.Error(), "synthetic data cache "+bad) {
		t.Errorf("Ensure under a file: %v", err)
	}
}

package dataset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
)

const tH, tW = 4, 6

// loaderSamples writes n 6×4 PNGs whose pixel (x, y) is (i*7 + x*3 + y*11) mod 256.
func loaderSamples(t testing.TB, n int) []Sample {
	dir := t.TempDir()
	var s []Sample
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("%03d.png", i))
		tinyPNG(t, p, i)
		s = append(s, Sample{Path: p, Age: i, Gender: []api.Gender{api.Female, api.Male}[i%2], Subject: fmt.Sprint(i)})
	}
	return s
}

// wantPixel is the value decodePNG yields for sample i at (x, y).
func wantPixel(i, x, y int) float32 { return float32(uint8(i*7+x*3+y*11)) / 255 }

// jitter wraps decode with random delays so workers finish out of order.
func jitter(decode func(string) ([]float32, error)) func(string) ([]float32, error) {
	return func(p string) ([]float32, error) {
		time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
		return decode(p)
	}
}

func collect(t *testing.T, l *Loader, epoch int) []Batch {
	t.Helper()
	var out []Batch
	for b := range l.Epoch(epoch) {
		if b.Err != nil {
			t.Fatalf("batch %d: %v", len(out), b.Err)
		}
		out = append(out, b)
	}
	if len(out) != l.NumBatches() {
		t.Errorf("got %d batches, NumBatches() = %d", len(out), l.NumBatches())
	}
	return out
}

func TestLoaderDeterministicAcrossWorkers(t *testing.T) {
	samples := loaderSamples(t, 37)
	run := func(workers, prefetch int, seed int64, epoch int) []Batch {
		l := NewLoader(samples, LoaderOptions{BatchSize: 5, Shuffle: true, Seed: seed, Workers: workers, Prefetch: prefetch,
			Flip: true, H: tH, W: tW, Decode: jitter(decodePNG)})
		defer l.Close()
		return collect(t, l, epoch)
	}
	ref := run(1, 1, 42, 3)
	if len(ref) != 8 || len(ref[7].Indices) != 2 {
		t.Fatalf("batches %d, last %d", len(ref), len(ref[len(ref)-1].Indices))
	}
	for _, c := range []struct{ workers, prefetch int }{{2, 2}, {5, 3}, {16, 8}} {
		got := run(c.workers, c.prefetch, 42, 3)
		for i := range ref {
			if !slices.Equal(got[i].Indices, ref[i].Indices) || !slices.Equal(got[i].Images, ref[i].Images) ||
				!slices.Equal(got[i].Ages, ref[i].Ages) || !slices.Equal(got[i].Genders, ref[i].Genders) {
				t.Fatalf("workers %d: batch %d differs", c.workers, i)
			}
		}
	}
	order := func(bs []Batch) []int {
		var o []int
		for _, b := range bs {
			o = append(o, b.Indices...)
		}
		return o
	}
	// The permutation is rand.NewPCG(seed, epoch)'s.
	if want := rand.New(rand.NewPCG(42, 3)).Perm(37); !slices.Equal(order(ref), want) {
		t.Errorf("order %v, want %v", order(ref), want)
	}
	if slices.Equal(order(ref), order(run(2, 2, 42, 4))) {
		t.Error("epochs 3 and 4 have the same order")
	}
	if slices.Equal(order(ref), order(run(2, 2, 43, 3))) {
		t.Error("seeds 42 and 43 have the same order")
	}
	// Labels follow their samples.
	for _, b := range ref {
		for s, i := range b.Indices {
			if b.Ages[s] != i || b.Genders[s] != []api.Gender{api.Female, api.Male}[i%2] {
				t.Fatalf("slot %d of sample %d: age %d gender %s", s, i, b.Ages[s], b.Genders[s])
			}
		}
	}
}

func TestLoaderEverySampleOnceAndDropLast(t *testing.T) {
	samples := loaderSamples(t, 37)
	for _, shuffle := range []bool{false, true} {
		for _, drop := range []bool{false, true} {
			l := NewLoader(samples, LoaderOptions{BatchSize: 8, Shuffle: shuffle, Seed: 1, DropLast: drop, Workers: 3, H: tH, W: tW, Decode: decodePNG})
			bs := collect(t, l, 0)
			l.Close()
			wantBatches, wantSeen := 5, 37
			if drop {
				wantBatches, wantSeen = 4, 32
			}
			if len(bs) != wantBatches {
				t.Fatalf("shuffle %v drop %v: %d batches", shuffle, drop, len(bs))
			}
			seen := map[int]int{}
			for k, b := range bs {
				n := len(b.Indices)
				if want := min(8, 37-8*k); n != want || len(b.Images) != n*tH*tW || len(b.Ages) != n || len(b.Genders) != n {
					t.Fatalf("batch %d sizes: %d indices, %d values", k, n, len(b.Images))
				}
				for s, i := range b.Indices {
					seen[i]++
					img := b.Images[s*tH*tW : (s+1)*tH*tW]
					if img[0] != wantPixel(i, 0, 0) || img[tH*tW-1] != wantPixel(i, tW-1, tH-1) {
						t.Fatalf("slot %d holds the wrong image for sample %d", s, i)
					}
				}
			}
			if len(seen) != wantSeen {
				t.Errorf("shuffle %v drop %v: %d distinct samples", shuffle, drop, len(seen))
			}
			for i, c := range seen {
				if c != 1 {
					t.Errorf("sample %d seen %d times", i, c)
				}
			}
			if !shuffle && bs[0].Indices[0] != 0 || !shuffle && bs[1].Indices[0] != 8 {
				t.Errorf("unshuffled order %v %v", bs[0].Indices, bs[1].Indices)
			}
		}
	}
}

func TestLoaderShards(t *testing.T) {
	for _, n := range []int{36, 37, 2} {
		samples := make([]Sample, n)
		for i := range samples {
			samples[i] = Sample{Path: fmt.Sprint(i), Age: i}
		}
		decode := func(string) ([]float32, error) { return make([]float32, tH*tW), nil }
		count := map[int]int{}
		total := 0
		per := (n + 2) / 3
		for shard := range 3 {
			l := NewLoader(samples, LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 5, Shard: shard, NumShards: 3, H: tH, W: tW, Decode: decode})
			got := 0
			for _, b := range collect(t, l, 2) {
				for _, i := range b.Indices {
					count[i]++
					got++
				}
			}
			l.Close()
			if got != per {
				t.Errorf("n=%d shard %d: %d samples, want %d", n, shard, got, per)
			}
			total += got
		}
		if len(count) != n {
			t.Errorf("n=%d: shards cover %d samples", n, len(count))
		}
		if total != 3*per {
			t.Errorf("n=%d: total %d", n, total)
		}
		dups := 0
		for _, c := range count {
			dups += c - 1
		}
		if dups != 3*per-n {
			t.Errorf("n=%d: %d repeated samples, want %d (padding only)", n, dups, 3*per-n)
		}
	}
	for _, o := range []LoaderOptions{{Shard: 3, NumShards: 3}, {Shard: -1, NumShards: 2}, {NumShards: -2}} {
		o.BatchSize, o.H, o.W, o.Decode = 1, 1, 1, decodePNG
		l := NewLoader(nil, o)
		b := <-l.Epoch(0)
		if b.Err == nil || !strings.Contains(b.Err.Error(), "shard") || l.NumBatches() != 0 {
			t.Errorf("%+v: err %v", o, b.Err)
		}
	}
}

func TestLoaderFlip(t *testing.T) {
	samples := loaderSamples(t, 40)
	const seed, epoch = 9, 1
	l := NewLoader(samples, LoaderOptions{BatchSize: 7, Flip: true, Seed: seed, Workers: 2, H: tH, W: tW, Decode: decodePNG})
	defer l.Close()
	flipped := 0
	for _, b := range collect(t, l, epoch) {
		for s, i := range b.Indices {
			img := b.Images[s*tH*tW:]
			f := FlipDecision(seed, epoch, i)
			if f {
				flipped++
			}
			for y := range tH {
				for x := range tW {
					sx := x
					if f {
						sx = tW - 1 - x
					}
					if got := img[y*tW+x]; got != wantPixel(i, sx, y) {
						t.Fatalf("sample %d flip %v: pixel (%d,%d) = %v, want %v", i, f, x, y, got, wantPixel(i, sx, y))
					}
				}
			}
		}
	}
	if flipped < 10 || flipped > 30 {
		t.Errorf("%d of 40 flipped", flipped)
	}
	// The decision depends on the epoch; without Flip nothing is mirrored.
	same := 0
	for i := range 200 {
		if FlipDecision(seed, 1, i) == FlipDecision(seed, 2, i) {
			same++
		}
	}
	if same < 70 || same > 130 {
		t.Errorf("flip decisions of epochs 1 and 2 agree on %d of 200", same)
	}
	l2 := NewLoader(samples, LoaderOptions{BatchSize: 40, H: tH, W: tW, Decode: decodePNG})
	defer l2.Close()
	b := collect(t, l2, epoch)[0]
	for i := range 40 {
		if b.Images[i*tH*tW] != wantPixel(i, 0, 0) {
			t.Fatalf("sample %d mirrored without Flip", i)
		}
	}
}

func TestLoaderErrors(t *testing.T) {
	samples := loaderSamples(t, 10)
	samples[2].Path += ".gone"
	samples[3].Path += ".gone"
	samples[5].Path += ".gone"
	wrong := filepath.Join(t.TempDir(), "wrong.png")
	writePNG(t, wrong, 5, 5, func(x, y int) uint8 { return 0 })
	samples[8].Path = wrong
	l := NewLoader(samples, LoaderOptions{BatchSize: 4, Workers: 3, H: tH, W: tW, Decode: decodePNG})
	defer l.Close()
	var errs []error
	for b := range l.Epoch(0) {
		errs = append(errs, b.Err)
		if b.Err != nil && b.Indices[0] == 0 {
			// The good slots are still filled.
			if b.Images[0] != wantPixel(0, 0, 0) || b.Images[3*tH*tW] != 0 {
				t.Errorf("slots of failed batch: %v, %v", b.Images[0], b.Images[3*tH*tW])
			}
		}
	}
	if len(errs) != 3 || errs[1] == nil || errs[2] == nil {
		t.Fatalf("errors %v", errs)
	}
	if !strings.Contains(errs[0].Error(), "sample 2: open "+samples[2].Path) || !strings.Contains(errs[0].Error(), "(and 1 more failed samples in this batch)") ||
		!errors.Is(errs[0], fs.ErrNotExist) {
		t.Errorf("batch 0 error: %v", errs[0])
	}
	if errs[1].Error() != "sample 5: open "+samples[5].Path+": no such file or directory" {
		t.Errorf("batch 1 error: %v", errs[1])
	}
	if !strings.Contains(errs[2].Error(), "sample 8: "+wrong+": decoded 25 values, want 24 (4x6)") {
		t.Errorf("batch 2 error: %v", errs[2])
	}
	// Decode errors that do not name the file get its name; panics become errors.
	l2 := NewLoader(samples[:2], LoaderOptions{BatchSize: 2, H: tH, W: tW, Decode: func(p string) ([]float32, error) {
		if p == samples[1].Path {
			panic("boom")
		}
		return nil, errors.New("bad pixels")
	}})
	defer l2.Close()
	b := <-l2.Epoch(0)
	if b.Err == nil || b.Err.Error() != "sample 0: decode "+samples[0].Path+": bad pixels (and 1 more failed samples in this batch)" {
		t.Errorf("err %v", b.Err)
	}
	// Invalid options.
	for _, c := range []struct {
		o    LoaderOptions
		want string
	}{
		{LoaderOptions{BatchSize: 1, H: 1, W: 1}, "Decode is nil"},
		{LoaderOptions{BatchSize: 0, H: 1, W: 1, Decode: decodePNG}, "BatchSize 0 is not positive"},
		{LoaderOptions{BatchSize: 1, H: 0, W: 1, Decode: decodePNG}, "image size 0x1 is not positive"},
		{LoaderOptions{BatchSize: 1 << 20, H: 1 << 10, W: 1 << 10, Decode: decodePNG}, "too large"},
	} {
		l := NewLoader(samples, c.o)
		var got []Batch
		for b := range l.Epoch(0) {
			got = append(got, b)
		}
		if len(got) != 1 || got[0].Err == nil || !strings.Contains(got[0].Err.Error(), c.want) || l.Err() == nil {
			t.Errorf("%+v: %v", c.o, got)
		}
	}
}

// waitGoroutines waits until the goroutine count is back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, want %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLoaderNoLeak(t *testing.T) {
	samples := loaderSamples(t, 60)
	opts := LoaderOptions{BatchSize: 4, Shuffle: true, Workers: 4, Prefetch: 3, H: tH, W: tW, Decode: jitter(decodePNG)}
	base := runtime.NumGoroutine()

	// Early break, then Close.
	l := NewLoader(samples, opts)
	for range l.Epoch(0) {
		break
	}
	ch := l.Epoch(1) // never read
	if runtime.NumGoroutine() <= base {
		t.Fatal("no goroutines started")
	}
	l.Close()
	waitGoroutines(t, base)
	for range ch { // closed by Close
	}
	if b := <-l.Epoch(2); !errors.Is(b.Err, ErrClosed) {
		t.Errorf("Epoch after Close: %v", b.Err)
	}
	l.Close() // idempotent

	// Context cancellation closes the channel.
	l = NewLoader(samples, opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := 0
	for b := range l.EpochContext(ctx, 0) {
		if b.Err != nil {
			t.Fatal(b.Err)
		}
		got++
		if got == 2 {
			cancel()
		}
	}
	if got >= l.NumBatches() {
		t.Errorf("cancel did not stop the epoch: %d batches", got)
	}
	waitGoroutines(t, base)

	// A full epoch leaves nothing behind even without Close.
	collect(t, l, 3)
	waitGoroutines(t, base)
}

func TestLoaderPrefetchBound(t *testing.T) {
	samples := loaderSamples(t, 40)
	var calls atomic.Int64
	decode := func(p string) ([]float32, error) { calls.Add(1); return decodePNG(p) }
	const bs, prefetch = 4, 2
	l := NewLoader(samples, LoaderOptions{BatchSize: bs, Workers: 4, Prefetch: prefetch, H: tH, W: tW, Decode: decode})
	defer l.Close()
	ch := l.Epoch(0)
	deadline := time.Now().Add(3 * time.Second)
	for calls.Load() < bs*prefetch && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != bs*prefetch {
		t.Fatalf("with no consumer, %d decodes, want %d (Prefetch batches)", n, bs*prefetch)
	}
	<-ch // one batch received frees one slot: one more batch is decoded
	deadline = time.Now().Add(3 * time.Second)
	for calls.Load() < bs*(prefetch+1) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := calls.Load(); n != bs*(prefetch+1) {
		t.Fatalf("after one receive, %d decodes, want %d", n, bs*(prefetch+1))
	}
}

func TestLoaderEmpty(t *testing.T) {
	l := NewLoader(nil, LoaderOptions{BatchSize: 3, H: 1, W: 1, Decode: decodePNG, NumShards: 2, Shuffle: true})
	defer l.Close()
	if n := len(collect(t, l, 0)); n != 0 {
		t.Errorf("%d batches from no samples", n)
	}
}

package dataset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gaitord/gaitord/api"
)

// ErrClosed is delivered as Batch.Err by Epoch on a closed Loader.
var ErrClosed = errors.New("dataset: loader is closed")

// DefaultPrefetch is the number of batches in flight when LoaderOptions.Prefetch is 0.
const DefaultPrefetch = 2

// LoaderOptions configures a Loader.
type LoaderOptions struct {
	// BatchSize is the number of samples per batch (> 0).
	BatchSize int
	// Shuffle draws a new permutation per epoch from rand.NewPCG(Seed, epoch).
	Shuffle bool
	// Seed seeds shuffling and flipping.
	Seed int64
	// DropLast drops the final incomplete batch.
	DropLast bool
	// Workers is the number of decoding goroutines (GOMAXPROCS if <= 0).
	Workers int
	// Prefetch is the maximum number of batches being decoded or waiting to
	// be received (DefaultPrefetch if <= 0).
	Prefetch int
	// Flip mirrors each image horizontally with probability 1/2; the
	// decision is a function of (Seed, epoch, sample index).
	Flip bool
	// H and W are the image height and width; Decode must return H*W values.
	H, W int
	// Decode reads one image as H*W row-major float32 values.
	Decode func(path string) ([]float32, error)
	// Shard and NumShards select one shard, with PyTorch DistributedSampler
	// semantics: the epoch's order is padded by repeating its start to a
	// multiple of NumShards and shard k takes positions k, k+NumShards, …
	// All shards get the same number of samples. Default 0 of 1.
	Shard, NumShards int
}

// Batch is one batch of samples. Images holds len(Indices) images of H*W
// values, row-major, one after the other.
type Batch struct {
	// Images is N*H*W values, image after image.
	Images []float32
	// Ages are the samples' ages.
	Ages []int
	// Genders are the samples' genders.
	Genders []api.Gender
	// Indices are the samples' positions in the Loader's sample slice.
	Indices []int
	// Err is non-nil if some images could not be decoded (their slots in
	// Images are zero); it names the first failing file and wraps its error.
	Err error
}

// Loader delivers batches of decoded images, in a deterministic order, with
// parallel decoding and a bounded number of batches in memory.
type Loader struct {
	samples []Sample
	o       LoaderOptions
	err     error

	mu      sync.Mutex
	closed  bool
	cancels map[int]context.CancelFunc
	next    int
	wg      sync.WaitGroup
}

// NewLoader returns a Loader over a copy of samples. Invalid options (no
// Decode, BatchSize or H or W not positive, bad shard) do not panic: every
// Epoch then yields a single Batch whose Err describes them.
func NewLoader(samples []Sample, o LoaderOptions) *Loader {
	l := &Loader{samples: slices.Clone(samples), o: o, cancels: make(map[int]context.CancelFunc)}
	if l.o.Workers <= 0 {
		l.o.Workers = runtime.GOMAXPROCS(0)
	}
	if l.o.Prefetch <= 0 {
		l.o.Prefetch = DefaultPrefetch
	}
	if l.o.NumShards == 0 {
		l.o.NumShards = 1
	}
	var problems []string
	if o.Decode == nil {
		problems = append(problems, "Decode is nil")
	}
	if o.BatchSize <= 0 {
		problems = append(problems, fmt.Sprintf("BatchSize %d is not positive", o.BatchSize))
	}
	if o.H <= 0 || o.W <= 0 {
		problems = append(problems, fmt.Sprintf("image size %dx%d is not positive", o.H, o.W))
	} else if o.BatchSize > 0 && int64(o.H)*int64(o.W)*int64(o.BatchSize) > 1<<31 {
		problems = append(problems, fmt.Sprintf("batch of %d images of %dx%d is too large", o.BatchSize, o.H, o.W))
	}
	if l.o.NumShards < 0 || o.Shard < 0 || o.Shard >= l.o.NumShards {
		problems = append(problems, fmt.Sprintf("shard %d of %d is invalid", o.Shard, o.NumShards))
	}
	if len(problems) > 0 {
		l.err = fmt.Errorf("dataset: invalid LoaderOptions: %s", strings.Join(problems, "; "))
	}
	return l
}

// Err returns the options error, if any.
func (l *Loader) Err() error { return l.err }

// order returns this shard's sample indices for an epoch.
func (l *Loader) order(epoch int) []int {
	n := len(l.samples)
	var idx []int
	if l.o.Shuffle {
		idx = rand.New(rand.NewPCG(uint64(l.o.Seed), uint64(epoch))).Perm(n)
	} else {
		idx = make([]int, n)
		for i := range idx {
			idx[i] = i
		}
	}
	ns := l.o.NumShards
	if ns <= 1 || n == 0 {
		return idx
	}
	total := (n + ns - 1) / ns * ns
	for i := 0; len(idx) < total; i++ {
		idx = append(idx, idx[i%n])
	}
	out := make([]int, 0, total/ns)
	for i := l.o.Shard; i < total; i += ns {
		out = append(out, idx[i])
	}
	return out
}

// shardLen is the number of samples of this shard per epoch.
func (l *Loader) shardLen() int {
	n, ns := len(l.samples), max(l.o.NumShards, 1)
	return (n + ns - 1) / ns
}

// NumBatches returns the number of batches per epoch (0 if the options are invalid).
func (l *Loader) NumBatches() int {
	if l.err != nil {
		return 0
	}
	m, bs := l.shardLen(), l.o.BatchSize
	if l.o.DropLast {
		return m / bs
	}
	return (m + bs - 1) / bs
}

// Epoch is EpochContext with context.Background().
func (l *Loader) Epoch(epoch int) <-chan Batch {
	return l.EpochContext(context.Background(), epoch)
}

// EpochContext starts decoding epoch and returns the channel its batches
// arrive on, in order; the channel is closed after the last batch. The
// content and order of batches depend only on (Seed, epoch) and the options,
// not on Workers or timing. A consumer that stops early must cancel ctx or
// call Close, otherwise the loader's goroutines stay blocked. After ctx is
// cancelled the channel is closed promptly, possibly before the last batch.
func (l *Loader) EpochContext(ctx context.Context, epoch int) <-chan Batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.err != nil {
		err := l.err
		if l.closed {
			err = ErrClosed
		}
		ch := make(chan Batch, 1)
		ch <- Batch{Err: err}
		close(ch)
		return ch
	}
	ctx, cancel := context.WithCancel(ctx)
	id := l.next
	l.next++
	l.cancels[id] = cancel
	out := make(chan Batch)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.run(ctx, epoch, out)
		cancel()
		l.mu.Lock()
		delete(l.cancels, id)
		l.mu.Unlock()
	}()
	return out
}

// Close stops all running epochs and waits until their goroutines have
// exited. Later Epoch calls yield ErrClosed. Close is idempotent.
func (l *Loader) Close() error {
	l.mu.Lock()
	l.closed = true
	for _, c := range l.cancels {
		c()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// pending is a batch being decoded.
type pending struct {
	b    Batch
	mu   sync.Mutex
	left int
	errs map[int]error // slot -> error
	done chan struct{}
}

func (p *pending) finish(slot int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.errs == nil {
			p.errs = make(map[int]error)
		}
		p.errs[slot] = err
	}
	p.left--
	if p.left == 0 {
		if len(p.errs) > 0 {
			first := slices.Min(slices.Collect(maps.Keys(p.errs)))
			p.b.Err = p.errs[first]
			if len(p.errs) > 1 {
				p.b.Err = fmt.Errorf("%w (and %d more failed samples in this batch)", p.errs[first], len(p.errs)-1)
			}
		}
		close(p.done)
	}
}

type job struct {
	p    *pending
	slot int
	idx  int
}

func (l *Loader) run(ctx context.Context, epoch int, out chan<- Batch) {
	defer close(out)
	order := l.order(epoch)
	bs, hw := l.o.BatchSize, l.o.H*l.o.W
	nb := l.NumBatches()
	jobs := make(chan job, 2*l.o.Workers)
	pend := make(chan *pending, l.o.Prefetch)
	sem := make(chan struct{}, l.o.Prefetch)
	var wg sync.WaitGroup
	for range l.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := ctx.Err() // a cancelled epoch marks the rest as failed
				if err == nil {
					err = l.fill(j, epoch, hw)
				}
				j.p.finish(j.slot, err)
			}
		}()
	}
	wg.Add(1)
	go func() { // producer
		defer wg.Done()
		defer close(jobs)
		defer close(pend)
		for k := range nb {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			idxs := order[k*bs : min((k+1)*bs, len(order))]
			p := &pending{left: len(idxs), done: make(chan struct{}), b: Batch{
				Images:  make([]float32, len(idxs)*hw),
				Ages:    make([]int, len(idxs)),
				Genders: make([]api.Gender, len(idxs)),
				Indices: slices.Clone(idxs),
			}}
			for s, i := range idxs {
				p.b.Ages[s] = l.samples[i].Age
				p.b.Genders[s] = l.samples[i].Gender
			}
			pend <- p // never blocks: sem bounds pending batches to cap(pend)
			for s, i := range idxs {
				select {
				case jobs <- job{p: p, slot: s, idx: i}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
deliver:
	for p := range pend {
		select {
		case <-p.done:
		case <-ctx.Done():
			break deliver
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case out <- p.b:
		case <-ctx.Done():
			break deliver
		}
		<-sem
	}
	wg.Wait()
}

// fill decodes sample j.idx into its slot, mirroring it if required.
func (l *Loader) fill(j job, epoch, hw int) error {
	path := l.samples[j.idx].Path
	img, err := safeDecode(l.o.Decode, path)
	if err != nil {
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("decode %s: %w", path, err)
		}
		return fmt.Errorf("sample %d: %w", j.idx, err)
	}
	if len(img) != hw {
		return fmt.Errorf("sample %d: %s: decoded %d values, want %d (%dx%d)", j.idx, path, len(img), hw, l.o.H, l.o.W)
	}
	dst := j.p.b.Images[j.slot*hw : (j.slot+1)*hw]
	if l.o.Flip && FlipDecision(l.o.Seed, epoch, j.idx) {
		w := l.o.W
		for r := 0; r < l.o.H; r++ {
			src, d := img[r*w:(r+1)*w], dst[r*w:(r+1)*w]
			for c := range d {
				d[c] = src[w-1-c]
			}
		}
	} else {
		copy(dst, img)
	}
	return nil
}

// FlipDecision reports whether the Loader mirrors sample index in epoch
// when LoaderOptions.Flip is set: a fair coin that depends only on
// (seed, epoch, index).
func FlipDecision(seed int64, epoch, index int) bool {
	h := mix64(uint64(seed) ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ uint64(epoch))
	h = mix64(h ^ uint64(index))
	return h>>63 == 1
}

// mix64 is the SplitMix64 finaliser.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

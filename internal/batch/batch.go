// Package batch is the dynamic batcher of `gaitord serve`: one goroutine,
// locked to its OS thread, owns libtorch (gotorch keeps per-thread state:
// the intra-op thread count, grad mode and the tensors a GC waits for), and
// every model load and forward pass runs there. Requests from any goroutine
// queue their inputs; the owner forms batches of up to MaxBatch inputs,
// waiting at most MaxWait after the oldest queued input arrived for more to
// join, runs one forward pass per batch and fans the rows back.
//
// Contract:
//   - Submit queues all inputs of a request at once or none: when they do
//     not fit in MaxQueue it returns ErrQueueFull at once (the server answers
//     503 with Retry-After); more inputs than MaxQueue is ErrTooMany.
//   - A request whose context ends (the client went away, or its deadline
//     passed) while queued is dropped: its inputs leave the queue unrun and
//     Submit returns the context's error. Inputs already in a running batch
//     finish with it; their rows are discarded.
//   - Swap loads a new model on the owner's thread between two batches. A
//     load that fails leaves the old model serving. After a successful
//     swap, inputs queued before it still run on the old model (a request
//     is always answered by one model), and the old model is released once
//     the last of them has run.
//   - Inputs of one request may be split over consecutive batches when
//     there are more than MaxBatch of them; rows keep their order.
//   - SubmitSet is the other job kind: the GEIs of one person fused into
//     one prediction (Runner.ForwardSet, the network's set form, one pass
//     per set as `gaitord predict --fuse` runs it). A set is never split
//     nor batched with other inputs; its GEIs count against MaxQueue like
//     any input, it is dropped the same way when its context ends, and it
//     runs on the model it was prepared for. The owner runs at most one
//     set between two batches, so neither kind starves the other.
//   - With Options.Pad, a batch of n inputs runs as a forward pass of
//     PadSize(n, MaxBatch) rows, the inputs followed by zero rows whose
//     outputs are discarded, and Swap runs one forward pass of zeros at
//     every one of these Shapes, smallest first, before the new model serves
//     (a failing one refuses the model; batches wait meanwhile). The model
//     treats rows independently (eval mode: no statistic is taken over the
//     batch), so a row's prediction does not depend on the padding beyond
//     float32 rounding between batch shapes.
//
// # Why padding
//
// Without it, a busy server runs forward passes of every size from 1 to
// MaxBatch, and every new size costs memory that is never given back:
// oneDNN caches its convolution primitives per input shape (up to 1024 of
// them, ONEDNN_PRIMITIVE_CACHE_CAPACITY), and glibc's malloc, whose mmap
// threshold rises with the largest block freed, serves the activations of
// ever new sizes from its arenas and keeps the holes. Measured with
// bench/serveload at 64 clients: C heap in use +17 MB and free-but-held +76
// MB over 18,000 requests, RSS +31%, still rising. Padding alone (18
// shapes) still stepped up whenever a shape first occurred (+32% over
// 30,000 requests). With a few fixed shapes (1, 2, 4, 8, then every
// multiple of 4, and MaxBatch), all run once when a model is loaded, both
// stay flat (RSS +0.1% from 2,000 to 20,000 requests); a padded batch costs
// at most 3 rows of compute.
//
// Each forward pass is followed by gotorch's GC on the owner's thread (every
// tensor of the pass is dead by then; see infer.Batch). A load runs after
// FinishGC, so the long-lived tensors of a new model are never among those a
// GC waits for.
package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/infer"
)

// Runner is a loaded model. Its methods are called on the owner's thread
// only.
type Runner interface {
	// InputLen is the number of float32 values of one input (H·W).
	InputLen() int
	// Forward predicts n inputs laid out one after another in x.
	Forward(x []float32, n int) (infer.Output, error)
	// ForwardSet fuses the s inputs laid out one after another in x into
	// one prediction (an Output of one row; infer.Set).
	ForwardSet(x []float32, s int) (infer.Output, error)
	// Release frees the model once no queued input needs it any more.
	Release()
}

// Observer receives the scheduler's measurements (Prometheus metrics in
// `gaitord serve`). Its methods are called on the owner's thread, except
// Queue, which is also called from Submit.
type Observer interface {
	// Batch reports a forward pass of n inputs run as rows rows (rows > n
	// when padded) that took forward.
	Batch(n, rows int, forward time.Duration)
	Queue(depth int)
	Dropped(n int, reason error)
}

// Options configure a Scheduler.
type Options struct {
	MaxBatch int           // inputs per forward pass, ≥ 1
	MaxWait  time.Duration // longest wait for a batch to fill, ≥ 0
	MaxQueue int           // inputs waiting at most, ≥ MaxBatch
	Pad      bool          // run each batch at PadSize rows (see the package doc)
	Observer Observer      // nil: none
}

// PadSize is the number of rows a batch of n inputs (1 ≤ n ≤ max) runs
// with when padding: the smallest of 1, 2, 4, 8, then the multiples of 4 up
// to 64, of 8 up to 128, of 16 up to 256 (the step doubles with n, at most
// n/16), and max, that is at least n. Steps of 4 keep the waste to 3 rows
// at most where a CPU server's batches are (64 clients average about 32
// inputs: ~5% more compute) and the shapes to 18 for max 64; the doubling
// steps keep the shapes, and the warm-up passes over them, to 8 more per
// doubling of max.
func PadSize(n, max int) int {
	p := 1
	for p < n && p < 8 {
		p *= 2
	}
	if n > 8 {
		step := 4
		for step*16 < n {
			step *= 2
		}
		p = (n + step - 1) / step * step
	}
	return min(p, max)
}

// Errors of Submit, Swap and Do.
var (
	ErrQueueFull = errors.New("queue full")
	ErrTooMany   = errors.New("more inputs than the queue holds")
	ErrNoModel   = errors.New("no model loaded")
	ErrStale     = errors.New("model changed since the inputs were prepared")
	ErrClosed    = errors.New("scheduler stopped")
)

// Scheduler batches inputs for the Runner it owns.
type Scheduler[R Runner] struct {
	o    Options
	wake chan struct{} // a new input or control job (capacity 1)
	ctl  chan func()   // run on the owner's thread between batches
	done chan struct{} // closed when Run returns

	mu      sync.Mutex
	queue   []*item
	sets    []*setJob // SubmitSet jobs, in arrival order
	setLen  int       // inputs held by sets
	gen     int       // generation of the current model; 0 before the first
	runners map[int]R // the current model and any older one still needed
	closed  bool
}

type item struct {
	req *request
	idx int
	x   []float32
	gen int
	at  time.Time
}

// setJob is one SubmitSet call: s inputs, laid out one after another in x,
// fused into the one row of req.
type setJob struct {
	req *request
	x   []float32
	s   int
	gen int
}

// request is one Submit or SubmitSet call; only the owner's thread writes it until done
// is closed.
type request struct {
	ctx  context.Context
	rows []api.Prediction
	err  error
	left int
	done chan struct{}
}

// New returns a Scheduler; Run must be called for it to work.
func New[R Runner](o Options) (*Scheduler[R], error) {
	if o.MaxBatch < 1 || o.MaxWait < 0 || o.MaxQueue < o.MaxBatch {
		return nil, fmt.Errorf("batch: max batch %d, max wait %v, max queue %d: want max batch ≥ 1, max wait ≥ 0, max queue ≥ max batch",
			o.MaxBatch, o.MaxWait, o.MaxQueue)
	}
	return &Scheduler[R]{o: o, wake: make(chan struct{}, 1), ctl: make(chan func()), done: make(chan struct{}),
		runners: map[int]R{}}, nil
}

// Current returns the current model and its generation (0 and the zero R
// before the first Swap). Inputs for Submit are prepared for this model.
func (s *Scheduler[R]) Current() (gen int, r R) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, s.runners[s.gen]
}

// Depth is the number of queued inputs.
func (s *Scheduler[R]) Depth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.depthLocked()
}

// depthLocked is Depth with s.mu held: queued single inputs plus the inputs
// of queued sets.
func (s *Scheduler[R]) depthLocked() int { return len(s.queue) + s.setLen }

// Submit queues inputs prepared for model generation gen and waits for their
// predictions (infer.Output.Prediction: no Path or Source), in order. It returns ErrStale when another model was swapped in since gen (the
// caller prepares the inputs again for Current), ErrQueueFull, ErrTooMany,
// ErrNoModel, ErrClosed, the context's error, or the forward pass's error.
func (s *Scheduler[R]) Submit(ctx context.Context, gen int, inputs [][]float32) ([]api.Prediction, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	if len(inputs) > s.o.MaxQueue {
		return nil, fmt.Errorf("%w: %d inputs, queue holds %d", ErrTooMany, len(inputs), s.o.MaxQueue)
	}
	req := &request{ctx: ctx, rows: make([]api.Prediction, len(inputs)), left: len(inputs), done: make(chan struct{})}
	s.mu.Lock()
	if err := s.admitLocked(gen, inputs); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	now := time.Now()
	for i, x := range inputs {
		s.queue = append(s.queue, &item{req: req, idx: i, x: x, gen: gen, at: now})
	}
	depth := s.depthLocked()
	s.mu.Unlock()
	return req.rows, s.wait(ctx, req, depth)
}

// SubmitSet queues the inputs of one set, prepared for model generation
// gen, and waits for their fused prediction (Runner.ForwardSet; no Path,
// Source or NInputs). Its errors are Submit's.
func (s *Scheduler[R]) SubmitSet(ctx context.Context, gen int, inputs [][]float32) (api.Prediction, error) {
	if len(inputs) == 0 {
		return api.Prediction{}, errors.New("batch: a set of no inputs")
	}
	if len(inputs) > s.o.MaxQueue {
		return api.Prediction{}, fmt.Errorf("%w: a set of %d inputs, queue holds %d", ErrTooMany, len(inputs), s.o.MaxQueue)
	}
	req := &request{ctx: ctx, rows: make([]api.Prediction, 1), left: 1, done: make(chan struct{})}
	s.mu.Lock()
	if err := s.admitLocked(gen, inputs); err != nil {
		s.mu.Unlock()
		return api.Prediction{}, err
	}
	x := make([]float32, 0, len(inputs)*len(inputs[0]))
	for _, in := range inputs {
		x = append(x, in...)
	}
	s.sets = append(s.sets, &setJob{req: req, x: x, s: len(inputs), gen: gen})
	s.setLen += len(inputs)
	depth := s.depthLocked()
	s.mu.Unlock()
	if err := s.wait(ctx, req, depth); err != nil {
		return api.Prediction{}, err
	}
	return req.rows[0], nil
}

// admitLocked checks that inputs prepared for gen can be queued now.
func (s *Scheduler[R]) admitLocked(gen int, inputs [][]float32) error {
	switch {
	case s.closed:
		return ErrClosed
	case s.gen == 0:
		return ErrNoModel
	case gen != s.gen:
		return ErrStale
	case s.depthLocked()+len(inputs) > s.o.MaxQueue:
		return ErrQueueFull
	}
	want := s.runners[gen].InputLen()
	for i, x := range inputs {
		if len(x) != want {
			return fmt.Errorf("batch: input %d has %d values, the model takes %d", i, len(x), want)
		}
	}
	return nil
}

// wait wakes the owner for a queued request and waits for it or its
// context.
func (s *Scheduler[R]) wait(ctx context.Context, req *request, depth int) error {
	s.observeQueue(depth)
	s.poke()
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		// The owner drops the rest of this request when it reaches it.
		s.poke()
		return ctx.Err()
	}
}

func (s *Scheduler[R]) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Do runs fn on the owner's thread between two batches and returns its
// error; it waits for fn or for ctx.
func (s *Scheduler[R]) Do(ctx context.Context, fn func() error) error {
	errc := make(chan error, 1)
	job := func() { errc <- fn() }
	select {
	case s.ctl <- job:
	case <-s.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-s.done:
		return ErrClosed
	}
}

// Swap loads a model with load on the owner's thread and makes it current;
// when load fails the current model stays and the error is returned.
func (s *Scheduler[R]) Swap(ctx context.Context, load func() (R, error)) (gen int, err error) {
	err = s.Do(ctx, func() error {
		infer.FinishGC()
		r, err := load()
		if err != nil {
			return err
		}
		if s.o.Pad {
			if err := s.warm(r); err != nil {
				r.Release()
				return err
			}
		}
		s.mu.Lock()
		s.gen++
		gen = s.gen
		s.runners[gen] = r
		s.mu.Unlock()
		s.retire()
		return nil
	})
	return gen, err
}

// Shapes are the batch sizes forward passes run at with Options.Pad: the
// distinct PadSize(n, max) for n = 1 … max, ascending.
func Shapes(max int) []int {
	var out []int
	for n := 1; n <= max; n++ {
		if p := PadSize(n, max); len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
	}
	return out
}

// warm runs one forward pass of zeros at every shape on a newly loaded r,
// before it serves, followed by a GC each as in run: every oneDNN primitive
// and every size of activation the model will need exists from the start,
// so the memory a busy server holds does not step up later whenever a shape
// first occurs. Smallest first: malloc's arenas then grow into the staircase
// of blocks that any later order of shapes fits in. Measured with
// bench/serveload, 20,000 requests at 64 clients after the warm-up: RSS
// +0.1% smallest first; +4% and still creeping largest first (which starts
// 70 MB lower: the small shapes reuse the largest one's blocks, and the
// holes of mixed orders come later).
func (s *Scheduler[R]) warm(r R) error {
	x := make([]float32, s.o.MaxBatch*r.InputLen())
	shapes := Shapes(s.o.MaxBatch)
	for _, n := range shapes {
		_, err := r.Forward(x[:n*r.InputLen()], n)
		infer.GC()
		if err != nil {
			return fmt.Errorf("warm-up forward pass of %d: %w", n, err)
		}
	}
	return nil
}

// Run is the owner's loop: it locks the calling goroutine to its OS thread
// and serves until ctx ends; then every queued request fails with ErrClosed,
// the models are released and Run returns. Call it once, on the goroutine
// that may call libtorch.
func (s *Scheduler[R]) Run(ctx context.Context) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(s.done)
	defer s.stop()
	for ctx.Err() == nil {
		// A waiting control job (a swap) goes before the next batch, so a
		// busy queue cannot starve it.
		select {
		case job := <-s.ctl:
			job()
		default:
		}
		if j, r := s.nextSet(); j != nil {
			s.runSet(r, j)
		}
		batch, r, wait := s.next()
		if batch != nil {
			s.run(r, batch)
			continue
		}
		if s.setsWaiting() {
			continue
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
			return
		case job := <-s.ctl:
			job()
		case <-s.wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// next takes the next batch when one is due: MaxBatch inputs are queued, or
// the oldest has waited MaxWait. Otherwise it returns how long to wait (0:
// until woken). Dropped requests' inputs leave the queue here.
func (s *Scheduler[R]) next() (batch []*item, r R, wait time.Duration) {
	s.mu.Lock()
	dropped := s.dropLocked()
	if len(s.queue) == 0 {
		s.mu.Unlock()
		s.afterDrop(dropped)
		return nil, r, 0
	}
	gen := s.queue[0].gen
	n := 0
	for n < len(s.queue) && n < s.o.MaxBatch && s.queue[n].gen == gen {
		n++
	}
	// A batch that cannot grow (full, or the next input is for another
	// model) runs at once; otherwise it waits for the oldest input's MaxWait.
	if n < s.o.MaxBatch && n == len(s.queue) {
		if w := s.o.MaxWait - time.Since(s.queue[0].at); w > 0 {
			s.mu.Unlock()
			s.afterDrop(dropped)
			return nil, r, w
		}
	}
	batch = append([]*item(nil), s.queue[:n]...)
	s.queue = s.queue[n:]
	r = s.runners[gen]
	depth := s.depthLocked()
	s.mu.Unlock()
	s.afterDrop(dropped)
	s.observeQueue(depth)
	return batch, r, 0
}

// nextSet takes the oldest set whose context has not ended, dropping those
// before it whose context has.
func (s *Scheduler[R]) nextSet() (j *setJob, r R) {
	s.mu.Lock()
	var gone []*setJob
	for len(s.sets) > 0 && j == nil {
		j = s.sets[0]
		s.sets[0] = nil
		s.sets = s.sets[1:]
		s.setLen -= j.s
		if j.req.ctx.Err() != nil {
			gone = append(gone, j)
			j = nil
		}
	}
	if j != nil {
		r = s.runners[j.gen]
	}
	s.mu.Unlock()
	for _, g := range gone {
		if s.o.Observer != nil {
			s.o.Observer.Dropped(g.s, g.req.ctx.Err())
		}
		g.req.err = g.req.ctx.Err()
		s.finish(g.req, 1)
	}
	if len(gone) > 0 {
		s.observeQueue(s.Depth())
		s.retire()
	}
	return j, r
}

func (s *Scheduler[R]) setsWaiting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sets) > 0
}

// runSet makes the forward pass of one set and answers it.
func (s *Scheduler[R]) runSet(r R, j *setJob) {
	t0 := time.Now()
	out, err := r.ForwardSet(j.x, j.s)
	d := time.Since(t0)
	infer.GC()
	if s.o.Observer != nil {
		s.o.Observer.Batch(j.s, j.s, d)
	}
	if err != nil {
		j.req.err = err
	} else {
		j.req.rows[0] = out.Prediction(0)
	}
	s.finish(j.req, 1)
	s.observeQueue(s.Depth())
	s.retire()
}

// dropLocked removes the inputs of requests whose context has ended.
func (s *Scheduler[R]) dropLocked() (dropped map[*request]int) {
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.req.ctx.Err() != nil {
			if dropped == nil {
				dropped = map[*request]int{}
			}
			dropped[it.req]++
			continue
		}
		kept = append(kept, it)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	return dropped
}

// afterDrop finishes dropped requests and reports them.
func (s *Scheduler[R]) afterDrop(dropped map[*request]int) {
	if len(dropped) == 0 {
		return
	}
	for req, n := range dropped {
		if s.o.Observer != nil {
			s.o.Observer.Dropped(n, req.ctx.Err())
		}
		req.err = req.ctx.Err()
		s.finish(req, n)
	}
	s.observeQueue(s.Depth())
	s.retire()
}

func (s *Scheduler[R]) finish(req *request, n int) {
	req.left -= n
	if req.left == 0 {
		close(req.done)
	}
}

// run makes one forward pass of batch on r (padded to PadSize rows with
// Options.Pad) and fans the rows back.
func (s *Scheduler[R]) run(r R, batch []*item) {
	n, rows := len(batch), len(batch)
	if s.o.Pad {
		rows = PadSize(n, s.o.MaxBatch)
	}
	x := make([]float32, 0, rows*r.InputLen())
	for _, it := range batch {
		x = append(x, it.x...)
	}
	x = x[:rows*r.InputLen()] // zero rows: make's fresh memory
	t0 := time.Now()
	out, err := r.Forward(x, rows)
	d := time.Since(t0)
	infer.GC()
	if s.o.Observer != nil {
		s.o.Observer.Batch(n, rows, d)
	}
	for i, it := range batch {
		req := it.req
		if err != nil {
			req.err = err
		} else {
			req.rows[it.idx] = out.Prediction(i)
		}
		s.finish(req, 1)
	}
	s.retire()
}

// retire releases models older than the current one that no queued input
// needs any more.
func (s *Scheduler[R]) retire() {
	s.mu.Lock()
	var old []R
	for g, r := range s.runners {
		if g == s.gen || (len(s.queue) > 0 && s.queue[0].gen <= g) || (len(s.sets) > 0 && s.sets[0].gen <= g) {
			continue
		}
		old = append(old, r)
		delete(s.runners, g)
	}
	s.mu.Unlock()
	for _, r := range old {
		r.Release()
	}
}

// stop fails every queued request and releases the models.
func (s *Scheduler[R]) stop() {
	s.mu.Lock()
	s.closed = true
	q, sets := s.queue, s.sets
	s.queue, s.sets, s.setLen = nil, nil, 0
	runners := s.runners
	s.runners = map[int]R{}
	s.mu.Unlock()
	for _, it := range q {
		it.req.err = ErrClosed
		s.finish(it.req, 1)
	}
	for _, j := range sets {
		j.req.err = ErrClosed
		s.finish(j.req, 1)
	}
	for _, r := range runners {
		r.Release()
	}
	infer.FinishGC()
}

func (s *Scheduler[R]) observeQueue(depth int) {
	if s.o.Observer != nil {
		s.o.Observer.Queue(depth)
	}
}

package batch

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/metrics"
)

// fake is a Runner whose "prediction" of an input is its first value (as
// P[0]) plus an offset naming the model; gate, when set, holds each forward
// pass until a value is sent.
type fake struct {
	name     float64
	gate     chan struct{}
	entered  chan int // receives each batch's size as the pass starts (when set)
	mu       sync.Mutex
	batches  []int
	sets     []int       // the size of each set fused
	xs       [][]float32 // each forward pass's input
	failAt   int         // a forward pass of this many rows fails (0: none)
	released bool
}

func (f *fake) InputLen() int { return 2 }

func (f *fake) Forward(x []float32, n int) (infer.Output, error) {
	if f.entered != nil {
		f.entered <- n
	}
	if f.gate != nil {
		<-f.gate
	}
	if n == f.failAt {
		return infer.Output{}, errors.New("forward failed")
	}
	f.mu.Lock()
	f.batches = append(f.batches, n)
	f.xs = append(f.xs, slices.Clone(x))
	f.mu.Unlock()
	out := infer.Output{}
	for i := 0; i < n; i++ {
		out.P = append(out.P, []float64{float64(x[2*i]) + f.name})
		out.PMale = append(out.PMale, float64(x[2*i+1]))
		out.Ordinal = append(out.Ordinal, metrics.Ordinal{Age: float64(x[2*i]) + f.name})
	}
	return out, nil
}

// ForwardSet "fuses" a set into one row whose P[0] is the mean of the
// inputs' first values plus the model's offset.
func (f *fake) ForwardSet(x []float32, n int) (infer.Output, error) {
	if f.entered != nil {
		f.entered <- -n
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	f.sets = append(f.sets, n)
	f.mu.Unlock()
	var sum float64
	for i := range n {
		sum += float64(x[2*i])
	}
	m := sum/float64(n) + f.name
	return infer.Output{P: [][]float64{{m}}, PMale: []float64{float64(x[1])}, Ordinal: []metrics.Ordinal{{Age: m}}}, nil
}

func (f *fake) setSizes() []int { f.mu.Lock(); defer f.mu.Unlock(); return slices.Clone(f.sets) }

func (f *fake) Release() { f.mu.Lock(); f.released = true; f.mu.Unlock() }

func (f *fake) sizes() []int { f.mu.Lock(); defer f.mu.Unlock(); return slices.Clone(f.batches) }
func (f *fake) isReleased() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.released
}

type counts struct {
	mu      sync.Mutex
	batches []int
	dropped int
	reasons []error
}

func (c *counts) Batch(n, _ int, _ time.Duration) {
	c.mu.Lock()
	c.batches = append(c.batches, n)
	c.mu.Unlock()
}
func (c *counts) Queue(int) {}
func (c *counts) Dropped(n int, why error) {
	c.mu.Lock()
	c.dropped += n
	c.reasons = append(c.reasons, why)
	c.mu.Unlock()
}

// start runs a scheduler with runner r loaded and stops it at the test's end.
func start(t *testing.T, o Options, r *fake) (*Scheduler[*fake], *counts) {
	t.Helper()
	c := &counts{}
	o.Observer = c
	s, err := New[*fake](o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.Run(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	if gen, err := s.Swap(context.Background(), func() (*fake, error) { return r, nil }); err != nil || gen != 1 {
		t.Fatalf("first swap: gen %d, %v", gen, err)
	}
	return s, c
}

func in(v float32) []float32 { return []float32{v, v / 100} }

func TestConcurrentRequestsShareOneForward(t *testing.T) {
	r := &fake{}
	s, c := start(t, Options{MaxBatch: 4, MaxWait: time.Hour, MaxQueue: 16}, r)
	var wg sync.WaitGroup
	got := make([][]api.Prediction, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows, err := s.Submit(context.Background(), 1, [][]float32{in(float32(10 * i))})
			if err != nil {
				t.Error(err)
			}
			got[i] = rows
		}()
	}
	wg.Wait() // with MaxWait an hour, only a full batch of 4 can have run
	if !slices.Equal(r.sizes(), []int{4}) || !slices.Equal(c.batches, []int{4}) {
		t.Fatalf("batches %v (observer %v), want one of 4", r.sizes(), c.batches)
	}
	for i, rows := range got {
		if len(rows) != 1 || rows[0].PAgeGT[0] != float64(10*i) || rows[0].Age != float64(10*i) || rows[0].PMale != float64(float32(10*i)/100) {
			t.Fatalf("request %d got %+v", i, rows)
		}
	}
}

func TestLargeRequestSplitsInOrder(t *testing.T) {
	r := &fake{}
	s, _ := start(t, Options{MaxBatch: 4, MaxWait: 0, MaxQueue: 16}, r)
	var inputs [][]float32
	for i := range 10 {
		inputs = append(inputs, in(float32(i)))
	}
	rows, err := s.Submit(context.Background(), 1, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.sizes(), []int{4, 4, 2}) {
		t.Fatalf("batches %v", r.sizes())
	}
	for i, row := range rows {
		if row.PAgeGT[0] != float64(i) {
			t.Fatalf("row %d is %v", i, row.PAgeGT)
		}
	}
	if _, err := s.Submit(context.Background(), 1, make([][]float32, 17)); !errors.Is(err, ErrTooMany) {
		t.Fatalf("17 inputs: %v", err)
	}
	if _, err := s.Submit(context.Background(), 1, [][]float32{{1, 2, 3}}); err == nil {
		t.Fatal("an input of the wrong length was queued")
	}
}

func TestPadSize(t *testing.T) {
	for _, c := range []struct{ n, max, want int }{
		{1, 64, 1}, {2, 64, 2}, {3, 64, 4}, {4, 64, 4}, {5, 64, 8}, {8, 64, 8}, {9, 64, 12}, {12, 64, 12},
		{13, 64, 16}, {17, 64, 20}, {61, 64, 64}, {64, 64, 64}, {3, 3, 3}, {9, 10, 10}, {10, 10, 10}, {5, 6, 6}, {1, 1, 1},
		{65, 128, 72}, {100, 256, 104}, {128, 256, 128}, {129, 256, 144}, {250, 256, 256}, {257, 1024, 288},
	} {
		if got := PadSize(c.n, c.max); got != c.want {
			t.Errorf("PadSize(%d, %d) = %d, want %d", c.n, c.max, got, c.want)
		}
	}
	// every size 1..64 maps onto 18 shapes, none more than 3 rows larger
	shapes := map[int]bool{}
	for n := 1; n <= 64; n++ {
		p := PadSize(n, 64)
		if p < n || p-n > 3 {
			t.Fatalf("PadSize(%d, 64) = %d", n, p)
		}
		shapes[p] = true
	}
	if len(shapes) != 18 {
		t.Fatalf("%d shapes for batches of 1..64, want 18", len(shapes))
	}
	want := []int{1, 2, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64}
	if got := Shapes(64); !slices.Equal(got, want) {
		t.Fatalf("Shapes(64) = %v", got)
	}
	if got := Shapes(10); !slices.Equal(got, []int{1, 2, 4, 8, 10}) {
		t.Fatalf("Shapes(10) = %v", got)
	}
	if got := len(Shapes(1024)); got != 18+8*4 {
		t.Fatalf("%d shapes for --max-batch 1024, want 50", got)
	}
}

// With Pad, loading a model runs a forward pass of zeros at each shape,
// smallest first; a
// batch of 11 inputs runs as a forward pass of 12 rows (the inputs, then
// zero rows); the requests get their own rows, the observer sees 11 inputs.
func TestPaddedBatch(t *testing.T) {
	r := &fake{}
	s, c := start(t, Options{MaxBatch: 20, MaxWait: 0, MaxQueue: 32, Pad: true}, r)
	warm := []int{1, 2, 4, 8, 12, 16, 20}
	if !slices.Equal(r.sizes(), warm) || len(c.batches) != 0 {
		t.Fatalf("warm-up passes %v (observed %v), want %v", r.sizes(), c.batches, warm)
	}
	for i, x := range r.xs {
		if len(x) != 2*warm[i] || slices.ContainsFunc(x, func(v float32) bool { return v != 0 }) {
			t.Fatalf("warm-up pass %d: input %v", i, x)
		}
	}
	r.mu.Lock()
	r.batches, r.xs = nil, nil
	r.mu.Unlock()
	var inputs [][]float32
	for i := range 11 {
		inputs = append(inputs, in(float32(i+1)))
	}
	rows, err := s.Submit(context.Background(), 1, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.sizes(), []int{12}) || !slices.Equal(c.batches, []int{11}) {
		t.Fatalf("forward passes %v, observed %v: want one of 12 rows for 11 inputs", r.sizes(), c.batches)
	}
	x := r.xs[0]
	if len(x) != 12*2 || x[20] != 11 || x[21] != 0.11 || slices.ContainsFunc(x[22:], func(v float32) bool { return v != 0 }) {
		t.Fatalf("padded input %v", x)
	}
	for i, row := range rows {
		if len(rows) != 11 || row.PAgeGT[0] != float64(i+1) {
			t.Fatalf("row %d is %v", i, row.PAgeGT)
		}
	}
	// 20 inputs: MaxBatch, no padding
	if _, err := s.Submit(context.Background(), 1, make([][]float32, 20)); err == nil {
		t.Fatal("inputs of the wrong length were queued")
	}
	inputs = nil
	for i := range 20 {
		inputs = append(inputs, in(float32(i)))
	}
	if _, err := s.Submit(context.Background(), 1, inputs); err != nil || !slices.Equal(r.sizes(), []int{12, 20}) {
		t.Fatalf("batch of 20: %v, forward passes %v", err, r.sizes())
	}
}

// A model whose warm-up pass fails at one shape is refused and released; the
// serving model stays.
func TestPaddedWarmUpFailureRefusesModel(t *testing.T) {
	old := &fake{}
	s, _ := start(t, Options{MaxBatch: 16, MaxWait: 0, MaxQueue: 32, Pad: true}, old)
	bad := &fake{name: 100, failAt: 8}
	if _, err := s.Swap(context.Background(), func() (*fake, error) { return bad, nil }); err == nil || !strings.Contains(err.Error(), "warm-up forward pass of 8") {
		t.Fatalf("swap of a model failing at 8 rows: %v", err)
	}
	if gen, cur := s.Current(); gen != 1 || cur != old || !bad.isReleased() || old.isReleased() {
		t.Fatalf("after the refused swap: generation %d, old current %v, bad released %v", gen, cur == old, bad.isReleased())
	}
	rows, err := s.Submit(context.Background(), 1, [][]float32{in(3)})
	if err != nil || rows[0].Age != 3 {
		t.Fatalf("old model after the refused swap: %v %v", rows, err)
	}
}

// A lone input runs once MaxWait has passed, without a full batch.
func TestMaxWaitRunsAPartialBatch(t *testing.T) {
	r := &fake{}
	s, _ := start(t, Options{MaxBatch: 64, MaxWait: 5 * time.Millisecond, MaxQueue: 64}, r)
	rows, err := s.Submit(context.Background(), 1, [][]float32{in(7)})
	if err != nil || rows[0].PAgeGT[0] != 7 || !slices.Equal(r.sizes(), []int{1}) {
		t.Fatalf("rows %v err %v batches %v", rows, err, r.sizes())
	}
}

// While a pass runs, a full queue refuses more at once, and a request whose
// client goes away leaves the queue without being run.
func TestQueueFullAndDroppedClient(t *testing.T) {
	r := &fake{gate: make(chan struct{}), entered: make(chan int, 8)}
	s, c := start(t, Options{MaxBatch: 2, MaxWait: 0, MaxQueue: 3}, r)
	first := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), 1, [][]float32{in(1)}); first <- err }()
	<-r.entered // the pass of input 1 is running, holding the owner
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { _, err := s.Submit(ctx, 1, [][]float32{in(2), in(3)}); gone <- err }()
	for s.Depth() != 2 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.Submit(context.Background(), 1, [][]float32{in(4), in(5)}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("over the queue: %v", err)
	}
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("dropped client: %v", err)
	}
	third := make(chan []api.Prediction, 1)
	go func() {
		rows, err := s.Submit(context.Background(), 1, [][]float32{in(6)})
		if err != nil {
			t.Error(err)
		}
		third <- rows
	}()
	for s.Depth() != 3 {
		time.Sleep(time.Millisecond)
	}
	r.gate <- struct{}{} // finish input 1's pass
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	<-r.entered
	r.gate <- struct{}{}
	if rows := <-third; rows[0].PAgeGT[0] != 6 {
		t.Fatalf("third request got %v", rows)
	}
	if !slices.Equal(r.sizes(), []int{1, 1}) {
		t.Fatalf("batches %v: the dropped inputs ran", r.sizes())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped != 2 || !errors.Is(c.reasons[0], context.Canceled) {
		t.Fatalf("dropped %d (%v)", c.dropped, c.reasons)
	}
}

// A request whose deadline passes in the queue is dropped with
// DeadlineExceeded.
func TestDeadlineInQueue(t *testing.T) {
	r := &fake{gate: make(chan struct{}), entered: make(chan int, 8)}
	s, _ := start(t, Options{MaxBatch: 1, MaxWait: 0, MaxQueue: 4}, r)
	go s.Submit(context.Background(), 1, [][]float32{in(1)})
	<-r.entered
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := s.Submit(ctx, 1, [][]float32{in(2)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	close(r.gate)
	if rows, err := s.Submit(context.Background(), 1, [][]float32{in(3)}); err != nil || rows[0].PAgeGT[0] != 3 {
		t.Fatalf("after the drop: %v %v", rows, err)
	}
	if !slices.Equal(r.sizes(), []int{1, 1}) {
		t.Fatalf("batches %v: the expired input ran", r.sizes())
	}
}

// Inputs queued before a swap run on the old model; later ones on the new;
// the old model is released after its last input; a stale generation is
// refused; a failed load keeps the current model.
func TestSwapKeepsOldModelForQueuedInputs(t *testing.T) {
	old := &fake{name: 0, gate: make(chan struct{}), entered: make(chan int, 8)}
	s, _ := start(t, Options{MaxBatch: 1, MaxWait: 0, MaxQueue: 8}, old)
	a := make(chan []api.Prediction, 1)
	go func() { rows, _ := s.Submit(context.Background(), 1, [][]float32{in(1)}); a <- rows }()
	<-old.entered
	b := make(chan []api.Prediction, 1)
	go func() { rows, _ := s.Submit(context.Background(), 1, [][]float32{in(2)}); b <- rows }()
	for s.Depth() != 1 {
		time.Sleep(time.Millisecond)
	}
	nu := &fake{name: 1000}
	swapped := make(chan int, 1)
	go func() {
		gen, err := s.Swap(context.Background(), func() (*fake, error) { return nu, nil })
		if err != nil {
			t.Error(err)
		}
		swapped <- gen
	}()
	old.gate <- struct{}{} // a's pass ends; the swap runs before b's pass
	if gen := <-swapped; gen != 2 {
		t.Fatalf("generation %d", gen)
	}
	if _, err := s.Submit(context.Background(), 1, [][]float32{in(3)}); !errors.Is(err, ErrStale) {
		t.Fatalf("stale generation: %v", err)
	}
	if old.isReleased() {
		t.Fatal("old model released while an input still needed it")
	}
	<-old.entered
	old.gate <- struct{}{}
	if rows := <-a; rows[0].PAgeGT[0] != 1 {
		t.Fatalf("a: %v", rows)
	}
	if rows := <-b; rows[0].PAgeGT[0] != 2 {
		t.Fatalf("b ran on the new model: %v", rows)
	}
	rows, err := s.Submit(context.Background(), 2, [][]float32{in(4)})
	if err != nil || rows[0].PAgeGT[0] != 1004 {
		t.Fatalf("after the swap: %v %v", rows, err)
	}
	if !old.isReleased() || nu.isReleased() {
		t.Fatalf("released: old %v new %v", old.isReleased(), nu.isReleased())
	}
	if _, err := s.Swap(context.Background(), func() (*fake, error) { return nil, errors.New("broken") }); err == nil || err.Error() != "broken" {
		t.Fatalf("failed swap: %v", err)
	}
	if gen, r := s.Current(); gen != 2 || r != nu {
		t.Fatalf("after a failed swap: generation %d", gen)
	}
}

func TestStopFailsQueuedRequests(t *testing.T) {
	r := &fake{gate: make(chan struct{}), entered: make(chan int, 8)}
	s, err := New[*fake](Options{MaxBatch: 1, MaxQueue: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.Run(ctx); close(stopped) }()
	if _, err := s.Submit(context.Background(), 1, [][]float32{in(1)}); !errors.Is(err, ErrNoModel) {
		t.Fatalf("before a model: %v", err)
	}
	s.Swap(context.Background(), func() (*fake, error) { return r, nil })
	go s.Submit(context.Background(), 1, [][]float32{in(1)})
	<-r.entered
	queued := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), 1, [][]float32{in(2)}); queued <- err }()
	for s.Depth() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	r.gate <- struct{}{}
	<-stopped
	if err := <-queued; !errors.Is(err, ErrClosed) {
		t.Fatalf("queued at stop: %v", err)
	}
	if !r.isReleased() {
		t.Fatal("model not released at stop")
	}
	if _, err := s.Submit(context.Background(), 1, [][]float32{in(3)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after stop: %v", err)
	}
	if _, err := New[*fake](Options{MaxBatch: 4, MaxQueue: 2}); err == nil {
		t.Fatal("queue smaller than a batch accepted")
	}
}

// A set is one job of its own: queued behind a running pass, counted in the
// queue by its inputs, never batched with single inputs, dropped when its
// client goes away, and answered with one fused row.
func TestSubmitSet(t *testing.T) {
	r := &fake{gate: make(chan struct{}), entered: make(chan int, 8)}
	s, c := start(t, Options{MaxBatch: 4, MaxWait: 0, MaxQueue: 6}, r)
	first := make(chan error, 1)
	go func() { _, err := s.Submit(context.Background(), 1, [][]float32{in(1)}); first <- err }()
	if n := <-r.entered; n != 1 { // a pass of 1 holds the owner
		t.Fatalf("first pass of %d", n)
	}
	type answer struct {
		p   api.Prediction
		err error
	}
	set := make(chan answer, 1)
	go func() {
		p, err := s.SubmitSet(context.Background(), 1, [][]float32{in(10), in(20), in(60)})
		set <- answer{p, err}
	}()
	for s.Depth() != 3 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { _, err := s.SubmitSet(ctx, 1, [][]float32{in(5), in(5)}); gone <- err }()
	for s.Depth() != 5 {
		time.Sleep(time.Millisecond)
	}
	if _, err := s.SubmitSet(context.Background(), 1, [][]float32{in(1), in(2)}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a set over the queue: %v", err)
	}
	if _, err := s.SubmitSet(context.Background(), 1, make([][]float32, 7)); !errors.Is(err, ErrTooMany) {
		t.Fatalf("a set of 7 with a queue of 6: %v", err)
	}
	if _, err := s.SubmitSet(context.Background(), 2, [][]float32{in(1)}); !errors.Is(err, ErrStale) {
		t.Fatalf("a set for another model: %v", err)
	}
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("dropped set: %v", err)
	}
	single := make(chan []api.Prediction, 1)
	go func() {
		rows, err := s.Submit(context.Background(), 1, [][]float32{in(7)})
		if err != nil {
			t.Error(err)
		}
		single <- rows
	}()
	for s.Depth() != 6 {
		time.Sleep(time.Millisecond)
	}
	r.gate <- struct{}{} // finish input 1's pass
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range 2 { // the set of 3, then the single input (the dropped set never runs)
		<-r.entered
		r.gate <- struct{}{}
	}
	a := <-set
	if a.err != nil || a.p.PAgeGT[0] != 30 || a.p.Age != 30 {
		t.Fatalf("set answered %+v, %v; want the mean 30", a.p, a.err)
	}
	if rows := <-single; rows[0].PAgeGT[0] != 7 {
		t.Fatalf("single input answered %v", rows[0].PAgeGT)
	}
	if !slices.Equal(r.setSizes(), []int{3}) || !slices.Equal(r.sizes(), []int{1, 1}) {
		t.Fatalf("sets %v batches %v", r.setSizes(), r.sizes())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped != 2 || !slices.Equal(c.batches, []int{1, 3, 1}) {
		t.Fatalf("observer: dropped %d, batches %v", c.dropped, c.batches)
	}
	if s.Depth() != 0 {
		t.Fatalf("depth %d after all ran", s.Depth())
	}
}

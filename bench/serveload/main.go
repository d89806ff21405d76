// Command serveload is the bounded load generator of `gaitord serve`
// (bench/serve.sh runs it). On loopback only, it
//
//  1. times the model offline, in this process, as the bounds of what
//     batching can buy: one GEI (batch 1) forward pass, one full batch
//     (--max-batch) and infer.Batch at batch 256 (GEIs/s), the last both
//     with OpenBLAS's pool as it starts and with one OpenBLAS thread (the
//     server's --blas-threads default); the ratios use the better;
//  2. starts the real binary twice on 127.0.0.1 (an ephemeral port): with
//     batching (--max-batch, --max-wait) and without (--max-batch 1);
//  3. drives each with 1, 8 and 64 concurrent clients, each posting one GEI
//     PNG per request (image/png body) as fast as answers come, for at most
//     -requests requests or -duration, whichever ends first, and prints
//     throughput, the p50/p95/p99 latency, and from the server's /metrics
//     the mean batch, the mean forward pass and the share of the time the
//     server spent in forward passes;
//  4. with -rss-requests N, sends N more requests at 64 clients to the
//     batching server and prints its memory at -rss-samples points: VmRSS,
//     the Go heap and the C heap (the server's /metrics), and the RSS growth
//     from the first sample after start to the last.
//
// Diagnostic runs: -modes batched, -clients "" (memory run only),
// -no-offline, -serve-flags "--pad-batches=false" (flags for the servers).
//
// Targets (issue 14): at 64 clients, batched throughput ≥ 0.8× offline
// infer.Batch at 256; p99 ≤ 2.5× one full batch; RSS flat over 100,000
// requests. The figures are printed beside those bounds.
//
//	go run ./bench/serveload -bin bin/gaitord [-checkpoint W] [-gei G.png] [-requests 3000] [-duration 20s]
//
// Without -checkpoint it writes randomly initialised 64×44 weights; without
// -gei it makes one with `gaitord synth`. Both go to a temporary folder that
// is removed at the end.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/internal/serve"
)

var (
	binPath     = flag.String("bin", "bin/gaitord", "the gaitord binary to serve with")
	ckptPath    = flag.String("checkpoint", "", "checkpoint or weights (default: random 64×44 weights)")
	geiPath     = flag.String("gei", "", "the GEI PNG every request posts (default: one from gaitord synth)")
	requests    = flag.Int("requests", 3000, "requests per client level at most")
	duration    = flag.Duration("duration", 20*time.Second, "time per client level at most")
	clientsFlag = flag.String("clients", "1,8,64", "client levels")
	maxBatch    = flag.Int("max-batch", serve.DefaultOptions().MaxBatch, "--max-batch of the batching server")
	maxWait     = flag.Duration("max-wait", serve.DefaultOptions().MaxWait, "--max-wait of the batching server")
	threads     = flag.Int("threads", 0, "libtorch intra-op threads, offline and in the servers (0 = all cores)")
	rssRequests = flag.Int("rss-requests", 0, "after the levels, this many requests at 64 clients with RSS samples")
	rssSamples  = flag.Int("rss-samples", 10, "memory samples over the -rss-requests run")
	modesFlag   = flag.String("modes", "batched,unbatched", "servers to drive: batched (--max-batch), unbatched (--max-batch 1)")
	serveFlags  = flag.String("serve-flags", "", "more flags for both servers, space-separated (A/B runs: \"--pad-batches=false\")")
	noOffline   = flag.Bool("no-offline", false, "skip the offline timings (diagnostic runs; no ratios printed)")
	jsonOut     = flag.String("json", "", "also write the results to this JSON file")
)

type level struct {
	Mode       string  `json:"mode"`
	Clients    int     `json:"clients"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"` // GEIs/s
	P50ms      float64 `json:"p50_ms"`
	P95ms      float64 `json:"p95_ms"`
	P99ms      float64 `json:"p99_ms"`
	MeanBatch  float64 `json:"mean_batch"`      // from the server's batch-size histogram
	ForwardMs  float64 `json:"mean_forward_ms"` // mean forward pass, from the server's histogram
	Busy       float64 `json:"forward_busy"`    // share of the wall time the server spent in forward passes
}

type results struct {
	Threads     int     `json:"threads"`
	Forward1ms  float64 `json:"forward_b1_ms"`
	ForwardFull float64 `json:"forward_full_batch_ms"`
	FullBatch   int     `json:"full_batch"`
	Offline256  float64 `json:"offline_b256_geis_per_s"` // the better of the two below: the ratios' denominator
	// infer.Batch at 256 with OpenBLAS's own pool as it starts (one thread
	// per core) and with one thread, as the server runs it (--blas-threads 1)
	Offline256BLASDefault float64     `json:"offline_b256_blas_default_geis_per_s"`
	Offline256BLAS1       float64     `json:"offline_b256_blas1_geis_per_s"`
	BLASThreads           int         `json:"blas_threads_default"`
	Levels                []level     `json:"levels"`
	Memory                []memSample `json:"memory,omitempty"`
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

func run() error {
	runtime.LockOSThread() // libtorch's thread count belongs to this OS thread
	tmp, err := os.MkdirTemp("", "gaitord-serveload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ckpt, g := *ckptPath, *geiPath
	if ckpt == "" {
		ckpt = filepath.Join(tmp, "w.safetensors")
		m, err := model.New(model.DefaultConfig(), 1, "cpu")
		if err != nil {
			return err
		}
		if err := checkpoint.SaveWeights(ckpt, model.DefaultConfig(), m.Weights(), 40); err != nil {
			return err
		}
	}
	if g == "" {
		out := filepath.Join(tmp, "synth")
		if b, err := exec.Command(*binPath, "synth", "--out", out, "--subjects", "2", "--views", "90", "-q").CombinedOutput(); err != nil {
			return fmt.Errorf("synth: %v\n%s", err, b)
		}
		g = filepath.Join(out, "GEI", "090-00", "00001.png")
	}
	body, err := os.ReadFile(g)
	if err != nil {
		return err
	}
	var res results
	res.Threads = engine.SetThreads(*threads)
	res.FullBatch = *maxBatch
	if !*noOffline {
		if err := offline(ckpt, &res); err != nil {
			return err
		}
		fmt.Printf("offline (%d threads, 1 OpenBLAS thread): forward b1 %.2f ms, forward b%d %.1f ms, infer.Batch b256 %.1f GEIs/s (%.1f with %d OpenBLAS threads); ratios below use %.1f\n",
			res.Threads, res.Forward1ms, res.FullBatch, res.ForwardFull, res.Offline256BLAS1, res.Offline256BLASDefault, res.BLASThreads, res.Offline256)
	}

	var levels []int
	for _, s := range strings.Split(*clientsFlag, ",") {
		if strings.TrimSpace(s) == "" {
			continue // -clients "": only the memory run
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients %q", *clientsFlag)
		}
		levels = append(levels, n)
	}
	for _, mode := range []struct {
		name  string
		batch int
	}{{"batched", *maxBatch}, {"unbatched", 1}} {
		if !strings.Contains(","+*modesFlag+",", ","+mode.name+",") {
			continue
		}
		srv, err := startServer(ckpt, mode.batch)
		if err != nil {
			return err
		}
		for _, c := range levels {
			l := load(srv, body, c, *requests, *duration)
			l.Mode = mode.name
			res.Levels = append(res.Levels, l)
			fmt.Printf("%-9s clients %3d: %6d requests in %5.1f s, %7.1f GEIs/s, p50 %7.1f ms, p95 %7.1f ms, p99 %7.1f ms, mean batch %5.1f, forward %6.1f ms (busy %3.0f%%), errors %d\n",
				l.Mode, l.Clients, l.Requests, l.Seconds, l.Throughput, l.P50ms, l.P95ms, l.P99ms, l.MeanBatch, l.ForwardMs, 100*l.Busy, l.Errors)
		}
		if mode.batch > 1 && *rssRequests > 0 {
			res.Memory = rssRun(srv, body, *rssRequests, *rssSamples)
			printMemory(res.Memory)
		}
		if err := srv.stop(); err != nil {
			return err
		}
	}
	for _, l := range res.Levels {
		if res.Offline256 == 0 {
			break
		}
		if l.Clients == 64 && l.Mode == "batched" {
			fmt.Printf("64 clients, batched: %.2f× offline b256 throughput (target ≥ 0.8), p99 %.2f× one full batch (target ≤ 2.5)\n",
				l.Throughput/res.Offline256, l.P99ms/res.ForwardFull)
		}
		if l.Clients == 64 && l.Mode == "unbatched" {
			fmt.Printf("64 clients, unbatched: %.2f× offline b256 throughput\n", l.Throughput/res.Offline256)
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// offline times forward passes in this process: medians of several runs.
func offline(ckpt string, res *results) error {
	st, err := checkpoint.LoadModel(ckpt) // as predict and serve load: no Adam moments, no random init
	if err != nil {
		return err
	}
	m, err := model.FromWeights(st.Model, st.Weights, "cpu")
	if err != nil {
		return err
	}
	hw := st.Model.InputH * st.Model.InputW
	timeIt := func(n, reps int) (float64, error) {
		x := make([]float32, n*hw)
		for i := range x {
			x[i] = float32(i%251) / 250
		}
		var ds []float64
		for r := 0; r < reps+1; r++ { // the first is a warm-up
			t0 := time.Now()
			if _, err := infer.Batch(m, x, n); err != nil {
				return 0, err
			}
			d := time.Since(t0).Seconds()
			infer.GC()
			if r > 0 {
				ds = append(ds, d)
			}
		}
		sort.Float64s(ds)
		return ds[len(ds)/2], nil
	}
	// b256 with OpenBLAS as it starts, then everything with one OpenBLAS
	// thread, as the server runs (serve.DefaultOptions().BLASThreads)
	res.BLASThreads = engine.SetBLASThreads(0)
	b256d, err := timeIt(256, 3)
	if err != nil {
		return err
	}
	engine.SetBLASThreads(serve.DefaultOptions().BLASThreads)
	b1, err := timeIt(1, 30)
	if err != nil {
		return err
	}
	full, err := timeIt(*maxBatch, 5)
	if err != nil {
		return err
	}
	b256, err := timeIt(256, 3)
	if err != nil {
		return err
	}
	infer.FinishGC()
	res.Forward1ms, res.ForwardFull = 1000*b1, 1000*full
	res.Offline256BLASDefault, res.Offline256BLAS1 = 256/b256d, 256/b256
	res.Offline256 = max(res.Offline256BLASDefault, res.Offline256BLAS1)
	return nil
}

type server struct {
	cmd  *exec.Cmd
	url  string
	done chan error
}

// startServer runs `gaitord serve` on 127.0.0.1:0 and waits until it is
// ready; its log is read (for the address) and then discarded.
func startServer(ckpt string, batch int) (*server, error) {
	cmd := exec.Command(*binPath, "serve", "--checkpoint", ckpt, "--addr", "127.0.0.1:0", "--log-format", "json",
		"--max-batch", strconv.Itoa(batch), "--max-wait", maxWait.String(), "--max-queue", "4096",
		"--threads", strconv.Itoa(*threads))
	cmd.Args = append(cmd.Args, strings.Fields(*serveFlags)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
				break
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.done:
		return nil, fmt.Errorf("gaitord serve exited: %v", err)
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		return nil, fmt.Errorf("gaitord serve did not listen")
	}
	for t0 := time.Now(); time.Since(t0) < 2*time.Minute; time.Sleep(20 * time.Millisecond) {
		if r, err := http.Get(s.url + api.RouteReady); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s, nil
			}
		}
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("gaitord serve not ready")
}

func (s *server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		return err
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
		return fmt.Errorf("gaitord serve did not stop on SIGTERM")
	}
}

func (s *server) rssKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, ln := range strings.Split(string(b), "\n") {
		if f := strings.Fields(ln); len(f) >= 2 && f[0] == "VmRSS:" {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			return v
		}
	}
	return -1
}

// scrape reads the server's /metrics: every sample without labels, by name.
func (s *server) scrape() map[string]float64 {
	m := map[string]float64{}
	r, err := http.Get(s.url + api.RouteMetrics)
	if err != nil {
		return m
	}
	defer r.Body.Close()
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				m[f[0]] = v
			}
		}
	}
	return m
}

// histogram reads the batch-size histogram's count and sum, and the
// forward-time histogram's sum, from /metrics.
func (s *server) histogram() (count, sum, fwd float64) {
	m := s.scrape()
	return m["gaitord_batch_size_count"], m["gaitord_batch_size_sum"], m["gaitord_batch_forward_seconds_sum"]
}

// load runs clients goroutines posting body until n requests are done or d
// has passed, after a short warm-up.
func load(s *server, body []byte, clients, n int, d time.Duration) level {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	defer tr.CloseIdleConnections()
	post := func() (time.Duration, bool) {
		t0 := time.Now()
		r, err := hc.Post(s.url+api.RoutePredict, api.ContentTypePNG, bytes.NewReader(body))
		if err != nil {
			return 0, false
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return time.Since(t0), r.StatusCode == 200
	}
	var wg sync.WaitGroup
	for range clients { // warm-up: connections, first batches of this size
		wg.Add(1)
		go func() { defer wg.Done(); post(); post() }()
	}
	wg.Wait()
	c0, s0, f0 := s.histogram()
	var issued, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	stop := time.Now().Add(d)
	t0 := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for issued.Add(1) <= int64(n) && time.Now().Before(stop) {
				dt, ok := post()
				if !ok {
					errs.Add(1)
					continue
				}
				lat[i] = append(lat[i], dt)
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	c1, s1, f1 := s.histogram()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
	}
	l := level{Clients: clients, Requests: len(all), Errors: int(errs.Load()), Seconds: el,
		Throughput: float64(len(all)) / el, P50ms: pct(0.50), P95ms: pct(0.95), P99ms: pct(0.99)}
	if c1 > c0 {
		l.MeanBatch = (s1 - s0) / (c1 - c0)
		l.ForwardMs = 1000 * (f1 - f0) / (c1 - c0)
		l.Busy = (f1 - f0) / el
	}
	return l
}

// memSample is the server's memory after a number of requests of the RSS
// run: VmRSS, and the server's own /metrics on where it lies (the Go heap
// in use and all the Go runtime holds; the C heap of libtorch, oneDNN and
// OpenBLAS through glibc's mallinfo2: in use, free in the arenas, mmapped).
type memSample struct {
	Requests    int   `json:"requests"`
	RSSKiB      int64 `json:"rss_kib"`
	GoHeapKiB   int64 `json:"go_heap_inuse_kib"`
	GoSysKiB    int64 `json:"go_sys_kib"`
	MallocKiB   int64 `json:"malloc_inuse_kib"`
	MallocFree  int64 `json:"malloc_free_kib"`
	MallocMmap  int64 `json:"malloc_mmap_kib"`
	BatchesSeen int64 `json:"batches"`
}

func (s *server) memory(requests int) memSample {
	m := s.scrape()
	k := func(name string) int64 { return int64(m[name] / 1024) }
	return memSample{Requests: requests, RSSKiB: s.rssKiB(), GoHeapKiB: k("go_memstats_heap_inuse_bytes"),
		GoSysKiB: k("go_memstats_sys_bytes"), MallocKiB: k("gaitord_malloc_inuse_bytes"),
		MallocFree: k("gaitord_malloc_free_bytes"), MallocMmap: k("gaitord_malloc_mmap_bytes"),
		BatchesSeen: int64(m["gaitord_batch_size_count"])}
}

// rssRun sends n requests at 64 clients and samples the server's memory
// samples times along the way.
func rssRun(s *server, body []byte, n, samples int) []memSample {
	step := max(1, n/samples)
	out := []memSample{s.memory(0)}
	for done := 0; done < n; done += step {
		load(s, body, 64, step, time.Hour)
		out = append(out, s.memory(done+step))
	}
	return out
}

// printMemory prints the memory series and the RSS growth after warm-up
// (from the second sample, after n/samples requests, to the last).
func printMemory(ms []memSample) {
	fmt.Printf("memory over %d requests at 64 clients (KiB): requests, RSS, Go heap in use, Go runtime total, C heap in use, C heap free, C mmap\n",
		ms[len(ms)-1].Requests)
	for _, m := range ms {
		fmt.Printf("  %7d %8d %8d %8d %8d %8d %8d\n", m.Requests, m.RSSKiB, m.GoHeapKiB, m.GoSysKiB, m.MallocKiB, m.MallocFree, m.MallocMmap)
	}
	if len(ms) > 2 {
		a, b := ms[1], ms[len(ms)-1]
		fmt.Printf("RSS after warm-up: %d KiB at %d requests -> %d KiB at %d: %+.1f%% (target: flat, < 5%%)\n",
			a.RSSKiB, a.Requests, b.RSSKiB, b.Requests, 100*float64(b.RSSKiB-a.RSSKiB)/float64(a.RSSKiB))
	}
}

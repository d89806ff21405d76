package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/batch"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/gaitord/gaitord/internal/ffmpeg"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/infer"
	"github.com/gaitord/gaitord/internal/metrics"
	"github.com/gaitord/gaitord/internal/video"
)

// Options configure a server. DefaultOptions holds every default; the
// command line reads its flag defaults from there.
type Options struct {
	Checkpoint  string // checkpoint or exported weights to serve
	Device      string // cpu, cuda, cuda:N
	Threads     int    // libtorch intra-op threads (0: all cores)
	BLASThreads int    // OpenBLAS's own threads (engine.SetBLASThreads; 0: OpenBLAS's default, one per core)
	// Precision is fp32 or int8 (infer.PrecisionInt8: CPU only; quantized
	// and calibrated at every load, see load).
	Precision string

	Addr       string // listen address; loopback by default
	Token      string // bearer token every /v1 route needs; "" for none
	CORSOrigin string // an origin allowed to call the API from a browser ("*" for any); "" for none

	MaxBody  int64         // request body limit in bytes
	MaxBatch int           // GEIs per forward pass
	MaxWait  time.Duration // longest wait for a batch to fill
	MaxQueue int           // GEIs waiting at most; more is 503 queue_full
	// PadBatches runs every forward pass at one of a few fixed batch sizes
	// (batch.PadSize), so memory stays flat under load (batch's package doc).
	PadBatches bool

	MaxPixels int    // largest video frame accepted (width × height)
	MaxFrames int    // most frames of an uploaded video
	FFmpeg    string // the ffmpeg program for videos; "" looks it up on PATH

	RequestTimeout time.Duration // deadline of a prediction, from arrival to answer
	HeaderTimeout  time.Duration // to read a request's headers
	ReadTimeout    time.Duration // to read a whole request, body included
	IdleTimeout    time.Duration // a keep-alive connection waiting for its next request
	Grace          time.Duration // SIGTERM/SIGINT: how long in-flight requests may take to finish

	Logger *slog.Logger // request and event log; nil: discard
}

// DefaultOptions are the defaults of `gaitord serve`.
func DefaultOptions() Options {
	return Options{
		Device: "cpu", Precision: infer.PrecisionFP32, Addr: "127.0.0.1:8080", BLASThreads: 1,
		MaxBody: 32 << 20, MaxBatch: 64, MaxWait: 5 * time.Millisecond, MaxQueue: 1024, PadBatches: true,
		MaxPixels: ffmpeg.DefaultMaxPixels, MaxFrames: 3000,
		RequestTimeout: 30 * time.Second, HeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, Grace: 30 * time.Second,
	}
}

// Validate refuses settings the server cannot run with, naming the flag.
func (o Options) Validate() error {
	if err := infer.CheckPrecision(o.Precision, o.Device); err != nil {
		return err
	}
	switch {
	case o.Checkpoint == "":
		return errors.New("--checkpoint: required")
	case o.MaxBatch < 1:
		return fmt.Errorf("--max-batch %d: must be at least 1", o.MaxBatch)
	case o.MaxWait < 0:
		return fmt.Errorf("--max-wait %v: must not be negative", o.MaxWait)
	case o.MaxQueue < o.MaxBatch:
		return fmt.Errorf("--max-queue %d: must be at least --max-batch (%d)", o.MaxQueue, o.MaxBatch)
	case o.BLASThreads < 0:
		return fmt.Errorf("--blas-threads %d: must not be negative", o.BLASThreads)
	case o.MaxBody < 1:
		return fmt.Errorf("--max-body %d: must be positive", o.MaxBody)
	case o.MaxPixels < 1:
		return fmt.Errorf("--max-pixels %d: must be positive", o.MaxPixels)
	case o.MaxFrames < 1:
		return fmt.Errorf("--max-frames %d: must be positive", o.MaxFrames)
	}
	for name, d := range map[string]time.Duration{"--request-timeout": o.RequestTimeout, "--header-timeout": o.HeaderTimeout,
		"--read-timeout": o.ReadTimeout, "--idle-timeout": o.IdleTimeout, "--grace": o.Grace} {
		if d <= 0 {
			return fmt.Errorf("%s %v: must be positive", name, d)
		}
	}
	return nil
}

//go:embed web openapi.json
var assets embed.FS

// server is one running `gaitord serve`.
type server struct {
	o        Options
	log      *slog.Logger
	met      *serverMetrics
	sched    *batch.Scheduler[*loaded]
	routes   map[string]*route
	token    [sha256.Size]byte
	draining atomic.Bool
	reloadMu sync.Mutex    // one reload at a time
	decoding chan struct{} // bounds concurrent image decoding (memory)
	videos   chan struct{} // one video analysed at a time (it uses every core)
	tmpDir   string        // the server's private folder for uploaded videos; "" refuses them
}

// route is one path of the API: its name (the metrics label), whether it
// needs the token, and a handler per method.
type route struct {
	name    string
	auth    bool
	methods map[string]http.HandlerFunc
}

func newServer(o Options) (*server, error) {
	s := &server{o: o, log: o.Logger, met: newMetrics(), decoding: make(chan struct{}, max(2, runtime.NumCPU())),
		videos: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.Token != "" {
		s.token = sha256.Sum256([]byte(o.Token))
	}
	var err error
	s.sched, err = batch.New[*loaded](batch.Options{MaxBatch: o.MaxBatch, MaxWait: o.MaxWait, MaxQueue: o.MaxQueue, Pad: o.PadBatches, Observer: s.met})
	if err != nil {
		return nil, err
	}
	s.routes = s.routeTable()
	return s, nil
}

// routeTable is the one list of routes: the dispatcher, the 405 Allow
// header and the OpenAPI check all read it.
func (s *server) routeTable() map[string]*route {
	get := func(h http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{http.MethodGet: h}
	}
	rt := map[string]*route{
		api.RoutePredict: {name: "predict", auth: true, methods: map[string]http.HandlerFunc{http.MethodPost: s.predict}},
		api.RouteModel:   {name: "model", auth: true, methods: get(s.model)},
		api.RouteHealth:  {name: "healthz", methods: get(s.health)},
		api.RouteReady:   {name: "readyz", methods: get(s.ready)},
		api.RouteMetrics: {name: "metrics", methods: get(s.met.handler().ServeHTTP)},
		api.RouteOpenAPI: {name: "openapi", methods: get(s.static("openapi.json", "application/json"))},
		api.RouteIndex:   {name: "web", methods: get(s.static("web/index.html", "text/html; charset=utf-8"))},
		"/app.js":        {name: "web", methods: get(s.static("web/app.js", "text/javascript; charset=utf-8"))},
		"/style.css":     {name: "web", methods: get(s.static("web/style.css", "text/css; charset=utf-8"))},
	}
	if s.o.Token != "" {
		rt[api.RouteReload] = &route{name: "reload", auth: true, methods: map[string]http.HandlerFunc{http.MethodPost: s.reloadHandler}}
	}
	return rt
}

// Run serves until a SIGTERM or SIGINT arrives on sig (then drains: no new
// connections, in-flight requests finish within Options.Grace) and returns
// nil after a clean drain. A SIGHUP reloads the checkpoint. Run listens
// first, then loads the model (readyz turns 200 after the warm-up pass); a
// first load that fails ends Run with its error.
//
// Run owns libtorch: it runs the batch scheduler on the calling goroutine,
// locked to its OS thread, so call it from the goroutine that may call
// libtorch (gaitord's main goroutine).
func Run(o Options, sig <-chan os.Signal) error {
	if err := o.Validate(); err != nil {
		return err
	}
	s, err := newServer(o)
	if err != nil {
		return err
	}
	// uploaded videos go to a folder of this process's own (mode 0700),
	// removed on the way out
	if s.tmpDir, err = os.MkdirTemp("", "gaitord-serve-"); err != nil {
		return fmt.Errorf("a folder for uploaded videos: %w", err)
	}
	defer os.RemoveAll(s.tmpDir)
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	engine, stopEngine := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		defer stopEngine()
		done <- s.serve(ln, sig)
	}()
	s.sched.Run(engine)
	return <-done
}

func (s *server) serve(ln net.Listener, sig <-chan os.Signal) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.o.HeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		// from the end of the headers: the rest of the body, the deadline, the answer
		WriteTimeout:   s.o.ReadTimeout + s.o.RequestTimeout + 5*time.Second,
		IdleTimeout:    s.o.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "auth", s.o.Token != "", "max_batch", s.o.MaxBatch,
		"max_wait", s.o.MaxWait.String(), "max_queue", s.o.MaxQueue)
	loaded := make(chan error, 1)
	go func() {
		err := s.sched.Do(context.Background(), func() error {
			engine.SetThreads(s.o.Threads)
			engine.SetBLASThreads(s.o.BLASThreads)
			return nil
		})
		if err == nil {
			_, err = s.reload("start")
		}
		loaded <- err
	}()
	for {
		select {
		case err := <-loaded:
			if err != nil {
				hs.Close()
				return err
			}
			loaded = nil
		case sg := <-sig:
			if sg == syscall.SIGHUP {
				go s.reload("SIGHUP")
				continue
			}
			return s.drain(hs, sg)
		case err := <-served:
			return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		}
	}
}

// drain stops accepting connections and waits up to Grace for the requests
// in flight.
func (s *server) drain(hs *http.Server, sg os.Signal) error {
	s.draining.Store(true)
	s.log.Info("draining", "signal", sg.String(), "grace", s.o.Grace.String(), "queued", s.sched.Depth())
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Grace)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
		return fmt.Errorf("drain: requests still running after the %v grace period were cut off", s.o.Grace)
	}
	s.log.Info("stopped")
	return nil
}

// reload loads the checkpoint again and swaps it in; on failure the old
// model keeps serving and one error line is logged.
func (s *server) reload(trigger string) (*api.ModelInfo, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	gen, _ := s.sched.Current()
	var info api.ModelInfo
	_, err := s.sched.Swap(context.Background(), func() (*loaded, error) {
		l, err := load(s.o.Checkpoint, s.o)
		if err != nil {
			return nil, err
		}
		l.info.Generation = gen + 1
		info = l.info
		return l, nil
	})
	if err != nil {
		if gen > 0 {
			s.met.reloads.WithLabelValues("refused").Inc()
			s.log.Error("reload refused; the previous model keeps serving", "trigger", trigger, "error", oneLine(err.Error()))
		}
		return nil, err
	}
	if gen > 0 {
		s.met.reloads.WithLabelValues("ok").Inc()
	}
	s.met.modelLoad.Set(info.LoadSeconds)
	s.met.generation.Set(float64(info.Generation))
	s.met.precision.Reset()
	s.met.precision.WithLabelValues(info.Precision).Set(1)
	s.log.Info("model loaded", "trigger", trigger, "checkpoint", info.Checkpoint, "sha256", info.SHA256,
		"generation", info.Generation, "input", fmt.Sprintf("%dx%d", info.InputHeight, info.InputWidth),
		"device", info.Device, "precision", info.Precision, "seconds", round3(info.LoadSeconds))
	return &info, nil
}

// ---- dispatch ----------------------------------------------------------------

// recorder remembers what a handler answered, for the log and the metrics.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wrote       bool
	code        api.ErrorCode // the error code answered, if any
	predictions int
	clientGone  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ServeHTTP routes a request: 404 for an unknown path, 405 for a known path
// with another method, 401 for a /v1 route without the token; then it logs
// one line and updates the metrics.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	id := newID()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	h := w.Header()
	h.Set(api.HeaderRequestID, id)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'")
	rt := s.routes[r.URL.Path]
	name := "unknown"
	switch {
	case rt == nil:
		s.writeError(rec, api.Errorf(api.ErrNotFound, "no route %s %s", r.Method, clip(r.URL.Path)))
	default:
		name = rt.name
		if s.cors(rec, r) && r.Method == http.MethodOptions {
			rec.WriteHeader(http.StatusNoContent)
			break
		}
		fn := rt.methods[r.Method]
		if fn == nil && r.Method == http.MethodHead {
			fn = rt.methods[http.MethodGet]
		}
		switch {
		case fn == nil:
			h.Set("Allow", allow(rt))
			s.writeError(rec, api.Errorf(api.ErrMethodNotAllowed, "%s %s: method not allowed (allowed: %s)", r.Method, r.URL.Path, allow(rt)))
		case rt.auth && !s.authorized(r):
			h.Set("WWW-Authenticate", `Bearer realm="gaitord"`)
			s.writeError(rec, api.Errorf(api.ErrUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)"))
		default:
			fn(rec, r)
		}
	}
	d := time.Since(t0)
	status := rec.status
	if rec.clientGone {
		status = statusClientClosed
	}
	s.met.observe(name, status, d)
	attrs := []slog.Attr{slog.String("id", id), slog.String("method", r.Method), slog.String("path", clip(r.URL.Path)),
		slog.String("route", name), slog.Int("status", status), slog.Float64("ms", round3(float64(d.Microseconds())/1000)),
		slog.Int64("bytes_in", max(r.ContentLength, -1)), slog.Int64("bytes_out", rec.bytes), slog.String("remote", r.RemoteAddr)}
	if rec.predictions > 0 {
		attrs = append(attrs, slog.Int("predictions", rec.predictions))
	}
	if rec.code != "" {
		attrs = append(attrs, slog.String("code", string(rec.code)))
	}
	level := slog.LevelInfo
	if status >= 500 && status != statusClientClosed {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
}

func allow(rt *route) string {
	var m []string
	for k := range rt.methods {
		m = append(m, k)
		if k == http.MethodGet {
			m = append(m, http.MethodHead)
		}
	}
	sort.Strings(m)
	return strings.Join(m, ", ")
}

// authorized compares the bearer token in constant time (hashes of equal
// length, so not even the length leaks). Without a configured token every
// request is authorized.
func (s *server) authorized(r *http.Request) bool {
	if s.o.Token == "" {
		return true
	}
	const prefix = "bearer "
	a := r.Header.Get("Authorization")
	if len(a) < len(prefix) || !strings.EqualFold(a[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(a[len(prefix):])))
	return subtle.ConstantTimeCompare(got[:], s.token[:]) == 1
}

// cors adds the CORS headers when an origin is configured and the request
// comes from it; it reports whether it did. Without --cors-origin browsers
// keep the same-origin rule.
func (s *server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if s.o.CORSOrigin == "" || origin == "" || (s.o.CORSOrigin != "*" && origin != s.o.CORSOrigin) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", api.HeaderRequestID+", "+api.HeaderModel)
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

// writeError answers e as JSON with its status; 503s carry Retry-After.
func (s *server) writeError(w *recorder, e *api.Error) {
	w.code = e.Code
	status := e.Code.Status()
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the answer failed","code":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *server) static(name, contentType string) http.HandlerFunc {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err) // the embedded files are fixed at build time
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method != http.MethodHead {
			w.Write(b)
		}
	}
}

// ---- handlers ----------------------------------------------------------------

func (s *server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, api.Status{Status: "ok"})
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	if s.refuseUnready(w.(*recorder)) {
		return
	}
	writeJSON(w, http.StatusOK, api.Status{Status: "ready"})
}

// refuseUnready answers 503 and reports true while the server is draining
// or has no model yet: /readyz and /v1/predict share the rule.
func (s *server) refuseUnready(rec *recorder) bool {
	if s.draining.Load() {
		s.writeError(rec, api.Errorf(api.ErrShuttingDown, "shutting down"))
		return true
	}
	if gen, _ := s.sched.Current(); gen == 0 {
		s.writeError(rec, api.Errorf(api.ErrNotReady, "the model is still loading"))
		return true
	}
	return false
}

func (s *server) model(w http.ResponseWriter, r *http.Request) {
	gen, l := s.sched.Current()
	if gen == 0 {
		s.writeError(w.(*recorder), api.Errorf(api.ErrNotReady, "the model is still loading"))
		return
	}
	writeJSON(w, http.StatusOK, l.info)
}

func (s *server) reloadHandler(w http.ResponseWriter, r *http.Request) {
	info, err := s.reload("api")
	if err != nil {
		s.writeError(w.(*recorder), api.Errorf(api.ErrReloadFailed, "reload refused, the previous model keeps serving: %s", oneLine(err.Error())))
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// predict answers POST /v1/predict: read the body (within --max-body and
// the read timeout), decode the images for the current model, queue them
// for the batcher under the request's deadline, and answer the records.
func (s *server) predict(w http.ResponseWriter, r *http.Request) {
	rec := w.(*recorder)
	if s.refuseUnready(rec) {
		return
	}
	details := false
	if v := r.URL.Query().Get(api.QueryDetails); v != "" {
		var err error
		if details, err = strconv.ParseBool(v); err != nil {
			s.writeError(rec, api.Errorf(api.ErrBadRequest, "?%s=%q: want true or false", api.QueryDetails, clip(v)))
			return
		}
	}
	r.Body = http.MaxBytesReader(rec.ResponseWriter, r.Body, s.o.MaxBody)
	b, aerr := readBody(r, s.o.MaxQueue, s.tmpDir)
	if aerr != nil {
		s.writeError(rec, aerr)
		return
	}
	defer b.close()
	ctx, cancel := context.WithTimeout(r.Context(), s.o.RequestTimeout)
	defer cancel()
	if b.video != nil {
		s.predictVideo(ctx, rec, r, b.video, details)
		return
	}
	for attempt := 0; ; attempt++ {
		gen, l := s.sched.Current()
		if b.set > 0 && l.fuse != nil {
			s.writeError(rec, api.Errorf(api.ErrCannotFuse, "%s", oneLine(l.fuse.Error())))
			return
		}
		inputs, aerr := s.decode(ctx, b, l.size)
		if aerr != nil {
			s.writeError(rec, aerr)
			return
		}
		preds, err := s.forward(ctx, gen, inputs)
		if errors.Is(err, batch.ErrStale) && attempt < 3 {
			continue // a reload swapped the model in between: decode for the new one
		}
		if err != nil {
			s.submitError(rec, r, err)
			return
		}
		res := api.PredictResponse{Predictions: preds}
		for i, in := range inputs {
			preds[i].Path, preds[i].Source = in.path, in.source
			if in.set != nil {
				preds[i].NInputs = len(in.set)
			}
			if details {
				res.Details = append(res.Details, detail(in.x, l.size, preds[i].PAgeGT, l.info.MinAge))
			}
		}
		s.answer(rec, l, res)
		return
	}
}

// answer writes a successful prediction response made by model l.
func (s *server) answer(rec *recorder, l *loaded, res api.PredictResponse) {
	rec.predictions = len(res.Predictions)
	s.met.predictions.Add(float64(len(res.Predictions)))
	rec.Header().Set(api.HeaderModel, l.info.SHA256)
	writeJSON(rec, http.StatusOK, res)
}

// forward predicts inputs prepared for model generation gen: the single
// GEIs through one Submit (batched with other requests'), a set through
// SubmitSet (its own forward pass, on the batcher's thread too). The
// predictions are in the order of inputs.
func (s *server) forward(ctx context.Context, gen int, inputs []input) ([]api.Prediction, error) {
	var xs [][]float32
	var at []int
	setAt := -1
	for i, in := range inputs {
		if in.set != nil {
			setAt = i
			continue
		}
		xs = append(xs, in.x)
		at = append(at, i)
	}
	var setPred api.Prediction
	var setErr error
	setDone := make(chan struct{})
	setCtx, cancelSet := context.WithCancel(ctx)
	defer cancelSet()
	if setAt >= 0 {
		go func() {
			defer close(setDone)
			setPred, setErr = s.sched.SubmitSet(setCtx, gen, inputs[setAt].set)
		}()
	} else {
		close(setDone)
	}
	rows, err := s.sched.Submit(ctx, gen, xs)
	if err != nil {
		cancelSet() // the answer is an error: the set need not run
	}
	<-setDone
	if err == nil {
		err = setErr
	}
	if err != nil {
		return nil, err
	}
	preds := make([]api.Prediction, len(inputs))
	for j, i := range at {
		preds[i] = rows[j]
	}
	if setAt >= 0 {
		preds[setAt] = setPred
	}
	return preds, nil
}

// predictVideo answers a video upload: the footage pipeline (package video,
// FFmpeg under ctx, so a client that goes away or the deadline passing
// stops the decode) on this goroutine, one video at a time, then the
// tracks' GEIs through the batcher. Records are those of `gaitord predict
// --json` on the file, path the upload's name.
func (s *server) predictVideo(ctx context.Context, rec *recorder, r *http.Request, v *part, details bool) {
	select {
	case s.videos <- struct{}{}:
	case <-ctx.Done():
		s.contextError(rec, r, "the deadline passed while another video was being analysed")
		return
	}
	defer func() { <-s.videos }()
	var res video.Result
	var size gei.Size
	for attempt := 0; ; attempt++ {
		gen, l := s.sched.Current()
		if l.size != size {
			size = l.size
			var err error
			res, err = video.Analyze(ctx, v.file, video.Options{Size: size, MaxPixels: s.o.MaxPixels, MaxFrames: s.o.MaxFrames, FFmpeg: s.o.FFmpeg})
			if aerr := s.videoError(ctx, rec, r, v, res, err); aerr != nil {
				if !rec.clientGone {
					s.writeError(rec, aerr)
				}
				return
			}
		}
		xs := make([][]float32, len(res.Tracks))
		for i, t := range res.Tracks {
			xs[i] = t.Input()
		}
		preds, err := s.sched.Submit(ctx, gen, xs)
		if errors.Is(err, batch.ErrStale) && attempt < 3 {
			continue // a reload swapped the model in between: analyse again if its input size differs
		}
		if err != nil {
			s.submitError(rec, r, err)
			return
		}
		out := api.PredictResponse{Predictions: make([]api.Prediction, len(preds))}
		for i, t := range res.Tracks {
			out.Predictions[i] = t.Record(preds[i], v.name)
			if details {
				out.Details = append(out.Details, detail(xs[i], size, preds[i].PAgeGT, l.info.MinAge))
			}
		}
		for _, n := range res.Notes {
			out.Notes = append(out.Notes, n.String())
		}
		s.answer(rec, l, out)
		return
	}
}

// videoError classifies the outcome of analysing an uploaded video: nil
// when it gave tracks from a complete stream, else the refusal, its message
// naming the upload (never the temporary file). A client that went away
// is marked on rec (nobody to answer).
func (s *server) videoError(ctx context.Context, rec *recorder, r *http.Request, v *part, res video.Result, err error) *api.Error {
	msg := func(e error) string { return oneLine(strings.ReplaceAll(e.Error(), v.file, v.name)) }
	switch {
	case r.Context().Err() != nil:
		rec.clientGone = true
		return api.Errorf(api.ErrDeadline, "the client went away")
	case ctx.Err() != nil:
		return api.Errorf(api.ErrDeadline, "video %s was not analysed within the %v deadline", v.name, s.o.RequestTimeout)
	case res.Truncation != "":
		// an upload cut short is refused, not predicted from what arrived
		return api.Errorf(api.ErrBadVideo, "%s: %s", v.name, oneLine(res.Truncation))
	case err == nil:
		return nil
	case errors.Is(err, ffmpeg.ErrNotInstalled):
		return api.Errorf(api.ErrNotSupported, "this server cannot decode videos: %s", msg(err))
	case errors.Is(err, ffmpeg.ErrTooLarge), errors.Is(err, video.ErrTooLong):
		return api.Errorf(api.ErrVideoTooLarge, "%s", msg(err))
	case errors.Is(err, video.ErrNoWalker), errors.Is(err, video.ErrShortWalkers), errors.Is(err, video.ErrMovingCamera):
		m := msg(err)
		for _, n := range res.Notes {
			m += "; " + n.String()
		}
		return api.Errorf(api.ErrNoWalker, "%s", m)
	}
	return api.Errorf(api.ErrBadVideo, "%s", msg(err))
}

// contextError answers a request whose context ended before its work: a
// client that went away gets nothing, a passed deadline a 503.
func (s *server) contextError(rec *recorder, r *http.Request, what string) {
	if r.Context().Err() != nil {
		rec.clientGone = true
		return
	}
	s.writeError(rec, api.Errorf(api.ErrDeadline, "%s", what))
}

// decode decodes a body's images, at most NumCPU bodies at a time: a
// decoded image can take up to gei.MaxPixels·4 bytes.
func (s *server) decode(ctx context.Context, b *body, size gei.Size) ([]input, *api.Error) {
	select {
	case s.decoding <- struct{}{}:
	case <-ctx.Done():
		return nil, api.Errorf(api.ErrDeadline, "the deadline passed before the images were decoded")
	}
	defer func() { <-s.decoding }()
	return b.decode(size)
}

func (s *server) submitError(w *recorder, r *http.Request, err error) {
	switch {
	case errors.Is(err, batch.ErrQueueFull):
		s.writeError(w, api.Errorf(api.ErrQueueFull, "the queue is full (%d GEIs): retry later", s.o.MaxQueue))
	case errors.Is(err, batch.ErrTooMany):
		s.writeError(w, api.Errorf(api.ErrTooManyInputs, "%s", err))
	case errors.Is(err, batch.ErrNoModel):
		s.writeError(w, api.Errorf(api.ErrNotReady, "the model is still loading"))
	case errors.Is(err, batch.ErrClosed):
		s.writeError(w, api.Errorf(api.ErrShuttingDown, "shutting down"))
	case r.Context().Err() != nil:
		w.clientGone = true // nobody to answer
	case errors.Is(err, context.DeadlineExceeded):
		s.writeError(w, api.Errorf(api.ErrDeadline, "no forward pass within the %v deadline", s.o.RequestTimeout))
	default:
		s.writeError(w, api.Errorf(api.ErrInternal, "forward pass: %s", oneLine(err.Error())))
	}
}

// detail is what the web page draws for one prediction: the input as the
// model saw it and P(age = a), the steps of metrics.CDF (the monotone CDF
// the interval is read from): P(age = MinAge+j) = F(MinAge+j) − F(MinAge+j−1).
func detail(x []float32, size gei.Size, p []float64, minAge int) api.PredictionDetail {
	var buf bytes.Buffer
	d := api.PredictionDetail{MinAge: minAge}
	if err := gei.EncodePNG(&buf, x, size); err == nil {
		d.InputPNG = "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	}
	if len(p) == 0 { // a model without a distribution (loss type l1)
		return d
	}
	f := metrics.CDF(p)
	d.PAge = make([]float64, len(f)-1)
	for j := range d.PAge {
		d.PAge[j] = f[j+1] - f[j]
	}
	return d
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

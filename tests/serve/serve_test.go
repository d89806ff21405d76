package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// The API answers what `gaitord predict --json` prints, for an image/png
// body, a form of GEIs and a form of frames; /v1/model, /healthz, /readyz,
// /openapi.json and the details the web page draws.
func TestAPIMatchesPredict(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA)
	want := predictJSON(t, "--checkpoint", f.weightsA, f.geis[0], f.geis[1], f.frames)

	r := s.do("POST", api.RoutePredict+"?name=person.png", api.ContentTypePNG, mustRead(t, f.geis[0]))
	var one api.PredictResponse
	r.json(t, &one)
	if r.status != 200 || len(one.Predictions) != 1 || one.Predictions[0].Path != "person.png" || one.Details != nil {
		t.Fatalf("raw body: %d %s", r.status, r.body)
	}
	sameRecord(t, one.Predictions[0], want[0])
	if r.header.Get(api.HeaderModel) != sha256File(t, f.weightsA) || len(r.header.Get(api.HeaderRequestID)) != 16 {
		t.Fatalf("headers %v", r.header)
	}
	if !strings.Contains(s.log.String(), r.header.Get(api.HeaderRequestID)) {
		t.Fatal("request id not in the log")
	}

	// a GEI, the six frames of a walk, a GEI: the walk's record sits where its first frame was
	files := []formFile{{"gei", "", f.geis[0]}}
	for i := 1; i <= 6; i++ {
		name := fmt.Sprintf("%04d.png", i)
		files = append(files, formFile{"frames", "walk-007/" + name, filepath.Join(f.frames, name)})
	}
	files = append(files, formFile{"gei", "", f.geis[1]})
	ct, body := form(t, files...)
	r = s.do("POST", api.RoutePredict+"?details=true", ct, body)
	var three api.PredictResponse
	r.json(t, &three)
	if r.status != 200 || len(three.Predictions) != 3 || len(three.Details) != 3 {
		t.Fatalf("form: %d %s", r.status, r.body)
	}
	paths := []string{three.Predictions[0].Path, three.Predictions[1].Path, three.Predictions[2].Path}
	if paths[0] != filepath.Base(f.geis[0]) || paths[1] != "walk-007" || paths[2] != filepath.Base(f.geis[1]) {
		t.Fatalf("paths %v", paths)
	}
	sameRecord(t, three.Predictions[0], want[0])
	sameRecord(t, three.Predictions[1], want[2]) // the frames folder, through gei.Walk on both sides
	sameRecord(t, three.Predictions[2], want[1])
	for i, d := range three.Details {
		sum := 0.0
		for _, v := range d.PAge {
			if v < 0 {
				t.Fatalf("detail %d: negative probability %v", i, v)
			}
			sum += v
		}
		if len(d.PAge) != 101 || math.Abs(sum-1) > 1e-9 || d.MinAge != 0 {
			t.Fatalf("detail %d: %d ages summing to %v", i, len(d.PAge), sum)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(d.InputPNG, "data:image/png;base64,"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(raw))
		if err != nil || img.Bounds().Dx() != 44 || img.Bounds().Dy() != 64 {
			t.Fatalf("detail %d: input image %v %v", i, err, img.Bounds())
		}
	}

	var info api.ModelInfo
	r = s.do("GET", api.RouteModel, "", nil)
	r.json(t, &info)
	if info.InputHeight != 64 || info.InputWidth != 44 || info.K != 100 || info.Kind != "weights" || info.Generation != 1 ||
		info.SHA256 != sha256File(t, f.weightsA) || info.Checkpoint != f.weightsA || info.Libtorch == "" || info.Device != "cpu" || info.MaxBatch != 64 {
		t.Fatalf("model %+v", info)
	}
	for _, p := range []string{api.RouteHealth, api.RouteReady} {
		var st api.Status
		r = s.do("GET", p, "", nil)
		r.json(t, &st)
		if r.status != 200 || (st.Status != "ok" && st.Status != "ready") {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	r = s.do("GET", api.RouteOpenAPI, "", nil)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	r.json(t, &doc)
	for _, p := range []string{api.RoutePredict, api.RouteModel, api.RouteReload, api.RouteHealth, api.RouteReady, api.RouteMetrics, api.RouteOpenAPI, api.RouteIndex} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
	r = s.do("GET", "/", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `<script src="/app.js"`) || strings.Contains(string(r.body), "https://") {
		t.Fatalf("page: %d", r.status)
	}
	if s.metric(`gaitord_predictions_total`) != 4 || s.metric(`gaitord_http_requests_total{code="200",route="predict"}`) != 2 {
		t.Fatalf("metrics:\n%s", s.do("GET", api.RouteMetrics, "", nil).body)
	}
}

// Concurrent requests share one forward pass (the batch-size histogram
// counts one batch of 8); with --max-batch 1 each request has its own.
func TestConcurrentRequestsShareAForward(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		maxBatch        string
		batches, inputs float64
	}{{"8", 1, 8}, {"1", 8, 8}} {
		// a long --max-wait: only a full batch (8 inputs, or 1) can run
		s := start(t, "--checkpoint", f.weightsA, "--max-batch", c.maxBatch, "--max-wait", "1m")
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.do("POST", api.RoutePredict, api.ContentTypePNG, mustRead(t, f.geis[i%len(f.geis)]))
				if r.status != 200 {
					t.Errorf("request %d: %d %s", i, r.status, r.body)
				}
			}()
		}
		wg.Wait()
		if n, sum := s.metric("gaitord_batch_size_count"), s.metric("gaitord_batch_size_sum"); n != c.batches || sum != c.inputs {
			t.Fatalf("--max-batch %s: %v batches of %v inputs in all, want %v of %v", c.maxBatch, n, sum, c.batches, c.inputs)
		}
		if s.metric(`gaitord_batch_size_bucket{le="8"}`) != c.batches || (c.maxBatch == "8" && s.metric(`gaitord_batch_size_bucket{le="4"}`) != 0) {
			t.Fatal("batch-size buckets disagree")
		}
	}
}

// A batch of 5 GEIs runs padded to 8 rows (--pad-batches, the default) and
// unpadded (--pad-batches=false); both answer what predict --json prints,
// and the padding shows in /metrics (3 zero rows, 5 inputs in one batch).
func TestPaddedBatchMatchesPredict(t *testing.T) {
	f := setup(t)
	files := []string{f.geis[0], f.geis[1], f.geis[2], f.geis[3], f.geis[0]}
	want := predictJSON(t, "--checkpoint", f.weightsA, f.geis[0], f.geis[1], f.geis[2], f.geis[3])
	want = append(want, want[0])
	var form5 []formFile
	for i, p := range files {
		form5 = append(form5, formFile{"gei", fmt.Sprintf("%d.png", i), p})
	}
	ct, body := form(t, form5...)
	served := map[string][]api.Prediction{}
	for _, c := range []struct {
		flag string
		pad  float64
	}{{"--pad-batches", 3}, {"--pad-batches=false", 0}} {
		s := start(t, "--checkpoint", f.weightsA, "--max-batch", "64", c.flag)
		r := s.do("POST", api.RoutePredict, ct, body)
		var res api.PredictResponse
		r.json(t, &res)
		if r.status != 200 || len(res.Predictions) != 5 {
			t.Fatalf("%s: %d %s", c.flag, r.status, r.body)
		}
		for i, p := range res.Predictions {
			if p.Path != fmt.Sprintf("%d.png", i) {
				t.Fatalf("%s: record %d is %q", c.flag, i, p.Path)
			}
			sameRecord(t, p, want[i])
		}
		if s.metric("gaitord_batch_size_count") != 1 || s.metric("gaitord_batch_size_sum") != 5 ||
			s.metric("gaitord_batch_padding_rows_total") != c.pad {
			t.Fatalf("%s: metrics:\n%s", c.flag, s.do("GET", api.RouteMetrics, "", nil).body)
		}
		served[c.flag] = res.Predictions
	}
	for i := range files {
		sameRecord(t, served["--pad-batches"][i], served["--pad-batches=false"][i])
	}
}

// A request that does not fit in the queue is 503 queue_full with
// Retry-After at once; one whose deadline passes in the queue is 503
// deadline_exceeded; a client that goes away is dropped from the queue; the
// server then serves on.
func TestQueueFullDeadlineAndDroppedClient(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA, "--max-batch", "2", "--max-queue", "2", "--max-wait", "1m", "--request-timeout", "3s")
	gei := mustRead(t, f.geis[0])
	first := make(chan response, 1)
	go func() { first <- s.do("POST", api.RoutePredict, api.ContentTypePNG, gei) }()
	s.waitMetric("gaitord_queue_depth", 1) // waits for a second input to fill the batch
	ct, body := form(t, formFile{"gei", "", f.geis[1]}, formFile{"gei", "", f.geis[2]})
	r := s.do("POST", api.RoutePredict, ct, body)
	r.apiError(t, api.ErrQueueFull)
	if r.header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	r = <-first // its 3 s deadline passed in the queue
	r.apiError(t, api.ErrDeadline)
	// the batcher counts the drop when it next looks at the queue, which may
	// be after the handler has answered
	s.waitMetric(`gaitord_dropped_inputs_total{reason="deadline"}`, 1)

	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan response, 1)
	go func() { gone <- s.doCtx(ctx, "POST", api.RoutePredict, api.ContentTypePNG, gei) }()
	s.waitMetric("gaitord_queue_depth", 1)
	cancel()
	<-gone
	s.waitMetric(`gaitord_dropped_inputs_total{reason="client_gone"}`, 1)
	s.waitMetric("gaitord_queue_depth", 0)

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := s.do("POST", api.RoutePredict, api.ContentTypePNG, gei); r.status != 200 {
				t.Errorf("after the drops: %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if s.metric("gaitord_batch_size_count") != 1 || s.metric("gaitord_batch_size_sum") != 2 {
		t.Fatal("the dropped inputs were run")
	}
}

// With --token-file every /v1 route needs the bearer token; probes stay
// open; /v1/admin/reload exists only with a token; predict --server takes
// the token from GAITORD_TOKEN or --token-file.
func TestAuth(t *testing.T) {
	f := setup(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600)
	s := start(t, "--checkpoint", f.weightsA, "--token-file", tokenFile)
	gei := mustRead(t, f.geis[0])
	for _, c := range []struct {
		method, path string
		hdr          []string
	}{
		{"POST", api.RoutePredict, nil},
		{"POST", api.RoutePredict, []string{"Authorization", "Bearer wrong-token!"}},
		{"POST", api.RoutePredict, []string{"Authorization", "Bearer s3cret-toke"}},
		{"POST", api.RoutePredict, []string{"Authorization", "Basic s3cret-token"}},
		{"GET", api.RouteModel, nil},
		{"POST", api.RouteReload, []string{"Authorization", "Bearer nope"}},
	} {
		r := s.do(c.method, c.path, api.ContentTypePNG, gei, c.hdr...)
		r.apiError(t, api.ErrUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("%s %s: no WWW-Authenticate", c.method, c.path)
		}
	}
	for _, p := range []string{api.RouteHealth, api.RouteReady, api.RouteMetrics, api.RouteOpenAPI, "/"} {
		if r := s.do("GET", p, "", nil); r.status != 200 {
			t.Fatalf("%s without a token: %d", p, r.status)
		}
	}
	auth := []string{"Authorization", "Bearer s3cret-token"}
	if r := s.do("POST", api.RoutePredict, api.ContentTypePNG, gei, auth...); r.status != 200 {
		t.Fatalf("with the token: %d %s", r.status, r.body)
	}
	var info api.ModelInfo
	r := s.do("POST", api.RouteReload, "", nil, auth...)
	r.json(t, &info)
	if r.status != 200 || info.Generation != 2 {
		t.Fatalf("reload: %d %s", r.status, r.body)
	}

	// predict --server: the token from the environment, then from a file
	want := predictJSON(t, "--checkpoint", f.weightsA, f.geis[0])
	run := func(env string, args ...string) gaitordtest.Result {
		t.Setenv("GAITORD_TOKEN", env)
		return gaitordtest.Exec(t, bin, append([]string{"predict", "--server", s.url, "--json"}, args...)...)
	}
	if x := run("s3cret-token", f.geis[0]); x.Code != 0 {
		t.Fatalf("GAITORD_TOKEN: exit %d %s", x.Code, x.Stderr)
	} else {
		sameRecord(t, decodeLines(t, x.Stdout)[0], want[0])
	}
	if x := run("", "--token-file", tokenFile, f.geis[0]); x.Code != 0 {
		t.Fatalf("--token-file: exit %d %s", x.Code, x.Stderr)
	}
	if x := run("", f.geis[0]); x.Code != 1 || !strings.Contains(x.Stderr, "401") || !strings.Contains(x.Stderr, "unauthorized") {
		t.Fatalf("no token: exit %d %s", x.Code, x.Stderr)
	}

	// without a token there is no reload route; CORS only for --cors-origin
	open := start(t, "--checkpoint", f.weightsA, "--cors-origin", "http://app.example")
	open.do("POST", api.RouteReload, "", nil).apiError(t, api.ErrNotFound)
	pre := open.do("OPTIONS", api.RoutePredict, "", nil, "Origin", "http://app.example", "Access-Control-Request-Method", "POST")
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", pre.status, pre.header)
	}
	if r := open.do("POST", api.RoutePredict, api.ContentTypePNG, gei, "Origin", "http://app.example"); r.status != 200 ||
		r.header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("CORS request: %d %v", r.status, r.header)
	}
	if r := open.do("POST", api.RoutePredict, api.ContentTypePNG, gei, "Origin", "http://evil.example"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS header for another origin")
	}
	open.do("OPTIONS", api.RoutePredict, "", nil, "Origin", "http://evil.example").apiError(t, api.ErrMethodNotAllowed)
}

// predict --server prints what predict --checkpoint prints, bad inputs
// included (reported with their path, exit 1).
func TestPredictServerFlag(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA)
	bad := filepath.Join(t.TempDir(), "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	args := []string{"--json", f.geis[0], bad, f.frames, f.geis[1]}
	local := gaitordtest.Exec(t, bin, append([]string{"predict", "--checkpoint", f.weightsA}, args...)...)
	remote := gaitordtest.Exec(t, bin, append([]string{"predict", "--server", s.url}, args...)...)
	if local.Code != 1 || remote.Code != 1 {
		t.Fatalf("exit %d and %d, want 1 and 1\n%s\n%s", local.Code, remote.Code, local.Stderr, remote.Stderr)
	}
	l, rm := decodeLines(t, local.Stdout), decodeLines(t, remote.Stdout)
	if len(l) != 3 || len(rm) != 3 {
		t.Fatalf("%d and %d records", len(l), len(rm))
	}
	for i := range l {
		if rm[i].Path != l[i].Path {
			t.Fatalf("record %d: path %q, want %q", i, rm[i].Path, l[i].Path)
		}
		sameRecord(t, rm[i], l[i])
	}
	for _, out := range []string{local.Stderr, remote.Stderr} {
		if !strings.Contains(out, "gaitord: "+bad) && !strings.Contains(out, bad+":") {
			t.Fatalf("bad input not named:\n%s", out)
		}
	}
	down := gaitordtest.Exec(t, bin, "predict", "--server", "http://127.0.0.1:1", f.geis[0])
	if down.Code != 1 || strings.Count(down.Stderr, "gaitord: ") != 1 {
		t.Fatalf("server down: exit %d\n%s", down.Code, down.Stderr)
	}
}

// SIGTERM: no new connections, the request in flight finishes, exit 0.
func TestSIGTERMDrains(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA, "--max-batch", "4", "--max-wait", "2s", "--grace", "30s")
	inflight := make(chan response, 1)
	go func() { inflight <- s.do("POST", api.RoutePredict, api.ContentTypePNG, mustRead(t, f.geis[0])) }()
	s.waitMetric("gaitord_queue_depth", 1) // queued, waiting up to 2 s for company
	s.signal(syscall.SIGTERM)
	r := <-inflight
	if r.status != 200 {
		t.Fatalf("in-flight request: %d %s", r.status, r.body)
	}
	if code := s.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	if r := s.do("GET", api.RouteHealth, "", nil); r.status != -1 {
		t.Fatalf("answered after the drain: %d", r.status)
	}
	var msgs []string
	for _, rec := range s.log.records() {
		msgs = append(msgs, rec["msg"].(string))
	}
	if !strings.Contains(strings.Join(msgs, ","), "draining,request,stopped") {
		t.Fatalf("log messages %v", msgs)
	}
}

// SIGHUP reloads: the request queued before it finishes on the old model,
// later ones use the new; a broken checkpoint is refused with one log line
// and the previous model keeps serving.
func TestSIGHUPReload(t *testing.T) {
	f := setup(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "model.safetensors")
	os.WriteFile(ckpt, mustRead(t, f.weightsA), 0o644)
	shaA, shaB := sha256File(t, f.weightsA), sha256File(t, f.weightsB)
	s := start(t, "--checkpoint", ckpt, "--max-batch", "4", "--max-wait", "2s")
	gei := mustRead(t, f.geis[0])
	wantB := predictJSON(t, "--checkpoint", f.weightsB, f.geis[0])

	inflight := make(chan response, 1)
	go func() { inflight <- s.do("POST", api.RoutePredict, api.ContentTypePNG, gei) }()
	s.waitMetric("gaitord_queue_depth", 1)
	tmp := filepath.Join(dir, "new.tmp")
	os.WriteFile(tmp, mustRead(t, f.weightsB), 0o644)
	os.Rename(tmp, ckpt) // as training replaces best.ckpt
	s.signal(syscall.SIGHUP)
	s.waitMetric("gaitord_model_generation", 2)
	r := <-inflight
	if r.status != 200 || r.header.Get(api.HeaderModel) != shaA {
		t.Fatalf("queued before the reload: %d, model %s (old %s)", r.status, r.header.Get(api.HeaderModel), shaA)
	}
	r = s.do("POST", api.RoutePredict, api.ContentTypePNG, gei)
	var res api.PredictResponse
	r.json(t, &res)
	if r.header.Get(api.HeaderModel) != shaB {
		t.Fatal("after the reload the old model answered")
	}
	sameRecord(t, res.Predictions[0], wantB[0])

	os.WriteFile(ckpt, []byte("\x10\x00\x00\x00\x00\x00\x00\x00{broken json}"), 0o644)
	s.signal(syscall.SIGHUP)
	s.waitMetric(`gaitord_model_reloads_total{result="refused"}`, 1)
	var refused []map[string]any
	for _, rec := range s.log.records() {
		if rec["level"] == "ERROR" {
			refused = append(refused, rec)
		}
	}
	if len(refused) != 1 || !strings.Contains(refused[0]["error"].(string), ckpt) {
		t.Fatalf("error log lines %v", refused)
	}
	var info api.ModelInfo
	s.do("GET", api.RouteModel, "", nil).json(t, &info)
	if info.SHA256 != shaB || info.Generation != 2 {
		t.Fatalf("after the broken reload: %+v", info)
	}
	r = s.do("POST", api.RoutePredict, api.ContentTypePNG, gei)
	if r.status != 200 || r.header.Get(api.HeaderModel) != shaB {
		t.Fatalf("serving after the broken reload: %d %s", r.status, r.body)
	}
	if rd := s.do("GET", api.RouteReady, "", nil); rd.status != 200 {
		t.Fatal("not ready after the broken reload")
	}
}

// A first checkpoint that does not load ends the server with one error line
// and exit 1; bad flags are usage errors.
func TestStartFailures(t *testing.T) {
	f := setup(t)
	bad := filepath.Join(t.TempDir(), "bad.ckpt")
	os.WriteFile(bad, []byte("garbage"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--checkpoint", bad, "--addr", "127.0.0.1:0"}, 1, bad},
		{[]string{"--checkpoint", filepath.Join(t.TempDir(), "none.ckpt"), "--addr", "127.0.0.1:0"}, 1, "no such file"},
		{[]string{"--checkpoint", f.weightsA, "--max-batch", "0"}, 2, "--max-batch 0"},
		{[]string{"--checkpoint", f.weightsA, "--max-batch", "8", "--max-queue", "4"}, 2, "--max-queue 4"},
		{[]string{"--checkpoint", f.weightsA, "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"--checkpoint", f.weightsA, "--token-file", filepath.Join(t.TempDir(), "none")}, 1, "token file"},
		{[]string{"--checkpoint", f.weightsA, "--addr", "256.0.0.1:1"}, 1, "listen on 256.0.0.1:1"},
		// an export stores no configuration, so no data to calibrate int8 on
		{[]string{"--checkpoint", f.weightsA, "--precision", "int8", "--addr", "127.0.0.1:0"}, 1, f.weightsA + " stores no configuration"},
		{[]string{"--checkpoint", f.weightsA, "--precision", "int4"}, 2, `--precision "int4"`},
		{[]string{"--checkpoint", f.weightsA, "--precision", "int8", "--device", "cuda"}, 2, "--precision int8 runs on the CPU"},
	} {
		x := gaitordtest.Exec(t, bin, append([]string{"serve", "--log-format", "json"}, c.args...)...)
		var errLines []string
		for _, ln := range strings.Split(x.Stderr, "\n") {
			if strings.HasPrefix(ln, "gaitord: ") {
				errLines = append(errLines, ln)
			}
		}
		if x.Code != c.code || len(errLines) != 1 || !strings.Contains(errLines[0], c.want) {
			t.Errorf("serve %v: exit %d, error lines %q; want exit %d and one line with %q", c.args, x.Code, errLines, c.code, c.want)
		}
	}
}

// The OpenAPI document served is valid JSON naming every error code.
func TestOpenAPIListsErrorCodes(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA)
	r := s.do("GET", api.RouteOpenAPI, "", nil)
	if !json.Valid(r.body) || r.header.Get("Content-Type") != "application/json" {
		t.Fatal("openapi.json is not JSON")
	}
	for _, c := range api.ErrorCodes {
		if !bytes.Contains(r.body, []byte(`"`+string(c)+`"`)) {
			t.Errorf("openapi.json lacks error code %s", c)
		}
	}
}

// Package serve runs the real `gaitord serve` binary on 127.0.0.1 ephemeral
// ports: the API against `gaitord predict --json`, dynamic batching (seen in
// /metrics), the queue limit and deadlines, auth, every bad input of the
// issue over HTTP (each a 4xx JSON error, the server still serving), the
// SIGTERM drain, the SIGHUP reload with a good and a broken checkpoint,
// `predict --server`, and the web page in a real browser (Debian's chromium
// driven by chromedp).
package serve

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/checkpoint"
	"github.com/gaitord/gaitord/internal/glcnn"
	"github.com/gaitord/gaitord/internal/model"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

var bin string

func TestMain(m *testing.M) {
	os.Exit(gaitordtest.Main(m, &bin, func() {
		if fx.dir != "" {
			os.RemoveAll(fx.dir)
		}
	}))
}

// fixtures are made once and shared by every test.
type fixtures struct {
	dir      string
	weightsA string   // random-initialised 64×44 weights (seed 1)
	weightsB string   // another initialisation (seed 2)
	corn     string   // weights of loss type corn, which cannot fuse a set
	geis     []string // GEIs of a small synthetic dataset
	frames   string   // a folder of binary silhouette frames
}

var (
	fx     fixtures
	fxOnce sync.Once
	fxErr  error
)

func setup(t *testing.T) *fixtures {
	t.Helper()
	fxOnce.Do(func() { fxErr = buildFixtures() })
	if fxErr != nil {
		t.Fatal(fxErr)
	}
	return &fx
}

func buildFixtures() error {
	dir, err := os.MkdirTemp("", "gaitord-serve-fx")
	if err != nil {
		return err
	}
	fx.dir = dir
	fx.weightsA = filepath.Join(dir, "a.safetensors")
	fx.weightsB = filepath.Join(dir, "b.safetensors")
	fx.corn = filepath.Join(dir, "corn.safetensors")
	corn := model.DefaultConfig()
	corn.Loss = glcnn.LossCORN
	for path, c := range map[string]struct {
		seed uint64
		cfg  model.Config
	}{fx.weightsA: {1, model.DefaultConfig()}, fx.weightsB: {2, model.DefaultConfig()}, fx.corn: {3, corn}} {
		m, err := model.New(c.cfg, c.seed, "cpu")
		if err != nil {
			return err
		}
		if err := checkpoint.SaveWeights(path, c.cfg, m.Weights(), 40); err != nil {
			return err
		}
	}
	data := filepath.Join(dir, "synth")
	cmd := exec.Command(bin, "synth", "--out", data, "--subjects", "6", "--views", "90", "--seed", "3")
	cmd.Env = append(os.Environ(), "GAITORD_CACHE="+filepath.Join(dir, "cache"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("synth: %v\n%s", err, out)
	}
	fx.geis, _ = filepath.Glob(filepath.Join(data, "GEI", "090-00", "*.png"))
	if len(fx.geis) < 4 {
		return fmt.Errorf("synth made %d GEIs", len(fx.geis))
	}
	// silhouette frames: a walker-like blob thresholded from a GEI at
	// several levels and shifted, pure black and white
	fx.frames = filepath.Join(dir, "walk-007")
	if err := os.MkdirAll(fx.frames, 0o755); err != nil {
		return err
	}
	src, err := readPNG(fx.geis[0])
	if err != nil {
		return err
	}
	b := src.Bounds()
	for i := range 6 {
		fr := image.NewGray(image.Rect(0, 0, b.Dx()+20, b.Dy()+10))
		level := uint8(60 + 25*i)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if color.GrayModel.Convert(src.At(x, y)).(color.Gray).Y > level {
					fr.SetGray(x+2*i, y+5, color.Gray{Y: 255})
				}
			}
		}
		if err := writePNG(filepath.Join(fx.frames, fmt.Sprintf("%04d.png", i+1)), fr); err != nil {
			return err
		}
	}
	return nil
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

func writePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	s := sha256.Sum256(mustRead(t, path))
	return hex.EncodeToString(s[:])
}

// ---- a running server --------------------------------------------------------

// logBuf collects a server's stderr.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// records are the JSON log records of the server so far.
func (l *logBuf) records() []map[string]any {
	var out []map[string]any
	for _, ln := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(ln), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	log  *logBuf
	done chan struct{} // closed when the process has exited
	code int
}

// start runs `gaitord serve` on 127.0.0.1:0 with JSON logs and waits until
// /readyz answers 200. The process is killed at the test's end if still up.
func start(t *testing.T, args ...string) *server {
	t.Helper()
	return startEnv(t, nil, args...)
}

// startEnv is start with more environment variables (NAME=value). TMPDIR
// is the test's own, so the upload folder of a server killed at the test's
// end goes with it.
func startEnv(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	argv := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--threads", "1"}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Env = append(append(os.Environ(), "GAITORD_CACHE="+t.TempDir(), "TMPDIR="+t.TempDir()), env...)
	s := &server{t: t, cmd: cmd, log: &logBuf{}, done: make(chan struct{})}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			ln := sc.Text()
			s.log.Write([]byte(ln + "\n"))
			var rec struct{ Msg, Addr string }
			if !sent && json.Unmarshal([]byte(ln), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
				sent = true
			}
		}
	}()
	go func() {
		cmd.Wait()
		s.code = cmd.ProcessState.ExitCode()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
		for _, bad := range []string{"panic:", "goroutine ", "SIGSEGV", "terminate called"} {
			if strings.Contains(s.log.String(), bad) {
				t.Errorf("server log holds %q:\n%s", bad, s.log.String())
			}
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-s.done:
		t.Fatalf("gaitord serve exited with %d before listening:\n%s", s.code, s.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("gaitord serve did not listen within 60 s:\n%s", s.log.String())
	}
	deadline := time.Now().Add(120 * time.Second)
	for {
		res, err := http.Get(s.url + api.RouteReady)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("gaitord serve exited with %d before it was ready:\n%s", s.code, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within 120 s:\n%s", s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its status.
func (s *server) wait(limit time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
		return s.code
	case <-time.After(limit):
		s.t.Fatalf("gaitord serve still running after %v", limit)
		return -1
	}
}

// response is an answer read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

// apiError checks that r is an error answer of code, and returns its message.
func (r response) apiError(t *testing.T, code api.ErrorCode) string {
	t.Helper()
	var e api.Error
	r.json(t, &e)
	if r.status != code.Status() || e.Code != code || e.Message == "" {
		t.Fatalf("got %d %+v, want %d %s", r.status, e, code.Status(), code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer of Content-Type %q", ct)
	}
	return e.Message
}

func (s *server) do(method, path, contentType string, body []byte, hdr ...string) response {
	s.t.Helper()
	return s.doCtx(context.Background(), method, path, contentType, body, hdr...)
}

func (s *server) doCtx(ctx context.Context, method, path, contentType string, body []byte, hdr ...string) response {
	s.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// metric returns the value of one sample line of /metrics ("name{labels}").
func (s *server) metric(sample string) float64 {
	s.t.Helper()
	r := s.do("GET", api.RouteMetrics, "", nil)
	for _, ln := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(ln, sample+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(ln, sample+" "), 64)
			if err != nil {
				s.t.Fatalf("metric line %q", ln)
			}
			return v
		}
	}
	return 0
}

// waitMetric polls until sample equals want.
func (s *server) waitMetric(sample string, want float64) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for s.metric(sample) != want {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s stayed %v, want %v", sample, s.metric(sample), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// form builds a multipart body: pairs of field and file path (a file's name
// is sent as given by name, or its base name when name is "").
type formFile struct{ field, name, path string }

func form(t *testing.T, files ...formFile) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range files {
		name := f.name
		if name == "" {
			name = filepath.Base(f.path)
		}
		p, err := w.CreateFormFile(f.field, name)
		if err != nil {
			t.Fatal(err)
		}
		p.Write(mustRead(t, f.path))
	}
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// predictJSON runs `gaitord predict --json` and returns its records.
func predictJSON(t *testing.T, args ...string) []api.Prediction {
	t.Helper()
	r := gaitordtest.Exec(t, bin, append([]string{"predict", "--json"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("predict %v: exit %d\n%s", args, r.Code, r.Stderr)
	}
	return decodeLines(t, r.Stdout)
}

func decodeLines(t *testing.T, out string) []api.Prediction {
	t.Helper()
	var ps []api.Prediction
	for _, ln := range strings.Split(strings.TrimSpace(out), "\n") {
		var p api.Prediction
		if err := json.Unmarshal([]byte(ln), &p); err != nil {
			t.Fatalf("predict line %q: %v", ln, err)
		}
		ps = append(ps, p)
	}
	return ps
}

// sameRecord checks that a served record equals the one predict printed,
// up to float32 rounding between batch sizes.
func sameRecord(t *testing.T, got, want api.Prediction) {
	t.Helper()
	near := func(a, b float64) bool { return a-b < 1e-4 && b-a < 1e-4 }
	if !near(got.Age, want.Age) || !near(got.Median, want.Median) || !near(got.PMale, want.PMale) ||
		!near(got.Interval[0], want.Interval[0]) || !near(got.Interval[1], want.Interval[1]) ||
		got.Gender != want.Gender || got.Source != want.Source || len(got.PAgeGT) != len(want.PAgeGT) || got.Schema != api.Schema {
		t.Fatalf("served %+v\npredict %+v", got, want)
	}
}

package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/metrics"
)

func pngBytes(tb testing.TB, w, h int, f func(x, y int) uint8) []byte {
	tb.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: f(x, y)})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func formBody(tb testing.TB, parts ...[2]string) (string, []byte) {
	tb.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for i, p := range parts {
		fw, err := w.CreateFormFile(p[0], fmt.Sprintf("dir/f%d.png", i))
		if err != nil {
			tb.Fatal(err)
		}
		fw.Write([]byte(p[1]))
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

var knownCodes = map[api.ErrorCode]bool{}

func init() {
	for _, c := range api.ErrorCodes {
		knownCodes[c] = true
	}
}

// FuzzReadBody feeds arbitrary content types and bodies to the request
// decoding of POST /v1/predict (readBody, then decode for 64×44): nothing
// may panic; a refusal is a known 4xx code; a success gives, for every
// prediction, 64×44 finite values in [0, 1] and a path, a set one
// prediction of all its GEIs, a video one part alone whose bytes are in a
// private file of the server's folder; after close (and after any refusal)
// that folder is empty. The seeds below (a GEI body, a truncated one,
// forms of GEIs, frames and a set, a video, a video with a GEI, an unknown
// field, a part without a body, another content type) run as an ordinary
// test.
func FuzzReadBody(f *testing.F) {
	geiPNG := pngBytes(f, 44, 64, func(x, y int) uint8 { return uint8(x * y) })
	frame := pngBytes(f, 30, 40, func(x, y int) uint8 {
		if x > 10 && x < 20 && y > 5 {
			return 255
		}
		return 0
	})
	f.Add(api.ContentTypePNG, geiPNG)
	f.Add(api.ContentTypePNG, geiPNG[:40])
	for _, parts := range [][][2]string{
		{{"gei", string(geiPNG)}, {"frames", string(frame)}, {"frames", string(frame)}},
		{{"set", string(geiPNG)}, {"gei", string(geiPNG)}, {"set", string(geiPNG)}},
		{{"video", "\x00\x00\x00\x18ftypmp42 not really"}},
		{{"video", "v"}, {"gei", string(geiPNG)}},
		{{"video", ""}},
		{{"other", "x"}},
		{{"frames", "not a png"}},
	} {
		ct, body := formBody(f, parts...)
		f.Add(ct, body)
	}
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"gei\"\r\n\r\n"))
	f.Add("text/plain", []byte("hello"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		req := httptest.NewRequest("POST", api.RoutePredict, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Body = http.MaxBytesReader(nil, req.Body, 1<<20)
		tmp := t.TempDir()
		empty := func() {
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Fatalf("%d files left in the upload folder", len(left))
			}
		}
		b, aerr := readBody(req, 16, tmp)
		if aerr != nil {
			empty()
			checkRefusal(t, aerr)
			return
		}
		defer empty()
		defer b.close()
		if len(b.parts) == 0 || b.geis > 16 {
			t.Fatalf("%d parts, %d GEIs accepted", len(b.parts), b.geis)
		}
		if b.video != nil {
			fi, err := os.Stat(b.video.file)
			if len(b.parts) != 1 || err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o600 ||
				filepath.Dir(b.video.file) != tmp || strings.Contains(b.video.file, b.video.name) {
				t.Fatalf("video %q in %q (%d parts): %v %v", b.video.name, b.video.file, len(b.parts), fi, err)
			}
			return
		}
		inputs, aerr := b.decode(gei.DefaultSize)
		if aerr != nil {
			checkRefusal(t, aerr)
			return
		}
		sets := 0
		for _, in := range inputs {
			if in.path == "" || len(in.x) != 64*44 || (in.source != api.SourceGEI && in.source != api.SourceSilhouettes && in.source != api.SourceFused) ||
				(in.source == api.SourceFused) != (in.set != nil) {
				t.Fatalf("input %q %s with %d values", in.path, in.source, len(in.x))
			}
			if in.set != nil {
				sets++
				if len(in.set) != b.set || &in.set[0][0] != &in.x[0] {
					t.Fatalf("a set of %d GEIs from %d set files", len(in.set), b.set)
				}
			}
			for _, x := range append([][]float32{in.x}, in.set...) {
				for _, v := range x {
					if math.IsNaN(float64(v)) || v < 0 || v > 1+1e-6 {
						t.Fatalf("value %v", v)
					}
				}
			}
		}
		if sets != min(b.set, 1) {
			t.Fatalf("%d sets from %d set files", sets, b.set)
		}
	})
}

func checkRefusal(t *testing.T, e *api.Error) {
	t.Helper()
	if !knownCodes[e.Code] || e.Code.Status() < 400 || e.Code.Status() >= 500 || e.Message == "" || strings.Contains(e.Message, "\n") {
		t.Fatalf("refusal %+v (status %d)", e, e.Code.Status())
	}
}

func testServer(t *testing.T, token string) *server {
	t.Helper()
	o := DefaultOptions()
	o.Checkpoint, o.Token = "x.ckpt", token
	s, err := newServer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The OpenAPI document covers every route and method of the routing table
// and names no other; docs/serve.md names every route, error code and
// metric.
func TestOpenAPIAndDocsCoverEveryRoute(t *testing.T) {
	b, err := assets.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v (version %q)", err, doc.OpenAPI)
	}
	routes := testServer(t, "tok").routes
	for path, rt := range routes {
		for m := range rt.methods {
			if doc.Paths[path][strings.ToLower(m)] == nil {
				t.Errorf("openapi.json lacks %s %s", m, path)
			}
		}
	}
	for path, ops := range doc.Paths {
		if routes[path] == nil {
			t.Errorf("openapi.json has %s, which the server does not route", path)
			continue
		}
		for m := range ops {
			if routes[path].methods[strings.ToUpper(m)] == nil {
				t.Errorf("openapi.json has %s %s, which the server does not route", m, path)
			}
		}
	}
	if testServer(t, "").routes[api.RouteReload] != nil {
		t.Error("reload routed without a token")
	}
	md, err := os.ReadFile("../../docs/serve.md")
	if err != nil {
		t.Fatal(err)
	}
	for path := range routes {
		if !bytes.Contains(md, []byte(" "+path+"`")) && path != "/app.js" && path != "/style.css" {
			t.Errorf("docs/serve.md lacks route %s", path)
		}
	}
	for _, c := range api.ErrorCodes {
		if !bytes.Contains(md, []byte("`"+string(c)+"`")) || !bytes.Contains(b, []byte(`"`+string(c)+`"`)) {
			t.Errorf("docs/serve.md or openapi.json lacks error code %s", c)
		}
	}
	for _, m := range []string{metricRequests, metricLatency, metricBatchSize, metricForward, metricQueueDepth, metricDropped,
		metricModelLoad, metricReloads, metricModelGen, metricPredictions} {
		if !bytes.Contains(md, []byte(m)) {
			t.Errorf("docs/serve.md lacks metric %s", m)
		}
	}
}

func TestAuthorized(t *testing.T) {
	s := testServer(t, "s3cret")
	for h, want := range map[string]bool{"Bearer s3cret": true, "bearer s3cret": true, "Bearer  s3cret ": true,
		"Bearer s3cre": false, "Bearer s3cret2": false, "": false, "Basic s3cret": false, "s3cret": false, "Bearer": false} {
		r := httptest.NewRequest("GET", "/v1/model", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		if got := s.authorized(r); got != want {
			t.Errorf("Authorization %q: %v, want %v", h, got, want)
		}
	}
	if !testServer(t, "").authorized(httptest.NewRequest("GET", "/v1/model", nil)) {
		t.Error("no token configured, yet refused")
	}
}

// detail's distribution is the steps of metrics.CDF: non-negative, summing
// to 1, and its input image is the GEI as gei.EncodePNG writes it.
func TestDetail(t *testing.T) {
	p := []float64{0.99, 0.9, 0.95, 0.6, 0.2, 0.05}
	x := make([]float32, 64*44)
	x[5] = 1
	d := detail(x, gei.DefaultSize, p, 10)
	f := metrics.CDF(p)
	want := make([]float64, len(f)-1)
	for j := range want {
		want[j] = f[j+1] - f[j]
	}
	if !slices.Equal(d.PAge, want) || d.MinAge != 10 || len(d.PAge) != len(p)+1 {
		t.Fatalf("p_age %v, want %v", d.PAge, want)
	}
	sum := 0.0
	for _, v := range d.PAge {
		if v < 0 {
			t.Fatalf("negative %v", v)
		}
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("sum %v", sum)
	}
	var buf bytes.Buffer
	gei.EncodePNG(&buf, x, gei.DefaultSize)
	if !strings.HasPrefix(d.InputPNG, "data:image/png;base64,") || len(d.InputPNG) < buf.Len() {
		t.Fatalf("input %q", d.InputPNG[:40])
	}
}

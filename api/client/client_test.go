package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gaitord/gaitord/api"
)

// The client sends the forms and headers the server reads, and turns error
// answers into *StatusError. The fake server checks what arrives.
func TestClientAgainstAFakeServer(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(api.Error{Message: "no", Code: api.ErrUnauthorized})
			return
		}
		switch r.URL.Path {
		case "/base" + api.RoutePredict:
			var res api.PredictResponse
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				mr, err := r.MultipartReader()
				if err != nil {
					t.Error(err)
					return
				}
				for {
					p, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					b, _ := io.ReadAll(p)
					seen = append(seen, p.FormName()+":"+p.FileName()+":"+string(b))
				}
				res.Predictions = []api.Prediction{{Path: "a.png", Age: 30, Gender: api.Male, PMale: 0.9}}
				if r.URL.Query().Get(api.QueryDetails) == "true" {
					res.Details = []api.PredictionDetail{{MinAge: 0, PAge: []float64{1}}}
				}
			} else {
				b, _ := io.ReadAll(r.Body)
				seen = append(seen, r.Header.Get("Content-Type")+":"+r.URL.Query().Get(api.QueryName)+":"+string(b))
				res.Predictions = []api.Prediction{{Path: r.URL.Query().Get(api.QueryName), Age: 41.5, Gender: api.Female}}
			}
			json.NewEncoder(w).Encode(res)
		case "/base" + api.RouteModel:
			json.NewEncoder(w).Encode(api.ModelInfo{K: 100, InputHeight: 64, InputWidth: 44, Generation: 3})
		case "/base" + api.RouteReload:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(503)
			w.Write([]byte(`{"error":"the queue is full","code":"queue_full"}`))
		default:
			w.WriteHeader(502)
			w.Write([]byte("<html>bad gateway</html>"))
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := New(srv.URL+"/base/", WithToken(" tok\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Predict(ctx, Request{GEIs: []File{{Name: "a.png", Data: []byte("A")}}, Frames: []File{{Name: "walk/1.png", Data: []byte("F1")}}, Details: true})
	if err != nil || len(res.Predictions) != 1 || res.Predictions[0].Age != 30 || len(res.Details) != 1 {
		t.Fatalf("predict: %+v %v", res, err)
	}
	if strings.Join(seen, ",") != "gei:a.png:A,frames:1.png:F1" {
		t.Fatalf("parts %v", seen)
	}
	seen = nil
	res, err = c.PredictPNG(ctx, "x.png", []byte("PNG"))
	if err != nil || res.Predictions[0].Path != "x.png" || strings.Join(seen, ",") != "image/png:x.png:PNG" {
		t.Fatalf("png: %+v %v %v", res, err, seen)
	}
	seen = nil
	res, err = c.PredictSet(ctx, []File{{Name: "p1/090.png", Data: []byte("S1")}, {Name: "p1/180.png", Data: []byte("S2")}}, false)
	if err != nil || len(res.Predictions) != 1 || strings.Join(seen, ",") != "set:090.png:S1,set:180.png:S2" {
		t.Fatalf("set: %+v %v %v", res, err, seen)
	}
	seen = nil
	footage := strings.Repeat("frame", 100_000) // streamed through a pipe, in several writes
	res, err = c.PredictVideo(ctx, "walk.mp4", strings.NewReader(footage), true)
	if err != nil || len(res.Details) != 1 || len(seen) != 1 || seen[0] != "video:walk.mp4:"+footage {
		t.Fatalf("video: %+v %v, %d parts", res, err, len(seen))
	}
	if _, err := c.PredictVideo(ctx, "broken.mp4", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("disk gone"))), false); err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("a video that cannot be read: %v", err)
	}
	if m, err := c.Model(ctx); err != nil || m.Generation != 3 || m.K != 100 {
		t.Fatalf("model: %+v %v", m, err)
	}
	var se *StatusError
	if _, err := c.Reload(ctx); !errors.As(err, &se) || se.StatusCode != 503 || se.Body.Code != api.ErrQueueFull || se.RetryAfter != 7*time.Second {
		t.Fatalf("503: %v", err)
	}
	if err := c.Health(ctx); !errors.As(err, &se) || se.StatusCode != 502 || se.Body.Code != "" || se.Body.Message != "<html>bad gateway</html>" {
		t.Fatalf("non-JSON error: %v", err)
	}
	anon, _ := New(srv.URL + "/base")
	if _, err := anon.Model(ctx); !errors.As(err, &se) || se.Body.Code != api.ErrUnauthorized || !strings.Contains(err.Error(), "401") {
		t.Fatalf("no token: %v", err)
	}
	for _, bad := range []string{"ftp://x", "localhost:8080", "http://", "://"} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestTokenFromEnvironment(t *testing.T) {
	t.Setenv(api.TokenEnv, " from-env \n")
	if tok, err := TokenFromEnvironment(""); tok != "from-env" || err != nil {
		t.Fatalf("%q %v", tok, err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "tok")
	os.WriteFile(f, []byte("from-file\n"), 0o600)
	if tok, err := TokenFromEnvironment(f); tok != "from-file" || err != nil {
		t.Fatalf("%q %v", tok, err)
	}
	os.WriteFile(f, []byte(" \n"), 0o600)
	if _, err := TokenFromEnvironment(f); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty file: %v", err)
	}
	if _, err := TokenFromEnvironment(filepath.Join(dir, "none")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

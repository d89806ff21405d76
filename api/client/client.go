// Package client is a small Go client of `gaitord serve` over the types of
// package api: predictions for GEI PNGs, the silhouette frames of a walk, a
// set of GEIs of one person (fused) or a video (one per walker), the loaded
// model, health, readiness and reload. It depends on the standard
// library and package api only.
//
//	c, err := client.New("http://127.0.0.1:8080", client.WithToken(os.Getenv(api.TokenEnv)))
//	res, err := c.Predict(ctx, client.Request{GEIs: []client.File{{Name: "a.png", Data: png}}})
//	fmt.Println(res.Predictions[0].Age)
//
// A server's error answer comes back as *client.StatusError, which carries
// the HTTP status, the api.Error ({"error", "code"}) as Body, and
// Retry-After.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gaitord/gaitord/api"
)

// maxResponse bounds the size of a response body read into memory.
const maxResponse = 256 << 20

// Client talks to one gaitord server. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the bearer token sent with every /v1 request.
func WithToken(token string) Option { return func(c *Client) { c.token = strings.TrimSpace(token) } }

// WithHTTPClient replaces http.DefaultClient.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client of the server at baseURL ("http://host:port", with an
// optional path prefix when the server sits behind a gateway).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host:port or https://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	c := &Client{base: u, http: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// TokenFromEnvironment returns the token in api.TokenEnv, or, when tokenFile
// is not empty, the first line of that file (which wins). An empty token
// file is an error.
func TokenFromEnvironment(tokenFile string) (string, error) {
	if tokenFile == "" {
		return strings.TrimSpace(os.Getenv(api.TokenEnv)), nil
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return "", fmt.Errorf("token file %s: %w", tokenFile, unwrapPath(err))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s: empty", tokenFile)
	}
	return tok, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// File is one uploaded file: Name is sent as its file name (and comes back
// as the record's path), Data are its bytes.
type File struct {
	Name string
	Data []byte
}

// Request is one POST /v1/predict as a multipart form: each of GEIs gets
// its own prediction, all of Frames together one (the walk's GEI), all of
// Set together one (fused; see PredictSet).
type Request struct {
	GEIs   []File
	Frames []File
	Set    []File
	// Details asks for api.PredictResponse.Details (input images and age
	// distributions).
	Details bool
}

// StatusError is an error answer of the server.
type StatusError struct {
	StatusCode int
	Body       api.Error
	// RetryAfter is the server's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server answered %d: %s (%s)", e.StatusCode, e.Body.Message, e.Body.Code)
}

// Predict sends r as a multipart form.
func (c *Client) Predict(ctx context.Context, r Request) (*api.PredictResponse, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	add := func(field string, files []File) error {
		for _, f := range files {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, field, f.Name))
			h.Set("Content-Type", api.ContentTypePNG)
			p, err := w.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := p.Write(f.Data); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(api.FieldGEI, r.GEIs); err != nil {
		return nil, err
	}
	if err := add(api.FieldFrames, r.Frames); err != nil {
		return nil, err
	}
	if err := add(api.FieldSet, r.Set); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	q := url.Values{}
	if r.Details {
		q.Set(api.QueryDetails, "true")
	}
	var out api.PredictResponse
	err := c.do(ctx, http.MethodPost, api.RoutePredict, q, w.FormDataContentType(), &body, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// PredictSet sends GEI PNGs of one person as one set: the answer holds one
// fused prediction (source "fused", n_inputs), as `gaitord predict --fuse`
// makes for a folder of them. A model that cannot fuse answers a
// *StatusError of code api.ErrCannotFuse.
func (c *Client) PredictSet(ctx context.Context, set []File, details bool) (*api.PredictResponse, error) {
	return c.Predict(ctx, Request{Set: set, Details: details})
}

// PredictVideo sends one video, read from video as it is sent (streamed,
// never held in memory whole): the answer holds one prediction per walker
// and, in Notes, the walkers seen for less than a gait cycle. name becomes
// the records' path.
func (c *Client) PredictVideo(ctx context.Context, name string, video io.Reader, details bool) (*api.PredictResponse, error) {
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, api.FieldVideo, name))
		h.Set("Content-Type", "application/octet-stream")
		p, err := w.CreatePart(h)
		if err == nil {
			_, err = io.Copy(p, video)
		}
		if err == nil {
			err = w.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close() // stops the writer if the request ended early
	q := url.Values{}
	if details {
		q.Set(api.QueryDetails, "true")
	}
	var out api.PredictResponse
	if err := c.do(ctx, http.MethodPost, api.RoutePredict, q, w.FormDataContentType(), pr, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PredictPNG sends one GEI PNG as an image/png body; name becomes the
// record's path.
func (c *Client) PredictPNG(ctx context.Context, name string, png []byte) (*api.PredictResponse, error) {
	q := url.Values{}
	if name != "" {
		q.Set(api.QueryName, name)
	}
	var out api.PredictResponse
	if err := c.do(ctx, http.MethodPost, api.RoutePredict, q, api.ContentTypePNG, bytes.NewReader(png), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Model describes the loaded model.
func (c *Client) Model(ctx context.Context) (*api.ModelInfo, error) {
	var out api.ModelInfo
	if err := c.do(ctx, http.MethodGet, api.RouteModel, nil, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reload asks the server to reload its checkpoint and returns the model now
// serving. A refused checkpoint is a *StatusError with code
// api.ErrReloadFailed (the old model keeps serving).
func (c *Client) Reload(ctx context.Context) (*api.ModelInfo, error) {
	var out api.ModelInfo
	if err := c.do(ctx, http.MethodPost, api.RouteReload, nil, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Health returns nil when the server answers /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, api.RouteHealth, nil, "", nil, &api.Status{})
}

// Ready returns nil when the server has a model loaded and warmed up.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, api.RouteReady, nil, "", nil, &api.Status{})
}

// do sends one request and decodes a 2xx JSON answer into out, or an error
// answer into a *StatusError.
func (c *Client) do(ctx context.Context, method, route string, q url.Values, contentType string, body io.Reader, out any) error {
	u := *c.base
	u.Path += route
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, route, err)
	}
	if res.StatusCode/100 != 2 {
		se := &StatusError{StatusCode: res.StatusCode}
		if json.Unmarshal(b, &se.Body) != nil || se.Body.Code == "" {
			msg := strings.TrimSpace(string(b))
			if len(msg) > 200 {
				msg = msg[:200]
			}
			se.Body = api.Error{Message: msg}
		}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			se.RetryAfter = time.Duration(s) * time.Second
		}
		return se
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, route, err)
	}
	return nil
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/api/client"
	"github.com/gaitord/gaitord/internal/gei"
	"github.com/gaitord/gaitord/internal/inputs"
)

// remoteWorkers is how many requests `predict --server` keeps in flight: a
// few, so that the server can batch them.
const remoteWorkers = 4

// RunPredictRemote is `gaitord predict --server URL`: the same inputs and
// output as RunPredict, the predictions made by a running `gaitord serve`.
// Each GEI file and each folder of frames is one request, with --fuse each
// PATH one set request, and each video file one video request; a bad input
// is reported with its path and the rest continue; a server that cannot be
// reached stops the command, as does a model that cannot fuse (--fuse).
func RunPredictRemote(s Streams, o *PredictOptions) error {
	if o.Checkpoint != "" {
		return usagef("--checkpoint and --server: give one (the server has its own checkpoint)")
	}
	footage, paths := splitFootage(o.Paths, o.Video)
	if o.Fuse && (len(footage) > 0 || o.Video || o.SaveGEI != "" || o.Annotate != "") {
		return usagef("--fuse fuses GEIs, silhouette folders and OpenGait pickles; it takes no video (--video, --save-gei, --annotate)")
	}
	if o.Video || o.SaveGEI != "" || o.Annotate != "" {
		return usagef("--video, --save-gei and --annotate need --checkpoint: the server takes video files and answers records only")
	}
	tok, err := client.TokenFromEnvironment(o.TokenFile)
	if err != nil {
		return err
	}
	c, err := client.New(o.Server, client.WithToken(tok))
	if err != nil {
		return &UsageError{err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pr *printer
	if len(paths) > 0 {
		pr = newPrinter(s.Out, o.JSON, o.Fuse)
	}
	var failed, total int
	if o.Fuse {
		failed, total, err = remoteSets(ctx, s, c, o, paths, pr)
	} else {
		failed, total, err = remoteEach(ctx, s, c, o, paths, pr)
	}
	if ferr := pr.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	vf, err := remoteFootage(ctx, s, c, o, footage)
	if err != nil {
		return err
	}
	if failed += vf; failed > 0 {
		return &PredictFailedError{Failed: failed, Total: total + len(footage)}
	}
	return nil
}

// remoteEach predicts every input on its own, remoteWorkers requests at a
// time, printing in input order.
func remoteEach(ctx context.Context, s Streams, c *client.Client, o *PredictOptions, paths []string, pr *printer) (failed, total int, err error) {
	ins := inputs.Expand(paths, o.Frames)
	type answer struct {
		p   api.Prediction
		err error
	}
	answers := make([]chan answer, len(ins))
	jobs := make(chan int)
	for i := range answers {
		answers[i] = make(chan answer, 1)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range remoteWorkers {
		go func() {
			for i := range jobs {
				p, err := predictOne(ctx, c, ins[i])
				answers[i] <- answer{p, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range ins {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for i, in := range ins {
		a := <-answers[i]
		if a.err == nil {
			a.p.Path, a.p.Source = in.Path, in.Source
			if err := pr.print(a.p); err != nil {
				return failed, len(ins), err
			}
			continue
		}
		if in.Err != nil {
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(a.err.Error()))
			continue
		}
		if err := remoteFailure(s, o, in.Path, a.err); err != nil {
			return failed, len(ins), err
		}
		failed++
	}
	return failed, len(ins), nil
}

// remoteFailure reports an input the server or this side refused (nil: the
// next input goes on) or returns the error that stops the command (the
// server cannot be reached, a wrong token, no such route, a 5xx).
func remoteFailure(s Streams, o *PredictOptions, path string, err error) error {
	var se *client.StatusError
	switch {
	case errors.As(err, new(localError)):
		fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(err.Error()))
	case errors.As(err, &se) && se.StatusCode/100 == 4 && se.StatusCode != 401 && se.StatusCode != 404:
		msg := oneLine(se.Body.Message)
		if !strings.HasPrefix(msg, path+":") {
			msg = path + ": " + msg
		}
		fmt.Fprintf(s.Err, "gaitord: %s\n", msg)
	default:
		return fmt.Errorf("%s: %s: %w", o.Server, path, err)
	}
	return nil
}

// localError is an input that could not be read here.
type localError struct{ error }

// withRetry sends a request; a 503 (queue full, not ready) is retried after
// the server's Retry-After, a few times.
func withRetry(ctx context.Context, send func() (*api.PredictResponse, error)) (*api.PredictResponse, error) {
	for attempt := 0; ; attempt++ {
		res, err := send()
		var se *client.StatusError
		if errors.As(err, &se) && se.StatusCode == 503 && attempt < 5 {
			select {
			case <-time.After(max(se.RetryAfter, 100*time.Millisecond)):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		return res, err
	}
}

// predictOne sends one input: a GEI file, or the frames of a folder.
func predictOne(ctx context.Context, c *client.Client, in inputs.Input) (api.Prediction, error) {
	if in.Err != nil {
		return api.Prediction{}, in.Err
	}
	var req client.Request
	switch in.Source {
	case api.SourceOpenGait:
		return api.Prediction{}, localError{fmt.Errorf("%s: an OpenGait pickle: the server takes GEIs and silhouette frames; predict it with --checkpoint", in.Path)}
	case api.SourceSilhouettes:
		frames, err := gei.ListPNGs(in.Path)
		if err != nil {
			return api.Prediction{}, localError{err}
		}
		for _, f := range frames {
			b, err := os.ReadFile(f)
			if err != nil {
				return api.Prediction{}, localError{fmt.Errorf("%s: %w", f, unwrapPath(err))}
			}
			req.Frames = append(req.Frames, client.File{Name: filepath.Join(filepath.Base(in.Path), filepath.Base(f)), Data: b})
		}
	default:
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return api.Prediction{}, localError{fmt.Errorf("%s: %w", in.Path, unwrapPath(err))}
		}
		req.GEIs = []client.File{{Name: filepath.Base(in.Path), Data: b}}
	}
	res, err := withRetry(ctx, func() (*api.PredictResponse, error) { return c.Predict(ctx, req) })
	if err != nil {
		return api.Prediction{}, err
	}
	if len(res.Predictions) != 1 {
		return api.Prediction{}, fmt.Errorf("server answered %d predictions for one input", len(res.Predictions))
	}
	return res.Predictions[0], nil
}

// remoteSets sends each path as one set (its GEI PNGs, as inputs.Set lists
// them for `predict --fuse`) and prints the fused record. A model that
// cannot fuse stops the command with the server's words, as locally.
func remoteSets(ctx context.Context, s Streams, c *client.Client, o *PredictOptions, paths []string, pr *printer) (failed, total int, err error) {
	for _, path := range paths {
		set, err := readSet(path, o.Frames)
		var res *api.PredictResponse
		if err == nil {
			res, err = withRetry(ctx, func() (*api.PredictResponse, error) { return c.PredictSet(ctx, set, false) })
		}
		var se *client.StatusError
		if errors.As(err, &se) && se.Body.Code == api.ErrCannotFuse {
			return failed, len(paths), fmt.Errorf("predict --fuse: %s: %s", o.Server, oneLine(se.Body.Message))
		}
		if err == nil && len(res.Predictions) != 1 {
			err = fmt.Errorf("server answered %d predictions for one set", len(res.Predictions))
		}
		if err != nil {
			if err := remoteFailure(s, o, path, err); err != nil {
				return failed, len(paths), err
			}
			failed++
			continue
		}
		p := res.Predictions[0]
		p.Path = path
		if err := pr.print(p); err != nil {
			return failed, len(paths), err
		}
	}
	return failed, len(paths), nil
}

// readSet reads the GEI PNGs of one person; each is sent under its path
// relative to the set's folder, below the folder's name. A silhouette folder
// or a pickle is refused here (the server fuses GEI PNGs).
func readSet(path string, frames bool) ([]client.File, error) {
	members, err := inputs.Set(path, frames)
	if err != nil {
		return nil, localError{err}
	}
	var set []client.File
	for _, in := range members {
		if in.Source != api.SourceGEI {
			return nil, localError{fmt.Errorf("%s: a set over the server takes GEI PNGs only, not %s; fuse it with --checkpoint", in.Path, in.Source)}
		}
		b, err := os.ReadFile(in.Path)
		if err != nil {
			return nil, localError{fmt.Errorf("%s: %w", in.Path, unwrapPath(err))}
		}
		name := filepath.Base(in.Path)
		if rel, err := filepath.Rel(path, in.Path); err == nil && rel != "." && filepath.IsLocal(rel) {
			name = filepath.ToSlash(filepath.Join(filepath.Base(filepath.Clean(path)), rel))
		}
		set = append(set, client.File{Name: name, Data: b})
	}
	return set, nil
}

// remoteFootage sends each video file as one request and prints its
// walkers' records as predictFootage does, the short walkers' notes on
// stderr. The file's path is sent as its name, so the server's records and
// messages name it as the local run does.
func remoteFootage(ctx context.Context, s Streams, c *client.Client, o *PredictOptions, footage []footageInput) (failed int, err error) {
	tp := newTrackPrinter(s.Out, o.JSON)
	for _, in := range footage {
		res, err := withRetry(ctx, func() (*api.PredictResponse, error) {
			f, err := os.Open(in.path)
			if err != nil {
				return nil, localError{fmt.Errorf("%s: %w", in.path, unwrapPath(err))}
			}
			defer f.Close()
			return c.PredictVideo(ctx, in.path, f, false)
		})
		if err != nil {
			tp.flush()
			if err := remoteFailure(s, o, in.path, err); err != nil {
				return failed, err
			}
			failed++
			continue
		}
		for _, n := range res.Notes {
			fmt.Fprintf(s.Err, "%s: %s\n", in.path, n)
		}
		for i := range res.Predictions {
			res.Predictions[i].Path = in.path
		}
		if err := tp.print(res.Predictions); err != nil {
			return failed, err
		}
		tp.flush()
	}
	return failed, nil
}

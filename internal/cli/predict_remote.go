package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
// Each GEI file and each folder of frames is one request; a bad input is
// reported with its path and the rest continue; a server that cannot be
// reached stops the command.
func RunPredictRemote(s Streams, o *PredictOptions) error {
	if o.Checkpoint != "" {
		return usagef("--checkpoint and --server: give one (the server has its own checkpoint)")
	}
	if o.Fuse {
		return usagef("--fuse and --server: the server predicts each GEI on its own; fuse with --checkpoint")
	}
	tok, err := client.TokenFromEnvironment(o.TokenFile)
	if err != nil {
		return err
	}
	c, err := client.New(o.Server, client.WithToken(tok))
	if err != nil {
		return &UsageError{err}
	}
	ins := inputs.Expand(o.Paths, o.Frames)
	type answer struct {
		p   api.Prediction
		err error
	}
	answers := make([]chan answer, len(ins))
	jobs := make(chan int)
	for i := range answers {
		answers[i] = make(chan answer, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
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
	pr := newPrinter(s.Out, o.JSON, false)
	failed := 0
	for i, in := range ins {
		a := <-answers[i]
		var se *client.StatusError
		switch {
		case a.err == nil:
			a.p.Path, a.p.Source = in.Path, in.Source
			if err := pr.print(a.p); err != nil {
				return err
			}
		case in.Err != nil || errors.As(a.err, new(localError)):
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(a.err.Error()))
		case errors.As(a.err, &se) && se.StatusCode/100 == 4 && se.StatusCode != 401 && se.StatusCode != 404:
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s: %s\n", in.Path, oneLine(se.Body.Message))
		default:
			pr.flush()
			return fmt.Errorf("%s: %s: %w", o.Server, in.Path, a.err)
		}
	}
	if err := pr.flush(); err != nil {
		return err
	}
	if failed > 0 {
		return &PredictFailedError{Failed: failed, Total: len(ins)}
	}
	return nil
}

// localError is an input that could not be read here.
type localError struct{ error }

// predictOne sends one input: a GEI file, or the frames of a folder. A 503
// (queue full, not ready) is retried after the server's Retry-After, a few
// times.
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
	for attempt := 0; ; attempt++ {
		res, err := c.Predict(ctx, req)
		var se *client.StatusError
		if errors.As(err, &se) && se.StatusCode == 503 && attempt < 5 {
			time.Sleep(max(se.RetryAfter, 100*time.Millisecond))
			continue
		}
		if err != nil {
			return api.Prediction{}, err
		}
		if len(res.Predictions) != 1 {
			return api.Prediction{}, fmt.Errorf("server answered %d predictions for one input", len(res.Predictions))
		}
		return res.Predictions[0], nil
	}
}

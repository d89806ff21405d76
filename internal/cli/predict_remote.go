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
	tok, err := client.TokenFromEnvironment(o.TokenFile)
	if err != nil {
		return err
	}
	c, err := client.New(o.Server, client.WithToken(tok))
	if err != nil {
		return &UsageError{err}
	}
	inputs := expandInputs(o.Paths, o.Frames)
	type answer struct {
		p   api.Prediction
		err error
	}
	answers := make([]chan answer, len(inputs))
	jobs := make(chan int)
	for i := range answers {
		answers[i] = make(chan answer, 1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range remoteWorkers {
		go func() {
			for i := range jobs {
				p, err := predictOne(ctx, c, inputs[i])
				answers[i] <- answer{p, err}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range inputs {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	tw, enc := predictOutput(s, o.JSON)
	failed := 0
	for i, in := range inputs {
		a := <-answers[i]
		var se *client.StatusError
		switch {
		case a.err == nil:
			a.p.Path, a.p.Source = in.path, in.source
			if err := printPrediction(tw, enc, a.p); err != nil {
				return err
			}
		case in.err != nil || errors.As(a.err, new(localError)):
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s\n", oneLine(a.err.Error()))
		case errors.As(a.err, &se) && se.StatusCode/100 == 4 && se.StatusCode != 401 && se.StatusCode != 404:
			failed++
			fmt.Fprintf(s.Err, "gaitord: %s: %s\n", in.path, oneLine(se.Body.Message))
		default:
			if tw != nil {
				tw.Flush()
			}
			return fmt.Errorf("%s: %s: %w", o.Server, in.path, a.err)
		}
	}
	if tw != nil {
		tw.Flush()
	}
	if failed > 0 {
		return &PredictFailedError{Failed: failed, Total: len(inputs)}
	}
	return nil
}

// localError is an input that could not be read here.
type localError struct{ error }

// predictOne sends one input: a GEI file, or the frames of a folder. A 503
// (queue full, not ready) is retried after the server's Retry-After, a few
// times.
func predictOne(ctx context.Context, c *client.Client, in input) (api.Prediction, error) {
	if in.err != nil {
		return api.Prediction{}, in.err
	}
	var req client.Request
	if in.source == "silhouettes" {
		frames, err := gei.ListPNGs(in.path)
		if err != nil {
			return api.Prediction{}, localError{err}
		}
		for _, f := range frames {
			b, err := os.ReadFile(f)
			if err != nil {
				return api.Prediction{}, localError{fmt.Errorf("%s: %w", f, unwrapPath(err))}
			}
			req.Frames = append(req.Frames, client.File{Name: filepath.Join(filepath.Base(in.path), filepath.Base(f)), Data: b})
		}
	} else {
		b, err := os.ReadFile(in.path)
		if err != nil {
			return api.Prediction{}, localError{fmt.Errorf("%s: %w", in.path, unwrapPath(err))}
		}
		req.GEIs = []client.File{{Name: filepath.Base(in.path), Data: b}}
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

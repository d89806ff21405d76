package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gaitord/gaitord/api/client"
	"github.com/gaitord/gaitord/internal/serve"
	"github.com/spf13/cobra"
)

func init() {
	extraCommands = append(extraCommands, func(s Streams, g *Global) *cobra.Command { return newServeCmd(s, g, nil) })
}

// ServeOptions are the options of `gaitord serve`: the server's settings
// plus where the token and the log go.
type ServeOptions struct {
	serve.Options
	TokenFile string
	LogFormat string // text or json
}

// newServeCmd builds the command; run replaces RunServe (tests pass one to
// see the options the flags produce).
func newServeCmd(s Streams, g *Global, run func(*ServeOptions) error) *cobra.Command {
	if run == nil {
		run = func(o *ServeOptions) error { return RunServe(s, g, o) }
	}
	o := &ServeOptions{Options: serve.DefaultOptions(), LogFormat: "text"}
	d := serve.DefaultOptions()
	c := &cobra.Command{
		Use:   "serve --checkpoint FILE",
		Short: "Serve predictions over HTTP: a JSON API, a web page, dynamic batching, metrics",
		Long: `Serves the model of a checkpoint over HTTP (docs/serve.md): POST /v1/predict takes
a GEI PNG as the body, or a multipart form whose "gei" files get one prediction each,
whose "frames" files are the silhouette frames of one walk, whose "set" files are
GEIs of one person fused into one prediction, or whose one "video" file gives one
prediction per walker (--max-pixels, --max-frames bound its decoding); the answer is
{"predictions": [record, …]} with the records of 'gaitord predict --json'.
Concurrent requests are batched into one forward pass (--max-batch, --max-wait).
GET / is a web page; /v1/model, /healthz, /readyz, /metrics and /openapi.json
describe the server. It listens on loopback unless --addr says otherwise; with
--token-file every /v1 route needs "Authorization: Bearer <token>".
SIGTERM or SIGINT drains (in-flight requests finish within --grace) and exits 0;
SIGHUP reloads the checkpoint (a broken one is refused, the old one keeps serving).
--precision int8 quantizes the model at every load, calibrated on the training split
of the data the checkpoint's stored configuration names (as 'gaitord predict
--precision int8'); it refuses an export (no stored configuration) and "set" uploads.`,
		Example: `  gaitord serve --checkpoint runs/demo/best.ckpt
  gaitord serve --checkpoint runs/demo/best.ckpt --precision int8
  gaitord serve --checkpoint runs/demo/best.ckpt --addr :8080 --token-file /etc/gaitord/token --max-batch 64 --max-wait 5ms
  curl --data-binary @gei.png -H 'Content-Type: image/png' localhost:8080/v1/predict`,
		Args: cobra.NoArgs,
	}
	f := c.Flags()
	f.StringVar(&o.Checkpoint, "checkpoint", "", "checkpoint or exported weights to serve")
	f.StringVar(&o.Addr, "addr", d.Addr, "listen address (host:port; \":8080\" listens on every interface)")
	f.StringVar(&o.TokenFile, "token-file", "", "file holding the bearer token every /v1 route then needs")
	f.IntVar(&o.MaxBatch, "max-batch", d.MaxBatch, "GEIs per forward pass (1 turns batching off)")
	f.DurationVar(&o.MaxWait, "max-wait", d.MaxWait, "longest wait for a batch to fill")
	f.BoolVar(&o.PadBatches, "pad-batches", d.PadBatches, "run batches at a few fixed sizes (1, 2, 4, 8, multiples of 4, coarser above 64): keeps memory flat")
	f.IntVar(&o.MaxQueue, "max-queue", d.MaxQueue, "GEIs waiting at most; beyond, 503 with Retry-After")
	f.Int64Var(&o.MaxBody, "max-body", d.MaxBody, "request body limit in bytes")
	f.IntVar(&o.MaxPixels, "max-pixels", d.MaxPixels, "largest uploaded video frame accepted, width × height")
	f.IntVar(&o.MaxFrames, "max-frames", d.MaxFrames, "most frames of an uploaded video")
	f.DurationVar(&o.RequestTimeout, "request-timeout", d.RequestTimeout, "deadline of a prediction request")
	f.DurationVar(&o.HeaderTimeout, "header-timeout", d.HeaderTimeout, "time to read a request's headers")
	f.DurationVar(&o.ReadTimeout, "read-timeout", d.ReadTimeout, "time to read a whole request, body included")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", d.IdleTimeout, "how long an idle keep-alive connection is kept")
	f.DurationVar(&o.Grace, "grace", d.Grace, "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	f.StringVar(&o.CORSOrigin, "cors-origin", "", "allow browser calls from this origin (\"*\" for any); off by default")
	f.StringVar(&o.LogFormat, "log-format", o.LogFormat, "request log format on stderr: text or json")
	f.StringVar(&o.Device, "device", d.Device, "cpu, cuda or cuda:N")
	f.StringVar(&o.Precision, "precision", d.Precision, precisionUsage+", again at every reload; refuses sets")
	f.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (0 = all cores)")
	f.IntVar(&o.BLASThreads, "blas-threads", d.BLASThreads, "OpenBLAS's own threads (0 = one per core); 1 stops its idle spinning")
	_ = c.MarkFlagRequired("checkpoint")
	c.RunE = func(c *cobra.Command, _ []string) error { return run(o) }
	return c
}

// RunServe runs the server until SIGTERM or SIGINT. It reads the token file
// and sets up the log; everything else is package serve.
func RunServe(s Streams, g *Global, o *ServeOptions) error {
	opts := o.Options
	if o.TokenFile != "" {
		tok, err := client.TokenFromEnvironment(o.TokenFile)
		if err != nil {
			return err
		}
		opts.Token = tok
	}
	level := slog.LevelInfo
	if g.Quiet {
		level = slog.LevelWarn
	}
	ho := &slog.HandlerOptions{Level: level}
	switch o.LogFormat {
	case "text":
		opts.Logger = slog.New(slog.NewTextHandler(s.Err, ho))
	case "json":
		opts.Logger = slog.New(slog.NewJSONHandler(s.Err, ho))
	default:
		return usagef("--log-format %q: want text or json", o.LogFormat)
	}
	if err := opts.Validate(); err != nil {
		return &UsageError{err}
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)
	if err := serve.Run(opts, sig); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

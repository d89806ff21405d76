// Package serve is `gaitord serve`: a prediction service over HTTP with a
// web page, dynamic batching, Prometheus metrics and safe limits. The
// request, response and error types are those of package api (the Go client
// is api/client); docs/serve.md is the reference and openapi.json (served at
// /openapi.json) its machine-readable form.
//
// # Structure
//
// One goroutine owns libtorch: Run executes the batch scheduler
// (internal/batch) on its caller's goroutine, locked to its OS thread, and
// every model load, warm-up and forward pass runs there, a set's fused pass
// too (batch.Scheduler.SubmitSet, a job kind of its own). HTTP handlers run
// on their own goroutines: they read and size-check the body, decode and
// preprocess the images (package gei, the same code as `gaitord predict`),
// analyse an uploaded video (package video: FFmpeg, silhouettes, tracks,
// GEIs), queue the inputs and wait for their rows, so PNG decoding and
// video analysis use every core while the forward passes stay on one
// thread.
//
// # Requests
//
// POST /v1/predict takes an image/png body (one GEI) or a multipart form
// whose field names say what the files are: each "gei" file is one
// prediction; all "frames" files are the silhouette frames of one walk,
// averaged into one GEI by gei.Walk (one prediction); all "set" files are
// GEIs of one person fused into one prediction by infer.Set (as `gaitord
// predict --fuse`; a model whose loss type cannot fuse is 422 cannot_fuse,
// checked before any decoding); one "video" file, alone in its request,
// gives one prediction per walker (video.Analyze, then Track.Input through
// the batcher and Track.Record: the records of `gaitord predict` on the
// file, walkers seen for too short in the answer's notes). The answer is
// {"predictions": [record, …]}, one api.Prediction per prediction in the
// order of the files, path holding the uploaded file name (never opened:
// no request data is used as a filesystem path; a video is streamed to
// os.CreateTemp in a folder Run makes, mode 0600, removed after the
// answer). ?details=true adds, per
// prediction, the input as the model saw it (a PNG data: URL) and the age
// distribution P(age = a) (the steps of metrics.CDF).
//
// # Limits and failures
//
// Every refusal is an api.Error {"error", "code"} with the status of its
// code (api.ErrorCode.Status), and the server keeps serving:
//   - bodies over Options.MaxBody (413), bodies that do not arrive within
//     ReadTimeout (408; headers within HeaderTimeout, or the connection is
//     closed), wrong content types (415), empty bodies and forms (400),
//     malformed multipart (400), unknown fields (400);
//   - images: gei's checks, so a PNG bomb is refused from its header before
//     any pixel is decoded (400 image_too_large), truncated or non-PNG data
//     is 400 bad_image; at most NumCPU requests decode images at once;
//   - videos: one analysed at a time, under the request's context (a client
//     that goes away or the deadline passing kills FFmpeg); frames over
//     Options.MaxPixels or more than Options.MaxFrames (announced or
//     decoded) are 400 video_too_large; unreadable, frameless, truncated or
//     corrupt footage 400 bad_video (a truncated upload is refused, not
//     predicted from what arrived); no walker for a whole gait cycle or a
//     moving camera 422 no_walker; no FFmpeg on the server 501
//     not_supported;
//   - the queue holds Options.MaxQueue GEIs: a request that does not fit is
//     503 queue_full with Retry-After; a request's deadline
//     (RequestTimeout) passing before its forward pass is 503
//     deadline_exceeded; a client that goes away is dropped from the queue.
//
// # Auth
//
// With a token, every /v1 route needs "Authorization: Bearer <token>",
// compared in constant time (SHA-256 of both sides, then
// subtle.ConstantTimeCompare); 401 otherwise. /healthz, /readyz, /metrics,
// /openapi.json and the page's static files stay open. POST
// /v1/admin/reload exists only with a token. CORS is off unless
// Options.CORSOrigin names an origin.
//
// # Signals and reload
//
// SIGTERM or SIGINT: stop accepting, let in-flight requests finish within
// Options.Grace (readyz answers 503 meanwhile), return nil. SIGHUP or POST
// /v1/admin/reload: load the checkpoint again on the libtorch thread (read
// and hashed from one open file, model built, one warm-up pass that must be
// finite) and swap it in between two batches; inputs queued before the swap
// still run on the old model, so a request is answered by one model; a
// checkpoint that fails to load is refused with one error log line and the
// old model keeps serving.
//
// # Precision
//
// Options.Precision int8 (`--precision int8`, CPU only) serves the model's
// int8 form (model.Int8 on oneDNN), built at every load, the first one and
// each reload, on the libtorch thread: train.Int8Stored calibrates it on the
// training split of the data the checkpoint's stored configuration names,
// the one function `gaitord predict --precision int8` calls too, so the
// server answers predict's records. A checkpoint with no stored
// configuration (an export) is refused, at start (Run returns the error) or
// on reload; a reload whose calibration fails (the data gone) is refused like
// a broken checkpoint. The int8 form has no set form: a "set" upload is 422
// cannot_fuse in predict --fuse's words (infer.ErrFuseInt8). /v1/model
// reports the precision and the calibration (api.ModelInfo), /metrics the
// gauge gaitord_model_precision{precision}.
//
// # Logs and metrics
//
// One log line per request (log/slog; text or JSON): id (also the
// X-Request-Id header), method, path, route, status, milliseconds, bytes,
// remote address, predictions, error code; never the body. /metrics is
// Prometheus text format from client_golang on the server's own registry:
// requests by route and status, latency histograms by route, the batch-size
// and forward-time histograms, queue depth, dropped inputs, model load
// time, reloads, padding rows, the C heap (glibc's mallinfo2: in use, free,
// mmapped), plus the Go and process collectors (RSS).
//
// # Performance settings
//
// Forward passes run at fixed batch sizes (Options.PadBatches,
// batch.PadSize) so that oneDNN's per-shape primitive cache and malloc's
// arenas stop growing (RSS flat under load), and OpenBLAS on one thread of
// its own (Options.BLASThreads, engine.SetBLASThreads) so its spinning
// workers leave the cores to the convolutions and the HTTP handlers.
package serve

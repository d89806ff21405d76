package api

import (
	"fmt"
	"net/http"
	"time"
)

// The routes of `gaitord serve` (docs/serve.md is the reference; the
// server's routing table and its OpenAPI document are checked against it).
const (
	RoutePredict = "/v1/predict"      // POST: predictions for uploaded GEIs, frames, a set or a video
	RouteModel   = "/v1/model"        // GET: what is loaded (ModelInfo)
	RouteReload  = "/v1/admin/reload" // POST: reload the checkpoint; only when a token is configured
	RouteHealth  = "/healthz"         // GET: the process is alive (open)
	RouteReady   = "/readyz"          // GET: a model is loaded and warmed up (open)
	RouteMetrics = "/metrics"         // GET: Prometheus text format (open)
	RouteOpenAPI = "/openapi.json"    // GET: the OpenAPI document of these routes (open)
	RouteIndex   = "/"                // GET: the web page (open; its API calls carry the token)
)

// Field names of a multipart/form-data POST /v1/predict: the field says what
// its files are.
const (
	// FieldGEI files are GEI PNGs, one prediction each.
	FieldGEI = "gei"
	// FieldFrames files are the binary silhouette frames of one walk,
	// averaged into one GEI: one prediction for all of them.
	FieldFrames = "frames"
	// FieldSet files are GEI PNGs of one person (several views or walks),
	// fused into one prediction as `gaitord predict --fuse` fuses a folder
	// (Source "fused", NInputs the number of GEIs); a model whose loss type
	// cannot fuse, or a server at --precision int8, answers ErrCannotFuse.
	FieldSet = "set"
	// FieldVideo is one video file (any format FFmpeg decodes), alone in
	// its request: one prediction per walker seen for a whole gait cycle,
	// the records of `gaitord predict --json` on that file (Source "video",
	// Track, Frames, Period, Cycles, ViewHint), walkers seen for less in
	// PredictResponse.Notes.
	FieldVideo = "video"
)

// Request settings a client sends besides the body.
const (
	// ContentTypePNG is the content type of a request whose body is one GEI.
	ContentTypePNG = "image/png"
	// QueryName names the GEI of an image/png body; it becomes the record's
	// path ("-" when absent). It is only echoed back, never opened.
	QueryName = "name"
	// QueryDetails ("true") asks for PredictResponse.Details.
	QueryDetails = "details"
	// TokenEnv is the environment variable from which `gaitord predict
	// --server` (and client.FromEnvironment) read the bearer token.
	TokenEnv = "GAITORD_TOKEN"
	// HeaderModel is the response header of POST /v1/predict naming the
	// SHA-256 of the checkpoint that made the predictions.
	HeaderModel = "X-Gaitord-Model"
	// HeaderRequestID is the response header carrying the request's id, as
	// logged by the server.
	HeaderRequestID = "X-Request-Id"
)

// PredictResponse is the body of a successful POST /v1/predict: one record
// per prediction, in the order of the request's files (a frames group or a
// set sits where its first file was; a video's walkers in order of first
// appearance). Each record's Path is the uploaded file name (the folder of
// the frames or of the set's files, or "frames" or "set"; QueryName for an
// image/png body).
type PredictResponse struct {
	Predictions []Prediction `json:"predictions"`
	// Details, only with ?details=true, has one entry per prediction.
	Details []PredictionDetail `json:"details,omitempty"`
	// Notes, for a video, are the walkers seen for less than a whole gait
	// cycle (no prediction), one line each: the lines `gaitord predict`
	// prints on stderr after the file name.
	Notes []string `json:"notes,omitempty"`
}

// PredictionDetail is what the web page draws beside a prediction.
type PredictionDetail struct {
	// InputPNG is the GEI as the model sees it (after preprocessing,
	// silhouette averaging or a video track's averaging; a set's first
	// GEI): a data: URL of an 8-bit gray PNG of the model's input size.
	InputPNG string `json:"input_png"`
	// PAge is the predicted age distribution, PAge[j] = P(age = MinAge + j)
	// for j = 0..K: the steps of the monotone CDF the interval is read from.
	PAge   []float64 `json:"p_age"`
	MinAge int       `json:"min_age"`
}

// ModelInfo is the body of GET /v1/model and of a successful reload.
type ModelInfo struct {
	InputHeight int `json:"input_height"`
	InputWidth  int `json:"input_width"`
	K           int `json:"k"`
	MinAge      int `json:"min_age"`
	// Checkpoint is the path given to --checkpoint; SHA256 is the hash of
	// the bytes loaded from it.
	Checkpoint string `json:"checkpoint"`
	SHA256     string `json:"sha256"`
	// Kind is "checkpoint" (a training checkpoint) or "weights" (an export).
	Kind  string `json:"kind"`
	Epoch int    `json:"epoch,omitempty"`
	// Config is the training configuration stored in a checkpoint (YAML).
	Config   string `json:"config,omitempty"`
	Gaitord  string `json:"gaitord"`
	Libtorch string `json:"libtorch"`
	Device   string `json:"device"`
	Threads  int    `json:"threads"`
	MaxBatch int    `json:"max_batch"`
	// Precision is what the model runs at: "fp32", or "int8" (`gaitord
	// serve --precision int8`: quantized at load, calibrated as
	// Calibration says; a "set" upload is then refused, 422 cannot_fuse).
	Precision   string       `json:"precision"`
	Calibration *Calibration `json:"calibration,omitempty"`
	// Generation counts the models loaded by this process: 1, then +1 per
	// successful reload.
	Generation  int       `json:"generation"`
	LoadedAt    time.Time `json:"loaded_at"`
	LoadSeconds float64   `json:"load_seconds"`
}

// Calibration is what an int8 model was calibrated on at its load: GEIs
// of the training split of Data (the data the checkpoint's stored
// configuration names), on the quantized engine Engine.
type Calibration struct {
	Data   string `json:"data"`
	GEIs   int    `json:"geis"`
	Engine string `json:"engine"`
}

// Status is the body of a successful /healthz ("ok") and /readyz ("ready").
type Status struct {
	Status string `json:"status"`
}

// ErrorCode names the kind of an Error; clients branch on it, not on the
// message.
type ErrorCode string

// The error codes of `gaitord serve`, each with its HTTP status
// (ErrorCode.Status).
const (
	ErrBadRequest       ErrorCode = "bad_request"            // 400: a malformed request
	ErrEmptyBody        ErrorCode = "empty_body"             // 400: no body, or a form without files
	ErrBadImage         ErrorCode = "bad_image"              // 400: not a PNG, truncated, all black, too small, no usable frame
	ErrImageTooLarge    ErrorCode = "image_too_large"        // 400: the PNG header declares too many pixels (refused before decoding)
	ErrBadMultipart     ErrorCode = "bad_multipart"          // 400: a malformed multipart body
	ErrUnknownField     ErrorCode = "unknown_field"          // 400: a form field other than gei, frames, set, video
	ErrBadVideo         ErrorCode = "bad_video"              // 400: not a video, no frame decoded, truncated or corrupt
	ErrVideoTooLarge    ErrorCode = "video_too_large"        // 400: frames over --max-pixels or more than --max-frames (refused before or while decoding)
	ErrUnauthorized     ErrorCode = "unauthorized"           // 401: missing or wrong bearer token
	ErrNotFound         ErrorCode = "not_found"              // 404: no such route
	ErrMethodNotAllowed ErrorCode = "method_not_allowed"     // 405: the route exists, not with this method
	ErrRequestTimeout   ErrorCode = "request_timeout"        // 408: the body did not arrive within the read timeout
	ErrBodyTooLarge     ErrorCode = "body_too_large"         // 413: the body is over --max-body
	ErrTooManyInputs    ErrorCode = "too_many_inputs"        // 413: more GEIs or frames in one request than the server takes
	ErrUnsupportedType  ErrorCode = "unsupported_media_type" // 415: neither image/png nor multipart/form-data
	ErrCannotFuse       ErrorCode = "cannot_fuse"            // 422: a set for a model whose loss type cannot fuse GEIs, or on a server at --precision int8
	ErrNoWalker         ErrorCode = "no_walker"              // 422: a video without a walker seen for a whole gait cycle, or a moving camera
	ErrNotSupported     ErrorCode = "not_supported"          // 501: an input this server cannot take (a video without FFmpeg on the server)
	ErrInternal         ErrorCode = "internal"               // 500: the forward pass failed
	ErrReloadFailed     ErrorCode = "reload_failed"          // 500: the new checkpoint was refused; the old one keeps serving
	ErrQueueFull        ErrorCode = "queue_full"             // 503: the queue is full (Retry-After)
	ErrDeadline         ErrorCode = "deadline_exceeded"      // 503: the request's deadline passed before its forward (Retry-After)
	ErrNotReady         ErrorCode = "not_ready"              // 503: no model loaded yet (Retry-After)
	ErrShuttingDown     ErrorCode = "shutting_down"          // 503: the server is draining
)

// Status is the HTTP status that answers code (500 for an unknown code).
func (c ErrorCode) Status() int {
	switch c {
	case ErrBadRequest, ErrEmptyBody, ErrBadImage, ErrImageTooLarge, ErrBadMultipart, ErrUnknownField, ErrBadVideo, ErrVideoTooLarge:
		return http.StatusBadRequest
	case ErrUnauthorized:
		return http.StatusUnauthorized
	case ErrNotFound:
		return http.StatusNotFound
	case ErrMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case ErrRequestTimeout:
		return http.StatusRequestTimeout
	case ErrBodyTooLarge, ErrTooManyInputs:
		return http.StatusRequestEntityTooLarge
	case ErrUnsupportedType:
		return http.StatusUnsupportedMediaType
	case ErrCannotFuse, ErrNoWalker:
		return http.StatusUnprocessableEntity
	case ErrNotSupported:
		return http.StatusNotImplemented
	case ErrQueueFull, ErrDeadline, ErrNotReady, ErrShuttingDown:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// ErrorCodes lists every ErrorCode, for documentation checks.
var ErrorCodes = []ErrorCode{ErrBadRequest, ErrEmptyBody, ErrBadImage, ErrImageTooLarge, ErrBadMultipart,
	ErrUnknownField, ErrBadVideo, ErrVideoTooLarge, ErrUnauthorized, ErrNotFound, ErrMethodNotAllowed, ErrRequestTimeout, ErrBodyTooLarge,
	ErrTooManyInputs, ErrUnsupportedType, ErrCannotFuse, ErrNoWalker, ErrNotSupported, ErrInternal, ErrReloadFailed, ErrQueueFull,
	ErrDeadline, ErrNotReady, ErrShuttingDown}

// Error is the body of every error answer: {"error": "...", "code": "..."}.
// The message is one line meant for people; it names the uploaded file and
// the problem where there is one.
type Error struct {
	Message string    `json:"error"`
	Code    ErrorCode `json:"code"`
}

// Errorf makes an Error of code with a formatted message.
func Errorf(code ErrorCode, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

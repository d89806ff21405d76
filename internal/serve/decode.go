package serve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"path"
	"strings"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
)

// maxParts bounds the files of one multipart request (frames included).
const maxParts = 10_000

// part is one uploaded file, read into memory: field is api.FieldGEI or
// api.FieldFrames, name the file name the client gave (echoed back as the
// record's path, never opened).
type part struct {
	field string
	name  string
	data  []byte
}

// body is a POST /v1/predict request body read into its parts.
type body struct {
	parts []part
	geis  int // parts of field gei
}

// readBody reads a POST /v1/predict body: an image/png body (one GEI named
// by ?name=) or a multipart/form-data body whose field names say what the
// files are. maxGEIs bounds the GEIs of one request (more can never fit in
// the queue). The caller has already limited r.Body to the body size limit.
// Every refusal is an *api.Error with a 4xx code.
func readBody(r *http.Request, maxGEIs int) (*body, *api.Error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, api.Errorf(api.ErrUnsupportedType, "no Content-Type: send %s or multipart/form-data (fields %s, %s)", api.ContentTypePNG, api.FieldGEI, api.FieldFrames)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return nil, api.Errorf(api.ErrUnsupportedType, "Content-Type %q: %v", clip(ct), err)
	}
	switch mt {
	case api.ContentTypePNG:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, readError(err, "reading the body")
		}
		if len(data) == 0 {
			return nil, api.Errorf(api.ErrEmptyBody, "empty body: send one GEI PNG")
		}
		name := r.URL.Query().Get(api.QueryName)
		if name == "" {
			name = "-"
		}
		return &body{parts: []part{{field: api.FieldGEI, name: name, data: data}}, geis: 1}, nil
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, api.Errorf(api.ErrBadMultipart, "multipart/form-data without a boundary")
		}
		return readMultipart(multipart.NewReader(r.Body, params["boundary"]), maxGEIs)
	}
	return nil, api.Errorf(api.ErrUnsupportedType, "Content-Type %q: send %s or multipart/form-data (fields %s, %s)", clip(mt), api.ContentTypePNG, api.FieldGEI, api.FieldFrames)
}

func readMultipart(mr *multipart.Reader, maxGEIs int) (*body, *api.Error) {
	b := &body{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, readError(err, "reading the multipart body")
		}
		field := p.FormName()
		switch field {
		case api.FieldGEI, api.FieldFrames:
		case api.FieldSet:
			return nil, api.Errorf(api.ErrNotSupported, "field %q (GEIs of one person fused into one prediction) is not supported by this server yet", field)
		case api.FieldVideo:
			return nil, api.Errorf(api.ErrNotSupported, "field %q (a video, one prediction per walker) is not supported by this server yet", field)
		default:
			return nil, api.Errorf(api.ErrUnknownField, "unknown form field %q: send files in fields %s (one prediction each) or %s (the frames of one walk)", clip(field), api.FieldGEI, api.FieldFrames)
		}
		if len(b.parts) == maxParts {
			return nil, api.Errorf(api.ErrTooManyInputs, "more than %d files in one request", maxParts)
		}
		if field == api.FieldGEI {
			if b.geis++; b.geis > maxGEIs {
				return nil, api.Errorf(api.ErrTooManyInputs, "more than %d GEIs in one request (the queue holds %d)", maxGEIs, maxGEIs)
			}
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, readError(err, "reading the multipart body")
		}
		b.parts = append(b.parts, part{field: field, name: fileName(p, field, len(b.parts)), data: data})
	}
	if len(b.parts) == 0 {
		return nil, api.Errorf(api.ErrEmptyBody, "the form holds no files: send fields %s or %s", api.FieldGEI, api.FieldFrames)
	}
	return b, nil
}

// fileName is the name the client gave a part, as it sent it (a folder and
// a file name for frames picked from a folder), or field[i] when it gave
// none. It is only echoed back.
func fileName(p *multipart.Part, field string, i int) string {
	if _, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return clip(params["filename"])
	}
	return fmt.Sprintf("%s[%d]", field, i)
}

// readError classifies a failed body read: over the size limit, too slow
// (the server's read timeout), or malformed.
func readError(err error, doing string) *api.Error {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return api.Errorf(api.ErrBodyTooLarge, "body over the limit of %d bytes", mbe.Limit)
	case errors.As(err, &ne) && ne.Timeout():
		return api.Errorf(api.ErrRequestTimeout, "%s: the body did not arrive within the read timeout", doing)
	}
	return api.Errorf(api.ErrBadMultipart, "%s: %s", doing, oneLine(err.Error()))
}

// input is one prediction's worth of decoded input.
type input struct {
	path   string
	source string // "gei" or "silhouettes"
	x      []float32
}

// decode turns the parts into model inputs of size: each gei part through
// gei.Decode (header checks before decoding, then Preprocess), all frames
// parts through one gei.Walk, placed where the first frame was. Errors name
// the file.
func (b *body) decode(size gei.Size) ([]input, *api.Error) {
	var out []input
	var walk *gei.Walk
	walkAt := -1
	for _, p := range b.parts {
		switch p.field {
		case api.FieldGEI:
			x, err := gei.Decode(p.name, p.data, size)
			if err != nil {
				return nil, imageError(err)
			}
			out = append(out, input{path: p.name, source: "gei", x: x})
		case api.FieldFrames:
			if walk == nil {
				var err error
				if walk, err = gei.NewWalk(size); err != nil {
					return nil, api.Errorf(api.ErrInternal, "%v", err)
				}
				walkAt = len(out)
				out = append(out, input{path: framesPath(p.name), source: "silhouettes"})
			}
			if err := walk.AddPNG(p.name, p.data); err != nil {
				return nil, imageError(err)
			}
		}
	}
	if walk != nil {
		x, _, _, err := walk.GEI()
		if err != nil {
			return nil, api.Errorf(api.ErrBadImage, "frames of %s: %s", out[walkAt].path, oneLine(err.Error()))
		}
		out[walkAt].x = x
	}
	return out, nil
}

// framesPath names a walk by the folder of its first frame's file name, or
// "frames" when the name has no folder.
func framesPath(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	if dir := path.Dir(name); dir != "." && dir != "/" && dir != "" {
		return dir
	}
	return api.FieldFrames
}

func imageError(err error) *api.Error {
	if errors.Is(err, gei.ErrTooLarge) {
		return api.Errorf(api.ErrImageTooLarge, "%s", oneLine(err.Error()))
	}
	return api.Errorf(api.ErrBadImage, "%s", oneLine(err.Error()))
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip shortens a client-given string for an error message or a record.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "…"
	}
	return s
}

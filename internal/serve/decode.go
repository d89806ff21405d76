package serve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/internal/gei"
)

// maxParts bounds the files of one multipart request (frames included).
const maxParts = 10_000

// part is one uploaded file: field is api.FieldGEI, api.FieldFrames,
// api.FieldSet (read into data) or api.FieldVideo (written to file, a
// private temporary file of the server's); name is the file name the client
// gave, echoed back as the record's path and never opened.
type part struct {
	field string
	name  string
	data  []byte
	file  string
}

// body is a POST /v1/predict request body read into its parts. A body with
// a video holds that one part; close removes its file.
type body struct {
	parts []part
	geis  int   // parts of fields gei and set: inputs that will queue
	set   int   // parts of field set
	video *part // the video part, if any
}

// close removes the video's temporary file, if any.
func (b *body) close() {
	if b != nil && b.video != nil && b.video.file != "" {
		os.Remove(b.video.file)
		b.video.file = ""
	}
}

// readBody reads a POST /v1/predict body: an image/png body (one GEI named
// by ?name=) or a multipart/form-data body whose field names say what the
// files are. maxGEIs bounds the GEIs of one request (more can never fit in
// the queue). A video part is streamed to a new file in tmpDir
// (os.CreateTemp: mode 0600, a random name; the client's file name is never
// part of it), which the caller removes with body.close; on a refusal it is
// already removed. The caller has already limited r.Body to the body size
// limit. Every refusal is an *api.Error with a 4xx code.
func readBody(r *http.Request, maxGEIs int, tmpDir string) (*body, *api.Error) {
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
		b, aerr := readMultipart(multipart.NewReader(r.Body, params["boundary"]), maxGEIs, tmpDir)
		if aerr != nil {
			b.close()
			return nil, aerr
		}
		return b, nil
	}
	return nil, api.Errorf(api.ErrUnsupportedType, "Content-Type %q: send %s or multipart/form-data (fields %s, %s)", clip(mt), api.ContentTypePNG, api.FieldGEI, api.FieldFrames)
}

// readMultipart reads the parts of a form; on a refusal the caller closes
// the body it returns (a video file may already be written).
func readMultipart(mr *multipart.Reader, maxGEIs int, tmpDir string) (*body, *api.Error) {
	b := &body{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return b, readError(err, "reading the multipart body")
		}
		field := p.FormName()
		switch field {
		case api.FieldGEI, api.FieldFrames, api.FieldSet, api.FieldVideo:
		default:
			return b, api.Errorf(api.ErrUnknownField, "unknown form field %q: send files in fields %s (one prediction each), %s (the frames of one walk), %s (GEIs of one person, fused) or %s (one video)",
				clip(field), api.FieldGEI, api.FieldFrames, api.FieldSet, api.FieldVideo)
		}
		if b.video != nil || (field == api.FieldVideo && len(b.parts) > 0) {
			return b, api.Errorf(api.ErrBadRequest, "a %s file goes alone in its request: send one video per request, without other files", api.FieldVideo)
		}
		if len(b.parts) == maxParts {
			return b, api.Errorf(api.ErrTooManyInputs, "more than %d files in one request", maxParts)
		}
		if field == api.FieldGEI || field == api.FieldSet {
			if b.geis++; b.geis > maxGEIs {
				return b, api.Errorf(api.ErrTooManyInputs, "more than %d GEIs in one request (the queue holds %d)", maxGEIs, maxGEIs)
			}
		}
		pt := part{field: field, name: fileName(p, field, len(b.parts))}
		if field == api.FieldVideo {
			b.parts = append(b.parts, pt)
			b.video = &b.parts[0]
			if aerr := saveVideo(b.video, p, tmpDir); aerr != nil {
				return b, aerr
			}
			continue
		}
		if pt.data, err = io.ReadAll(p); err != nil {
			return b, readError(err, "reading the multipart body")
		}
		if field == api.FieldSet {
			b.set++
		}
		b.parts = append(b.parts, pt)
	}
	if len(b.parts) == 0 {
		return b, api.Errorf(api.ErrEmptyBody, "the form holds no files: send fields %s, %s, %s or %s", api.FieldGEI, api.FieldFrames, api.FieldSet, api.FieldVideo)
	}
	return b, nil
}

// saveVideo streams a video part into a new private file in tmpDir and
// records its name in v.file (also when the copy fails, so that close
// removes it).
func saveVideo(v *part, r io.Reader, tmpDir string) *api.Error {
	if tmpDir == "" {
		return api.Errorf(api.ErrNotSupported, "this server takes no videos")
	}
	f, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return api.Errorf(api.ErrInternal, "storing the upload: %s", oneLine(unwrapPath(err).Error()))
	}
	v.file = f.Name()
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil && cerr != nil {
		return api.Errorf(api.ErrInternal, "storing the upload: %s", oneLine(unwrapPath(cerr).Error()))
	}
	if err != nil {
		return readError(err, "reading the video")
	}
	if n == 0 {
		return api.Errorf(api.ErrEmptyBody, "video %s is empty", v.name)
	}
	return nil
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
	source string    // api.SourceGEI, api.SourceSilhouettes or api.SourceFused
	x      []float32 // the GEI; a set's first
	set    [][]float32
}

// decode turns the parts (no video) into model inputs of size: each gei
// part through gei.Decode (header checks before decoding, then
// Preprocess), all frames parts through one gei.Walk, placed where the
// first frame was, all set parts through gei.Decode into one set, placed
// where its first GEI was. Errors name the file.
func (b *body) decode(size gei.Size) ([]input, *api.Error) {
	var out []input
	var walk *gei.Walk
	walkAt, setAt := -1, -1
	for _, p := range b.parts {
		switch p.field {
		case api.FieldGEI, api.FieldSet:
			x, err := gei.Decode(p.name, p.data, size)
			if err != nil {
				return nil, imageError(err)
			}
			if p.field == api.FieldGEI {
				out = append(out, input{path: p.name, source: api.SourceGEI, x: x})
				continue
			}
			if setAt < 0 {
				setAt = len(out)
				out = append(out, input{path: groupPath(p.name, api.FieldSet), source: api.SourceFused, x: x})
			}
			out[setAt].set = append(out[setAt].set, x)
		case api.FieldFrames:
			if walk == nil {
				var err error
				if walk, err = gei.NewWalk(size); err != nil {
					return nil, api.Errorf(api.ErrInternal, "%v", err)
				}
				walkAt = len(out)
				out = append(out, input{path: groupPath(p.name, api.FieldFrames), source: api.SourceSilhouettes})
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

// groupPath names a walk (or a set) by the folder of its first file's
// name, or by its field when the name has no folder.
func groupPath(name, field string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	if dir := path.Dir(name); dir != "." && dir != "/" && dir != "" {
		return dir
	}
	return field
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

package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
)

// DefaultMaxPixels is the default limit on decoded frame size: 4K UHD.
const DefaultMaxPixels = 3840 * 2160

// DecodeOptions configure Open. The zero value decodes at the displayed
// size with DefaultMaxPixels.
type DecodeOptions struct {
	// MaxPixels is the largest Width×Height decoded; 0 means
	// DefaultMaxPixels. Larger frames are ErrTooLarge before decoding.
	MaxPixels int
}

// Report says how a decode went; Decoder.Report returns it once the
// stream has ended.
type Report struct {
	// Frames is the number of frames decoded.
	Frames int
	// Expected is the number of frames the container announced (0 if unknown).
	Expected int
	// Truncated is true when the stream ended early: FFmpeg failed after
	// some frames, the last frame was cut short, or fewer frames came than
	// announced (by more than 2 frames and 2 %).
	Truncated bool
	// Message is FFmpeg's stderr summarised in one line ("" if it said nothing).
	Message string
}

// Decoder streams the frames of one video; see Open.
type Decoder struct {
	path   string
	info   Info
	ctx    context.Context
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *tailBuffer
	buf    []byte
	report Report
	ended  bool
	closed bool
}

// Open probes path (see Probe), checks the frame size against the limit
// and starts ffmpeg decoding the first video stream to RGB. The caller
// must Close the decoder.
func (p Programs) Open(ctx context.Context, path string, opts DecodeOptions) (*Decoder, error) {
	info, err := p.Probe(ctx, path)
	if err != nil {
		return nil, err
	}
	limit := opts.MaxPixels
	if limit <= 0 {
		limit = DefaultMaxPixels
	}
	if info.Width*info.Height > limit {
		return nil, fmt.Errorf("%s: %w: %dx%d is %.1f megapixels, over the limit of %.1f megapixels",
			path, ErrTooLarge, info.Width, info.Height, float64(info.Width*info.Height)/1e6, float64(limit)/1e6)
	}
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-i", "file:" + path,
		"-map", "0:v:0", "-an", "-sn", "-dn"}
	args = append(args, "-fps_mode", "cfr", "-r", info.Rate, "-vf", "scale="+strconv.Itoa(info.Width)+":"+strconv.Itoa(info.Height),
		"-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1")
	cmd := exec.CommandContext(ctx, p.FFmpeg, args...)
	d := &Decoder{path: path, info: info, ctx: ctx, cmd: cmd, stderr: &tailBuffer{limit: 32 << 10},
		buf: make([]byte, info.Width*info.Height*3)}
	d.report.Expected = info.Frames
	cmd.Stderr = d.stderr
	if d.out, err = cmd.StdoutPipe(); err != nil {
		return nil, fmt.Errorf("%s: start ffmpeg: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start ffmpeg: %w (%w; %s)", path, err, ErrNotInstalled, InstallHint)
	}
	return d, nil
}

// Info returns the stream description; frames are Info().Width×Height.
func (d *Decoder) Info() Info { return d.info }

// Next returns the next frame: Width*Height*3 bytes, RGB, row-major. The
// slice is reused by the following call. At the end of the stream it
// returns io.EOF (Report then tells whether the stream was cut short).
// A stream that ends before its first frame is ErrNoFrames, with FFmpeg's
// message if it gave one.
func (d *Decoder) Next() ([]byte, error) {
	if d.ended || d.closed {
		return nil, io.EOF
	}
	n, err := io.ReadFull(d.out, d.buf)
	if err == nil {
		d.report.Frames++
		return d.buf, nil
	}
	d.ended = true
	if ctxErr := d.ctx.Err(); ctxErr != nil {
		d.Close()
		return nil, fmt.Errorf("%s: %w", d.path, ctxErr)
	}
	partial := n > 0 && errors.Is(err, io.ErrUnexpectedEOF)
	if !partial && err != io.EOF {
		d.Close()
		return nil, fmt.Errorf("%s: read ffmpeg's output: %w", d.path, err)
	}
	werr := d.cmd.Wait()
	d.closed = true
	d.report.Message = Summarize(d.stderr.buf.Bytes(), "file:"+d.path)
	exp := d.report.Expected
	short := exp > 0 && exp-d.report.Frames > 2 && float64(exp-d.report.Frames) > 0.02*float64(exp)
	d.report.Truncated = partial || werr != nil || short
	if d.report.Frames == 0 {
		msg := d.report.Message
		if msg == "" && werr != nil {
			msg = werr.Error()
		}
		if msg != "" {
			return nil, fmt.Errorf("%s: %w decoded (ffmpeg: %s)", d.path, ErrNoFrames, msg)
		}
		return nil, fmt.Errorf("%s: %w decoded from its video stream", d.path, ErrNoFrames)
	}
	return nil, io.EOF
}

// Report returns the decode report; complete once Next has returned io.EOF.
func (d *Decoder) Report() Report { return d.report }

// Close stops ffmpeg if it is still running and releases the pipe. It is
// safe to call more than once and after the end of the stream.
func (d *Decoder) Close() error {
	if d.closed {
		return nil
	}
	d.closed, d.ended = true, true
	if d.cmd.Process != nil {
		d.cmd.Process.Kill()
	}
	d.out.Close()
	d.cmd.Wait()
	return nil
}

// TruncationNote is the one-line warning for a truncated stream, or "" if
// the stream was complete: "truncated: decoded 90 of 150 frames (ffmpeg: …)".
func (r Report) TruncationNote() string {
	if !r.Truncated {
		return ""
	}
	s := fmt.Sprintf("truncated or corrupt: decoded %d frames", r.Frames)
	if r.Expected > 0 {
		s = fmt.Sprintf("truncated or corrupt: decoded %d of %d frames", r.Frames, r.Expected)
	}
	if r.Message != "" {
		s += " (ffmpeg: " + r.Message + ")"
	}
	return s
}

package ffmpeg

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gaitord/gaitord/internal/atomicfile"
)

// EncodeOptions describe the video Encode writes.
type EncodeOptions struct {
	// Width and Height are the frame size in pixels (even, at least 2).
	Width, Height int
	// FPS is the frame rate (frames per second, > 0).
	FPS int
	// Quality is the codec's constant-quality setting: CRF for H.264 (0
	// lossless … 51; default 18) and the q scale for MJPEG (2 … 31; default 3).
	Quality int
}

// container maps an output extension to FFmpeg's muxer and codec arguments.
var container = map[string]struct {
	format string
	codec  []string
	mjpeg  bool
}{
	".mp4": {"mp4", []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart"}, false},
	".mkv": {"matroska", []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"}, false},
	".mov": {"mov", []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"}, false},
	".avi": {"avi", []string{"-c:v", "mjpeg", "-pix_fmt", "yuvj420p"}, true},
}

// Extensions lists the file extensions Encode writes.
func Extensions() []string { return []string{".avi", ".mkv", ".mov", ".mp4"} }

// Encode writes a video to path from RGB frames: frames is called with a
// write function taking one Width*Height*3-byte RGB frame at a time. The
// container and codec follow path's extension (see Extensions): H.264 in
// .mp4 (moov first, "faststart"), .mkv and .mov; MJPEG in .avi. The file
// appears whole or not at all (package atomicfile); ffmpeg's complaint, if
// any, is summarised in the error.
func (p Programs) Encode(ctx context.Context, path string, opts EncodeOptions, frames func(write func(rgb []byte) error) error) error {
	c, ok := container[strings.ToLower(filepath.Ext(path))]
	if !ok {
		return fmt.Errorf("write video %s: unsupported extension (want one of %s)", path, strings.Join(Extensions(), ", "))
	}
	if opts.Width < 2 || opts.Height < 2 || opts.Width%2 != 0 || opts.Height%2 != 0 || opts.FPS <= 0 {
		return fmt.Errorf("write video %s: frame size %dx%d at %d fps (want even sides >= 2 and fps > 0)", path, opts.Width, opts.Height, opts.FPS)
	}
	q := opts.Quality
	args := []string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "rawvideo", "-pix_fmt", "rgb24", "-s", fmt.Sprintf("%dx%d", opts.Width, opts.Height),
		"-r", strconv.Itoa(opts.FPS), "-i", "pipe:0"}
	args = append(args, c.codec...)
	if c.mjpeg {
		if q == 0 {
			q = 3
		}
		args = append(args, "-q:v", strconv.Itoa(q))
	} else {
		if q == 0 {
			q = 18
		}
		args = append(args, "-crf", strconv.Itoa(q))
	}
	args = append(args, "-f", c.format)
	size := opts.Width * opts.Height * 3
	err := atomicfile.WriteVia(path, func(tmp string) error {
		cmd := exec.CommandContext(ctx, p.FFmpeg, append(args, "file:"+tmp)...)
		stderr := &tailBuffer{limit: 16 << 10}
		cmd.Stderr = stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start ffmpeg: %w (%w; %s)", err, ErrNotInstalled, InstallHint)
		}
		write := func(rgb []byte) error {
			if len(rgb) != size {
				return fmt.Errorf("frame of %d bytes, want %d (%dx%d RGB)", len(rgb), size, opts.Width, opts.Height)
			}
			_, err := in.Write(rgb)
			return err
		}
		ferr := frames(write)
		in.Close()
		werr := cmd.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if werr != nil {
			msg := Summarize(stderr.buf.Bytes(), "file:"+tmp)
			if msg == "" && werr != nil {
				msg = werr.Error()
			}
			return fmt.Errorf("ffmpeg: %s", msg)
		}
		return ferr
	})
	if err != nil {
		return fmt.Errorf("write video %s: %w", path, err)
	}
	return nil
}

package ffmpeg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Info describes the first video stream of a file, as ffprobe reads it.
type Info struct {
	// Format is the container as ffprobe names it, e.g. "mov,mp4,m4a,3gp,3g2,mj2".
	Format string
	// Codec is the video codec, e.g. "h264".
	Codec string
	// Width and Height are the displayed frame size in pixels, the size of
	// the decoded frames: the coded size with ±90° rotation applied and
	// non-square pixels stretched to square.
	Width, Height int
	// CodedWidth and CodedHeight are the size stored in the stream.
	CodedWidth, CodedHeight int
	// Rotation is the display rotation in degrees counter-clockwise (the
	// stream's display matrix as ffprobe reports it), 0 if none.
	Rotation int
	// Rate is the constant frame rate the frames are decoded at, as
	// FFmpeg's rational string ("30000/1001"): the stream's nominal rate
	// (ffprobe's r_frame_rate), or its average rate when the nominal one is
	// missing or over 120 fps. FPS is its value.
	Rate string
	FPS  float64
	// VFR is true when ffprobe sees a variable frame rate (nominal and
	// average rates differ by over 1 %). Containers that store no frame
	// count (Matroska) hide it; either way frames are resampled to Rate.
	VFR bool
	// Frames is the expected number of decoded frames: the stream's frame
	// count, or its duration times FPS; 0 when neither is known.
	Frames int
	// Duration is the stream (or container) duration in seconds; 0 if unknown.
	Duration float64
}

// probeJSON is the part of ffprobe's JSON output that Probe reads.
type probeJSON struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		CodecType    string `json:"codec_type"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		SAR          string `json:"sample_aspect_ratio"`
		RFrameRate   string `json:"r_frame_rate"`
		AvgFrameRate string `json:"avg_frame_rate"`
		NbFrames     string `json:"nb_frames"`
		Duration     string `json:"duration"`
		Disposition  struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
		Tags     map[string]string `json:"tags"`
		SideData []struct {
			Rotation *float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// stillFormats are ffprobe's demuxers for single images: a file they
// recognise is a picture, whatever its extension.
var stillFormats = map[string]bool{"image2": true, "png_pipe": true, "jpeg_pipe": true,
	"bmp_pipe": true, "tiff_pipe": true, "webp_pipe": true, "dpx_pipe": true, "exr_pipe": true,
	"pgm_pipe": true, "ppm_pipe": true, "pbm_pipe": true, "pam_pipe": true, "sgi_pipe": true,
	"qoi_pipe": true, "j2k_pipe": true, "jpegls_pipe": true, "pcx_pipe": true, "svg_pipe": true,
	"psd_pipe": true, "xbm_pipe": true, "xpm_pipe": true, "photocd_pipe": true, "pictor_pipe": true}

// Probe reads the first video stream's description with ffprobe. The file
// must exist and be a regular file. A file ffprobe cannot read, a still
// image and a file without a video stream are ErrNotVideo; the error names
// the file and summarises ffprobe's complaint in one line.
func (p Programs) Probe(ctx context.Context, path string) (Info, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if !st.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%s: %w: not a regular file", path, ErrNotVideo)
	}
	if st.Size() == 0 {
		return Info{}, fmt.Errorf("%s: %w: empty file", path, ErrNotVideo)
	}
	cmd := exec.CommandContext(ctx, p.FFprobe, "-v", "error", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,codec_type,width,height,sample_aspect_ratio,r_frame_rate,avg_frame_rate,nb_frames,duration"+
			":stream_disposition=attached_pic:stream_tags=rotate:stream_side_data=rotation:format=format_name,duration",
		"-of", "json", "file:"+path)
	stderr := &tailBuffer{limit: 16 << 10}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return Info{}, fmt.Errorf("%s: %w", path, ctx.Err())
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return Info{}, fmt.Errorf("%s: run ffprobe: %w (%w; %s)", path, err, ErrNotInstalled, InstallHint)
		}
		msg := Summarize(stderr.buf.Bytes(), "file:"+path)
		if msg == "" {
			msg = ee.String()
		}
		return Info{}, fmt.Errorf("%s: %w (ffprobe: %s)", path, ErrNotVideo, msg)
	}
	var pj probeJSON
	if err := json.Unmarshal(out, &pj); err != nil {
		return Info{}, fmt.Errorf("%s: read ffprobe's output: %w", path, err)
	}
	return infoFrom(pj, path)
}

// infoFrom checks ffprobe's description and derives Info from it.
func infoFrom(pj probeJSON, path string) (Info, error) {
	format := pj.Format.FormatName
	if stillFormats[format] {
		return Info{}, fmt.Errorf("%s: %w: a still image (%s), not a video", path, ErrNotVideo, strings.TrimSuffix(format, "_pipe"))
	}
	if len(pj.Streams) == 0 {
		return Info{}, fmt.Errorf("%s: %w: no video stream (format %s)", path, ErrNotVideo, format)
	}
	s := pj.Streams[0]
	if s.Disposition.AttachedPic != 0 {
		return Info{}, fmt.Errorf("%s: %w: its only picture is attached cover art", path, ErrNotVideo)
	}
	if s.Width <= 0 || s.Height <= 0 {
		return Info{}, fmt.Errorf("%s: %w: video stream without a frame size (codec %q)", path, ErrNotVideo, s.CodecName)
	}
	in := Info{Format: format, Codec: s.CodecName, CodedWidth: s.Width, CodedHeight: s.Height}
	for _, sd := range s.SideData {
		if sd.Rotation != nil {
			in.Rotation = int(math.Round(*sd.Rotation))
		}
	}
	if r, ok := s.Tags["rotate"]; ok && in.Rotation == 0 {
		in.Rotation, _ = strconv.Atoi(r)
	}
	w := float64(s.Width)
	if num, den, ok := ratio(s.SAR); ok && num > 0 && den > 0 && num != den {
		w = w * float64(num) / float64(den)
	}
	in.Width, in.Height = int(math.Round(w)), s.Height
	if ((in.Rotation%180)+180)%180 == 90 {
		in.Width, in.Height = in.Height, in.Width
	}
	in.Width, in.Height = in.Width&^1, in.Height&^1 // even sides: what yuv420 output and scalers expect
	in.Width, in.Height = max(in.Width, 2), max(in.Height, 2)

	avg, avgOK := rate(s.AvgFrameRate)
	nominal, nomOK := rate(s.RFrameRate)
	switch {
	case nomOK && nominal <= 120:
		in.Rate, in.FPS = s.RFrameRate, nominal
	case avgOK:
		in.Rate, in.FPS = s.AvgFrameRate, avg
	case nomOK:
		in.Rate, in.FPS = s.RFrameRate, nominal
	default:
		return Info{}, fmt.Errorf("%s: %w: the video stream has no frame rate", path, ErrNotVideo)
	}
	in.VFR = avgOK && nomOK && math.Abs(avg-nominal) > 0.01*nominal
	in.Duration, _ = strconv.ParseFloat(s.Duration, 64)
	if in.Duration <= 0 {
		in.Duration, _ = strconv.ParseFloat(pj.Format.Duration, 64)
	}
	if n, err := strconv.Atoi(s.NbFrames); err == nil && n > 0 && !in.VFR {
		in.Frames = n
	} else if in.Duration > 0 {
		in.Frames = int(math.Round(in.Duration * in.FPS))
	}
	return in, nil
}

// rate parses an FFmpeg rational frame rate; "0/0" and absurd rates are not ok.
func rate(s string) (float64, bool) {
	num, den, ok := ratio(s)
	if !ok || num <= 0 || den <= 0 {
		return 0, false
	}
	v := float64(num) / float64(den)
	return v, v >= 0.1 && v <= 1000
}

// ratio parses "a/b" or "a:b".
func ratio(s string) (int64, int64, bool) {
	i := strings.IndexAny(s, "/:")
	if i < 0 {
		return 0, 0, false
	}
	a, err1 := strconv.ParseInt(s[:i], 10, 64)
	b, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	return a, b, err1 == nil && err2 == nil
}

// unwrapPath drops the *fs.PathError wrapper (its message repeats the path).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

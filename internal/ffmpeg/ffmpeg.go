// Package ffmpeg decodes and encodes video by running FFmpeg's own programs,
// Debian's ffmpeg and ffprobe (5.1), which scripts/install_libtorch.sh
// installs. gaitord never parses a container or a codec itself.
//
// Decoding: Probe runs ffprobe on the file, so the format is recognised by
// its content, not its extension; a still image (PNG, JPEG, … renamed .mp4)
// or a file without a video stream is ErrNotVideo. Open then starts
//
//	ffmpeg -i FILE -map 0:v:0 -fps_mode cfr -r RATE -vf scale=W:H -f rawvideo -pix_fmt rgb24 pipe:1
//
// and Decoder.Next hands out one W×H RGB frame at a time from the pipe into
// one reused buffer: memory is one frame plus the pipe, whatever the
// video's length. FFmpeg applies the rotation metadata itself (its
// autorotate), so W×H is the displayed size (Info.Width×Info.Height, sides
// swapped for ±90°, non-square pixels stretched to square). Frames come at
// a constant rate (Info.Rate): a variable frame rate stream is resampled
// (frames repeated or dropped by their timestamps), so frame k is the
// picture shown at time k/FPS and a gait period in frames is a time. Frames over a pixel limit are refused before decoding (ErrTooLarge).
// A stream that ends early (a truncated or corrupt file) keeps the frames
// that decoded; Decoder.Close reports the shortfall as Report.Truncated.
//
// Every error names the file and holds FFmpeg's own complaint summarised in
// one line (Summarize). A missing program is ErrNotInstalled, whose message
// names the install step.
//
// Why the programs over a pipe and not libav* through cgo: on the 2-core
// build machine, with a 640×480 H.264 file of 300 frames
// (BenchmarkDecode640), frames came through the pipe into Go as fast as
// ffmpeg decoded them to /dev/null (143–168 against 129–152 frames/s, the
// machine's load being the noise; docs/video.md has the commands). The
// pipe costs one memory copy per frame, which is all a cgo binding could
// save, while the binding would cost libav*-dev headers at build time, a
// C layer of demuxing, decoding, scaling and error handling to maintain,
// and a decoder crash on a corrupt file taking gaitord down with it. The
// separate process also decodes on the other core while gaitord segments
// the previous frame.
package ffmpeg

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// InstallHint is the install step named when a program is missing.
const InstallHint = "install FFmpeg with scripts/install_libtorch.sh (Debian: apt-get install ffmpeg)"

// Sentinel errors, matched with errors.Is; returned errors wrap them with
// the file name and details.
var (
	// ErrNotInstalled means ffmpeg or ffprobe could not be found or run.
	ErrNotInstalled = errors.New("FFmpeg not installed")
	// ErrNotVideo means the file is not a video FFmpeg can decode: not a
	// media file at all, a still image, or a file without a video stream.
	ErrNotVideo = errors.New("not a video")
	// ErrTooLarge means the frames are over the configured size limit.
	ErrTooLarge = errors.New("frames too large")
	// ErrNoFrames means the video stream decoded to zero frames.
	ErrNoFrames = errors.New("no frames")
)

// Programs are the paths of the two FFmpeg programs.
type Programs struct {
	FFmpeg, FFprobe string
}

// Find locates ffmpeg and ffprobe. With ffmpeg empty both are looked up on
// PATH; otherwise ffmpeg is that program and ffprobe is looked up next to
// it, then on PATH. A missing program is ErrNotInstalled naming the
// install step.
func Find(ffmpeg string) (Programs, error) {
	var p Programs
	var err error
	if ffmpeg == "" {
		ffmpeg = "ffmpeg"
	}
	if p.FFmpeg, err = exec.LookPath(ffmpeg); err != nil {
		return Programs{}, fmt.Errorf("%w: %s not found; %s", ErrNotInstalled, ffmpeg, InstallHint)
	}
	probe := "ffprobe"
	if strings.ContainsRune(ffmpeg, '/') {
		probe = ffmpeg[:strings.LastIndexByte(ffmpeg, '/')+1] + "ffprobe"
	}
	if p.FFprobe, err = exec.LookPath(probe); err != nil {
		if p.FFprobe, err = exec.LookPath("ffprobe"); err != nil {
			return Programs{}, fmt.Errorf("%w: ffprobe not found; %s", ErrNotInstalled, InstallHint)
		}
	}
	return p, nil
}

// addrPrefix matches FFmpeg's log prefix "[h264 @ 0x55d0c0a2b4c0] ".
var addrPrefix = regexp.MustCompile(`\[([^\]@]+?) @ 0x[0-9a-f]+\] *`)

// Summarize condenses FFmpeg's stderr to one line. FFmpeg logs details
// from its components ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55…] moov atom not
// found") and then its verdict on the input ("file:x.mp4: Invalid data
// found when processing input"). The summary is the first verdict (the
// first message when there is none), with the input name dropped, followed
// by the first other message in parentheses, with log prefixes shortened to
// the component name, and the number of further distinct messages:
// "Invalid data found when processing input (mov,mp4,m4a,3gp,3g2,mj2: moov
// atom not found)". input is the name FFmpeg was given. Empty input gives "".
func Summarize(stderr []byte, input string) string {
	var msgs []string
	verdict := -1
	seen := map[string]bool{}
	for _, line := range bytes.Split(stderr, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		s = addrPrefix.ReplaceAllString(s, "$1: ")
		isVerdict := false
		if input != "" && strings.HasPrefix(s, input+": ") {
			s, isVerdict = strings.TrimPrefix(s, input+": "), true
		}
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		if isVerdict && verdict < 0 {
			verdict = len(msgs)
		}
		msgs = append(msgs, s)
	}
	if len(msgs) == 0 {
		return ""
	}
	if verdict < 0 {
		verdict = 0
	}
	out := msgs[verdict]
	rest := append(append([]string(nil), msgs[:verdict]...), msgs[verdict+1:]...)
	if len(rest) > 0 {
		out += " (" + rest[0] + ")"
	}
	switch n := len(rest) - 1; {
	case n == 1:
		out += "; 1 more message"
	case n > 1:
		out += fmt.Sprintf("; %d more messages", n)
	}
	return out
}

// tailBuffer keeps the first limit bytes written to it (FFmpeg's first
// complaints are the telling ones) and counts the rest.
type tailBuffer struct {
	buf     bytes.Buffer
	limit   int
	dropped int
}

// Write implements io.Writer; it never fails.
func (b *tailBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	if len(p) > room {
		b.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

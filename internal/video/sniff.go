package video

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// videoExts are extensions that name video files: a file so named is read
// as footage whatever it holds, so a PNG renamed walk.mp4 is refused as
// "a still image (png), not a video" rather than taken for a GEI.
var videoExts = map[string]bool{
	".mp4": true, ".m4v": true, ".mov": true, ".avi": true, ".mkv": true, ".webm": true, ".mpg": true,
	".mpeg": true, ".ts": true, ".mts": true, ".m2ts": true, ".wmv": true, ".flv": true, ".3gp": true,
	".ogv": true, ".mjpeg": true, ".mjpg": true, ".h264": true, ".264": true, ".y4m": true,
}

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// IsFootage reports whether the file at path is to be read as footage
// (Analyze) rather than as an image input of gaitord's (a GEI or
// silhouette PNG, an OpenGait pickle). It decides by content, with the
// name as the user's word where the content cannot tell:
//
//   - a name with a video extension (.mp4, .avi, .mkv, .mov, .webm, …) is
//     footage, whatever it holds (FFmpeg then says what it is);
//   - a .png or .pkl name, or content starting with the PNG signature or
//     a pickle's protocol opcode (0x80, protocol 2–5), is not;
//   - anything else is footage: FFmpeg recognises the format by content
//     (walk.dat holding H.264 works) or refuses it as not a video.
//
// A file that cannot be read is not footage (the image path reports it).
func IsFootage(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case videoExts[ext]:
		return true
	case ext == ".png" || ext == ".pkl":
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(pngSignature))
	n, _ := f.Read(head)
	head = head[:n]
	if bytes.HasPrefix(head, pngSignature) || n >= 2 && head[0] == 0x80 && head[1] >= 2 && head[1] <= 5 {
		return false
	}
	return true
}

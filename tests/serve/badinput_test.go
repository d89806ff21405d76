package serve

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
)

// pngHeaderOnly is a PNG signature and an IHDR chunk declaring a w×h 8-bit
// gray image, and nothing else: a decompression bomb's header.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth; color type 0 (gray)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// rawForm is a multipart body written by hand (for malformed ones).
func rawForm(boundary string, parts ...[2]string) []byte {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n%s\r\n", boundary, p[0], p[1])
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return []byte(b.String())
}

// Every bad input of the issue over HTTP: a 4xx JSON error with the right
// code, and the server keeps serving (a good request after each succeeds).
func TestBadInputsOverHTTP(t *testing.T) {
	f := setup(t)
	s := start(t, "--checkpoint", f.weightsA, "--max-body", "1000000", "--read-timeout", "2s", "--header-timeout", "1s")
	gei := mustRead(t, f.geis[0])
	black := &bytes.Buffer{}
	png.Encode(black, image.NewGray(image.Rect(0, 0, 44, 64)))
	gctMulti, goodForm := form(t, formFile{"gei", "", f.geis[0]})
	const bnd = "XyZ"
	mp := "multipart/form-data; boundary=" + bnd
	cases := []struct {
		name        string
		method, url string
		ct          string
		body        []byte
		code        api.ErrorCode
		want        string // in the message
	}{
		{"wrong content type", "POST", api.RoutePredict, "text/plain", []byte("hello"), api.ErrUnsupportedType, "text/plain"},
		{"no content type", "POST", api.RoutePredict, "", gei, api.ErrUnsupportedType, "no Content-Type"},
		{"bad content type", "POST", api.RoutePredict, "image/png; ===", gei, api.ErrUnsupportedType, "Content-Type"},
		{"empty body", "POST", api.RoutePredict, api.ContentTypePNG, nil, api.ErrEmptyBody, "empty body"},
		{"truncated PNG", "POST", api.RoutePredict + "?name=cut.png", api.ContentTypePNG, gei[:len(gei)/2], api.ErrBadImage, "cut.png"},
		{"not a PNG", "POST", api.RoutePredict, api.ContentTypePNG, []byte("GIF89a not a png at all"), api.ErrBadImage, "not a PNG"},
		{"all-black GEI", "POST", api.RoutePredict, api.ContentTypePNG, black.Bytes(), api.ErrBadImage, "all-black"},
		{"PNG bomb", "POST", api.RoutePredict + "?name=bomb.png", api.ContentTypePNG, pngHeaderOnly(100000, 100000), api.ErrImageTooLarge, "100000x100000"},
		{"PNG bomb in a form", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"gei", string(pngHeaderOnly(60000, 60000))}), api.ErrImageTooLarge, "60000x60000"},
		{"frame bomb", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"frames", string(pngHeaderOnly(60000, 60000))}), api.ErrImageTooLarge, "60000x60000"},
		{"body over the limit", "POST", api.RoutePredict, api.ContentTypePNG, bytes.Repeat([]byte{1}, 1_200_000), api.ErrBodyTooLarge, "1000000"},
		{"form over the limit", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"gei", strings.Repeat("x", 1_200_000)}), api.ErrBodyTooLarge, "1000000"},
		{"multipart without boundary", "POST", api.RoutePredict, "multipart/form-data", goodForm, api.ErrBadMultipart, "boundary"},
		{"multipart, wrong boundary", "POST", api.RoutePredict, "multipart/form-data; boundary=nope", goodForm, api.ErrBadMultipart, "multipart"},
		{"truncated multipart", "POST", api.RoutePredict, gctMulti, goodForm[:len(goodForm)-40], api.ErrBadMultipart, "multipart"},
		{"garbage multipart", "POST", api.RoutePredict, mp, []byte("--XyZ\r\nthis is not a part header\r\n\r\n"), api.ErrBadMultipart, "multipart"},
		{"form without files", "POST", api.RoutePredict, mp, []byte("--XyZ--\r\n"), api.ErrEmptyBody, "no files"},
		{"unknown field", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"image", string(gei)}), api.ErrUnknownField, `"image"`},
		{"set with a truncated GEI", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"set", string(gei)}, [2]string{"set", string(gei[:40])}), api.ErrBadImage, "x.png"},
		{"video that is no video", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"video", "\x00\x00\x00\x18ftypmp42"}), api.ErrBadVideo, "x.png: "},
		{"empty video", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"video", ""}), api.ErrEmptyBody, "x.png is empty"},
		{"video over the limit", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"video", strings.Repeat("v", 1_200_000)}), api.ErrBodyTooLarge, "1000000"},
		{"frames without a silhouette", "POST", api.RoutePredict, mp, rawForm(bnd, [2]string{"frames", black.String()}), api.ErrBadImage, "no usable silhouette frames"},
		{"bad details flag", "POST", api.RoutePredict + "?details=maybe", api.ContentTypePNG, gei, api.ErrBadRequest, "details"},
		{"unknown route", "GET", "/v2/predict", "", nil, api.ErrNotFound, "/v2/predict"},
		{"path traversal", "GET", "/../../etc/passwd", "", nil, api.ErrNotFound, "no route"},
		{"method not allowed", "GET", api.RoutePredict, "", nil, api.ErrMethodNotAllowed, "POST"},
		{"method not allowed (model)", "DELETE", api.RouteModel, "", nil, api.ErrMethodNotAllowed, "GET"},
		{"OPTIONS without CORS", "OPTIONS", api.RoutePredict, "", nil, api.ErrMethodNotAllowed, "OPTIONS"},
	}
	sent := 0 // requests made through s.do
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sent += 2
			r := s.do(c.method, c.url, c.ct, c.body)
			msg := r.apiError(t, c.code)
			if !strings.Contains(msg, c.want) {
				t.Fatalf("message %q lacks %q", msg, c.want)
			}
			if c.code == api.ErrMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
			if r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatal("CORS header without --cors-origin")
			}
			if ok := s.do("POST", api.RoutePredict, api.ContentTypePNG, gei); ok.status != 200 {
				t.Fatalf("the next good request: %d %s", ok.status, ok.body)
			}
		})
	}

	// A slow client: the body trickles in slower than the read timeout
	// (2 s) allows; the answer is 408 request_timeout, or the connection is
	// closed, and the server serves on.
	t.Run("slow body", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: %d\r\n\r\n", api.RoutePredict, len(gei))
		t0 := time.Now()
		for i := 0; i < 40 && time.Since(t0) < 8*time.Second; i++ {
			if _, err := c.Write(gei[i : i+1]); err != nil {
				break
			}
			time.Sleep(150 * time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if res, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			b, _ := io.ReadAll(res.Body)
			response{status: res.StatusCode, header: res.Header, body: b}.apiError(t, api.ErrRequestTimeout)
			t.Logf("answered %d %s after %v", res.StatusCode, bytes.TrimSpace(b), time.Since(t0).Round(time.Millisecond))
		} else {
			t.Logf("connection closed after %v: %v", time.Since(t0).Round(time.Millisecond), err)
		}
		if ok := s.do("POST", api.RoutePredict, api.ContentTypePNG, gei); ok.status != 200 {
			t.Fatalf("after a slow client: %d", ok.status)
		}
	})
	// A slowloris: headers never finish; the server closes the connection
	// after the header timeout (1 s).
	t.Run("slow headers", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n", api.RoutePredict)
		closed := false
		for i := 0; i < 100; i++ {
			if _, err := fmt.Fprintf(c, "X-Slow-%d: 1\r\n", i); err != nil {
				closed = true
				break
			}
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); err == io.EOF || (err != nil && !isTimeout(err)) {
				closed = true
				break
			}
		}
		if !closed {
			t.Fatal("the server kept a connection whose headers never ended for 10 s")
		}
		if ok := s.do("POST", api.RoutePredict, api.ContentTypePNG, gei); ok.status != 200 {
			t.Fatalf("after a slowloris: %d", ok.status)
		}
	})
	// the log has one line per request, and never the image bytes
	log := s.log.String()
	if strings.Contains(log, "IHDR") || strings.Contains(log, "PNG") {
		t.Fatal("the log holds image bytes")
	}
	if n := strings.Count(log, `"msg":"request"`); n < sent {
		t.Fatalf("%d request log lines for %d requests", n, sent)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

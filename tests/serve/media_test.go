package serve

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaitord/gaitord/api"
	"github.com/gaitord/gaitord/tests/gaitordtest"
)

// a set of one person: three GEIs of the synthetic dataset in a folder
func personFolder(t *testing.T, f *fixtures) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "person1")
	os.MkdirAll(dir, 0o755)
	for _, g := range f.geis[:3] {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(g)), mustRead(t, g), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// set files are fused into the record `predict --fuse --json` prints for a
// folder of the same GEIs; with a gei beside them the set sits where its
// first file was; `predict --server --fuse` prints what the local run
// prints. A model that cannot fuse refuses the set with 422 cannot_fuse in
// the words of the local refusal, and keeps serving.
func TestSetUploadMatchesFuse(t *testing.T) {
	f := setup(t)
	person := personFolder(t, f)
	// a set and a silhouette folder (which fuses locally only)
	local := gaitordtest.Exec(t, bin, "predict", "--checkpoint", f.weightsA, "--fuse", "--json", person, f.frames)
	want := decodeLines(t, local.Stdout)
	if local.Code != 0 || len(want) != 2 || want[0].Source != api.SourceFused || want[0].NInputs != 3 || want[0].Path != person {
		t.Fatalf("predict --fuse: exit %d, %+v\n%s", local.Code, want, local.Stderr)
	}
	s := start(t, "--checkpoint", f.weightsA)

	var files []formFile
	files = append(files, formFile{"gei", "", f.geis[4]})
	for _, g := range f.geis[:3] {
		files = append(files, formFile{"set", "person1/" + filepath.Base(g), g})
	}
	files = append(files, formFile{"gei", "", f.geis[5]})
	ct, body := form(t, files...)
	r := s.do("POST", api.RoutePredict+"?details=true", ct, body)
	var res api.PredictResponse
	r.json(t, &res)
	if r.status != 200 || len(res.Predictions) != 3 || len(res.Details) != 3 {
		t.Fatalf("set form: %d %s", r.status, r.body)
	}
	got := res.Predictions[1]
	if got.Path != "person1" || got.NInputs != 3 {
		t.Fatalf("set record path %q, n_inputs %d", got.Path, got.NInputs)
	}
	sameRecord(t, got, want[0])
	singles := predictJSON(t, "--checkpoint", f.weightsA, f.geis[4], f.geis[5])
	sameRecord(t, res.Predictions[0], singles[0])
	sameRecord(t, res.Predictions[2], singles[1])
	if got.Age == singles[0].Age || res.Details[1].InputPNG == "" {
		t.Fatal("the set's record is a single GEI's")
	}

	// predict --server --fuse: the same lines, paths the local folders
	remote := gaitordtest.Exec(t, bin, "predict", "--server", s.url, "--fuse", "--json", person, f.frames)
	rm := decodeLines(t, remote.Stdout)
	if remote.Code != 1 || len(rm) != 1 {
		t.Fatalf("remote exit %d, %d records\n%s", remote.Code, len(rm), remote.Stderr)
	}
	if rm[0].Path != person || rm[0].NInputs != 3 {
		t.Fatalf("remote set record %+v", rm[0])
	}
	sameRecord(t, rm[0], want[0])
	// a silhouette folder fuses locally only; the refusal names it
	if !strings.Contains(remote.Stderr, f.frames) || !strings.Contains(remote.Stderr, "fuse it with --checkpoint") {
		t.Fatalf("remote --fuse of a silhouette folder:\n%s", remote.Stderr)
	}
	table := gaitordtest.Exec(t, bin, "predict", "--checkpoint", f.weightsA, "--fuse", person)
	remoteTable := gaitordtest.Exec(t, bin, "predict", "--server", s.url, "--fuse", person)
	if table.Code != 0 || remoteTable.Code != 0 || table.Stdout != remoteTable.Stdout {
		t.Fatalf("tables differ:\n%s\n%s%s", table.Stdout, remoteTable.Stdout, remoteTable.Stderr)
	}

	// a model of loss type corn refuses sets, in predict --fuse's words
	c := start(t, "--checkpoint", f.corn)
	ct, body = form(t, files[1:4]...)
	msg := c.do("POST", api.RoutePredict, ct, body).apiError(t, api.ErrCannotFuse)
	refusal := gaitordtest.Exec(t, bin, "predict", "--checkpoint", f.corn, "--fuse", person)
	if refusal.Code == 0 || !strings.Contains(refusal.Stderr, msg) || !strings.Contains(msg, "loss type corn cannot fuse") {
		t.Fatalf("server %q; predict --fuse (exit %d): %s", msg, refusal.Code, refusal.Stderr)
	}
	remoteRefusal := gaitordtest.Exec(t, bin, "predict", "--server", c.url, "--fuse", person)
	if remoteRefusal.Code != 1 || remoteRefusal.Stderr != "gaitord: predict --fuse: "+c.url+": "+msg+"\n" {
		t.Fatalf("predict --server --fuse on corn: exit %d\n%s", remoteRefusal.Code, remoteRefusal.Stderr)
	}
	ct, body = form(t, formFile{"gei", "", f.geis[0]})
	if r := c.do("POST", api.RoutePredict, ct, body); r.status != 200 {
		t.Fatalf("after the refusal: %d %s", r.status, r.body)
	}
}

// footage: a one-walker clip rendered by synth --video, tiny (320×240),
// and a truncated copy; made once.
var media struct {
	once             sync.Once
	err              error
	walk, truncated  string
	text, twoWalkers string
}

func footage(t *testing.T) {
	t.Helper()
	f := setup(t)
	media.once.Do(func() {
		out := filepath.Join(f.dir, "footage")
		cmd := exec.Command(bin, "synth", "--video", "--video-size", "320x240", "--walkers", "1", "--seed", "2", "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			media.err = &os.PathError{Op: "synth --video", Path: out, Err: errString(b)}
			return
		}
		media.walk = filepath.Join(out, "walk.mp4")
		b, err := os.ReadFile(media.walk)
		if err != nil {
			media.err = err
			return
		}
		media.truncated = filepath.Join(f.dir, "truncated.mp4")
		media.text = filepath.Join(f.dir, "notes.mp4")
		if err := os.WriteFile(media.truncated, b[:len(b)/3], 0o644); err != nil {
			media.err = err
		}
		if err := os.WriteFile(media.text, []byte("this is not a video\n"), 0o644); err != nil {
			media.err = err
		}
	})
	if media.err != nil {
		t.Fatal(media.err)
	}
}

type errString []byte

func (e errString) Error() string { return string(e) }

// uploads lists the files in the server's upload folder (TMPDIR/gaitord-serve-*).
func uploads(t *testing.T, tmp string) (dirs int, files []string) {
	t.Helper()
	ds, _ := filepath.Glob(filepath.Join(tmp, "gaitord-serve-*"))
	for _, d := range ds {
		es, _ := os.ReadDir(d)
		for _, e := range es {
			files = append(files, e.Name())
		}
	}
	return len(ds), files
}

// A video upload answers the records `predict --json` prints for the file
// (track, frames, period, cycles, view hint; path the upload's name);
// `predict --server` on the file prints the same lines. A truncated video,
// a text file, a video with another file, and one over --max-frames are
// 4xx JSON errors naming the problem, and the server keeps serving. The
// upload never outlives its request, and the folder goes with the server.
func TestVideoUploadMatchesPredict(t *testing.T) {
	f := setup(t)
	footage(t)
	local := gaitordtest.Exec(t, bin, "predict", "--checkpoint", f.weightsA, "--json", media.walk)
	want := decodeLines(t, local.Stdout)
	if local.Code != 0 || len(want) != 1 || want[0].Source != api.SourceVideo || want[0].Track != 1 {
		t.Fatalf("predict on the clip: exit %d, %+v\n%s", local.Code, want, local.Stderr)
	}
	tmp := t.TempDir()
	s := startEnv(t, []string{"TMPDIR=" + tmp}, "--checkpoint", f.weightsA, "--max-frames", "1000")
	if n, files := uploads(t, tmp); n != 1 || len(files) != 0 {
		t.Fatalf("%d upload folders holding %v at start", n, files)
	}

	ct, body := form(t, formFile{"video", "walk.mp4", media.walk})
	r := s.do("POST", api.RoutePredict+"?details=true", ct, body)
	var res api.PredictResponse
	r.json(t, &res)
	if r.status != 200 || len(res.Predictions) != len(want) || len(res.Details) != len(want) {
		t.Fatalf("video: %d %s", r.status, r.body)
	}
	for i, got := range res.Predictions {
		w := want[i]
		if got.Path != "walk.mp4" || got.Track != w.Track || *got.Frames != *w.Frames || got.Period != w.Period ||
			got.Cycles != w.Cycles || got.ViewHint != w.ViewHint {
			t.Fatalf("track %d: served %+v\npredict %+v", i, got, w)
		}
		sameRecord(t, got, w)
	}

	// predict --server on the file: the same JSON lines, and the same table
	remote := gaitordtest.Exec(t, bin, "predict", "--server", s.url, "--json", media.walk)
	if remote.Code != 0 || remote.Stdout != local.Stdout {
		t.Fatalf("predict --server --json on the clip (exit %d):\n%s\nlocal:\n%s\n%s", remote.Code, remote.Stdout, local.Stdout, remote.Stderr)
	}
	table := gaitordtest.Exec(t, bin, "predict", "--checkpoint", f.weightsA, media.walk)
	remoteTable := gaitordtest.Exec(t, bin, "predict", "--server", s.url, media.walk)
	if remoteTable.Code != 0 || remoteTable.Stdout != table.Stdout {
		t.Fatalf("tables differ:\n%s\n%s", remoteTable.Stdout, table.Stdout)
	}

	bad := []struct {
		name  string
		files []formFile
		codes []api.ErrorCode
		say   string
	}{
		// FFmpeg may see the cut (bad_video) or decode the first third
		// without a whole gait cycle in it (no_walker); either names the upload
		{"truncated", []formFile{{"video", "cut.mp4", media.truncated}}, []api.ErrorCode{api.ErrBadVideo, api.ErrNoWalker}, "cut.mp4: "},
		{"text", []formFile{{"video", "notes.mp4", media.text}}, []api.ErrorCode{api.ErrBadVideo}, "notes.mp4: not a video"},
		{"video and gei", []formFile{{"video", "walk.mp4", media.walk}, {"gei", "", f.geis[0]}}, []api.ErrorCode{api.ErrBadRequest}, "goes alone"},
	}
	for _, c := range bad {
		ct, body := form(t, c.files...)
		r := s.do("POST", api.RoutePredict, ct, body)
		var e api.Error
		r.json(t, &e)
		if !slices.Contains(c.codes, e.Code) || r.status != e.Code.Status() || !strings.Contains(e.Message, c.say) || strings.Contains(e.Message, tmp) {
			t.Errorf("%s: %d %+v, want one of %v saying %q", c.name, r.status, e, c.codes, c.say)
		}
	}
	remoteBad := gaitordtest.Exec(t, bin, "predict", "--server", s.url, media.text)
	if remoteBad.Code != 1 || !strings.HasPrefix(remoteBad.Stderr, "gaitord: "+media.text+": not a video") {
		t.Fatalf("predict --server on a text file named .mp4: exit %d\n%s", remoteBad.Code, remoteBad.Stderr)
	}
	ct, body = form(t, formFile{"gei", "", f.geis[0]})
	if r := s.do("POST", api.RoutePredict, ct, body); r.status != 200 {
		t.Fatalf("after the bad videos: %d %s", r.status, r.body)
	}
	if _, files := uploads(t, tmp); len(files) != 0 {
		t.Fatalf("uploads left after their requests: %v", files)
	}
	s.signal(syscall.SIGTERM)
	if code := s.wait(60 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n, _ := uploads(t, tmp); n != 0 {
		t.Fatalf("%d upload folders left after exit", n)
	}

	// --max-frames: the clip announces more frames than allowed
	short := start(t, "--checkpoint", f.weightsA, "--max-frames", "20")
	ct, body = form(t, formFile{"video", "walk.mp4", media.walk})
	msg := short.do("POST", api.RoutePredict, ct, body).apiError(t, api.ErrVideoTooLarge)
	if !strings.Contains(msg, "walk.mp4: too many frames") || !strings.Contains(msg, "over the limit of 20") {
		t.Fatalf("--max-frames 20: %s", msg)
	}
}

// A client that goes away while its video is being analysed stops FFmpeg:
// the server's ffmpeg child is gone soon after, and the request is logged
// as 499.
func TestVideoClientGoneStopsFFmpeg(t *testing.T) {
	f := setup(t)
	footage(t)
	s := start(t, "--checkpoint", f.weightsA)
	ct, body := form(t, formFile{"video", "walk.mp4", media.walk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan response, 1)
	go func() { done <- s.doCtx(ctx, "POST", api.RoutePredict, ct, body) }()
	pid := s.cmd.Process.Pid
	seen := false
	for !seen {
		select {
		case r := <-done:
			cancel()
			t.Skipf("the clip was analysed (%d) before its ffmpeg process could be seen; nothing to stop", r.status)
		default:
		}
		seen = len(children(pid, "ffmpeg")) > 0
	}
	cancel()
	<-done
	deadline := time.Now().Add(30 * time.Second)
	for len(children(pid, "ffmpeg")) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("ffmpeg still running 30 s after the client went away")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		for _, rec := range s.log.records() {
			if rec["msg"] == "request" && rec["route"] == "predict" {
				if rec["status"] != float64(499) {
					t.Fatalf("the abandoned request logged %v", rec)
				}
				ct, body = form(t, formFile{"gei", "", f.geis[0]})
				if r := s.do("POST", api.RoutePredict, ct, body); r.status != 200 {
					t.Fatalf("after the abandoned video: %d %s", r.status, r.body)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no log line for the abandoned request")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// children lists the pids of pid's child processes named comm.
func children(pid int, comm string) []int {
	var out []int
	ds, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range ds {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 2 || s[open+1:close] != comm {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
			p, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			out = append(out, p)
		}
	}
	return out
}

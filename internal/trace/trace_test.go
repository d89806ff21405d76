package trace

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
)

func TestOn(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "FALSE": false, "1": true, "yes": true} {
		if on(v) != want {
			t.Errorf("on(%q) = %v, want %v", v, !want, want)
		}
	}
}

// With tracing on, the first Mark prints the exec→go init line from /proc,
// then every Mark one line naming its phase, with the time since exec
// growing from line to line; with it off, nothing is printed.
func TestMark(t *testing.T) {
	var buf bytes.Buffer
	out, enabled, started, last = &buf, false, false, t0
	Mark("quiet")
	if buf.Len() != 0 {
		t.Fatalf("disabled: printed %q", buf.String())
	}
	enabled = true
	defer func() { enabled = false }()
	Mark("read checkpoint")
	Mark("forward")
	line := regexp.MustCompile(`^gaitord trace: (.+?) +([0-9.]+) ms  \((?:±10 ms: /proc start time|\s*([0-9.]+) ms since exec)\)$`)
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var prev float64
	for i, want := range []string{"exec→go init", "read checkpoint", "forward"} {
		m := line.FindSubmatch(lines[i])
		if m == nil || string(m[1]) != want {
			t.Fatalf("line %d %q, want phase %q", i, lines[i], want)
		}
		if i == 0 {
			if prev, _ = strconv.ParseFloat(string(m[2]), 64); prev <= 0 {
				t.Fatalf("exec→go init %q: not after exec", lines[i])
			}
			continue
		}
		at, _ := strconv.ParseFloat(string(m[3]), 64)
		if at < prev {
			t.Fatalf("line %d: %v ms since exec, before the previous %v", i, at, prev)
		}
		prev = at
	}
}

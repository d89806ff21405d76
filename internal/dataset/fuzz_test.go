package dataset

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaitord/gaitord/api"
)

// checkProblems verifies the invariants every parser must keep on any input.
func checkProblems(t *testing.T, file string, data []byte, probs []Problem) {
	t.Helper()
	lines := bytes.Count(data, []byte("\n")) + 1
	for _, p := range probs {
		if p.File != file || p.Line < 1 || p.Line > lines || p.Msg == "" {
			t.Fatalf("bad problem %+v (file has %d lines)", p, lines)
		}
	}
}

func FuzzOUMVLPLabels(f *testing.F) {
	f.Add([]byte("ID,gender,age\n1,M,25\n2,F,-\n"))
	f.Add([]byte("\uFEFF age , id ,GENDER\r\n30,00007,f\r\n\r\n"))
	f.Add([]byte("ID,gender,age\n1,X,200\n1,M,-4\n\"2\",\"F\",\"33\"\n3,M\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, probs, err := parseOUMVLPLabels("labels.csv", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "labels.csv") || labels != nil || probs != nil {
				t.Fatalf("error %q with results", err)
			}
			return
		}
		checkProblems(t, "labels.csv", data, probs)
		lines := bytes.Count(data, []byte("\n")) + 1
		for id, l := range labels {
			if id < 0 || id > 99999 || l.line < 2 || l.line > lines {
				t.Fatalf("label %d: %+v", id, l)
			}
			if l.valid && (l.age < 0 || l.age > MaxAge || (!l.ageKnown && l.age != 0) ||
				(l.gender != api.Male && l.gender != api.Female && l.gender != api.GenderUnknown)) {
				t.Fatalf("invalid label accepted: %d %+v", id, l)
			}
		}
		// The ID-list reader must survive the same bytes.
		entries, lprobs := readIDList("list.txt", data)
		checkProblems(t, "list.txt", data, lprobs)
		for _, e := range entries {
			if checkID(e.id) != nil || e.id != strings.TrimSpace(e.id) {
				t.Fatalf("bad ID accepted: %q", e.id)
			}
		}
	})
}

func FuzzManifest(f *testing.F) {
	f.Add([]byte("path,age,gender\na.png,20,M\n"))
	f.Add([]byte("\uFEFFsplit, Path ,AGE,gender,subject,view\r\ntrain,a/x.png,20,m,s1,000\r\ntest,../y.png,-,F,,\r\n\r\n"))
	f.Add([]byte("path,age,gender\n/abs.png,1,M\na/../../b.png,2,F\n\"q\"\"uote.png\",3,-\na.png,4,M\n./a.png,5,M\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, allow := range []bool{false, true} {
			rows, probs, tab, err := parseManifest("m.csv", data, allow)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "m.csv") || rows != nil {
					t.Fatalf("error %q with results", err)
				}
				return
			}
			if tab == nil || !tab.has("path") || !tab.has("age") || !tab.has("gender") {
				t.Fatal("table without required columns")
			}
			checkProblems(t, "m.csv", data, probs)
			seen := map[string]bool{}
			prev := 0
			for _, r := range rows {
				if r.line <= prev {
					t.Fatalf("rows out of order: line %d after %d", r.line, prev)
				}
				prev = r.line
				if r.path == "" || seen[r.path] || r.path != filepath.Clean(r.path) {
					t.Fatalf("bad or duplicate path %q accepted", r.path)
				}
				seen[r.path] = true
				if !allow && !filepath.IsLocal(r.path) && !filepath.IsAbs(r.path) {
					t.Fatalf("escaping relative path %q accepted", r.path)
				}
				if r.age < 0 || r.age > MaxAge {
					t.Fatalf("age %d accepted", r.age)
				}
				if r.split != SplitTrain && r.split != SplitTest && r.split != SplitNone {
					t.Fatalf("split %q accepted", r.split)
				}
			}
		}
	})
}

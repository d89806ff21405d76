package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// table is a parsed CSV file with a header line.
type table struct {
	name   string
	header []string       // trimmed header names, as written
	cols   map[string]int // lower-cased header name -> column
	line   int            // line of the header
}

// row is one non-blank CSV record.
type row struct {
	line   int
	fields []string // trimmed
}

// col returns the trimmed field of column name, or "" if the column is
// absent from the header or the row is too short.
func (t *table) col(r row, name string) string {
	i, ok := t.cols[name]
	if !ok || i >= len(r.fields) {
		return ""
	}
	return r.fields[i]
}

// has reports whether the header has the column.
func (t *table) has(name string) bool { _, ok := t.cols[name]; return ok }

// readTable parses CSV data leniently about layout (UTF-8 BOM, CRLF, blank
// lines, spaces around fields and header names, header names in any case and
// order) and strictly about content. The error is non-nil only for a missing
// header or missing required columns; malformed records become problems.
func readTable(name string, data []byte, required []string) (*table, []row, []Problem, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	var (
		t     *table
		rows  []row
		probs []Problem
	)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			if t == nil {
				return nil, nil, nil, fmt.Errorf("%s:%d: malformed header: %v", name, pe.StartLine, pe.Err)
			}
			probs = append(probs, Problem{File: name, Line: pe.StartLine, Msg: "malformed CSV record: " + pe.Err.Error()})
			continue
		}
		line, _ := r.FieldPos(0)
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if rec[i] != "" {
				blank = false
			}
		}
		if blank {
			continue
		}
		if t == nil {
			t = &table{name: name, header: rec, cols: make(map[string]int, len(rec)), line: line}
			for i, h := range rec {
				k := strings.ToLower(h)
				if k == "" {
					continue
				}
				if _, dup := t.cols[k]; dup {
					return nil, nil, nil, fmt.Errorf("%s:%d: duplicate column %q in header", name, line, h)
				}
				t.cols[k] = i
			}
			var missing []string
			for _, c := range required {
				if !t.has(c) {
					missing = append(missing, strconv.Quote(c))
				}
			}
			if len(missing) == 1 {
				return nil, nil, nil, fmt.Errorf("%s:%d: missing column %s (header is %q, want columns %s)", name, line, missing[0], strings.Join(rec, ","), strings.Join(required, ","))
			}
			if len(missing) > 1 {
				return nil, nil, nil, fmt.Errorf("%s:%d: missing columns %s (header is %q, want columns %s)", name, line, strings.Join(missing, ", "), strings.Join(rec, ","), strings.Join(required, ","))
			}
			continue
		}
		if msg := widthProblem(len(t.header), rec); msg != "" {
			probs = append(probs, Problem{File: name, Line: line, Msg: msg})
			continue
		}
		rows = append(rows, row{line: line, fields: rec})
	}
	if t == nil {
		return nil, nil, nil, fmt.Errorf("%s: no header line (want columns %s)", name, strings.Join(required, ","))
	}
	return t, rows, probs, nil
}

// widthProblem accepts a record as long as the header, or longer with only
// empty trailing fields (trailing commas).
func widthProblem(width int, rec []string) string {
	if len(rec) < width {
		return fmt.Sprintf("record has %d fields, header has %d", len(rec), width)
	}
	for _, f := range rec[width:] {
		if f != "" {
			return fmt.Sprintf("record has %d fields, header has %d", len(rec), width)
		}
	}
	return ""
}

// listEntry is one ID of an ID list file.
type listEntry struct {
	line int
	id   string
}

// readIDList parses a file with one ID per line (BOM, CRLF, blank lines and
// surrounding spaces accepted). Invalid IDs become problems.
func readIDList(name string, data []byte) ([]listEntry, []Problem) {
	data = bytes.TrimPrefix(data, utf8BOM)
	var (
		out   []listEntry
		probs []Problem
	)
	for i, ln := range strings.Split(string(data), "\n") {
		id := strings.TrimSpace(ln)
		if id == "" {
			continue
		}
		if err := checkID(id); err != nil {
			probs = append(probs, Problem{File: name, Line: i + 1, Msg: err.Error()})
			continue
		}
		out = append(out, listEntry{line: i + 1, id: id})
	}
	return out, probs
}

// checkID refuses IDs that cannot safely name a file ("<ID>.png").
func checkID(id string) error {
	if id == "" {
		return errors.New("empty ID")
	}
	if id == "." || id == ".." || strings.ContainsAny(id, "/\\\x00") {
		return fmt.Errorf("ID %q is not a valid file name", id)
	}
	for _, c := range id {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' {
			return fmt.Errorf("ID %q contains a space or separator", id)
		}
	}
	return nil
}

// parseAge parses an age in years. "-" means unknown (known=false).
func parseAge(s string) (age int, known bool, err error) {
	if s == "-" {
		return 0, false, nil
	}
	a, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, fmt.Errorf("age %q is not an integer", s)
	}
	if a < 0 {
		return 0, false, fmt.Errorf("age %d is negative", a)
	}
	if a > MaxAge {
		return 0, false, fmt.Errorf("age %d is absurd (over %d)", a, MaxAge)
	}
	return a, true, nil
}

package opengait

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// argKind says how a pickle opcode's argument is encoded in the stream.
type argKind uint8

const (
	argNone  argKind = iota // no argument
	argFixed                // n bytes
	argLen1                 // 1-byte unsigned length, then that many bytes
	argLen4                 // 4-byte little-endian length, then that many bytes
	argLen8                 // 8-byte little-endian unsigned length, then that many bytes
	argLines                // n newline-terminated lines
)

// opInfo describes one pickle opcode: its name (as in Python's pickletools),
// its argument, and whether NumPy's array pickles use it.
type opInfo struct {
	name  string
	arg   argKind
	n     int  // bytes (argFixed) or lines (argLines)
	array bool // written by Python's pickler for a NumPy array, protocols 2 to 5
}

// opcodes lists every opcode of pickle protocols 0 to 5 (Python's
// Lib/pickle.py); bytes not listed are not opcodes. Only those marked array
// are accepted: the ones Python writes for a NumPy array with protocols 2
// to 5 (C or Fortran order, any shape, writable or not).
var opcodes = map[byte]opInfo{
	'(':  {name: "MARK", array: true},
	'.':  {name: "STOP", array: true},
	'0':  {name: "POP"},
	'1':  {name: "POP_MARK"},
	'2':  {name: "DUP"},
	'F':  {name: "FLOAT", arg: argLines, n: 1},
	'I':  {name: "INT", arg: argLines, n: 1},
	'J':  {name: "BININT", arg: argFixed, n: 4, array: true},
	'K':  {name: "BININT1", arg: argFixed, n: 1, array: true},
	'L':  {name: "LONG", arg: argLines, n: 1},
	'M':  {name: "BININT2", arg: argFixed, n: 2, array: true},
	'N':  {name: "NONE", array: true},
	'P':  {name: "PERSID", arg: argLines, n: 1},
	'Q':  {name: "BINPERSID"},
	'R':  {name: "REDUCE", array: true},
	'S':  {name: "STRING", arg: argLines, n: 1},
	'T':  {name: "BINSTRING", arg: argLen4},
	'U':  {name: "SHORT_BINSTRING", arg: argLen1},
	'V':  {name: "UNICODE", arg: argLines, n: 1},
	'X':  {name: "BINUNICODE", arg: argLen4, array: true},
	'a':  {name: "APPEND"},
	'b':  {name: "BUILD", array: true},
	'c':  {name: "GLOBAL", arg: argLines, n: 2, array: true},
	'd':  {name: "DICT"},
	'}':  {name: "EMPTY_DICT"},
	'e':  {name: "APPENDS"},
	'g':  {name: "GET", arg: argLines, n: 1},
	'h':  {name: "BINGET", arg: argFixed, n: 1, array: true},
	'i':  {name: "INST", arg: argLines, n: 2},
	'j':  {name: "LONG_BINGET", arg: argFixed, n: 4, array: true},
	'l':  {name: "LIST"},
	']':  {name: "EMPTY_LIST"},
	'o':  {name: "OBJ"},
	'p':  {name: "PUT", arg: argLines, n: 1},
	'q':  {name: "BINPUT", arg: argFixed, n: 1, array: true},
	'r':  {name: "LONG_BINPUT", arg: argFixed, n: 4, array: true},
	's':  {name: "SETITEM"},
	't':  {name: "TUPLE", array: true},
	')':  {name: "EMPTY_TUPLE", array: true},
	'u':  {name: "SETITEMS"},
	'G':  {name: "BINFLOAT", arg: argFixed, n: 8},
	'B':  {name: "BINBYTES", arg: argLen4, array: true},
	'C':  {name: "SHORT_BINBYTES", arg: argLen1, array: true},
	0x80: {name: "PROTO", arg: argFixed, n: 1, array: true},
	0x81: {name: "NEWOBJ"},
	0x82: {name: "EXT1", arg: argFixed, n: 1},
	0x83: {name: "EXT2", arg: argFixed, n: 2},
	0x84: {name: "EXT4", arg: argFixed, n: 4},
	0x85: {name: "TUPLE1", array: true},
	0x86: {name: "TUPLE2", array: true},
	0x87: {name: "TUPLE3", array: true},
	0x88: {name: "NEWTRUE", array: true},
	0x89: {name: "NEWFALSE", array: true},
	0x8a: {name: "LONG1", arg: argLen1, array: true},
	0x8b: {name: "LONG4", arg: argLen4},
	0x8c: {name: "SHORT_BINUNICODE", arg: argLen1, array: true},
	0x8d: {name: "BINUNICODE8", arg: argLen8, array: true},
	0x8e: {name: "BINBYTES8", arg: argLen8, array: true},
	0x8f: {name: "EMPTY_SET"},
	0x90: {name: "ADDITEMS"},
	0x91: {name: "FROZENSET"},
	0x92: {name: "NEWOBJ_EX"},
	0x93: {name: "STACK_GLOBAL", array: true},
	0x94: {name: "MEMOIZE", array: true},
	0x95: {name: "FRAME", arg: argFixed, n: 8, array: true},
	0x96: {name: "BYTEARRAY8", arg: argLen8, array: true},
	0x97: {name: "NEXT_BUFFER"},
	0x98: {name: "READONLY_BUFFER"},
}

// maxOps bounds the opcodes of one pickle. NumPy writes about 40 for an
// array of any size (the pixels are one length-prefixed argument); the bound
// keeps the per-opcode allocations of the pickle library small whatever the
// file claims.
const maxOps = 4096

// maxName bounds the strings kept by the scan to check STACK_GLOBAL names.
const maxName = 256

// kind is the type of a value on the scan's abstract stack.
type kind uint8

const (
	kMark   kind = iota // a MARK
	kScalar             // None, a bool or an int
	kStr                // a str
	kBytes              // bytes or a bytearray
	kTuple              // a tuple
	kGlobal             // an allowed callable, named by name
	kObject             // what REDUCE returned; name is the callable
)

// value is an abstract pickle value: its type, and for a str its text (if
// at most maxName bytes) or for a callable and what it returned, its name.
type value struct {
	kind kind
	name string
	long bool // a str over maxName bytes
}

// String names the value in errors, never with its content.
func (v value) String() string {
	switch v.kind {
	case kMark:
		return "a MARK"
	case kScalar:
		return "a number"
	case kStr:
		return "a str"
	case kBytes:
		return "bytes"
	case kTuple:
		return "a tuple"
	case kGlobal:
		return v.name
	}
	return "the result of " + v.name
}

// scan checks data as a pickle of a NumPy array without executing it,
// before the pickle library sees a byte. It runs the opcode stream on an
// abstract stack of types (value) and refuses:
//
//   - a stream that does not start with PROTO 2..5;
//   - a byte that is not an opcode, an opcode NumPy never writes for an
//     array, more than maxOps opcodes;
//   - any argument, length-prefixed value or FRAME whose length exceeds the
//     bytes left in data (the library allocates whatever a length claims),
//     and a LONG1 of length 0 (on which the library panics);
//   - a GLOBAL or STACK_GLOBAL naming a callable that is not in
//     AllowedCallables (STACK_GLOBAL's names are strings on the stack, which
//     the scan tracks through the memo);
//   - a REDUCE whose callable is not an allowed function or whose arguments
//     are not a tuple, a BUILD whose object is not an array or dtype being
//     rebuilt or whose state is not a tuple, a stack underflow, a BINGET of
//     an unset memo slot: every case in which the library would format a
//     value of arbitrary size into an error message;
//   - a stream that ends before STOP (truncated) or has bytes after it.
//
// Errors carry the opcode's byte offset.
func scan(data []byte) error {
	switch {
	case len(data) == 0:
		return malformed("empty file")
	case data[0] != 0x80:
		return malformed("no PROTO opcode at offset 0: not a pickle of protocol 2 to 5 (protocols 0 and 1 are not read)")
	}
	var stack []value
	memo := make(map[uint32]value)
	pop := func(name string, at int) (value, error) {
		if len(stack) == 0 || stack[len(stack)-1].kind == kMark {
			return value{}, malformed("%s at offset %d: stack underflow", name, at)
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		return v, nil
	}
	pos := 0
	for ops := 1; pos < len(data); ops++ {
		at := pos
		code := data[pos]
		pos++
		op, ok := opcodes[code]
		switch {
		case !ok:
			return malformed("byte 0x%02x at offset %d is not a pickle opcode", code, at)
		case code == 0x97:
			return malformed("NEXT_BUFFER opcode at offset %d refused: out-of-band buffers (protocol 5 with a buffer_callback) are not supported; pickle the array in-band", at)
		case !op.array:
			return malformed("%s opcode at offset %d refused: only the opcodes of a plain NumPy array's pickle are read", op.name, at)
		case ops > maxOps:
			return malformed("more than %d opcodes (NumPy writes about 40 for an array)", maxOps)
		}

		// The argument: checked against the bytes left before anything else.
		left := len(data) - pos
		var arg []byte     // argFixed: the bytes; argLen*: the payload
		var lines [][]byte // argLines
		switch op.arg {
		case argFixed:
			if op.n > left {
				return malformed("%s at offset %d needs %d argument bytes, %d left (truncated)", op.name, at, op.n, left)
			}
			arg = data[pos : pos+op.n]
			pos += op.n
		case argLen1, argLen4, argLen8:
			w := 1 // bytes of the length itself
			switch op.arg {
			case argLen4:
				w = 4
			case argLen8:
				w = 8
			}
			if w > left {
				return malformed("%s at offset %d needs %d length bytes, %d left (truncated)", op.name, at, w, left)
			}
			var n uint64
			switch w {
			case 1:
				n = uint64(data[pos])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(data[pos:]))
			case 8:
				n = binary.LittleEndian.Uint64(data[pos:])
			}
			if n > uint64(left-w) {
				return malformed("%s at offset %d claims %d bytes, only %d left in the file", op.name, at, n, left-w)
			}
			arg = data[pos+w : pos+w+int(n)]
			pos += w + int(n)
		case argLines:
			for range op.n {
				nl := bytes.IndexByte(data[pos:], '\n')
				if nl < 0 {
					return malformed("%s at offset %d: stream ends inside its text argument (truncated)", op.name, at)
				}
				if nl > maxName {
					return malformed("%s at offset %d: a name of %d bytes (over %d)", op.name, at, nl, maxName)
				}
				lines = append(lines, data[pos:pos+nl])
				pos += nl + 1
			}
		}

		// The effect on the abstract stack.
		switch code {
		case 0x80: // PROTO
			if at != 0 {
				return malformed("PROTO opcode at offset %d: only allowed at offset 0", at)
			}
			if arg[0] < 2 || arg[0] > 5 {
				return malformed("pickle protocol %d (want 2 to 5)", arg[0])
			}
		case 0x95: // FRAME: its length must fit; its opcodes follow and are scanned like the rest
			if n := binary.LittleEndian.Uint64(arg); n > uint64(len(data)-pos) {
				return malformed("FRAME at offset %d claims %d bytes, only %d left in the file", at, n, len(data)-pos)
			}
		case '(':
			stack = append(stack, value{kind: kMark})
		case 'N', 0x88, 0x89, 'J', 'K', 'M':
			stack = append(stack, value{kind: kScalar})
		case 0x8a: // LONG1
			if len(arg) == 0 {
				return malformed("LONG1 at offset %d has no bytes (Python writes 0 as BININT1)", at)
			}
			stack = append(stack, value{kind: kScalar})
		case 'X', 0x8c, 0x8d:
			v := value{kind: kStr, long: len(arg) > maxName}
			if !v.long {
				v.name = string(arg)
			}
			stack = append(stack, v)
		case 'B', 'C', 0x8e, 0x96:
			stack = append(stack, value{kind: kBytes})
		case ')':
			stack = append(stack, value{kind: kTuple})
		case 0x85, 0x86, 0x87: // TUPLE1..3
			for range int(code - 0x84) {
				if _, err := pop(op.name, at); err != nil {
					return err
				}
			}
			stack = append(stack, value{kind: kTuple})
		case 't':
			m := len(stack) - 1
			for m >= 0 && stack[m].kind != kMark {
				m--
			}
			if m < 0 {
				return malformed("TUPLE at offset %d without a MARK", at)
			}
			stack = append(stack[:m], value{kind: kTuple})
		case 'c':
			if err := allowed(string(lines[0]), string(lines[1])); err != nil {
				return fmt.Errorf("%w (GLOBAL at offset %d)", err, at)
			}
			stack = append(stack, value{kind: kGlobal, name: string(lines[0]) + "." + string(lines[1])})
		case 0x93: // STACK_GLOBAL
			name, err := pop(op.name, at)
			if err != nil {
				return err
			}
			module, err := pop(op.name, at)
			if err != nil {
				return err
			}
			if module.kind != kStr || name.kind != kStr || module.long || name.long {
				return malformed("STACK_GLOBAL at offset %d names %s.%s, want two short strs", at, module, name)
			}
			if err := allowed(module.name, name.name); err != nil {
				return fmt.Errorf("%w (STACK_GLOBAL at offset %d)", err, at)
			}
			stack = append(stack, value{kind: kGlobal, name: module.name + "." + name.name})
		case 'R':
			args, err := pop(op.name, at)
			if err != nil {
				return err
			}
			fn, err := pop(op.name, at)
			if err != nil {
				return err
			}
			if fn.kind != kGlobal || fn.name == "numpy.ndarray" || args.kind != kTuple {
				return malformed("REDUCE at offset %d calls %s with %s, want an allowed function and a tuple", at, fn, args)
			}
			stack = append(stack, value{kind: kObject, name: fn.name})
		case 'b':
			state, err := pop(op.name, at)
			if err != nil {
				return err
			}
			if len(stack) == 0 || !rebuildable(stack[len(stack)-1]) || state.kind != kTuple {
				inst := "nothing"
				if len(stack) > 0 {
					inst = stack[len(stack)-1].String()
				}
				return malformed("BUILD at offset %d sets %s as the state of %s, want a tuple for an array or dtype", at, state, inst)
			}
		case 0x94, 'q', 'r': // MEMOIZE, BINPUT, LONG_BINPUT
			if len(stack) == 0 || stack[len(stack)-1].kind == kMark {
				return malformed("%s at offset %d: nothing to memoize", op.name, at)
			}
			idx := uint32(len(memo))
			switch code {
			case 'q':
				idx = uint32(arg[0])
			case 'r':
				idx = binary.LittleEndian.Uint32(arg)
			}
			memo[idx] = stack[len(stack)-1]
		case 'h', 'j': // BINGET, LONG_BINGET
			idx := uint32(arg[0])
			if code == 'j' {
				idx = binary.LittleEndian.Uint32(arg)
			}
			v, ok := memo[idx]
			if !ok {
				return malformed("%s at offset %d reads memo slot %d, never set", op.name, at, idx)
			}
			stack = append(stack, v)
		case '.':
			if _, err := pop(op.name, at); err != nil {
				return err
			}
			if pos != len(data) {
				return malformed("%d bytes after the STOP opcode at offset %d", len(data)-pos, at)
			}
			return nil
		}
	}
	return malformed("stream ends after %d bytes without a STOP opcode (truncated)", len(data))
}

// rebuildable reports whether BUILD may set the state of v: an array made
// by _reconstruct or a dtype.
func rebuildable(v value) bool {
	return v.kind == kObject && (v.name == "numpy.dtype" || strings.HasSuffix(v.name, "._reconstruct"))
}

// malformed returns an ErrMalformed error with a formatted reason.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

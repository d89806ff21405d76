// Package trace times the phases of a short command from process start, for
// GAITORD_TRACE=1 (docs/configuration.md). With the variable unset or "0"
// every call is a no-op costing one branch.
//
// Each Mark prints one line to standard error:
//
//	gaitord trace: <phase> <ms in the phase> ms  (<ms since exec> ms since exec)
//
// A phase is the time since the previous Mark (the first: since this package
// was initialised, which is during Go's package initialisation, after the
// dynamic loader has mapped libtorch and run its static constructors). The
// first line, "exec→go init", is the time from the kernel starting the
// process to that moment: the dynamic loading and C++ static initialisation
// of libtorch's ~290 shared libraries plus the Go runtime's start. It comes
// from /proc/self/stat's start time, which the kernel keeps in clock ticks
// (10 ms at USER_HZ=100), so that line is good to ±10 ms; the later phases
// use the monotonic clock. Where /proc is missing the line is left out.
//
// Why not runtime/trace or pprof: they record goroutines and samples, not a
// handful of named wall-clock phases a user can read from a terminal, and
// they cannot see time spent before main.
package trace

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Env is the variable that turns tracing on.
const Env = "GAITORD_TRACE"

var (
	enabled           = on(os.Getenv(Env))
	t0                = time.Now()
	last              = t0
	out     io.Writer = os.Stderr
	started bool
	before  float64 // ms from exec to t0, once known
)

func on(v string) bool { return v != "" && v != "0" && !strings.EqualFold(v, "false") }

// Enabled reports whether GAITORD_TRACE is set.
func Enabled() bool { return enabled }

// Mark ends the phase named phase and prints its line when tracing is on.
func Mark(phase string) {
	if !enabled {
		return
	}
	now := time.Now()
	if !started {
		started = true
		if v, ok := sinceExec(t0); ok {
			before = v
			fmt.Fprintf(out, "gaitord trace: %-22s %7.1f ms  (±10 ms: /proc start time)\n", "exec→go init", v)
		}
	}
	fmt.Fprintf(out, "gaitord trace: %-22s %7.1f ms  (%7.1f ms since exec)\n", phase, ms(now.Sub(last)), before+ms(now.Sub(t0)))
	last = now
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// sinceExec is the time from the process's start (field 22 of
// /proc/self/stat, clock ticks since boot) to t, in milliseconds.
func sinceExec(t time.Time) (float64, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22 overall
	if err != nil {
		return 0, false
	}
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0, false
	}
	const hz = 100 // USER_HZ: the unit of /proc's times on Linux
	boot := time.Duration(ts.Nano())
	start := time.Duration(ticks) * time.Second / hz
	return ms(boot - time.Since(t) - start), true
}

package dist

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LaunchOptions describe a single-machine job of NProc workers, as
// `gaitord train --nproc N` (or torchrun --nproc_per_node N) starts them.
type LaunchOptions struct {
	NProc int
	Exe   string   // the worker executable
	Args  []string // its arguments
	Env   []string // the workers' base environment (os.Environ())
	// MasterAddr and MasterPort of rank 0's store: 127.0.0.1 and a free
	// port when empty / 0.
	MasterAddr string
	MasterPort int
	// Stdout and Stderr receive rank 0's output; the other ranks' stderr
	// goes to Stderr too, each line prefixed "[rank N] ", and their stdout
	// is dropped (rank 0 alone reports).
	Stdout, Stderr io.Writer
	// Grace is how long the other workers get to stop on their own after
	// one failed (they notice within the group's timeout) before they are
	// killed.
	Grace time.Duration
}

// WorkerError reports the first worker that failed.
type WorkerError struct {
	Rank int
	Code int // exit status; -1 when killed by a signal
	Err  error
}

func (e *WorkerError) Error() string {
	return fmt.Sprintf("worker rank %d failed (%v); the job stopped", e.Rank, e.Err)
}

// FreePort returns a TCP port on addr that was free a moment ago.
func FreePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Launch starts the workers with the torchrun variables (MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) and waits for
// all of them. When ctx is cancelled (Ctrl-C) the workers get SIGINT and the
// job's result is theirs. It returns nil when every worker exited 0, else a
// *WorkerError for the first that failed.
func Launch(ctx context.Context, o LaunchOptions) error {
	if o.NProc < 1 {
		return fmt.Errorf("--nproc %d: want ≥ 1", o.NProc)
	}
	if o.MasterAddr == "" {
		o.MasterAddr = "127.0.0.1"
	}
	if o.MasterPort == 0 {
		p, err := FreePort(o.MasterAddr)
		if err != nil {
			return fmt.Errorf("finding a free port for the workers' rendezvous: %w", err)
		}
		o.MasterPort = p
	}
	if o.Grace <= 0 {
		o.Grace = time.Minute
	}
	type exit struct {
		rank int
		err  error
	}
	exits := make(chan exit, o.NProc)
	cmds := make([]*exec.Cmd, o.NProc)
	var pipes sync.WaitGroup
	var errMu sync.Mutex // serialises prefixed lines on Stderr
	for r := range o.NProc {
		c := exec.Command(o.Exe, o.Args...)
		c.Env = append(append([]string(nil), o.Env...),
			"MASTER_ADDR="+o.MasterAddr, "MASTER_PORT="+strconv.Itoa(o.MasterPort),
			"RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(o.NProc),
			"LOCAL_RANK="+strconv.Itoa(r), "LOCAL_WORLD_SIZE="+strconv.Itoa(o.NProc))
		if r == 0 {
			c.Stdout, c.Stderr = o.Stdout, o.Stderr
		} else {
			pr, pw := io.Pipe()
			c.Stderr = pw
			pipes.Add(1)
			go func(r int) {
				defer pipes.Done()
				sc := bufio.NewScanner(pr)
				sc.Buffer(make([]byte, 64<<10), 1<<20)
				for sc.Scan() {
					errMu.Lock()
					fmt.Fprintf(o.Stderr, "[rank %d] %s\n", r, sc.Text())
					errMu.Unlock()
				}
				_, _ = io.Copy(io.Discard, pr)
			}(r)
			defer pw.Close()
		}
		if err := c.Start(); err != nil {
			for _, s := range cmds[:r] {
				_ = s.Process.Kill()
			}
			return fmt.Errorf("starting worker rank %d: %w", r, err)
		}
		cmds[r] = c
		go func(r int) {
			err := c.Wait()
			if pw, ok := c.Stderr.(*io.PipeWriter); ok {
				pw.Close()
			}
			exits <- exit{r, err}
		}(r)
	}
	var first *WorkerError
	var killTimer <-chan time.Time
	interrupted := false
	for left := o.NProc; left > 0; {
		select {
		case e := <-exits:
			left--
			if e.err != nil && first == nil {
				code := -1
				var ee *exec.ExitError
				if errors.As(e.err, &ee) {
					code = ee.ExitCode()
				}
				first = &WorkerError{Rank: e.rank, Code: code, Err: e.err}
				if left > 0 {
					killTimer = time.After(o.Grace)
				}
			}
		case <-ctx.Done():
			if !interrupted {
				interrupted = true
				for _, c := range cmds {
					_ = c.Process.Signal(os.Interrupt)
				}
			}
			ctx = context.Background() // report once
		case <-killTimer:
			for _, c := range cmds {
				_ = c.Process.Signal(syscall.SIGKILL)
			}
			killTimer = nil
		}
	}
	pipes.Wait()
	if first != nil {
		return first
	}
	return nil
}

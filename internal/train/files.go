package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gaitord/gaitord/internal/atomicfile"
)

// MetricsRow is one line of metrics.jsonl: the figures of one epoch.
type MetricsRow struct {
	Epoch int     `json:"epoch"`
	Step  int64   `json:"step"`
	LR    float64 `json:"lr"`
	Loss  float64 `json:"loss"`
	// Terms are the epoch's mean of each part of the age term, by the names
	// of odl.TermNames for the run's loss type ({"ranking": …, "odl": …}
	// for odl).
	Terms map[string]float64 `json:"terms,omitempty"`
	// Ranking and ODL repeat Terms' "ranking" and "odl" (the columns of runs
	// before the loss family); left out for types without them.
	Ranking       float64 `json:"ranking,omitempty"`
	ODL           float64 `json:"odl,omitempty"`
	Gender        float64 `json:"gender"`
	SamplesPerSec float64 `json:"samples_per_sec"`
	Seconds       float64 `json:"seconds"`
	ValN          int     `json:"val_n"`
	ValMAE        float64 `json:"val_mae"`
	ValCS5        float64 `json:"val_cs5"`
	Best          bool    `json:"best"`
	// Ranks that trained the epoch (1 for one process), and rank 0's
	// gradient all-reduce time and collective calls in it (a process alone
	// makes none, so these are left out).
	WorldSize        int     `json:"world_size,omitempty"`
	AllReduceSeconds float64 `json:"allreduce_seconds,omitempty"`
	AllReduceCalls   int64   `json:"allreduce_calls,omitempty"`
}

// appendMetrics adds one row and syncs it to disk.
func appendMetrics(path string, row MetricsRow) error {
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	return f.Close()
}

// truncateMetrics keeps the rows of epochs ≤ epoch (and drops a torn last
// line), so a resumed run's log has exactly one row per epoch.
func truncateMetrics(path string, epoch int) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", path, err)
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		var row MetricsRow
		if json.Unmarshal(sc.Bytes(), &row) != nil || row.Epoch > epoch {
			continue
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	return writeAtomic(path, keep.Bytes())
}

// ReadMetrics reads a metrics log.
func ReadMetrics(path string) ([]MetricsRow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []MetricsRow
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var row MetricsRow
		if err := json.Unmarshal(line, &row); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// writeAtomic writes data atomically (see atomicfile).
func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Lock takes the run folder's lock (an flock on RUN_DIR/.lock holding the
// owner's PID). A second process is refused with a clear message; the kernel
// releases the lock when the owner exits, even by a crash or SIGKILL.
func Lock(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		pid := string(bytes.TrimSpace(owner))
		if pid == "" {
			pid = "another process"
		} else {
			pid = "process " + pid
		}
		return nil, fmt.Errorf("run folder %s is in use by %s (lock %s); wait for it or choose another --out", dir, pid, path)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

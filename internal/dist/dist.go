// Package dist is gaitord's data-parallel training on libtorch's c10d: a
// TCPStore rendezvous hosted by rank 0, and a process group with the Gloo
// backend for CPU tensors or NCCL for CUDA ones. Workers find their place in
// the job from the torchrun environment variables (MASTER_ADDR, MASTER_PORT,
// RANK, WORLD_SIZE, LOCAL_RANK), so any launcher that sets them — torchrun,
// a Slurm wrapper, `gaitord train --nproc N` — works.
//
// Collectives are blocking and must be called by every rank in the same
// order, from the main goroutine (libtorch's per-thread state, gotorch's GC).
// Each has a timeout: a rank that died or hangs makes the others' calls fail
// within it instead of waiting forever.
package dist

// #cgo CFLAGS: -I${SRCDIR}/../../native/torchx
// #cgo LDFLAGS: -ltorchx
// #include <stdlib.h>
// #include "dist.h"
import "C"

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gaitord/gaitord/internal/torchx"
)

// Env is one worker's place in a data-parallel job.
type Env struct {
	MasterAddr string // host of rank 0's TCPStore
	MasterPort int    // its port
	Rank       int    // this worker, 0…WorldSize-1
	WorldSize  int    // number of workers
	LocalRank  int    // this worker's index on its machine (picks cuda:LocalRank)
	LocalWorld int    // workers on this machine (shares the cores); 0 if unknown
	// AgentStore: a launcher already serves the TCPStore at
	// MASTER_ADDR:MASTER_PORT (torchrun sets TORCHELASTIC_USE_AGENT_STORE),
	// so rank 0 connects to it instead of hosting one.
	AgentStore bool
}

// FromEnv reads the torchrun variables through getenv (os.Getenv in
// production). It reports ok = false when WORLD_SIZE is unset: a plain
// process. WORLD_SIZE=1 (torchrun --nproc_per_node 1) makes a group of one,
// as in PyTorch.
func FromEnv(getenv func(string) string) (e Env, ok bool, err error) {
	ws := strings.TrimSpace(getenv("WORLD_SIZE"))
	if ws == "" {
		return Env{}, false, nil
	}
	num := func(name string, def int, lo int) (int, error) {
		s := strings.TrimSpace(getenv(name))
		if s == "" {
			if def >= 0 {
				return def, nil
			}
			return 0, fmt.Errorf("environment variable %s is not set (WORLD_SIZE=%s asks for a data-parallel job)", name, ws)
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < lo {
			return 0, fmt.Errorf("environment variable %s=%q: want an integer ≥ %d", name, s, lo)
		}
		return v, nil
	}
	if e.WorldSize, err = num("WORLD_SIZE", -1, 1); err != nil {
		return Env{}, false, err
	}
	if e.Rank, err = num("RANK", -1, 0); err != nil {
		return Env{}, false, err
	}
	if e.Rank >= e.WorldSize {
		return Env{}, false, fmt.Errorf("environment variable RANK=%d: want 0…%d (WORLD_SIZE=%d)", e.Rank, e.WorldSize-1, e.WorldSize)
	}
	if e.LocalRank, err = num("LOCAL_RANK", e.Rank, 0); err != nil {
		return Env{}, false, err
	}
	if e.LocalWorld, err = num("LOCAL_WORLD_SIZE", 0, 0); err != nil {
		return Env{}, false, err
	}
	if e.MasterPort, err = num("MASTER_PORT", -1, 1); err != nil {
		return Env{}, false, err
	}
	if e.MasterPort > 65535 {
		return Env{}, false, fmt.Errorf("environment variable MASTER_PORT=%d: want 1…65535", e.MasterPort)
	}
	e.AgentStore = strings.EqualFold(strings.TrimSpace(getenv("TORCHELASTIC_USE_AGENT_STORE")), "true")
	e.MasterAddr = strings.TrimSpace(getenv("MASTER_ADDR"))
	if e.MasterAddr == "" {
		return Env{}, false, fmt.Errorf("environment variable MASTER_ADDR is not set (WORLD_SIZE=%d asks for a data-parallel job)", e.WorldSize)
	}
	return e, true, nil
}

// Comm is what data-parallel training asks of a process group: this
// process's place in it and the collectives of a step. Every rank calls
// each collective in the same order. A joined c10d *Group and the Local
// group of one process both satisfy it, so a training loop is written once
// for both.
type Comm interface {
	Rank() int // this process, 0…Size()-1
	Size() int // number of processes
	// AverageGrads replaces every parameter's gradient by its mean over the
	// ranks and sums extra over them, in place (see Group.AverageGrads).
	AverageGrads(params []torchx.Tensor, bucketBytes int64, extra []float64) error
	// Broadcast copies rank root's tensors into every rank's.
	Broadcast(ts []torchx.Tensor, root int) error
	// BroadcastJSON sends rank root's v to every rank, which decode it into v.
	BroadcastJSON(v any, root int) error
	// SumFloat64 sums v over the ranks, in place.
	SumFloat64(v []float64) error
	// Stats returns the gradient all-reduce counters so far.
	Stats() Stats
}

var (
	_ Comm = (*Group)(nil)
	_ Comm = (*Local)(nil)
)

// Group is a joined process group.
type Group struct {
	h       C.TxGroup
	env     Env
	backend string
	device  string
	timeout time.Duration
	stats   Stats
}

// Stats counts the gradient all-reduces of a group.
type Stats struct {
	Steps   int64         // AverageGrads calls
	Calls   int64         // all-reduce collectives they made (buckets)
	Elapsed time.Duration // wall time inside AverageGrads
}

// Options configure Join.
type Options struct {
	Backend string        // "gloo" (CPU) or "nccl" (CUDA); "" picks by device
	Device  string        // where the model lives: "cpu" or "cuda:N"
	Timeout time.Duration // rendezvous and per-collective bound
	// BucketBytes caps one gradient all-reduce; 0 means 25 MiB (PyTorch DDP's default).
	BucketBytes int64
}

// BackendFor is the backend for tensors on device: nccl for CUDA, gloo otherwise.
func BackendFor(device string) string {
	if strings.HasPrefix(device, "cuda") {
		return "nccl"
	}
	return "gloo"
}

// Join connects this worker to the group described by e. Every rank must
// call it; it returns once all have arrived, or fails after o.Timeout.
func Join(e Env, o Options) (*Group, error) {
	if o.Backend == "" {
		o.Backend = BackendFor(o.Device)
	}
	if o.Backend != "gloo" && o.Backend != "nccl" {
		return nil, fmt.Errorf("unknown backend %q (want gloo or nccl)", o.Backend)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	cb, cd, ca := C.CString(o.Backend), C.CString(o.Device), C.CString(e.MasterAddr)
	ci := C.CString(os.Getenv("GLOO_SOCKET_IFNAME"))
	defer func() {
		for _, p := range []*C.char{cb, cd, ca, ci} {
			C.free(unsafe.Pointer(p))
		}
	}()
	var h C.TxGroup
	msg := C.tx_group_new(cb, cd, ca, C.int(e.MasterPort), C.int(e.Rank), C.int(e.WorldSize),
		C.int64_t(o.Timeout.Milliseconds()), ci, C.bool(e.AgentStore), &h)
	if err := cerr(msg); err != nil {
		return nil, fmt.Errorf("rank %d of %d: joining the %s group at %s:%d: %w (is rank 0 running, and the port free on its machine?)",
			e.Rank, e.WorldSize, o.Backend, e.MasterAddr, e.MasterPort, err)
	}
	return &Group{h: h, env: e, backend: o.Backend, device: o.Device, timeout: o.Timeout}, nil
}

func cerr(msg *C.char) error {
	if msg == nil {
		return nil
	}
	s := C.GoString(msg)
	C.tx_free(unsafe.Pointer(msg))
	return fmt.Errorf("%s", strings.TrimSpace(s))
}

// Rank is this worker's rank.
func (g *Group) Rank() int { return g.env.Rank }

// Size is the number of workers.
func (g *Group) Size() int { return g.env.WorldSize }

// Env is the environment the group was joined with.
func (g *Group) Env() Env { return g.env }

// Backend is "gloo" or "nccl".
func (g *Group) Backend() string { return g.backend }

// Stats returns the gradient all-reduce counters so far.
func (g *Group) Stats() Stats { return g.stats }

// Close leaves the group.
func (g *Group) Close() {
	if g.h != nil {
		C.tx_group_free(g.h)
		g.h = nil
	}
}

// peerErr words a failed collective: most often another rank has died.
func (g *Group) peerErr(what string, err error) error {
	return fmt.Errorf("rank %d of %d: %s failed: %w — another rank probably stopped (see its error) or the %s timeout passed",
		g.env.Rank, g.env.WorldSize, what, err, g.timeout)
}

// DefaultBucketBytes is the gradient bucket cap when Options.BucketBytes is 0.
const DefaultBucketBytes = 25 << 20

// AverageGrads replaces every parameter's gradient by its mean over the
// ranks (flattened into buckets of at most bucketBytes, one all-reduce each).
// extra values ride along in the last bucket and come back summed over the
// ranks: the training loop uses them to agree on stopping.
func (g *Group) AverageGrads(params []torchx.Tensor, bucketBytes int64, extra []float64) error {
	if len(params) == 0 {
		return fmt.Errorf("rank %d: no parameters to all-reduce", g.env.Rank)
	}
	if bucketBytes <= 0 {
		bucketBytes = DefaultBucketBytes
	}
	hs := make([]C.TxTensor, len(params))
	for i, p := range params {
		hs[i] = C.TxTensor(*p.T)
	}
	var ex *C.double
	if len(extra) > 0 {
		ex = (*C.double)(unsafe.Pointer(&extra[0]))
	}
	var calls C.int64_t
	start := time.Now()
	msg := C.tx_group_allreduce_grads(g.h, &hs[0], C.int64_t(len(hs)), C.int64_t(bucketBytes), ex, C.int64_t(len(extra)), &calls)
	runtime.KeepAlive(params) // the call saw only their at::Tensor pointers
	g.stats.Elapsed += time.Since(start)
	g.stats.Steps++
	g.stats.Calls += int64(calls)
	if err := cerr(msg); err != nil {
		return g.peerErr("gradient all-reduce", err)
	}
	return nil
}

// Broadcast copies rank root's tensors into every rank's (same shapes), in
// one collective.
func (g *Group) Broadcast(ts []torchx.Tensor, root int) error {
	if len(ts) == 0 {
		return nil
	}
	hs := make([]C.TxTensor, len(ts))
	for i, t := range ts {
		hs[i] = C.TxTensor(*t.T)
	}
	msg := C.tx_group_broadcast(g.h, &hs[0], C.int64_t(len(hs)), C.int(root))
	runtime.KeepAlive(ts)
	if err := cerr(msg); err != nil {
		return g.peerErr("broadcast of tensors", err)
	}
	return nil
}

// SumFloat64 sums v over the ranks, in place.
func (g *Group) SumFloat64(v []float64) error {
	if len(v) == 0 {
		return nil
	}
	if err := cerr(C.tx_group_allreduce_f64(g.h, (*C.double)(unsafe.Pointer(&v[0])), C.int64_t(len(v)))); err != nil {
		return g.peerErr("all-reduce", err)
	}
	return nil
}

// BroadcastBytes sends rank root's b to every rank: b's length must already
// agree (see BroadcastJSON for variable-sized values).
func (g *Group) BroadcastBytes(b []byte, root int) error {
	if len(b) == 0 {
		return nil
	}
	if err := cerr(C.tx_group_broadcast_bytes(g.h, (*C.uint8_t)(unsafe.Pointer(&b[0])), C.int64_t(len(b)), C.int(root))); err != nil {
		return g.peerErr("broadcast", err)
	}
	return nil
}

// BroadcastJSON sends rank root's v, JSON-encoded, to every rank, which
// decode it into v.
func (g *Group) BroadcastJSON(v any, root int) error {
	var data []byte
	if g.env.Rank == root {
		var err error
		if data, err = json.Marshal(v); err != nil {
			return fmt.Errorf("rank %d: encoding a broadcast: %w", g.env.Rank, err)
		}
	}
	n := make([]byte, 8)
	binary.LittleEndian.PutUint64(n, uint64(len(data)))
	if err := g.BroadcastBytes(n, root); err != nil {
		return err
	}
	size := binary.LittleEndian.Uint64(n)
	if size > 1<<30 {
		return fmt.Errorf("rank %d: broadcast of %d bytes refused", g.env.Rank, size)
	}
	if g.env.Rank != root {
		data = make([]byte, size)
	}
	if err := g.BroadcastBytes(data, root); err != nil {
		return err
	}
	if g.env.Rank != root {
		if err := json.Unmarshal(data, v); err != nil {
			return fmt.Errorf("rank %d: decoding a broadcast: %w", g.env.Rank, err)
		}
	}
	return nil
}

// Barrier returns once every rank has called it.
func (g *Group) Barrier() error {
	if err := cerr(C.tx_group_barrier(g.h)); err != nil {
		return g.peerErr("barrier", err)
	}
	return nil
}

// Backends lists the process-group backends this build of libtorchx has.
func Backends() []string {
	var b []string
	if C.tx_gloo_available() {
		b = append(b, "gloo")
	}
	if C.tx_nccl_available() {
		b = append(b, "nccl")
	}
	return b
}

package dist

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gaitord/gaitord/internal/torchx"
	torch "github.com/wangkuiyi/gotorch"
)

func TestFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	if _, ok, err := FromEnv(env()); ok || err != nil {
		t.Fatalf("no WORLD_SIZE: ok=%v err=%v, want a single process", ok, err)
	}
	if e, ok, err := FromEnv(env("WORLD_SIZE", "1", "RANK", "0", "MASTER_ADDR", "h", "MASTER_PORT", "9")); !ok || err != nil || e.WorldSize != 1 {
		t.Fatalf("WORLD_SIZE=1: %+v ok=%v err=%v, want a group of one", e, ok, err)
	}
	e, ok, err := FromEnv(env("WORLD_SIZE", "4", "RANK", "3", "MASTER_ADDR", "10.0.0.1", "MASTER_PORT", "29500", "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "2"))
	if !ok || err != nil {
		t.Fatalf("full env: ok=%v err=%v", ok, err)
	}
	want := Env{MasterAddr: "10.0.0.1", MasterPort: 29500, Rank: 3, WorldSize: 4, LocalRank: 1, LocalWorld: 2}
	if e != want {
		t.Fatalf("got %+v, want %+v", e, want)
	}
	e, _, _ = FromEnv(env("WORLD_SIZE", "2", "RANK", "1", "MASTER_ADDR", "h", "MASTER_PORT", "1"))
	if e.LocalRank != 1 || e.AgentStore {
		t.Fatalf("LOCAL_RANK defaults to RANK, no agent store: got %+v", e)
	}
	e, _, _ = FromEnv(env("WORLD_SIZE", "2", "RANK", "0", "MASTER_ADDR", "h", "MASTER_PORT", "1", "TORCHELASTIC_USE_AGENT_STORE", "True"))
	if !e.AgentStore {
		t.Fatalf("TORCHELASTIC_USE_AGENT_STORE=True: got %+v", e)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"WORLD_SIZE", "2"}, "RANK is not set"},
		{[]string{"WORLD_SIZE", "two"}, `WORLD_SIZE="two": want an integer ≥ 1`},
		{[]string{"WORLD_SIZE", "2", "RANK", "2", "MASTER_ADDR", "h", "MASTER_PORT", "1"}, "RANK=2: want 0…1"},
		{[]string{"WORLD_SIZE", "2", "RANK", "0", "MASTER_PORT", "1"}, "MASTER_ADDR is not set"},
		{[]string{"WORLD_SIZE", "2", "RANK", "0", "MASTER_ADDR", "h"}, "MASTER_PORT is not set"},
		{[]string{"WORLD_SIZE", "2", "RANK", "0", "MASTER_ADDR", "h", "MASTER_PORT", "70000"}, "MASTER_PORT=70000"},
		{[]string{"WORLD_SIZE", "2", "RANK", "-1"}, `RANK="-1": want an integer ≥ 0`},
	} {
		_, _, err := FromEnv(env(c.kv...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to contain %q", c.kv, err, c.want)
		}
	}
}

// The multi-process tests re-run this test binary as workers.
const workerVar = "GAITORD_DIST_TEST_WORKER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(workerVar); mode != "" {
		runtime.LockOSThread()
		if err := worker(mode); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// skipShort skips a test that starts rank processes (and may wait out a
// collective timeout) under `go test -short` (make unit).
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rank processes: skipped under -short (make test runs it)")
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type workerResult struct {
	Rank      int       `json:"rank"`
	Grads     []float32 `json:"grads"` // both parameters' gradients, flattened
	Extra     []float64 `json:"extra"`
	Calls     int64     `json:"calls"`
	Broadcast []float32 `json:"broadcast"`
	Sums      []float64 `json:"sums"`
	JSON      string    `json:"json"`
}

// worker runs one rank. "collectives": every collective with known values;
// "die": rank 1 exits before the first all-reduce, rank 0 reports its error.
func worker(mode string) error {
	e, ok, err := FromEnv(os.Getenv)
	if err != nil || !ok {
		return fmt.Errorf("env: ok=%v err=%v", ok, err)
	}
	timeout := 20 * time.Second
	if mode == "hang" {
		timeout = 3 * time.Second
	}
	g, err := Join(e, Options{Device: "cpu", Timeout: timeout})
	if err != nil {
		return err
	}
	defer g.Close()
	r := float32(e.Rank)
	// Two "parameters" whose gradients are rank-dependent: p0 (2x3), p1 (4).
	p0 := torchx.Zeros(2, 3)
	p1 := torchx.Zeros(4)
	g0 := make([]float32, 6)
	for i := range g0 {
		g0[i] = (r + 1) * float32(i+1)
	}
	g1 := []float32{r, -r, 10 * r, 0.5}
	setGrad(p0, g0)
	setGrad(p1, g1)
	if mode == "die" || mode == "hang" {
		if e.Rank == 1 && mode == "die" {
			os.Exit(7)
		}
		if e.Rank == 1 {
			time.Sleep(6 * time.Second) // alive, connected, silent
			os.Exit(7)
		}
		start := time.Now()
		err := g.AverageGrads([]torchx.Tensor{p0, p1}, 8, []float64{1})
		if err == nil {
			return fmt.Errorf("all-reduce with a dead peer succeeded")
		}
		fmt.Printf("{\"error\": %q, \"seconds\": %g}\n", err.Error(), time.Since(start).Seconds())
		return nil
	}
	res := workerResult{Rank: e.Rank, Extra: []float64{1, float64(e.Rank), 0.25}}
	// 8-byte buckets: p0 (24 bytes) and p1 (16 bytes) each get their own.
	if err := g.AverageGrads([]torchx.Tensor{p0, p1}, 8, res.Extra); err != nil {
		return err
	}
	res.Calls = g.Stats().Calls
	gr0, _ := torchx.Grad(p0)
	gr1, _ := torchx.Grad(p1)
	res.Grads = append(torchx.Float32s(gr0), torchx.Float32s(gr1)...)
	b := torchx.FromFloat32([]float32{r, r + 1, r + 2}, 3)
	if err := g.Broadcast([]torchx.Tensor{b}, 1); err != nil {
		return err
	}
	res.Broadcast = torchx.Float32s(b)
	res.Sums = []float64{float64(e.Rank), 1e-300, math.Pi}
	if err := g.SumFloat64(res.Sums); err != nil {
		return err
	}
	msg := map[string]string{"from": "rank " + strconv.Itoa(e.Rank)}
	if err := g.BroadcastJSON(&msg, 0); err != nil {
		return err
	}
	res.JSON = msg["from"]
	if err := g.Barrier(); err != nil {
		return err
	}
	torch.GC()
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return nil
}

// setGrad gives p the gradient g through autograd: d/dp Σ g·p = g.
func setGrad(p torchx.Tensor, g []float32) {
	torchx.SetRequiresGrad(p, true)
	n := int64(len(g))
	torchx.Backward(torchx.Linear(torchx.FromFloat32(g, 1, n), torchx.Reshape(p, 1, n), torchx.Tensor{}))
}

// runWorkers starts n workers of mode and returns each one's stdout and error.
func runWorkers(t *testing.T, n int, mode string, env ...string) ([]string, []error) {
	t.Helper()
	return runWorkersOn(t, freePort(t), n, mode, env...)
}

func runWorkersOn(t *testing.T, port, n int, mode string, env ...string) ([]string, []error) {
	t.Helper()
	skipShort(t)
	cmds := make([]*exec.Cmd, n)
	outs := make([]*strings.Builder, n)
	for i := range n {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), workerVar+"="+mode, "MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port),
			"RANK="+strconv.Itoa(i), "WORLD_SIZE="+strconv.Itoa(n), "OMP_NUM_THREADS=1")
		c.Env = append(c.Env, env...)
		outs[i] = &strings.Builder{}
		c.Stdout = outs[i]
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = c
	}
	errs := make([]error, n)
	texts := make([]string, n)
	for i, c := range cmds {
		errs[i] = c.Wait()
		texts[i] = outs[i].String()
	}
	return texts, errs
}

func TestCollectivesThreeRanks(t *testing.T) {
	outs, errs := runWorkers(t, 3, "collectives")
	checkCollectives(t, outs, errs)
}

// Under torchrun the agent serves the TCPStore and sets
// TORCHELASTIC_USE_AGENT_STORE=True: rank 0 must connect as a client. Here
// PyTorch itself (Debian's python3-torch) hosts the store.
func TestCollectivesOnAnAgentStore(t *testing.T) {
	skipShort(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch.distributed").Run(); err != nil {
		t.Skipf("no python3-torch to host a store: %v", err)
	}
	port := freePort(t)
	host := exec.Command(py, "-c", `import sys, time, datetime, torch.distributed as d
s = d.TCPStore("127.0.0.1", int(sys.argv[1]), 4, True, datetime.timedelta(seconds=60), wait_for_workers=False)
print("ready", flush=True)
time.sleep(60)`, strconv.Itoa(port))
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = os.Stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { host.Process.Kill(); host.Wait() }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("store host: %q %v", buf, err)
	}
	outs, errs := runWorkersOn(t, port, 3, "collectives", "TORCHELASTIC_USE_AGENT_STORE=True")
	checkCollectives(t, outs, errs)
}

func checkCollectives(t *testing.T, outs []string, errs []error) {
	t.Helper()
	n := len(outs)
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("rank %d: %v", i, errs[i])
		}
		var r workerResult
		if err := json.Unmarshal([]byte(outs[i]), &r); err != nil {
			t.Fatalf("rank %d output %q: %v", i, outs[i], err)
		}
		// Mean over ranks 0,1,2 of (r+1)·(j+1) is 2·(j+1); of r, -r, 10r, 0.5: 1, -1, 10, 0.5.
		want := []float32{2, 4, 6, 8, 10, 12, 1, -1, 10, 0.5}
		for j := range want {
			if math.Abs(float64(r.Grads[j]-want[j])) > 1e-6 {
				t.Fatalf("rank %d averaged gradients %v, want %v", i, r.Grads, want)
			}
		}
		if wantE := []float64{3, 3, 0.75}; fmt.Sprint(r.Extra) != fmt.Sprint(wantE) {
			t.Errorf("rank %d extra %v, want the sums %v", i, r.Extra, wantE)
		}
		if r.Calls != 2 {
			t.Errorf("rank %d made %d all-reduce calls with 8-byte buckets, want 2 (one per parameter)", i, r.Calls)
		}
		if fmt.Sprint(r.Broadcast) != "[1 2 3]" {
			t.Errorf("rank %d broadcast from rank 1: %v, want [1 2 3]", i, r.Broadcast)
		}
		if r.Sums[0] != 3 || r.Sums[1] != 3e-300 || math.Abs(r.Sums[2]-3*math.Pi) > 1e-15 {
			t.Errorf("rank %d float64 sums %v, want [3 3e-300 3π] in double precision", i, r.Sums)
		}
		if r.JSON != "rank 0" {
			t.Errorf("rank %d JSON broadcast %q, want rank 0's", i, r.JSON)
		}
	}
}

func TestDeadPeerFailsWithinTimeout(t *testing.T) {
	outs, errs := runWorkers(t, 2, "die")
	if errs[0] != nil {
		t.Fatalf("rank 0 should report the failure and exit 0 here: %v", errs[0])
	}
	if ee, ok := errs[1].(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Fatalf("rank 1: %v, want exit 7", errs[1])
	}
	r := failure(t, outs[0])
	if !strings.Contains(r.Error, "rank 0 of 2: gradient all-reduce failed") || !strings.Contains(r.Error, "another rank probably stopped") {
		t.Errorf("error %q does not say what failed and why", r.Error)
	}
	if r.Seconds > 21 {
		t.Errorf("rank 0 noticed the dead peer after %.1f s, beyond the 20 s timeout", r.Seconds)
	}
	t.Logf("rank 0 noticed the dead peer after %.2f s: %s", r.Seconds, r.Error)
}

// failure decodes the report of a rank whose collective failed.
func failure(t *testing.T, out string) (r struct {
	Error   string
	Seconds float64
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("rank 0 output %q: %v", out, err)
	}
	return r
}

// A rank that hangs (alive but silent) stops the others within the timeout.
func TestHungPeerFailsAtTheTimeout(t *testing.T) {
	outs, errs := runWorkers(t, 2, "hang")
	if errs[0] != nil {
		t.Fatalf("rank 0: %v", errs[0])
	}
	r := failure(t, outs[0])
	if r.Seconds < 2.5 || r.Seconds > 8 || !strings.Contains(r.Error, "gradient all-reduce failed") {
		t.Fatalf("rank 0 gave up after %.1f s (timeout 3 s): %s", r.Seconds, r.Error)
	}
	t.Logf("rank 0 gave up on a silent peer after %.2f s: %s", r.Seconds, r.Error)
}

func TestJoinRefusesBadArguments(t *testing.T) {
	_, err := Join(Env{MasterAddr: "127.0.0.1", MasterPort: freePort(t), Rank: 0, WorldSize: 2}, Options{Backend: "mpi", Device: "cpu", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), `unknown backend "mpi"`) {
		t.Fatalf("backend mpi: %v", err)
	}
}

// The group of one process: rank 0 of 1, whose collectives are those of
// c10d over one rank (the values themselves), without communicating.
func TestLocalGroupIsOneRank(t *testing.T) {
	var g Comm = NewLocal()
	if g.Rank() != 0 || g.Size() != 1 {
		t.Fatalf("rank %d of %d, want 0 of 1", g.Rank(), g.Size())
	}
	p := torchx.Zeros(2, 3)
	grad := []float32{1, -2, 3, 0.5, 0, 7}
	setGrad(p, grad)
	extra := []float64{1, 0, 0.25}
	if err := g.AverageGrads([]torchx.Tensor{p}, 8, extra); err != nil {
		t.Fatal(err)
	}
	gr, _ := torchx.Grad(p)
	if fmt.Sprint(torchx.Float32s(gr)) != fmt.Sprint(grad) || fmt.Sprint(extra) != "[1 0 0.25]" {
		t.Errorf("after AverageGrads: gradient %v, extra %v; want them unchanged", torchx.Float32s(gr), extra)
	}
	if err := g.AverageGrads(nil, 0, nil); err == nil || !strings.Contains(err.Error(), "no parameters") {
		t.Errorf("AverageGrads of no parameters: %v", err)
	}
	if s := g.Stats(); s.Steps != 1 || s.Calls != 0 || s.Elapsed != 0 {
		t.Errorf("stats %+v: want 1 step, no collective calls, no time", s)
	}
	sums := []float64{3, math.Pi}
	b := torchx.FromFloat32([]float32{4, 5}, 2)
	msg := map[string]string{"from": "rank 0"}
	if err := g.SumFloat64(sums); err != nil || sums[0] != 3 || sums[1] != math.Pi {
		t.Errorf("SumFloat64: %v %v", sums, err)
	}
	if err := g.Broadcast([]torchx.Tensor{b}, 0); err != nil || fmt.Sprint(torchx.Float32s(b)) != "[4 5]" {
		t.Errorf("Broadcast from rank 0: %v %v", torchx.Float32s(b), err)
	}
	if err := g.BroadcastJSON(&msg, 0); err != nil || msg["from"] != "rank 0" {
		t.Errorf("BroadcastJSON from rank 0: %v %v", msg, err)
	}
	for _, err := range []error{g.Broadcast([]torchx.Tensor{b}, 1), g.BroadcastJSON(&msg, 2)} {
		if err == nil || !strings.Contains(err.Error(), "group of one process") {
			t.Errorf("a broadcast from another rank: %v, want refused", err)
		}
	}
}

// Package engine prepares libtorch for a gaitord process (intra-op threads)
// and describes it (versions, BLAS in use, CUDA) for `gaitord version`.
// gaitord's own version lives in internal/version, which needs no libtorch.
package engine

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/gaitord/gaitord/internal/torchx"
	"github.com/gaitord/gaitord/internal/version"
)

// SetThreads sets libtorch's intra-op thread count: n > 0 as given, otherwise
// the number of cores (gotorch and PyTorch both start with fewer here). It
// returns the count in force.
func SetThreads(n int) int {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	torchx.SetNumThreads(n)
	return torchx.NumThreads()
}

// SetBLASThreads sets OpenBLAS's own thread pool to n threads (n ≤ 0: leave
// it as OpenBLAS started, one per core) and returns the count in force, or
// -1 when the process's BLAS is not OpenBLAS (then nothing changes).
//
// Why a server sets 1: OpenBLAS's pthread build keeps its workers spinning
// on sched_yield for a while after every matrix product. In `gaitord serve`
// on 2 cores that spinning took about a fifth of the server's CPU samples
// (perf, 64 clients), taken from libtorch's OpenMP threads and the HTTP
// handlers; the linear layers are a small share of a forward pass, so one
// BLAS thread costs them little (bench/README.md).
func SetBLASThreads(n int) int { return torchx.SetOpenBLASThreads(n) }

// Info describes the running libtorch.
type Info struct {
	Gaitord       string   `json:"gaitord"`
	Libtorch      string   `json:"libtorch"`
	BLAS          []string `json:"blas"`
	Threads       int      `json:"threads"`
	CUDA          bool     `json:"cuda"`
	CUDADevices   int      `json:"cuda_devices"`
	GoVersion     string   `json:"go"`
	LibtorchFiles []string `json:"libtorch_files"`
}

// Describe gathers Info. BLAS lists the BLAS libraries actually mapped into
// this process (symbolic links resolved), which is what Debian's alternatives
// system picked, not merely what libtorch was built against.
func Describe() Info {
	blas, torchLibs := mappedLibraries()
	return Info{
		Gaitord:       version.Version,
		Libtorch:      torchx.Version(),
		BLAS:          blas,
		Threads:       torchx.NumThreads(),
		CUDA:          torchx.CUDAAvailable(),
		CUDADevices:   torchx.CUDADeviceCount(),
		GoVersion:     runtime.Version(),
		LibtorchFiles: torchLibs,
	}
}

func mappedLibraries() (blas, torch []string) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	seenB, seenT := map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 {
			continue
		}
		path := fields[len(fields)-1]
		base := filepath.Base(path)
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		switch {
		case strings.Contains(base, "blas") || strings.Contains(base, "mkl_rt") || strings.Contains(base, "libmkl_core"):
			seenB[path] = true
		case strings.HasPrefix(base, "libtorch") || strings.HasPrefix(base, "libc10") || base == "libcgotorch.so":
			seenT[path] = true
		}
	}
	for p := range seenB {
		blas = append(blas, p)
	}
	for p := range seenT {
		torch = append(torch, p)
	}
	sort.Strings(blas)
	sort.Strings(torch)
	return blas, torch
}

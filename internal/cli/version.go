package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gaitord/gaitord/internal/dist"
	"github.com/gaitord/gaitord/internal/engine"
	"github.com/spf13/cobra"
)

// VersionOptions are the options of `gaitord version`.
type VersionOptions struct {
	JSON    bool
	Threads int
}

func newVersionCmd(s Streams, g *Global) *cobra.Command {
	o := &VersionOptions{}
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print gaitord's and libtorch's versions, the BLAS in use, threads and CUDA",
		Example: "  gaitord version\n  gaitord version --json",
		Args:    cobra.NoArgs,
		RunE:    func(*cobra.Command, []string) error { return RunVersion(s, o) },
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print one JSON object")
	c.Flags().IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (0 = number of cores)")
	return c
}

// RunVersion prints the runtime description.
func RunVersion(s Streams, o *VersionOptions) error {
	engine.SetThreads(o.Threads)
	info := struct {
		engine.Info
		Distributed []string `json:"distributed"`
	}{engine.Describe(), dist.Backends()}
	if o.JSON {
		return json.NewEncoder(s.Out).Encode(info)
	}
	blas := "unknown (no BLAS library mapped)"
	if len(info.BLAS) > 0 {
		blas = strings.Join(info.BLAS, ", ")
	}
	backends := "none"
	if len(info.Distributed) > 0 {
		backends = strings.Join(info.Distributed, ", ")
	}
	fmt.Fprintf(s.Out, "gaitord   %s (%s)\nlibtorch  %s\nBLAS      %s\nthreads   %d intra-op\nCUDA      %s\ndist      %s\n",
		info.Gaitord, info.GoVersion, info.Libtorch, blas, info.Threads, cudaText(info.Info), backends)
	return nil
}

func cudaText(i engine.Info) string {
	if !i.CUDA {
		return "not available"
	}
	return fmt.Sprintf("available, %d device(s)", i.CUDADevices)
}

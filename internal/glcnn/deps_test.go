package glcnn

import (
	"os/exec"
	"strings"
	"testing"
)

// pureGo are the packages that must build, and whose tests must run, without
// libtorch: the specification, the file formats and the configuration.
var pureGo = []string{
	"./internal/glcnn",
	"./internal/checkpoint",
	"./internal/onnx",
	"./internal/quant",
	"./internal/config",
	"./internal/safetensors",
	"./internal/version",
}

// libtorch is what a pure-Go package must not reach: gotorch, gaitord's own
// libtorch layer, and the packages built on them.
var libtorch = []string{
	"github.com/wangkuiyi/gotorch",
	"github.com/gaitord/gaitord/internal/torchx",
	"github.com/gaitord/gaitord/internal/model",
	"github.com/gaitord/gaitord/internal/engine",
	"github.com/gaitord/gaitord/internal/dist",
}

// TestPureGoPackagesAvoidLibtorch asks `go list -deps -test` what each
// package and its tests import, and fails on anything that leads to libtorch
// or on any non-standard package with cgo files.
func TestPureGoPackagesAvoidLibtorch(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH: %v", err)
	}
	for _, pkg := range pureGo {
		cmd := exec.Command(goTool, "list", "-deps", "-test", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", pkg)
		cmd.Dir = "../.."
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=1") // the dependencies of a normal build, whatever this test runs under
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list %s: %v\n%s", pkg, err, msg)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		self := "github.com/gaitord/gaitord/" + strings.TrimPrefix(pkg, "./") + " "
		if !strings.Contains(string(out), self) {
			t.Fatalf("go list %s does not list the package itself:\n%s", pkg, out)
		}
		for _, line := range lines {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			path, std, cgo := f[0], f[len(f)-2] == "true", f[len(f)-1] != "0"
			for _, bad := range libtorch {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s (or its tests) depends on %s", pkg, path)
				}
			}
			if cgo && !std {
				t.Errorf("%s (or its tests) depends on %s, which uses cgo", pkg, path)
			}
		}
	}
}

// Command gaitord estimates age and gender from gait energy images.
package main

import (
	"os"
	"syscall"

	"github.com/gaitord/gaitord/internal/cli"
	"github.com/gaitord/gaitord/internal/trace"
)

func main() {
	trace.Mark("go package init")
	passiveOpenMP()
	os.Exit(cli.Main(os.Args[1:], cli.DefaultStreams()))
}

// passiveOpenMP re-executes long-running commands (train, eval, data, serve) with
// OMP_WAIT_POLICY=PASSIVE unless the user set a policy. With libgomp's
// default spin-waiting, idle OpenMP workers take the cores from the thread
// that feeds them, and small operations ran 200× slower on 2 threads
// (bench/levers.sh: a batch-64 training step 2–4× faster with PASSIVE).
// libgomp reads the variable once, when it is loaded, before main runs, so
// it cannot be set from inside the process. Short commands (predict,
// version) skip the re-exec: it would cost them a second start-up.
func passiveOpenMP() {
	if _, set := os.LookupEnv("OMP_WAIT_POLICY"); set || len(os.Args) < 2 {
		return
	}
	switch os.Args[1] {
	case "train", "eval", "data", "serve":
	default:
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	// On failure, carry on with the default policy: slower, not wrong.
	_ = syscall.Exec(exe, os.Args, append(os.Environ(), "OMP_WAIT_POLICY=PASSIVE"))
}

// Command gaitord estimates age and gender from gait energy images.
package main

import (
	"os"

	"github.com/gaitord/gaitord/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], cli.DefaultStreams())) }

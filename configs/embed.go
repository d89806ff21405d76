// Package configs holds gaitord's shipped experiment files; default.yaml is
// also compiled into the binary, so `gaitord train` works from any folder.
package configs

import _ "embed"

// Default is configs/default.yaml.
//
//go:embed default.yaml
var Default []byte

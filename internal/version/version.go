// Package version holds gaitord's build version. It imports nothing, so that
// the pure-Go file formats (checkpoint, onnx) can stamp the version into the
// files they write and still build and test without libtorch or cgo.
package version

// Version is gaitord's version, set at link time with
// -ldflags "-X github.com/gaitord/gaitord/internal/version.Version=…"
// (the Makefile passes `git describe`).
var Version = "0.1.0-dev"

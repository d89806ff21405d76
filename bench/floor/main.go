// Command floor is the start-up floor of any program that links libtorch the
// way gaitord does: it links the same shared libraries (libtorchx, gotorch's
// libcgotorch, and through them Debian's libtorch_cpu, libc10 and their ~290
// dependencies) and does nothing. Its run time from exec to exit is what
// the dynamic loader and libtorch's C++ static constructors cost before any
// of gaitord's code runs; bench/run.sh times it beside `gaitord predict`
// (bench/README.md, "start-up"). It calls nothing in them: the libraries are
// loaded because the binary lists them as NEEDED.
package main

// #cgo LDFLAGS: -Wl,--no-as-needed -ltorchx -lcgotorch
import "C"

func main() {}

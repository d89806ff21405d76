package engine

import (
	"strings"
	"testing"
)

// SetBLASThreads changes OpenBLAS's pool when OpenBLAS is the BLAS mapped
// into the process (Describe's list, read from /proc/self/maps), and is a
// no-op answering -1 otherwise.
func TestSetBLASThreads(t *testing.T) {
	openblas := false
	for _, l := range Describe().BLAS {
		openblas = openblas || strings.Contains(l, "openblas")
	}
	before := SetBLASThreads(0)
	if !openblas {
		if before != -1 || SetBLASThreads(1) != -1 {
			t.Fatalf("BLAS %v is not OpenBLAS, yet SetBLASThreads answers %d", Describe().BLAS, before)
		}
		t.Skipf("BLAS %v is not OpenBLAS", Describe().BLAS)
	}
	if before < 1 {
		t.Fatalf("OpenBLAS reports %d threads", before)
	}
	defer SetBLASThreads(before)
	if got := SetBLASThreads(1); got != 1 {
		t.Fatalf("SetBLASThreads(1) = %d", got)
	}
	if got := SetBLASThreads(0); got != 1 {
		t.Fatalf("after SetBLASThreads(1), the pool has %d threads", got)
	}
}

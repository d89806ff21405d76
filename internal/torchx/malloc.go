package torchx

// #include <malloc.h>
import "C"

// MallocStats is glibc's view of the C heap (mallinfo2), where libtorch,
// oneDNN and OpenBLAS allocate: InUse bytes are allocated and not yet freed
// (a leak grows this), Free bytes are held by malloc's arenas but unused
// (fragmentation grows this), Mmap bytes are in blocks served by mmap
// (large tensors; returned to the system on free).
type MallocStats struct {
	InUse, Free, Mmap uint64
}

// Malloc reads glibc's allocator statistics of every arena. It walks the
// arenas under their locks: cheap enough for a metrics scrape, not for a
// hot loop.
func Malloc() MallocStats {
	mi := C.mallinfo2()
	return MallocStats{InUse: uint64(mi.uordblks), Free: uint64(mi.fordblks), Mmap: uint64(mi.hblkhd)}
}

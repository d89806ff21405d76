package torchx

// #cgo LDFLAGS: -ldl
// #define _GNU_SOURCE
// #include <dlfcn.h>
//
// typedef void (*tx_blas_set_fn)(int);
// typedef int (*tx_blas_get_fn)(void);
//
// // OpenBLAS's thread control, looked up in the process at run time:
// // libblas.so.3 is whatever BLAS Debian's alternatives chose, and only
// // OpenBLAS has these symbols.
// static int tx_openblas_set_threads(int n) {
//   tx_blas_set_fn set = (tx_blas_set_fn)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
//   tx_blas_get_fn get = (tx_blas_get_fn)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
//   if (set == NULL || get == NULL) return -1;
//   if (n > 0) set(n);
//   return get();
// }
import "C"

// SetOpenBLASThreads sets the size of OpenBLAS's own thread pool (used by
// libtorch's matrix products, separate from its OpenMP intra-op threads) when
// the process's BLAS is OpenBLAS; n ≤ 0 only reads it. It returns the count
// in force, or -1 when the BLAS is not OpenBLAS.
func SetOpenBLASThreads(n int) int { return int(C.tx_openblas_set_threads(C.int(n))) }

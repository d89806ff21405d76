// guard.h: helpers shared by torchx's C++ files (not part of the C API).
#pragma once
#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "torchx.h"

namespace torchx_detail {

// dup copies s into malloc'd memory that Go frees with tx_free.
inline char *dup(const std::string &s) {
  char *p = static_cast<char *>(std::malloc(s.size() + 1));
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// guard runs f and turns any C++ exception into a message for Go.
template <typename F>
const char *guard(F f) {
  try {
    f();
    return nullptr;
  } catch (const c10::Error &e) {
    return dup(e.what_without_backtrace());
  } catch (const std::exception &e) {
    return dup(e.what());
  } catch (...) {
    return dup("unknown C++ exception");
  }
}

// T is the at::Tensor behind a handle.
inline at::Tensor &T(TxTensor t) { return *static_cast<at::Tensor *>(t); }

}  // namespace torchx_detail

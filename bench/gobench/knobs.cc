// Bench-only libtorch knobs for lever prototypes (not part of gaitord).
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/contiguous.h>
#include <exception>
#include "knobs.h"

extern "C" {

int bx_set_interop_threads(int n) {
  try {
    at::set_num_interop_threads(n);
    return 0;
  } catch (const std::exception &) {
    return -1;
  }
}
int bx_get_interop_threads(void) { return at::get_num_interop_threads(); }

void bx_set_mkldnn(int on) { at::globalContext().setUserEnabledMkldnn(on != 0); }
int bx_mkldnn_enabled(void) { return at::globalContext().userEnabledMkldnn() ? 1 : 0; }

// Returns a new at::Tensor* holding x in channels-last layout.
void *bx_channels_last(void *x) {
  at::Tensor &t = *static_cast<at::Tensor *>(x);
  return new at::Tensor(t.contiguous(at::MemoryFormat::ChannelsLast));
}

// Re-lays a 4-D leaf parameter out as channels-last, in place (keeps identity).
void bx_param_channels_last(void *p) {
  at::Tensor &t = *static_cast<at::Tensor *>(p);
  if (t.dim() == 4) t.set_data(t.contiguous(at::MemoryFormat::ChannelsLast));
}

}  // extern "C"

// dist: gaitord's data-parallel collectives on libtorch's c10d (TCPStore
// rendezvous, Gloo on CPU, NCCL on CUDA). See dist.h.
#include "dist.h"

#include "guard.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/version.h>

// Gloo needs its headers (Debian: libgloo-dev; pip wheels ship them), NCCL a
// CUDA build and nccl.h. TX_NO_GLOO / TX_NO_NCCL leave a backend out.
#if !defined(TX_NO_GLOO) && __has_include(<gloo/algorithm.h>)
#define USE_C10D_GLOO 1
#define TX_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(WITH_CUDA) && !defined(TX_NO_NCCL) && __has_include(<nccl.h>)
#define USE_C10D_NCCL 1
#define TX_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Since libtorch 2.0 the backends (Gloo, NCCL) derive from c10d::Backend;
// before, from c10d::ProcessGroup. Both expose the same collectives.
#if TORCH_VERSION_MAJOR >= 2
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif

using torchx_detail::guard;
using torchx_detail::T;

struct Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Backend> pg;
  at::Device device{at::kCPU};
  int rank = 0, size = 1;
};

Group &G(TxGroup g) { return *static_cast<Group *>(g); }

void allreduce(Group &g, at::Tensor &t) {
  std::vector<at::Tensor> v{t};
  g.pg->allreduce(v)->wait();
}

void broadcast(Group &g, at::Tensor &t, int root) {
  std::vector<at::Tensor> v{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  g.pg->broadcast(v, o)->wait();
}

// flatten lays ts (then tail, when defined) end to end as one 1-D tensor of
// opts, the buffer of a single collective.
at::Tensor flatten(const std::vector<at::Tensor> &ts, const at::TensorOptions &opts,
                   const at::Tensor &tail = at::Tensor()) {
  std::vector<at::Tensor> parts;
  parts.reserve(ts.size() + 1);
  for (const at::Tensor &t : ts) parts.push_back(t.reshape({-1}).to(opts));
  if (tail.defined()) parts.push_back(tail.to(opts));
  return at::cat(parts);
}

// unflatten copies flat's consecutive slices back into ts (flatten's inverse).
void unflatten(const at::Tensor &flat, std::vector<at::Tensor> &ts) {
  int64_t off = 0;
  for (at::Tensor &t : ts) {
    const int64_t m = t.numel();
    t.copy_(flat.narrow(0, off, m).view(t.sizes()));
    off += m;
  }
}

bool is_loopback(const std::string &addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

}  // namespace

extern "C" {

const char *tx_group_new(const char *backend, const char *device, const char *master_addr,
                         int port, int rank, int world_size, int64_t timeout_ms,
                         const char *gloo_ifname, bool agent_store, TxGroup *out) {
  return guard([&] {
    TORCH_CHECK(world_size >= 1, "world size ", world_size, " < 1");
    TORCH_CHECK(rank >= 0 && rank < world_size, "rank ", rank, " outside [0, ", world_size, ")");
    TORCH_CHECK(port > 0 && port < 65536, "port ", port, " outside 1..65535");
    const std::chrono::milliseconds timeout(timeout_ms);
    auto g = std::make_unique<Group>();
    g->device = at::Device(std::string(device));
    g->rank = rank;
    g->size = world_size;

    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = rank == 0 && !agent_store;
    so.timeout = timeout;
    if (!agent_store) {
      so.numWorkers = static_cast<std::size_t>(world_size);
      so.waitWorkers = true;
    }
    // The prefix keeps gaitord's keys apart from a launcher's in a shared store.
    g->store = c10::make_intrusive<c10d::PrefixStore>(
        "gaitord", c10::make_intrusive<c10d::TCPStore>(std::string(master_addr), so));

    const std::string be(backend);
    if (be == "gloo") {
#ifdef TX_GLOO
      TORCH_CHECK(g->device.is_cpu(), "the gloo backend takes CPU tensors, not ", device);
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      const std::string ifname(gloo_ifname ? gloo_ifname : "");
      if (!ifname.empty()) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      } else if (is_loopback(master_addr)) {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      } else {
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      }
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, world_size, opts);
#else
      TORCH_CHECK(false, "this libtorchx was built without Gloo (no gloo headers; Debian: apt install libgloo-dev)");
#endif
    } else if (be == "nccl") {
#ifdef TX_NCCL
      TORCH_CHECK(g->device.is_cuda(), "the nccl backend takes CUDA tensors, not ", device);
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, rank, world_size, opts);
#else
      TORCH_CHECK(false, "this libtorchx was built without NCCL (needs a CUDA libtorch and nccl.h)");
#endif
    } else {
      TORCH_CHECK(false, "unknown backend \"", be, "\" (want gloo or nccl)");
    }
    *out = g.release();
  });
}

void tx_group_free(TxGroup g) { delete static_cast<Group *>(g); }

const char *tx_group_allreduce_grads(TxGroup gh, TxTensor *params, int64_t n,
                                     int64_t bucket_bytes, double *extra, int64_t n_extra,
                                     int64_t *calls) {
  return guard([&] {
    Group &g = G(gh);
    at::NoGradGuard ng;
    *calls = 0;
    TORCH_CHECK(n > 0, "no parameters");
    std::vector<at::Tensor> grads;
    grads.reserve(n);
    for (int64_t i = 0; i < n; i++) {
      at::Tensor &p = T(params[i]);
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      grads.push_back(p.grad());
    }
    const auto opts = grads[0].options();
    int64_t i = 0;
    while (i < n) {
      // Bucket [i, j): at least one tensor, then more while under bucket_bytes.
      int64_t j = i, bytes = 0, numel = 0;
      do {
        bytes += grads[j].numel() * grads[j].element_size();
        numel += grads[j].numel();
        j++;
      } while (j < n && bytes + grads[j].numel() * grads[j].element_size() <= bucket_bytes);
      const bool last = j == n;
      std::vector<at::Tensor> bucket(grads.begin() + i, grads.begin() + j);
      at::Tensor flat = flatten(bucket, opts,
                                last && n_extra > 0 ? at::from_blob(extra, {n_extra}, at::kDouble) : at::Tensor());
      allreduce(g, flat);
      (*calls)++;
      flat.narrow(0, 0, numel).div_(g.size);
      unflatten(flat, bucket);
      if (last && n_extra > 0) {
        at::Tensor e = flat.narrow(0, numel, n_extra).to(at::kCPU, at::kDouble).contiguous();
        std::memcpy(extra, e.data_ptr<double>(), n_extra * sizeof(double));
      }
      i = j;
    }
  });
}

const char *tx_group_broadcast(TxGroup gh, TxTensor *tensors, int64_t n, int root) {
  return guard([&] {
    Group &g = G(gh);
    at::NoGradGuard ng;
    TORCH_CHECK(n > 0, "nothing to broadcast");
    std::vector<at::Tensor> ts;
    for (int64_t i = 0; i < n; i++) ts.push_back(T(tensors[i]));  // shares each tensor's storage
    at::Tensor flat = flatten(ts, ts[0].options());
    broadcast(g, flat, root);
    unflatten(flat, ts);
  });
}

const char *tx_group_allreduce_f64(TxGroup gh, double *v, int64_t n) {
  return guard([&] {
    Group &g = G(gh);
    if (n == 0) return;
    at::Tensor t = at::from_blob(v, {n}, at::kDouble).to(g.device, at::kDouble, false, true);
    allreduce(g, t);
    at::Tensor h = t.to(at::kCPU).contiguous();
    std::memcpy(v, h.data_ptr<double>(), n * sizeof(double));
  });
}

const char *tx_group_broadcast_bytes(TxGroup gh, uint8_t *buf, int64_t n, int root) {
  return guard([&] {
    Group &g = G(gh);
    if (n == 0) return;
    at::Tensor t = at::from_blob(buf, {n}, at::kByte).to(g.device, at::kByte, false, true);
    broadcast(g, t, root);
    at::Tensor h = t.to(at::kCPU).contiguous();
    std::memcpy(buf, h.data_ptr<uint8_t>(), n);
  });
}

const char *tx_group_barrier(TxGroup gh) {
  double one = 1;
  return tx_group_allreduce_f64(gh, &one, 1);
}

bool tx_gloo_available(void) {
#ifdef TX_GLOO
  return true;
#else
  return false;
#endif
}

bool tx_nccl_available(void) {
#ifdef TX_NCCL
  return true;
#else
  return false;
#endif
}

}  // extern "C"

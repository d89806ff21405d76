/* dist: data-parallel collectives for gaitord on libtorch's c10d.
 *
 * A process group is a TCPStore rendezvous (rank 0 hosts the store) plus a
 * c10d backend: Gloo for CPU tensors, NCCL for CUDA tensors (when libtorchx
 * is built against a CUDA libtorch whose tree has nccl.h). Functions return
 * NULL on success or a malloc'd message for tx_free, like torchx.h. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "torchx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *TxGroup;

/* tx_group_new joins a group of world_size ranks. backend is "gloo" or
 * "nccl"; device is where the group's tensors live ("cpu", "cuda:N").
 * timeout_ms bounds the rendezvous and every collective: a peer that died or
 * hangs makes the call fail after at most that long. gloo_ifname, when not
 * empty, picks the network interface (like GLOO_SOCKET_IFNAME). Rank 0
 * hosts the TCPStore unless agent_store is set: then a launcher (torchrun's
 * agent) already serves it at master_addr:port and every rank is a client. */
const char *tx_group_new(const char *backend, const char *device, const char *master_addr,
                         int port, int rank, int world_size, int64_t timeout_ms,
                         const char *gloo_ifname, bool agent_store, TxGroup *out);
void tx_group_free(TxGroup g);

/* tx_group_allreduce_grads replaces the gradients of params[0..n) by their
 * mean over the group (an undefined gradient counts as zeros and becomes
 * defined). The gradients are flattened into buckets of at most bucket_bytes
 * each, one all-reduce per bucket. extra[0..n_extra) travel in the last
 * bucket and come back summed over the ranks (flags, counters). *calls
 * receives the number of all-reduce calls made. */
const char *tx_group_allreduce_grads(TxGroup g, TxTensor *params, int64_t n,
                                     int64_t bucket_bytes, double *extra, int64_t n_extra,
                                     int64_t *calls);

/* tx_group_broadcast copies tensors[0..n) of rank root into every rank's
 * tensors (same shapes everywhere), in one collective. */
const char *tx_group_broadcast(TxGroup g, TxTensor *tensors, int64_t n, int root);

/* tx_group_allreduce_f64 sums v[0..n) over the ranks, in place. */
const char *tx_group_allreduce_f64(TxGroup g, double *v, int64_t n);

/* tx_group_broadcast_bytes copies buf[0..n) of rank root to every rank. */
const char *tx_group_broadcast_bytes(TxGroup g, uint8_t *buf, int64_t n, int root);

/* tx_group_barrier waits for every rank. */
const char *tx_group_barrier(TxGroup g);

/* tx_gloo_available and tx_nccl_available say whether this build can make
 * "gloo" and "nccl" groups. */
bool tx_gloo_available(void);
bool tx_nccl_available(void);

#ifdef __cplusplus
}
#endif

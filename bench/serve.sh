#!/usr/bin/env bash
# The bounded load generator of `gaitord serve` (bench/serveload): offline
# forward times (batch 1, one full batch, infer.Batch at 256), then the real
# binary on 127.0.0.1 with batching on and off, at 1, 8 and 64 clients;
# throughput, p50/p95/p99, mean batch and forward time, the ratios to the
# offline b256 of the same run; with -rss-requests, the memory series (RSS,
# Go heap, C heap) and the RSS growth after warm-up. Loopback only; each
# level stops after -requests requests or -duration.
#   bench/serve.sh [-requests 3000] [-duration 20s] [-rss-requests 100000] [-json FILE] [...]
# Builds bin/gaitord first (make build). Run it on an idle machine: the
# load generator shares the cores with the server.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build
. <(scripts/install_libtorch.sh --print)
# the server runs with OMP_WAIT_POLICY=PASSIVE (cmd/gaitord re-executes itself so);
# the offline figures are taken under the same policy
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
go run ./bench/serveload -bin bin/gaitord "$@"

#!/usr/bin/env bash
# Side-by-side benchmark: gaitord (Go over libtorch) vs PyTorch, same libtorch,
# 2 threads, Adam lr 1e-4, ranking BCE + ODL + gender CE (λ=μ=1, K=100), 64×44
# and 128×88 (the OULP-Age model: training b64, inference b256), int8, ONNX
# Runtime on gaitord's fp32 and int8 ONNX exports (node, tools/ort), single-GEI
# predict from process start with its phases beside the start-up floor
# (bench/floor), and the CPU's instruction sets in the header.
#   bench/run.sh [--quick] [--out FILE]     (the full run took 7 min 48 s on 2 idle cores
#   on 2026-12-02, the int8 row included)
# Go and Python runs alternate, never overlap: each throughput figure in 3 rounds of
# gaitord then PyTorch. Prints the table, writes JSON.
#   bench/run.sh --device cuda [--quick] [--out FILE]
# runs only the training + inference comparison on that device (bench/gpu.sh,
# which also takes a prebuilt GOBENCH=path and skips the Go build).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=() out=bench/results.json
for arg in "$@"; do
  if [[ $arg == --device || $arg == --device=* ]]; then exec bench/gpu.sh "$@"; fi
done
while (($#)); do
  case $1 in
    --quick) quick=(--quick) ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
. <(scripts/install_libtorch.sh --print)
# libgomp's spinning workers take the cores from the thread that feeds them on
# a shared 2-core machine; gaitord's train, eval, data and serve re-execute
# themselves with PASSIVE (cmd/gaitord), so both sides run with it unless the
# caller chose a policy. The table's header prints it.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
PY=/usr/bin/python3
mkdir -p .cache/bench
echo "[bench] building .cache/bench/gobench and .cache/bench/floor" >&2
go build -o .cache/bench/gobench ./bench/gobench
go build -o .cache/bench/floor ./bench/floor
gaitord=bin/gaitord
if ! go build -o .cache/bench/gaitord ./cmd/gaitord 2>.cache/bench/gaitord-build.log; then
  echo "[bench] ./cmd/gaitord does not build (see .cache/bench/gaitord-build.log)" >&2
  gaitord=.cache/bench/gobench   # stand-in: load weights, gei.Load, forward, print
else
  gaitord=.cache/bench/gaitord
fi
if ! "$gaitord" predict --help >/dev/null 2>&1 && [[ $gaitord != *gobench ]]; then
  echo "[bench] $gaitord has no predict command: using the gobench stand-in" >&2
  gaitord=.cache/bench/gobench
fi
work=$(mktemp -d /tmp/gaitord-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "[bench] writing weights and 2000 PNGs to $work" >&2
.cache/bench/gobench -mode weights -out "$work/w.safetensors"
.cache/bench/gobench -mode checkpoint -out "$work/last.ckpt"
.cache/bench/gobench -mode pngs -dir "$work/png" -n 2000
start=$SECONDS
"$PY" bench/torch_bench.py --mode orchestrate "${quick[@]}" --gobench .cache/bench/gobench \
  --gaitord "$gaitord" --weights "$work/w.safetensors" --checkpoint "$work/last.ckpt" \
  --floor .cache/bench/floor --pngs "$work/png" --out "$out"
echo "[bench] predict binary: $gaitord; total $((SECONDS - start)) s" >&2

#!/usr/bin/env bash
# Training + inference comparison only (gaitord vs PyTorch), on one device:
#   bench/gpu.sh [--device cuda] [--quick] [--out FILE]
# Same figures and settings as bench/run.sh's train and inference rows (b64
# Adam training step, b256 inference, 64×44, 2 intra-op threads), with the
# model, the optimiser state and every batch on --device on both sides; both
# synchronise with the GPU before reading the clock. On a GPU each timed
# repeat covers 50 training steps or 20 inference batches (5 repeats, also
# with --quick). Prints the table, writes the JSON (default
# bench/results-<device>.json).
#
# Environment:
#   GOBENCH=path  a prebuilt bench/gobench binary: no Go toolchain, no build.
#                 It must find its libtorch, libcgotorch.so and libtorchx.so
#                 (its rpath, or LD_LIBRARY_PATH).
#   PYTHON=path   the interpreter with torch (default /usr/bin/python3 if it
#                 imports torch, else python3 on PATH).
# Without GOBENCH the script builds .cache/bench/gobench with
# scripts/install_libtorch.sh (LIBTORCH=<a CUDA libtorch> for GPUs) and go.
set -euo pipefail
cd "$(dirname "$0")/.."
device=cuda quick=() out=
while (($#)); do
  case $1 in
    --device) device=$2; shift ;;
    --device=*) device=${1#--device=} ;;
    --quick) quick=(--quick) ;;
    --out) out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-bench/results-${device//:/}.json}
if [[ -n ${PYTHON:-} ]]; then
  PY=$PYTHON
elif /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  PY=/usr/bin/python3
else
  PY=python3
fi
if [[ -n ${GOBENCH:-} ]]; then
  [[ -x $GOBENCH ]] || { echo "gpu.sh: GOBENCH=$GOBENCH is not an executable" >&2; exit 2; }
  gobench=$GOBENCH
  echo "[bench] using prebuilt $gobench (no build)" >&2
else
  . <(scripts/install_libtorch.sh --print)
  mkdir -p .cache/bench
  echo "[bench] building .cache/bench/gobench" >&2
  go build -o .cache/bench/gobench ./bench/gobench
  gobench=.cache/bench/gobench
fi
if [[ $device != cpu ]]; then
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
fi
"$PY" bench/torch_bench.py --mode orchestrate --only train,infer --device "$device" "${quick[@]}" \
  --gobench "$gobench" --out "$out"

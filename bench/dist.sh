#!/usr/bin/env bash
# Data-parallel scaling on this machine: `gaitord train --nproc N` for N in
# 1 2 4 over loopback (Gloo), the same global batch (64 = N × 64/N) and the
# cores shared among the workers. Prints samples/s, the all-reduce time and
# calls of rank 0 in the timed epoch, and writes JSON.
#   bench/dist.sh [--procs "1 2 4"] [--subjects 300] [--epochs 2] [--out FILE]
# Epoch 1 warms up; the last epoch is reported. Another device: --device cuda
# (NCCL; one GPU per worker).
set -euo pipefail
cd "$(dirname "$0")/.."
procs="1 2 4" subjects=300 epochs=2 out=bench/dist-results.json device=cpu batch=64
while (($#)); do
  case $1 in
    --procs) procs=$2; shift ;;
    --subjects) subjects=$2; shift ;;
    --epochs) epochs=$2; shift ;;
    --out) out=$2; shift ;;
    --device) device=$2; shift ;;
    --batch) batch=$2; shift ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "dist.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
gaitord=${GAITORD:-bin/gaitord}
if [[ -z ${GAITORD:-} ]]; then
  . <(scripts/install_libtorch.sh --print)
  go build -o bin/gaitord ./cmd/gaitord
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gaitord" synth --out "$work/data" --subjects "$subjects" --views 0,90 -q >/dev/null
rows=()
for n in $procs; do
  (( batch % n == 0 )) || { echo "dist.sh: batch $batch is not divisible by $n" >&2; exit 2; }
  echo "[dist] $n worker(s), batch $((batch / n)) each" >&2
  "$gaitord" train --data "$work/data" --format synthetic --out "$work/run$n" --epochs "$epochs" \
    --batch-size $((batch / n)) --nproc "$n" --device "$device" -q \
    --set schedule.type=none --set train.val_fraction=0.1 --set data.workers=2 >/dev/null
  rows+=("$(tail -n 1 "$work/run$n/metrics.jsonl")")
done
printf '%s\n' "${rows[@]}" | python3 bench/dist_table.py "$out" "$device" "$batch"

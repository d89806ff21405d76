#!/usr/bin/env bash
# int8 inference lever (issue 16), in PyTorch: bench/int8.py on a model trained by
# gaitord on its synthetic set (configs/default.yaml, 8 epochs), made once under
# .cache/bench/int8 (synth + train + export, ≈ 3 min on 2 idle cores).
#   bench/int8.sh [int8.py args, e.g. --repeats 7 --json bench/results-int8.json]
set -euo pipefail
cd "$(dirname "$0")/.."
. <(scripts/install_libtorch.sh --print)
make -s build
dir=.cache/bench/int8
if [[ ! -f $dir/model.safetensors ]]; then
  [[ -f $dir/data/labels.csv ]] || bin/gaitord synth --out "$dir/data"
  bin/gaitord train --config configs/default.yaml --data "$dir/data" --format synthetic --out "$dir/run"
  bin/gaitord export --checkpoint "$dir/run/best.ckpt" --format safetensors --out "$dir/model.safetensors"
fi
exec /usr/bin/python3 bench/int8.py --weights "$dir/model.safetensors" --data "$dir/data" "$@"

#!/usr/bin/env bash
# int8 inference lever (issue 16), two parts (PARTS=py,go by default):
#  py: bench/int8.py, PyTorch's own int8 (FX, onednn/qnnpack) and gaitord's scheme
#      written with the same quantized ops, on a model trained by gaitord on its
#      synthetic set (configs/default.yaml, 8 epochs), made once under
#      .cache/bench/int8 (synth + train + export, ≈ 3 min on 2 idle cores): test
#      MAE change and b256 throughput against PyTorch fp32 eager;
#  go: gaitord's int8 (model.Int8) against gaitord fp32 and PyTorch fp32 eager.
#   bench/int8.sh [int8.py args, e.g. --repeats 7 --json bench/results-int8.json]
#   PARTS=go ROUNDS=5 bench/int8.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. <(scripts/install_libtorch.sh --print)
make -s build
parts=,${PARTS:-py,go},
dir=.cache/bench/int8
if [[ $parts == *,py,* && ! -f $dir/model.safetensors ]]; then
  [[ -f $dir/data/labels.csv ]] || bin/gaitord synth --out "$dir/data"
  bin/gaitord train --config configs/default.yaml --data "$dir/data" --format synthetic --out "$dir/run"
  bin/gaitord export --checkpoint "$dir/run/best.ckpt" --format safetensors --out "$dir/model.safetensors"
fi
if [[ $parts == *,py,* ]]; then
  /usr/bin/python3 bench/int8.py --weights "$dir/model.safetensors" --data "$dir/data" "$@"
fi
[[ $parts == *,go,* ]] || exit 0

# gaitord's own int8 (model.Int8 through infer.Batch, bench/gobench -precision int8)
# against gaitord fp32 and PyTorch fp32 eager (torch.no_grad()), b256, 2 threads,
# ROUNDS rounds of the three in turn, each -repeats 3 -steps 2 after one warm-up.
go build -o .cache/bench/gobench ./bench/gobench
rounds=${ROUNDS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  .cache/bench/gobench -mode infer -batch 256 -threads 2 -warmup 1 -repeats 3 -steps 2 -precision fp32 >>"$tmp/go-fp32"
  .cache/bench/gobench -mode infer -batch 256 -threads 2 -warmup 1 -repeats 3 -steps 2 -precision int8 >>"$tmp/go-int8"
  /usr/bin/python3 bench/torch_bench.py --mode infer --batch 256 --threads 2 --warmup 1 --repeats 3 --steps 2 >>"$tmp/py-fp32"
done
/usr/bin/python3 - "$tmp" <<'PY'
import json, statistics as st, sys, os
d = sys.argv[1]
rates = {}
for name in ("py-fp32", "go-fp32", "go-int8"):
    rows = [json.loads(l) for l in open(os.path.join(d, name)) if l.startswith("{")]
    rates[name] = [st.median(r["geis_per_s"]) for r in rows]  # one median per round
base = rates["py-fp32"]
print("b256 inference, 2 threads, %d rounds (median of each round's 3 repeats; ratio = median of per-round ratios to PyTorch fp32)" % len(base))
for name, label in (("py-fp32", "PyTorch fp32 eager"), ("go-fp32", "gaitord fp32"), ("go-int8", "gaitord int8 (onednn)")):
    r = rates[name]
    ratio = st.median(a / b for a, b in zip(r, base))
    print("%-24s %7.1f GEIs/s [%.1f-%.1f]  %.2fx PyTorch fp32" % (label, st.median(r), min(r), max(r), ratio))
flags = open("/proc/cpuinfo").read().split("flags", 1)[1].split("\n", 1)[0].split()
print("CPU: " + "  ".join("%s %s" % (f, "yes" if f in flags else "no") for f in ("avx2", "avx512_vnni", "avx_vnni", "amx_int8")))
PY

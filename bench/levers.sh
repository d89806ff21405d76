#!/usr/bin/env bash
# Lever prototypes (bench only): short b64 training runs per setting, Go and
# PyTorch alternately, plus a Go CPU profile and a PyTorch op profile.
#   bench/levers.sh [STEPS]      (≈ 4 min)
set -euo pipefail
cd "$(dirname "$0")/.."
. <(scripts/install_libtorch.sh --print)
mkdir -p .cache/bench
go build -o .cache/bench/gobench ./bench/gobench
G=.cache/bench/gobench PY="/usr/bin/python3 bench/torch_bench.py"
S=${1:-3}
sum() { python3 -c 'import json,sys,statistics as st
d=json.loads(sys.stdin.read().strip().splitlines()[-1]); v=d["samples_per_s"]; gc=d.get("gc_ms_per_step") or 0
print("%-44s %6.1f samples/s [%.1f-%.1f]  gc/step=%.1fms hwm=%.0fMiB" % (sys.argv[1], st.median(v), min(v), max(v), gc, d["hwm_mib"]))' "$1"; }
run() { # name env... -- go-args -- py-args
  local name=$1; shift; local envs=(); while [[ $1 != -- ]]; do envs+=("$1"); shift; done; shift
  local ga=(); while [[ $1 != -- ]]; do ga+=("$1"); shift; done; shift
  env "${envs[@]}" $G -mode train -warmup 1 -repeats 2 -steps "$S" "${ga[@]}" | sum "go  $name"
  [[ ${1-} == skip ]] || env "${envs[@]}" $PY --mode train --warmup 1 --repeats 2 --steps "$S" "$@" | sum "py  $name"
}
run "default (2 thr, OMP spin)"        X=1 -- -- 
run "threads=1"                        X=1 -- -threads 1 -- --threads 1
run "OMP_WAIT_POLICY=PASSIVE"          OMP_WAIT_POLICY=PASSIVE -- -- 
run "PASSIVE + mkldnn off"             OMP_WAIT_POLICY=PASSIVE -- -mkldnn=false -- --mkldnn 0
run "PASSIVE + channels-last"          OMP_WAIT_POLICY=PASSIVE -- -channels-last -- --channels-last
run "PASSIVE + interop=2"              OMP_WAIT_POLICY=PASSIVE -- -interop 2 -- --interop 2
run "PASSIVE + torch.GC every 10 steps" OMP_WAIT_POLICY=PASSIVE -- -gc-every 10 -- skip
run "PASSIVE + GOGC=off"               OMP_WAIT_POLICY=PASSIVE GOGC=off -- -- skip
echo "== Go CPU profile (PASSIVE, b64, $S steps) -> .cache/bench/train.prof"
OMP_WAIT_POLICY=PASSIVE $G -mode train -warmup 1 -repeats 1 -steps "$S" -cpuprofile .cache/bench/train.prof >/dev/null
go tool pprof -top -nodecount=25 .cache/bench/gobench .cache/bench/train.prof 2>/dev/null | head -34
echo "== PyTorch profiler (PASSIVE, b64, 2 steps)"
OMP_WAIT_POLICY=PASSIVE $PY --mode profile --batch 64 --steps 2 | head -24 || true

#!/usr/bin/env bash
# demo.sh — gaitord's main job on its built-in synthetic data:
# synth → train → eval → predict → export, then one video → age step
# (synth --video, predict --annotate). Run through `make demo`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. <(scripts/install_libtorch.sh --print)
bin=bin/gaitord
run=${RUN:-runs/demo}
data=${DATA:-data/synth}

if [[ ! -f $data/labels.csv ]]; then
  echo "== gaitord synth --out $data"
  $bin synth --out "$data"
fi
echo "== gaitord train --config configs/default.yaml --data $data --format synthetic --out $run"
resume=()
[[ -f $run/last.ckpt ]] && resume=(--resume)
$bin train --config configs/default.yaml --data "$data" --format synthetic --out "$run" "${resume[@]}"
echo "== gaitord eval --checkpoint $run/best.ckpt --report $run/report"
$bin eval --checkpoint "$run/best.ckpt" --report "$run/report"
sample=$(ls "$data"/GEI/090-00/*.png | sed -n 2p)
echo "== gaitord predict --checkpoint $run/best.ckpt $sample"
$bin predict --checkpoint "$run/best.ckpt" "$sample"
grep "^$(basename "$sample" .png | sed 's/^0*//')," "$data/labels.csv" | sed 's/^/   true label (ID,gender,age): /'
echo "== gaitord export --checkpoint $run/best.ckpt --format onnx --out $run/glcnn.onnx"
$bin export --checkpoint "$run/best.ckpt" --format onnx --out "$run/glcnn.onnx"
footage=${FOOTAGE:-$run/footage}
echo "== gaitord synth --video --out $footage --video-size 320x240   (one walker, with ground truth)"
rm -rf "$footage"
$bin synth --video --out "$footage" --walkers 1 --video-size 320x240 --seed 2
echo "== gaitord predict --checkpoint $run/best.ckpt --annotate $footage/walk_annotated.mp4 $footage/walk.mp4"
$bin predict --checkpoint "$run/best.ckpt" --annotate "$footage/walk_annotated.mp4" "$footage/walk.mp4"

#!/usr/bin/env bash
# run.sh — the gocv comparison of docs/video.md: installs Debian's OpenCV
# development files (scripts/install_gocv_bench.sh), builds gocvbench
# against gocv v0.25.0 with a cold Go build cache (timing the build),
# writes the 640×480 benchmark footage (bench/footage) and times OpenCV's
# MOG2 + median + connected components on it, then gaitord's own
# silhouette steps on the same footage (BenchmarkSegment640).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
scripts/install_gocv_bench.sh
. <(scripts/install_libtorch.sh --print)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== build gocvbench (gocv v0.25.0, cold cache)"
(cd bench/gocv && time GOCACHE="$work/cache" go build -o "$work/gocvbench" .)
echo "== footage"
go run ./bench/footage -out "$work/footage/walk.mp4"
echo "== OpenCV through gocv: MOG2 + median 3x3 + connected components"
"$work/gocvbench" -frames 240 "$work/footage/walk.mp4"
echo "== gaitord (internal/video): background, shadows, edges, majority, components, holes, grouping"
go test -run - -bench 'Segment640' -benchtime 3x ./internal/video/ | grep Benchmark

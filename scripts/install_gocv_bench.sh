#!/usr/bin/env bash
# install_gocv_bench.sh — what bench/gocv needs: Debian's OpenCV development
# files (libopencv-dev 4.6), for the gocv v0.25.0 comparison with gaitord's
# own silhouette pipeline (internal/video). gaitord itself does not need
# them. Prints the installed size the packages added. Idempotent.
set -euo pipefail
log() { echo "install_gocv_bench: $*" >&2; }
if dpkg-query -W -f='${Status}' libopencv-dev 2>/dev/null | grep -q "install ok installed"; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  log "error: libopencv-dev is missing; run: sudo apt-get install -y --no-install-recommends libopencv-dev"
  exit 1
fi
before=$(dpkg-query -W -f='${Installed-Size}\n' | awk '{s+=$1} END {print s}')
log "installing libopencv-dev with apt"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends libopencv-dev >/dev/null
after=$(dpkg-query -W -f='${Installed-Size}\n' | awk '{s+=$1} END {print s}')
log "libopencv-dev and its dependencies added $(( (after - before) / 1024 )) MiB"

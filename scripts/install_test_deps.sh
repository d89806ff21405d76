#!/usr/bin/env bash
# install_test_deps.sh — what the tests need beyond the build: Debian's
# python3-torch and python3-onnx (the PyTorch reference the parity tests run
# under /usr/bin/python3), python3-numpy (the OpenGait pickles internal/opengait
# reads are written at test time by NumPy), python3-pil (the PNG reader of
# python/gaitord_torch.py, which tests/e2e checks against predict --json), ONNX Runtime for Node.js (tools/ort),
# which checks exported ONNX models, ffmpeg, which the video tests run to encode
# their synthetic footage and decode it (scripts/install_libtorch.sh installs it
# for the product too), Debian's chromium, the real browser the `gaitord serve`
# web page test drives (tests/serve, through chromedp), and staticcheck in
# .cache/bin for `make lint`.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { echo "install_test_deps: $*" >&2; }

missing=()
for p in python3-torch python3-onnx python3-numpy python3-pil nodejs ffmpeg chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere (nodesource, nvm): a working node is enough.
if command -v node >/dev/null; then missing=("${missing[@]/nodejs}"); fi
read -r -a missing <<<"${missing[*]}"
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    log "error: missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installing ${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v npm >/dev/null || { apt-get install -y -qq --no-install-recommends npm >/dev/null; }

# onnxruntime-node: --ignore-scripts, because its install script downloads CUDA
# parts from a host that is not a package registry; the CPU library ships inside.
if [[ -f "$root/tools/ort/package.json" && ! -d "$root/tools/ort/node_modules/onnxruntime-node" ]]; then
  log "installing onnxruntime-node into tools/ort"
  (cd "$root/tools/ort" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1 ||
    npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi

# staticcheck, pinned, built from the module proxy with `go install pkg@version`,
# which uses staticcheck's own go.mod. A `tool` directive in gaitord's go.mod
# would instead merge its dependencies (golang.org/x/tools, x/mod, x/sync, …)
# into the product's build list, where minimal version selection moves them
# (x/tools v0.51.0 → v0.52.0 today, a combination staticcheck was not
# released with) and where they could in turn raise the product's own.
staticcheck_version=v0.8.2
if ! "$root/.cache/bin/staticcheck" -version 2>/dev/null | grep -qF "(${staticcheck_version#v})"; then
  command -v go >/dev/null || { log "error: go is not on PATH: staticcheck is built with it"; exit 1; }
  log "installing staticcheck $staticcheck_version into .cache/bin"
  (cd "$root" && GOBIN="$root/.cache/bin" go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version")
fi

#!/usr/bin/env bash
# install_libtorch.sh — make libtorch usable from Go for gaitord.
#
#   scripts/install_libtorch.sh            # Debian's libtorch-dev (installed with apt if missing)
#   LIBTORCH=/path/to/libtorch scripts/install_libtorch.sh   # any libtorch tree with include/ and lib/
#                                          # (e.g. .../site-packages/torch of a CUDA PyTorch)
#   GOTORCH_SRC=/path/to/gotorch LIBTORCH=... scripts/install_libtorch.sh   # on a machine without Go
#
# It then builds, into .cache/native/<libtorch version>-<cpu|cuda>-<hash>/<lib>-<source hash>/:
#   libcgotorch.so  gotorch's C++ shim, copied out of the read-only Go module cache
#   libtorchx.so    gaitord's own tensor operations (native/torchx)
# and writes .cache/native/env.mk, which the Makefile includes, with the
# CGO_LDFLAGS / LD_LIBRARY_PATH that `go build` and `go test` need. With
# --print it also prints that environment as shell `export` lines.
#
# Idempotent and quiet when there is nothing to do. Never edits the module cache.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
print_env=0
[[ "${1:-}" == "--print" ]] && print_env=1

log() { echo "install_libtorch: $*" >&2; }
die() { log "error: $*"; exit 1; }

apt_install() {
  # apt_install PKG... installs the packages that are missing.
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
  fi
  log "installing ${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# GOTORCH_SRC: a copy of gotorch's module folder, for machines without Go
# (e.g. a GPU machine that runs a gaitord binary built elsewhere).
# The minimum Go is go.mod's `go` line; this message reads it from there.
go_min=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$root/go.mod")
[[ -n "${GOTORCH_SRC:-}" ]] || command -v go >/dev/null || die "Go is not on PATH (need Go >= ${go_min:-the go line of go.mod}), and GOTORCH_SRC is not set"

# ffmpeg: the programs (ffmpeg, ffprobe) that decode and encode footage for the
# video pipeline (internal/ffmpeg); gaitord runs them, it does not link them.
# Without root and without ffmpeg the build goes on: only the video commands
# need it, and they say how to install it.
if [[ $(id -u) -eq 0 ]]; then
  apt_install ffmpeg
elif ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  log "warning: ffmpeg/ffprobe not found; the video commands need them: sudo apt-get install -y ffmpeg"
fi

cuda=0
abi_flag=""
if [[ -z "${LIBTORCH:-}" ]]; then
  # OpenBLAS: Debian's libblas.so.3 otherwise falls back to the slow reference BLAS.
  # libgloo-dev: the Gloo headers that c10d's ProcessGroupGloo.hpp includes (data-parallel training).
  apt_install libtorch-dev libopenblas0-pthread libgloo-dev g++
  inc=(/usr/include /usr/include/torch/csrc/api/include)
  libdir=/usr/lib/$(gcc -print-multiarch)
  ver_h=/usr/include/torch/csrc/api/include/torch/version.h
else
  [[ -d "$LIBTORCH/include" && -d "$LIBTORCH/lib" ]] || die "LIBTORCH=$LIBTORCH has no include/ and lib/"
  command -v g++ >/dev/null || die "g++ is not on PATH"
  inc=("$LIBTORCH/include" "$LIBTORCH/include/torch/csrc/api/include")
  libdir=$LIBTORCH/lib
  ver_h=$LIBTORCH/include/torch/csrc/api/include/torch/version.h
  [[ -e "$libdir/libtorch_cuda.so" ]] && cuda=1
  # Match the C++ ABI the tree was built with (pip wheels record it in TorchConfig.cmake).
  abi=$(grep -ho '_GLIBCXX_USE_CXX11_ABI=[01]' "$LIBTORCH"/share/cmake/Torch/TorchConfig.cmake 2>/dev/null | head -1 || true)
  [[ -n "$abi" ]] && abi_flag="-D$abi"
fi
[[ -f "$ver_h" ]] || die "no torch/version.h under ${inc[*]}"
version=$(sed -n 's/^#define TORCH_VERSION "\(.*\)"/\1/p' "$ver_h")
if [[ -z "$version" ]]; then
  # Newer releases keep the numbers in another version.h that this one includes.
  vfiles=("$ver_h" $(find "${inc[0]}/torch" -name version.h 2>/dev/null))
  version=$(cat "${vfiles[@]}" | awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)[ \t]/ && !seen[$2]++ {printf "%s%s", sep, $3; sep="."}')
fi
[[ -n "$version" ]] || version=unknown

gotorch=${GOTORCH_SRC:-$(cd "$root" && go list -m -f '{{.Dir}}' github.com/wangkuiyi/gotorch 2>/dev/null || true)}
if [[ -z "${GOTORCH_SRC:-}" && ( -z "$gotorch" || ! -d "$gotorch/cgotorch" ) ]]; then
  (cd "$root" && go mod download github.com/wangkuiyi/gotorch)
  gotorch=$(cd "$root" && go list -m -f '{{.Dir}}' github.com/wangkuiyi/gotorch)
fi

flavour=cpu
[[ $cuda -eq 1 ]] && flavour=cuda
# One folder per libtorch; inside it one per library, keyed by its sources, so
# editing native/torchx rebuilds only libtorchx.so.
basehash=$(echo "$abi_flag ${CXXSTD:+$CXXSTD }${EXTRA_CXXFLAGS:+$EXTRA_CXXFLAGS }$libdir ${inc[*]}" | sha256sum | cut -c1-8)
base=$root/.cache/native/$version-$flavour-$basehash

# CXXSTD: the C++ standard (newer libtorch releases may need c++20).
# EXTRA_CXXFLAGS: more compiler flags (e.g. -DTX_NO_NCCL to leave NCCL out).
common=(-std=${CXXSTD:-c++17} -fPIC -O2 $abi_flag ${EXTRA_CXXFLAGS:-})
hdrs=("${inc[@]}")
if [[ $cuda -eq 1 ]]; then
  common+=(-DWITH_CUDA)
  # CUDA runtime headers (c10/cuda includes cuda_runtime_api.h): the toolkit's,
  # or those of pip's nvidia-* packages next to a pip-installed torch.
  for d in "${CUDA_HOME:-/usr/local/cuda}/include" "$LIBTORCH"/../nvidia/*/include; do
    [[ -d "$d" ]] && hdrs+=("$d")
  done
fi
# gotorch's pinned shim: built as it comes, warnings off (not our code).
gtflags=("${common[@]}" -w)
for d in "${hdrs[@]}"; do gtflags+=(-I "$d"); done
# gaitord's own C++ (native/torchx): every warning on, and libtorch's and
# CUDA's headers included as system headers (-isystem), so that only
# warnings in our code show. The compiler's own folders (/usr/include) are
# left out: -isystem there reorders them and breaks libstdc++'s #include_next.
# Against Debian's libtorch, the configuration the tests build, a warning is
# an error; with another tree (LIBTORCH=…, often a newer release that
# deprecates what we call) warnings are printed but do not stop the build.
txflags=("${common[@]}" -Wall -Wextra)
[[ -z "${LIBTORCH:-}" ]] && txflags+=(-Werror)
for d in "${hdrs[@]}"; do
  [[ $d == /usr/include || $d == /usr/local/include ]] && continue
  txflags+=(-isystem "$d")
done

gthash=$(cat "$gotorch"/cgotorch/*.cc "$gotorch"/cgotorch/*.h | sha256sum | cut -c1-8)
# torchx's folder is keyed by its flags too: a change of warning flags rebuilds it.
txhash=$( (cat "$root"/native/torchx/*; echo "${txflags[*]}") | sha256sum | cut -c1-8)
gtdir=$base/cgotorch-$gthash
txdir=$base/torchx-$txhash
mkdir -p "$gtdir" "$txdir"
ldlibs=(-L "$libdir" -Wl,-rpath,"$libdir" -ltorch -ltorch_cpu -lc10)
[[ $cuda -eq 1 ]] && ldlibs+=(-Wl,--no-as-needed -ltorch_cuda -lc10_cuda)

build_lib() {
  # build_lib NAME OUTDIR SRCDIR INCLUDE_PARENT FLAGS...: compile SRCDIR/*.cc with
  # FLAGS in parallel, link OUTDIR/libNAME.so.
  local name=$1 out=$2 src=$3 parent=$4 objs=() pids=() cc obj
  local flags=("${@:5}")
  [[ -f "$out/lib$name.so" ]] && return 0
  log "building lib$name.so against libtorch $version ($flavour); this takes a minute or two"
  mkdir -p "$out/obj/$name"
  for cc in "$src"/*.cc; do
    obj=$out/obj/$name/$(basename "${cc%.cc}").o
    objs+=("$obj")
    g++ "${flags[@]}" -I "$parent" -c "$cc" -o "$obj" &
    pids+=($!)
    # two compilers at a time: each takes ~1.5 GB
    if [[ ${#pids[@]} -ge $(nproc) ]]; then wait "${pids[0]}" || die "compiling for lib$name failed"; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || die "compiling for lib$name failed"; done
  g++ -shared -o "$out/lib$name.so.tmp" "${objs[@]}" "${ldlibs[@]}"
  mv "$out/lib$name.so.tmp" "$out/lib$name.so"
}

# gotorch's shim includes "cgotorch/x.h", so it is compiled from a copy whose parent is on the include path.
if [[ ! -f "$gtdir/libcgotorch.so" ]]; then
  rm -rf "$gtdir/src" && mkdir -p "$gtdir/src/cgotorch"
  cp "$gotorch"/cgotorch/*.cc "$gotorch"/cgotorch/*.h "$gtdir/src/cgotorch/"
  chmod -R u+w "$gtdir/src"
fi
build_lib cgotorch "$gtdir" "$gtdir/src/cgotorch" "$gtdir/src" "${gtflags[@]}"
build_lib torchx "$txdir" "$root/native/torchx" "$root/native/torchx" "${txflags[@]}"

env_mk=$root/.cache/native/env.mk
tmp=$(mktemp "$env_mk.XXXX")
cat >"$tmp" <<EOF
# written by scripts/install_libtorch.sh; libtorch $version ($flavour) at $libdir
export CGO_LDFLAGS := -L$gtdir -Wl,-rpath,$gtdir -L$txdir -Wl,-rpath,$txdir -L$libdir -Wl,-rpath,$libdir
export LD_LIBRARY_PATH := $gtdir:$txdir:$libdir
EOF
if [[ -f "$env_mk" ]] && cmp -s "$tmp" "$env_mk"; then rm -f "$tmp"; else mv "$tmp" "$env_mk"; fi

if [[ $print_env -eq 1 ]]; then
  sed -n 's/^export \([A-Z_]*\) := \(.*\)$/export \1="\2"/p' "$env_mk"
fi

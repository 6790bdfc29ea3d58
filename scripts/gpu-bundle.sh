#!/usr/bin/env bash
# Builds the two GPU binaries and writes one self-contained folder (< 64 MiB) to carry to an
# offline GPU machine that has the NVIDIA driver and PyPI's torch 2.11.0 but no Rust:
#
#   bash scripts/gpu-bundle.sh                  # -> target/gpu-bundle/
#   # on the GPU machine:
#   bash gpu-bundle/gpu-check.sh                # -> ./gpu-check-out/results.{csv,md}
#
# The folder holds
#   bin/htl-cuda.xz   `--features cuda` (burn's native CubeCL CUDA backend, LLVM -> PTX; needs
#                     only the driver's libcuda.so.1 at run time), stripped, `xz -9`;
#   bin/htl-tch.xz    `--features tch` built against libtorch 2.11.0 (the machine's own torch
#                     is loaded at run time through LD_LIBRARY_PATH), stripped, `xz -9`;
#   experiments/      gpu_check.yaml (the sweep) and gpu_1m.yaml (the 1M-row cell);
#   benches/          pytorch_reference.py + models.py (the PyTorch side of the step benchmark);
#   reference/        quickstart-cells.csv (the CPU reference's metrics, to compare with);
#   gpu-check.sh, gpu_summary.py, BUNDLE.txt (commit, versions, sha256 of the unpacked binaries).
#
# Builds run with `nice -n 19` and `-j ${HTL_BUILD_JOBS:-1}` in their own target folders
# (HTL_CUDA_TARGET, default target/cuda; HTL_TCH_TARGET, default target/tch211) so the default
# build is never invalidated. Needs what scripts/setup-llvm.sh and
# `TORCH_VERSION=2.11.0 scripts/setup-libtorch.sh` install (run here when missing: ~92 MB and
# ~530 MB of downloads from PyPI, or pre-downloaded wheels: see those scripts). A first build
# takes long on 2 cores (see README "Running on libtorch / on a GPU"). HTL_BUNDLE_OUT sets the
# output folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${HTL_BUNDLE_OUT:-$ROOT/target/gpu-bundle}"
CUDA_TARGET="${HTL_CUDA_TARGET:-$ROOT/target/cuda}"
TCH_TARGET="${HTL_TCH_TARGET:-$ROOT/target/tch211}"
JOBS="${HTL_BUILD_JOBS:-1}"
LIMIT=$((64 * 1024 * 1024))

die() { echo "gpu-bundle: $*" >&2; exit 1; }
for t in cargo xz strip readelf sha256sum python3; do
    command -v "$t" >/dev/null || die "$t not found; install it (xz-utils, binutils, coreutils, python3, a Rust toolchain)"
done

echo "== native CUDA (--features cuda)"
bash "$ROOT/scripts/setup-llvm.sh"
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" CARGO_TARGET_DIR="$CUDA_TARGET" \
    nice -n 19 cargo build --release --features cuda -j "$JOBS"

echo "== libtorch 2.11.0 (--features tch)"
TORCH_VERSION=2.11.0 bash "$ROOT/scripts/setup-libtorch.sh" >/dev/null
(
    # shellcheck disable=SC1091
    source "${HTL_LIBTORCH_DIR:-$HOME/.cache/htl-libtorch-2.11.0}/htl-tch-env.sh"
    # shellcheck disable=SC2086  # HTL_TCH_LINK_ARGS is two words on purpose
    CARGO_TARGET_DIR="$TCH_TARGET" nice -n 19 cargo rustc --release --features tch --bin htl -j "$JOBS" -- $HTL_TCH_LINK_ARGS
)
readelf -d "$TCH_TARGET/release/htl" | grep -q 'libtorch_cuda.so' ||
    die "$TCH_TARGET/release/htl does not link libtorch_cuda.so, so libtorch-cuda:N would not work; check that $HOME/.cache/htl-libtorch-2.11.0/lib/libtorch_cuda.so exists"

echo "== bundle"
rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/bin" "$OUT.tmp/experiments" "$OUT.tmp/benches"
{
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm), $(rustc --version)"
    echo "cuda binary: burn 0.22.1 --features cuda, CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}, LLVM 23.1.1 (mlc-llvm-static)"
    echo "tch binary: burn 0.22.1 --features tch (tch 0.22), built against libtorch 2.11.0 (LIBTORCH_BYPASS_VERSION_CHECK=1)"
} >"$OUT.tmp/BUNDLE.txt"
for pair in "htl-cuda:$CUDA_TARGET/release/htl" "htl-tch:$TCH_TARGET/release/htl"; do
    name="${pair%%:*}" bin="${pair#*:}"
    cp "$bin" "$OUT.tmp/bin/$name"
    strip "$OUT.tmp/bin/$name"
    echo "sha256 $name $(sha256sum "$OUT.tmp/bin/$name" | cut -d' ' -f1)" >>"$OUT.tmp/BUNDLE.txt"
    xz -9 -T1 "$OUT.tmp/bin/$name"
done
cp experiments/gpu_check.yaml experiments/gpu_1m.yaml "$OUT.tmp/experiments/"
cp benches/pytorch_reference.py benches/models.py "$OUT.tmp/benches/"
mkdir -p "$OUT.tmp/reference"
cp results/reference/quickstart/cells.csv "$OUT.tmp/reference/quickstart-cells.csv"
cp scripts/gpu-check.sh scripts/gpu_summary.py "$OUT.tmp/"
chmod +x "$OUT.tmp/gpu-check.sh"
size=$(du -sb "$OUT.tmp" | cut -f1)
[ "$size" -lt "$LIMIT" ] || die "the bundle is $size bytes, over 64 MiB; nothing was written to $OUT"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
ls -l "$OUT" "$OUT/bin"
echo "gpu-bundle: $OUT is $((size / 1024 / 1024)) MiB ($size bytes); on the GPU machine run: bash $(basename "$OUT")/gpu-check.sh"

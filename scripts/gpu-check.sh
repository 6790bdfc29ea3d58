#!/usr/bin/env bash
# The prepared GPU check (one H200, ~10 minutes). NOT RUN YET: no GPU has been lent to this
# project so far, and the binary it needs cannot be built on the project's offline
# machines (see below). It is kept ready for the first task that has both.
#
# Two halves:
#   scripts/gpu-check.sh build   on a machine with a Rust toolchain AND internet access:
#                                builds a stripped x86-64 `htl` with the native CUDA backend
#                                into target/gpu/htl (burn-cuda's build script downloads LLVM,
#                                so it fails offline: README "Running on libtorch / on a GPU").
#   scripts/gpu-check.sh run     on the GPU machine (offline; PyTorch and the CUDA toolkit
#                                installed, no Rust): runs
#                                1. experiments/gpu_check.yaml (HTLNet + MMoE, 2 seeds) on cuda:0,
#                                2. `htl bench` on cuda:0 and on the CPU backend,
#                                3. benches/pytorch_reference.py on the same GPU (if it
#                                   accepts --device),
#                                and writes everything under $OUT (default ./gpu-check-out).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
BIN="${HTL_GPU_BIN:-target/gpu/htl}"
OUT="${OUT:-./gpu-check-out}"
case "$mode" in
build)
    cargo build --release --features cuda
    mkdir -p target/gpu
    cp target/release/htl target/gpu/htl
    strip target/gpu/htl
    ls -lh target/gpu/htl
    ;;
run)
    [ -x "$BIN" ] || { echo "gpu-check: no prebuilt binary at $BIN; run 'scripts/gpu-check.sh build' on a machine with internet access first" >&2; exit 2; }
    mkdir -p "$OUT"
    {
        echo "date: $(date -Iseconds)"
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
        echo "cpu: $(nproc) cores"
    } | tee "$OUT/env.txt"
    # 1. a small sweep on the GPU (cells one after another)
    timeout 240 "$BIN" run experiments/gpu_check.yaml --device cuda:0 --quiet --out "$OUT/sweep" | tee "$OUT/sweep.txt"
    # 2. step times: GPU vs the CPU backend on the same machine
    timeout 150 "$BIN" bench --device cuda:0 --models htlnet,mmoe --grads sum,htl --steps 30 --csv "$OUT/bench_cuda.csv" | tee "$OUT/bench_cuda.txt"
    timeout 120 "$BIN" bench --device cpu --models htlnet,mmoe --grads sum,htl --steps 10 --csv "$OUT/bench_cpu.csv" | tee "$OUT/bench_cpu.txt"
    # 3. the PyTorch reference on the same GPU
    if python3 benches/pytorch_reference.py --help 2>/dev/null | grep -q -- "--device"; then
        timeout 120 python3 benches/pytorch_reference.py --device cuda --models htlnet,mmoe --grads sum,htl --steps 30 --csv "$OUT/bench_pytorch_cuda.csv" | tee "$OUT/bench_pytorch_cuda.txt"
    else
        echo "benches/pytorch_reference.py has no --device option: PyTorch GPU reference skipped" | tee "$OUT/bench_pytorch_cuda.txt"
    fi
    echo "gpu-check: results in $OUT"
    ;;
*)
    echo "usage: scripts/gpu-check.sh build|run" >&2; exit 2 ;;
esac

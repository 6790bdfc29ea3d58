#!/usr/bin/env bash
# The GPU check. Runs on the GPU machine from a bundle made by scripts/gpu-bundle.sh (offline,
# no Rust toolchain; needs the NVIDIA driver, python3 and PyPI's torch 2.11.0 with CUDA):
#
#   bash gpu-bundle/gpu-check.sh                 # results in ./gpu-check-out
#
# Sized for at most 8 minutes on one H200 (HTL_GPU_BUDGET_S, default 420 s, bounds the
# stages; each stage also has its own timeout). In order:
#   0. fail fast, with one line, if a tool, the NVIDIA driver, the CUDA driver library
#      (libcuda.so.1 + cuInit), torch 2.11 with CUDA, or a bundle file is missing; unpack the
#      binaries (xz, else Python's lzma; sha256-checked); print device, driver and versions
#      (env.txt);
#   1. the per-step benchmark (`htl bench --device ...`, HTLNet and MMoE, plain and with the
#      HTL adjustment) on cuda:0 (native CubeCL CUDA backend) and on libtorch-cuda:0 (tch
#      against this machine's torch), and the PyTorch reference
#      (benches/pytorch_reference.py --device cuda) on the same GPU;
#   2. the sweep experiments/gpu_check.yaml (the quickstart's HTLNet + MMoE cells, 2 seeds; the
#      same cell ids as the CPU reference in results/reference/quickstart) on each GPU
#      backend, wall time each;
#   3. one 1M-row synthetic cell (HTLNet, experiments/gpu_1m.yaml) on each GPU backend;
#   4. if time is left, the same quickstart sweep on the CPU backend of this machine;
# while nvidia-smi samples GPU utilisation. Writes results.csv and results.md (plus logs and
# the run folders) under HTL_GPU_OUT (default ./gpu-check-out) and exits 0 when every stage
# finished, 1 when one failed or timed out, 2 when a precondition is missing.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RES="${HTL_GPU_OUT:-$PWD/gpu-check-out}"
BUDGET="${HTL_GPU_BUDGET_S:-420}"
T0=$(date +%s)

die() { echo "gpu-check: FAILED: $*" >&2; exit 2; }
left() { echo $((BUDGET - ($(date +%s) - T0))); }

# ---- 0. preconditions (cheap; the machine first, then the bundle; the first that fails ends
# the check with one line and exit code 2) ---------------------------------------------------
command -v timeout >/dev/null || die "coreutils' timeout not found; install coreutils"
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "python3 not found (set PYTHON=...); the check needs the Python that has torch 2.11.0"
if ! command -v xz >/dev/null && ! "$PY" -c 'import lzma' 2>/dev/null; then
    die "neither xz nor Python's lzma module is available to unpack the binaries; install xz-utils"
fi
if [ ! -e /proc/driver/nvidia/version ] && ! nvidia-smi -L >/dev/null 2>&1; then
    die "no NVIDIA driver on this machine (no /proc/driver/nvidia/version, nvidia-smi absent or failing); run this on the GPU machine"
fi
cuda_info="$("$PY" - 2>&1 <<'PY'
import ctypes, sys
try:
    cu = ctypes.CDLL("libcuda.so.1")
except OSError as e:
    print(f"the CUDA driver library libcuda.so.1 cannot be loaded ({e}); install the NVIDIA driver's CUDA library"); sys.exit(1)
rc = cu.cuInit(0)
if rc != 0:
    print(f"cuInit(0) returned CUDA error {rc}: the driver is installed but no usable GPU is visible (check CUDA_VISIBLE_DEVICES and nvidia-smi)"); sys.exit(1)
v, n = ctypes.c_int(), ctypes.c_int()
cu.cuDriverGetVersion(ctypes.byref(v)); cu.cuDeviceGetCount(ctypes.byref(n))
if n.value < 1:
    print("libcuda.so.1 sees no GPU (cuDeviceGetCount = 0)"); sys.exit(1)
print(f"cuda_driver_api={v.value // 1000}.{v.value % 1000 // 10} gpus={n.value}")
PY
)" || die "$(tail -n 1 <<<"$cuda_info")"
torch_info="$("$PY" - 2>&1 <<'PY'
import os, sys, warnings
warnings.filterwarnings("ignore")  # torch warns on stderr when CUDA cannot initialise
try:
    import torch
except Exception as e:
    print(f"PyTorch is not importable by {sys.executable} ({type(e).__name__}: {e}); install torch==2.11.0 (CUDA build) or set PYTHON to the Python that has it"); sys.exit(1)
try:
    import numpy  # noqa: F401  (benches/pytorch_reference.py needs it)
except Exception as e:
    print(f"numpy is not importable by {sys.executable} ({type(e).__name__}: {e}); the PyTorch reference needs it: install numpy"); sys.exit(1)
ver = torch.__version__.split("+")[0]
if not ver.startswith("2.11."):
    print(f"torch {torch.__version__} found, but the bundled libtorch binary was built against torch 2.11.0; install torch==2.11.0 or rebuild the bundle for this version"); sys.exit(1)
if not torch.cuda.is_available():
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) cannot use the GPU (torch.cuda.is_available() is False); install the CUDA build of torch 2.11.0"); sys.exit(1)
print(f"torch={torch.__version__} torch_cuda={torch.version.cuda} torch_lib={os.path.join(os.path.dirname(torch.__file__), 'lib')} torch_device={torch.cuda.get_device_name(0).replace(' ', '_')}")
PY
)" || die "$(tail -n 1 <<<"$torch_info")"
TORCH_LIB="$(sed -n 's/.*torch_lib=\([^ ]*\).*/\1/p' <<<"$torch_info")"
for f in bin/htl-cuda.xz bin/htl-tch.xz experiments/gpu_check.yaml experiments/gpu_1m.yaml \
    benches/pytorch_reference.py benches/models.py gpu_summary.py reference/quickstart-cells.csv BUNDLE.txt; do
    [ -f "$HERE/$f" ] || die "the bundle is incomplete: $HERE/$f is missing; rebuild it with scripts/gpu-bundle.sh"
done

mkdir -p "$RES/bin" "$RES/logs" "$RES/runs" || die "cannot create the results folder $RES; set HTL_GPU_OUT to a writable folder"
RES="$(cd "$RES" && pwd)"
# Nothing is written into the bundle (it may be read-only); every run regenerates its data
# (--no-cache below), so the backends' wall times include the same work.
export HTL_CACHE_DIR="$RES/cache"
for b in htl-cuda htl-tch; do
    if command -v xz >/dev/null; then
        xz -dc "$HERE/bin/$b.xz" >"$RES/bin/$b.tmp" || die "xz could not unpack $HERE/bin/$b.xz; rebuild the bundle"
    else
        "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
            "$HERE/bin/$b.xz" "$RES/bin/$b.tmp" || die "Python's lzma could not unpack $HERE/bin/$b.xz; rebuild the bundle"
    fi
    want="$(sed -n "s/^sha256 $b \([0-9a-f]*\)$/\1/p" "$HERE/BUNDLE.txt")"
    got="$(sha256sum "$RES/bin/$b.tmp" | cut -d' ' -f1)"
    [ "$want" = "$got" ] || die "$b unpacked with sha256 $got, but BUNDLE.txt says $want; rebuild the bundle"
    chmod +x "$RES/bin/$b.tmp" && mv "$RES/bin/$b.tmp" "$RES/bin/$b"
done
HTL_CUDA="$RES/bin/htl-cuda"
HTL_TCH="$RES/bin/htl-tch"
# The tch binary loads this machine's own libtorch (and, through it, the CUDA libraries).
TCH="$RES/bin/htl-tch-run"
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s" "$@"\n' "$TORCH_LIB" "$HTL_TCH" >"$TCH"
chmod +x "$TCH"
"$HTL_CUDA" --version >/dev/null 2>"$RES/logs/start-cuda.txt" ||
    die "htl-cuda does not start: $(head -n1 "$RES/logs/start-cuda.txt")"
"$TCH" --version >/dev/null 2>"$RES/logs/start-tch.txt" ||
    die "htl-tch does not start against $TORCH_LIB: $(head -n1 "$RES/logs/start-tch.txt")"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm), $(nproc) cores, $(free -g 2>/dev/null | awk '/Mem:/{print $2 " GiB"}')"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>/dev/null |
        sed 's/^/gpu (name, driver, memory, compute capability): /'
    echo "$cuda_info"
    echo "$torch_info"
    sed 's/^/bundle: /' "$HERE/BUNDLE.txt"
} | tee "$RES/env.txt"

# ---- GPU utilisation sampler (best effort) ------------------------------------------------
: >"$RES/util.csv"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 500 \
    >"$RES/util.csv" 2>/dev/null &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null' EXIT
: >"$RES/stages.csv"   # stage,start_epoch,end_epoch,status

status_all=0
# stage NAME CAP_S CMD...: runs CMD with a timeout of min(CAP_S, time left), logs it, records
# its window and status.
stage() {
    local name="$1" cap="$2"; shift 2
    local budget t st
    budget=$(left)
    if [ "$budget" -lt 10 ]; then
        echo "gpu-check: $name skipped: the time budget is spent"
        echo "$name,$(date +%s.%N),$(date +%s.%N),skipped" >>"$RES/stages.csv"
        status_all=1
        return
    fi
    [ "$budget" -gt "$cap" ] && budget=$cap
    echo "gpu-check: $name (at most ${budget}s) ..."
    t=$(date +%s.%N)
    timeout -k 5 "$budget" "$@" >"$RES/logs/$name.txt" 2>&1
    case $? in
        0) st=ok ;;
        124 | 137) st=timeout; status_all=1 ;;
        *) st=failed; status_all=1 ;;
    esac
    echo "$name,$t,$(date +%s.%N),$st" >>"$RES/stages.csv"
    echo "gpu-check: $name $st in $(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
    [ "$st" = ok ] || tail -n 3 "$RES/logs/$name.txt" | sed 's/^/    /'
}

cd "$HERE" || die "cannot enter $HERE"
Q=(experiments/gpu_check.yaml --quiet --no-report --no-cache)
M=(experiments/gpu_1m.yaml --quiet --no-report --no-cache)
# ---- 1. per-step benchmark, one process per configuration (first: the figures that matter most) -----------------------------------
B=(--batch 2048 --fields 20 --vocab 10000 --dim 16 --steps 30 --warmup 10 --threads "$(nproc)")
for mg in htlnet:sum htlnet:htl mmoe:sum mmoe:htl; do
    m=${mg%:*} g=${mg#*:}
    stage "bench-cuda-$m-$g" 30 "$HTL_CUDA" bench --device cuda:0 --models "$m" --grads "$g" "${B[@]}" --csv "$RES/runs/bench-cuda-$m-$g.csv"
    stage "bench-tch-$m-$g" 20 "$TCH" bench --device libtorch-cuda:0 --models "$m" --grads "$g" "${B[@]}" --csv "$RES/runs/bench-tch-$m-$g.csv"
    stage "bench-pytorch-$m-$g" 20 "$PY" benches/pytorch_reference.py --device cuda --models "$m" --grads "$g" "${B[@]}" --csv "$RES/runs/bench-pytorch-$m-$g.csv"
done
# ---- 2. + 3. sweeps --------------------------------------------------------------------------
stage sweep-cuda 60 "$HTL_CUDA" run "${Q[@]}" --device cuda:0 --out "$RES/runs/sweep-cuda"
stage sweep-tch 60 "$TCH" run "${Q[@]}" --device libtorch-cuda:0 --out "$RES/runs/sweep-tch"
stage 1m-cuda 45 "$HTL_CUDA" run "${M[@]}" --device cuda:0 --out "$RES/runs/1m-cuda"
stage 1m-tch 45 "$TCH" run "${M[@]}" --device libtorch-cuda:0 --out "$RES/runs/1m-tch"
# ---- 4. the same sweep on this machine's CPU, if time is left --------------------------------
if [ "$(left)" -ge 60 ]; then
    stage sweep-cpu 120 "$HTL_CUDA" run "${Q[@]}" --device cpu --out "$RES/runs/sweep-cpu"
else
    echo "gpu-check: sweep-cpu skipped (less than 60 s of the budget left)"
fi
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null

# ---- results.csv + results.md -----------------------------------------------------------------
"$PY" "$HERE/gpu_summary.py" "$RES" || { echo "gpu-check: the summary could not be written" >&2; exit 1; }
echo "gpu-check: results in $RES/results.csv and $RES/results.md ($(($(date +%s) - T0)) s)"
exit "$status_all"

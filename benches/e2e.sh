#!/usr/bin/env bash
# End to end: the quickstart sweep with `htl run` vs an equivalent PyTorch loop.
#
#   benches/e2e.sh                    # JOBS unset: htl's default (cells side by side, one per core)
#   JOBS=1 benches/e2e.sh             # htl cells one after another, like the PyTorch loop
#   HTL=/path/to/htl benches/e2e.sh   # a given binary (default: target/release/htl)
#   PER_TASK=rows benches/e2e.sh      # PyTorch HTLNet with the Rust step's per-task scheme
#   EXPERIMENT=path.yaml benches/e2e.sh   # another synthetic experiment (default: quickstart)
#   WAIT_QUIET=0.3 benches/e2e.sh     # first wait until the machine is quiet (quiet.sh)
#
# Rust: `htl run experiments/quickstart.yaml --force --quiet --out <tmp>`, whole process timed
# (it generates the 100k synthetic rows in-process, encodes, trains every cell, writes results).
# PyTorch: the same data exported beforehand (`htl data gen --rows 100000 --seed 7`, untimed),
# then benches/e2e_pytorch.py, whole process timed (CSV read, split, encoding, every cell one
# after another, evaluation, results) with THREADS torch threads (default: all cores).
# htl's cells share one rayon pool of JOBS threads (default: all cores), which is also the
# backend's thread pool: JOBS=1 means one cell at a time on one thread.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
THREADS="${THREADS:-$(nproc)}"
OUT="${OUT:-$here/out/e2e-$(date +%Y%m%d-%H%M%S)}"
py="$here/.venv/bin/python"
[ -x "$py" ] || { echo "no benches/.venv: run benches/setup_venv.sh first" >&2; exit 1; }
# The binary: $HTL, else target/release/htl (built here only when missing: rebuilding with
# other features than the last build would rebuild most of burn).
HTL="${HTL:-$root/target/release/htl}"
if [ ! -x "$HTL" ]; then
    (cd "$root" && cargo build --release --quiet)
fi
yaml="${EXPERIMENT:-$root/experiments/quickstart.yaml}"
read -r rows seed < <("$py" -c 'import sys, yaml; s = yaml.safe_load(open(sys.argv[1]))["dataset"]["synthetic"]; print(s.get("rows", 100000), s.get("seed", 1))' "$yaml")
mkdir -p "$OUT"
. "$here/quiet.sh"
wait_quiet
tmp="$(mktemp -d /tmp/htl-e2e.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
echo "date: $(date -Iseconds); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/env.txt"

jobs_arg=()
[ -n "${JOBS:-}" ] && jobs_arg=(--jobs "$JOBS")
echo "== Rust: htl run $yaml ${jobs_arg[*]}" >&2
t0=$(date +%s.%N)
"$HTL" run "$yaml" --force --quiet --out "$tmp/rust" "${jobs_arg[@]}" >"$OUT/rust.txt"
t1=$(date +%s.%N)
rust_s=$(echo "$t1 - $t0" | bc -l)

"$HTL" data gen --rows "$rows" --seed "$seed" --out "$tmp/quickstart.csv" >/dev/null
echo "== PyTorch: e2e_pytorch.py ($rows rows, seed $seed)" >&2
t0=$(date +%s.%N)
"$py" "$here/e2e_pytorch.py" "$tmp/quickstart.csv" --experiment "$yaml" --threads "$THREADS" \
    --per-task "${PER_TASK:-autograd}" --out "$tmp/pytorch" >"$OUT/pytorch.txt"
t1=$(date +%s.%N)
torch_s=$(echo "$t1 - $t0" | bc -l)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
# Keep both result folders (small: metrics, curves, per-cell seconds) next to the timings.
cp -r "$tmp/rust" "$OUT/rust-results"
cp -r "$tmp/pytorch" "$OUT/pytorch-results"

{
    echo "| side | command | wall s |"
    echo "|---|---|---|"
    printf "| Rust | htl run %s %s | %.1f |\n" "$(basename "$yaml")" "${jobs_arg[*]:-(default jobs)}" "$rust_s"
    printf "| PyTorch %s | e2e_pytorch.py --per-task ${PER_TASK:-autograd}, cells one after another | %.1f |\n" "$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')" "$torch_s"
    printf "\nRust end-to-end speed vs PyTorch: %.2f× (PyTorch s ÷ Rust s; > 1: Rust faster). Threads: %s.\n" "$(echo "$torch_s / $rust_s" | bc -l)" "$THREADS"
} | tee "$OUT/e2e.md"
echo
echo "Rust summary:"; cat "$OUT/rust.txt"
echo; echo "PyTorch summary:"; cat "$OUT/pytorch.txt"

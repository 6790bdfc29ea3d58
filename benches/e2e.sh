#!/usr/bin/env bash
# End to end: the quickstart sweep with `htl run` vs an equivalent PyTorch loop.
#
#   benches/e2e.sh                    # JOBS unset: htl's default (cells side by side, one per core)
#   JOBS=1 benches/e2e.sh             # htl cells one after another, like the PyTorch loop
#   HTL=/path/to/htl benches/e2e.sh   # a given binary (default: target/release/htl)
#   PER_TASK=rows benches/e2e.sh      # PyTorch HTLNet with the Rust step's per-task scheme
#   EXPERIMENT=path.yaml benches/e2e.sh   # another synthetic experiment (default: quickstart)
#   WAIT_QUIET=0.3 benches/e2e.sh     # first wait until the machine is quiet (quiet.sh)
#   RUNS=5 benches/e2e.sh             # alternating runs (default 3): median [min-max] of each side and of the ratio
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
# The binary: $HTL, else target/release/htl (built here only when missing: ensure_htl).
HTL="${HTL:-$root/target/release/htl}"
. "$here/quiet.sh"
ensure_htl
yaml="${EXPERIMENT:-$root/experiments/quickstart.yaml}"
read -r rows seed < <("$py" -c 'import sys, yaml; s = yaml.safe_load(open(sys.argv[1]))["dataset"]["synthetic"]; print(s.get("rows", 100000), s.get("seed", 1))' "$yaml")
mkdir -p "$OUT"
wait_quiet
tmp="$(mktemp -d /tmp/htl-e2e.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
{
    echo "date: $(date -Iseconds)"
    echo "machine: $(machine_line)"
    echo "htl: $(htl_line)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt"

jobs_arg=()
[ -n "${JOBS:-}" ] && jobs_arg=(--jobs "$JOBS")
RUNS="${RUNS:-3}"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "e2e.sh: RUNS=$RUNS is not a positive integer" >&2; exit 1; }
"$HTL" data gen --rows "$rows" --seed "$seed" --out "$tmp/quickstart.csv" >/dev/null
torch_version="$("$py" -c 'import torch; print(torch.__version__.split("+")[0])')"
: >"$OUT/times.txt"
# Alternating runs (Rust, PyTorch, Rust, ...), so that a change in the machine's load hits both.
for i in $(seq 1 "$RUNS"); do
    wait_quiet
    echo "== run $i/$RUNS: Rust: htl run $yaml ${jobs_arg[*]} (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    t0=$(date +%s.%N)
    "$HTL" run "$yaml" --force --quiet --out "$tmp/rust" "${jobs_arg[@]}" >"$OUT/rust.txt"
    t1=$(date +%s.%N)
    rust_s=$(echo "$t1 - $t0" | bc -l)
    wait_quiet
    echo "== run $i/$RUNS: PyTorch: e2e_pytorch.py ($rows rows, seed $seed) (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    t0=$(date +%s.%N)
    "$py" "$here/e2e_pytorch.py" "$tmp/quickstart.csv" --experiment "$yaml" --threads "$THREADS" \
        --per-task "${PER_TASK:-autograd}" --out "$tmp/pytorch" >"$OUT/pytorch.txt"
    t1=$(date +%s.%N)
    torch_s=$(echo "$t1 - $t0" | bc -l)
    echo "$i $rust_s $torch_s" >>"$OUT/times.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
# Keep the last run's result folders (small: metrics, curves, per-cell seconds).
cp -r "$tmp/rust" "$OUT/rust-results"
cp -r "$tmp/pytorch" "$OUT/pytorch-results"

{
    echo "| run | Rust: htl run $(basename "$yaml") ${jobs_arg[*]:-(default jobs)}, wall s | PyTorch $torch_version: e2e_pytorch.py --per-task ${PER_TASK:-autograd}, wall s | Rust speed vs PyTorch |"
    echo "|---|---|---|---|"
    awk '{ printf "| %d | %.1f | %.1f | %.2f× |\n", $1, $2, $3, $3 / $2 }' "$OUT/times.txt"
    # median [min-max] over the runs; the ratio is taken per run.
    awk -v quickstart="$([ "$(basename "$yaml")" = quickstart.yaml ] && echo 1 || echo 0)" '
        function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        { n++; r[n] = $2; p[n] = $3; q[n] = $3 / $2 }
        END {
            mr = med(r, n); mp = med(p, n); mq = med(q, n)
            printf "| median [min–max] | %.1f [%.1f–%.1f] | %.1f [%.1f–%.1f] | %.2f× [%.2f–%.2f] |\n", mr, r[1], r[n], mp, p[1], p[n], mq, q[1], q[n]
            printf "\nRust end-to-end speed vs PyTorch over %d alternating runs: %.2f× [%.2f–%.2f] (PyTorch s ÷ Rust s per run; > 1: Rust faster).\n", n, mq, q[1], q[n]
            if (quickstart) printf "Target (issue 18, the quickstart): >= 2x: %s.\n", (q[1] >= 2 ? "met" : (mq >= 2 ? "met by the median" : "not met"))
        }' "$OUT/times.txt"
    echo "Threads: $THREADS (PyTorch); htl jobs: ${JOBS:-$(nproc)}."
} | tee "$OUT/e2e.md"
echo
echo "Rust summary:"; cat "$OUT/rust.txt"
echo; echo "PyTorch summary:"; cat "$OUT/pytorch.txt"

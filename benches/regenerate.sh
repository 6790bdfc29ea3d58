#!/usr/bin/env bash
# Regenerates the per-step table of benches/README.md: RUNS alternating runs (Rust, PyTorch,
# Rust, PyTorch, …; with HTL_B also a second htl binary after each Rust run), then one table
# of median [min–max] over the runs with the date, CPU model, load average before and after
# and the git revision, and the issue-18 targets marked met / not met.
#
#   benches/regenerate.sh                                  # defaults below
#   UPDATE_README=1 benches/regenerate.sh                  # also splice the table into benches/README.md
#   HTL_B=target-fast/release/htl LABEL_B=flex-fast GRADS=sum MODELS=shared_bottom,htlnet,mmoe \
#       benches/regenerate.sh                              # two htl builds beside PyTorch
#
# Environment (defaults): RUNS 3 (at least 3 for a figure in the README), MODELS (all eight),
# GRADS (sum,htl), THREADS 2, BATCH 2048, FIELDS 20, VOCAB 10000, DIM 16, STEPS 20, WARMUP 3,
# HTL (target/release/htl), HTL_B / LABEL_B (none / B), OUT (benches/out/regen-<date>),
# WAIT_QUIET (quiet.sh: wait for a quiet machine before each run), PARAMS=0 skips the
# parameter-count check of the PyTorch mirrors (check_params.py).
# Files in OUT: run<i>-rust.csv, run<i>-rust_b.csv, run<i>-pytorch.csv, env.txt, table.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
RUNS="${RUNS:-3}"
MODELS="${MODELS:-shared_bottom,htlnet,mmoe,dnn,esmm,aitm,ple,adatt}"
GRADS="${GRADS:-sum,htl}"
THREADS="${THREADS:-2}"
BATCH="${BATCH:-2048}"; FIELDS="${FIELDS:-20}"; VOCAB="${VOCAB:-10000}"; DIM="${DIM:-16}"
STEPS="${STEPS:-20}"; WARMUP="${WARMUP:-3}"
HTL="${HTL:-$root/target/release/htl}"
HTL_B="${HTL_B:-}"; LABEL_B="${LABEL_B:-B}"
OUT="${OUT:-$here/out/regen-$(date +%Y%m%d-%H%M%S)}"
py="$here/.venv/bin/python"
[ -x "$py" ] || { echo "regenerate.sh: no benches/.venv; run benches/setup_venv.sh first" >&2; exit 1; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "regenerate.sh: RUNS=$RUNS is not a positive integer" >&2; exit 1; }
[ "$RUNS" -ge 3 ] || echo "regenerate.sh: RUNS=$RUNS: fewer than 3 runs is not enough for a README figure" >&2
[ -x "$HTL" ] || { echo "regenerate.sh: no htl binary at $HTL; run cargo build --release or set HTL" >&2; exit 1; }
if [ -n "$HTL_B" ] && [ ! -x "$HTL_B" ]; then
    echo "regenerate.sh: HTL_B=$HTL_B is not an executable htl binary" >&2; exit 1
fi
mkdir -p "$OUT"
. "$here/quiet.sh"
shape=(--batch "$BATCH" --fields "$FIELDS" --vocab "$VOCAB" --dim "$DIM" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS")

if [ "${PARAMS:-1}" != 0 ]; then
    counts="$root/target/release/examples/param_count"
    [ -x "$counts" ] || (cd "$root" && cargo build --release --quiet --example param_count)
    "$counts" --fields "$FIELDS" --vocab "$VOCAB" --dim "$DIM" $(echo "$MODELS" | tr ',' ' ') >"$OUT/params_rust.csv"
    "$py" "$here/check_params.py" "$OUT/params_rust.csv" --models "$MODELS" --fields "$FIELDS" \
        --vocab "$VOCAB" --dim "$DIM" --csv "$OUT/params.csv"
fi

rev="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
dirty="$(cd "$root" && git status --porcelain --untracked-files=no 2>/dev/null | head -1)"
{
    echo "command: RUNS=$RUNS MODELS=$MODELS GRADS=$GRADS THREADS=$THREADS STEPS=$STEPS WARMUP=$WARMUP${HTL_B:+ HTL_B=$HTL_B LABEL_B=$LABEL_B} benches/regenerate.sh"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(machine_line)"
    echo "revision: $rev${dirty:+ (uncommitted changes)}; htl: $HTL${HTL_B:+; $LABEL_B: $HTL_B}"
    echo "pytorch: $("$py" -c 'import torch; print(torch.__version__)')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt"
for i in $(seq 1 "$RUNS"); do
    wait_quiet
    echo "== run $i/$RUNS: Rust (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    "$HTL" bench --models "$MODELS" --grads "$GRADS" "${shape[@]}" --csv "$OUT/run$i-rust.csv" >"$OUT/run$i-rust.txt"
    if [ -n "$HTL_B" ]; then
        echo "== run $i/$RUNS: $LABEL_B (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        "$HTL_B" bench --models "$MODELS" --grads "$GRADS" "${shape[@]}" --csv "$OUT/run$i-rust_b.csv" >"$OUT/run$i-rust_b.txt"
    fi
    echo "== run $i/$RUNS: PyTorch (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    "$py" "$here/pytorch_reference.py" --models "$MODELS" --grads "$GRADS" "${shape[@]}" \
        --csv "$OUT/run$i-pytorch.csv" >"$OUT/run$i-pytorch.txt"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
echo
"$py" "$here/aggregate.py" "$OUT" --md "$OUT/table.md" --label-b "$LABEL_B"
if [ "${UPDATE_README:-0}" = 1 ]; then
    "$py" - "$here/README.md" "$OUT/table.md" <<'PY'
import os, sys
readme, table = sys.argv[1], sys.argv[2]
begin, end = "<!-- regenerate.sh: begin -->", "<!-- regenerate.sh: end -->"
text = open(readme).read()
if begin not in text or end not in text:
    sys.exit(f"regenerate.sh: {readme} has no {begin} … {end} markers; add them where the table goes")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
new = head + begin + "\n" + open(table).read() + end + tail
tmp = readme + ".tmp"
open(tmp, "w").write(new)
os.replace(tmp, readme)
print(f"table written into {readme}")
PY
fi
echo "files: $OUT"

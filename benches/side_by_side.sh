#!/usr/bin/env bash
# One command: `htl bench --csv` and the PyTorch reference with the same shape and threads,
# then one table with both and the ratios.
#
#   benches/side_by_side.sh                          # defaults below
#   THREADS=2 STEPS=50 MODELS=shared_bottom,htlnet,mmoe benches/side_by_side.sh
#   HTL=/path/to/htl benches/side_by_side.sh         # a given binary (default: target/release/htl)
#
# Environment (defaults): MODELS (all eight registered models:
# shared_bottom,htlnet,mmoe,dnn,esmm,aitm,ple,adatt), GRADS (sum,htl,pcgrad,metabalance),
# BATCH 2048, FIELDS 20, VOCAB 10000, DIM 16, STEPS 30, WARMUP 5, THREADS (all cores),
# OUT (benches/out/<date>): where rust.csv, pytorch.csv and side_by_side.md go.
# ROWS=0: skip the second PyTorch run of HTLNet's adjusted steps with --per-task rows.
# WAIT_QUIET=0.3: first wait until the machine is quiet (quiet.sh).
# PARAMS=0: skip the check that every PyTorch mirror has as many parameters as htl's model
# (check_params.py, with the `param_count` example, built here when missing).
# One run of each side: for a figure to quote, use regenerate.sh (≥ 3 alternating runs).
# The PyTorch side needs benches/.venv (benches/setup_venv.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
MODELS="${MODELS:-shared_bottom,htlnet,mmoe,dnn,esmm,aitm,ple,adatt}"
GRADS="${GRADS:-sum,htl,pcgrad,metabalance}"
BATCH="${BATCH:-2048}"; FIELDS="${FIELDS:-20}"; VOCAB="${VOCAB:-10000}"; DIM="${DIM:-16}"
STEPS="${STEPS:-30}"; WARMUP="${WARMUP:-5}"; THREADS="${THREADS:-$(nproc)}"
OUT="${OUT:-$here/out/$(date +%Y%m%d-%H%M%S)}"
py="$here/.venv/bin/python"
[ -x "$py" ] || { echo "no benches/.venv: run benches/setup_venv.sh first" >&2; exit 1; }
# The binary: $HTL, else target/release/htl (built here only when missing: ensure_htl).
HTL="${HTL:-$root/target/release/htl}"
. "$here/quiet.sh"
ensure_htl
mkdir -p "$OUT"
if [ "${PARAMS:-1}" != 0 ]; then
    counts="$root/target/release/examples/param_count"
    [ -x "$counts" ] || (cd "$root" && cargo build --release --quiet --example param_count)
    "$counts" --fields "$FIELDS" --vocab "$VOCAB" --dim "$DIM" $(echo "$MODELS" | tr ',' ' ') >"$OUT/params_rust.csv"
    "$py" "$here/check_params.py" "$OUT/params_rust.csv" --models "$MODELS" --fields "$FIELDS" \
        --vocab "$VOCAB" --dim "$DIM" --csv "$OUT/params.csv"
fi
wait_quiet
shape=(--batch "$BATCH" --fields "$FIELDS" --vocab "$VOCAB" --dim "$DIM" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS")
{
    echo "date: $(date -Iseconds)"
    echo "machine: $(machine_line)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "htl: $(htl_line)"
} | tee "$OUT/env.txt"
echo "== Rust: $HTL bench" >&2
"$HTL" bench --models "$MODELS" --grads "$GRADS" "${shape[@]}" --csv "$OUT/rust.csv" >"$OUT/rust.txt"
echo "== PyTorch: benches/pytorch_reference.py" >&2
"$py" "$here/pytorch_reference.py" --models "$MODELS" --grads "$GRADS" "${shape[@]}" --csv "$OUT/pytorch.csv" >"$OUT/pytorch.txt"
pt_csvs=("$OUT/pytorch.csv")
# HTLNet's adjusted steps once more with the Rust step's per-task scheme (ROWS=0 skips).
rows_grads=$(echo "$GRADS" | tr ',' '\n' | { grep -v "^sum$" || true; } | paste -sd, -)
if [ "${ROWS:-1}" != 0 ] && [[ ",$MODELS," == *",htlnet,"* ]] && [ -n "$rows_grads" ]; then
    echo "== PyTorch: benches/pytorch_reference.py --per-task rows (htlnet)" >&2
    "$py" "$here/pytorch_reference.py" --models htlnet --grads "$rows_grads" --per-task rows "${shape[@]}" \
        --csv "$OUT/pytorch_rows.csv" >"$OUT/pytorch_rows.txt"
    pt_csvs+=("$OUT/pytorch_rows.csv")
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
echo
"$py" "$here/compare.py" "$OUT/rust.csv" "${pt_csvs[@]}" --md "$OUT/side_by_side.md"
echo
echo "files: $OUT"

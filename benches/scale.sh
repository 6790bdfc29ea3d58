#!/usr/bin/env bash
# Scale: a KuaiRand-Pure-sized synthetic set trained for one epoch by HTLNet and MMoE, with
# rows/s, wall time and peak memory, and a projection of the paper's full table.
#
#   benches/scale.sh                  # 1,436,609 rows, HTLNet + MMoE, one epoch, JOBS 1 then 2
#   JOBS_LIST=2 benches/scale.sh      # only cells side by side
#   ROWS=200000 benches/scale.sh      # a smaller set (to check the script)
#   HTL=/path/to/htl benches/scale.sh
#
# Environment (defaults): ROWS (1436609: KuaiRand-Pure's standard logs), JOBS_LIST ("1 2":
# one run per entry, `htl run --jobs J`), HTL (target/release/htl), OUT
# (benches/out/scale-<date>), WAIT_QUIET (quiet.sh), EPOCHS_PROJ (10: epochs per training in
# the projection), CORES_PROJ (32).
#
# The data (written to OUT/scale.yaml): `synthetic:` with ROWS rows, the release's vocabularies
# of the two id fields (27,285 users, 7,583 videos), 37 more categorical fields and 5 numeric
# ones, i.e. the width of the `kuairand_pure` preset (39 categorical + 5 numeric features; the
# release's raw tables have about 60 columns, of which the preset keeps these). The 37 other
# vocabularies are of the order of the release's fields (author and music ids in thousands,
# hour-minute 1,440, flags 2, ranges and one-hot features tens), not read from it. Split 8:1:1.
# One epoch (no early stopping), batch 2048, embedding 16, the models' defaults.
#
# Timed: the whole `htl run --force --no-report` process with /usr/bin/time (wall, peak RSS:
# data generation, encoding, training, evaluation, results), and per cell the first epoch's
# seconds from its curves.csv (training steps plus the validation pass). rows/s = training
# rows ÷ that epoch's seconds. Peak RSS with JOBS 1 and 2 shows what a second cell costs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
ROWS="${ROWS:-1436609}"
JOBS_LIST="${JOBS_LIST:-1 2}"
EPOCHS_PROJ="${EPOCHS_PROJ:-10}"
CORES_PROJ="${CORES_PROJ:-32}"
OUT="${OUT:-$here/out/scale-$(date +%Y%m%d-%H%M%S)}"
HTL="${HTL:-$root/target/release/htl}"
[[ "$ROWS" =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: ROWS=$ROWS is not a positive integer" >&2; exit 1; }
for j in $JOBS_LIST; do
    [[ "$j" =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: JOBS_LIST entry $j is not a positive integer" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "scale.sh: needs GNU time at /usr/bin/time (Debian package 'time') for the peak memory" >&2; exit 1; }
. "$here/quiet.sh"
ensure_htl
mkdir -p "$OUT"
yaml="$OUT/scale.yaml"
cat >"$yaml" <<EOF
# Written by benches/scale.sh: KuaiRand-Pure-sized synthetic data, one epoch.
name: scale_kuairand
dataset:
  synthetic:
    rows: $ROWS
    users: 27285
    items: 7583
    # author, music, hour-minute, tab, 4 user flags, 4 ranges, 18 one-hot features,
    # video type, upload type, visible status, width, height, music type, tag
    context_vocab: [6000, 4000, 1440, 15, 5, 2, 2, 2, 8, 9, 8, 9,
                    10, 50, 30, 20, 60, 40, 10, 50, 30, 20, 60, 40, 10, 50, 30, 20, 60, 40,
                    2, 5, 2, 50, 50, 6, 200]
    numeric: 5
    seed: 7
train: {epochs: 1, batch_size: 2048}
seeds: [1]
constant_reference: false
base: {options: {embed_dim: 16}}
variants:
  - {label: HTLNet, model: htlnet}
  - {label: MMoE, model: mmoe}
EOF
cores=$(nproc)
{
    echo "date: $(date -Iseconds)"
    echo "machine: $(machine_line)"
    echo "htl: $(htl_line); $("$HTL" --version 2>/dev/null | head -1)"
    echo "rows: $ROWS"
} | tee "$OUT/env.txt"
table="$OUT/scale.md"
echo "| jobs | cell | train rows | epoch s | rows/s | process wall s | process peak RSS MiB | load before | load after |" >"$table"
echo "|---|---|---|---|---|---|---|---|---|" >>"$table"
for j in $JOBS_LIST; do
    wait_quiet
    load0=$(cut -d' ' -f1 /proc/loadavg)
    res="$OUT/results-jobs$j"
    /usr/bin/time -f '%e %M' -o "$OUT/time-jobs$j.txt" \
        "$HTL" run "$yaml" --force --quiet --no-report --jobs "$j" --out "$res" >"$OUT/htl-jobs$j.txt" 2>"$OUT/htl-jobs$j.err" \
        || { echo "scale.sh: htl run --jobs $j failed; see $OUT/htl-jobs$j.err:" >&2; tail -5 "$OUT/htl-jobs$j.err" >&2; exit 1; }
    load1=$(cut -d' ' -f1 /proc/loadavg)
    read -r wall rss_kib <"$OUT/time-jobs$j.txt"
    train_rows=$(( ROWS * 8 / 10 ))
    for d in "$res"/cells/*/; do
        cell=$(basename "$d")
        # curves.csv: epoch 0 is the evaluation before training; epoch 1's seconds minus
        # epoch 0's are the first epoch (training steps + validation pass).
        awk -F, -v cell="$cell" -v j="$j" -v n="$train_rows" -v wall="$wall" -v rss="$rss_kib" -v l0="$load0" -v l1="$load1" '
            NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
            $1 == 0 { s0 = $c } $1 == 1 { s1 = $c }
            END { printf "| %s | %s | %d | %.1f | %.0f | %.1f | %.0f | %s | %s |\n", j, cell, n, s1 - s0, n / (s1 - s0), wall, rss / 1024, l0, l1 }' \
            "$d/curves.csv" >>"$table"
    done
done
cat "$table"
# Projection of the paper's full table (8 models x 5 seeds, EPOCHS_PROJ epochs each) from the
# JOBS 1 run (one cell on one core): HTLNet, ESMM, AITM and Shared-Bottom at HTLNet's epoch
# time, MMoE and DNN at MMoE's, PLE and AdaTT at 1.5x MMoE's (their plain steps are about
# 1.5x MMoE's in benches/README.md); cells side by side, one per core, perfectly packed.
awk -F'|' -v e="$EPOCHS_PROJ" -v cores="$cores" -v big="$CORES_PROJ" '
    NR > 2 && $2 + 0 == 1 { s = $5 + 0; if ($3 ~ /mmoe/) m = s; else h = s }
    END {
        if (m == 0 || h == 0) { print "\n(no JOBS 1 run: no projection)"; exit }
        per_seed = 4 * h + 2 * m + 2 * 1.5 * m
        total = 5 * e * per_seed
        printf "\nProjection (one cell per core, epochs %d, 5 seeds, 8 models; HTLNet-like models at HTLNet'"'"'s epoch %.0f s, MMoE and DNN at MMoE'"'"'s %.0f s, PLE and AdaTT at 1.5x MMoE'"'"'s):\n", e, h, m
        printf "  CPU time %.1f h; on this machine (%d cores) %.1f h; on %d cores %.1f h.\n", total / 3600, cores, total / 3600 / cores, big, total / 3600 / big
    }' "$table" | tee -a "$table"
echo "files: $OUT"

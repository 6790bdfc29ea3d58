#!/usr/bin/env bash
# The torch-rechub peer protocol on Hillstrom (../shared/data/peers/README.md) with `htl run`:
# the peer's five models (Shared-Bottom, MMoE, PLE, ESMM, AITM) × SEEDS, our wall time and
# time per training beside torch-rechub's 573 s for 40 trainings (14.3 s each) on a 2-core
# machine, and the CPU utilisation during the sweep.
#
#   benches/peer_hillstrom.sh                 # 5 models × seeds 1-5 = 25 trainings
#   SEEDS=1 benches/peer_hillstrom.sh         # one seed: 5 trainings (checks the script)
#   JOBS=1 benches/peer_hillstrom.sh          # one cell at a time on one thread
#   HTL=/path/to/htl benches/peer_hillstrom.sh
#
# Environment (defaults): SEEDS (1,2,3,4,5), JOBS (htl's default: one cell per core),
# HTL (target/release/htl), HTL_DATA_DIR (../shared/data beside the repository; the data is
# $HTL_DATA_DIR/hillstrom/hillstrom.csv), OUT (benches/out/peer-<date>), WAIT_QUIET (quiet.sh).
#
# The experiment is experiments/hillstrom_peer.yaml restricted to the peer's five models
# (same data, split, Adam lr 1e-3, weight decay 1e-6, batch 2048, up to 30 epochs, patience 3,
# embedding dim 16; early stopping on all tasks and standardised spend, htl's defaults, where
# the peer watches the first task's AUC and uses raw spend), written to OUT/peer.yaml. Timed:
# the whole `htl run --force --no-report` process (data read, split, encoding, every cell,
# results); the report is not part of it. The `constant` reference cell that htl adds costs
# no training and is not counted as one.
#
# CPU utilisation, two figures: ours = (user + sys CPU seconds of htl) ÷ (wall × cores);
# machine = busy share of all cores over the sweep from /proc/stat (includes anything else
# running, so read it with the load average printed beside it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
SEEDS="${SEEDS:-1,2,3,4,5}"
OUT="${OUT:-$here/out/peer-$(date +%Y%m%d-%H%M%S)}"
HTL="${HTL:-$root/target/release/htl}"
export HTL_DATA_DIR="${HTL_DATA_DIR:-$root/../shared/data}"
csv="$HTL_DATA_DIR/hillstrom/hillstrom.csv"
[ -f "$csv" ] || { echo "peer_hillstrom.sh: no $csv; set HTL_DATA_DIR to the folder that holds hillstrom/hillstrom.csv" >&2; exit 1; }
[[ "$SEEDS" =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "peer_hillstrom.sh: SEEDS=$SEEDS is not a comma-separated list of integers (e.g. SEEDS=1,2,3)" >&2; exit 1; }
if [ -n "${JOBS:-}" ] && ! [[ "$JOBS" =~ ^[1-9][0-9]*$ ]]; then
    echo "peer_hillstrom.sh: JOBS=$JOBS is not a positive integer" >&2; exit 1
fi
. "$here/quiet.sh"
ensure_htl
mkdir -p "$OUT"
yaml="$OUT/peer.yaml"
# experiments/hillstrom_peer.yaml without DNN, HTLNet and AdaTT (the peer has no such model)
# and with the seeds asked for.
cat >"$yaml" <<EOF
# Written by benches/peer_hillstrom.sh from experiments/hillstrom_peer.yaml.
name: hillstrom_peer_bench
dataset:
  name: hillstrom
  path: \$HTL_DATA_DIR/hillstrom/hillstrom.csv
  categorical: [history_segment, zip_code, channel, treatment, mens, womens, newbie]
  numeric: [recency, history]
  tasks:
    - {name: visit, kind: binary}
    - {name: conversion, kind: binary}
    - {name: spend, kind: regression}
  split: {ratios: [0.8, 0.1, 0.1], seed: 2024}
train:
  epochs: 30
  batch_size: 2048
  lr: 0.001
  weight_decay: 0.000001
  patience: 3
seeds: [$SEEDS]
base: {options: {embed_dim: 16}}
variants:
  - {label: Shared-Bottom, model: shared_bottom}
  - {label: MMoE, model: mmoe}
  - {label: PLE, model: ple}
  - {label: ESMM, model: esmm}
  - {label: AITM, model: aitm}
EOF
wait_quiet
cores=$(nproc)
n_seeds=$(echo "$SEEDS" | tr ',' '\n' | sort -u | wc -l)
trainings=$((5 * n_seeds))
jobs_arg=()
[ -n "${JOBS:-}" ] && jobs_arg=(--jobs "$JOBS")
# /proc/stat "cpu" line: user nice system idle iowait irq softirq steal ...
cpu_stat() { awk '/^cpu /{busy=$2+$3+$4+$7+$8+$9; total=busy+$5+$6; print busy, total}' /proc/stat; }
{
    echo "date: $(date -Iseconds)"
    echo "machine: $(machine_line)"
    echo "htl: $(htl_line)"
    echo "jobs: ${JOBS:-default ($cores)}; seeds: $SEEDS"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/env.txt"
read -r busy0 total0 < <(cpu_stat)
TIMEFORMAT='%R %U %S'
# bash's `time` reports the wall, user and system seconds of the command and its children.
{ time "$HTL" run "$yaml" --force --quiet --no-report --out "$OUT/results" "${jobs_arg[@]}" >"$OUT/htl.txt" 2>"$OUT/htl.err"; } 2>"$OUT/time.txt" \
    || { echo "peer_hillstrom.sh: htl run failed; see $OUT/htl.err:" >&2; tail -5 "$OUT/htl.err" >&2; exit 1; }
read -r busy1 total1 < <(cpu_stat)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/env.txt"
read -r wall user sys <"$OUT/time.txt"
# Trainings that finished: (variant, seed) pairs in cells.csv other than the constant cell.
done_cells=$(awk -F, 'NR > 1 && $2 != "constant" {print $1 "," $3}' "$OUT/results/cells.csv" | sort -u | wc -l)
[ "$done_cells" = "$trainings" ] || { echo "peer_hillstrom.sh: expected $trainings trainings, $OUT/results/cells.csv has $done_cells" >&2; exit 1; }
awk -v wall="$wall" -v user="$user" -v sys="$sys" -v n="$trainings" -v cores="$cores" \
    -v b0="$busy0" -v t0="$total0" -v b1="$busy1" -v t1="$total1" -v jobs="${JOBS:-$cores}" 'BEGIN {
    printf "| harness | trainings | wall s | s per training | CPU s per training | CPU use (ours) | CPU use (machine) |\n"
    printf "|---|---|---|---|---|---|---|\n"
    printf "| htl run (jobs %s) | %d | %.1f | %.2f | %.2f | %.0f%% of %d cores | %.0f%% |\n", jobs, n, wall, wall / n, (user + sys) / n, 100 * (user + sys) / (wall * cores), cores, 100 * (b1 - b0) / (t1 - t0)
    printf "| torch-rechub 0.9.0 (peers/README.md) | 40 | 573 | %.2f | – | – | – |\n", 573 / 40
    printf "\nSpeed per training, htl vs torch-rechub: %.2f× (573 s ÷ 40 ÷ our wall s per training; > 1: htl faster).\n", (573 / 40) / (wall / n)
    printf "torch-rechub'"'"'s figure is wall time on a 2-core machine on another day; ours is this run'"'"'s (see the load in env.txt):\n"
    printf "on a busy machine compare the CPU seconds per training, which the load does not inflate as much.\n"
}' | tee "$OUT/peer.md"
echo "files: $OUT"

#!/usr/bin/env bash
# Is a build deterministic? Runs one small experiment with the htl binary HTL three times:
# twice with --jobs 2 and once with --jobs 1 (the backend's thread pool is the pool of
# `jobs` threads, so this changes how many threads every kernel may use), and, with HTL_REF,
# once more with a reference binary (e.g. the default build, to see whether HTL's results
# differ from it). Compares every metric value and every cell's final loss curve exactly
# (as text, all digits).
#
#   HTL=target-fast/release/htl HTL_REF=target/release/htl benches/determinism.sh
#   EXPERIMENT=experiments/quickstart.yaml HTL=... benches/determinism.sh   # another YAML
#
# The default experiment (written to OUT/small.yaml): 20,000 synthetic rows, 2 epochs of batch
# 2048, seed 1; HTLNet (its default `htl` strategy, touched-row Gram), MMoE and PLE (plain
# step), Shared-Bottom with `htl` (a dense trunk: per-task surrogate backward passes and a
# Gram matrix over every shared parameter); gradient statistics every 20 steps (the default).
# Exit 0 when every comparison that must hold (run twice, jobs 1 vs 2) is identical, 1
# otherwise; the comparison with HTL_REF is reported, not required.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
HTL="${HTL:-$root/target/release/htl}"
HTL_REF="${HTL_REF:-}"
OUT="${OUT:-$here/out/determinism-$(date +%Y%m%d-%H%M%S)}"
[ -x "$HTL" ] || { echo "determinism.sh: HTL=$HTL is not an executable htl binary" >&2; exit 1; }
if [ -n "$HTL_REF" ] && [ ! -x "$HTL_REF" ]; then
    echo "determinism.sh: HTL_REF=$HTL_REF is not an executable htl binary" >&2; exit 1
fi
mkdir -p "$OUT"
yaml="${EXPERIMENT:-$OUT/small.yaml}"
if [ -z "${EXPERIMENT:-}" ]; then
    cat >"$yaml" <<'EOF'
# Written by benches/determinism.sh.
name: determinism
dataset:
  synthetic:
    rows: 20000
    seed: 7
train:
  epochs: 2
  batch_size: 2048
  lr: 0.002
  patience: 1
seeds: [1]
variants:
  - {label: HTLNet, model: htlnet}
  - {label: MMoE, model: mmoe}
  - {label: PLE, model: ple}
  - {label: Shared-Bottom-htl, model: shared_bottom, grad: htl}
EOF
fi
[ -f "$yaml" ] || { echo "determinism.sh: EXPERIMENT=$yaml does not exist" >&2; exit 1; }
echo "date: $(date -Iseconds); $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/env.txt"
echo "htl: $HTL; reference: ${HTL_REF:-none}; experiment: $yaml" | tee -a "$OUT/env.txt"
run() { # name binary jobs
    echo "== $1: $2 --jobs $3" >&2
    local t0 t1
    t0=$(date +%s.%N)
    "$2" run "$yaml" --force --quiet --no-report --jobs "$3" --out "$OUT/$1" >"$OUT/$1.txt" 2>"$OUT/$1.err" \
        || { echo "determinism.sh: $1 failed; see $OUT/$1.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    printf "%s: %.1f s\n" "$1" "$(echo "$t1 - $t0" | bc -l)" | tee -a "$OUT/env.txt"
}
run a-jobs2 "$HTL" 2
run b-jobs2 "$HTL" 2
run c-jobs1 "$HTL" 1
[ -n "$HTL_REF" ] && run ref-jobs2 "$HTL_REF" 2
# Every stored number that training produces: the metric table, each cell's metrics.json,
# curves.csv (without its `seconds` column) and grad_stats.csv. Cell folders are named by
# cell id, the same for the same YAML.
fingerprint() { # folder -> "file: line" for each of those lines
    (cd "$1" && {
        sed 's/^/cells.csv: /' cells.csv
        find cells -name metrics.json -o -name grad_stats.csv | sort | while read -r f; do sed "s|^|$f: |" "$f"; done
        find cells -name curves.csv | sort | while read -r f; do cut -d, -f2 --complement "$f" | sed "s|^|$f: |"; done
    })
}
compare() { # a b label
    if diff <(fingerprint "$OUT/$1") <(fingerprint "$OUT/$2") >"$OUT/diff-$1-$2.txt"; then
        echo "$3: identical ($(fingerprint "$OUT/$1" | wc -l) lines)"
        return 0
    fi
    echo "$3: DIFFERENT ($(grep -c '^<' "$OUT/diff-$1-$2.txt") lines differ; $OUT/diff-$1-$2.txt)"
    return 1
}
ok=0
compare a-jobs2 b-jobs2 "same cells run twice (--jobs 2)" | tee -a "$OUT/result.txt" || ok=1
compare a-jobs2 c-jobs1 "--jobs 2 vs --jobs 1" | tee -a "$OUT/result.txt" || ok=1
if [ -n "$HTL_REF" ]; then
    compare ref-jobs2 a-jobs2 "this build vs the reference build (informative)" | tee -a "$OUT/result.txt" || true
fi
echo "files: $OUT"
exit $ok

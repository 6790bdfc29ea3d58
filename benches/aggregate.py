#!/usr/bin/env python3
"""Joins the per-run CSVs of `regenerate.sh` into one table: median [min–max] over runs.

    python3 benches/aggregate.py OUT_DIR [--md table.md] [--label-b NAME]

OUT_DIR holds `run<i>-rust.csv` (`htl bench --csv`), `run<i>-pytorch.csv`
(`pytorch_reference.py --csv`), optionally `run<i>-rust_b.csv` (a second htl binary, e.g. the
`flex-fast` build), and `env.txt` (date, CPU, load, revision), for i = 1..N. For every model ×
strategy: each side's median ms/step over its steps, then over the runs the median, minimum
and maximum; the speed ratios (PyTorch ms ÷ Rust ms, > 1: Rust faster; B ms ÷ A ms as a
speed-up of B over A) are taken per run (run i's Rust beside run i's PyTorch) and then
summarised the same way; "÷ plain" is each run's step ÷ the same run's `sum` step. Then the
targets of issue 18 with met / not met. Standard library only.
"""

import argparse
import csv
import glob
import os
import re
import statistics
import sys

DENSE_TRUNKS = ("shared_bottom", "mmoe", "ple")  # `shared: trunk` by default (htl models)


def read(path):
    with open(path, newline="") as f:
        return {(r["model"], r["grad"]): r for r in csv.DictReader(f)}


def runs_of(out, side):
    files = glob.glob(os.path.join(out, f"run*-{side}.csv"))
    key = lambda p: int(re.search(r"run(\d+)-", os.path.basename(p)).group(1))  # noqa: E731
    return [read(p) for p in sorted(files, key=key)]


def summary(xs, fmt="{:.1f}", suffix=""):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–", None
    med = statistics.median(xs)
    s = (fmt.format(med) + suffix) if len(xs) == 1 else \
        f"{fmt.format(med)}{suffix} [{fmt.format(min(xs))}–{fmt.format(max(xs))}]"
    return s, (med, min(xs), max(xs))


def ms(run, key):
    r = run.get(key)
    return float(r["median_ms"]) if r else None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--md", help="also write the table here")
    p.add_argument("--label-b", default="B", help="name of the second htl binary's column")
    a = p.parse_args()
    sides = {s: runs_of(a.out, s) for s in ("rust", "rust_b", "pytorch")}
    if not sides["rust"] or not sides["pytorch"]:
        print(f"aggregate.py: no run<i>-rust.csv / run<i>-pytorch.csv in {a.out}; run benches/regenerate.sh",
              file=sys.stderr)
        return 1
    n = min(len(v) for v in sides.values() if v)
    has_b = bool(sides["rust_b"])
    order = []
    for run in sides["rust"] + sides["pytorch"]:
        for k in run:
            if k not in order:
                order.append(k)
    lb = a.label_b
    head = ["model", "grad", "Rust ms/step"] + ([f"{lb} ms/step"] if has_b else []) + ["PyTorch ms/step",
            "Rust speed vs PyTorch"] + ([f"{lb} speed vs PyTorch", f"{lb} speed-up over Rust"] if has_b else []) + [
            "Rust step ÷ plain"] + ([f"{lb} step ÷ plain"] if has_b else []) + ["PyTorch step ÷ plain"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    results = {}
    for key in order:
        model, grad = key
        plain = (model, "sum")
        col = lambda side: [ms(sides[side][i], key) for i in range(n)]  # noqa: E731
        per_plain = lambda side: [ms(sides[side][i], key) / ms(sides[side][i], plain)  # noqa: E731
                                  if ms(sides[side][i], key) and ms(sides[side][i], plain) else None
                                  for i in range(n)]
        ratio = lambda num, den: [x / y if x and y else None for x, y in zip(num, den)]  # noqa: E731
        r, q = col("rust"), col("pytorch")
        cells = [model, grad, summary(r)[0]]
        b = col("rust_b") if has_b else None
        if has_b:
            cells.append(summary(b)[0])
        cells.append(summary(q)[0])
        s_rq, v_rq = summary(ratio(q, r), "{:.2f}", "×")
        cells.append(s_rq)
        results[key] = {"rust_vs_pt": v_rq, "rust_per_plain": summary(per_plain("rust"), "{:.2f}")[1]}
        if has_b:
            s_bq, v_bq = summary(ratio(q, b), "{:.2f}", "×")
            cells += [s_bq, summary(ratio(r, b), "{:.2f}", "×")[0]]
            results[key]["b_vs_pt"] = v_bq
            results[key]["b_per_plain"] = summary(per_plain("rust_b"), "{:.2f}")[1]
        cells.append(summary(per_plain("rust"), "{:.2f}", "×")[0])
        if has_b:
            cells.append(summary(per_plain("rust_b"), "{:.2f}", "×")[0])
        cells.append(summary(per_plain("pytorch"), "{:.2f}", "×")[0])
        lines.append("| " + " | ".join(cells) + " |")
    shapes = {tuple(r[k] for k in ("batch", "fields", "vocab", "dim", "threads", "steps"))
              for side in sides.values() for run in side for r in run.values()}
    lines.append("")
    lines.append(f"Median [min–max] over {n} alternating runs (Rust, {lb + ', ' if has_b else ''}PyTorch, "
                 "Rust, …); each run's figure is the median of its timed steps. Speed = PyTorch ms ÷ Rust ms "
                 "(> 1: Rust faster), paired per run.")
    if len(shapes) == 1:
        bt, f, v, d, t, s = next(iter(shapes))
        lines.append(f"Shape: batch {bt}, {f} fields × {v} values × dim {d}, {t} threads, {s} timed steps per run.")
    else:
        lines.append(f"WARNING: the rows come from different shapes: {sorted(shapes)}")
    lines.append("")
    lines += targets(results, order, has_b, lb)
    env = os.path.join(a.out, "env.txt")
    if os.path.exists(env):
        lines.append("")
        lines.append("Conditions (`env.txt`):")
        lines.append("")
        lines += ["    " + l.rstrip() for l in open(env) if l.strip()]
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")
    return 0


def verdict(v, ok):
    if v is None:
        return "not measured"
    med, lo, hi = v
    if ok(lo) and ok(hi):
        return "**met** (every run)"
    if ok(med):
        return "met by the median, not by every run"
    return "**not met**"


def targets(results, order, has_b, lb):
    out = ["Targets (issue 18):", ""]
    plain = [k for k in order if k[1] == "sum"]
    for model, _ in plain:
        v = results[(model, "sum")]["rust_vs_pt"]
        fmt = "–" if v is None else f"{v[0]:.2f}× [{v[1]:.2f}–{v[2]:.2f}]"
        out.append(f"* plain step ≥ 1.0× PyTorch, {model}: {fmt}: {verdict(v, lambda x: x >= 1.0)}")
        if has_b:
            vb = results[(model, "sum")].get("b_vs_pt")
            fb = "–" if vb is None else f"{vb[0]:.2f}× [{vb[1]:.2f}–{vb[2]:.2f}]"
            out.append(f"  * with {lb}: {fb}: {verdict(vb, lambda x: x >= 1.0)}")
    for key in order:
        model, grad = key
        if model in DENSE_TRUNKS and grad != "sum":
            v = results[key]["rust_per_plain"]
            fmt = "–" if v is None else f"{v[0]:.2f}× [{v[1]:.2f}–{v[2]:.2f}]"
            out.append(f"* adjusted ÷ plain ≤ 1.5× on a dense trunk, {model} {grad}: {fmt}: "
                       f"{verdict(v, lambda x: x <= 1.5)}")
    return out


if __name__ == "__main__":
    sys.exit(main())

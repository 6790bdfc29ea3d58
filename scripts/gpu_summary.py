#!/usr/bin/env python3
"""Summarises a gpu-check.sh results folder into results.csv and results.md.

    python3 gpu_summary.py <results folder>

Reads stages.csv (stage,start,end,status), util.csv (nvidia-smi samples: timestamp,
utilisation %, memory MiB), env.txt, runs/bench-<impl>-<model>-<grad>.csv (rows of
`htl bench --csv` / benches/pytorch_reference.py --csv) and runs/<run>/cells/*/ (metrics.json
or failed.json per cell, cells.csv per run) and, beside this file,
reference/quickstart-cells.csv (the CPU reference's per-cell metrics). Writes results.csv and results.md atomically and prints the
Markdown. Standard library only (it runs on the GPU machine next to torch).
"""
from __future__ import annotations

import csv
import datetime
import glob
import os
import sys

HEADER = ["section", "impl", "backend", "device", "model", "grad", "batch", "median_ms", "p10_ms",
          "p90_ms", "samples_per_s", "wall_s", "cells_ok", "cells_failed", "gpu_util_mean_pct",
          "gpu_mem_max_mib", "status"]
IMPLS = [("cuda", "cuda:0", "cuda (CubeCL)"), ("tch", "libtorch-cuda:0", "libtorch-cuda (tch)"),
         ("pytorch", "cuda", "PyTorch")]
CONFIGS = [("htlnet", "sum"), ("htlnet", "htl"), ("mmoe", "sum"), ("mmoe", "htl")]
RUNS = [("sweep-cuda", "sweep", "cuda", "cuda:0"), ("sweep-tch", "sweep", "tch", "libtorch-cuda:0"),
        ("1m-cuda", "sweep-1m", "cuda", "cuda:0"), ("1m-tch", "sweep-1m", "tch", "libtorch-cuda:0"),
        ("sweep-cpu", "sweep", "flex", "cpu")]


def read_stages(res):
    """stage -> (start, end, status); a stage listed twice keeps its last line."""
    stages = {}
    path = os.path.join(res, "stages.csv")
    if os.path.exists(path):
        for row in csv.reader(open(path)):
            if len(row) == 4:
                stages[row[0]] = (float(row[1]), float(row[2]), row[3])
    return stages


def read_util(res):
    """nvidia-smi samples as (epoch seconds, utilisation %, memory MiB); bad lines skipped."""
    out = []
    path = os.path.join(res, "util.csv")
    if os.path.exists(path):
        for row in csv.reader(open(path)):
            try:
                ts = datetime.datetime.strptime(row[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
                out.append((ts, float(row[1]), float(row[2])))
            except (ValueError, IndexError):
                pass
    return out


def gpu_use(stages, util, name):
    """Mean utilisation and peak memory over a stage's window ('' when unknown)."""
    if name not in stages:
        return "", ""
    a, b, _ = stages[name]
    w = [u for u in util if a <= u[0] <= b]
    if not w:
        return "", ""
    return f"{sum(u[1] for u in w) / len(w):.0f}", f"{max(u[2] for u in w):.0f}"


def count_cells(res, run):
    d = os.path.join(res, "runs", run, "cells")
    ok = len(glob.glob(os.path.join(d, "*", "metrics.json")))
    bad = len(glob.glob(os.path.join(d, "*", "failed.json")))
    return ok, bad


def collect(res):
    stages, util = read_stages(res), read_util(res)
    rows = []
    for run, section, impl, dev in RUNS:
        if run not in stages:
            continue
        a, b, st = stages[run]
        ok, bad = count_cells(res, run)
        u, mem = gpu_use(stages, util, run)
        rows.append({"section": section, "impl": impl, "backend": impl, "device": dev,
                     "model": "htlnet" if section == "sweep-1m" else "htlnet+mmoe",
                     "wall_s": f"{b - a:.1f}", "cells_ok": ok, "cells_failed": bad,
                     "gpu_util_mean_pct": u, "gpu_mem_max_mib": mem, "status": st})
    for impl, dev, _ in IMPLS:
        for m, g in CONFIGS:
            name = f"bench-{impl}-{m}-{g}"
            if name not in stages:
                continue
            st = stages[name][2]
            u, mem = gpu_use(stages, util, name)
            path = os.path.join(res, "runs", name + ".csv")
            got = list(csv.DictReader(open(path))) if st == "ok" and os.path.exists(path) else []
            if not got:
                rows.append({"section": "step", "impl": impl, "device": dev, "model": m, "grad": g,
                             "gpu_util_mean_pct": u, "gpu_mem_max_mib": mem,
                             "status": st if st != "ok" else "no rows"})
            for r in got:
                rows.append({"section": "step", "impl": impl, "backend": r["backend"], "device": dev,
                             "model": r["model"], "grad": r["grad"], "batch": r["batch"],
                             "median_ms": r["median_ms"], "p10_ms": r["p10_ms"], "p90_ms": r["p90_ms"],
                             "samples_per_s": r["samples_per_s"], "gpu_util_mean_pct": u,
                             "gpu_mem_max_mib": mem, "status": st})
    return stages, rows


def markdown(res, here, stages, rows):
    env = open(os.path.join(res, "env.txt")).read().strip() if os.path.exists(
        os.path.join(res, "env.txt")) else "(no env.txt)"

    def step(impl, m, g):
        for r in rows:
            if r["section"] == "step" and r["impl"] == impl and r["model"] == m and r["grad"] == g \
                    and r.get("median_ms"):
                return float(r["median_ms"])
        return None

    def fmt(x):
        return "–" if x is None else f"{x:.2f}"

    md = ["# GPU check", "", "```", env, "```", "",
          "## ms per training step (median; batch 2048, 20 fields × 10,000 values × dim 16, "
          "3 tasks, Adam)", "",
          "| model | grad | " + " | ".join(t for _, _, t in IMPLS) +
          " | cuda vs PyTorch | tch vs PyTorch |",
          "| --- | --- | --- | --- | --- | --- | --- |"]
    for m, g in CONFIGS:
        c, t, p = (step(i, m, g) for i, _, _ in IMPLS)
        ratio = lambda x: "–" if x is None or p is None else f"{p / x:.2f}×"  # noqa: E731
        md.append(f"| {m} | {g} | {fmt(c)} | {fmt(t)} | {fmt(p)} | {ratio(c)} | {ratio(t)} |")
    md += ["", "(×: PyTorch's time ÷ ours; above 1 is faster than PyTorch on the same GPU.)", "",
           "## sweeps (wall time of `htl run`, data generation included)", "",
           "| run | device | wall s | cells ok | cells failed | GPU util % (mean) | "
           "GPU memory MiB (max) | status |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["section"] == "step":
            continue
        what = ("quickstart, HTLNet + MMoE, 2 seeds" if r["section"] == "sweep"
                else "synthetic 1M rows, HTLNet, 1 seed")
        md.append(f"| {what} | {r['device']} | {r['wall_s']} | {r['cells_ok']} | {r['cells_failed']} | "
                  f"{r['gpu_util_mean_pct'] or '–'} | {r['gpu_mem_max_mib'] or '–'} | {r['status']} |")
    agree = agreement(res, here)
    if agree:
        md += ["", "## test metrics vs the CPU reference (results/reference/quickstart, flex backend)", "",
               "| run | metric | max abs difference | values compared |", "| --- | --- | --- | --- |"] + agree
    bad = [f"{k}: {v[2]}" for k, v in stages.items() if v[2] != "ok"]
    md += ["", "Stages not ok: " + (", ".join(bad) if bad else "none"), ""]
    return "\n".join(md)


def read_long(path):
    """cells.csv (variant,model,seed,split,task,metric,value) -> {(variant,seed,task,metric): value}
    for the test split."""
    out = {}
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            if r.get("split") == "test":
                try:
                    out[(r["variant"], r["seed"], r["task"], r["metric"])] = float(r["value"])
                except (KeyError, ValueError):
                    pass
    return out


def agreement(res, here):
    """Markdown rows: per run and metric, the largest |difference| of a test metric from the CPU
    reference (the same cells trained on the flex backend), over the cells both have."""
    ref = read_long(os.path.join(here, "reference", "quickstart-cells.csv"))
    lines = []
    for run in ["sweep-cuda", "sweep-tch", "sweep-cpu"]:
        got = read_long(os.path.join(res, "runs", run, "cells.csv"))
        by_metric = {}
        for k, v in got.items():
            if k in ref and k[0] != "constant" and k[3] not in ("y_mean", "y_std"):
                by_metric.setdefault(k[3], []).append(abs(v - ref[k]))
        for metric in sorted(by_metric):
            d = by_metric[metric]
            lines.append(f"| {run} | {metric} | {max(d):.4f} | {len(d)} |")
    return lines


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: gpu_summary.py <gpu-check results folder>")
    res = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    stages, rows = collect(res)
    lines = [",".join(HEADER)]
    for r in rows:
        vals = [str(r.get(k, "")) for k in HEADER]
        lines.append(",".join(v if "," not in v else f'"{v}"' for v in vals))
    write_atomic(os.path.join(res, "results.csv"), "\n".join(lines) + "\n")
    md = markdown(res, here, stages, rows)
    write_atomic(os.path.join(res, "results.md"), md)
    print(md)


if __name__ == "__main__":
    main()

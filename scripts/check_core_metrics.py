#!/usr/bin/env python3
"""Recompute the core task's metrics of a result folder from its predictions, independently.

For every cell of `<result folder>` that has `cells/<id>/predictions.csv` (written by
`htl run --save-predictions`: test split, original scale), recompute with NumPy the core
task's nrmse, nmae, nrmse_mean, nmae_mean, rmse, mae, mean, std and mad, and compare them
with the values stored for that cell in `cells/<id>/metrics.json` and in the folder's
`cells.csv` (matched on variant and seed). Exits 1 on the first mismatch or when no cell
has predictions.

    /work/.venv-fx/bin/python scripts/check_core_metrics.py results/htlnet_ablations_paper

Definitions (as in src/metrics/mod.rs): nrmse = RMSE / std(y) with the population std
(ddof = 0), nmae = MAE / mean|y - mean(y)|, nrmse_mean = RMSE / mean(y),
nmae_mean = MAE / mean(y), mad = mean|y - mean(y)|. Predictions are float32 values, read
as float32 and computed in float64 (as the Rust side does).
"""

import csv
import json
import pathlib
import sys

import numpy as np

KEYS = ["nrmse", "nmae", "nrmse_mean", "nmae_mean", "rmse", "mae", "mean", "std", "mad"]
REL_TOL = 1e-9


def recompute(y, p):
    err = y - p
    rmse = float(np.sqrt(np.mean(err**2)))
    mae = float(np.mean(np.abs(err)))
    mean = float(np.mean(y))
    std = float(np.std(y, ddof=0))
    mad = float(np.mean(np.abs(y - mean)))
    return {
        "nrmse": rmse / std,
        "nmae": mae / mad,
        "nrmse_mean": rmse / mean,
        "nmae_mean": mae / mean,
        "rmse": rmse,
        "mae": mae,
        "mean": mean,
        "std": std,
        "mad": mad,
    }


def close(a, b):
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b)) or abs(a - b) <= 1e-15


def main(folder):
    root = pathlib.Path(folder)
    manifest = json.loads((root / "manifest.json").read_text())
    core = [t["name"] for t in manifest.get("tasks", []) if t.get("kind") == "regression"]
    table = {}
    with open(root / "cells.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["split"] == "test":
                table[(r["variant"], r["seed"], r["task"], r["metric"])] = r["value"]
    checked = 0
    for cell in sorted((root / "cells").iterdir()):
        pred_file = cell / "predictions.csv"
        if not pred_file.exists():
            continue
        with open(pred_file, newline="") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        tasks = core or [h for h in header if not h.endswith("_pred")][-1:]
        config = (cell / "config.yaml").read_text().splitlines()
        variant = next(l.split(":", 1)[1].strip() for l in config if l.startswith("variant:"))
        seed = next(l.split(":", 1)[1].strip() for l in config if l.startswith("seed:"))
        variant = variant.strip("'\"")
        metrics = json.loads((cell / "metrics.json").read_text())
        for task in tasks:
            yi, pi = header.index(task), header.index(task + "_pred")
            y = np.array([r[yi] for r in body], dtype=np.float32).astype(np.float64)
            p = np.array([r[pi] for r in body], dtype=np.float32).astype(np.float64)
            want = recompute(y, p)
            for k in KEYS:
                stored = metrics["test"][task][k]
                in_csv = float(table[(variant, seed, task, k)])
                if not (close(stored, want[k]) and close(in_csv, want[k])):
                    print(f"MISMATCH {cell.name} {task} {k}: metrics.json {stored}, "
                          f"cells.csv {in_csv}, recomputed {want[k]}")
                    return 1
        checked += 1
    if checked == 0:
        print(f"no cell of {root} has predictions.csv (run with --save-predictions)")
        return 1
    print(f"ok: {checked} cells, core metrics {', '.join(KEYS)} equal the recomputation "
          f"from predictions.csv (metrics.json and cells.csv)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

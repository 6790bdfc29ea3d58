#!/usr/bin/env python3
"""Writes results/external/torch-rechub-hillstrom.csv (the external-rows format of
`htl report --external`) from the per-seed peer results in
shared/data/peers/torch-rechub-hillstrom.csv: per model, task and metric the mean and the
sample standard deviation (ddof = 1) over its seeds.

Mapping to this suite's names: tasks visit, conversion, spend as they are (ESMM's extra
`conversion_cvr_tower` rows are left out: no such task here); metrics auc, logloss, nrmse,
nmae, spearman as they are and `norm_gini` -> `gini`; bookkeeping rows (n_pos, pred_mean,
true_mean, epochs, ...) are left out. The peer's NRMSE / NMAE divide by mean(y) (its
README), as this suite's `nrmse` / `nmae` did when this file was written. Standard library
only.

Usage: python3 scripts/make_peer_external.py [PEER_CSV] [OUT_CSV]
"""
import csv
import math
import os
import sys
from collections import OrderedDict

METRICS = {"auc": "auc", "logloss": "logloss", "nrmse": "nrmse", "nmae": "nmae",
           "norm_gini": "gini", "spearman": "spearman"}
TASKS = {"visit", "conversion", "spend"}
SOURCE = "torch-rechub 0.9.0 (shared/data/peers/torch-rechub-hillstrom.csv)"
PROTOCOL = ("Hillstrom, seeded random 8:1:1 split fixed across the 5 model seeds; 7 categorical "
            "columns embedded (dim 16), recency and history standardised; Adam lr 1e-3, weight "
            "decay 1e-6, batch 2048, up to 30 epochs, early stopping patience 3 on the first "
            "task's validation AUC; spend trained with MSE on the raw scale ([spend_std]: "
            "standardised spend); NRMSE = RMSE / mean(y), NMAE = MAE / mean(y), Gini normalised "
            "(ZILN definition); mean ± sample std over seeds")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "..", "..", "shared", "data", "peers", "torch-rechub-hillstrom.csv")
    if not os.path.exists(src):
        src = "/work/shared/data/peers/torch-rechub-hillstrom.csv"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        root, "results", "external", "torch-rechub-hillstrom.csv")
    values = OrderedDict()
    with open(src, newline="") as f:
        for r in csv.DictReader(f):
            if r["task"] not in TASKS or r["metric"] not in METRICS:
                continue
            key = (r["model"], r["task"], METRICS[r["metric"]])
            values.setdefault(key, []).append(float(r["value"]))
    tmp = out + ".tmp"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "protocol", "variant", "task", "metric", "mean", "std", "n"])
        for (model, task, metric), xs in values.items():
            n = len(xs)
            mean = sum(xs) / n
            std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else ""
            w.writerow([SOURCE, PROTOCOL, model, task, metric, repr(mean),
                        repr(std) if std != "" else "", n])
    os.replace(tmp, out)
    print(f"{out}: {len(values)} rows")


if __name__ == "__main__":
    main()

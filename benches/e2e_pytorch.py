#!/usr/bin/env python3
"""An equivalent PyTorch loop for `htl run experiments/quickstart.yaml`.

    htl data gen --rows 100000 --seed 7 --out /tmp/quickstart.csv     # untimed
    benches/.venv/bin/python benches/e2e_pytorch.py /tmp/quickstart.csv --threads 2 \
        [--experiment experiments/quickstart.yaml]

What runs, all inside the timed region (mirrors src/data/encode.rs, src/train/mod.rs):

1. read the CSV with pandas;
2. split random 8:1:1 (a numpy permutation seeded 2024; Rust uses its own ChaCha8
   permutation, so the rows differ, the sizes do not), each part in file order;
3. encode `user_id, item_id, ctx_*` with a vocabulary fitted on train (most frequent first,
   ties by value; unseen -> 0) and standardise `num_*` with train mean / population std;
4. per cell (variant x seed, one after another; plus the `constant` reference):
   core target standardised on train, head biases from train; epoch 0 evaluation on valid;
   `epochs` epochs of shuffled mini-batches (tensors gathered from the numpy columns per
   batch) with Adam (lr from the YAML, eps 1e-8) and the variant's gradient strategy;
   validation loss + metrics after each epoch, monitor `all` (mean of loss / epoch-0 loss),
   early stopping with `patience`, restore-best; final valid + test metrics (AUC, log-loss,
   NRMSE, NMAE, normalised Gini, Spearman) written as JSON per cell.

Prints the wall time in seconds on the last line: `e2e_pytorch_seconds <s>`.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import models  # noqa: E402

CAT = ["user_id", "item_id", "ctx_1", "ctx_2", "ctx_3"]  # the synthetic generator's columns
NUM = ["num_1", "num_2"]
TASKS = [("click", True), ("long_view", True), ("watch_time", False)]
DEFAULT_GRAD = {"htlnet": "htl"}  # registry default_grad; every other model: sum
TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 2048, "lr": 1e-3, "adam_eps": 1e-8, "patience": 2,
                  "monitor": "all", "core_transform": "standardize", "eval_batch_size": 8192,
                  "weight_decay": 0.0, "grad_stats_every": 20, "max_steps_per_epoch": 0}
MODEL_OPTIONS = {  # YAML options mirrored per model (lists become tuples); others are refused
    "shared_bottom": {"embed_dim", "bottom", "tower", "dropout"},
    "dnn": {"embed_dim", "bottom", "tower", "dropout"},
    "mmoe": {"embed_dim", "n_experts", "expert", "tower", "dropout"},
    "htlnet": {"embed_dim", "tower", "label_dim", "ifu_dim", "rep_layer", "stop_grad", "dropout"},
    "esmm": {"embed_dim", "tower", "dropout"},
    "aitm": {"embed_dim", "tower", "head", "dropout", "alpha_cal", "core_transfer"},
    "ple": {"embed_dim", "levels", "shared_experts", "specific_experts", "expert", "expert_layout",
            "tower", "dropout"},
    "adatt": {"embed_dim", "levels", "task_experts", "shared_experts", "expert", "expert_layout",
              "residual", "tower", "dropout"},
}


def read_experiment(path):
    """The parts of an experiment YAML this loop supports: synthetic data (default chain),
    `train:`, `seeds:`, `base:` and `variants:` of shared_bottom / mmoe / htlnet with
    default-chain options; anything else is refused rather than silently ignored."""
    import yaml
    with open(path) as f:
        raw = yaml.safe_load(f)
    for key in raw:
        if key not in ("name", "description", "dataset", "train", "seeds", "variants", "base",
                       "constant_reference"):
            raise SystemExit(f"{path}: key `{key}` is not supported by e2e_pytorch.py")
    syn = raw["dataset"]["synthetic"]
    train = dict(TRAIN_DEFAULTS, **(raw.get("train") or {}))
    if train["monitor"] != "all" or train["core_transform"] != "standardize" or train["weight_decay"]:
        raise SystemExit(f"{path}: only monitor all, core_transform standardize, no weight decay")
    base = raw.get("base") or {}
    variants = []
    for v in raw["variants"]:
        model = v.get("model", base.get("model"))
        opts = dict(base.get("options") or {}, **(v.get("options") or {}))
        bad = set(opts) - MODEL_OPTIONS.get(model, set())
        if model not in MODEL_OPTIONS or bad or v.get("train") or v.get("grid"):
            raise SystemExit(f"{path}: variant {v} is not supported by e2e_pytorch.py")
        grad = v.get("grad", base.get("grad", DEFAULT_GRAD.get(model, "sum")))
        if not isinstance(grad, str):
            raise SystemExit(f"{path}: only named strategies (grad: htl), not {grad}")
        opts = {k: tuple(x) if isinstance(x, list) else x for k, x in opts.items()}
        variants.append((v.get("label", model), model, grad, opts))
    return {"rows": syn.get("rows"), "seed": syn.get("seed"), "train": train,
            "seeds": raw.get("seeds", [1, 2, 3]), "variants": variants,
            "constant": raw.get("constant_reference", True)}


# ----------------------------------------------------------------------------- data
def split_rows(n, seed=2024, ratios=(0.8, 0.1, 0.1)):
    a = min(int(math.floor(n * ratios[0] + 0.5)), n)
    b = min(int(math.floor(n * ratios[1] + 0.5)), n - a)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:a]), np.sort(perm[a:a + b]), np.sort(perm[a + b:])


def encode_categorical(col, train):
    vc = col.iloc[train].value_counts()
    # most frequent first, ties by value
    order = sorted(vc.items(), key=lambda kv: (-kv[1], kv[0]))
    mapping = {v: i + 1 for i, (v, _) in enumerate(order)}
    codes = col.map(mapping).fillna(0).to_numpy(np.uint32)
    return codes, len(mapping) + 1


def standardize(x, train):
    x = x.to_numpy(np.float64)
    t = x[train]
    t = t[~np.isnan(t)]
    mean = t.mean() if len(t) else 0.0
    std = t.std() if len(t) else 1.0
    std = std if std > 0 else 1.0
    z = (x - mean) / std
    return np.where(np.isnan(z), 0.0, z).astype(np.float32)


def load(path):
    df = pd.read_csv(path)
    tr, va, te = split_rows(len(df))
    cat, vocabs = [], []
    for c in CAT:
        codes, v = encode_categorical(df[c], tr)
        cat.append(codes)
        vocabs.append(v)
    num = np.stack([standardize(df[c], tr) for c in NUM], 1)
    labels = [df[name].to_numpy(np.float32) for name, _ in TASKS]

    def part(rows):
        return {"n": len(rows), "cat": [c[rows] for c in cat], "num": num[rows],
                "labels": [y[rows] for y in labels]}

    return vocabs, part(tr), part(va), part(te)


# ----------------------------------------------------------------------------- metrics
def ranks(x):
    return pd.Series(x).rank(method="average").to_numpy()


def auc(y, p):
    pos = y > 0.5
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return None
    r = ranks(p.astype(np.float64))
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def logloss(y, p):
    p = np.clip(p.astype(np.float64), 1e-15, 1 - 1e-15)
    return float(-np.mean(np.where(y == 1.0, np.log(p), np.log(1 - p))))


def regression_metrics(y, p):
    y, p = y.astype(np.float64), p.astype(np.float64)
    mean = y.mean()
    rmse = float(np.sqrt(np.mean((y - p) ** 2)))
    mae = float(np.mean(np.abs(y - p)))
    n = len(y)
    centre = (n + 1) / 2
    cov = lambda r: float(((y - mean) * (r - centre)).sum())  # noqa: E731
    total = mean * n
    gini = (2 * cov(ranks(p)) + total) / (2 * cov(ranks(y)) + total)
    ry, rp = ranks(y), ranks(p)
    spear = float(np.corrcoef(ry, rp)[0, 1]) if rp.std() > 0 else None
    std = float(y.std(ddof=0))
    mad = float(np.mean(np.abs(y - mean)))
    # As htlbench's catalogue: nrmse / nmae relative to the constant-mean predictor, the
    # mean-divided pair as nrmse_mean / nmae_mean.
    return {"nrmse": rmse / std, "nmae": mae / mad, "gini": gini, "spearman": spear,
            "nrmse_mean": rmse / mean, "nmae_mean": mae / mean,
            "rmse": rmse, "mae": mae, "mean": mean, "std": std, "mad": mad}


def split_metrics(split, preds):
    out = {}
    for (name, binary), y, p in zip(TASKS, split["labels"], preds):
        out[name] = {"auc": auc(y, p), "logloss": logloss(y, p)} if binary else regression_metrics(y, p)
    return out


# ----------------------------------------------------------------------------- training
class Prepared:
    def __init__(self, train):
        wt = train["labels"][2].astype(np.float64)
        self.mean, self.std = wt.mean(), (wt.std() or 1.0)
        self.init_bias = []
        for (name, binary), y in zip(TASKS, train["labels"]):
            if binary:
                r = min(max(float(y.astype(np.float64).mean()), 1e-6), 1 - 1e-6)
                self.init_bias.append(math.log(r / (1 - r)))
            else:
                self.init_bias.append(float(((wt - self.mean) / self.std).mean()))

    def core(self, y):
        return ((y.astype(np.float64) - self.mean) / self.std).astype(np.float32)

    def batch(self, split, rows):
        cat = [torch.from_numpy(c[rows].astype(np.int64)) for c in split["cat"]]
        num = torch.from_numpy(split["num"][rows])
        ys = split["labels"]
        labels = [torch.from_numpy(ys[0][rows]), torch.from_numpy(ys[1][rows]),
                  torch.from_numpy(self.core(ys[2][rows]))]
        return cat, num, labels


@torch.no_grad()
def evaluate(model, prep, split, step, eval_batch):
    model.eval()
    preds = [[] for _ in TASKS]
    idx = np.arange(split["n"])
    for s in range(0, split["n"], eval_batch):
        cat, num, _ = prep.batch(split, idx[s:s + eval_batch])
        for t, out in enumerate(models.to_probability(model, model(cat, num, step))):
            preds[t].append(out.numpy())
    model.train()
    preds = [np.concatenate(p) for p in preds]
    losses = [logloss(split["labels"][0], preds[0]), logloss(split["labels"][1], preds[1]),
              float(np.mean((prep.core(split["labels"][2]).astype(np.float64) - preds[2]) ** 2))]
    return losses, preds


def to_original(prep, preds):
    return [preds[0], preds[1], np.maximum(preds[2].astype(np.float64) * prep.std + prep.mean, 0.0)]


def train_cell(tc, model_name, grad, options, seed, vocabs, train, valid, test, per_task="autograd"):
    torch.manual_seed(seed)
    prep = Prepared(train)
    binary = [b for _, b in TASKS]
    model = models.build(model_name, vocabs, len(NUM), binary, prep.init_bias, options)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=tc["lr"], eps=tc["adam_eps"])
    stepper = models.Stepper(model, optim, models.build_strategy(grad, len(TASKS), 2, seed), per_task)
    step = 0
    ev = tc["eval_batch_size"]
    v0, _ = evaluate(model, prep, valid, step, ev)
    monitor = lambda l: sum(a / b if b > 0 else a for a, b in zip(l, v0)) / len(l)  # noqa: E731
    best = (monitor(v0), 0, copy.deepcopy(model.state_dict()))
    since, curves, grad_stats = 0, [], []
    rng = np.random.default_rng(seed)
    for epoch in range(1, tc["epochs"] + 1):
        order = rng.permutation(train["n"])
        sums = np.zeros(len(TASKS))
        count = 0
        for bi, s in enumerate(range(0, train["n"], tc["batch_size"])):
            if tc["max_steps_per_epoch"] and bi >= tc["max_steps_per_epoch"]:
                break
            cat, num, labels = prep.batch(train, order[s:s + tc["batch_size"]])
            every = tc["grad_stats_every"]
            losses = stepper.step(cat, num, labels, step, want_stats=every > 0 and step % every == 0)
            if stepper.last_stats:
                grad_stats += [dict(st, step=step) for st in stepper.last_stats]
            if not all(math.isfinite(v) for v in losses):
                raise RuntimeError(f"diverged at epoch {epoch}, step {step}")
            sums += losses
            count += 1
            step += 1
        vl, vp = evaluate(model, prep, valid, step, ev)
        _ = split_metrics(valid, to_original(prep, vp))  # Rust computes valid metrics each epoch
        m = monitor(vl)
        curves.append({"epoch": epoch, "train_loss": (sums / count).tolist(), "valid_loss": vl, "monitor": m})
        if m < best[0]:
            best = (m, epoch, copy.deepcopy(model.state_dict()))
            since = 0
        else:
            since += 1
            if since > tc["patience"]:
                break
    model.load_state_dict(best[2])
    _, vp = evaluate(model, prep, valid, step, ev)
    _, tp = evaluate(model, prep, test, step, ev)
    return {"valid": split_metrics(valid, to_original(prep, vp)),
            "test": split_metrics(test, to_original(prep, tp)),
            "best_epoch": best[1], "steps": step, "curves": curves, "grad_stats": grad_stats}


def constant_reference(train, valid, test):
    consts = [float(y.astype(np.float64).mean()) for y in train["labels"]]
    pred = lambda s: [np.full(s["n"], c, np.float32) for c in consts]  # noqa: E731
    return {"valid": split_metrics(valid, pred(valid)), "test": split_metrics(test, pred(test))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("csv", help="the data: htl data gen --rows <rows> --seed <seed> --out X.csv")
    p.add_argument("--experiment", default=os.path.join(HERE, "..", "experiments", "quickstart.yaml"),
                   help="the experiment YAML (default: experiments/quickstart.yaml)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--out", default="/tmp/htl-e2e-pytorch")
    p.add_argument("--per-task", default="autograd", choices=["autograd", "rows"],
                   help="HTLNet's per-task gradients: autograd (torch.autograd.grad per task) or "
                        "rows (the Rust step's touched-row Gram + one backward)")
    a = p.parse_args()
    exp = read_experiment(a.experiment)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    t_load = time.perf_counter()
    vocabs, train, valid, test = load(a.csv)
    load_s = time.perf_counter() - t_load
    print(f"data: {train['n']}/{valid['n']}/{test['n']} rows, vocabs {vocabs}, loaded in {load_s:.2f} s",
          file=sys.stderr)
    cells = [("constant", "constant", 0, None)] if exp["constant"] else []
    cells += [(label, model, seed, (grad, opts)) for label, model, grad, opts in exp["variants"]
              for seed in exp["seeds"]]
    summary = []
    for label, model, seed, spec in cells:
        t0 = time.perf_counter()
        if spec is None:
            res = constant_reference(train, valid, test)
        else:
            res = train_cell(exp["train"], model, spec[0], spec[1], seed, vocabs, train, valid, test,
                             a.per_task)
        secs = time.perf_counter() - t0
        res["seconds"] = secs
        with open(os.path.join(a.out, f"{label}-s{seed}.json"), "w") as f:
            json.dump(res, f, indent=1)
        tm = res["test"]
        summary.append((label, seed, spec[0] if spec else "–", secs, res.get("best_epoch"),
                        tm["click"]["auc"], tm["long_view"]["auc"], tm["watch_time"]["nrmse"]))
    print("| cell | seed | grad | seconds | best epoch | click AUC | long_view AUC | watch_time NRMSE |")
    print("|---|---|---|---|---|---|---|---|")
    for r in summary:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.1f} | {r[4]} | {r[5]:.4f} | {r[6]:.4f} | {r[7]:.4f} |")
    print(f"e2e_pytorch_seconds {time.perf_counter() - T_START:.2f}")


if __name__ == "__main__":
    main()

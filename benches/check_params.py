#!/usr/bin/env python3
"""Checks that every PyTorch mirror in `models.py` has exactly as many parameters as htl's
model built the same way (`htl bench`'s options and shape).

    benches/.venv/bin/python benches/check_params.py rust_params.csv \\
        [--models a,b] [--fields 20] [--vocab 10000] [--dim 16] [--csv out.csv]

`rust_params.csv` comes from `cargo run --release --example param_count -- --fields F
--vocab V --dim D` (columns `model,params`). Prints one line per model; exits 1, naming the
model and both counts, when a count differs or a model is missing on one side.
"""

import argparse
import csv
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def torch_count(model, fields, vocab, dim):
    import models
    from pytorch_reference import bench_options

    binary = [True, True, False]
    m = models.build(model, [vocab] * fields, 0, binary, [0.0, 0.0, 0.0], bench_options(model, dim))
    return sum(p.numel() for p in m.parameters())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rust", help="CSV model,params from the param_count example")
    p.add_argument("--models", help="comma-separated (default: every model in the CSV)")
    p.add_argument("--fields", type=int, default=20)
    p.add_argument("--vocab", type=int, default=10_000)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--csv", help="also write model,rust_params,pytorch_params here")
    a = p.parse_args()
    try:
        with open(a.rust, newline="") as f:
            rust = {r["model"]: int(r["params"]) for r in csv.DictReader(f)}
    except (OSError, KeyError, ValueError) as e:
        print(f"check_params: cannot read {a.rust} (expected columns model,params): {e}", file=sys.stderr)
        return 1
    names = a.models.split(",") if a.models else list(rust)
    bad, rows = [], []
    for name in names:
        if name not in rust:
            bad.append(f"{name}: missing in {a.rust} (run the param_count example with this model)")
            continue
        try:
            n = torch_count(name, a.fields, a.vocab, a.dim)
        except KeyError:
            bad.append(f"{name}: no PyTorch mirror in benches/models.py")
            continue
        rows.append((name, rust[name], n))
        ok = "ok" if n == rust[name] else "DIFFERENT"
        print(f"{name:14} htl {rust[name]:>11,}  pytorch {n:>11,}  {ok}")
        if n != rust[name]:
            bad.append(f"{name}: htl has {rust[name]} parameters, the PyTorch mirror {n}")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["model", "rust_params", "pytorch_params"])
            w.writerows(rows)
    for b in bad:
        print(f"check_params: {b}; fix the mirror in benches/models.py", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

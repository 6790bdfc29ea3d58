#!/usr/bin/env python3
"""Joins `htl bench --csv` rows with `pytorch_reference.py --csv` rows.

    python3 benches/compare.py rust.csv pytorch.csv [pytorch_rows.csv ...] [--md out.md]

One row per model x strategy x PyTorch variant (backend column: `pytorch-<v>`, or
`pytorch-<v>-rows` for the Rust-like per-task scheme): ms/step of both sides, Rust speed
relative to PyTorch (PyTorch ms / Rust ms: > 1 means Rust is faster), each side's step
relative to its own plain (`sum`) step, and peak RSS. Standard library only.
"""

import argparse
import csv
import sys


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def plain_ms(rows, model):
    for q in rows:
        if q["model"] == model and q["grad"] == "sum":
            return float(q["median_ms"])
    return None


def ratio(x):
    return "–" if x is None else f"{x:.2f}×"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("rust")
    p.add_argument("pytorch", nargs="+")
    p.add_argument("--md", help="also write the table here")
    a = p.parse_args()
    rust = read(a.rust)
    torch = [r for path in a.pytorch for r in read(path)]
    lines = [
        "| model | grad | Rust | PyTorch | Rust ms/step | PyTorch ms/step | Rust speed vs PyTorch | "
        "Rust step ÷ plain | PyTorch step ÷ plain | Rust peak RSS MiB | PyTorch peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    shapes = set()
    order = []
    for r in rust:
        if (r["model"], r["grad"]) not in order:
            order.append((r["model"], r["grad"]))
    for q in torch:
        if (q["model"], q["grad"]) not in order:
            order.append((q["model"], q["grad"]))
    for model, grad in order:
        rs = [r for r in rust if (r["model"], r["grad"]) == (model, grad)] or [None]
        qs = [q for q in torch if (q["model"], q["grad"]) == (model, grad)] or [None]
        for r in rs:
            for q in qs:
                rm = float(r["median_ms"]) if r else None
                qm = float(q["median_ms"]) if q else None
                rp = plain_ms([x for x in rust if r and x["backend"] == r["backend"]], model)
                qp = plain_ms([x for x in torch if q and x["backend"] == q["backend"]], model) \
                    or plain_ms(torch, model)
                for x in (r, q):
                    if x:
                        shapes.add(tuple(x[k] for k in ("batch", "fields", "vocab", "dim", "threads", "steps")))
                rss_r = f"{float(r['peak_rss_mib']):.0f}" if r else "–"
                rss_q = f"{float(q['peak_rss_mib']):.0f}" if q else "–"
                ms_r = "–" if rm is None else f"{rm:.1f}"
                ms_q = "–" if qm is None else f"{qm:.1f}"
                lines.append(
                    f"| {model} | {grad} | {r['backend'] if r else '–'} | {q['backend'] if q else '–'} | "
                    f"{ms_r} | {ms_q} | {ratio(qm / rm if rm and qm else None)} | "
                    f"{ratio(rm / rp if rm and rp else None)} | {ratio(qm / qp if qm and qp else None)} | "
                    f"{rss_r} | {rss_q} |")
    lines.append("")
    lines.append("Rust speed vs PyTorch = PyTorch ms ÷ Rust ms (> 1: Rust faster). "
                 "`-rows`: PyTorch with the Rust step's per-task scheme (touched-row Gram, one backward).")
    if len(shapes) != 1:
        lines.append(f"WARNING: the rows come from different shapes: {sorted(shapes)}")
    else:
        b, f, v, d, t, s = next(iter(shapes))
        lines.append(f"Shape: batch {b}, {f} fields × {v} values × dim {d}, {t} threads, median of {s} steps.")
    text = "\n".join(lines)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

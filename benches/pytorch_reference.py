#!/usr/bin/env python3
"""PyTorch reference of `htl bench`: the same models, shape and timing protocol.

    benches/.venv/bin/python benches/pytorch_reference.py --threads 2 --csv out/pytorch.csv

Protocol (src/bench.rs): random data of `batch * 4` rows (fields ids uniform in 1..vocab,
click ~ Bernoulli(0.3), long_view ~ click * Bernoulli(0.4), watch_time = exp(3 + U(0,1)) on
long_view rows, standardised on the training rows for the MSE); step i uses rows
`(i % 4) * batch ..`; each timed step builds its batch tensors from the pre-generated numpy
columns (gather of the rows, int64 ids, transformed labels), runs forward + backward (+ the
per-task gradient strategy) + Adam (lr 1e-3, eps 1e-8), and reads the loss values. Median,
10th and 90th percentile of `--steps` steps after `--warmup`. Each (model, strategy) runs in
its own child process so that its peak RSS (getrusage ru_maxrss) is its own.

Output: a table, and with `--csv` the columns of `htl bench --csv`, backend `pytorch-<ver>`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CSV_HEADER = ("model,grad,backend,batch,fields,vocab,dim,threads,steps,median_ms,p10_ms,"
              "p90_ms,samples_per_s,peak_rss_mib")


def bench_options(model, dim):
    """src/bench.rs bench_options: shared_bottom uses the reference MLP, others defaults."""
    if model == "shared_bottom":
        return {"embed_dim": dim, "bottom": (256, 128), "tower": (64,)}
    return {"embed_dim": dim}


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def rust_round(x):
    """f64::round (half away from zero), used for the percentile index."""
    return int(math.floor(x + 0.5))


def bench_one(model_name, grad, a):
    import numpy as np
    import torch
    import models

    import_rss = peak_rss_mib()  # the torch libraries alone (the CUDA build maps a lot)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    rows = a.batch * 4
    rng = np.random.default_rng(17)
    cat = [rng.integers(1, a.vocab, size=rows, dtype=np.uint32) for _ in range(a.fields)]
    click = (rng.random(rows) < 0.3).astype(np.float32)
    lv = ((click > 0) & (rng.random(rows) < 0.4)).astype(np.float32)
    wt = np.where(lv > 0, np.exp(3.0 + rng.random(rows, dtype=np.float32)), 0.0).astype(np.float32)
    labels_np = [click, lv, wt]
    binary = [True, True, False]
    # Prepared::new("standardize"): core transform and head biases fitted on the rows.
    mean = float(wt.astype(np.float64).mean())
    std = float(wt.astype(np.float64).std()) or 1.0
    init_bias = []
    for y, b in zip(labels_np, binary):
        if b:
            r = min(max(float(y.astype(np.float64).mean()), 1e-6), 1 - 1e-6)
            init_bias.append(math.log(r / (1 - r)))
        else:
            init_bias.append(float(((y.astype(np.float64) - mean) / std).mean()))

    m = models.build(model_name, [a.vocab] * a.fields, 0, binary, init_bias,
                     bench_options(model_name, a.dim))
    dev = torch.device(a.device)
    m = m.to(dev)
    m.train()
    optim = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-8)
    stepper = models.Stepper(m, optim, models.build_strategy(grad, 3, 2, seed=2), per_task=a.per_task)
    backend = f"pytorch-{torch.__version__.split('+')[0]}"
    if stepper.rows and grad != "sum":
        backend += "-rows"
    if dev.type != "cpu":
        backend += f"-{dev.type}"
    times = []
    for i in range(a.warmup + a.steps):
        start = (i % 4) * a.batch
        idx = np.arange(start, start + a.batch)
        t0 = time.perf_counter()
        # Prepared::batch: gather the rows into fresh tensors.
        cat_t = [torch.from_numpy(c[idx].astype(np.int64)).to(dev) for c in cat]
        lab_t = [torch.from_numpy(labels_np[0][idx]).to(dev), torch.from_numpy(labels_np[1][idx]).to(dev),
                 torch.from_numpy(((labels_np[2][idx].astype(np.float64) - mean) / std)
                                  .astype(np.float32)).to(dev)]
        losses = stepper.step(cat_t, None, lab_t, i)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)  # the optimiser step after the loss read is asynchronous
        if not all(math.isfinite(v) for v in losses):
            raise SystemExit(f"{model_name}/{grad}: loss not finite at step {i}")
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    q = lambda p: times[rust_round((len(times) - 1) * p)]  # noqa: E731
    med = q(0.5)
    return {
        "model": model_name, "grad": grad, "backend": backend,
        "shape": {"batch": a.batch, "fields": a.fields, "vocab": a.vocab, "dim": a.dim,
                  "steps": a.steps, "warmup": a.warmup, "threads": a.threads},
        "median_ms": med, "p10_ms": q(0.1), "p90_ms": q(0.9),
        "samples_per_s": a.batch / (med / 1e3), "peak_rss_mib": peak_rss_mib(),
        "import_rss_mib": import_rss,
    }


def format_table(rows):
    s = ("| model | grad | backend | ms/step (median) | p10 | p90 | samples/s | vs plain step | "
         "peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        plain = next((p["median_ms"] for p in rows if p["model"] == r["model"] and p["grad"] == "sum"), None)
        ratio = "–" if plain is None else f"{r['median_ms'] / plain:.2f}×"
        s += (f"| {r['model']} | {r['grad']} | {r['backend']} | {r['median_ms']:.1f} | {r['p10_ms']:.1f} | "
              f"{r['p90_ms']:.1f} | {r['samples_per_s']:.0f} | {ratio} | {r['peak_rss_mib']:.0f} |\n")
    return s


def format_csv(rows):
    s = CSV_HEADER + "\n"
    for r in rows:
        b = r["shape"]
        s += (f"{r['model']},{r['grad']},{r['backend']},{b['batch']},{b['fields']},{b['vocab']},{b['dim']},"
              f"{b['threads']},{b['steps']},{r['median_ms']:.3f},{r['p10_ms']:.3f},{r['p90_ms']:.3f},"
              f"{r['samples_per_s']:.1f},{r['peak_rss_mib']:.1f}\n")
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="shared_bottom,htlnet")
    p.add_argument("--grads", default="sum,htl,pcgrad,metabalance")
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--fields", type=int, default=20)
    p.add_argument("--vocab", type=int, default=10_000)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--csv", help="also write the rows as CSV here")
    p.add_argument("--device", default="cpu",
                   help="torch device: cpu (default) or cuda / cuda:N (model and each step's batch "
                        "tensors on that device; the time includes the host-to-device copies)")
    p.add_argument("--per-task", default="autograd", choices=["autograd", "rows"],
                   help="per-task gradients: autograd = torch.autograd.grad per task with "
                        "retain_graph (default); rows = the Rust step's scheme for embedding-only "
                        "trunks (HTLNet): touched-row Gram + one backward (backend `pytorch-<v>-rows`)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        m, g = a.one.split(":", 1)
        print(json.dumps(bench_one(m, g, a)))
        return
    rows = []
    for m in a.models.split(","):
        for g in a.grads.split(","):
            print(f"pytorch bench {m} {g} …", file=sys.stderr)
            args = [sys.executable, os.path.abspath(__file__), "--one", f"{m}:{g}"]
            for k in ("batch", "fields", "vocab", "dim", "steps", "warmup", "threads"):
                args += [f"--{k}", str(getattr(a, k))]
            args += ["--per-task", a.per_task, "--device", a.device]
            out = subprocess.run(args, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(f"pytorch bench {m}/{g} failed: {out.stderr.strip()}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(format_table(rows))
    print(f"shape: batch {a.batch}, {a.fields} fields × {a.vocab} values × dim {a.dim}, {a.threads} threads, "
          f"median of {a.steps} steps after {a.warmup} warm-up; machine: {os.cpu_count()} cores; "
          f"peak RSS after `import torch` alone: {min(r['import_rss_mib'] for r in rows):.0f} MiB")
    if a.csv:
        os.makedirs(os.path.dirname(os.path.abspath(a.csv)), exist_ok=True)
        with open(a.csv, "w") as f:
            f.write(format_csv(rows))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference values for per-tensor MetaBalance (`src/optim/metabalance.rs`).

An independent NumPy transcription of the update rule of the official MetaBalance
optimiser (He et al., WWW 2022; the same rule is in torch-rechub's `MetaBalance`):
for every shared parameter tensor p and task t, with moving averages started at 0,

    m[p][t] = beta * m[p][t] + (1 - beta) * |g[p][t]|
    g[p][t] = g[p][t] * m[p][target] / (m[p][t] + 1e-5) * r + g[p][t] * (1 - r)
    combined[p] = sum_t g[p][t]

applied to every task, the target included (the official code puts the target first;
here its index is a parameter). Gradients are seeded float64 values rounded to 6
decimals so that JSON parsing is exact; every step of every case is recorded, so the
moving averages are tested over several steps.

Development-only dependency:

    python3 -m venv /work/.venv-mb && /work/.venv-mb/bin/pip install numpy
    /work/.venv-mb/bin/python scripts/make_metabalance_fixtures.py

Writes tests/fixtures/optim/metabalance_reference.json.
"""

import json
import pathlib

import numpy as np

EPS = 1e-5


def case(rng, n_tasks, shapes, n_steps, r, beta, target, scales):
    """One case: per-step per-tensor per-task gradients and the reference results."""
    norms = [[0.0] * n_tasks for _ in shapes]
    steps = []
    for _ in range(n_steps):
        grads = []
        for size in shapes:
            per_task = []
            for t in range(n_tasks):
                g = np.round(rng.normal(0.0, scales[t], size), 6)
                per_task.append(g)
            grads.append(per_task)
        combined = []
        for p, per_task in enumerate(grads):
            for t in range(n_tasks):
                norms[p][t] = norms[p][t] * beta + (1 - beta) * float(np.linalg.norm(per_task[t]))
            total = np.zeros(shapes[p])
            for t in range(n_tasks):
                g = per_task[t]
                total += g * norms[p][target] / (norms[p][t] + EPS) * r + g * (1.0 - r)
            combined.append(total)
        steps.append(
            {
                "grads": [[g.tolist() for g in per_task] for per_task in grads],
                "averages": [list(row) for row in norms],
                "combined": [c.tolist() for c in combined],
            }
        )
    return {"r": r, "beta": beta, "target": target, "steps": steps}


def main():
    rng = np.random.default_rng(20220425)
    cases = [
        case(rng, 3, [4, 6, 1], 5, 0.7, 0.9, 2, [1.0, 5.0, 0.3]),
        case(rng, 2, [3, 8], 4, 0.3, 0.5, 0, [0.01, 2.0]),
        case(rng, 4, [5, 2, 7], 6, 0.0, 0.0, 3, [1.0, 1.0, 10.0, 0.1]),
        case(rng, 3, [10], 3, 0.99, 0.99, 1, [3.0, 0.2, 1.0]),
    ]
    out = {
        "generator": "scripts/make_metabalance_fixtures.py",
        "numpy": np.__version__,
        "eps": EPS,
        "cases": cases,
    }
    path = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/optim/metabalance_reference.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

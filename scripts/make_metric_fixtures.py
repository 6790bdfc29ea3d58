#!/usr/bin/env python3
"""Reference values for `src/metrics` and `src/report/stats.rs`.

Writes, with a fixed seed (re-running reproduces the files byte for byte for
the same library versions, which are recorded in each file):

* tests/fixtures/metrics/reference.json        AUC, log-loss (scikit-learn),
  RMSE / MAE / NRMSE (RMSE / std, ddof=0) / NMAE (MAE / mean|y - mean|) /
  NRMSE_mean / NMAE_mean (NumPy), normalised Gini (NumPy, the ZILN way),
  Spearman (SciPy);
* tests/fixtures/metrics/stats_reference.json  mean, std (ddof=1),
  `scipy.stats.t.interval`, `ttest_rel`, `wilcoxon`.

Development-only dependencies (not needed to build or test htlbench):

    python3 -m venv /tmp/fixvenv
    /tmp/fixvenv/bin/pip install numpy scipy scikit-learn
    /tmp/fixvenv/bin/python scripts/make_metric_fixtures.py

Conventions the Rust side relies on:

* Metric inputs are float32 values (what models emit), written as the exact
  float64 value of each float32; every reference is computed in float64 from
  those float32 values.
* Stats inputs are float64 rounded to 6 decimals, so JSON parsing is exact.
* Log-loss: probabilities are clipped to [1e-7, 1 - 1e-7] before
  `sklearn.metrics.log_loss` (htlbench's documented clipping).
* Normalised Gini: ZILN's `gini_from_gain` (raw = 2 * sum(cumulative share)
  / n - 1, divided by the raw Gini of the perfect ordering). Ties in the
  prediction are averaged over the orders within each tied group, computed
  here independently of the Rust code: inside a tied group every row's
  expected value at each position is the group's mean of y.
* Wilcoxon: zeros dropped ("wilcox"); at most 25 non-zero differences:
  method "exact" without ties among |d|, and with ties the exact permutation
  distribution of the average ranks (PermutationMethod(n_resamples=inf));
  more than 25: "asymptotic" without continuity correction (SciPy's tie
  correction).
"""

import json
import pathlib

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.metrics import log_loss, roc_auc_score

SEED = 20240611
EPS = 1e-7
WILCOXON_EXACT_MAX_N = 25

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "metrics"

rng = np.random.default_rng(SEED)


def f32(x):
    return np.asarray(x, dtype=np.float32)


def f32_list(x):
    """Exact float64 value of each float32 (JSON repr round-trips exactly)."""
    return [float(v) for v in f32(x)]


def versions():
    return {
        "seed": SEED,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "generator": "scripts/make_metric_fixtures.py",
    }


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------
# Binary metrics
# --------------------------------------------------------------------------


def binary_case(name, labels, probs):
    labels = f32(labels)
    probs = f32(probs)
    y = labels.astype(np.float64)
    p = probs.astype(np.float64)
    assert set(np.unique(y)) <= {0.0, 1.0} and 0 < y.sum() < len(y)
    clipped = np.clip(p, EPS, 1.0 - EPS)
    return {
        "name": name,
        "labels": f32_list(labels),
        "probs": f32_list(probs),
        "auc": float(roc_auc_score(y, p)),
        "logloss": float(log_loss(y, clipped, labels=[0.0, 1.0])),
    }


def informative_probs(labels, strength, noise=1.0):
    return sigmoid(strength * (labels - 0.5) + rng.normal(0.0, noise, len(labels)))


def binary_cases():
    cases = [binary_case("tiny_tie_0.625", [1, 0, 1, 0], [0.9, 0.3, 0.3, 0.5])]

    labels = np.array([0, 1] * 5, dtype=np.float64)
    rng.shuffle(labels)
    cases.append(binary_case("n10", labels, informative_probs(labels, 1.0)))

    labels = (rng.random(50) < 0.4).astype(np.float64)
    labels[:2] = [0, 1]
    probs = np.round(informative_probs(labels, 1.5), 1)  # 11 distinct values
    cases.append(binary_case("n50_heavy_ties", labels, probs))

    labels = (rng.random(1000) < 0.3).astype(np.float64)
    cases.append(binary_case("n1000", labels, informative_probs(labels, 1.2)))

    labels = (rng.random(1000) < 0.5).astype(np.float64)
    probs = np.round(informative_probs(labels, 0.8), 2)
    cases.append(binary_case("n1000_ties", labels, probs))

    labels = np.zeros(1000)
    labels[rng.choice(1000, 9, replace=False)] = 1.0
    cases.append(binary_case("n1000_rare_0.9pct", labels, informative_probs(labels, 2.0, 1.5)))

    labels = (rng.random(1000) < 0.2).astype(np.float64)
    probs = rng.choice([0.05, 0.2, 0.6], size=1000)  # three distinct scores
    cases.append(binary_case("n1000_three_scores", labels, probs))

    labels = (rng.random(200) < 0.5).astype(np.float64)
    probs = informative_probs(labels, 3.0, 2.0)
    idx = rng.choice(200, 20, replace=False)
    probs[idx[:10]] = 0.0  # certain predictions, some wrong: exercise the clipping
    probs[idx[10:]] = 1.0
    probs[idx[0]] = 1e-9  # below the clip
    cases.append(binary_case("n200_extremes_clipped", labels, probs))

    labels = (rng.random(300) < 0.5).astype(np.float64)
    cases.append(binary_case("n300_uninformative", labels, rng.random(300)))
    return cases


# --------------------------------------------------------------------------
# Regression / ordering metrics
# --------------------------------------------------------------------------


def ziln_raw_gini_tie_averaged(y, pred):
    """ZILN raw Gini, averaged over the orders inside groups of tied `pred`."""
    n = len(y)
    order = np.argsort(-pred, kind="stable")
    ys = y[order]
    ps = pred[order]
    expected = ys.copy()
    i = 0
    while i < n:
        j = i
        while j < n and ps[j] == ps[i]:
            j += 1
        expected[i:j] = ys[i:j].mean()
        i = j
    cumulative_share = np.cumsum(expected) / y.sum()
    return 2.0 * cumulative_share.sum() / n - 1.0


def ziln_raw_gini_literal(y, pred):
    """ZILN's cumulative_true + gini_from_gain, valid when `pred` has no ties."""
    order = np.argsort(-pred, kind="stable")
    cumulative_share = np.cumsum(y[order]) / y.sum()
    return 2.0 * cumulative_share.sum() / len(y) - 1.0


def normalized_gini(y, pred):
    raw = ziln_raw_gini_tie_averaged(y, pred)
    perfect = ziln_raw_gini_tie_averaged(y, y)
    if len(np.unique(pred)) == len(pred):
        assert abs(raw - ziln_raw_gini_literal(y, pred)) < 1e-12
    assert abs(perfect - ziln_raw_gini_literal(y, y)) < 1e-12
    return raw / perfect


def regression_case(name, y, pred):
    y32 = f32(y)
    p32 = f32(pred)
    y = y32.astype(np.float64)
    p = p32.astype(np.float64)
    assert y.mean() > 0 and len(np.unique(y)) > 1 and len(np.unique(p)) > 1
    rmse = float(np.sqrt(np.mean((y - p) ** 2)))
    mae = float(np.mean(np.abs(y - p)))
    return {
        "name": name,
        "y": f32_list(y32),
        "pred": f32_list(p32),
        "rmse": rmse,
        "mae": mae,
        # NRMSE / NMAE relative to the constant-mean predictor: population std (ddof=0)
        # and the mean absolute deviation from the mean.
        "nrmse": rmse / float(np.std(y, ddof=0)),
        "nmae": mae / float(np.mean(np.abs(y - y.mean()))),
        # The lifetime-value convention: divide by mean(y).
        "nrmse_mean": rmse / float(y.mean()),
        "nmae_mean": mae / float(y.mean()),
        "gini": float(normalized_gini(y, p)),
        "spearman": float(stats.spearmanr(y, p).statistic),
        "mean": float(y.mean()),
        "std": float(np.std(y, ddof=0)),
        "mad": float(np.mean(np.abs(y - y.mean()))),
    }


def zero_inflated(n, zero_share):
    """ZILN-like target: 0 with probability zero_share, else lognormal; and a
    prediction correlated with it."""
    signal = rng.normal(0.0, 1.0, n)
    buys = rng.random(n) >= zero_share
    y = np.where(buys, np.exp(2.0 + 0.8 * signal + rng.normal(0.0, 0.7, n)), 0.0)
    pred = np.exp(1.0 + 0.6 * signal + 0.4 * buys + rng.normal(0.0, 0.6, n))
    return y, pred


def regression_cases():
    cases = [
        regression_case("tiny_hand_0.6", [0, 1, 3], [0.1, 0.3, 0.2]),
        regression_case("tiny_pred_tie_0.9", [0, 1, 3], [0.2, 0.2, 0.9]),
        regression_case("n5", rng.random(5) * 10, rng.random(5) * 10),
    ]

    y = rng.integers(0, 4, 20).astype(np.float64)  # ties in y
    y[0] = 3.0
    pred = np.round(y + rng.normal(0.0, 1.0, 20), 0)  # ties in pred
    cases.append(regression_case("n20_ties_both", y, pred))

    y, pred = zero_inflated(1000, 0.7)
    cases.append(regression_case("n1000_ziln_70pct_zeros", y, pred))

    y, pred = zero_inflated(1000, 0.9)
    cases.append(regression_case("n1000_ziln_90pct_zeros_pred_ties", y, np.round(pred, 0)))

    y, pred = zero_inflated(1000, 0.5)
    bins = np.quantile(pred, [0.2, 0.4, 0.6, 0.8])
    cases.append(regression_case("n1000_pred_five_values", y, np.digitize(pred, bins).astype(np.float64)))

    y = rng.normal(1.0, 2.0, 1000)  # negative values allowed, mean > 0
    pred = 0.5 * y + rng.normal(0.0, 2.0, 1000)
    cases.append(regression_case("n1000_gaussian_with_negatives", y, pred))

    y, pred = zero_inflated(997, 0.6)
    cases.append(regression_case("n997_ziln_reversed", y, -pred + pred.max() + 1.0))
    return cases


# --------------------------------------------------------------------------
# Report statistics
# --------------------------------------------------------------------------


def r6(x):
    return [float(v) for v in np.round(np.asarray(x, dtype=np.float64), 6)]


def sample_case(name, values):
    v = np.asarray(r6(values))
    n = len(v)
    mean = float(np.mean(v))
    std = float(np.std(v, ddof=1))
    lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=std / np.sqrt(n))
    return {"name": name, "values": list(map(float, v)), "mean": mean, "std": std, "ci95": [float(lo), float(hi)]}


def ttest_case(name, a, b):
    a = np.asarray(r6(a))
    b = np.asarray(r6(b))
    res = stats.ttest_rel(a, b)
    return {
        "name": name,
        "a": list(map(float, a)),
        "b": list(map(float, b)),
        "statistic": float(res.statistic),
        "p_value": float(res.pvalue),
        "n": len(a),
        "mean_diff": float(np.mean(a - b)),
    }


def wilcoxon_case(name, a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = a - b
    nonzero = d[d != 0]
    n = len(nonzero)
    ties = len(np.unique(np.abs(nonzero))) < n
    if n > WILCOXON_EXACT_MAX_N:
        method = "asymptotic"
        res = stats.wilcoxon(nonzero, zero_method="wilcox", correction=False, method=method)
    elif not ties:
        method = "exact"
        res = stats.wilcoxon(nonzero, zero_method="wilcox", method=method)
    else:
        method = "exact_with_ties"
        assert n <= 20, "enumerating 2^n sign patterns in SciPy is too slow above 20"
        permutation = stats.PermutationMethod(n_resamples=np.inf)
        res = stats.wilcoxon(nonzero, zero_method="wilcox", method=permutation)
    return {
        "name": name,
        "a": list(map(float, a)),
        "b": list(map(float, b)),
        "method": method,
        "statistic": float(res.statistic),
        "p_value": float(res.pvalue),
        "n": n,
        "mean_diff": float(np.mean(d)),
    }


def stats_reference():
    samples = [
        sample_case("n2", [0.7574, 0.7512]),
        sample_case("n3", [1.0, 2.0, 4.0]),
        sample_case("n5_auc_seeds", 0.75 + rng.normal(0.0, 0.005, 5)),
        sample_case("n10", rng.normal(10.0, 3.0, 10)),
        sample_case("n30", rng.gamma(2.0, 1.5, 30)),
        sample_case("n200", rng.normal(-4.0, 0.1, 200)),
    ]

    base = 0.75 + rng.normal(0.0, 0.005, 30)
    ttests = [
        ttest_case("n2", [0.76, 0.75], [0.74, 0.745]),
        ttest_case("n3", [1.0, 2.0, 3.0], [1.5, 1.0, 2.0]),
        ttest_case("n5_close_models", base[:5] + rng.normal(0.002, 0.004, 5), base[:5]),
        ttest_case("n5_clear_win", base[5:10] + 0.01 + rng.normal(0.0, 0.002, 5), base[5:10]),
        ttest_case("n10_negative", base[:10] - 0.004 + rng.normal(0.0, 0.003, 10), base[:10]),
        ttest_case("n30_tiny_p", base + 0.01 + rng.normal(0.0, 0.003, 30), base),
        ttest_case("n30_null", base + rng.normal(0.0, 0.003, 30), base),
    ]

    wilcoxon = []
    for n in (5, 6, 10, 20, 25):
        a = r6(rng.normal(0.01 if n % 2 else 0.0, 0.02, n) + 0.5)
        b = r6(np.full(n, 0.5) + rng.normal(0.0, 0.001, n))
        wilcoxon.append(wilcoxon_case(f"exact_n{n}", a, b))
    wilcoxon.append(wilcoxon_case("exact_n5_all_positive", [2.0, 3.0, 4.0, 5.0, 6.5], [1.0, 1.0, 1.0, 1.0, 1.0]))
    a = r6(rng.normal(0.0, 1.0, 12))
    b = list(a)
    b[3] = a[3]  # zero differences are dropped: n = 10 non-zero
    b[7] = a[7]
    for i in range(12):
        if i not in (3, 7):
            b[i] = float(np.round(a[i] - rng.normal(0.3, 1.0), 6))
    wilcoxon.append(wilcoxon_case("exact_n12_two_zeros", a, b))
    for n in (26, 40, 100):
        a = r6(rng.normal(0.1, 1.0, n))
        b = r6(rng.normal(0.0, 1.0, n))
        wilcoxon.append(wilcoxon_case(f"asymptotic_n{n}", a, b))
    # Integer values make |d| ties exact in floating point.
    a = rng.integers(0, 6, 15).astype(np.float64)
    b = rng.integers(0, 5, 15).astype(np.float64)
    wilcoxon.append(wilcoxon_case("exact_with_ties_n15_zeros", a, b))
    a = rng.integers(0, 10, 30).astype(np.float64)
    b = rng.integers(0, 8, 30).astype(np.float64)
    wilcoxon.append(wilcoxon_case("asymptotic_n30_ties_and_zeros", a, b))
    a = rng.integers(0, 12, 60).astype(np.float64)
    b = rng.integers(0, 10, 60).astype(np.float64)
    wilcoxon.append(wilcoxon_case("asymptotic_n60_ties_and_zeros", a, b))
    wilcoxon.append(
        wilcoxon_case("exact_with_ties_n6", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.0, 1.0, 1.0, 5.0, 3.0, 3.0])
    )
    # Five seeds, metric differences with a floating-point tie.
    wilcoxon.append(
        wilcoxon_case(
            "exact_with_ties_n5_seeds",
            [0.760, 0.758, 0.762, 0.759, 0.761],
            [0.750, 0.749, 0.751, 0.748, 0.752],
        )
    )
    a = rng.integers(2, 9, 18).astype(np.float64)
    b = rng.integers(0, 6, 18).astype(np.float64)
    b[b == a] += 0.5  # no zero differences: n = 18
    wilcoxon.append(wilcoxon_case("exact_with_ties_n18", a, b))

    for case in wilcoxon:
        if case["method"] == "exact":
            d = np.asarray(case["a"]) - np.asarray(case["b"])
            assert len(np.unique(np.abs(d[d != 0]))) == case["n"]
    return {"versions": versions(), "samples": samples, "ttest_rel": ttests, "wilcoxon": wilcoxon}


def write(path, payload):
    """JSON with one line per case (keeps diffs of regenerated files readable)."""
    parts = []
    for key, value in payload.items():
        if isinstance(value, list):
            cases = ",\n  ".join(json.dumps(case) for case in value)
            parts.append(f"{json.dumps(key)}: [\n  {cases}\n ]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    text = "{\n " + ",\n ".join(parts) + "\n}\n"
    assert json.loads(text) == payload
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    metrics = {"versions": versions(), "binary": binary_cases(), "regression": regression_cases()}
    write(OUT / "reference.json", metrics)
    write(OUT / "stats_reference.json", stats_reference())


if __name__ == "__main__":
    main()

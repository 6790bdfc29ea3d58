"""Reference values for `src/report/power.rs`, computed with statsmodels (independent of the
Rust code): power of the two-sided one-sample (paired) t-test, the effect size detectable
with a given power, and Holm / Bonferroni adjusted p-values.

    python -m venv .venv && .venv/bin/pip install numpy scipy statsmodels
    .venv/bin/python scripts/make_power_fixtures.py > tests/fixtures/report/power_reference.json
"""

import json

import numpy as np
import scipy
import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

tp = TTestPower()
power = []
for n in [2, 3, 5, 10, 30]:
    for dz in [0.3, 1.0, 2.5]:
        value = float(tp.power(effect_size=dz, nobs=n, alpha=0.05, alternative="two-sided"))
        if np.isfinite(value):  # statsmodels returns NaN where the power is ~1
            power.append({"n": n, "dz": dz, "alpha": 0.05, "power": value})
detectable = []
for n in [2, 3, 5, 10, 30]:
    for target in [0.8, 0.9]:
        dz = float(tp.solve_power(effect_size=None, nobs=n, alpha=0.05, power=target,
                                  alternative="two-sided"))
        # solve_power stops at its search bound (dz = 10) for n = 2; keep verified roots only.
        check = tp.power(effect_size=dz, nobs=n, alpha=0.05, alternative="two-sided")
        if abs(check - target) < 1e-8:
            detectable.append({"n": n, "alpha": 0.05, "power": target, "dz": dz})
rng = np.random.default_rng(20261201)
corrections = []
for m in [1, 3, 8, 20]:
    p = np.round(rng.uniform(0, 0.2, size=m) ** 2, 6)
    row = {"p": [float(x) for x in p]}
    for method in ["holm", "bonferroni"]:
        row[method] = [float(x) for x in multipletests(p, method=method)[1]]
    corrections.append(row)
print(json.dumps({
    "versions": {"numpy": np.__version__, "scipy": scipy.__version__,
                 "statsmodels": statsmodels.__version__,
                 "generator": "scripts/make_power_fixtures.py"},
    "power": power, "detectable": detectable, "corrections": corrections}, indent=1))

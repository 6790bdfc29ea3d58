//! Statistical power of the paired t-test and corrections for multiple comparisons: pure
//! functions, no formatting.
//!
//! With few seeds a real difference between two models is often not detectable; calling it
//! "not significant" then says more about the run than about the models. For a compared
//! metric with `n` paired seeds and observed standard deviation `s_d` of the per-seed
//! differences, [`min_detectable_difference`] is the smallest true mean difference the
//! two-sided paired t-test detects with probability `power` at level `alpha`, and
//! [`seeds_needed`] is how many seeds the observed difference would need.
//!
//! Power of the two-sided paired t-test with `n` pairs, effect size `dz = Δ / σ_d`:
//!
//! ```text
//! T' ~ noncentral t(df = n - 1, nc = dz * sqrt(n)),   c = t_{1 - alpha/2, n - 1}
//! power = P(T' > c) + P(T' < -c)
//! ```
//!
//! The noncentral t distribution function is computed by integrating over the scaled chi
//! variable `S = sqrt(V / df)`, `V ~ chi2(df)`:
//! `P(T' <= t) = ∫_0^∞ Φ(t s - nc) g_S(s) ds` (composite Simpson rule).
//!
//! Corrections ([`adjust_p_values`]): Bonferroni `min(1, m p_i)`; Holm's step-down
//! `p_(i) -> max_{j <= i} min(1, (m - j + 1) p_(j))` over the sorted p-values. Both control
//! the family-wise error rate over the `m` comparisons of one table.
//!
//! Checked against statsmodels (`TTestPower`, `multipletests`) via
//! `tests/fixtures/report/power_reference.json`, written by `scripts/make_power_fixtures.py`.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use statrs::function::gamma::ln_gamma;

/// How the p-values of one table's comparisons are adjusted for their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Correction {
    /// Raw p-values.
    None,
    /// Holm's step-down procedure (the default).
    #[default]
    Holm,
    /// Bonferroni: each p-value times the number of comparisons.
    Bonferroni,
}

impl Correction {
    /// The spelling used by `--correction` and in `stats.csv`.
    pub fn name(self) -> &'static str {
        match self {
            Correction::None => "none",
            Correction::Holm => "holm",
            Correction::Bonferroni => "bonferroni",
        }
    }

    /// Parses `none`, `holm` or `bonferroni`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Correction::None),
            "holm" => Some(Correction::Holm),
            "bonferroni" => Some(Correction::Bonferroni),
            _ => None,
        }
    }
}

/// Adjusted p-values in the order given. NaN entries (comparisons that could not be made)
/// stay NaN and do not count towards the number of comparisons `m`.
pub fn adjust_p_values(p: &[f64], correction: Correction) -> Vec<f64> {
    let m = p.iter().filter(|x| !x.is_nan()).count() as f64;
    match correction {
        Correction::None => p.to_vec(),
        Correction::Bonferroni => p.iter().map(|&x| (x * m).min(1.0)).collect(),
        Correction::Holm => {
            let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut out = p.to_vec();
            let mut running = 0.0f64;
            for (rank, &i) in order.iter().enumerate() {
                let adj = ((m - rank as f64) * p[i]).min(1.0);
                running = running.max(adj);
                out[i] = running;
            }
            out
        }
    }
}

/// `P(T <= t)` for `T` noncentral t with `df > 0` degrees of freedom and noncentrality `nc`.
pub fn noncentral_t_cdf(t: f64, df: f64, nc: f64) -> f64 {
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    // Density of S = sqrt(V / df), V ~ chi2(df):
    // g(s) = 2 (df/2)^(df/2) s^(df-1) exp(-df s^2 / 2) / Gamma(df/2).
    let log_norm = std::f64::consts::LN_2 + (df / 2.0) * (df / 2.0).ln() - ln_gamma(df / 2.0);
    let g = |s: f64| -> f64 {
        if s <= 0.0 {
            return if df == 1.0 { log_norm.exp() } else { 0.0 };
        }
        (log_norm + (df - 1.0) * s.ln() - df * s * s / 2.0).exp()
    };
    // S concentrates around 1 with spread ~ 1/sqrt(2 df); cover far into the tail.
    let upper = 1.0 + 12.0 / (2.0 * df).sqrt();
    let steps = 6000usize; // even
    let h = upper / steps as f64;
    let f = |s: f64| normal.cdf(t * s - nc) * g(s);
    let mut sum = f(0.0) + f(upper);
    for k in 1..steps {
        let w = if k % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * f(k as f64 * h);
    }
    (sum * h / 3.0).clamp(0.0, 1.0)
}

/// Power of the two-sided paired t-test with `n >= 2` pairs for effect size `dz` (true mean
/// difference divided by the standard deviation of the differences) at level `alpha`.
pub fn paired_t_power(n: usize, dz: f64, alpha: f64) -> Option<f64> {
    if n < 2 || !dz.is_finite() || !(alpha > 0.0 && alpha < 1.0) {
        return None;
    }
    let df = (n - 1) as f64;
    let crit = StudentsT::new(0.0, 1.0, df)
        .ok()?
        .inverse_cdf(1.0 - alpha / 2.0);
    let nc = dz * (n as f64).sqrt();
    let upper = 1.0 - noncentral_t_cdf(crit, df, nc);
    let lower = noncentral_t_cdf(-crit, df, nc);
    Some((upper + lower).clamp(0.0, 1.0))
}

/// The smallest effect size `dz >= 0` the two-sided paired t-test with `n` pairs detects with
/// probability `power` at level `alpha`. `None` for `n < 2` or parameters out of range.
pub fn min_detectable_dz(n: usize, alpha: f64, power: f64) -> Option<f64> {
    if !(power > alpha && power < 1.0) {
        return None;
    }
    paired_t_power(n, 0.0, alpha)?;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while paired_t_power(n, hi, alpha)? < power {
        hi *= 2.0;
        if hi > 1e6 {
            return None;
        }
    }
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        if paired_t_power(n, mid, alpha)? < power {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(0.5 * (lo + hi))
}

/// [`min_detectable_dz`], remembered per `(n, alpha, power)` within the thread: a report asks
/// for the same few seed counts once per comparison, and each answer takes ~10^6 evaluations.
pub fn min_detectable_dz_cached(n: usize, alpha: f64, power: f64) -> Option<f64> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static CACHE: RefCell<HashMap<(usize, u64, u64), Option<f64>>> = RefCell::new(HashMap::new());
    }
    let key = (n, alpha.to_bits(), power.to_bits());
    if let Some(v) = CACHE.with(|c| c.borrow().get(&key).copied()) {
        return v;
    }
    let v = min_detectable_dz(n, alpha, power);
    CACHE.with(|c| c.borrow_mut().insert(key, v));
    v
}

/// The smallest true mean paired difference detectable with `n` pairs whose differences have
/// sample standard deviation `sd_diff` (two-sided paired t-test, level `alpha`, `power`).
/// `None` when `n < 2` or `sd_diff` is not finite and positive.
pub fn min_detectable_difference(n: usize, sd_diff: f64, alpha: f64, power: f64) -> Option<f64> {
    if !(sd_diff.is_finite() && sd_diff > 0.0) {
        return None;
    }
    Some(min_detectable_dz(n, alpha, power)? * sd_diff)
}

/// How many pairs (seeds) a true mean difference `diff` needs to be detected with probability
/// `power` at level `alpha`, if the differences keep standard deviation `sd_diff`. `None` when
/// `diff` is zero, the inputs are not finite, or more than `max_n` pairs would be needed.
pub fn seeds_needed(
    diff: f64,
    sd_diff: f64,
    alpha: f64,
    power: f64,
    max_n: usize,
) -> Option<usize> {
    if diff == 0.0 || !diff.is_finite() || !(sd_diff.is_finite() && sd_diff > 0.0) {
        return None;
    }
    let dz = diff.abs() / sd_diff;
    // Power grows with n: find a bracket by doubling, then bisect on integers.
    let mut hi = 2usize;
    while paired_t_power(hi, dz, alpha)? < power {
        if hi >= max_n {
            return None;
        }
        hi = (hi * 2).min(max_n);
    }
    let mut lo = hi / 2; // power(lo) < power unless lo < 2
    if lo < 2 {
        return Some(hi);
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if paired_t_power(mid, dz, alpha)? >= power {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_and_bonferroni_by_hand() {
        // m = 3: sorted 0.01, 0.02, 0.04 -> 0.03, 0.04, 0.04 (monotone), Bonferroni x3.
        let p = [0.04, 0.01, 0.02, f64::NAN];
        let holm = adjust_p_values(&p, Correction::Holm);
        assert!((holm[0] - 0.04).abs() < 1e-15);
        assert!((holm[1] - 0.03).abs() < 1e-15);
        assert!((holm[2] - 0.04).abs() < 1e-15);
        assert!(holm[3].is_nan());
        let bonf = adjust_p_values(&p, Correction::Bonferroni);
        assert!((bonf[0] - 0.12).abs() < 1e-15 && (bonf[1] - 0.03).abs() < 1e-15);
        assert_eq!(
            adjust_p_values(&[0.5, 0.7], Correction::Bonferroni),
            vec![1.0, 1.0]
        );
    }

    #[test]
    fn zero_noncentrality_is_the_central_t() {
        for df in [1.0, 2.0, 4.0, 9.0, 29.0] {
            let central = StudentsT::new(0.0, 1.0, df).unwrap();
            for t in [-3.0, -0.5, 0.0, 1.2, 4.0] {
                let got = noncentral_t_cdf(t, df, 0.0);
                assert!((got - central.cdf(t)).abs() < 1e-9, "df {df} t {t}: {got}");
            }
        }
    }

    #[test]
    fn power_at_zero_effect_is_alpha_and_grows_with_n() {
        for n in [2, 5, 10] {
            let p0 = paired_t_power(n, 0.0, 0.05).unwrap();
            assert!((p0 - 0.05).abs() < 1e-9, "n {n}: {p0}");
        }
        let a = paired_t_power(5, 1.0, 0.05).unwrap();
        let b = paired_t_power(10, 1.0, 0.05).unwrap();
        assert!(a < b);
        assert_eq!(paired_t_power(1, 1.0, 0.05), None);
    }

    #[test]
    fn seeds_needed_is_the_first_n_reaching_the_power() {
        let n = seeds_needed(0.5, 1.0, 0.05, 0.8, 10_000).unwrap();
        assert!(paired_t_power(n, 0.5, 0.05).unwrap() >= 0.8);
        assert!(paired_t_power(n - 1, 0.5, 0.05).unwrap() < 0.8);
        assert_eq!(seeds_needed(0.0, 1.0, 0.05, 0.8, 100), None);
        assert_eq!(seeds_needed(1e-6, 1.0, 0.05, 0.8, 100), None);
    }

    #[test]
    fn matches_statsmodels() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report/power_reference.json"
        );
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for r in v["power"].as_array().unwrap() {
            let n = r["n"].as_u64().unwrap() as usize;
            let dz = r["dz"].as_f64().unwrap();
            let want = r["power"].as_f64().unwrap();
            let got = paired_t_power(n, dz, 0.05).unwrap();
            assert!(
                (got - want).abs() < 1e-7,
                "power n {n} dz {dz}: {got} vs {want}"
            );
        }
        for r in v["detectable"].as_array().unwrap() {
            let n = r["n"].as_u64().unwrap() as usize;
            let target = r["power"].as_f64().unwrap();
            let want = r["dz"].as_f64().unwrap();
            let got = min_detectable_dz(n, 0.05, target).unwrap();
            assert!(
                (got - want).abs() < 1e-5 * want.max(1.0),
                "dz n {n}: {got} vs {want}"
            );
        }
        for r in v["corrections"].as_array().unwrap() {
            let p: Vec<f64> = r["p"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for (name, c) in [
                ("holm", Correction::Holm),
                ("bonferroni", Correction::Bonferroni),
            ] {
                let want: Vec<f64> = r[name]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect();
                let got = adjust_p_values(&p, c);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "{name}: {got:?} vs {want:?}");
                }
            }
        }
    }
}

//! Pure statistics for the report: summaries of per-seed results and paired
//! significance tests between two models run on the same seeds.
//!
//! Nothing here formats or prints (criterion style: statistics never format).
//! The summaries ([`mean`], [`std_dev`], [`ci95`]) take plain slices and say
//! in their docs what an undefined case returns; [`Sample`] is the checked
//! alternative (non-empty, all finite, checked once in the constructor) with
//! the same operations as methods. The paired tests take the two per-seed
//! result slices `a` and `b` (pair `i` = seed `i`) and check them.
//! A test ends in a [`TestResult`], and [`verdict`] turns that into
//! better / worse / not significant for model `a` against model `b`.
//!
//! Checked against SciPy (`scipy.stats.t.interval`, `ttest_rel`, `wilcoxon`)
//! via `tests/fixtures/metrics/stats_reference.json`, written by
//! `scripts/make_metric_fixtures.py`.

use statrs::distribution::{ChiSquared, ContinuousCDF, StudentsT};

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A [`Sample`] needs at least one value.
    #[error("a sample needs at least one value, got none")]
    EmptySample,
    /// A value is NaN or infinite.
    #[error("{input}[{index}] is not finite ({value})")]
    NonFinite {
        /// `"sample"`, or `"a"` / `"b"` for the paired tests.
        input: &'static str,
        /// Position of the first non-finite value.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The two sides of a paired test differ in length.
    #[error("a paired test needs equal lengths, but a has {a} values and b has {b}")]
    LengthMismatch {
        /// Length of `a`.
        a: usize,
        /// Length of `b`.
        b: usize,
    },
    /// Fewer pairs than the test needs.
    #[error("the {test} needs at least {needed} pairs, got {n}")]
    TooFewPairs {
        /// `"paired t-test"` or `"Wilcoxon signed-rank test"`.
        test: &'static str,
        /// Minimum number of pairs (2).
        needed: usize,
        /// Number of pairs given.
        n: usize,
    },
}

/// A non-empty list of finite values (e.g. one metric over several seeds).
///
/// Invariants, checked by the constructors: at least one value, none NaN or
/// infinite. Its methods therefore return a number or `None`, never NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample(Vec<f64>);

impl Sample {
    /// Wraps `values` after checking the invariants.
    ///
    /// # Errors
    /// [`StatsError::EmptySample`] or [`StatsError::NonFinite`].
    pub fn new(values: Vec<f64>) -> Result<Self, StatsError> {
        if values.is_empty() {
            return Err(StatsError::EmptySample);
        }
        check_finite("sample", &values)?;
        Ok(Self(values))
    }

    /// Copies `values` into a checked sample; see [`Sample::new`].
    ///
    /// # Errors
    /// [`StatsError::EmptySample`] or [`StatsError::NonFinite`].
    pub fn from_slice(values: &[f64]) -> Result<Self, StatsError> {
        Self::new(values.to_vec())
    }

    /// The values, in the order given.
    pub fn values(&self) -> &[f64] {
        &self.0
    }

    /// Number of values (always at least 1).
    pub fn n(&self) -> usize {
        self.0.len()
    }

    /// [`mean`] of the values.
    pub fn mean(&self) -> f64 {
        mean(&self.0)
    }

    /// [`std_dev`] of the values; `None` when there is a single value.
    pub fn std_dev(&self) -> Option<f64> {
        (self.n() >= 2).then(|| std_dev(&self.0))
    }

    /// [`ci95`] of the values; `None` when there is a single value.
    pub fn ci95(&self) -> Option<(f64, f64)> {
        ci95(&self.0)
    }
}

impl TryFrom<Vec<f64>> for Sample {
    type Error = StatsError;

    fn try_from(values: Vec<f64>) -> Result<Self, StatsError> {
        Self::new(values)
    }
}

impl AsRef<[f64]> for Sample {
    fn as_ref(&self) -> &[f64] {
        &self.0
    }
}

/// Arithmetic mean; NaN when `values` is empty.
///
/// Formula: `mean = (1/n) sum_i x_i` (computed in two passes: the naive mean
/// plus the mean of the residuals, which removes most rounding error).
/// Non-finite values propagate; a [`Sample`] rules them out.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let naive = values.iter().sum::<f64>() / n;
    naive + values.iter().map(|v| v - naive).sum::<f64>() / n
}

/// Sample standard deviation (Bessel-corrected, divisor n - 1); NaN when
/// n < 2.
///
/// Formula: `s = sqrt( sum_i (x_i - mean)^2 / (n - 1) )`.
/// Non-finite values propagate; a [`Sample`] rules them out.
pub fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Two-sided 95% confidence interval for the mean, from the t-distribution
/// with n - 1 degrees of freedom; `None` when n < 2 or a value is not finite.
///
/// Formula: `mean -+ t_{0.975, n-1} * s / sqrt(n)`, with `s` the sample
/// standard deviation ([`std_dev`]). Same as
/// `scipy.stats.t.interval(0.95, n - 1, loc=mean, scale=s / sqrt(n))`.
/// A constant sample gives the zero-width interval `(mean, mean)`.
pub fn ci95(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let m = mean(values);
    let half = t_quantile(0.975, (n - 1) as f64) * std_dev(values) / (n as f64).sqrt();
    Some((m - half, m + half))
}

/// Result of a two-sided paired test of `a` against `b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// The test statistic: t for [`paired_t_test`]; `min(W+, W-)` (SciPy's
    /// two-sided convention) for [`wilcoxon_signed_rank`].
    pub statistic: f64,
    /// Two-sided p-value, in [0, 1].
    pub p_value: f64,
    /// Number of pairs the test used: all pairs for the t-test; the pairs
    /// with a non-zero difference for Wilcoxon.
    pub n: usize,
    /// Mean of the differences `a_i - b_i` over all pairs (zeros included).
    /// Its sign says which side is higher; see [`verdict`].
    pub mean_diff: f64,
}

/// Two-sided paired t-test of `a` against `b` (pair `i` = seed `i`).
///
/// Formula, with `d_i = a_i - b_i`, `n` pairs, `mean_d` and `s_d` the mean and
/// sample standard deviation of `d`:
///
/// ```text
/// t = mean_d / (s_d / sqrt(n)),   p = 2 * P(T_{n-1} >= |t|)
/// ```
///
/// as `scipy.stats.ttest_rel(a, b)`. Rule for a degenerate `s_d = 0` (every
/// difference identical), where the formula is 0/0 or x/0: if every
/// difference is 0 the sides are indistinguishable, `t = 0` and `p = 1`;
/// if every difference is the same non-zero `c`, `t = +-inf` (sign of `c`)
/// and `p = 0`, as SciPy.
///
/// # Errors
/// [`StatsError::LengthMismatch`], [`StatsError::NonFinite`], or
/// [`StatsError::TooFewPairs`] when n < 2.
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<TestResult, StatsError> {
    let d = differences("paired t-test", a, b)?;
    let n = d.len();
    let mean_diff = mean(&d);
    if d.iter().all(|&x| x == d[0]) {
        let (statistic, p_value) = if d[0] == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(d[0]), 0.0)
        };
        return Ok(TestResult {
            statistic,
            p_value,
            n,
            mean_diff,
        });
    }
    let se = std_dev(&d) / (n as f64).sqrt();
    let statistic = mean_diff / se;
    let p_value = (2.0 * students_t((n - 1) as f64).sf(statistic.abs())).min(1.0);
    Ok(TestResult {
        statistic,
        p_value,
        n,
        mean_diff,
    })
}

/// Largest number of non-zero differences for which [`wilcoxon_signed_rank`]
/// uses the exact null distribution; above it, the normal approximation.
pub const WILCOXON_EXACT_MAX_N: usize = 25;

/// Two-sided Wilcoxon signed-rank test of `a` against `b`.
///
/// With `d_i = a_i - b_i`: zero differences are dropped (Wilcoxon's
/// original "wilcox" method), leaving `n` pairs; `|d_i|` are ranked with
/// [`average_ranks`](crate::metrics::average_ranks) (ties averaged; a tie
/// means exact floating-point equality of `|d_i|`); `W+` (`W-`) is the sum of
/// the ranks of the positive (negative) differences; the statistic is
/// `min(W+, W-)`.
///
/// p-value:
/// * `n <= 25` ([`WILCOXON_EXACT_MAX_N`]): exact,
///   `p = min(1, 2 * min(P(W <= W+), P(W >= W+)))`, where W is the sum of the
///   observed ranks over a random sign pattern (all 2^n equally likely under
///   the null), counted by dynamic programming. Without ties this is the
///   classical exact distribution (`scipy.stats.wilcoxon(method="exact")`);
///   with ties it is the exact conditional (permutation) distribution of the
///   average ranks (`method=PermutationMethod(n_resamples=inf)`), because the
///   normal approximation is badly anti-conservative at the small n typical
///   of seed comparisons (5 seeds with one tie give p = 0.041 where no sign
///   pattern can give less than 0.0625);
/// * `n > 25`: the normal approximation, without continuity correction and
///   with the tie correction (`method="asymptotic", correction=False`):
///
///   ```text
///   mean = n (n + 1) / 4
///   var  = n (n + 1) (2n + 1) / 24 - sum_over_tie_groups (t^3 - t) / 48
///   z    = (W+ - mean) / sqrt(var),   p = 2 * P(Z >= |z|) = P(chi2_1 >= z^2)
///   ```
///
/// SciPy is called on `d[d != 0]` with `zero_method="wilcox"` for the
/// fixtures. Rule when every difference is zero (`n = 0` after dropping):
/// statistic 0, `p = 1`.
///
/// # Errors
/// [`StatsError::LengthMismatch`], [`StatsError::NonFinite`], or
/// [`StatsError::TooFewPairs`] when fewer than 2 pairs are given (counted
/// before zeros are dropped).
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Result<TestResult, StatsError> {
    let d = differences("Wilcoxon signed-rank test", a, b)?;
    let mean_diff = mean(&d);
    let nonzero: Vec<f64> = d.into_iter().filter(|&x| x != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return Ok(TestResult {
            statistic: 0.0,
            p_value: 1.0,
            n,
            mean_diff,
        });
    }
    let abs: Vec<f64> = nonzero.iter().map(|x| x.abs()).collect();
    let ranks = crate::metrics::average_ranks(&abs);
    let w_plus: f64 = ranks
        .iter()
        .zip(&nonzero)
        .filter(|(_, &x)| x > 0.0)
        .map(|(r, _)| r)
        .sum();
    let total = (n * (n + 1)) as f64 / 2.0;
    let w_minus = total - w_plus;
    let p_value = if n <= WILCOXON_EXACT_MAX_N {
        // Average ranks are multiples of 1/2: doubled, they are integers.
        let doubled: Vec<usize> = ranks.iter().map(|r| (2.0 * r).round() as usize).collect();
        wilcoxon_exact_p(&doubled, (2.0 * w_plus).round() as usize)
    } else {
        let nf = n as f64;
        let tie_term: f64 = tie_group_sizes(&abs)
            .iter()
            .map(|&t| {
                let t = t as f64;
                t * t * t - t
            })
            .sum();
        let var = nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term / 48.0;
        let z = (w_plus - nf * (nf + 1.0) / 4.0) / var.sqrt();
        two_sided_normal_p(z)
    };
    Ok(TestResult {
        statistic: w_plus.min(w_minus),
        p_value,
        n,
        mean_diff,
    })
}

/// Outcome of comparing model `a` with model `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// `a` is significantly better than `b`.
    Better,
    /// `a` is significantly worse than `b`.
    Worse,
    /// No significant difference at the chosen level.
    NotSignificant,
}

/// Turns a test into a verdict for `a` against `b`.
///
/// Rule: significant when `p_value <= alpha` (the paper's "significant at
/// p <= 0.05"); then the sign of `mean_diff = mean(a - b)` gives the
/// direction: a higher `a` is [`Verdict::Better`] when `higher_is_better`
/// (AUC, Gini, Spearman) and [`Verdict::Worse`] otherwise (log-loss, NRMSE).
/// Not significant, a zero `mean_diff`, or a NaN `alpha` / p-value give
/// [`Verdict::NotSignificant`]. For the Wilcoxon test the direction also comes
/// from the mean difference, which in rare skewed cases can disagree with the
/// rank sums.
pub fn verdict(test: &TestResult, alpha: f64, higher_is_better: bool) -> Verdict {
    let significant = test.p_value <= alpha;
    if !significant || test.mean_diff == 0.0 || test.mean_diff.is_nan() {
        return Verdict::NotSignificant;
    }
    if (test.mean_diff > 0.0) == higher_is_better {
        Verdict::Better
    } else {
        Verdict::Worse
    }
}

fn check_finite(input: &'static str, values: &[f64]) -> Result<(), StatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            input,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

/// Validates a paired input and returns `a_i - b_i`.
fn differences(test: &'static str, a: &[f64], b: &[f64]) -> Result<Vec<f64>, StatsError> {
    if a.len() != b.len() {
        return Err(StatsError::LengthMismatch {
            a: a.len(),
            b: b.len(),
        });
    }
    check_finite("a", a)?;
    check_finite("b", b)?;
    if a.len() < 2 {
        return Err(StatsError::TooFewPairs {
            test,
            needed: 2,
            n: a.len(),
        });
    }
    Ok(a.iter().zip(b).map(|(x, y)| x - y).collect())
}

fn students_t(df: f64) -> StudentsT {
    StudentsT::new(0.0, 1.0, df).expect("df >= 1 is a valid Student's t")
}

/// `2 * P(Z >= |z|)` for a standard normal Z, computed as the identical
/// `P(chi2_1 >= z^2)`: statrs' incomplete gamma is accurate to ~1e-14 here,
/// while its `erfc` (behind `Normal::sf`) is off by up to 1e-10 near 0.5.
fn two_sided_normal_p(z: f64) -> f64 {
    let chi2_1 = ChiSquared::new(1.0).expect("chi-squared with 1 df is valid");
    chi2_1.sf(z * z).min(1.0)
}

/// Quantile of Student's t with `df` degrees of freedom, for `p` in (0.5, 1).
///
/// statrs' `inverse_cdf` (AS 64 + Newton on the incomplete beta) is refined
/// with Newton steps on statrs' own `sf` so the CI matches SciPy to ~1e-12.
fn t_quantile(p: f64, df: f64) -> f64 {
    use statrs::distribution::Continuous;
    let dist = students_t(df);
    let mut x = dist.inverse_cdf(p);
    for _ in 0..3 {
        let step = (dist.sf(x) - (1.0 - p)) / dist.pdf(x);
        if !step.is_finite() {
            break;
        }
        x += step;
    }
    x
}

/// Sizes (>= 2) of the groups of equal values in `x`.
fn tie_group_sizes(x: &[f64]) -> Vec<usize> {
    let mut sorted = x.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    sorted
        .chunk_by(|p, q| p == q)
        .map(<[f64]>::len)
        .filter(|&len| len >= 2)
        .collect()
}

/// Exact two-sided p-value of a signed-rank statistic, given the (doubled,
/// hence integer) ranks and the observed doubled `W+`:
/// `min(1, 2 * min(P(W <= w), P(W >= w)))`, W the rank sum of a uniformly
/// random subset of the ranks (a random sign pattern).
fn wilcoxon_exact_p(ranks: &[usize], w_plus: usize) -> f64 {
    // counts[k] = number of subsets of `ranks` whose sum is k; at most
    // 2^25 subsets, so u64 never overflows.
    let max_sum: usize = ranks.iter().sum();
    let mut counts = vec![0u64; max_sum + 1];
    counts[0] = 1;
    let mut reached = 0;
    for &rank in ranks {
        reached += rank;
        for k in (rank..=reached).rev() {
            counts[k] += counts[k - rank];
        }
    }
    let total = 2f64.powi(ranks.len() as i32);
    let w = w_plus.min(max_sum);
    let lower: u64 = counts[..=w].iter().sum();
    let upper: u64 = counts[w..].iter().sum();
    (2.0 * lower.min(upper) as f64 / total).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300) || (a - b).abs() <= 1e-15
    }

    fn sample(v: &[f64]) -> Sample {
        Sample::from_slice(v).unwrap()
    }

    #[test]
    fn sample_checks_its_invariants() {
        assert_eq!(Sample::new(vec![]), Err(StatsError::EmptySample));
        let err = Sample::from_slice(&[1.0, f64::NAN]).unwrap_err();
        assert_eq!(err.to_string(), "sample[1] is not finite (NaN)");
        assert!(Sample::try_from(vec![f64::INFINITY]).is_err());
        let s = sample(&[3.0, 1.0]);
        assert_eq!(s.values(), &[3.0, 1.0]);
        assert_eq!(s.as_ref(), &[3.0, 1.0]);
        assert_eq!(s.n(), 2);
    }

    #[test]
    fn mean_std_ci_hand_worked() {
        // x = [1, 2, 4]: mean 7/3; deviations -4/3, -1/3, 5/3; squares sum
        // (16 + 1 + 25) / 9 = 42/9; / (n - 1) = 7/3 -> s = sqrt(7/3).
        // t_{0.975, 2} = 4.302652729749464 (scipy.stats.t.ppf(0.975, 2)).
        // half-width = 4.3026527... * sqrt(7/3) / sqrt(3).
        let x = [1.0, 2.0, 4.0];
        assert!(close(mean(&x), 7.0 / 3.0, 1e-15));
        assert!(close(std_dev(&x), (7.0f64 / 3.0).sqrt(), 1e-15));
        let half = 4.302652729749464 * (7.0f64 / 3.0).sqrt() / 3f64.sqrt();
        let (lo, hi) = ci95(&x).unwrap();
        assert!(close(lo, 7.0 / 3.0 - half, 1e-12), "{lo}");
        assert!(close(hi, 7.0 / 3.0 + half, 1e-12), "{hi}");
        // The checked Sample gives the same numbers.
        let s = sample(&x);
        assert_eq!(s.mean(), mean(&x));
        assert_eq!(s.std_dev(), Some(std_dev(&x)));
        assert_eq!(s.ci95(), Some((lo, hi)));
    }

    #[test]
    fn undefined_summaries() {
        // Slices: NaN / None where the statistic is undefined.
        assert!(mean(&[]).is_nan());
        assert!(std_dev(&[0.75]).is_nan());
        assert_eq!(ci95(&[0.75]), None);
        assert_eq!(ci95(&[0.75, f64::NAN]), None);
        assert!(!mean(&[1.0, f64::INFINITY]).is_finite());
        // A one-value Sample has a mean but no spread.
        let s = sample(&[0.75]);
        assert_eq!(s.mean(), 0.75);
        assert_eq!(s.std_dev(), None);
        assert_eq!(s.ci95(), None);
    }

    #[test]
    fn constant_sample_has_a_zero_width_interval() {
        assert_eq!(std_dev(&[0.5; 4]), 0.0);
        assert_eq!(ci95(&[0.5; 4]), Some((0.5, 0.5)));
    }

    #[test]
    fn t_quantiles_match_tables() {
        // scipy.stats.t.ppf(0.975, df) for df = 1, 4, 29, 1000.
        for (df, want) in [
            (1.0, 12.706204736174698),
            (4.0, 2.7764451051977934),
            (29.0, 2.045229642132703),
            (1000.0, 1.9623390808264078),
        ] {
            let got = t_quantile(0.975, df);
            assert!(close(got, want, 1e-12), "df {df}: {got} vs {want}");
        }
    }

    #[test]
    fn paired_t_hand_worked() {
        // d = a - b = [-0.5, 1, 1]: mean 0.5; deviations -1, 0.5, 0.5 ->
        // s^2 = 1.5 / 2 = 0.75; se = sqrt(0.75 / 3) = 0.5; t = 1.
        // For df = 2, P(|T| >= t) = 1 - t / sqrt(t^2 + 2) = 1 - 1/sqrt(3).
        let r = paired_t_test(&[1.0, 2.0, 3.0], &[1.5, 1.0, 2.0]).unwrap();
        assert!(close(r.statistic, 1.0, 1e-14));
        assert!(
            close(r.p_value, 1.0 - 1.0 / 3f64.sqrt(), 1e-12),
            "{}",
            r.p_value
        );
        assert_eq!(r.n, 3);
        assert!(close(r.mean_diff, 0.5, 1e-15));
    }

    #[test]
    fn paired_t_degenerate_differences() {
        // Identical pairs: p = 1 by rule.
        let same = paired_t_test(&[0.7, 0.8, 0.9], &[0.7, 0.8, 0.9]).unwrap();
        assert_eq!(
            (same.statistic, same.p_value, same.mean_diff),
            (0.0, 1.0, 0.0)
        );
        // Constant non-zero difference: t = -inf, p = 0 (as SciPy).
        let shifted = paired_t_test(&[1.0, 2.0, 3.0], &[2.0, 3.0, 4.0]).unwrap();
        assert_eq!(shifted.statistic, f64::NEG_INFINITY);
        assert_eq!(shifted.p_value, 0.0);
    }

    #[test]
    fn paired_tests_reject_bad_input() {
        for test in [paired_t_test, wilcoxon_signed_rank] {
            assert_eq!(
                test(&[1.0, 2.0], &[1.0]).unwrap_err(),
                StatsError::LengthMismatch { a: 2, b: 1 }
            );
            assert!(matches!(
                test(&[1.0], &[2.0]).unwrap_err(),
                StatsError::TooFewPairs {
                    needed: 2,
                    n: 1,
                    ..
                }
            ));
            assert!(matches!(
                test(&[], &[]).unwrap_err(),
                StatsError::TooFewPairs { n: 0, .. }
            ));
            assert!(matches!(
                test(&[1.0, 2.0], &[1.0, f64::NAN]).unwrap_err(),
                StatsError::NonFinite {
                    input: "b",
                    index: 1,
                    ..
                }
            ));
        }
        assert_eq!(
            paired_t_test(&[1.0], &[2.0]).unwrap_err().to_string(),
            "the paired t-test needs at least 2 pairs, got 1"
        );
        assert_eq!(
            wilcoxon_signed_rank(&[1.0, 2.0], &[1.0])
                .unwrap_err()
                .to_string(),
            "a paired test needs equal lengths, but a has 2 values and b has 1"
        );
        assert_eq!(
            paired_t_test(&[1.0, f64::INFINITY], &[1.0, 2.0])
                .unwrap_err()
                .to_string(),
            "a[1] is not finite (inf)"
        );
    }

    #[test]
    fn wilcoxon_exact_all_positive() {
        // Five positive differences with distinct sizes: W+ = 15, W- = 0.
        // Only 1 of the 2^5 = 32 sign patterns has W+ <= 0 (or >= 15):
        // p = 2 * 1/32 = 0.0625.
        let r = wilcoxon_signed_rank(&[2.0, 3.0, 4.0, 5.0, 6.5], &[1.0; 5]).unwrap();
        assert_eq!(r.statistic, 0.0);
        assert_eq!(r.p_value, 0.0625);
        assert_eq!(r.n, 5);
    }

    #[test]
    fn wilcoxon_exact_distribution_small_n() {
        // n = 3: subset sums of {1, 2, 3} are 0, 1, 2, 3, 3, 4, 5, 6.
        // W+ = 1: P(W <= 1) = 2/8, P(W >= 1) = 7/8 -> p = 2 * 2/8 = 0.5.
        // (Ranks and W+ are passed doubled.)
        assert_eq!(wilcoxon_exact_p(&[2, 4, 6], 2), 0.5);
        // W+ = 3 (the centre): both tails >= 1/2 -> p clipped to 1.
        assert_eq!(wilcoxon_exact_p(&[2, 4, 6], 6), 1.0);
        // One pair: W+ = 1 or 0, each with probability 1/2 -> p = 1.
        assert_eq!(wilcoxon_exact_p(&[2], 2), 1.0);
        // Tied ranks 1.5, 1.5, 3 (doubled 3, 3, 6): subset sums (doubled)
        // 0, 3, 3, 6, 6, 9, 9, 12. W+ = 0: P(W <= 0) = 1/8 -> p = 0.25.
        assert_eq!(wilcoxon_exact_p(&[3, 3, 6], 0), 0.25);
    }

    #[test]
    fn wilcoxon_drops_zero_differences() {
        // d = [0, 1, -2, 3, 0, 4]: zeros dropped, n = 4, ranks of |d| are
        // 1, 2, 3, 4; W+ = 1 + 3 + 4 = 8, W- = 2 -> statistic 2.
        // Subsets of {1..4} with sum <= 2: {}, {1}, {2} -> P = 3/16; p = 6/16.
        let a = [5.0, 6.0, 3.0, 8.0, 5.0, 9.0];
        let b = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0];
        let r = wilcoxon_signed_rank(&a, &b).unwrap();
        assert_eq!((r.statistic, r.n), (2.0, 4));
        assert_eq!(r.p_value, 0.375);
        // mean_diff keeps the zeros: (0 + 1 - 2 + 3 + 0 + 4) / 6 = 1.
        assert!(close(r.mean_diff, 1.0, 1e-15));
    }

    #[test]
    fn wilcoxon_small_n_with_ties_is_exact() {
        // d = [1, 1, -1, 2]: |d| ranks 2, 2, 2, 4; W+ = 2 + 2 + 4 = 8, W- = 2.
        // Sign patterns: k of the three 2s (1, 3, 3, 1 ways) with or without
        // the 4 -> sums 0:1, 2:3, 4:4, 6:4, 8:3, 10:1 (16 patterns).
        // P(W >= 8) = 4/16 -> p = 2 * 4/16 = 0.5.
        let r = wilcoxon_signed_rank(&[1.0, 1.0, -1.0, 2.0], &[0.0; 4]).unwrap();
        assert_eq!(r.statistic, 2.0);
        assert_eq!(r.p_value, 0.5);
    }

    #[test]
    fn wilcoxon_large_n_uses_the_tie_corrected_normal_approximation() {
        // 30 differences: ten -1 (ranks 1..=10, average 5.5), ten +2 (average
        // 15.5), ten +3 (average 25.5). W+ = 155 + 255 = 410, W- = 55.
        // mean = 30 * 31 / 4 = 232.5;
        // var = 30 * 31 * 61 / 24 - 3 * (10^3 - 10) / 48 = 2363.75 - 61.875.
        // z = (410 - 232.5) / sqrt(var); p = 2 * (1 - Phi(z)) = erfc(z / sqrt 2).
        let mut d = vec![-1.0; 10];
        d.extend([2.0; 10]);
        d.extend([3.0; 10]);
        let r = wilcoxon_signed_rank(&d, &[0.0; 30]).unwrap();
        assert_eq!((r.statistic, r.n), (55.0, 30));
        // z = 3.699623158154633; scipy.special.erfc(z / sqrt(2)) below.
        let want = 0.00021591984020794173;
        assert!(close(r.p_value, want, 1e-13), "{} vs {want}", r.p_value);
    }

    #[test]
    fn two_sided_normal_p_values() {
        // 2 * (1 - Phi(z)) for z = 0, 1.959963984540054 (the 97.5% quantile),
        // 0.7238423518714864 (scipy: 2 * ndtr(-z) = 0.4691625250282967), -3.
        assert_eq!(two_sided_normal_p(0.0), 1.0);
        assert!(close(two_sided_normal_p(1.959963984540054), 0.05, 1e-14));
        assert!(close(
            two_sided_normal_p(0.7238423518714864),
            0.4691625250282967,
            1e-14
        ));
        assert!(close(
            two_sided_normal_p(-3.0),
            0.0026997960632601866,
            1e-13
        ));
    }

    #[test]
    fn wilcoxon_all_zero_differences_give_p_one() {
        let r = wilcoxon_signed_rank(&[0.3, 0.4], &[0.3, 0.4]).unwrap();
        assert_eq!(
            (r.statistic, r.p_value, r.n, r.mean_diff),
            (0.0, 1.0, 0, 0.0)
        );
    }

    #[test]
    fn verdict_from_p_value_and_direction() {
        let result = |p_value, mean_diff| TestResult {
            statistic: 0.0,
            p_value,
            n: 5,
            mean_diff,
        };
        // AUC (higher is better): a higher and significant -> Better.
        assert_eq!(verdict(&result(0.01, 0.004), 0.05, true), Verdict::Better);
        assert_eq!(verdict(&result(0.01, -0.004), 0.05, true), Verdict::Worse);
        // NRMSE (lower is better): a higher -> Worse.
        assert_eq!(verdict(&result(0.01, 0.2), 0.05, false), Verdict::Worse);
        assert_eq!(verdict(&result(0.01, -0.2), 0.05, false), Verdict::Better);
        // p = alpha is significant (p <= alpha); above is not.
        assert_eq!(verdict(&result(0.05, 1.0), 0.05, true), Verdict::Better);
        assert_eq!(
            verdict(&result(0.0501, 1.0), 0.05, true),
            Verdict::NotSignificant
        );
        // No direction, or NaN, is never significant.
        assert_eq!(
            verdict(&result(0.0, 0.0), 0.05, true),
            Verdict::NotSignificant
        );
        assert_eq!(
            verdict(&result(f64::NAN, 1.0), 0.05, true),
            Verdict::NotSignificant
        );
        assert_eq!(
            verdict(&result(0.01, 1.0), f64::NAN, true),
            Verdict::NotSignificant
        );
    }

    #[test]
    fn verdict_end_to_end() {
        let a = [0.760, 0.758, 0.762, 0.759, 0.761];
        let b = [0.750, 0.749, 0.751, 0.748, 0.752];
        let t = paired_t_test(&a, &b).unwrap();
        assert_eq!(verdict(&t, 0.05, true), Verdict::Better);
        assert_eq!(verdict(&t, 0.05, false), Verdict::Worse);
        // n = 5 exact Wilcoxon cannot go below p = 0.0625, even though
        // |d| has floating-point ties here (0.760 - 0.750 == 0.762 - 0.752?
        // whatever the bits say, the exact test is used at n <= 25).
        let w = wilcoxon_signed_rank(&a, &b).unwrap();
        assert_eq!(w.p_value, 0.0625);
        assert_eq!(verdict(&w, 0.05, true), Verdict::NotSignificant);
    }

    mod scipy_reference {
        //! Parity with SciPy on `tests/fixtures/metrics/stats_reference.json`
        //! (written by `scripts/make_metric_fixtures.py`).
        use super::super::*;
        use serde_json::Value;

        const FIXTURE: &str = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/metrics/stats_reference.json"
        );
        const REL_TOL: f64 = 1e-9;

        fn cases(section: &str) -> Vec<Value> {
            let text = std::fs::read_to_string(FIXTURE)
                .unwrap_or_else(|e| panic!("cannot read {FIXTURE}: {e}"));
            let all: Value = serde_json::from_str(&text).expect("valid JSON");
            let cases = all[section].as_array().expect("section").clone();
            assert!(cases.len() >= 5, "{section}: {} cases", cases.len());
            cases
        }

        fn vec(case: &Value, key: &str) -> Vec<f64> {
            case[key]
                .as_array()
                .unwrap_or_else(|| panic!("{key} is an array"))
                .iter()
                .map(|v| v.as_f64().expect("number"))
                .collect()
        }

        fn num(case: &Value, key: &str) -> f64 {
            case[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} is a number"))
        }

        fn assert_rel(got: f64, want: f64, what: &str, case: &Value) {
            let err = (got - want).abs();
            assert!(
                err <= REL_TOL * want.abs() || err <= 1e-15,
                "{what} for case {}: got {got}, scipy {want} (rel err {:e})",
                case["name"],
                err / want.abs()
            );
        }

        #[test]
        fn mean_std_and_t_interval() {
            for case in cases("samples") {
                let x = vec(&case, "values");
                assert_rel(mean(&x), num(&case, "mean"), "mean", &case);
                assert_rel(std_dev(&x), num(&case, "std"), "std", &case);
                let (lo, hi) = ci95(&x).unwrap();
                let want = vec(&case, "ci95");
                assert_rel(lo, want[0], "ci95 low", &case);
                assert_rel(hi, want[1], "ci95 high", &case);
            }
        }

        #[test]
        fn paired_t_matches_ttest_rel() {
            for case in cases("ttest_rel") {
                let r = paired_t_test(&vec(&case, "a"), &vec(&case, "b")).unwrap();
                assert_rel(r.statistic, num(&case, "statistic"), "t", &case);
                assert_rel(r.p_value, num(&case, "p_value"), "p", &case);
                assert_rel(r.mean_diff, num(&case, "mean_diff"), "mean_diff", &case);
                assert_eq!(r.n as f64, num(&case, "n"));
            }
        }

        #[test]
        fn wilcoxon_matches_scipy() {
            let cases = cases("wilcoxon");
            for method in ["exact", "exact_with_ties", "asymptotic"] {
                assert!(
                    cases.iter().any(|c| c["method"] == method),
                    "no {method} case"
                );
            }
            for case in cases {
                let r = wilcoxon_signed_rank(&vec(&case, "a"), &vec(&case, "b")).unwrap();
                assert_rel(r.statistic, num(&case, "statistic"), "statistic", &case);
                assert_rel(r.p_value, num(&case, "p_value"), "p", &case);
                assert_rel(r.mean_diff, num(&case, "mean_diff"), "mean_diff", &case);
                assert_eq!(r.n as f64, num(&case, "n"));
            }
        }
    }
}

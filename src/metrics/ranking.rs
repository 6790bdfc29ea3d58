//! Ordering metrics for the core task: normalised Gini and Spearman.

use super::regression::positive_mean;
use super::{average_ranks, check_inputs, check_not_constant, to_f64, MetricError};

/// Normalised Gini coefficient, the ZILN definition (Wang, Liu & Miao 2019,
/// `lifetime_value.metrics.gini_from_gain`): the Gini of the ordering by
/// prediction divided by the Gini of the perfect ordering (by `y` itself).
///
/// Formula: sort the rows by `pred` descending; let `C_i` be the cumulative
/// share of actual value in the top `i` rows, `C_i = (y_(1) + ... + y_(i)) / S`
/// with `S = sum(y)`. Then
///
/// ```text
/// raw(pred)        = 2 * (C_1 + ... + C_n) / n - 1
/// normalized_gini  = raw(pred) / raw(y)
/// ```
///
/// **Ties in `pred`** are handled by averaging over tied groups: the result is
/// the mean of the value over every order of the rows within each group of
/// equal predictions (so it does not depend on row order or on a sort's
/// stability; ZILN's pandas sort leaves this arbitrary). Because `raw` is
/// linear in the positions, the average is exact and cheap: a row at average
/// ascending rank `a_i` (see [`average_ranks`]) contributes `y_i * a_i` to
/// `S * sum(C)`. Ties in `y` do not matter for the perfect ordering. With
/// `c = (n + 1) / 2` and `mean = S / n`, this gives the form computed here:
///
/// ```text
/// cov(v)          = sum_i (y_i - mean) * (rank(v)_i - c)
/// normalized_gini = (2 cov(pred) + S) / (2 cov(y) + S)
/// ```
///
/// Notes: a constant (or random) predictor scores `S / (2 cov(y) + S)`, which
/// is O(1/n) rather than exactly 0, because ZILN integrates the Lorenz curve
/// with a right Riemann sum. The Kaggle "normalized Gini" (trapezoid rule,
/// `sum(C) - (n + 1) / 2`) is `cov(pred) / cov(y)`; the two agree as n grows.
/// The result lies in [-1, 1] up to that O(1/n) term; 1 means the prediction
/// orders the rows as `y` does.
///
/// # Errors
/// Length mismatch, empty input, a non-finite value,
/// [`MetricError::ZeroMean`] when `mean(y) <= 0` (the cumulative share needs
/// a positive total), or [`MetricError::Constant`] when every `y` is equal
/// (the perfect ordering has no Gini to divide by).
pub fn normalized_gini(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "normalized Gini";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    check_not_constant(METRIC, "y", y)?;
    let mean = positive_mean(METRIC, y)?;
    let n = y.len() as f64;
    let total = mean * n;
    let centre = (n + 1.0) / 2.0;

    let y64 = to_f64(y);
    let cov = |ranks: &[f64]| -> f64 {
        y64.iter()
            .zip(ranks)
            .map(|(&v, &r)| (v - mean) * (r - centre))
            .sum()
    };
    let model = cov(&average_ranks(&to_f64(pred)));
    let perfect = cov(&average_ranks(&y64));
    // perfect > 0 for non-constant y (Chebyshev's sum inequality), total > 0.
    Ok((2.0 * model + total) / (2.0 * perfect + total))
}

/// Spearman rank correlation: the Pearson correlation of the average ranks
/// (ties get the mean of their positions, as `scipy.stats.spearmanr`).
///
/// Formula, with `r = average_ranks(y)`, `s = average_ranks(pred)` and
/// `c = (n + 1) / 2` (the mean of any average-rank vector):
///
/// ```text
/// rho = sum (r_i - c)(s_i - c) / sqrt( sum (r_i - c)^2 * sum (s_i - c)^2 )
/// ```
///
/// # Errors
/// Length mismatch, empty input, a non-finite value, or
/// [`MetricError::Constant`] when all of `y` or all of `pred` are equal (the
/// correlation is 0/0; this includes n = 1).
pub fn spearman(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "Spearman";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    check_not_constant(METRIC, "y", y)?;
    check_not_constant(METRIC, "pred", pred)?;
    let r = average_ranks(&to_f64(y));
    let s = average_ranks(&to_f64(pred));
    let centre = (y.len() as f64 + 1.0) / 2.0;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in r.iter().zip(&s) {
        let (a, b) = (a - centre, b - centre);
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    Ok((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn gini_hand_worked_ziln() {
        // y = [0, 1, 3], pred = [0.1, 0.3, 0.2], S = 4, n = 3.
        // By pred descending: y = 1, 3, 0 -> C = 1/4, 4/4, 4/4, sum 9/4;
        //   raw(pred) = 2 * (9/4) / 3 - 1 = 1/2.
        // By y descending:    y = 3, 1, 0 -> C = 3/4, 4/4, 4/4, sum 11/4;
        //   raw(y)    = 2 * (11/4) / 3 - 1 = 5/6.
        // normalized = (1/2) / (5/6) = 0.6.
        let got = normalized_gini(&[0.0, 1.0, 3.0], &[0.1, 0.3, 0.2]).unwrap();
        assert!(close(got, 0.6), "{got}");
    }

    #[test]
    fn gini_perfect_and_reversed() {
        let y = [0.0, 0.0, 1.0, 2.0, 5.0];
        assert!(close(normalized_gini(&y, &y).unwrap(), 1.0));
        // Any order-preserving prediction is perfect too.
        let pred = [-3.0, -3.0, 0.5, 0.7, 10.0];
        assert!(close(normalized_gini(&y, &pred).unwrap(), 1.0));
        // Reversed: y descending by pred = 0, 0, 1, 2, 5 (ties: the two zeros
        // are interchangeable) -> C = 0, 0, 1/8, 3/8, 1, sum 1.5;
        // raw = 2 * 1.5 / 5 - 1 = -0.4.
        // Perfect: 5, 2, 1, 0, 0 -> C = 5/8, 7/8, 1, 1, 1, sum 4.5;
        // raw = 2 * 4.5 / 5 - 1 = 0.8. normalized = -0.5.
        let reversed = [5.0, 4.0, 3.0, 2.0, 1.0];
        assert!(close(normalized_gini(&y, &reversed).unwrap(), -0.5));
    }

    #[test]
    fn gini_ties_average_over_tied_orders() {
        // y = [0, 1, 3], pred = [0.2, 0.2, 0.9]: rows 0 and 1 tie.
        // Order (row2, row0, row1): y = 3, 0, 1 -> C = 3/4, 3/4, 1, sum 2.5.
        // Order (row2, row1, row0): y = 3, 1, 0 -> C = 3/4, 1, 1, sum 2.75.
        // Average sum 2.625 -> raw = 2 * 2.625 / 3 - 1 = 0.75.
        // raw(y) = 5/6 (as in gini_hand_worked_ziln) -> 0.75 / (5/6) = 0.9.
        let got = normalized_gini(&[0.0, 1.0, 3.0], &[0.2, 0.2, 0.9]).unwrap();
        assert!(close(got, 0.9), "{got}");
        // Row order does not matter.
        let swapped = normalized_gini(&[1.0, 0.0, 3.0], &[0.2, 0.2, 0.9]).unwrap();
        assert!(close(swapped, 0.9), "{swapped}");
    }

    #[test]
    fn gini_constant_prediction_is_small_not_zero() {
        // y = [0, 1, 3]: every order equally likely, E[sum C] = (n + 1) / 2 = 2,
        // raw = 2 * 2 / 3 - 1 = 1/3, normalized = (1/3) / (5/6) = 0.4.
        // Equivalently S / (2 cov(y) + S) = 4 / (2 * 3 + 4).
        let got = normalized_gini(&[0.0, 1.0, 3.0], &[7.0; 3]).unwrap();
        assert!(close(got, 0.4), "{got}");
    }

    #[test]
    fn gini_errors() {
        let err = normalized_gini(&[2.0; 4], &[0.1, 0.2, 0.3, 0.4]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "normalized Gini is undefined: all 4 values of y are equal (2)"
        );
        assert!(matches!(
            normalized_gini(&[0.0; 4], &[0.1, 0.2, 0.3, 0.4]),
            Err(MetricError::Constant { input: "y", .. })
        ));
        assert!(matches!(
            normalized_gini(&[-1.0, 0.5], &[0.1, 0.2]),
            Err(MetricError::ZeroMean { .. })
        ));
        assert!(matches!(
            normalized_gini(&[1.0, 2.0], &[0.1, f32::NAN]),
            Err(MetricError::NonFinite { input: "pred", .. })
        ));
        assert!(matches!(
            normalized_gini(&[], &[]),
            Err(MetricError::Empty { .. })
        ));
    }

    #[test]
    fn spearman_hand_worked_with_ties() {
        // y = [1, 2, 3, 4] -> r = [1, 2, 3, 4]; pred = [10, 20, 20, 40] ->
        // s = [1, 2.5, 2.5, 4]. c = 2.5: r - c = [-1.5, -0.5, 0.5, 1.5],
        // s - c = [-1.5, 0, 0, 1.5]. sum products = 2.25 + 2.25 = 4.5;
        // sum (r - c)^2 = 5, sum (s - c)^2 = 4.5 -> rho = 4.5 / sqrt(22.5).
        let got = spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 20.0, 40.0]).unwrap();
        assert!(close(got, 4.5 / 22.5f64.sqrt()), "{got}");
    }

    #[test]
    fn spearman_monotone_and_reversed() {
        let y = [0.5, 3.0, 1.0, 7.0];
        let up: Vec<f32> = y.iter().map(|v| v * v * v).collect();
        let down: Vec<f32> = y.iter().map(|v| -v).collect();
        assert!(close(spearman(&y, &up).unwrap(), 1.0));
        assert!(close(spearman(&y, &down).unwrap(), -1.0));
    }

    #[test]
    fn spearman_constant_input_is_an_error() {
        let err = spearman(&[1.0, 2.0, 3.0], &[0.5; 3]).unwrap_err();
        assert_eq!(
            err,
            MetricError::Constant {
                metric: "Spearman",
                input: "pred",
                n: 3,
                value: 0.5
            }
        );
        assert_eq!(
            err.to_string(),
            "Spearman is undefined: all 3 values of pred are equal (0.5)"
        );
        assert!(matches!(
            spearman(&[0.0, -0.0], &[1.0, 2.0]),
            Err(MetricError::Constant { input: "y", .. })
        ));
        assert!(matches!(
            spearman(&[1.0], &[2.0]),
            Err(MetricError::Constant {
                input: "y",
                n: 1,
                ..
            })
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0], &[2.0]),
            Err(MetricError::LengthMismatch { .. })
        ));
    }
}

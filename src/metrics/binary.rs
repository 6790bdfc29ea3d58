//! Binary-task metrics: AUC and log-loss.

use super::{average_ranks, check_inputs, to_f64, MetricError};

/// Probabilities are clipped to `[LOGLOSS_EPS, 1 - LOGLOSS_EPS]` before the
/// logarithm in [`logloss`], so a confident wrong prediction costs at most
/// `-ln(1e-7)` ≈ 16.12 instead of infinity.
pub const LOGLOSS_EPS: f64 = 1e-7;

/// Checks labels are 0 or 1 and returns the number of positives.
fn count_positives(metric: &'static str, labels: &[f32]) -> Result<usize, MetricError> {
    let mut positives = 0;
    for (index, &value) in labels.iter().enumerate() {
        if value == 1.0 {
            positives += 1;
        } else if value != 0.0 {
            return Err(MetricError::NotBinary {
                metric,
                index,
                value,
            });
        }
    }
    Ok(positives)
}

/// Area under the ROC curve, ties in `scores` counted half.
///
/// Formula (Mann-Whitney U with average ranks): with `P` positives, `N`
/// negatives and `R+` the sum of the average ranks (ascending, 1-based; see
/// [`average_ranks`]) of the positives' scores,
///
/// ```text
/// AUC = (R+ - P (P + 1) / 2) / (P N)
/// ```
///
/// which equals the fraction of (positive, negative) pairs where the positive
/// scores higher, a tied pair counting 1/2 (so a constant scorer gets 0.5).
/// Same value as `sklearn.metrics.roc_auc_score`.
///
/// # Errors
/// Length mismatch, empty input, a non-finite value, a label other than 0/1
/// ([`MetricError::NotBinary`]), or only one class present
/// ([`MetricError::OneClass`]).
pub fn auc(labels: &[f32], scores: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "AUC";
    check_inputs(METRIC, "labels", labels, "scores", scores)?;
    let n = labels.len();
    let positives = count_positives(METRIC, labels)?;
    if positives == 0 || positives == n {
        return Err(MetricError::OneClass { positives, n });
    }
    let ranks = average_ranks(&to_f64(scores));
    // Ranks are multiples of 1/2, so this sum is exact below 2^52.
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, &label)| label == 1.0)
        .map(|(rank, _)| rank)
        .sum();
    let p = positives as f64;
    let q = (n - positives) as f64;
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * q))
}

/// Mean binary cross-entropy (log-loss), natural logarithm.
///
/// Formula, with `p_i` clipped to `[1e-7, 1 - 1e-7]` ([`LOGLOSS_EPS`]):
///
/// ```text
/// logloss = -(1/n) sum_i [ y_i ln(p_i) + (1 - y_i) ln(1 - p_i) ]
/// ```
///
/// The clipping makes predictions of exactly 0 or 1 finite (at most
/// `-ln(1e-7)` ≈ 16.12 per row); it matches `sklearn.metrics.log_loss` on
/// probabilities pre-clipped to the same range.
///
/// # Errors
/// Length mismatch, empty input, a non-finite value, a label other than 0/1
/// ([`MetricError::NotBinary`]), or a probability outside `[0, 1]`
/// ([`MetricError::ProbabilityOutOfRange`], usually logits passed by mistake).
/// One-class labels are fine.
pub fn logloss(labels: &[f32], probs: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "log-loss";
    check_inputs(METRIC, "labels", labels, "probs", probs)?;
    count_positives(METRIC, labels)?;
    if let Some(index) = probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(MetricError::ProbabilityOutOfRange {
            metric: METRIC,
            index,
            value: probs[index],
        });
    }
    let total: f64 = labels
        .iter()
        .zip(probs)
        .map(|(&y, &p)| {
            let p = f64::from(p).clamp(LOGLOSS_EPS, 1.0 - LOGLOSS_EPS);
            if y == 1.0 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Ok(total / labels.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn auc_four_points_with_a_tie() {
        // Positives score 0.9 and 0.3; negatives 0.3 and 0.5.
        // Pairs: (0.9, 0.3) win, (0.9, 0.5) win, (0.3, 0.3) tie = 1/2,
        // (0.3, 0.5) loss -> 2.5 / 4 = 0.625.
        // By ranks: 0.3, 0.3 -> 1.5 each; 0.5 -> 3; 0.9 -> 4.
        // R+ = 4 + 1.5 = 5.5; (5.5 - 2*3/2) / (2*2) = 2.5 / 4 = 0.625.
        let labels = [1.0, 0.0, 1.0, 0.0];
        let scores = [0.9, 0.3, 0.3, 0.5];
        assert_eq!(auc(&labels, &scores).unwrap(), 0.625);
    }

    #[test]
    fn auc_perfect_reversed_and_constant() {
        let labels = [0.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(auc(&labels, &[0.1, 0.2, 0.3, 0.4, 0.5]).unwrap(), 1.0);
        assert_eq!(auc(&labels, &[0.5, 0.4, 0.3, 0.2, 0.1]).unwrap(), 0.0);
        // Every pair tied -> 6 * 1/2 / 6.
        assert_eq!(auc(&labels, &[0.7; 5]).unwrap(), 0.5);
    }

    #[test]
    fn auc_depends_only_on_order() {
        let labels = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let scores = [0.8f32, 0.1, 0.35, 0.4, 0.2, 0.9];
        let squashed: Vec<f32> = scores.iter().map(|s| s * s * 100.0 - 3.0).collect();
        // Pairs: 0.8 beats 0.1,0.4,0.2 (3); 0.35 beats 0.1,0.2 (2); 0.9 all (3) -> 8/9.
        assert!(close(auc(&labels, &scores).unwrap(), 8.0 / 9.0));
        assert_eq!(
            auc(&labels, &scores).unwrap(),
            auc(&labels, &squashed).unwrap()
        );
    }

    #[test]
    fn auc_one_class_is_an_error() {
        let err = auc(&[0.0; 120], &[0.5; 120]).unwrap_err();
        assert_eq!(
            err,
            MetricError::OneClass {
                positives: 0,
                n: 120
            }
        );
        assert_eq!(
            err.to_string(),
            "AUC is undefined: all 120 labels are one class (0 positives)"
        );
        let err = auc(&[1.0; 3], &[0.1, 0.2, 0.3]).unwrap_err();
        assert_eq!(err, MetricError::OneClass { positives: 3, n: 3 });
    }

    #[test]
    fn auc_rejects_bad_input() {
        assert_eq!(
            auc(&[], &[]).unwrap_err(),
            MetricError::Empty { metric: "AUC" }
        );
        assert_eq!(
            auc(&[0.0, 1.0], &[0.5]).unwrap_err(),
            MetricError::LengthMismatch {
                metric: "AUC",
                truth: 2,
                predictions: 1
            }
        );
        let err = auc(&[0.0, 1.0], &[0.5, f32::NAN]).unwrap_err();
        assert!(matches!(
            err,
            MetricError::NonFinite {
                input: "scores",
                index: 1,
                ..
            }
        ));
        assert_eq!(err.to_string(), "AUC: scores[1] is not finite (NaN)");
        let err = auc(&[0.0, 2.0], &[0.5, 0.6]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "AUC: labels must be 0 or 1, but labels[1] = 2"
        );
        assert!(matches!(
            auc(&[0.0, f32::NAN], &[0.5, 0.6]).unwrap_err(),
            MetricError::NonFinite {
                input: "labels",
                ..
            }
        ));
    }

    #[test]
    fn logloss_hand_worked() {
        // y = [1, 0], p = [0.8, 0.4]: -(ln 0.8 + ln 0.6) / 2.
        let expected = -(0.8f64.ln() + 0.6f64.ln()) / 2.0;
        let got = logloss(&[1.0, 0.0], &[0.8, 0.4]).unwrap();
        // f32 0.8 and 0.4 are not exactly 0.8 and 0.4: compare loosely.
        assert!((got - expected).abs() < 1e-7, "{got} vs {expected}");
    }

    #[test]
    fn logloss_clips_certain_predictions() {
        // A confident wrong prediction costs -ln(1e-7); a right one -ln(1 - 1e-7).
        let wrong = logloss(&[1.0], &[0.0]).unwrap();
        assert!(close(wrong, -(1e-7f64).ln()));
        let right = logloss(&[1.0, 0.0], &[1.0, 0.0]).unwrap();
        assert!(close(right, -(1.0 - 1e-7f64).ln()));
        assert!(wrong.is_finite() && right > 0.0);
    }

    #[test]
    fn logloss_of_constant_half_is_ln2() {
        assert!(close(
            logloss(&[0.0, 1.0, 1.0], &[0.5; 3]).unwrap(),
            2f64.ln()
        ));
    }

    #[test]
    fn logloss_accepts_one_class_and_rejects_logits() {
        assert!(logloss(&[0.0; 4], &[0.1; 4]).is_ok());
        let err = logloss(&[0.0, 1.0], &[0.1, 2.3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "log-loss: probabilities must lie in [0, 1], but probs[1] = 2.3"
        );
        assert!(matches!(
            logloss(&[0.0, 1.0], &[0.1, f32::INFINITY]).unwrap_err(),
            MetricError::NonFinite {
                input: "probs",
                index: 1,
                ..
            }
        ));
        assert!(matches!(
            logloss(&[0.5, 1.0], &[0.1, 0.2]).unwrap_err(),
            MetricError::NotBinary { index: 0, .. }
        ));
    }
}

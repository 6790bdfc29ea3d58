//! Core-task (regression) error metrics: RMSE, MAE and their normalised forms.

use super::{check_inputs, mean_f64, MetricError};

/// Root mean squared error.
///
/// Formula: `RMSE = sqrt( (1/n) sum_i (y_i - pred_i)^2 )`.
///
/// # Errors
/// Length mismatch, empty input, or a non-finite value.
pub fn rmse(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    check_inputs("RMSE", "y", y, "pred", pred)?;
    Ok(rmse_unchecked(y, pred))
}

/// Mean absolute error.
///
/// Formula: `MAE = (1/n) sum_i |y_i - pred_i|`.
///
/// # Errors
/// Length mismatch, empty input, or a non-finite value.
pub fn mae(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    check_inputs("MAE", "y", y, "pred", pred)?;
    Ok(mae_unchecked(y, pred))
}

/// RMSE normalised by the mean of the ground truth (as in lifetime-value work;
/// SPEC §5 — report the divisor `mean(y)` next to it).
///
/// Formula: `NRMSE = RMSE(y, pred) / mean(y)`.
///
/// # Errors
/// As [`rmse`], plus [`MetricError::ZeroMean`] when `mean(y) <= 0`.
pub fn nrmse(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NRMSE";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    let mean = positive_mean(METRIC, y)?;
    Ok(rmse_unchecked(y, pred) / mean)
}

/// MAE normalised by the mean of the ground truth.
///
/// Formula: `NMAE = MAE(y, pred) / mean(y)`.
///
/// # Errors
/// As [`mae`], plus [`MetricError::ZeroMean`] when `mean(y) <= 0`.
pub fn nmae(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NMAE";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    let mean = positive_mean(METRIC, y)?;
    Ok(mae_unchecked(y, pred) / mean)
}

/// mean(y), or [`MetricError::ZeroMean`] if it is not > 0. `y` non-empty.
pub(super) fn positive_mean(metric: &'static str, y: &[f32]) -> Result<f64, MetricError> {
    let mean = mean_f64(y);
    if mean > 0.0 {
        Ok(mean)
    } else {
        Err(MetricError::ZeroMean { metric, mean })
    }
}

fn rmse_unchecked(y: &[f32], pred: &[f32]) -> f64 {
    let sse: f64 = y
        .iter()
        .zip(pred)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    (sse / y.len() as f64).sqrt()
}

fn mae_unchecked(y: &[f32], pred: &[f32]) -> f64 {
    let sae: f64 = y
        .iter()
        .zip(pred)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
        .sum();
    sae / y.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_worked_errors() {
        // y = [0, 2, 4, 10], pred = [1, 2, 1, 6]: errors -1, 0, 3, 4.
        // MSE = (1 + 0 + 9 + 16) / 4 = 6.5 -> RMSE = sqrt(6.5).
        // MAE = (1 + 0 + 3 + 4) / 4 = 2.
        // mean(y) = 16 / 4 = 4 -> NRMSE = sqrt(6.5) / 4, NMAE = 0.5.
        let y = [0.0, 2.0, 4.0, 10.0];
        let pred = [1.0, 2.0, 1.0, 6.0];
        assert_eq!(rmse(&y, &pred).unwrap(), 6.5f64.sqrt());
        assert_eq!(mae(&y, &pred).unwrap(), 2.0);
        assert_eq!(nrmse(&y, &pred).unwrap(), 6.5f64.sqrt() / 4.0);
        assert_eq!(nmae(&y, &pred).unwrap(), 0.5);
    }

    #[test]
    fn perfect_prediction_is_zero() {
        let y = [3.0, 0.0, 1.5];
        assert_eq!(rmse(&y, &y).unwrap(), 0.0);
        assert_eq!(nmae(&y, &y).unwrap(), 0.0);
    }

    #[test]
    fn constant_mean_predictor_has_nrmse_equal_to_cv() {
        // pred = mean(y) = 2: RMSE = population std = sqrt((4 + 0 + 4) / 3).
        let y = [0.0, 2.0, 4.0];
        let got = nrmse(&y, &[2.0; 3]).unwrap();
        assert!((got - (8.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
    }

    #[test]
    fn non_positive_mean_is_an_error() {
        let err = nrmse(&[0.0, 0.0], &[1.0, 1.0]).unwrap_err();
        assert_eq!(
            err,
            MetricError::ZeroMean {
                metric: "NRMSE",
                mean: 0.0
            }
        );
        assert_eq!(
            err.to_string(),
            "NRMSE is undefined: mean(y) = 0, but the normalisation needs mean(y) > 0"
        );
        assert!(matches!(
            nmae(&[-1.0, 0.5], &[0.0, 0.0]).unwrap_err(),
            MetricError::ZeroMean { metric: "NMAE", mean } if mean == -0.25
        ));
        // The raw errors are still defined.
        assert_eq!(rmse(&[0.0, 0.0], &[1.0, 1.0]).unwrap(), 1.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        for f in [rmse, mae, nrmse, nmae] {
            assert!(matches!(f(&[], &[]), Err(MetricError::Empty { .. })));
            assert!(matches!(
                f(&[1.0], &[1.0, 2.0]),
                Err(MetricError::LengthMismatch {
                    truth: 1,
                    predictions: 2,
                    ..
                })
            ));
            assert!(matches!(
                f(&[1.0, f32::NAN], &[1.0, 2.0]),
                Err(MetricError::NonFinite {
                    input: "y",
                    index: 1,
                    ..
                })
            ));
            assert!(matches!(
                f(&[1.0, 2.0], &[f32::NEG_INFINITY, 2.0]),
                Err(MetricError::NonFinite {
                    input: "pred",
                    index: 0,
                    ..
                })
            ));
        }
    }
}

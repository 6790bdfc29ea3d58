//! Core-task (regression) error metrics: RMSE, MAE, their normalised forms and the
//! target's own statistics (the divisors).

use super::{check_inputs, check_not_constant, mean_f64, MetricError};

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

/// RMSE relative to the constant-mean predictor: `NRMSE = RMSE(y, pred) / std(y)`, with the
/// population standard deviation `std(y) = sqrt((1/n) sum_i (y_i - mean(y))^2)` (ddof = 0,
/// NumPy's `y.std()`). Predicting `mean(y)` for every row scores exactly 1; < 1 is better
/// than that constant.
///
/// # Errors
/// As [`rmse`], plus [`MetricError::Constant`] when every `y` is equal (std(y) = 0).
pub fn nrmse(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NRMSE";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    check_not_constant(METRIC, "y", y)?;
    Ok(rmse_unchecked(y, pred) / std_unchecked(y))
}

/// MAE relative to the constant-mean predictor: `NMAE = MAE(y, pred) / mean|y - mean(y)|`
/// (the divisor is the MAE of predicting `mean(y)` for every row, so that predictor scores
/// exactly 1).
///
/// # Errors
/// As [`mae`], plus [`MetricError::Constant`] when every `y` is equal (the divisor is 0).
pub fn nmae(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NMAE";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    check_not_constant(METRIC, "y", y)?;
    Ok(mae_unchecked(y, pred) / mad_unchecked(y))
}

/// RMSE normalised by the mean of the ground truth (the lifetime-value convention):
/// `NRMSE_mean = RMSE(y, pred) / mean(y)`.
///
/// # Errors
/// As [`rmse`], plus [`MetricError::ZeroMean`] when `mean(y) <= 0`.
pub fn nrmse_mean(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NRMSE_mean";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    let mean = positive_mean(METRIC, y)?;
    Ok(rmse_unchecked(y, pred) / mean)
}

/// MAE normalised by the mean of the ground truth: `NMAE_mean = MAE(y, pred) / mean(y)`.
///
/// # Errors
/// As [`mae`], plus [`MetricError::ZeroMean`] when `mean(y) <= 0`.
pub fn nmae_mean(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    const METRIC: &str = "NMAE_mean";
    check_inputs(METRIC, "y", y, "pred", pred)?;
    let mean = positive_mean(METRIC, y)?;
    Ok(mae_unchecked(y, pred) / mean)
}

/// The target's mean `mean(y)`; `pred` is only checked for length.
///
/// # Errors
/// Length mismatch, empty input, or a non-finite value.
pub fn target_mean(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    check_inputs("mean", "y", y, "pred", pred)?;
    Ok(mean_f64(y))
}

/// The target's population standard deviation (ddof = 0), the divisor of [`nrmse`];
/// `pred` is only checked for length.
///
/// # Errors
/// Length mismatch, empty input, or a non-finite value.
pub fn target_std(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    check_inputs("std", "y", y, "pred", pred)?;
    Ok(std_unchecked(y))
}

/// The target's mean absolute deviation from its mean, `mean|y - mean(y)|`, the divisor of
/// [`nmae`]; `pred` is only checked for length.
///
/// # Errors
/// Length mismatch, empty input, or a non-finite value.
pub fn target_mad(y: &[f32], pred: &[f32]) -> Result<f64, MetricError> {
    check_inputs("mad", "y", y, "pred", pred)?;
    Ok(mad_unchecked(y))
}

fn std_unchecked(y: &[f32]) -> f64 {
    let m = mean_f64(y);
    let ss: f64 = y.iter().map(|&v| (f64::from(v) - m).powi(2)).sum();
    (ss / y.len() as f64).sqrt()
}

fn mad_unchecked(y: &[f32]) -> f64 {
    let m = mean_f64(y);
    y.iter().map(|&v| (f64::from(v) - m).abs()).sum::<f64>() / y.len() as f64
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
        // MSE = (1 + 0 + 9 + 16) / 4 = 6.5 -> RMSE = sqrt(6.5).  MAE = (1 + 0 + 3 + 4) / 4 = 2.
        // mean(y) = 4; deviations -4, -2, 0, 6: std = sqrt((16 + 4 + 0 + 36) / 4) = sqrt(14),
        // mad = (4 + 2 + 0 + 6) / 4 = 3.
        let y = [0.0, 2.0, 4.0, 10.0];
        let pred = [1.0, 2.0, 1.0, 6.0];
        assert_eq!(rmse(&y, &pred).unwrap(), 6.5f64.sqrt());
        assert_eq!(mae(&y, &pred).unwrap(), 2.0);
        assert_eq!(nrmse_mean(&y, &pred).unwrap(), 6.5f64.sqrt() / 4.0);
        assert_eq!(nmae_mean(&y, &pred).unwrap(), 0.5);
        assert_eq!(target_mean(&y, &pred).unwrap(), 4.0);
        assert_eq!(target_std(&y, &pred).unwrap(), 14f64.sqrt());
        assert_eq!(target_mad(&y, &pred).unwrap(), 3.0);
        assert!((nrmse(&y, &pred).unwrap() - (6.5f64 / 14.0).sqrt()).abs() < 1e-15);
        assert!((nmae(&y, &pred).unwrap() - 2.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn perfect_prediction_is_zero() {
        let y = [3.0, 0.0, 1.5];
        assert_eq!(rmse(&y, &y).unwrap(), 0.0);
        assert_eq!(nmae(&y, &y).unwrap(), 0.0);
        assert_eq!(nmae_mean(&y, &y).unwrap(), 0.0);
    }

    #[test]
    fn constant_mean_predictor_scores_one_and_its_cv_under_mean_divisors() {
        // pred = mean(y) = 2: RMSE = population std = sqrt(8 / 3), MAE = mad = 4 / 3.
        let y = [0.0, 2.0, 4.0];
        let c = [2.0; 3];
        assert!((nrmse(&y, &c).unwrap() - 1.0).abs() < 1e-15);
        assert!((nmae(&y, &c).unwrap() - 1.0).abs() < 1e-15);
        let got = nrmse_mean(&y, &c).unwrap();
        assert!((got - (8.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
    }

    #[test]
    fn undefined_divisors_are_errors() {
        let err = nrmse_mean(&[0.0, 0.0], &[1.0, 1.0]).unwrap_err();
        assert_eq!(
            err,
            MetricError::ZeroMean {
                metric: "NRMSE_mean",
                mean: 0.0
            }
        );
        assert_eq!(
            err.to_string(),
            "NRMSE_mean is undefined: mean(y) = 0, but the normalisation needs mean(y) > 0"
        );
        assert!(matches!(
            nmae_mean(&[-1.0, 0.5], &[0.0, 0.0]).unwrap_err(),
            MetricError::ZeroMean { metric: "NMAE_mean", mean } if mean == -0.25
        ));
        assert_eq!(
            nrmse(&[2.0, 2.0], &[1.0, 1.0]).unwrap_err().to_string(),
            "NRMSE is undefined: all 2 values of y are equal (2)"
        );
        assert!(matches!(
            nmae(&[0.0, 0.0], &[1.0, 1.0]).unwrap_err(),
            MetricError::Constant { metric: "NMAE", .. }
        ));
        // A negative mean is fine for the std / mad divisors, and the raw errors are defined.
        assert!(nrmse(&[-1.0, 0.5], &[0.0, 0.0]).is_ok());
        assert_eq!(rmse(&[0.0, 0.0], &[1.0, 1.0]).unwrap(), 1.0);
        assert_eq!(target_std(&[2.0, 2.0], &[0.0, 0.0]).unwrap(), 0.0);
    }

    #[test]
    fn bad_input_is_an_error() {
        for f in [
            rmse,
            mae,
            nrmse,
            nmae,
            nrmse_mean,
            nmae_mean,
            target_mean,
            target_std,
            target_mad,
        ] {
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

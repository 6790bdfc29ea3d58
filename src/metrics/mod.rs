//! Evaluation metrics (SPEC §5): pure functions on slices.
//!
//! Every metric takes the ground truth first and the model output second, as
//! `&[f32]` (what a model emits), and returns an `f64` computed in double
//! precision. Inputs are validated before anything is computed, and every
//! failure is a [`MetricError`]; no metric panics on bad input.
//!
//! | function              | formula (plain text)                                   |
//! |-----------------------|--------------------------------------------------------|
//! | [`auc`]               | Mann-Whitney U / (P * N), average ranks, ties = 1/2     |
//! | [`logloss`]           | -mean(y ln p + (1 - y) ln(1 - p)), p clipped to [1e-7, 1 - 1e-7] |
//! | [`rmse`], [`mae`]     | sqrt(mean((y - pred)^2)), mean(abs(y - pred))           |
//! | [`nrmse`], [`nmae`]   | RMSE / std(y), MAE / mean\|y - mean(y)\| (ddof = 0)      |
//! | [`nrmse_mean`], [`nmae_mean`] | RMSE / mean(y), MAE / mean(y), needs mean(y) > 0 |
//! | [`target_mean`], [`target_std`], [`target_mad`] | mean(y), population std(y), mean\|y - mean(y)\| |
//! | [`normalized_gini`]   | Gini(pred ordering) / Gini(perfect ordering), as in ZILN |
//! | [`spearman`]          | Pearson correlation of the average ranks               |
//!
//! **NRMSE and NMAE.** HTLNet's paper (RecSys 2024, Table 2) reports NRMSE and NMAE for the
//! same predictions with NMAE > NRMSE (0.9093 vs 0.8937 on KuaiRand). MAE ≤ RMSE always,
//! so the two cannot share one divisor: the paper's ratios are not RMSE / mean(y) and
//! MAE / mean(y). Values just under 1 fit "error relative to the constant predictor", so
//! [`nrmse`] divides by std(y) (the RMSE of predicting mean(y)) and [`nmae`] by
//! mean|y − mean(y)| (the MAE of predicting mean(y)): both are 1 for the constant-mean
//! predictor and < 1 when better. The paper does not publish its exact divisors; these are
//! our choice, not a citation. std is the population one (ddof = 0, NumPy's `y.std()`),
//! which is what makes the constant-mean predictor score exactly 1. The lifetime-value
//! convention (divide by mean(y)) is kept as [`nrmse_mean`] / [`nmae_mean`]; the divisors
//! themselves are recorded as `mean`, `std`, `mad` beside the raw `rmse`, `mae`.
//!
//! [`catalogue`] lists every metric with its key, display name, direction, task kind and
//! where it is shown; training and the report read it.
//!
//! Validation order, the same for every metric: lengths must match
//! ([`MetricError::LengthMismatch`]), the input must be non-empty
//! ([`MetricError::Empty`]), every value must be finite
//! ([`MetricError::NonFinite`]), then the metric's own conditions.
//!
//! Each metric is checked in the tests against hand-worked cases and against
//! reference values from scikit-learn / SciPy / NumPy
//! (`scripts/make_metric_fixtures.py` writes
//! `tests/fixtures/metrics/reference.json`).

mod binary;
pub mod catalogue;
mod ranking;
mod ranks;
mod regression;

#[cfg(test)]
mod reference_tests;

pub use binary::{auc, logloss, LOGLOSS_EPS};
pub use catalogue::{Direction, MetricDef, MetricTask, CATALOGUE};
pub use ranking::{normalized_gini, spearman};
pub use ranks::average_ranks;
pub use regression::{
    mae, nmae, nmae_mean, nrmse, nrmse_mean, rmse, target_mad, target_mean, target_std,
};

/// Why a metric could not be computed.
///
/// `metric` fields hold the metric's display name (`"AUC"`, `"NRMSE"`, ...);
/// `input` fields name the offending argument (`"labels"`, `"scores"`,
/// `"probs"`, `"y"`, `"pred"`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// Both inputs are empty.
    #[error("{metric} is undefined: the input is empty")]
    Empty {
        /// Metric name.
        metric: &'static str,
    },
    /// The ground truth and the predictions differ in length.
    #[error(
        "{metric}: length mismatch: {truth} ground-truth values but {predictions} predictions"
    )]
    LengthMismatch {
        /// Metric name.
        metric: &'static str,
        /// Length of the ground truth (labels or y).
        truth: usize,
        /// Length of the predictions (scores, probs or pred).
        predictions: usize,
    },
    /// A value is NaN or infinite.
    #[error("{metric}: {input}[{index}] is not finite ({value})")]
    NonFinite {
        /// Metric name.
        metric: &'static str,
        /// Which argument holds the value.
        input: &'static str,
        /// Position of the first non-finite value.
        index: usize,
        /// The value itself (NaN or +-inf).
        value: f32,
    },
    /// A binary label is neither 0 nor 1.
    #[error("{metric}: labels must be 0 or 1, but labels[{index}] = {value}")]
    NotBinary {
        /// Metric name.
        metric: &'static str,
        /// Position of the first offending label.
        index: usize,
        /// The label.
        value: f32,
    },
    /// A probability lies outside [0, 1] (often: logits passed as probabilities).
    #[error("{metric}: probabilities must lie in [0, 1], but probs[{index}] = {value}")]
    ProbabilityOutOfRange {
        /// Metric name.
        metric: &'static str,
        /// Position of the first offending probability.
        index: usize,
        /// The probability.
        value: f32,
    },
    /// AUC needs both classes.
    #[error("AUC is undefined: all {n} labels are one class ({positives} positives)")]
    OneClass {
        /// Number of labels equal to 1.
        positives: usize,
        /// Number of labels.
        n: usize,
    },
    /// A normalisation by mean(y) needs mean(y) > 0.
    #[error("{metric} is undefined: mean(y) = {mean}, but the normalisation needs mean(y) > 0")]
    ZeroMean {
        /// Metric name.
        metric: &'static str,
        /// mean(y) as computed.
        mean: f64,
    },
    /// Every value of an input is equal, so the metric is 0/0.
    #[error("{metric} is undefined: all {n} values of {input} are equal ({value})")]
    Constant {
        /// Metric name.
        metric: &'static str,
        /// Which argument is constant.
        input: &'static str,
        /// Number of values.
        n: usize,
        /// The common value.
        value: f32,
    },
}

/// Checks the conditions shared by every metric: equal lengths, non-empty,
/// all values finite (in that order).
fn check_inputs(
    metric: &'static str,
    truth_name: &'static str,
    truth: &[f32],
    pred_name: &'static str,
    pred: &[f32],
) -> Result<(), MetricError> {
    if truth.len() != pred.len() {
        return Err(MetricError::LengthMismatch {
            metric,
            truth: truth.len(),
            predictions: pred.len(),
        });
    }
    if truth.is_empty() {
        return Err(MetricError::Empty { metric });
    }
    check_finite(metric, truth_name, truth)?;
    check_finite(metric, pred_name, pred)
}

fn check_finite(metric: &'static str, input: &'static str, x: &[f32]) -> Result<(), MetricError> {
    match x.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(MetricError::NonFinite {
            metric,
            input,
            index,
            value: x[index],
        }),
        None => Ok(()),
    }
}

/// Errors with [`MetricError::Constant`] if every value equals the first
/// (`-0.0 == 0.0`). `x` must be non-empty.
fn check_not_constant(
    metric: &'static str,
    input: &'static str,
    x: &[f32],
) -> Result<(), MetricError> {
    let first = x[0];
    if x.iter().all(|&v| v == first) {
        return Err(MetricError::Constant {
            metric,
            input,
            n: x.len(),
            value: first,
        });
    }
    Ok(())
}

/// mean(x) in f64. `x` must be non-empty.
fn mean_f64(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64
}

fn to_f64(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

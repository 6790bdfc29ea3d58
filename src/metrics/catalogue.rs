//! The metric catalogue: the one list of every metric a cell records.
//!
//! Training scores each task with the entries of its kind ([`for_kind`]), the validation
//! curves and the `train.monitor` check use the entries with [`MetricDef::in_curves`], and
//! the report's tables and figures show the entries with [`MetricDef::in_tables`], in
//! catalogue order, with their [`MetricDef::name`] and [`MetricDef::direction`].
//!
//! Adding a metric: write its function in this folder, add one [`MetricDef`] to
//! [`CATALOGUE`], and add its reference value to `tests/fixtures/metrics/reference.json`
//! (`scripts/make_metric_fixtures.py`); the reference test checks every entry against it.

use super::MetricError;

/// Which kind of task a metric scores (the metric room's view of a task kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricTask {
    /// A 0/1 action; the prediction is a probability.
    Binary,
    /// The continuous core target; the prediction is on the original scale.
    Regression,
}

/// Whether a larger or a smaller value is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Larger is better (AUC, Gini, Spearman).
    HigherIsBetter,
    /// Smaller is better (losses and errors).
    LowerIsBetter,
}

/// A metric function: ground truth first, model output second.
pub type MetricFn = fn(&[f32], &[f32]) -> Result<f64, MetricError>;

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Key as stored in `metrics.json`, `curves.csv` and written in `train.monitor`.
    pub key: &'static str,
    /// Display name in tables and figures.
    pub name: &'static str,
    /// Whether larger or smaller is better.
    pub direction: Direction,
    /// The task kind it scores.
    pub task: MetricTask,
    /// Shown in the report's tables and figures (the others are in the CSV files only).
    pub in_tables: bool,
    /// Recorded per epoch on the validation split (`curves.csv`); only these can be the
    /// `train.monitor`.
    pub in_curves: bool,
    /// The function.
    pub compute: MetricFn,
}

impl MetricDef {
    /// Whether a larger value is better.
    pub fn higher_is_better(&self) -> bool {
        self.direction == Direction::HigherIsBetter
    }

    /// The value on `(truth, pred)`, or `None` when undefined or not finite.
    pub fn value(&self, truth: &[f32], pred: &[f32]) -> Option<f64> {
        (self.compute)(truth, pred).ok().filter(|v| v.is_finite())
    }
}

const fn def(
    key: &'static str,
    name: &'static str,
    direction: Direction,
    task: MetricTask,
    in_tables: bool,
    in_curves: bool,
    compute: MetricFn,
) -> MetricDef {
    MetricDef {
        key,
        name,
        direction,
        task,
        in_tables,
        in_curves,
        compute,
    }
}

use Direction::{HigherIsBetter as Up, LowerIsBetter as Down};
use MetricTask::{Binary, Regression};

/// Every metric, in the order of `metrics.json` columns, curves and tables.
pub const CATALOGUE: &[MetricDef] = &[
    def("auc", "AUC", Up, Binary, true, true, super::auc),
    def(
        "logloss",
        "LogLoss",
        Down,
        Binary,
        true,
        true,
        super::logloss,
    ),
    def("nrmse", "NRMSE", Down, Regression, true, true, super::nrmse),
    def("nmae", "NMAE", Down, Regression, true, true, super::nmae),
    def(
        "gini",
        "Gini",
        Up,
        Regression,
        true,
        true,
        super::normalized_gini,
    ),
    def(
        "spearman",
        "Spearman",
        Up,
        Regression,
        true,
        true,
        super::spearman,
    ),
    def(
        "nrmse_mean",
        "NRMSE_mean",
        Down,
        Regression,
        false,
        false,
        super::nrmse_mean,
    ),
    def(
        "nmae_mean",
        "NMAE_mean",
        Down,
        Regression,
        false,
        false,
        super::nmae_mean,
    ),
    def("rmse", "RMSE", Down, Regression, false, false, super::rmse),
    def("mae", "MAE", Down, Regression, false, false, super::mae),
    // The target's own statistics (the divisors); "direction" is meaningless for them.
    def(
        "mean",
        "mean(y)",
        Down,
        Regression,
        false,
        false,
        super::target_mean,
    ),
    def(
        "std",
        "std(y)",
        Down,
        Regression,
        false,
        false,
        super::target_std,
    ),
    def(
        "mad",
        "mad(y)",
        Down,
        Regression,
        false,
        false,
        super::target_mad,
    ),
];

/// The metric stored under `key`.
pub fn find(key: &str) -> Option<&'static MetricDef> {
    CATALOGUE.iter().find(|m| m.key == key)
}

/// The metrics of one task kind, in catalogue order.
pub fn for_kind(task: MetricTask) -> impl Iterator<Item = &'static MetricDef> {
    CATALOGUE.iter().filter(move |m| m.task == task)
}

/// Whether a larger value of the metric `key` is better (false for unknown keys and for
/// `loss`).
pub fn higher_is_better(key: &str) -> bool {
    find(key).is_some_and(MetricDef::higher_is_better)
}

/// The display name of `key` (the key itself when it is not in the catalogue).
pub fn display_name(key: &str) -> &str {
    find(key).map_or(key, |m| m.name)
}

/// Keys of the metrics shown in tables, in catalogue order.
pub fn table_keys(task: MetricTask) -> Vec<&'static str> {
    for_kind(task)
        .filter(|m| m.in_tables)
        .map(|m| m.key)
        .collect()
}

/// Scores one task: every catalogue metric of its kind, `(key, value)` in catalogue order.
pub fn score(task: MetricTask, truth: &[f32], pred: &[f32]) -> Vec<(String, Option<f64>)> {
    for_kind(task)
        .map(|m| (m.key.to_string(), m.value(truth, pred)))
        .collect()
}

/// Scores one task with the metrics recorded per epoch (`in_curves`).
pub fn score_curves(task: MetricTask, truth: &[f32], pred: &[f32]) -> Vec<(String, Option<f64>)> {
    for_kind(task)
        .filter(|m| m.in_curves)
        .map(|m| (m.key.to_string(), m.value(truth, pred)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_tables_show_only_curve_metrics_or_finals() {
        for (i, m) in CATALOGUE.iter().enumerate() {
            assert!(CATALOGUE[..i].iter().all(|n| n.key != m.key), "{}", m.key);
        }
        assert_eq!(table_keys(MetricTask::Binary), ["auc", "logloss"]);
        assert_eq!(
            table_keys(MetricTask::Regression),
            ["nrmse", "nmae", "gini", "spearman"]
        );
    }

    #[test]
    fn directions_and_names() {
        assert!(higher_is_better("auc") && higher_is_better("gini"));
        assert!(higher_is_better("spearman"));
        assert!(!higher_is_better("logloss") && !higher_is_better("nrmse"));
        assert!(!higher_is_better("loss") && !higher_is_better("nonsense"));
        assert_eq!(display_name("logloss"), "LogLoss");
        assert_eq!(display_name("other"), "other");
    }

    #[test]
    fn regression_scores_every_metric_in_catalogue_order() {
        // y = 1, 2, 3, 6: mean 3, deviations -2, -1, 0, 3: population std sqrt(14 / 4),
        // mad 6 / 4.
        let y = [1.0, 2.0, 3.0, 6.0];
        let s = score(MetricTask::Regression, &y, &[1.0, 2.0, 3.0, 5.0]);
        let keys: Vec<&str> = s.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "nrmse",
                "nmae",
                "gini",
                "spearman",
                "nrmse_mean",
                "nmae_mean",
                "rmse",
                "mae",
                "mean",
                "std",
                "mad"
            ]
        );
        let get = |k: &str| s.iter().find(|(n, _)| n == k).unwrap().1.unwrap();
        assert_eq!(get("mean"), 3.0);
        assert!((get("std") - (14.0f64 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!(get("mad"), 1.5);
        // RMSE = sqrt(1 / 4) = 0.5, MAE = 0.25.
        assert!((get("nrmse") - 0.5 / (14.0f64 / 4.0).sqrt()).abs() < 1e-15);
        assert!((get("nmae") - 0.25 / 1.5).abs() < 1e-15);
        assert!((get("nrmse_mean") - 0.5 / 3.0).abs() < 1e-15);
        // Undefined (one class) becomes None, not an error.
        assert_eq!(
            score(MetricTask::Binary, &[1.0, 1.0], &[0.2, 0.3])[0],
            ("auc".to_string(), None)
        );
    }
}

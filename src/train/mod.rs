//! The training loop: seeded mini-batches, Adam, the gradient-strategy seam, early stopping
//! with restore-best, evaluation on the original scale, curves and gradient statistics.

mod batches;
pub mod memory;
#[cfg(test)]
mod placement_tests;
mod step;
#[cfg(test)]
mod tests;
mod trainer;
pub mod ziln;

pub use batches::{CoreTransform, DataPlacement, DeviceSplit, Feeder, Pick, Prepared};
#[doc(hidden)]
pub use step::task_losses as step_losses_for_tests;
pub use step::StepError;
pub use step::{task_losses, Stepper};
pub use trainer::{Evaluation, Trainer, TrainerSpec};

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::config::CellConfig;
use crate::data::{Dataset, Split, TaskKind};
use crate::metrics;
use crate::optim::GradStat;

/// Metric values: split → task → metric → value (`None` = undefined, e.g. one-class AUC).
pub type MetricTable = BTreeMap<String, BTreeMap<String, BTreeMap<String, Option<f64>>>>;

/// Why a cell failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// NaN or infinite loss.
    #[error("diverged: loss of task `{task}` is {value} at epoch {epoch}, step {step}; lower `lr` or check the data")]
    Diverged {
        /// Task name.
        task: String,
        /// The loss value.
        value: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Global step.
        step: u64,
    },
    /// NaN or infinite loss of the core task: names the core transform, since on the raw
    /// scale (`core_transform: none`) an MSE overflows or diverges far more easily.
    #[error("diverged: loss of core task `{task}` (MSE with `core_transform: {transform}`) is {value} at epoch {epoch}, step {step}; on this scale the loss overflows or diverges: lower `lr`, or use `core_transform: standardize`")]
    CoreDiverged {
        /// Task name.
        task: String,
        /// The core transform's YAML spelling.
        transform: String,
        /// The loss value.
        value: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Global step.
        step: u64,
    },
    /// Model construction failed.
    #[error(transparent)]
    Build(#[from] crate::zoo::ZooError),
    /// An optimisation step failed (a device read, an unsupported parameter).
    #[error(transparent)]
    Step(#[from] StepError),
    /// The model was dropped by an earlier failed step (the trainer cannot go on).
    #[error("the model was lost in an earlier failed step")]
    ModelLost,
    /// Nothing was recorded before `finish` (no epoch-0 evaluation).
    #[error("no evaluation was recorded before finishing")]
    NothingRecorded,
    /// The monitor names a task or metric the data does not have (the experiment checks it
    /// against the chain when it is read, so this means the chain changed since).
    #[error("key `train.monitor`: {0}")]
    Monitor(String),
    /// `train.weight_decay_on` names a parameter group the model does not have.
    #[error("key `train.weight_decay_on`: model `{model}` has no parameter group `{group}`; it has: {have}")]
    DecayGroup {
        /// The model.
        model: String,
        /// The group written.
        group: String,
        /// The model's groups, comma-separated.
        have: String,
    },
    /// `core_loss: ziln` on data without a core task or with a negative core value.
    #[error("{0}")]
    ZilnTarget(String),
    /// Predictions could not be read back from the device.
    #[error("cannot read predictions from the device: {0}")]
    ReadPredictions(String),
    /// Anything else (e.g. a panic caught by the runner).
    #[error("{0}")]
    Other(String),
}

/// One row of `curves.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    /// Epoch (0 = before training).
    pub epoch: usize,
    /// The model's sampling temperature at the end of the epoch (HTLNet's LEU; `None` for
    /// models without one).
    pub tau: Option<f64>,
    /// Mean training loss per task over the epoch (NaN at epoch 0).
    pub train_loss: Vec<f64>,
    /// Validation loss per task (BCE, MSE on the transformed scale, or the ZILN loss on the
    /// raw scale).
    pub valid_loss: Vec<f64>,
    /// Validation metrics per task, `(name, value)`.
    pub valid_metrics: Vec<Vec<(String, Option<f64>)>>,
    /// Monitor value.
    pub monitor: f64,
    /// Seconds since the start of training.
    pub seconds: f64,
}

/// Everything a finished cell produces.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// `valid` and `test` metrics.
    pub metrics: MetricTable,
    /// Per-epoch curves.
    pub curves: Vec<EpochRow>,
    /// `(step, stat)` rows for `grad_stats.csv`.
    pub grad_stats: Vec<(u64, GradStat)>,
    /// Test-split predictions on the original scale, per task.
    pub test_predictions: Vec<Vec<f32>>,
    /// Test-split labels, per task.
    pub test_labels: Vec<Vec<f32>>,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Optimisation steps taken.
    pub steps: u64,
}

/// Progress callback: `(epoch done, epochs max)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// The metric room's name for a task kind.
pub fn metric_task(kind: TaskKind) -> metrics::MetricTask {
    match kind {
        TaskKind::Binary => metrics::MetricTask::Binary,
        TaskKind::Regression => metrics::MetricTask::Regression,
    }
}

/// Metrics of one task's predictions on the original scale: every catalogue metric of the
/// task's kind, in catalogue order (`None` = undefined).
pub fn task_metrics(kind: TaskKind, y: &[f32], p: &[f32]) -> Vec<(String, Option<f64>)> {
    metrics::catalogue::score(metric_task(kind), y, p)
}

fn metric_map(rows: Vec<(String, Option<f64>)>) -> BTreeMap<String, Option<f64>> {
    rows.into_iter().collect()
}

pub(crate) fn split_metrics(
    data: &Dataset,
    preds: &[Vec<f32>],
    split: &Split,
) -> BTreeMap<String, BTreeMap<String, Option<f64>>> {
    data.tasks
        .tasks()
        .iter()
        .enumerate()
        .map(|(t, task)| {
            (
                task.name.clone(),
                metric_map(task_metrics(task.kind, &split.labels[t], &preds[t])),
            )
        })
        .collect()
}

/// The `constant` reference: training positive rate per binary task and training mean of
/// the core target, scored like any model.
pub fn constant_reference(data: &Dataset) -> TrainOutcome {
    let consts: Vec<f32> = (0..data.tasks.len())
        .map(|t| {
            let y = &data.train.labels[t];
            (y.iter().map(|&v| v as f64).sum::<f64>() / y.len().max(1) as f64) as f32
        })
        .collect();
    let pred = |s: &Split| -> Vec<Vec<f32>> { consts.iter().map(|&c| vec![c; s.n]).collect() };
    let mut table = MetricTable::new();
    let pv = pred(&data.valid);
    let pt = pred(&data.test);
    table.insert("valid".into(), split_metrics(data, &pv, &data.valid));
    table.insert("test".into(), split_metrics(data, &pt, &data.test));
    TrainOutcome {
        metrics: table,
        curves: vec![],
        grad_stats: vec![],
        test_predictions: pt,
        test_labels: data.test.labels.clone(),
        best_epoch: 0,
        steps: 0,
    }
}

/// Trains one cell (epochs with early stopping on the monitor, restoring the best epoch)
/// and evaluates it on `valid` and `test`, with the data on the host
/// ([`DataPlacement::Host`]).
pub fn train_cell(
    cfg: &CellConfig,
    data: &Dataset,
    device: &Device,
    progress: Progress,
) -> Result<TrainOutcome, TrainError> {
    train_cell_with(cfg, data, device, DataPlacement::Host, progress)
}

/// [`train_cell`] with the data where `placement` says (the batches, and so the results,
/// are the same in both placements).
pub fn train_cell_with(
    cfg: &CellConfig,
    data: &Dataset,
    device: &Device,
    placement: DataPlacement,
    progress: Progress,
) -> Result<TrainOutcome, TrainError> {
    if cfg.model == "constant" {
        return Ok(constant_reference(data));
    }
    let spec = TrainerSpec {
        model: &cfg.model,
        options: &cfg.options,
        grad: &cfg.grad,
        train: &cfg.train,
        seed: cfg.seed,
    };
    let mut trainer = Trainer::setup(spec, data, device)?.with_placement(placement);
    for epoch in 1..=cfg.train.epochs {
        trainer.epoch()?;
        progress(epoch, cfg.train.epochs);
        if trainer.should_stop() {
            break;
        }
    }
    trainer.finish()
}

//! The training loop: seeded mini-batches, Adam, the gradient-strategy seam, early stopping
//! with restore-best, evaluation on the original scale, curves and gradient statistics.

mod batches;
mod step;

pub use batches::{CoreTransform, Prepared};
#[doc(hidden)]
pub use step::task_losses as step_losses_for_tests;
pub use step::{task_losses, Stepper};

use std::collections::BTreeMap;
use std::time::Instant;

use burn::optim::AdamConfig;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::CellConfig;
use crate::data::{Dataset, Split, TaskKind};
use crate::metrics;
use crate::model::{BuildInfo, ForwardCtx, Pred};
use crate::optim::GradStat;
use crate::zoo::{build_model, AnyModel};

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
    /// Model construction failed.
    #[error("{0}")]
    Build(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// One row of `curves.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRow {
    /// Epoch (0 = before training).
    pub epoch: usize,
    /// Mean training loss per task over the epoch (NaN at epoch 0).
    pub train_loss: Vec<f64>,
    /// Validation loss per task (BCE, or MSE on the transformed scale).
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

/// Metrics of one task's predictions on the original scale.
pub fn task_metrics(kind: TaskKind, y: &[f32], p: &[f32]) -> Vec<(String, Option<f64>)> {
    let ok = |r: Result<f64, metrics::MetricError>| r.ok().filter(|v| v.is_finite());
    match kind {
        TaskKind::Binary => vec![
            ("auc".into(), ok(metrics::auc(y, p))),
            ("logloss".into(), ok(metrics::logloss(y, p))),
        ],
        TaskKind::Regression => {
            let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len().max(1) as f64;
            let var = y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>()
                / (y.len().max(2) - 1) as f64;
            vec![
                ("nrmse".into(), ok(metrics::nrmse(y, p))),
                ("nmae".into(), ok(metrics::nmae(y, p))),
                ("gini".into(), ok(metrics::normalized_gini(y, p))),
                ("spearman".into(), ok(metrics::spearman(y, p))),
                ("rmse".into(), ok(metrics::rmse(y, p))),
                ("mae".into(), ok(metrics::mae(y, p))),
                ("y_mean".into(), Some(mean)),
                ("y_std".into(), Some(var.sqrt())),
            ]
        }
    }
}

/// Whether a larger value of `metric` is better.
pub fn higher_is_better(metric: &str) -> bool {
    matches!(metric, "auc" | "gini" | "spearman")
}

fn metric_map(rows: Vec<(String, Option<f64>)>) -> BTreeMap<String, Option<f64>> {
    rows.into_iter().collect()
}

fn split_metrics(
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

/// Trains one cell and evaluates it on `valid` and `test`.
pub fn train_cell(
    cfg: &CellConfig,
    data: &Dataset,
    device: &Device,
    progress: Progress,
) -> Result<TrainOutcome, TrainError> {
    if cfg.model == "constant" {
        return Ok(constant_reference(data));
    }
    let t0 = Instant::now();
    let tc = &cfg.train;
    let prep = Prepared::new(data, &tc.core_transform);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let info = BuildInfo {
        vocabs: data.cat_fields.iter().map(|f| f.vocab).collect(),
        n_numeric: data.num_fields.len(),
        tasks: data.tasks.clone(),
        init_bias: prep.init_bias.clone(),
    };
    let ad = device.clone().autodiff();
    let mut model: AnyModel = build_model(&cfg.model, &cfg.options, &info, &mut rng, &ad)
        .map_err(|e| TrainError::Build(e.to_string()))?;
    let mut optim = AdamConfig::new().with_epsilon(tc.adam_eps as f32);
    let decay_all = tc.weight_decay_on.iter().any(|g| g == "all");
    let mut l2_ids = Vec::new();
    if !decay_all && tc.weight_decay > 0.0 {
        let groups = crate::model::MultiTaskModel::param_groups(&model);
        for g in &tc.weight_decay_on {
            let ids = groups
                .iter()
                .find(|(name, _)| name == g)
                .map(|(_, ids)| ids.clone())
                .ok_or_else(|| {
                    let have: Vec<&str> = groups.iter().map(|(n, _)| *n).collect();
                    TrainError::Build(format!(
                        "`train.weight_decay_on`: model `{}` has no parameter group `{g}`; it has: {}",
                        cfg.model,
                        have.join(", ")
                    ))
                })?;
            l2_ids.extend(ids);
        }
    }
    if decay_all && tc.weight_decay > 0.0 {
        optim = optim.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(
            tc.weight_decay as f32,
        )));
    }
    let mut optim = optim.init();
    let target = data.tasks.core().unwrap_or(data.tasks.len() - 1);
    let mut strategy = cfg.grad.build(data.tasks.len(), target);
    let mut stepper = step::Stepper::new(&model, target)
        .with_mean_loss(tc.loss_reduction == "mean", data.tasks.len())
        .with_l2(tc.weight_decay, l2_ids);
    let mut ctx = ForwardCtx {
        training: true,
        rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x9e37_79b9_7f4a_7c15),
        step: 0,
        record: false,
    };

    // Epoch 0: evaluation before training; its losses normalise the `all` monitor.
    let (v0_loss, v0_metrics) = evaluate(
        &model,
        &prep,
        data,
        &data.valid,
        device,
        tc.eval_batch_size,
        &mut ctx,
    )
    .map(|(l, p)| (l, valid_task_metrics(data, &prep, &p)))?;
    let monitor_of =
        |loss: &[f64], mets: &[Vec<(String, Option<f64>)>]| -> Result<f64, TrainError> {
            monitor_value(&tc.monitor, data, &v0_loss, loss, mets)
        };
    let m0 = monitor_of(&v0_loss, &v0_metrics)?;
    let mut curves = vec![EpochRow {
        epoch: 0,
        train_loss: vec![f64::NAN; data.tasks.len()],
        valid_loss: v0_loss.clone(),
        valid_metrics: v0_metrics,
        monitor: m0,
        seconds: t0.elapsed().as_secs_f64(),
    }];
    let lower_better = monitor_lower_is_better(&tc.monitor);
    // Snapshots go through `valid()`, which copies running statistics (batch-norm) instead
    // of sharing them with the model that keeps training.
    let mut best = (m0, 0usize, burn::module::Module::valid(&model));
    let mut since_best = 0usize;
    let mut grad_stats = Vec::new();
    let mut shuffle_rng =
        ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(0x2545_f491_4f6c_dd1d).wrapping_add(1));
    for epoch in 1..=tc.epochs {
        let order = prep.shuffled_order(data.train.n, &mut shuffle_rng);
        let mut sums = vec![0.0f64; data.tasks.len()];
        let mut count = 0usize;
        for (bi, chunk) in order.chunks(tc.batch_size).enumerate() {
            if tc.max_steps_per_epoch > 0 && bi >= tc.max_steps_per_epoch {
                break;
            }
            let batch = prep.batch(&data.train, chunk, &ad);
            let want_stats =
                tc.grad_stats_every > 0 && ctx.step.is_multiple_of(tc.grad_stats_every as u64);
            let (new_model, losses, stats) = stepper.step(
                model,
                &batch,
                &mut ctx,
                strategy.as_deref_mut(),
                &mut optim,
                tc.lr,
                want_stats,
            );
            model = new_model;
            for (t, l) in losses.iter().enumerate() {
                if !l.is_finite() {
                    return Err(TrainError::Diverged {
                        task: data.tasks.tasks()[t].name.clone(),
                        value: *l,
                        epoch,
                        step: ctx.step,
                    });
                }
                sums[t] += *l as f64;
            }
            if let Some(s) = stats {
                grad_stats.extend(s.into_iter().map(|g| (ctx.step, g)));
            }
            ctx.step += 1;
            count += 1;
        }
        let (vl, vp) = evaluate(
            &model,
            &prep,
            data,
            &data.valid,
            device,
            tc.eval_batch_size,
            &mut ctx,
        )?;
        let vm = valid_task_metrics(data, &prep, &vp);
        let m = monitor_of(&vl, &vm)?;
        curves.push(EpochRow {
            epoch,
            train_loss: sums.iter().map(|s| s / count.max(1) as f64).collect(),
            valid_loss: vl,
            valid_metrics: vm,
            monitor: m,
            seconds: t0.elapsed().as_secs_f64(),
        });
        progress(epoch, tc.epochs);
        let improved = if lower_better { m < best.0 } else { m > best.0 };
        if improved {
            best = (m, epoch, burn::module::Module::valid(&model));
            since_best = 0;
        } else {
            since_best += 1;
            if since_best > tc.patience {
                break;
            }
        }
    }
    let (_, best_epoch, best_model) = best;
    let (_, vp) = evaluate(
        &best_model,
        &prep,
        data,
        &data.valid,
        device,
        tc.eval_batch_size,
        &mut ctx,
    )?;
    let (_, tp) = evaluate(
        &best_model,
        &prep,
        data,
        &data.test,
        device,
        tc.eval_batch_size,
        &mut ctx,
    )?;
    let vp = prep.to_original(&vp);
    let tp = prep.to_original(&tp);
    let mut table = MetricTable::new();
    table.insert("valid".into(), split_metrics(data, &vp, &data.valid));
    table.insert("test".into(), split_metrics(data, &tp, &data.test));
    Ok(TrainOutcome {
        metrics: table,
        curves,
        grad_stats,
        test_predictions: tp,
        test_labels: data.test.labels.clone(),
        best_epoch,
        steps: ctx.step,
    })
}

fn valid_task_metrics(
    data: &Dataset,
    prep: &Prepared,
    preds: &[Vec<f32>],
) -> Vec<Vec<(String, Option<f64>)>> {
    let orig = prep.to_original(preds);
    data.tasks
        .tasks()
        .iter()
        .enumerate()
        .map(|(t, task)| {
            let mut m = task_metrics(task.kind, &data.valid.labels[t], &orig[t]);
            m.retain(|(k, _)| !matches!(k.as_str(), "y_mean" | "y_std" | "rmse" | "mae"));
            m
        })
        .collect()
}

fn monitor_lower_is_better(monitor: &str) -> bool {
    match monitor.split_once(':') {
        Some((_, metric)) => !higher_is_better(metric),
        None => true,
    }
}

fn monitor_value(
    monitor: &str,
    data: &Dataset,
    v0: &[f64],
    loss: &[f64],
    mets: &[Vec<(String, Option<f64>)>],
) -> Result<f64, TrainError> {
    if monitor == "all" {
        let n = loss.len() as f64;
        return Ok(loss
            .iter()
            .zip(v0)
            .map(|(l, l0)| if *l0 > 0.0 { l / l0 } else { *l })
            .sum::<f64>()
            / n);
    }
    let names: Vec<&str> = data.tasks.tasks().iter().map(|t| t.name.as_str()).collect();
    let (task, metric) = monitor.split_once(':').ok_or_else(|| {
        TrainError::Other(format!(
            "key `train.monitor`: `{monitor}` is neither `all` nor `<task>:<metric>` (tasks: {})",
            names.join(", ")
        ))
    })?;
    let t = names.iter().position(|n| *n == task).ok_or_else(|| {
        TrainError::Other(format!(
            "key `train.monitor`: unknown task `{task}`; tasks: {}",
            names.join(", ")
        ))
    })?;
    if metric == "loss" {
        return Ok(loss[t]);
    }
    let row = &mets[t];
    let valid: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
    let v = row.iter().find(|(k, _)| k == metric).ok_or_else(|| {
        TrainError::Other(format!(
            "key `train.monitor`: task `{task}` has no metric `{metric}`; valid: loss, {}",
            valid.join(", ")
        ))
    })?;
    Ok(v.1.unwrap_or(if higher_is_better(metric) {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }))
}

/// Predictions on the model's scale (probabilities; transformed core value) and per-task
/// validation losses (BCE; MSE on the transformed scale).
fn evaluate(
    model: &AnyModel,
    prep: &Prepared,
    data: &Dataset,
    split: &Split,
    device: &Device,
    eval_batch: usize,
    ctx: &mut ForwardCtx,
) -> Result<(Vec<f64>, Vec<Vec<f32>>), TrainError> {
    use crate::model::MultiTaskModel;
    use burn::module::Module;
    let m = model.valid();
    let n_tasks = data.tasks.len();
    let mut preds: Vec<Vec<f32>> = vec![Vec::with_capacity(split.n); n_tasks];
    let was = ctx.training;
    ctx.training = false;
    let idx: Vec<usize> = (0..split.n).collect();
    for chunk in idx.chunks(eval_batch) {
        let batch = prep.batch(split, chunk, device);
        let out = m.forward(&batch, ctx);
        for (t, p) in out.preds.into_iter().enumerate() {
            let v: Vec<f32> = match p {
                Pred::Logit(x) => burn::tensor::activation::sigmoid(x)
                    .into_data()
                    .try_into_vec::<f32>(),
                Pred::Prob(x) | Pred::Value(x) => x.into_data().try_into_vec::<f32>(),
            }
            .map_err(|e| TrainError::Other(format!("reading predictions: {e:?}")))?;
            preds[t].extend(v);
        }
    }
    ctx.training = was;
    let losses = (0..n_tasks)
        .map(|t| {
            let y = &split.labels[t];
            match data.tasks.tasks()[t].kind {
                TaskKind::Binary => metrics::logloss(y, &preds[t]).unwrap_or(f64::NAN),
                TaskKind::Regression => {
                    let yt = prep.transform_labels(y);
                    yt.iter()
                        .zip(&preds[t])
                        .map(|(a, b)| ((a - b) as f64).powi(2))
                        .sum::<f64>()
                        / y.len().max(1) as f64
                }
            }
        })
        .collect();
    Ok((losses, preds))
}

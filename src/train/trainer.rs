//! [`Trainer`]: one model's training state, driven by [`super::train_cell`] (epochs with
//! early stopping) and by `htl bench` (timed steps).
//!
//! The order of random draws is fixed: the model is initialised from `seed`, the forward
//! context (dropout, Gumbel noise) from `seed ^ 0x9e37_79b9_7f4a_7c15`, the epoch shuffles
//! from `seed * 0x2545_f491_4f6c_dd1d + 1`; the epoch-0 evaluation runs before the first
//! training step.

use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::batches::{DataPlacement, Feeder};
use super::step::Stepper;
use super::{metric_task, EpochRow, MetricTable, Prepared, TrainError, TrainOutcome};
use crate::config::{CoreLoss, Monitor, TrainConfig};
use crate::data::{Dataset, Split, TaskKind};
use crate::metrics;
use crate::model::blocks::CoreHead;
use crate::model::{BuildInfo, ForwardCtx, Pred};
use crate::optim::{GradSpec, GradStat, GradientStrategy};
use crate::zoo::{build_model, AnyModel};

/// What a [`Trainer`] trains: the model, its options, the gradient strategy, the training
/// options and the seed (a cell's config, or the benchmark's).
#[derive(Debug, Clone, Copy)]
pub struct TrainerSpec<'s> {
    /// Registered model name.
    pub model: &'s str,
    /// Resolved model options.
    pub options: &'s serde_yaml::Value,
    /// Gradient strategy.
    pub grad: &'s GradSpec,
    /// Training options.
    pub train: &'s TrainConfig,
    /// The seed that controls everything.
    pub seed: u64,
}

/// Validation losses (BCE; MSE on the core transform's scale, or the ZILN loss on the raw
/// scale) and predictions on the model's scale (probabilities; transformed core value, or the
/// ZILN expectation), per task.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Per-task loss.
    pub losses: Vec<f64>,
    /// Per-task predictions.
    pub preds: Vec<Vec<f32>>,
}

/// A model in training with its optimiser, strategy, random state, curves and best snapshot.
pub struct Trainer<'d> {
    data: &'d Dataset,
    train: TrainConfig,
    device: Device,
    autodiff: Device,
    prep: Prepared,
    model: Option<AnyModel>,
    optim: ModuleOptimizer,
    strategy: Option<Box<dyn GradientStrategy>>,
    stepper: Stepper,
    /// Batches, from the host or from the data uploaded to the device.
    feed: Feeder,
    ctx: ForwardCtx,
    shuffle_rng: ChaCha8Rng,
    started: Instant,
    epoch0_losses: Vec<f64>,
    curves: Vec<EpochRow>,
    grad_stats: Vec<(u64, GradStat)>,
    /// Best snapshot: monitor value, epoch, the step it was taken at (so it is evaluated with
    /// the temperature it had when selected) and the model.
    best: Option<(f64, usize, u64, AnyModel)>,
    since_best: usize,
}

impl<'d> Trainer<'d> {
    /// Builds the model, the optimiser and the strategy; nothing is evaluated or trained yet.
    pub fn setup(
        spec: TrainerSpec<'_>,
        data: &'d Dataset,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let started = Instant::now();
        let tc = spec.train.clone();
        let prep = Prepared::new(data, tc.core_transform);
        let core_head = core_head(tc.core_loss, data)?;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let info = BuildInfo {
            vocabs: data.cat_fields.iter().map(|f| f.vocab).collect(),
            n_numeric: data.num_fields.len(),
            tasks: data.tasks.clone(),
            init_bias: prep.init_bias.clone(),
            core_head,
        };
        let autodiff = device.clone().autodiff();
        let model = build_model(spec.model, spec.options, &info, &mut rng, &autodiff)?;
        // `weight_decay_on: [all]`: Adam's own L2 on every parameter; named groups: the
        // stepper adds `weight_decay · θ` to those parameters' gradients only.
        let decay_all = tc.weight_decay_on.iter().any(|g| g == "all");
        let mut l2_ids = Vec::new();
        if !decay_all && tc.weight_decay > 0.0 {
            let groups = crate::model::MultiTaskModel::param_groups(&model);
            for g in &tc.weight_decay_on {
                let Some((_, ids)) = groups.iter().find(|(name, _)| name == g) else {
                    let have: Vec<&str> = groups.iter().map(|(n, _)| *n).collect();
                    return Err(TrainError::DecayGroup {
                        model: spec.model.to_string(),
                        group: g.clone(),
                        have: have.join(", "),
                    });
                };
                l2_ids.extend(ids.iter().copied());
            }
        }
        // burn's Adam arithmetic in one pass per parameter (bit-for-bit equal; optim/adam.rs).
        let optim = crate::optim::FusedAdam::new(
            tc.adam_eps as f32,
            (decay_all && tc.weight_decay > 0.0).then_some(tc.weight_decay as f32),
        );
        let target = data.tasks.core().unwrap_or(data.tasks.len() - 1);
        let strategy = spec.grad.build(data.tasks.len(), target);
        let stepper = Stepper::new(&model, target)
            .with_mean_loss(tc.loss_reduction == "mean", data.tasks.len())
            .with_l2(tc.weight_decay, l2_ids);
        let per_epoch = data.train.n.div_ceil(tc.batch_size.max(1));
        let per_epoch = if tc.max_steps_per_epoch > 0 {
            per_epoch.min(tc.max_steps_per_epoch)
        } else {
            per_epoch
        };
        let planned_steps = (tc.epochs * per_epoch) as u64;
        let feed = Feeder::new(DataPlacement::Host, &prep, data, &autodiff, device);
        Ok(Self {
            data,
            device: device.clone(),
            autodiff,
            prep,
            model: Some(model),
            optim: optim.init(),
            strategy,
            stepper,
            feed,
            ctx: ForwardCtx {
                training: true,
                rng: ChaCha8Rng::seed_from_u64(spec.seed ^ 0x9e37_79b9_7f4a_7c15),
                step: 0,
                planned_steps,
                record: false,
            },
            shuffle_rng: ChaCha8Rng::seed_from_u64(
                spec.seed
                    .wrapping_mul(0x2545_f491_4f6c_dd1d)
                    .wrapping_add(1),
            ),
            started,
            epoch0_losses: Vec::new(),
            curves: Vec::new(),
            grad_stats: Vec::new(),
            best: None,
            since_best: 0,
            train: tc,
        })
    }

    /// Where the data lives while training ([`DataPlacement`]): with
    /// [`DataPlacement::Device`] every split is uploaded now, once. Batches are the same in
    /// both placements.
    pub fn with_placement(mut self, placement: DataPlacement) -> Self {
        if placement != self.feed.placement() {
            self.feed = Feeder::new(
                placement,
                &self.prep,
                self.data,
                &self.autodiff,
                &self.device,
            );
        }
        self
    }

    fn model(&self) -> Result<&AnyModel, TrainError> {
        self.model.as_ref().ok_or(TrainError::ModelLost)
    }

    /// One optimisation step on the training rows `rows`; returns the per-task loss values
    /// (an error if one is not finite). Gradient statistics are kept every
    /// `grad_stats_every` steps.
    /// `rows` become the current order ([`Self::set_order`]).
    pub fn step(&mut self, rows: &[usize], epoch: usize) -> Result<Vec<f32>, TrainError> {
        self.set_order(rows.to_vec());
        self.step_range(0..rows.len(), epoch)
    }

    /// Sets the order of training rows that [`Self::step_range`] refers to (with the data on
    /// the device, one copy of the order to the device).
    pub fn set_order(&mut self, order: Vec<usize>) {
        self.feed.set_order(order, &self.autodiff);
    }

    /// [`Self::step`] on the rows at positions `range` of the order set by
    /// [`Self::set_order`] (the batch is cut on the device when the data is there).
    pub fn step_range(
        &mut self,
        range: std::ops::Range<usize>,
        epoch: usize,
    ) -> Result<Vec<f32>, TrainError> {
        let batch = self
            .feed
            .train_batch(&self.prep, self.data, range, &self.autodiff);
        let every = self.train.grad_stats_every as u64;
        let want_stats = every > 0 && self.ctx.step.is_multiple_of(every);
        let model = self.model.take().ok_or(TrainError::ModelLost)?;
        let (model, losses, stats) = self.stepper.step(
            model,
            &batch,
            &mut self.ctx,
            self.strategy.as_deref_mut(),
            &mut self.optim,
            self.train.lr,
            want_stats,
        )?;
        self.model = Some(model);
        // The core task's MSE first: on the raw scale it is the likely cause. (A ZILN loss
        // is reported like any other task's.)
        let mse = self.train.core_loss == CoreLoss::Mse;
        if let Some((c, ct)) = self
            .prep
            .core
            .filter(|(c, _)| mse && !losses[*c].is_finite())
        {
            return Err(TrainError::CoreDiverged {
                task: self.data.tasks.tasks()[c].name.clone(),
                transform: ct.scale.to_string(),
                value: losses[c],
                epoch,
                step: self.ctx.step,
            });
        }
        if let Some((t, l)) = losses.iter().enumerate().find(|(_, l)| !l.is_finite()) {
            return Err(TrainError::Diverged {
                task: self.data.tasks.tasks()[t].name.clone(),
                value: *l,
                epoch,
                step: self.ctx.step,
            });
        }
        if let Some(s) = stats {
            let step = self.ctx.step;
            self.grad_stats.extend(s.into_iter().map(|g| (step, g)));
        }
        self.ctx.step += 1;
        Ok(losses)
    }

    /// Scores the current model on `split`.
    pub fn evaluate(&mut self, split: &Split) -> Result<Evaluation, TrainError> {
        let model = self.model.as_ref().ok_or(TrainError::ModelLost)?;
        evaluate(
            model,
            &self.prep,
            &self.feed,
            self.data,
            split,
            &self.device,
            self.train.eval_batch_size,
            &mut self.ctx,
        )
    }

    fn evaluate_model(
        &mut self,
        model: &AnyModel,
        split: &Split,
    ) -> Result<Evaluation, TrainError> {
        evaluate(
            model,
            &self.prep,
            &self.feed,
            self.data,
            split,
            &self.device,
            self.train.eval_batch_size,
            &mut self.ctx,
        )
    }

    /// Validation metrics recorded per epoch (the catalogue's curve metrics) of predictions
    /// on the model's scale.
    fn curve_metrics(&self, preds: &[Vec<f32>]) -> Vec<Vec<(String, Option<f64>)>> {
        let orig = self.prep.to_original(preds);
        self.data
            .tasks
            .tasks()
            .iter()
            .enumerate()
            .map(|(t, task)| {
                metrics::catalogue::score_curves(
                    metric_task(task.kind),
                    &self.data.valid.labels[t],
                    &orig[t],
                )
            })
            .collect()
    }

    /// Scores the validation split, records the curve row of `epoch` and keeps the best
    /// snapshot.
    fn record(&mut self, epoch: usize, train_loss: Vec<f64>) -> Result<(), TrainError> {
        let data = self.data;
        let ev = self.evaluate(&data.valid)?;
        if epoch == 0 {
            self.epoch0_losses = ev.losses.clone();
        }
        let mets = self.curve_metrics(&ev.preds);
        let m = monitor_value(
            &self.train.monitor,
            self.data,
            &self.epoch0_losses,
            &ev.losses,
            &mets,
        )?;
        let tau = crate::model::MultiTaskModel::temperature(self.model()?, &self.ctx);
        self.curves.push(EpochRow {
            epoch,
            tau,
            train_loss,
            valid_loss: ev.losses,
            valid_metrics: mets,
            monitor: m,
            seconds: self.started.elapsed().as_secs_f64(),
        });
        let improved = match &self.best {
            None => true,
            Some((b, ..)) if self.train.monitor.higher_is_better() => m > *b,
            Some((b, ..)) => m < *b,
        };
        if improved {
            // Snapshots go through `valid()`, which copies running statistics (batch-norm)
            // instead of sharing them with the model that keeps training.
            self.best = Some((m, epoch, self.ctx.step, self.model()?.valid()));
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        Ok(())
    }

    /// One epoch: a shuffled pass over the training split (at most `max_steps_per_epoch`
    /// steps), then the validation score, the curve row and the best snapshot. The first
    /// call records epoch 0 (the untrained model) first. Returns the epoch's curve row.
    pub fn epoch(&mut self) -> Result<&EpochRow, TrainError> {
        if self.curves.is_empty() {
            self.record(0, vec![f64::NAN; self.data.tasks.len()])?;
        }
        let epoch = self.curves.len();
        let order = self
            .prep
            .shuffled_order(self.data.train.n, &mut self.shuffle_rng);
        let n = order.len();
        self.set_order(order);
        let mut sums = vec![0.0f64; self.data.tasks.len()];
        let mut count = 0usize;
        let cap = self.train.max_steps_per_epoch;
        let bs = self.train.batch_size.max(1);
        for (bi, start) in (0..n).step_by(bs).enumerate() {
            if cap > 0 && bi >= cap {
                break;
            }
            let losses = self.step_range(start..(start + bs).min(n), epoch)?;
            for (s, l) in sums.iter_mut().zip(&losses) {
                *s += *l as f64;
            }
            count += 1;
        }
        let train_loss = sums.iter().map(|s| s / count.max(1) as f64).collect();
        self.record(epoch, train_loss)?;
        self.curves.last().ok_or(TrainError::NothingRecorded)
    }

    /// Whether early stopping ends training: more than `patience` epochs without an
    /// improvement of the monitor.
    pub fn should_stop(&self) -> bool {
        self.since_best > self.train.patience
    }

    /// Scores the best snapshot on valid and test (original scale) and returns everything
    /// the cell stores.
    pub fn finish(mut self) -> Result<TrainOutcome, TrainError> {
        if self.curves.is_empty() {
            self.record(0, vec![f64::NAN; self.data.tasks.len()])?;
        }
        let (_, best_epoch, best_step, best_model) =
            self.best.take().ok_or(TrainError::NothingRecorded)?;
        let data = self.data;
        // Evaluate the snapshot at the step it was selected at, so step-dependent parts
        // (HTLNet's temperature) are those its validation score was measured with.
        let steps = self.ctx.step;
        self.ctx.step = best_step;
        let vp = self.evaluate_model(&best_model, &data.valid)?.preds;
        let tp = self.evaluate_model(&best_model, &data.test)?.preds;
        let vp = self.prep.to_original(&vp);
        let tp = self.prep.to_original(&tp);
        let mut table = MetricTable::new();
        table.insert("valid".into(), super::split_metrics(data, &vp, &data.valid));
        table.insert("test".into(), super::split_metrics(data, &tp, &data.test));
        Ok(TrainOutcome {
            metrics: table,
            curves: self.curves,
            grad_stats: self.grad_stats,
            test_predictions: tp,
            test_labels: data.test.labels.clone(),
            best_epoch,
            steps,
        })
    }
}

/// The monitor's value: `all` = mean over tasks of loss / epoch-0 loss; otherwise the task's
/// loss or curve metric (an undefined metric counts as the worst value).
fn monitor_value(
    monitor: &Monitor,
    data: &Dataset,
    v0: &[f64],
    loss: &[f64],
    mets: &[Vec<(String, Option<f64>)>],
) -> Result<f64, TrainError> {
    let (task, metric) = match monitor {
        Monitor::All => {
            let n = loss.len() as f64;
            return Ok(loss
                .iter()
                .zip(v0)
                .map(|(l, l0)| if *l0 > 0.0 { l / l0 } else { *l })
                .sum::<f64>()
                / n);
        }
        Monitor::Task { task, metric } => (task, metric),
    };
    // The experiment checked the monitor against the chain when it was read; these errors
    // are for a chain that changed since.
    let t = data
        .tasks
        .index_of(task)
        .ok_or_else(|| TrainError::Monitor(format!("the data has no task `{task}`")))?;
    if metric == "loss" {
        return Ok(loss[t]);
    }
    let v = mets[t].iter().find(|(k, _)| k == metric).ok_or_else(|| {
        TrainError::Monitor(format!("task `{task}` records no metric `{metric}`"))
    })?;
    Ok(v.1.unwrap_or(if monitor.higher_is_better() {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    }))
}

/// The core head of a `core_loss`: with `ziln`, its bias from the training target, after
/// checking that the data has a core task whose values are finite and ≥ 0 in every split
/// (the experiment and the loaders check both; this guards data built another way).
pub(crate) fn core_head(loss: CoreLoss, data: &Dataset) -> Result<CoreHead, TrainError> {
    if loss == CoreLoss::Mse {
        return Ok(CoreHead::Mse);
    }
    let Some(c) = data.tasks.core() else {
        return Err(TrainError::ZilnTarget(
            "`core_loss: ziln` needs a core regression task, and the data has none; use `core_loss: mse`".into(),
        ));
    };
    let task = &data.tasks.tasks()[c].name;
    for (name, split) in [
        ("train", &data.train),
        ("valid", &data.valid),
        ("test", &data.test),
    ] {
        let bad: Vec<usize> = (0..split.labels[c].len())
            .filter(|&r| split.labels[c][r] < 0.0 || !split.labels[c][r].is_finite())
            .collect();
        if let Some(&first) = bad.first() {
            return Err(TrainError::ZilnTarget(format!(
                "core task `{task}` has {} negative or non-finite values in the {name} split (first at row {}, value {}); `core_loss: ziln` models a target ≥ 0: fix that column or use `core_loss: mse`",
                bad.len(),
                first + 1,
                split.labels[c][first]
            )));
        }
    }
    Ok(CoreHead::Ziln {
        bias: super::ziln::ziln_init_bias(&data.train.labels[c]),
    })
}

/// A prediction read back to the host on the model's scale: probabilities for binary tasks,
/// the transformed value of an MSE core, the expectation `p · exp(μ + σ²/2)` of a ZILN core.
pub(crate) fn host_prediction(p: Pred) -> Result<Vec<f32>, TrainError> {
    let t = match p {
        Pred::Logit(x) => burn::tensor::activation::sigmoid(x),
        Pred::Prob(x) | Pred::Value(x) => x,
        Pred::Ziln(z) => super::ziln::ziln_expectation(z),
    };
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::ReadPredictions(format!("{e:?}")))
}

/// Predictions on the model's scale and per-task validation losses of `model` on `split`.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    model: &AnyModel,
    prep: &Prepared,
    feed: &Feeder,
    data: &Dataset,
    split: &Split,
    device: &Device,
    eval_batch: usize,
    ctx: &mut ForwardCtx,
) -> Result<Evaluation, TrainError> {
    use crate::model::MultiTaskModel;
    let m = model.valid();
    let n_tasks = data.tasks.len();
    let mut preds: Vec<Vec<f32>> = vec![Vec::with_capacity(split.n); n_tasks];
    let was = ctx.training;
    ctx.training = false;
    // A ZILN core's validation loss, summed over the rows (its labels are the raw values).
    let mut ziln_sum: Option<f64> = None;
    let step = eval_batch.max(1);
    for start in (0..split.n).step_by(step) {
        let range = start..(start + step).min(split.n);
        let rows = range.len();
        let batch = feed.eval_batch(prep, data, split, range, device);
        let out = m.forward(&batch, ctx);
        for (t, p) in out.preds.into_iter().enumerate() {
            if let Pred::Ziln(z) = &p {
                crate::util::transfers::count_d2h();
                let l = super::ziln::ziln_loss(z.clone(), batch.labels[t].clone())
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| TrainError::ReadPredictions(format!("{e:?}")))?;
                let l = l.first().map_or(f64::NAN, |&v| f64::from(v));
                *ziln_sum.get_or_insert(0.0) += l * rows as f64;
            }
            crate::util::transfers::count_d2h();
            preds[t].extend(host_prediction(p)?);
        }
    }
    ctx.training = was;
    let losses = (0..n_tasks)
        .map(|t| {
            let y = &split.labels[t];
            match data.tasks.tasks()[t].kind {
                TaskKind::Binary => metrics::logloss(y, &preds[t]).unwrap_or(f64::NAN),
                TaskKind::Regression if ziln_sum.is_some() => {
                    ziln_sum.unwrap_or(f64::NAN) / y.len().max(1) as f64
                }
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
    Ok(Evaluation { losses, preds })
}

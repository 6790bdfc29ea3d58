//! One optimisation step, with or without a per-task gradient strategy.
//!
//! Per-task strategies need `G_t = ∇_{θ_s} L_t` for every task t. burn has no
//! `retain_graph`, so the step runs the trunk once, gives each task its own detached leaf copy
//! of the trunk output, and runs one backward over the heads (one per task when the model is
//! not separable). Each task's activation gradient `dL_t/dz` is then pushed into θ_s with a
//! surrogate `Σ(z * dL_t/dz)` backward over a re-run of the trunk (the first task reuses the
//! original trunk graph; re-runs replay the same random generator state so dropout masks
//! match). The strategy sees only the Gram matrix of the `G_t` (see [`crate::optim`]).

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::Tensor;

use crate::model::{AnyModel, Batch, ForwardCtx, ModelOutput, MultiTaskModel, Pred};
use crate::optim::{combined, grad_stats, GradStat, GradientStrategy};

struct RankVisitor(Vec<(ParamId, usize)>);

impl ModuleVisitor for RankVisitor {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, D));
    }
}

/// Parameter ids of a module with their tensor rank.
pub fn param_ranks<M: Module>(m: &M) -> Vec<(ParamId, usize)> {
    let mut v = RankVisitor(Vec::new());
    m.visit(&mut v);
    v.0
}

/// Per-task losses `[1]` each: BCE with logits, BCE on probabilities (clamped to
/// [1e-7, 1 − 1e-7]) or MSE on the transformed scale; plus the model's extra terms.
pub fn task_losses(out: &ModelOutput, batch: &Batch) -> Vec<Tensor<1>> {
    let mut losses: Vec<Tensor<1>> = out
        .preds
        .iter()
        .zip(&batch.labels)
        .map(|(p, y)| match p {
            Pred::Logit(z) => {
                // log(1 + e^z) - z*y, computed stably: relu(z) - z*y + log1p(e^-|z|)
                let stable =
                    relu(z.clone()) - z.clone() * y.clone() + z.clone().abs().neg().exp().log1p();
                stable.mean()
            }
            Pred::Prob(p) => {
                let p = p.clone().clamp(1e-7, 1.0 - 1e-7);
                let one = y.clone().ones_like();
                (y.clone() * p.clone().log() + (one.clone() - y.clone()) * (one - p).log())
                    .mean()
                    .neg()
            }
            Pred::Value(v) => (v.clone() - y.clone()).powi_scalar(2).mean(),
        })
        .collect();
    for (t, extra) in &out.extra_losses {
        losses[*t] = losses[*t].clone() + extra.clone();
    }
    losses
}

fn scalars(losses: &[Tensor<1>]) -> Vec<f32> {
    let stacked = Tensor::cat(losses.iter().map(|l| l.clone().detach()).collect(), 0);
    stacked
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_else(|_| vec![f32::NAN; losses.len()])
}

/// Holds the parameter bookkeeping needed by per-task steps.
pub struct Stepper {
    shared: Vec<(ParamId, usize)>,
    all: Vec<(ParamId, usize)>,
    target: usize,
}

impl Stepper {
    /// Reads the model's parameter ids; `target` = the core task (for statistics).
    pub fn new(model: &AnyModel, target: usize) -> Self {
        let shared_ids = model.shared_param_ids();
        let all = param_ranks(model);
        let shared = all
            .iter()
            .filter(|(id, _)| shared_ids.contains(id))
            .cloned()
            .collect();
        Self {
            shared,
            all,
            target,
        }
    }

    /// One step. Returns the updated model, the per-task loss values and, when asked and a
    /// per-task strategy runs, per-task gradient statistics.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        model: AnyModel,
        batch: &Batch,
        ctx: &mut ForwardCtx,
        strategy: Option<&mut (dyn GradientStrategy + '_)>,
        optim: &mut ModuleOptimizer,
        lr: f64,
        want_stats: bool,
    ) -> (AnyModel, Vec<f32>, Option<Vec<GradStat>>) {
        let Some(strategy) = strategy.filter(|_| !self.shared.is_empty()) else {
            let out = model.forward(batch, ctx);
            let losses = task_losses(&out, batch);
            let values = scalars(&losses);
            let total = losses
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("at least one task");
            let grads = total.backward();
            let gp = GradientsParams::from_grads(grads, &model);
            return (optim.step(lr, model, gp), values, None);
        };
        let (values, mut gp, per_task) = self.per_task(&model, batch, ctx);
        let n = per_task.len();
        let gram = self.gram(&per_task);
        let a = strategy.adjust(&gram, &mut ctx.rng);
        let coeffs = combined(&a);
        for (id, rank) in &self.shared {
            match rank {
                1 => combine_param::<1>(&mut gp, &per_task, &coeffs, *id),
                2 => combine_param::<2>(&mut gp, &per_task, &coeffs, *id),
                3 => combine_param::<3>(&mut gp, &per_task, &coeffs, *id),
                _ => {}
            }
        }
        let stats = want_stats.then(|| grad_stats(&gram, &a, self.target.min(n - 1)));
        (optim.step(lr, model, gp), values, stats)
    }

    /// Per-task loss values, the task-specific parameters' gradient (of the summed loss) and,
    /// per task, the gradient of its loss w.r.t. the shared parameters — from one trunk
    /// forward and one head backward (one per task when the model is not separable).
    pub fn per_task(
        &self,
        model: &AnyModel,
        batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> (Vec<f32>, GradientsParams, Vec<GradientsParams>) {
        let n = model.n_tasks();
        let trunk_rng = ctx.rng.clone();
        let z = model.shared(batch, ctx);
        let (values, act_grads, gp) = if model.separable() {
            let leaves: Vec<Vec<Tensor<2>>> = (0..n)
                .map(|_| {
                    z.iter()
                        .map(|x| x.clone().detach().require_grad())
                        .collect()
                })
                .collect();
            let out = model.heads(&leaves, batch, ctx);
            let losses = task_losses(&out, batch);
            let values = scalars(&losses);
            let total = losses
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("at least one task");
            let mut grads = total.backward();
            let g: Vec<Vec<Tensor<2>>> = leaves
                .iter()
                .map(|l| {
                    l.iter()
                        .map(|x| {
                            x.grad_remove(&mut grads)
                                .unwrap_or_else(|| x.zeros_like().detach())
                        })
                        .collect()
                })
                .collect();
            (values, g, GradientsParams::from_grads(grads, model))
        } else {
            let head_rng = ctx.rng.clone();
            let mut acc = GradientsParams::new();
            let mut values = Vec::new();
            let mut g = Vec::with_capacity(n);
            for t in 0..n {
                ctx.rng = head_rng.clone();
                let leaf: Vec<Tensor<2>> = z
                    .iter()
                    .map(|x| x.clone().detach().require_grad())
                    .collect();
                let out = model.heads(&vec![leaf.clone(); n], batch, ctx);
                let losses = task_losses(&out, batch);
                if t == 0 {
                    values = scalars(&losses);
                }
                let mut grads = losses[t].backward();
                g.push(
                    leaf.iter()
                        .map(|x| {
                            x.grad_remove(&mut grads)
                                .unwrap_or_else(|| x.zeros_like().detach())
                        })
                        .collect(),
                );
                let gp_t = GradientsParams::from_grads(grads, model);
                add_into(&mut acc, gp_t, &self.all);
            }
            (values, g, acc)
        };
        // Per-task gradients of the shared parameters.
        let mut per_task: Vec<GradientsParams> = Vec::with_capacity(n);
        for (t, g_t) in act_grads.iter().enumerate() {
            let z_t = if t == 0 {
                z.clone()
            } else {
                let mut c = ForwardCtx {
                    training: true,
                    rng: trunk_rng.clone(),
                    step: ctx.step,
                    record: false,
                };
                model.shared(batch, &mut c)
            };
            let surrogate = z_t
                .into_iter()
                .zip(g_t)
                .map(|(a, ga)| (a * ga.clone().autodiff()).sum())
                .reduce(|a, b| a + b)
                .expect("trunk output");
            let mut grads = surrogate.backward();
            let ids: Vec<ParamId> = self.shared.iter().map(|(id, _)| *id).collect();
            per_task.push(GradientsParams::from_params(&mut grads, model, &ids));
        }
        (values, gp, per_task)
    }

    /// Gram matrix `K[i][j] = <G_i, G_j>` over all shared parameters.
    pub fn gram(&self, per_task: &[GradientsParams]) -> Vec<Vec<f64>> {
        let n = per_task.len();
        let mut rows: Vec<Tensor<1>> = Vec::with_capacity(n);
        for gp in per_task {
            let mut parts: Vec<Tensor<1>> = Vec::new();
            for (id, rank) in &self.shared {
                let flat = match rank {
                    1 => gp.get::<1>(*id),
                    2 => gp.get::<2>(*id).map(|t| t.flatten::<1>(0, 1)),
                    3 => gp.get::<3>(*id).map(|t| t.flatten::<1>(0, 2)),
                    _ => None,
                };
                if let Some(f) = flat {
                    parts.push(f);
                } else if let Some(size) = self.size_of(per_task, *id, *rank) {
                    parts.push(Tensor::zeros([size], &self.device_of(per_task)));
                }
            }
            rows.push(Tensor::cat(parts, 0));
        }
        let m: Tensor<2> = Tensor::stack(rows, 0);
        let k = m.clone().matmul(m.transpose());
        let v = k.into_data().try_into_vec::<f32>().unwrap_or_default();
        (0..n)
            .map(|i| (0..n).map(|j| v[i * n + j] as f64).collect())
            .collect()
    }

    fn size_of(&self, per_task: &[GradientsParams], id: ParamId, rank: usize) -> Option<usize> {
        per_task.iter().find_map(|gp| match rank {
            1 => gp.get::<1>(id).map(|t| t.dims()[0]),
            2 => gp.get::<2>(id).map(|t| t.dims().iter().product()),
            3 => gp.get::<3>(id).map(|t| t.dims().iter().product()),
            _ => None,
        })
    }

    fn device_of(&self, per_task: &[GradientsParams]) -> burn::tensor::Device {
        for gp in per_task {
            for (id, rank) in &self.shared {
                let d = match rank {
                    1 => gp.get::<1>(*id).map(|t| t.device()),
                    2 => gp.get::<2>(*id).map(|t| t.device()),
                    _ => None,
                };
                if let Some(d) = d {
                    return d;
                }
            }
        }
        burn::tensor::Device::default()
    }
}

fn combine_param<const D: usize>(
    gp: &mut GradientsParams,
    per_task: &[GradientsParams],
    coeffs: &[f64],
    id: ParamId,
) {
    let mut acc: Option<Tensor<D>> = None;
    for (g, &c) in per_task.iter().zip(coeffs) {
        if c == 0.0 {
            continue;
        }
        if let Some(t) = g.get::<D>(id) {
            let s = t.mul_scalar(c as f32);
            acc = Some(match acc {
                None => s,
                Some(a) => a + s,
            });
        }
    }
    if let Some(a) = acc {
        let merged = match gp.remove::<D>(id) {
            Some(existing) => existing + a,
            None => a,
        };
        gp.register(id, merged);
    }
}

fn add_into(acc: &mut GradientsParams, new: GradientsParams, params: &[(ParamId, usize)]) {
    fn one<const D: usize>(acc: &mut GradientsParams, new: &GradientsParams, id: ParamId) {
        if let Some(t) = new.get::<D>(id) {
            let merged = match acc.remove::<D>(id) {
                Some(e) => e + t,
                None => t,
            };
            acc.register(id, merged);
        }
    }
    for (id, rank) in params {
        match rank {
            1 => one::<1>(acc, &new, *id),
            2 => one::<2>(acc, &new, *id),
            3 => one::<3>(acc, &new, *id),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TaskKind::{Binary, Regression};
    use crate::htlnet::HtlNetConfig;
    use crate::model::build_model;
    use crate::model::testutil::{batch, ctx, info};
    use burn::tensor::Device;
    use rand::SeedableRng;

    /// The one-forward per-task gradients equal those of a separate forward and backward per
    /// task, for a separable model (HTLNet), a non-separable one (HTLNet without
    /// stop-gradient) and a trunk with an MLP (Shared-Bottom).
    #[test]
    fn per_task_gradients_match_separate_backward_passes() {
        let dev = Device::flex().autodiff();
        let kinds = [Binary, Binary, Regression];
        let cases = [
            (
                "htlnet",
                serde_yaml::to_value(HtlNetConfig::default()).unwrap(),
            ),
            (
                "htlnet",
                serde_yaml::to_value(HtlNetConfig {
                    stop_grad: false,
                    ..Default::default()
                })
                .unwrap(),
            ),
            ("shared_bottom", serde_yaml::Value::Null),
        ];
        for (name, opts) in cases {
            let inf = info(&kinds);
            let model = build_model(
                name,
                &opts,
                &inf,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(4),
                &dev,
            )
            .unwrap();
            let b = batch(&inf, 32, 9, &dev);
            let stepper = Stepper::new(&model, 2);
            // Evaluation mode: no Gumbel noise, so separate passes see the same network.
            let mut c = ctx(0);
            c.training = false;
            let (_, _, per_task) = stepper.per_task(&model, &b, &mut c);
            let fast = stepper.gram(&per_task);
            let ids: Vec<ParamId> = stepper.shared.iter().map(|(id, _)| *id).collect();
            let reference: Vec<GradientsParams> = (0..3)
                .map(|t| {
                    let mut c = ctx(0);
                    c.training = false;
                    let out = model.forward(&b, &mut c);
                    let losses = task_losses(&out, &b);
                    let mut g = losses[t].backward();
                    GradientsParams::from_params(&mut g, &model, &ids)
                })
                .collect();
            let slow = stepper.gram(&reference);
            for i in 0..3 {
                for j in 0..3 {
                    let (a, r) = (fast[i][j], slow[i][j]);
                    assert!(
                        (a - r).abs() <= 1e-4 * r.abs().max(1e-8),
                        "{name}: K[{i}][{j}] {a} vs {r}"
                    );
                }
                assert!(fast[i][i] > 0.0, "{name}: task {i} has a zero gradient");
            }
        }
    }
}

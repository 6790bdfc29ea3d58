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

use crate::model::blocks::FieldEmbedding;
use crate::model::{Batch, ForwardCtx, ModelOutput, MultiTaskModel, Pred};
use crate::optim::{combined, grad_stats_groups, GradStat, GradientStrategy};
use crate::zoo::AnyModel;

/// Why an optimisation step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// A tensor could not be read back from the device.
    #[error("cannot read {what} from the device: {detail}")]
    Read {
        /// What was read (`loss values`, `activation gradients`, `the Gram matrix`).
        what: &'static str,
        /// The backend's reason.
        detail: String,
    },
    /// A shared parameter has a rank the per-task path does not handle.
    #[error("a shared parameter has rank {rank}; per-task gradient strategies handle ranks 1 to 3 (use `grad: sum` for this model)")]
    UnsupportedRank {
        /// The parameter's rank.
        rank: usize,
    },
    /// No shared parameter received a gradient from any task.
    #[error("no shared parameter received a gradient from any task, so the per-task strategy has nothing to combine (use `grad: sum` for this model)")]
    NoSharedGradient,
}

/// Every device → host read of a step goes through here (one `into_data` each), so it is
/// counted ([`crate::util::transfers`]).
fn read_vec(data: burn::tensor::TensorData, what: &'static str) -> Result<Vec<f32>, StepError> {
    crate::util::transfers::count_d2h();
    data.try_into_vec::<f32>().map_err(|e| StepError::Read {
        what,
        detail: format!("{e:?}"),
    })
}

/// An operation on one parameter, generic over the tensor rank (see [`at_rank`]).
trait RankOp {
    type Out;
    fn run<const D: usize>(&mut self, id: ParamId) -> Self::Out;
}

/// Runs `op` at the parameter's rank (1 to 3). Any other rank is an error: a parameter is
/// never silently left out of the combined gradient.
fn at_rank<O: RankOp>(rank: usize, id: ParamId, op: &mut O) -> Result<O::Out, StepError> {
    match rank {
        1 => Ok(op.run::<1>(id)),
        2 => Ok(op.run::<2>(id)),
        3 => Ok(op.run::<3>(id)),
        rank => Err(StepError::UnsupportedRank { rank }),
    }
}

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
/// [1e-7, 1 − 1e-7]), MSE on the transformed scale or, for a ZILN core head, the ZILN loss
/// on the raw scale ([`super::ziln::ziln_loss`]); plus the model's extra terms. Every
/// gradient strategy sees these as the tasks' losses.
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
            Pred::Ziln(z) => super::ziln::ziln_loss(z.clone(), y.clone()),
        })
        .collect();
    for (t, extra) in &out.extra_losses {
        losses[*t] = losses[*t].clone() + extra.clone();
    }
    losses
}

fn scalars(losses: &[Tensor<1>]) -> Result<Vec<f32>, StepError> {
    let stacked = Tensor::cat(losses.iter().map(|l| l.clone().detach()).collect(), 0);
    read_vec(stacked.into_data(), "loss values")
}

/// What the heads' pass of a per-task step produced.
pub struct HeadsPass {
    /// Per-task loss values.
    pub values: Vec<f32>,
    /// Gradient of the summed loss w.r.t. the task-specific parameters.
    pub gp: GradientsParams,
    /// Per task, `dL_t/dz` for each trunk output.
    pub act: Vec<Vec<Tensor<2>>>,
    /// The trunk output (still on its graph).
    pub z: Vec<Tensor<2>>,
    /// Generator state before the trunk ran (to replay it).
    pub trunk_rng: rand_chacha::ChaCha8Rng,
}

/// Gram matrix of per-task gradients of a [`FieldEmbedding`] (all its tensors together): the
/// sum of [`sparse_grams`].
#[cfg(test)]
pub fn sparse_gram(
    emb: &FieldEmbedding,
    batch: &Batch,
    act: &[Vec<Tensor<2>>],
) -> Result<Vec<Vec<f64>>, StepError> {
    Ok(crate::optim::sum_grams(&sparse_grams(emb, batch, act)?))
}

/// One Gram matrix of per-task gradients per tensor of a [`FieldEmbedding`] (every table in
/// order, then the numeric projection's weight and bias), computed on the host from the
/// activation gradients `act[t][0]` (`[batch, n_fields * dim]`): each table's gradient is the
/// scatter-add of its field's rows into the looked-up indices, so inner products run over the
/// rows the batch touched only; the numeric projection's weight and bias gradients are
/// `numᵀ g` and `Σ_b g`.
pub fn sparse_grams(
    emb: &FieldEmbedding,
    batch: &Batch,
    act: &[Vec<Tensor<2>>],
) -> Result<Vec<Vec<Vec<f64>>>, StepError> {
    let n = act.len();
    let d = emb.dim;
    let width = emb.out_dim();
    let b = batch.size;
    let host: Vec<Vec<f32>> = act
        .iter()
        .map(|g| read_vec(g[0].clone().into_data(), "activation gradients"))
        .collect::<Result<_, _>>()?;
    let mut grams: Vec<Vec<Vec<f64>>> = Vec::new();
    let mut add_block = |blocks: &[Vec<f32>]| {
        let mut k = vec![vec![0.0f64; n]; n];
        for i in 0..n {
            for j in i..n {
                let dot: f64 = blocks[i]
                    .iter()
                    .zip(&blocks[j])
                    .map(|(x, y)| f64::from(*x) * f64::from(*y))
                    .sum();
                k[i][j] += dot;
                if i != j {
                    k[j][i] += dot;
                }
            }
        }
        grams.push(k);
    };
    let max_vocab = emb
        .tables
        .iter()
        .map(|t| t.val().dims()[0])
        .max()
        .unwrap_or(0);
    let mut slot = vec![u32::MAX; max_vocab];
    for (f, idx) in batch.cat_host.iter().enumerate().take(emb.tables.len()) {
        let mut uniq: Vec<u32> = Vec::new();
        for &v in idx {
            if slot[v as usize] == u32::MAX {
                slot[v as usize] = uniq.len() as u32;
                uniq.push(v);
            }
        }
        let u = uniq.len();
        let blocks: Vec<Vec<f32>> = host
            .iter()
            .map(|g| {
                let mut agg = vec![0.0f32; u * d];
                for (row, &v) in idx.iter().enumerate() {
                    let s = slot[v as usize] as usize;
                    let src = &g[row * width + f * d..row * width + (f + 1) * d];
                    for (a, x) in agg[s * d..(s + 1) * d].iter_mut().zip(src) {
                        *a += x;
                    }
                }
                agg
            })
            .collect();
        add_block(&blocks);
        for &v in &uniq {
            slot[v as usize] = u32::MAX;
        }
    }
    if emb.numeric.is_some() && b > 0 {
        let m = batch.num_host.len() / b;
        let off = emb.tables.len() * d;
        let blocks: Vec<Vec<f32>> = host
            .iter()
            .map(|g| {
                // weight gradient [m, d] then bias gradient [d]
                let mut out = vec![0.0f32; m * d + d];
                for row in 0..b {
                    let gr = &g[row * width + off..row * width + off + d];
                    for j in 0..m {
                        let x = batch.num_host[row * m + j];
                        for (o, y) in out[j * d..(j + 1) * d].iter_mut().zip(gr) {
                            *o += x * y;
                        }
                    }
                    for (o, y) in out[m * d..].iter_mut().zip(gr) {
                        *o += y;
                    }
                }
                out
            })
            .collect();
        let weights: Vec<Vec<f32>> = blocks.iter().map(|o| o[..m * d].to_vec()).collect();
        let biases: Vec<Vec<f32>> = blocks.iter().map(|o| o[m * d..].to_vec()).collect();
        add_block(&weights);
        add_block(&biases);
    }
    Ok(grams)
}

/// What [`Stepper::step`] returns: the updated model, each task's loss, and the gradient
/// statistics when they were asked for.
pub type Stepped = (AnyModel, Vec<f32>, Option<Vec<GradStat>>);

/// Holds the parameter bookkeeping needed by per-task steps.
pub struct Stepper {
    shared: Vec<(ParamId, usize)>,
    all: Vec<(ParamId, usize)>,
    target: usize,
    /// Factor on every task loss before backward: 1 (`loss_reduction: sum`) or 1/T (`mean`).
    loss_scale: f32,
    /// L2 on chosen parameter groups: `(coefficient, parameters)`; adds `coefficient · θ` to
    /// their gradients (PyTorch's Adam `weight_decay`, TensorFlow's `l2_regularizer`).
    l2: Option<(f64, Vec<ParamId>)>,
}

struct L2Visitor<'a> {
    ids: &'a [ParamId],
    wd: f32,
    gp: &'a mut GradientsParams,
}

impl ModuleVisitor for L2Visitor<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !self.ids.contains(&param.id) {
            return;
        }
        let decay = param.val().inner().mul_scalar(self.wd);
        let merged = match self.gp.remove::<D>(param.id) {
            Some(g) => g + decay,
            None => decay,
        };
        self.gp.register(param.id, merged);
    }
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
            loss_scale: 1.0,
            l2: None,
        }
    }

    /// `loss_reduction: mean`: every task loss is divided by the number of tasks before the
    /// backward (MTReclib's mean of task losses); reported loss values stay per task.
    pub fn with_mean_loss(mut self, mean: bool, n_tasks: usize) -> Self {
        self.loss_scale = if mean {
            1.0 / n_tasks.max(1) as f32
        } else {
            1.0
        };
        self
    }

    /// L2 with coefficient `wd` on the parameters `ids` only (`train.weight_decay_on`).
    pub fn with_l2(mut self, wd: f64, ids: Vec<ParamId>) -> Self {
        self.l2 = (wd > 0.0 && !ids.is_empty()).then_some((wd, ids));
        self
    }

    fn add_l2(&self, model: &AnyModel, gp: &mut GradientsParams) {
        if let Some((wd, ids)) = &self.l2 {
            let mut v = L2Visitor {
                ids,
                wd: *wd as f32,
                gp,
            };
            model.visit(&mut v);
        }
    }

    /// One step. Returns the updated model, the per-task loss values and, when asked and a
    /// per-task strategy runs, per-task gradient statistics. On an error the model is
    /// dropped (the cell fails).
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
    ) -> Result<Stepped, StepError> {
        // Plain summation still logs gradient statistics (raw = adjusted) on the steps that
        // ask for them, through the per-task path with the identity combination, so that
        // "without gradient processing" can be plotted beside the adjusted runs.
        let mut identity = crate::optim::Identity;
        let strategy = match strategy {
            Some(s) => Some(s),
            None if want_stats => Some(&mut identity as &mut dyn GradientStrategy),
            None => None,
        };
        let Some(strategy) = strategy.filter(|_| !self.shared.is_empty()) else {
            let out = model.forward(batch, ctx);
            let losses = task_losses(&out, batch);
            let values = scalars(&losses)?;
            let total = losses
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("at least one task");
            let grads = total.mul_scalar(self.loss_scale).backward();
            let mut gp = GradientsParams::from_grads(grads, &model);
            self.add_l2(&model, &mut gp);
            return Ok((optim.step(lr, model, gp), values, None));
        };
        let pass = self.heads_pass_checked(&model, batch, ctx)?;
        let n = pass.act.len();
        if let Some(emb) = model.embedding_trunk() {
            // Embedding-only trunk: Gram on the touched rows (host), then one backward of the
            // combined activation gradient through the embedding.
            // One Gram per tensor; when every group gets the same combination (every
            // strategy but per-tensor MetaBalance) this is the earlier single-Gram path.
            let grams = sparse_grams(emb, batch, &pass.act)?;
            let a = strategy.adjust_groups(&grams, &mut ctx.rng);
            let coeffs: Vec<Vec<f64>> = a.iter().map(|ap| combined(ap)).collect();
            let comb = embedding_combination(emb, &pass.act, &coeffs);
            let surrogate = (pass.z[0].clone() * comb.autodiff()).sum();
            let mut grads = surrogate.backward();
            let ids: Vec<ParamId> = self.shared.iter().map(|(id, _)| *id).collect();
            let mut shared_gp = GradientsParams::from_params(&mut grads, &model, &ids);
            fix_numeric_bias(emb, &pass.act, &coeffs, &mut shared_gp);
            let mut gp = pass.gp;
            add_into(&mut gp, shared_gp, &self.shared)?;
            self.add_l2(&model, &mut gp);
            let stats = want_stats.then(|| grad_stats_groups(&grams, &a, self.target.min(n - 1)));
            return Ok((optim.step(lr, model, gp), pass.values, stats));
        }
        let per_task = self.per_task_params(&model, batch, ctx.step, &pass);
        let (values, mut gp) = (pass.values, pass.gp);
        let grams = self.gram_groups(&per_task)?;
        let a = strategy.adjust_groups(&grams, &mut ctx.rng);
        for ((id, rank), ap) in self.shared.iter().zip(&a) {
            let coeffs = combined(ap);
            let mut op = Combine {
                gp: &mut gp,
                per_task: &per_task,
                coeffs: &coeffs,
            };
            at_rank(*rank, *id, &mut op)?;
        }
        self.add_l2(&model, &mut gp);
        let stats = want_stats.then(|| grad_stats_groups(&grams, &a, self.target.min(n - 1)));
        Ok((optim.step(lr, model, gp), values, stats))
    }

    /// [`Self::heads_pass_checked`] for tests; panics where that returns an error.
    #[cfg(test)]
    pub fn heads_pass(&self, model: &AnyModel, batch: &Batch, ctx: &mut ForwardCtx) -> HeadsPass {
        self.heads_pass_checked(model, batch, ctx)
            .unwrap_or_else(|e| panic!("heads pass: {e}"))
    }

    /// The heads' pass: per-task loss values, the task-specific parameters' gradient (of the
    /// summed loss), each task's activation gradient at the trunk output, and the trunk graph.
    /// A trunk output that a task's head does not use gets a zero activation gradient for
    /// that task (its gradient is exactly zero, not unknown).
    pub fn heads_pass_checked(
        &self,
        model: &AnyModel,
        batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> Result<HeadsPass, StepError> {
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
            let values = scalars(&losses)?;
            let total = losses
                .into_iter()
                .reduce(|a, b| a + b)
                .expect("at least one task");
            let mut grads = total.mul_scalar(self.loss_scale).backward();
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
                    values = scalars(&losses)?;
                }
                let mut grads = losses[t].clone().mul_scalar(self.loss_scale).backward();
                g.push(
                    leaf.iter()
                        .map(|x| {
                            x.grad_remove(&mut grads)
                                .unwrap_or_else(|| x.zeros_like().detach())
                        })
                        .collect(),
                );
                let gp_t = GradientsParams::from_grads(grads, model);
                add_into(&mut acc, gp_t, &self.all)?;
            }
            (values, g, acc)
        };
        Ok(HeadsPass {
            values,
            gp,
            act: act_grads,
            z,
            trunk_rng,
        })
    }

    /// Per task, the gradient of its loss w.r.t. every shared parameter: one surrogate
    /// backward per task (the first reuses the trunk graph of the pass, the others re-run
    /// the trunk with the same generator state).
    pub fn per_task_params(
        &self,
        model: &AnyModel,
        batch: &Batch,
        step: u64,
        pass: &HeadsPass,
    ) -> Vec<GradientsParams> {
        let n = pass.act.len();
        let mut per_task: Vec<GradientsParams> = Vec::with_capacity(n);
        for (t, g_t) in pass.act.iter().enumerate() {
            let z_t = if t == 0 {
                pass.z.clone()
            } else {
                let mut c = ForwardCtx {
                    training: true,
                    rng: pass.trunk_rng.clone(),
                    step,
                    // The trunk has no schedule; only the heads read the planned run.
                    planned_steps: 0,
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
        per_task
    }

    /// Per-task loss values, head gradients and per-task shared-parameter gradients.
    pub fn per_task_grads(
        &self,
        model: &AnyModel,
        batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> Result<(Vec<f32>, GradientsParams, Vec<GradientsParams>), StepError> {
        let pass = self.heads_pass_checked(model, batch, ctx)?;
        let per_task = self.per_task_params(model, batch, ctx.step, &pass);
        Ok((pass.values, pass.gp, per_task))
    }

    /// [`Self::per_task_grads`] for tests; panics where that returns an error.
    #[cfg(test)]
    pub fn per_task(
        &self,
        model: &AnyModel,
        batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> (Vec<f32>, GradientsParams, Vec<GradientsParams>) {
        self.per_task_grads(model, batch, ctx)
            .unwrap_or_else(|e| panic!("per-task gradients: {e}"))
    }

    /// One Gram matrix per shared parameter tensor (in [`Self::shared_params`] order):
    /// `K_p[i][j] = <G_i[p], G_j[p]>`, a missing gradient counting as zero (a tensor no task
    /// reaches has an all-zero Gram). One host read.
    pub fn gram_groups(
        &self,
        per_task: &[GradientsParams],
    ) -> Result<Vec<Vec<Vec<f64>>>, StepError> {
        let n = per_task.len();
        let mut blocks: Vec<Option<Tensor<1>>> = Vec::with_capacity(self.shared.len());
        for (id, rank) in &self.shared {
            let flats = per_task
                .iter()
                .map(|gp| at_rank(*rank, *id, &mut Flat(gp)))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(like) = flats.iter().flatten().next().cloned() else {
                blocks.push(None);
                continue;
            };
            let rows: Vec<Tensor<1>> = flats
                .into_iter()
                .map(|f| f.unwrap_or_else(|| like.zeros_like()))
                .collect();
            let m: Tensor<2> = Tensor::stack(rows, 0);
            blocks.push(Some(m.clone().matmul(m.transpose()).flatten::<1>(0, 1)));
        }
        let present: Vec<Tensor<1>> = blocks.iter().flatten().cloned().collect();
        if present.is_empty() {
            return Err(StepError::NoSharedGradient);
        }
        let v = read_vec(Tensor::cat(present, 0).into_data(), "the Gram matrices")?;
        let mut at = 0;
        Ok(blocks
            .iter()
            .map(|b| {
                if b.is_none() {
                    return vec![vec![0.0; n]; n];
                }
                let k = (0..n)
                    .map(|i| (0..n).map(|j| f64::from(v[at + i * n + j])).collect())
                    .collect();
                at += n * n;
                k
            })
            .collect())
    }

    /// The shared parameters (θ_s) with their tensor rank, in the order of the groups.
    pub fn shared_params(&self) -> &[(ParamId, usize)] {
        &self.shared
    }

    /// Gram matrix `K[i][j] = <G_i, G_j>` over all shared parameters. A parameter that some
    /// task's gradient lacks counts as zero for that task; one that no task's gradient has
    /// is left out (it does not move).
    pub fn gram_matrix(&self, per_task: &[GradientsParams]) -> Result<Vec<Vec<f64>>, StepError> {
        let n = per_task.len();
        let mut parts: Vec<Vec<Tensor<1>>> = vec![Vec::new(); n];
        for (id, rank) in &self.shared {
            let flats = per_task
                .iter()
                .map(|gp| at_rank(*rank, *id, &mut Flat(gp)))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(like) = flats.iter().flatten().next().cloned() else {
                continue;
            };
            for (row, flat) in parts.iter_mut().zip(flats) {
                row.push(flat.unwrap_or_else(|| like.zeros_like()));
            }
        }
        if parts.iter().any(Vec::is_empty) {
            return Err(StepError::NoSharedGradient);
        }
        let rows: Vec<Tensor<1>> = parts.into_iter().map(|p| Tensor::cat(p, 0)).collect();
        let m: Tensor<2> = Tensor::stack(rows, 0);
        let k = m.clone().matmul(m.transpose());
        let v = read_vec(k.into_data(), "the Gram matrix")?;
        Ok((0..n)
            .map(|i| (0..n).map(|j| v[i * n + j] as f64).collect())
            .collect())
    }

    /// [`Self::gram_matrix`] for tests; panics where that returns an error.
    #[cfg(test)]
    pub fn gram(&self, per_task: &[GradientsParams]) -> Vec<Vec<f64>> {
        self.gram_matrix(per_task)
            .unwrap_or_else(|e| panic!("Gram matrix: {e}"))
    }
}

/// Flattens one task's gradient of a parameter (`None`: the task has none).
struct Flat<'a>(&'a GradientsParams);

#[cfg(test)]
impl Flat<'_> {
    fn run_at(&mut self, rank: usize, id: ParamId) -> Tensor<1> {
        at_rank(rank, id, self).unwrap().expect("gradient present")
    }
}

impl RankOp for Flat<'_> {
    type Out = Option<Tensor<1>>;
    fn run<const D: usize>(&mut self, id: ParamId) -> Option<Tensor<1>> {
        self.0.get::<D>(id).map(|t| t.flatten::<1>(0, D - 1))
    }
}

/// Adds `Σ_t coeffs[t] G_t` of one shared parameter into the step's gradients.
struct Combine<'a> {
    gp: &'a mut GradientsParams,
    per_task: &'a [GradientsParams],
    coeffs: &'a [f64],
}

impl RankOp for Combine<'_> {
    type Out = ();
    fn run<const D: usize>(&mut self, id: ParamId) {
        combine_param::<D>(self.gp, self.per_task, self.coeffs, id);
    }
}

/// The combined activation gradient of an embedding-only trunk, with each field's columns
/// weighted by its own group's coefficients (`coeffs[p][t]`: tables in order, then the
/// numeric projection's weight and bias; the numeric columns use the weight's).
fn embedding_combination(
    emb: &FieldEmbedding,
    act: &[Vec<Tensor<2>>],
    coeffs: &[Vec<f64>],
) -> Tensor<2> {
    let uniform = coeffs.windows(2).all(|w| w[0] == w[1]);
    if uniform {
        return act
            .iter()
            .zip(&coeffs[0])
            .map(|(g, c)| g[0].clone().mul_scalar(*c as f32))
            .reduce(|x, y| x + y)
            .expect("tasks");
    }
    let d = emb.dim;
    let n_fields = emb.n_fields();
    let device = act[0][0].device();
    act.iter()
        .enumerate()
        .map(|(t, g)| {
            let col: Vec<f32> = (0..n_fields)
                .flat_map(|f| std::iter::repeat_n(coeffs[f.min(coeffs.len() - 1)][t] as f32, d))
                .collect();
            let w = crate::model::blocks::tensor2(col, 1, n_fields * d, &device);
            g[0].clone() * w
        })
        .reduce(|x, y| x + y)
        .expect("tasks")
}

/// When the numeric projection's bias has its own coefficients (per-tensor strategies), its
/// gradient `Σ_t c_t Σ_b g_t[b, numeric block]` replaces the one the surrogate gave (which
/// used the weight's coefficients).
fn fix_numeric_bias(
    emb: &FieldEmbedding,
    act: &[Vec<Tensor<2>>],
    coeffs: &[Vec<f64>],
    gp: &mut GradientsParams,
) {
    let Some(bias) = emb.numeric.as_ref().and_then(|l| l.bias.as_ref()) else {
        return;
    };
    let nb = coeffs.len();
    if nb < 2 || coeffs[nb - 1] == coeffs[nb - 2] {
        return;
    }
    let d = emb.dim;
    let off = emb.tables.len() * d;
    let grad = act
        .iter()
        .zip(&coeffs[nb - 1])
        .map(|(g, c)| {
            let [b, _] = g[0].dims();
            g[0].clone()
                .slice([0..b, off..off + d])
                .sum_dim(0)
                .squeeze_dim::<1>(0)
                .mul_scalar(*c as f32)
        })
        .reduce(|x, y| x + y)
        .expect("tasks");
    let _ = gp.remove::<1>(bias.id);
    gp.register(bias.id, grad);
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

/// Adds one parameter's gradient from `new` into `acc`.
struct AddInto<'a> {
    acc: &'a mut GradientsParams,
    new: &'a GradientsParams,
}

impl RankOp for AddInto<'_> {
    type Out = ();
    fn run<const D: usize>(&mut self, id: ParamId) {
        if let Some(t) = self.new.get::<D>(id) {
            let merged = match self.acc.remove::<D>(id) {
                Some(e) => e + t,
                None => t,
            };
            self.acc.register(id, merged);
        }
    }
}

fn add_into(
    acc: &mut GradientsParams,
    new: GradientsParams,
    params: &[(ParamId, usize)],
) -> Result<(), StepError> {
    for (id, rank) in params {
        at_rank(*rank, *id, &mut AddInto { acc, new: &new })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rank;
    impl RankOp for Rank {
        type Out = usize;
        fn run<const D: usize>(&mut self, _id: ParamId) -> usize {
            D
        }
    }

    #[test]
    fn rank_dispatch_runs_ranks_one_to_three_and_errors_on_others() {
        let id = ParamId::new();
        for d in 1..=3 {
            assert_eq!(at_rank(d, id, &mut Rank), Ok(d));
        }
        let e = at_rank(4, id, &mut Rank).unwrap_err();
        assert_eq!(e, StepError::UnsupportedRank { rank: 4 });
        assert_eq!(
            e.to_string(),
            "a shared parameter has rank 4; per-task gradient strategies handle ranks 1 to 3 (use `grad: sum` for this model)"
        );
    }

    #[test]
    fn a_failed_device_read_is_an_error_not_zeros() {
        let data = burn::tensor::TensorData::new(vec![1i64, 2], [2]);
        let e = read_vec(data, "activation gradients").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read activation gradients from the device: "),
            "{e}"
        );
        let ok = burn::tensor::TensorData::new(vec![0.5f32, 2.0], [2]);
        assert_eq!(read_vec(ok, "x").unwrap(), vec![0.5, 2.0]);
    }
    use crate::data::TaskKind::{Binary, Regression};
    use crate::htlnet::HtlNetConfig;
    use crate::model::testutil::{batch, ctx, info};
    use crate::zoo::build_model;
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
                    stop_grad: crate::htlnet::StopGrad::None,
                    ..Default::default()
                })
                .unwrap(),
            ),
            (
                "htlnet",
                serde_yaml::to_value(HtlNetConfig {
                    stop_grad: crate::htlnet::StopGrad::Rep,
                    ..Default::default()
                })
                .unwrap(),
            ),
            ("shared_bottom", serde_yaml::Value::Null),
            ("mmoe", serde_yaml::Value::Null),
            ("ple", serde_yaml::Value::Null),
            ("ple", serde_yaml::from_str("{shared: embedding}").unwrap()),
            (
                "ple",
                serde_yaml::from_str("{shared: trunk, levels: 3, gate_bn: true}").unwrap(),
            ),
            ("mmoe", serde_yaml::from_str("{shared: embedding}").unwrap()),
            (
                "shared_bottom",
                serde_yaml::from_str("{shared: embedding}").unwrap(),
            ),
            ("mmoe", serde_yaml::from_str("{batch_norm: true}").unwrap()),
            ("adatt", serde_yaml::Value::Null),
            ("esmm", serde_yaml::Value::Null),
            ("aitm", serde_yaml::Value::Null),
            ("adatt", serde_yaml::from_str("{shared: trunk}").unwrap()),
            ("esmm", serde_yaml::from_str("{shared: trunk}").unwrap()),
            ("aitm", serde_yaml::from_str("{shared: trunk}").unwrap()),
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
            if let Some(emb) = model.embedding_trunk() {
                let mut c = ctx(0);
                c.training = false;
                let pass = stepper.heads_pass(&model, &b, &mut c);
                let sparse = sparse_gram(emb, &b, &pass.act).unwrap();
                // Per tensor too, when θ_s is the embedding alone.
                let groups = sparse_grams(emb, &b, &pass.act).unwrap();
                let dense = stepper.gram_groups(&reference).unwrap();
                if dense.len() == groups.len() {
                    for (p, (gs, gd)) in groups.iter().zip(&dense).enumerate() {
                        for i in 0..3 {
                            for j in 0..3 {
                                let (a, r) = (gs[i][j], gd[i][j]);
                                assert!(
                                    (a - r).abs() <= 1e-4 * r.abs().max(1e-8),
                                    "{name} group {p}: K[{i}][{j}] {a} vs {r}"
                                );
                            }
                        }
                    }
                }
                for i in 0..3 {
                    for j in 0..3 {
                        let (a, r) = (sparse[i][j], slow[i][j]);
                        assert!(
                            (a - r).abs() <= 1e-4 * r.abs().max(1e-8),
                            "{name} sparse: K[{i}][{j}] {a} vs {r}"
                        );
                    }
                }
            }
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

    /// `loss_reduction: mean` divides every task's gradient by T (Gram by T²); `with_l2` adds
    /// `wd · θ` to the named parameters' gradients only.
    #[test]
    fn mean_reduction_and_group_l2() {
        let dev = Device::flex().autodiff();
        let inf = info(&[Binary, Binary, Regression]);
        let model = build_model(
            "mmoe",
            &serde_yaml::Value::Null,
            &inf,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(4),
            &dev,
        )
        .unwrap();
        let b = batch(&inf, 16, 3, &dev);
        let mut c = ctx(0);
        c.training = false;
        let sum = Stepper::new(&model, 2);
        let (_, _, g_sum) = sum.per_task(&model, &b, &mut c);
        let mean = Stepper::new(&model, 2).with_mean_loss(true, 3);
        let mut c = ctx(0);
        c.training = false;
        let (_, _, g_mean) = mean.per_task(&model, &b, &mut c);
        let (ks, km) = (sum.gram(&g_sum), mean.gram(&g_mean));
        for i in 0..3 {
            for j in 0..3 {
                assert!((km[i][j] * 9.0 - ks[i][j]).abs() <= 1e-4 * ks[i][j].abs().max(1e-8));
            }
        }
        let groups = crate::model::MultiTaskModel::param_groups(&model);
        let emb = groups[0].1.clone();
        let first = emb[0];
        let l2 = Stepper::new(&model, 2).with_l2(0.5, emb);
        let mut gp = GradientsParams::new();
        l2.add_l2(&model, &mut gp);
        let AnyModel::Mmoe(m) = &model else {
            panic!("mmoe")
        };
        let table = m.embedding.tables[0].val().inner();
        let got = gp.get::<2>(first).expect("table decayed");
        let diff: f32 = (got - table.mul_scalar(0.5)).abs().max().into_scalar();
        assert!(diff < 1e-7);
        let expert_w = m.experts[0].layers[0].weight.id;
        assert!(
            gp.get::<2>(expert_w).is_none(),
            "experts are not in the group"
        );
    }

    /// `shared: trunk` on PLE puts every CGC level into θ_s: PCGrad then changes the experts'
    /// and gates' gradients, which with `shared: embedding` it leaves as the plain sum.
    #[test]
    fn shared_trunk_on_ple_changes_which_parameters_pcgrad_touches() {
        use crate::optim::PcGrad;
        let dev = Device::flex().autodiff();
        let inf = info(&[Binary, Binary, Regression]);
        let build = |shared: &str| {
            build_model(
                "ple",
                &serde_yaml::from_str(&format!("{{shared: {shared}}}")).unwrap(),
                &inf,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(4),
                &dev,
            )
            .unwrap()
        };
        let b = batch(&inf, 32, 9, &dev);
        let (trunk, emb) = (build("trunk"), build("embedding"));
        let st = Stepper::new(&trunk, 2);
        let se = Stepper::new(&emb, 2);
        let AnyModel::Ple(p) = &trunk else {
            panic!("ple")
        };
        let expert_w = p.levels[0].shared[0].layers[0].weight.id;
        let gate_w = p.levels[0].task_gates[1].linear.weight.id;
        let tower_w = p.towers[0].head.weight.id;
        let ids_t: Vec<ParamId> = st.shared.iter().map(|(id, _)| *id).collect();
        let ids_e: Vec<ParamId> = se.shared.iter().map(|(id, _)| *id).collect();
        assert!(ids_t.contains(&expert_w) && ids_t.contains(&gate_w));
        assert!(!ids_t.contains(&tower_w));
        let AnyModel::Ple(pe) = &emb else {
            panic!("ple")
        };
        let expert_e = pe.levels[0].shared[0].layers[0].weight.id;
        let gate_e = pe.levels[0].task_gates[1].linear.weight.id;
        assert!(!ids_e.contains(&expert_e) && !ids_e.contains(&gate_e));
        assert_eq!(ids_e, burn::module::list_param_ids(&pe.embedding));
        assert!(ids_e.len() < ids_t.len());
        // Per-task gradients of the first shared expert's weight; PCGrad's combination vs the
        // plain sum on the trunk.
        let mut c = ctx(0);
        c.training = false;
        let (_, _, per_task) = st.per_task(&trunk, &b, &mut c);
        let grams = st.gram_groups(&per_task).unwrap();
        let a = PcGrad { shuffle: false }
            .adjust_groups(&grams, &mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
        let coeffs = combined(&a[0]);
        assert!(
            coeffs.iter().any(|c| (c - 1.0).abs() > 1e-6),
            "the tasks conflict on the trunk: {coeffs:?}"
        );
        let k = crate::optim::sum_grams(&grams);
        assert!(k[0][1] < 0.0 || k[0][2] < 0.0 || k[1][2] < 0.0);
        // Embedding mode: the expert is task-specific, so a per-task step gives it the plain
        // summed gradient whatever the strategy does.
        let mut c = ctx(0);
        c.training = false;
        let pass = se.heads_pass(&emb, &b, &mut c);
        let AnyModel::Ple(pe) = &emb else {
            panic!("ple")
        };
        let expert_e = pe.levels[0].shared[0].layers[0].weight.id;
        assert!(
            pass.gp.get::<2>(expert_e).is_some(),
            "heads own the experts"
        );
    }

    /// `shared: trunk` on AdaTT and AITM: θ_s grows by exactly the tensors the rule names
    /// (counted by hand below), and one PCGrad step moves such a tensor differently from the
    /// plain sum; with `shared: embedding` the same tensor is task-specific and gets exactly
    /// the plain summed gradient whatever the strategy does.
    #[test]
    fn shared_trunk_on_adatt_and_aitm_changes_which_parameters_pcgrad_touches() {
        use crate::optim::PcGrad;
        let dev = Device::flex().autodiff();
        let inf = info(&[Binary, Binary, Regression]);
        let b = batch(&inf, 32, 9, &dev);
        type Probe = fn(&AnyModel) -> (ParamId, Tensor<2>);
        let cases: [(&str, &str, usize, Probe); 2] = [
            // Two levels of 3 task experts + 1 shared expert (one layer of 128: weight, bias)
            // = 16 tensors; level 1's 4 gates (3 tasks + the shared module) = 8; groups of
            // one expert, so no native weights: 24. Probe: level 1's shared expert.
            (
                "adatt",
                "{levels: 2, task_experts: 1, shared_experts: 1}",
                24,
                |m| {
                    let AnyModel::Adatt(a) = m else {
                        panic!("adatt")
                    };
                    let w = &a.levels[0].groups[3][0].layers[0].weight;
                    (w.id, w.val())
                },
            ),
            // m = 2: towers 0, 1 (one layer: 4), transfer 1 (2), the shared attention (3),
            // head 0, read by task 2's calibrator term (2): 11. Probe: task 1's tower.
            ("aitm", "{tower: [8]}", 11, |m| {
                let AnyModel::Aitm(a) = m else { panic!("aitm") };
                let w = &a.towers[0].layers[0].weight;
                (w.id, w.val())
            }),
        ];
        for (name, opts, extra, probe) in cases {
            let build = |shared: &str| {
                let mut o: serde_yaml::Mapping = serde_yaml::from_str(opts).unwrap();
                o.insert("shared".into(), shared.into());
                build_model(
                    name,
                    &serde_yaml::Value::Mapping(o),
                    &inf,
                    &mut rand_chacha::ChaCha8Rng::seed_from_u64(4),
                    &dev,
                )
                .unwrap()
            };
            let (st, se) = (
                Stepper::new(&build("trunk"), 2),
                Stepper::new(&build("embedding"), 2),
            );
            assert_eq!(
                se.shared.len(),
                5,
                "{name}: embedding mode is the embedding"
            );
            assert_eq!(st.shared.len(), 5 + extra, "{name}: θ_s under trunk");
            // One SGD step (lr 1, so the update is the gradient) with the plain sum and with
            // PCGrad, from the same model; the probe's update compared.
            let moved = |shared: &str, pcgrad: bool| -> Vec<f32> {
                let model = build(shared);
                let mut stepper = Stepper::new(&model, 2);
                assert_eq!(
                    stepper.shared.iter().any(|(id, _)| *id == probe(&model).0),
                    shared == "trunk",
                    "{name}: the probe is in θ_s under trunk only"
                );
                let mut optim = burn::optim::SgdConfig::new().init();
                let mut strategy = PcGrad { shuffle: false };
                let strategy = pcgrad.then_some(&mut strategy as &mut dyn GradientStrategy);
                let mut c = ctx(0);
                c.training = false;
                let (after, _, _) = stepper
                    .step(model, &b, &mut c, strategy, &mut optim, 1.0, false)
                    .unwrap();
                probe(&after).1.into_data().try_into_vec::<f32>().unwrap()
            };
            let gap = |shared: &str| -> f32 {
                let (sum, pc) = (moved(shared, false), moved(shared, true));
                sum.iter()
                    .zip(&pc)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max)
            };
            let (g_trunk, g_emb) = (gap("trunk"), gap("embedding"));
            assert!(
                g_trunk > 1e-6,
                "{name}: PCGrad changes the trunk tensor ({g_trunk})"
            );
            assert!(
                g_emb < 1e-7,
                "{name}: PCGrad leaves the task-specific tensor ({g_emb})"
            );
        }
    }

    /// The embedding-only path with a different combination per tensor (per-tensor
    /// MetaBalance): each table gets `Σ_t c[p][t] G_t[p]` with its own coefficients, and so do
    /// the numeric projection's weight and bias — equal to combining separately computed
    /// per-task gradients.
    #[test]
    fn per_tensor_combination_through_the_embedding_is_exact() {
        let dev = Device::flex().autodiff();
        let inf = info(&[Binary, Binary, Regression]);
        let model = build_model(
            "esmm",
            &serde_yaml::Value::Null,
            &inf,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(5),
            &dev,
        )
        .unwrap();
        let b = batch(&inf, 32, 2, &dev);
        let st = Stepper::new(&model, 2);
        let emb = model.embedding_trunk().expect("embedding trunk");
        let mut c = ctx(0);
        c.training = false;
        let pass = st.heads_pass(&model, &b, &mut c);
        let groups = sparse_grams(emb, &b, &pass.act).unwrap();
        assert_eq!(
            groups.len(),
            st.shared.len(),
            "3 tables + numeric weight + bias"
        );
        let coeffs: Vec<Vec<f64>> = (0..groups.len())
            .map(|p| {
                (0..3)
                    .map(|t| 0.5 + 0.25 * p as f64 - 0.2 * t as f64)
                    .collect()
            })
            .collect();
        let comb = embedding_combination(emb, &pass.act, &coeffs);
        let mut grads = (pass.z[0].clone() * comb.autodiff()).sum().backward();
        let ids: Vec<ParamId> = st.shared.iter().map(|(id, _)| *id).collect();
        let mut got = GradientsParams::from_params(&mut grads, &model, &ids);
        fix_numeric_bias(emb, &pass.act, &coeffs, &mut got);
        let mut c = ctx(0);
        c.training = false;
        let (_, _, per_task) = st.per_task(&model, &b, &mut c);
        for (p, (id, rank)) in st.shared.iter().enumerate() {
            let mut want = GradientsParams::new();
            let mut op = Combine {
                gp: &mut want,
                per_task: &per_task,
                coeffs: &coeffs[p],
            };
            at_rank(*rank, *id, &mut op).unwrap();
            let (g, w) = (
                Flat(&got).run_at(*rank, *id),
                Flat(&want).run_at(*rank, *id),
            );
            let diff: f32 = (g.clone() - w.clone()).abs().max().into_scalar();
            let scale: f32 = w.abs().max().into_scalar();
            assert!(
                diff <= 1e-4 * scale.max(1e-6),
                "tensor {p}: {diff} vs {scale}"
            );
        }
    }
}

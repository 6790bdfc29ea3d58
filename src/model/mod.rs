//! The model seam: the [`MultiTaskModel`] trait, the batch and output types, shared blocks,
//! the [`ModelDef`] trait every model folder implements (its typed options, validation, build
//! and presets) and the reference libraries. The one list of models is the zoo
//! (`crate::zoo`); this room imports no model.
//!
//! A model is split in two parts so that gradient strategies can see per-task gradients of
//! the shared parameters with a single forward (burn has no `retain_graph`):
//!
//! * [`MultiTaskModel::shared`] — the trunk that holds the shared parameters θ_s (the
//!   embedding layer, plus e.g. a shared-bottom MLP or MMoE's experts). It returns a list of
//!   activations `z` (`[batch, width]` each).
//! * [`MultiTaskModel::heads`] — everything task-specific. It receives one copy of `z` per
//!   task; task t's path must read only `inputs[t]`. When [`MultiTaskModel::separable`] is
//!   true, task t's loss reaches only `inputs[t]` and the trainer gets every per-task
//!   activation gradient from one backward pass over leaf copies.

pub mod blocks;
pub mod def;
pub mod fusion;
pub mod presets;

pub use def::{
    check_at_least, check_dropout, check_enum, check_range, check_widths, ModelDef, ModelError,
    ModelOptions, OptionError, RangeKind,
};

use burn::module::ParamId;
use burn::tensor::{Device, Int, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::data::TaskChain;

/// One mini-batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// One `[batch]` index tensor per categorical field.
    pub cat: Vec<Tensor<1, Int>>,
    /// Numeric features `[batch, n_numeric]`, if any.
    pub num: Option<Tensor<2>>,
    /// One `[batch]` label tensor per task: 0/1 for binary tasks, the *transformed* core
    /// target for the regression task.
    pub labels: Vec<Tensor<1>>,
    /// Rows in the batch.
    pub size: usize,
    /// Host copy of the categorical indices, `[field][row]` (for sparse gradient statistics).
    pub cat_host: Vec<Vec<u32>>,
    /// Host copy of the numeric features, row-major `[row * n_numeric + j]`.
    pub num_host: Vec<f32>,
}

/// Per-forward state: training flag, the cell's random generator (dropout, Gumbel noise),
/// the optimisation step (temperature schedules) and recorded intermediates.
#[derive(Debug)]
pub struct ForwardCtx {
    /// Training (noise, dropout) or evaluation.
    pub training: bool,
    /// The cell's generator.
    pub rng: ChaCha8Rng,
    /// Optimisation steps taken so far.
    pub step: u64,
    /// Optimisation steps the run plans (epochs × batches per epoch; 0 = unknown). Schedules
    /// that must finish within the run (HTLNet's temperature) read it.
    pub planned_steps: u64,
    /// Whether models should record named intermediates in [`ModelOutput::aux`].
    pub record: bool,
}

/// What a head predicts for one task.
#[derive(Debug, Clone)]
pub enum Pred {
    /// A binary task's logit `[batch]`.
    Logit(Tensor<1>),
    /// A binary task's probability `[batch]` (e.g. ESMM's product of probabilities).
    Prob(Tensor<1>),
    /// The core task's value on the transformed scale `[batch]` (`core_loss: mse`).
    Value(Tensor<1>),
    /// The core task's ZILN head output `[batch, 3]`: `z_p, z_μ, z_σ` on the raw scale
    /// (`core_loss: ziln`; loss and expectation in `crate::train::ziln`).
    Ziln(Tensor<2>),
}

impl Pred {
    /// The `[batch]` tensor of a one-output prediction; `None` for a ZILN head.
    pub fn tensor(&self) -> Option<&Tensor<1>> {
        match self {
            Pred::Logit(t) | Pred::Prob(t) | Pred::Value(t) => Some(t),
            Pred::Ziln(_) => None,
        }
    }
}

/// A forward's result.
#[derive(Debug, Clone)]
pub struct ModelOutput {
    /// One prediction per task, in chain order.
    pub preds: Vec<Pred>,
    /// The model's own loss terms (AITM's calibrator, …) as `(task index it is charged to,
    /// scalar [1])`.
    pub extra_losses: Vec<(usize, Tensor<1>)>,
    /// Named intermediates recorded when `ForwardCtx::record` (e.g. IFU attention weights).
    pub aux: Vec<(String, Tensor<2>)>,
}

/// What a constructor knows about the data.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Vocabulary size per categorical field (index 0 = unseen).
    pub vocabs: Vec<usize>,
    /// Numeric feature count.
    pub n_numeric: usize,
    /// The task chain.
    pub tasks: TaskChain,
    /// Initial output bias per task: logit of the training positive rate, or the transformed
    /// core target's training mean (SPEC §7).
    pub init_bias: Vec<f32>,
    /// The core task's head: `mse` (one output, bias from `init_bias`) or `ziln` (three
    /// outputs and their biases); see [`blocks::Head`].
    pub core_head: blocks::CoreHead,
}

/// The common interface of every model.
pub trait MultiTaskModel {
    /// The shared trunk: activations that depend on the shared parameters θ_s.
    ///
    /// The trainer may call it again with a copy of the same generator state (to push a
    /// per-task gradient through it), so any noise must come from `ctx.rng`.
    ///
    /// # Shapes
    /// each returned activation is `[batch, width]`. A model may also return a shared
    /// parameter's value (AITM's `shared: trunk` passes its shared attention matrices
    /// `[K, K]`), so that a head applies it to its own copy and each task's gradient reaches
    /// it through that copy.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>>;

    /// Task-specific part. `inputs[t]` is task t's copy of the trunk output.
    fn heads(&self, inputs: &[Vec<Tensor<2>>], batch: &Batch, ctx: &mut ForwardCtx) -> ModelOutput;

    /// True when task t's loss depends on the trunk only through `inputs[t]`.
    fn separable(&self) -> bool;

    /// Ids of the shared parameters θ_s (everything [`Self::shared`] reads).
    ///
    /// Default: the parameters of [`Self::embedding_trunk`] (none when there is none);
    /// models whose trunk holds more (a shared bottom, experts) list them all.
    fn shared_param_ids(&self) -> Vec<ParamId> {
        self.embedding_trunk()
            .map(burn::module::list_param_ids)
            .unwrap_or_default()
    }

    /// Named parameter groups that `train.weight_decay_on` can name (`embedding`, and
    /// `attention` where the model has one). Default: the embedding of an embedding-only
    /// trunk.
    fn param_groups(&self) -> Vec<(&'static str, Vec<ParamId>)> {
        self.embedding_trunk()
            .map(|e| vec![("embedding", burn::module::list_param_ids(e))])
            .unwrap_or_default()
    }

    /// Plain forward: the same trunk output for every task.
    fn forward(&self, batch: &Batch, ctx: &mut ForwardCtx) -> ModelOutput {
        let z = self.shared(batch, ctx);
        let n = self.n_tasks();
        let inputs = vec![z; n];
        self.heads(&inputs, batch, ctx)
    }

    /// Number of tasks.
    fn n_tasks(&self) -> usize;

    /// The field embedding when the trunk is exactly `[embedding.forward(batch)]` (HTLNet,
    /// MMoE-free designs). Per-task strategies then compute the Gram matrix of the table
    /// gradients on the rows the batch touched, on the host, and need a single backward
    /// through the trunk instead of one per task.
    fn embedding_trunk(&self) -> Option<&blocks::FieldEmbedding> {
        None
    }

    /// The sampling temperature the model uses at `ctx` (its step and planned run), for
    /// models that have one (HTLNet's LEU); `None` otherwise. Written per epoch to
    /// `curves.csv`.
    fn temperature(&self, _ctx: &ForwardCtx) -> Option<f64> {
        None
    }
}

/// Device helpers shared by models.
pub fn device_of(batch: &Batch) -> Device {
    batch.labels[0].device()
}

/// Parses the first Markdown table whose header starts `| key | default |` into
/// `(key, default)` pairs — used by tests that keep model READMEs equal to the code.
pub fn readme_defaults_table(markdown: &str) -> Option<Vec<(String, String)>> {
    let mut lines = markdown
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("| key | default |"));
    lines.next()?;
    lines.next()?; // separator
    let rows = lines
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            (
                cells[0].to_string(),
                cells.get(1).copied().unwrap_or("").to_string(),
            )
        })
        .collect();
    Some(rows)
}

/// Small fixtures for model tests: a task chain, build info and a random batch.
#[cfg(test)]
pub mod testutil {
    use super::*;
    use crate::data::{Task, TaskKind};
    use crate::model::blocks::{int1, tensor1, tensor2};
    use rand::{Rng, SeedableRng};

    /// A chain from kinds: binary tasks are named `b1..`, the regression task `core`.
    pub fn chain(kinds: &[TaskKind]) -> TaskChain {
        let tasks = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| Task {
                name: if *k == TaskKind::Binary {
                    format!("b{}", i + 1)
                } else {
                    "core".into()
                },
                kind: *k,
            })
            .collect();
        TaskChain::new(tasks).expect("valid chain")
    }

    /// Three categorical fields (vocab 11, 7, 5), two numeric features.
    pub fn info(kinds: &[TaskKind]) -> BuildInfo {
        BuildInfo {
            vocabs: vec![11, 7, 5],
            n_numeric: 2,
            tasks: chain(kinds),
            init_bias: vec![0.0; kinds.len()],
            core_head: blocks::CoreHead::Mse,
        }
    }

    /// A random batch for `info` (labels: binary 0/1 funnel, core ≥ 0 standardised-ish).
    pub fn batch(info: &BuildInfo, b: usize, seed: u64, device: &Device) -> Batch {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let cat_host: Vec<Vec<u32>> = info
            .vocabs
            .iter()
            .map(|&v| (0..b).map(|_| rng.random_range(0..v as u32)).collect())
            .collect();
        let cat = cat_host
            .iter()
            .map(|c| int1(c.iter().map(|&x| x as i64).collect(), device))
            .collect();
        let num_host: Vec<f32> = (0..b * info.n_numeric)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        let num = Some(tensor2(num_host.clone(), b, info.n_numeric, device));
        let labels = info
            .tasks
            .tasks()
            .iter()
            .map(|t| match t.kind {
                TaskKind::Binary => tensor1(
                    (0..b).map(|_| f32::from(rng.random::<bool>())).collect(),
                    device,
                ),
                TaskKind::Regression => tensor1(
                    (0..b).map(|_| rng.random::<f32>() * 2.0 - 0.5).collect(),
                    device,
                ),
            })
            .collect();
        Batch {
            cat,
            num,
            labels,
            size: b,
            cat_host,
            num_host,
        }
    }

    /// A training context.
    pub fn ctx(seed: u64) -> ForwardCtx {
        ForwardCtx {
            training: true,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            step: 0,
            planned_steps: 0,
            record: true,
        }
    }
}

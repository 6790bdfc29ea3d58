//! MMoE (Ma, Zhao, Yi, Chen, Hong, Chi: "Modeling Task Relationships in Multi-task Learning
//! with Multi-gate Mixture-of-Experts", KDD 2018). See `README.md` beside this file.

use burn::module::{list_param_ids, Module, ParamId};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{binary_flags, check_at_least, check_widths, mix, run_experts, Gate};
use crate::model::blocks::{task_towers, Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError,
};

/// Options of `model: mmoe` (YAML keys are the field names). Kept equal to `defaults.yaml` and
/// the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MmoeConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Number of experts n.
    pub n_experts: usize,
    /// Hidden widths of each expert MLP.
    pub expert: Vec<usize>,
    /// Hidden widths of each task tower.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer (experts and towers).
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
    /// Shared parameters θ_s that per-task gradient strategies act on: `embedding` or
    /// `trunk` (every parameter used by more than one task; see baselines/README.md).
    pub shared: String,
    /// Batch-norm between a gate's linear map and its softmax (torch-rechub); the paper has
    /// none.
    pub gate_bn: bool,
}

impl Default for MmoeConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            n_experts: 4,
            expert: vec![256, 128],
            tower: vec![64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "trunk".into(),
            gate_bn: false,
        }
    }
}

impl ModelOptions for MmoeConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_at_least("n_experts", self.n_experts, 1)?;
        check_widths("expert", &self.expert, false)?;
        check_widths("tower", &self.tower, true)?;
        crate::model::check_enum("shared", &self.shared, &["embedding", "trunk"])?;
        self.dropout.check()
    }
}

/// `model: mmoe` in the zoo.
pub struct MmoeModel;

impl ModelDef for MmoeModel {
    const NAME: &'static str = "mmoe";
    const SUMMARY: &'static str =
        "MMoE (KDD 2018): shared experts, one softmax gate per task, towers";
    const FOLDER: &'static str = "baselines/mmoe";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding + every expert (`shared: trunk`, default, = torch-rechub's shared_layers; gates are per task); `shared: embedding`: the field embedding";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = MmoeConfig;
    type Net = Mmoe;

    fn build(
        options: &MmoeConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Mmoe, ModelError> {
        Ok(Mmoe::new(options, info, rng, device))
    }
}

/// The MMoE network.
#[derive(Module, Debug)]
pub struct Mmoe {
    /// θ_s, part 1: the field embeddings.
    pub embedding: FieldEmbedding,
    /// θ_s, part 2: the experts.
    pub experts: Vec<Mlp>,
    /// One gate per task over the experts (task-specific).
    pub gates: Vec<Gate>,
    /// One tower per task.
    pub towers: Vec<Tower>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
    /// `shared: trunk`: the experts are part of the trunk (θ_s); otherwise each task runs
    /// them on its own copy of the embedding.
    pub trunk: bool,
}

impl Mmoe {
    /// Builds the network for the task chain in `info`.
    pub fn new(cfg: &MmoeConfig, info: &BuildInfo, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let d_e = embedding.out_dim();
        let experts: Vec<Mlp> = (0..cfg.n_experts)
            .map(|_| {
                Mlp::new(
                    d_e,
                    &cfg.expert,
                    MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                    rng,
                    device,
                )
            })
            .collect();
        let d_x = experts[0].out_dim(d_e);
        let n = info.init_bias.len();
        let gates = (0..n)
            .map(|_| Gate::new(d_e, cfg.n_experts, cfg.gate_bn, rng, device))
            .collect();
        let towers = task_towers(
            info,
            d_x,
            &cfg.tower,
            &MlpSpec::new(&cfg.dropout, cfg.batch_norm),
            rng,
            device,
        );
        Self {
            embedding,
            experts,
            gates,
            towers,
            binary: binary_flags(info),
            trunk: cfg.shared == "trunk",
        }
    }
}

impl MultiTaskModel for Mmoe {
    /// `z = [e, expert_1(e), …, expert_n(e)]`: `e` is `[batch, fields * embed_dim]`, each
    /// expert output `[batch, expert[last]]`. The experts are shared parameters, so a per-task
    /// strategy sees each task's gradient on them.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        let mut z = Vec::with_capacity(1 + self.experts.len());
        z.push(e.clone());
        if !self.trunk {
            return z;
        }
        for ex in &self.experts {
            z.push(ex.forward(e.clone(), ctx));
        }
        z
    }

    /// Task t: `g_t = softmax(W_t e_t)` on its own copy of `e`, `f_t = Σ_j g_t[j] expert_j`
    /// (its own copies), `out_t = tower_t(f_t)`. Records `gate_<t>` `[batch, n_experts]`.
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let mut preds = Vec::with_capacity(self.towers.len());
        let mut aux = Vec::new();
        for (t, ((gate, tower), z)) in self.gates.iter().zip(&self.towers).zip(inputs).enumerate() {
            let g = gate.forward(z[0].clone());
            if ctx.record {
                aux.push((format!("gate_{t}"), g.clone()));
            }
            let f = if self.trunk {
                mix(g, &z[1..])
            } else {
                mix(g, &run_experts(&self.experts, &z[0], ctx))
            };
            preds.push(tower.predict(f, ctx, self.binary[t]));
        }
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux,
        }
    }

    /// Task t reads only `inputs[t]` (its copy of `e` and of every expert output).
    fn separable(&self) -> bool {
        true
    }

    fn shared_param_ids(&self) -> Vec<ParamId> {
        let mut ids = list_param_ids(&self.embedding);
        if self.trunk {
            for e in &self.experts {
                ids.extend(list_param_ids(e));
            }
        }
        ids
    }

    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        (!self.trunk).then_some(&self.embedding)
    }

    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        vec![("embedding", burn::module::list_param_ids(&self.embedding))]
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
}

#[cfg(test)]
mod tests;

//! PLE (Tang, Liu, Zhao, Gong: "Progressive Layered Extraction (PLE): A Novel Multi-Task
//! Learning (MTL) Model for Personalized Recommendations", RecSys 2020): stacked CGC levels.
//! See `README.md` beside this file.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{
    binary_flags, check_at_least, check_levels, check_widths, level_widths, mix, run_experts, Gate,
};
use crate::model::blocks::{task_towers, Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError,
};

/// Options of `model: ple` (YAML keys are the field names). Kept equal to `defaults.yaml` and
/// the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PleConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Number of stacked CGC levels.
    pub levels: usize,
    /// Shared experts per level.
    pub shared_experts: usize,
    /// Task-specific experts per task per level.
    pub specific_experts: usize,
    /// Expert MLP widths (see `expert_layout`).
    pub expert: Vec<usize>,
    /// `repeat`: every level's experts are the MLP `expert`; `split`: level l's experts are
    /// one layer of width `expert[l]` (MTReclib), `len(expert)` must equal `levels`.
    pub expert_layout: String,
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

impl Default for PleConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            levels: 2,
            shared_experts: 2,
            specific_experts: 2,
            expert: vec![128],
            expert_layout: "repeat".into(),
            tower: vec![64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "trunk".into(),
            gate_bn: false,
        }
    }
}

impl ModelOptions for PleConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_levels(self.levels, &self.expert, &self.expert_layout)?;
        if self.shared_experts + self.specific_experts == 0 {
            return Err(OptionError::Rule(
                "`shared_experts` and `specific_experts` are both 0: no experts; set either to at least 1"
                    .into(),
            ));
        }
        check_widths("tower", &self.tower, true)?;
        crate::model::check_enum("shared", &self.shared, &["embedding", "trunk"])?;
        self.dropout.check()
    }
}

/// One Customized Gate Control (CGC) level.
#[derive(Module, Debug)]
pub struct CgcLevel {
    /// `specific[t][k]`: task t's k-th expert.
    pub specific: Vec<Vec<Mlp>>,
    /// Shared experts.
    pub shared: Vec<Mlp>,
    /// Task gates over (own specific experts, then shared experts).
    pub task_gates: Vec<Gate>,
    /// Shared gate over (every task's specific experts in task order, then shared experts);
    /// absent on the last level, whose shared path feeds nothing.
    pub shared_gate: Option<Gate>,
}

/// `model: ple` in the zoo.
pub struct PleModel;

impl ModelDef for PleModel {
    const NAME: &'static str = "ple";
    const SUMMARY: &'static str =
        "PLE (RecSys 2020): stacked CGC levels of task-specific and shared experts with gates";
    const FOLDER: &'static str = "baselines/ple";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding + every CGC level (`shared: trunk`, default, = torch-rechub's shared_layers: every expert and gate below the towers); `shared: embedding`: the field embedding";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = PleConfig;
    type Net = Ple;

    fn build(
        options: &PleConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Ple, ModelError> {
        Ok(Ple::new(options, info, rng, device))
    }
}

/// The PLE network.
#[derive(Module, Debug)]
pub struct Ple {
    /// θ_s: the field embeddings.
    pub embedding: FieldEmbedding,
    /// CGC levels, bottom to top.
    pub levels: Vec<CgcLevel>,
    /// One tower per task on its last-level gate output.
    pub towers: Vec<Tower>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
    /// `shared: trunk`: every CGC level is part of the trunk (θ_s); otherwise the trunk is
    /// the embedding and the levels run in the heads.
    pub trunk: bool,
}

impl Ple {
    /// Builds the network (options already validated).
    pub fn new(cfg: &PleConfig, info: &BuildInfo, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let n = info.init_bias.len();
        let widths = level_widths(&cfg.expert, cfg.expert_layout == "split", cfg.levels);
        let (ms, mh) = (cfg.specific_experts, cfg.shared_experts);
        let mut d_in = embedding.out_dim();
        let mut levels = Vec::with_capacity(cfg.levels);
        for (l, w) in widths.iter().enumerate() {
            let last = l + 1 == widths.len();
            let expert = |rng: &mut ChaCha8Rng| {
                Mlp::new(
                    d_in,
                    w,
                    MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                    rng,
                    device,
                )
            };
            let specific = (0..n)
                .map(|_| (0..ms).map(|_| expert(rng)).collect())
                .collect();
            let shared = (0..mh).map(|_| expert(rng)).collect();
            let task_gates = (0..n)
                .map(|_| Gate::new(d_in, ms + mh, cfg.gate_bn, rng, device))
                .collect();
            let shared_gate =
                (!last).then(|| Gate::new(d_in, n * ms + mh, cfg.gate_bn, rng, device));
            levels.push(CgcLevel {
                specific,
                shared,
                task_gates,
                shared_gate,
            });
            d_in = *w.last().expect("validated: expert widths");
        }
        let towers = task_towers(
            info,
            d_in,
            &cfg.tower,
            &MlpSpec::new(&cfg.dropout, cfg.batch_norm),
            rng,
            device,
        );
        Self {
            embedding,
            levels,
            towers,
            binary: binary_flags(info),
            trunk: cfg.shared == "trunk",
        }
    }
}

impl Ple {
    /// The CGC levels. Level l: `S = shared experts(x_s)`, `E_t = task t's experts(x_t)`,
    /// `x_t ← mix(gate_t(x_t), [E_t, S])`, and below the top level
    /// `x_s ← mix(gate_s(x_s), [E_1, …, E_T, S])`. Returns the top level's `x_t` per task and,
    /// when recording, `(name, gate weights)`: `gate_<l>_<t>`, `gate_<l>_shared` (l from 1).
    fn cgc(
        &self,
        mut x: Vec<Tensor<2>>,
        mut xs: Tensor<2>,
        ctx: &mut ForwardCtx,
    ) -> (Vec<Tensor<2>>, Vec<(String, Tensor<2>)>) {
        let n = self.towers.len();
        let mut aux = Vec::new();
        for (l, level) in self.levels.iter().enumerate() {
            let shared_out = run_experts(&level.shared, &xs, ctx);
            let specific_out: Vec<Vec<Tensor<2>>> = (0..n)
                .map(|t| run_experts(&level.specific[t], &x[t], ctx))
                .collect();
            let mut next = Vec::with_capacity(n);
            for t in 0..n {
                let g = level.task_gates[t].forward(x[t].clone());
                if ctx.record {
                    aux.push((format!("gate_{}_{t}", l + 1), g.clone()));
                }
                let pool: Vec<Tensor<2>> =
                    specific_out[t].iter().chain(&shared_out).cloned().collect();
                next.push(mix(g, &pool));
            }
            if let Some(gate) = &level.shared_gate {
                let g = gate.forward(xs.clone());
                if ctx.record {
                    aux.push((format!("gate_{}_shared", l + 1), g.clone()));
                }
                let pool: Vec<Tensor<2>> = specific_out
                    .iter()
                    .flatten()
                    .chain(&shared_out)
                    .cloned()
                    .collect();
                xs = mix(g, &pool);
            }
            x = next;
        }
        (x, aux)
    }

    /// Names of the recorded gates in [`Self::cgc`] order.
    fn gate_names(&self) -> Vec<String> {
        let n = self.towers.len();
        let mut names = Vec::new();
        for (l, level) in self.levels.iter().enumerate() {
            names.extend((0..n).map(|t| format!("gate_{}_{t}", l + 1)));
            if level.shared_gate.is_some() {
                names.push(format!("gate_{}_shared", l + 1));
            }
        }
        names
    }
}

impl MultiTaskModel for Ple {
    /// `shared: embedding`: `z = [e]`, the concatenated field embeddings
    /// `[batch, fields * embed_dim]`. `shared: trunk`: `z = [x_1, …, x_T]`, every task's
    /// top-level CGC output, followed (when recording) by the gate weights.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        if !self.trunk {
            return vec![e];
        }
        let n = self.towers.len();
        let (mut x, aux) = self.cgc(vec![e.clone(); n], e, ctx);
        x.extend(aux.into_iter().map(|(_, g)| g));
        x
    }

    /// The CGC levels (embedding mode; level 1 starts from `x_t = inputs[t]`,
    /// `x_s = inputs[0]`), then task t's tower on `x_t` (trunk mode: `inputs[t][t]`). Records
    /// `gate_<l>_<t>` and `gate_<l>_shared` (l from 1).
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let (x, aux) = if self.trunk {
            let x: Vec<Tensor<2>> = (0..n).map(|t| inputs[t][t].clone()).collect();
            let aux = if ctx.record {
                self.gate_names()
                    .into_iter()
                    .zip(inputs[0].iter().skip(n).cloned())
                    .collect()
            } else {
                Vec::new()
            };
            (x, aux)
        } else {
            let x: Vec<Tensor<2>> = inputs.iter().map(|z| z[0].clone()).collect();
            self.cgc(x, inputs[0][0].clone(), ctx)
        };
        let preds = self
            .towers
            .iter()
            .zip(x)
            .zip(&self.binary)
            .map(|((tower, h), &bin)| tower.predict(h, ctx, bin))
            .collect();
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux,
        }
    }

    /// Trunk mode: task t reads only `inputs[t][t]`. Embedding mode: the shared path starts
    /// from `inputs[0]`, so not separable.
    fn separable(&self) -> bool {
        self.trunk
    }

    fn shared_param_ids(&self) -> Vec<burn::module::ParamId> {
        let mut ids = burn::module::list_param_ids(&self.embedding);
        if self.trunk {
            for l in &self.levels {
                ids.extend(burn::module::list_param_ids(l));
            }
        }
        ids
    }

    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        vec![("embedding", burn::module::list_param_ids(&self.embedding))]
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }

    /// Embedding mode: the trunk is exactly `[embedding.forward(batch)]`, so per-task
    /// strategies can take the Gram matrix on the embedding rows the batch touched.
    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        (!self.trunk).then_some(&self.embedding)
    }
}

#[cfg(test)]
mod tests;

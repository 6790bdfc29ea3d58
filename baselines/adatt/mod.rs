//! AdaTT (Li, Zhang, Gu, Zhang, Ren, Wang, Guo, Liu, Zhao, Xu, Lu: "AdaTT: Adaptive
//! Task-to-Task Fusion Network for Multitask Learning in Recommendations", KDD 2023).
//! See `README.md` beside this file.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{
    binary_flags, check_at_least, check_levels, check_widths, level_widths, mix, run_experts, Gate,
};
use crate::model::blocks::{task_towers, tensor1, Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::{
    check_enum, Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput,
    MultiTaskModel, OptionError,
};

/// Options of `model: adatt` (YAML keys are the field names). Kept equal to `defaults.yaml`
/// and the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdattConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Number of fusion levels.
    pub levels: usize,
    /// Experts per task per level.
    pub task_experts: usize,
    /// Shared experts per level (0 = AdaTT-sp, the paper's variant without shared experts).
    pub shared_experts: usize,
    /// Expert MLP widths (see `expert_layout`).
    pub expert: Vec<usize>,
    /// `repeat`: every level's experts are the MLP `expert`; `split`: level l's experts are
    /// one layer of width `expert[l]`, `len(expert)` must equal `levels`.
    pub expert_layout: String,
    /// Residual of each module's own ("native") experts added to the gated fusion.
    pub residual: bool,
    /// Hidden widths of each task tower.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer (experts and towers).
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
    /// Shared parameters θ_s that per-task gradient strategies act on: only `embedding` is
    /// implemented for this model (see baselines/README.md).
    pub shared: String,
}

impl Default for AdattConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            levels: 2,
            task_experts: 2,
            shared_experts: 0,
            expert: vec![128],
            expert_layout: "repeat".into(),
            residual: true,
            tower: vec![64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "embedding".into(),
        }
    }
}

impl ModelOptions for AdattConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_levels(self.levels, &self.expert, &self.expert_layout)?;
        check_at_least("task_experts", self.task_experts, 1)?;
        check_widths("tower", &self.tower, true)?;
        if self.shared != "embedding" {
            check_enum("shared", &self.shared, &["embedding", "trunk"])?;
            return Err(OptionError::Rule(format!(
                "`shared: {}` is not implemented for adatt; use `shared: embedding`",
                self.shared
            )));
        }
        self.dropout.check()
    }
}

/// One fusion level.
#[derive(Module, Debug)]
pub struct AdattLevel {
    /// `groups[i][k]`: expert k of group i; groups `0..T` belong to the tasks, group `T` (if
    /// any) holds the shared experts.
    pub groups: Vec<Vec<Mlp>>,
    /// One gate per active module (each task; the shared module below the top level), over
    /// every expert of the level in group order.
    pub gates: Vec<Gate>,
    /// Learned weights of each active module's own experts in the residual (empty when the
    /// residual is off or uses unit weights).
    pub native: Vec<Param<Tensor<1>>>,
}

/// `model: adatt` in the zoo.
pub struct AdattModel;

impl ModelDef for AdattModel {
    const NAME: &'static str = "adatt";
    const SUMMARY: &'static str = "AdaTT (KDD 2023): per-task expert groups fused task-to-task by gates, native-expert residual";
    const FOLDER: &'static str = "baselines/adatt";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding (`shared: embedding`; `trunk`, the shared expert module, is not implemented)";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = AdattConfig;
    type Net = Adatt;

    fn build(
        options: &AdattConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Adatt, ModelError> {
        Ok(Adatt::new(options, info, rng, device))
    }
}

/// The AdaTT network.
#[derive(Module, Debug)]
pub struct Adatt {
    /// θ_s: the field embeddings.
    pub embedding: FieldEmbedding,
    /// Fusion levels, bottom to top.
    pub levels: Vec<AdattLevel>,
    /// One tower per task on its top-level fusion.
    pub towers: Vec<Tower>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
    /// Residual: 0 off, 1 unit weights (every group has one expert), 2 learned weights.
    pub residual: usize,
}

impl Adatt {
    /// Builds the network (options already validated).
    pub fn new(cfg: &AdattConfig, info: &BuildInfo, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let n = info.init_bias.len();
        let mut sizes = vec![cfg.task_experts; n];
        if cfg.shared_experts > 0 {
            sizes.push(cfg.shared_experts);
        }
        let total: usize = sizes.iter().sum();
        // As in the official code: unit residual weights when every group has one expert,
        // learned weights (uniform ±sqrt(1/m)) otherwise.
        let residual = match (cfg.residual, sizes.iter().all(|&m| m == 1)) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        };
        let widths = level_widths(&cfg.expert, cfg.expert_layout == "split", cfg.levels);
        let mut d_in = embedding.out_dim();
        let mut levels = Vec::with_capacity(widths.len());
        for (l, w) in widths.iter().enumerate() {
            let top = l + 1 == widths.len();
            let groups = sizes
                .iter()
                .map(|&m| {
                    (0..m)
                        .map(|_| {
                            Mlp::new(
                                d_in,
                                w,
                                MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                                rng,
                                device,
                            )
                        })
                        .collect()
                })
                .collect();
            let active = if top { n } else { sizes.len() };
            let gates = (0..active)
                .map(|_| Gate::new(d_in, total, false, rng, device))
                .collect();
            let native = if residual == 2 {
                (0..active)
                    .map(|i| {
                        let bound = (1.0 / sizes[i] as f64).sqrt();
                        let v = (0..sizes[i])
                            .map(|_| rng.random_range(-bound..bound) as f32)
                            .collect();
                        Param::from_tensor(tensor1(v, device))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            levels.push(AdattLevel {
                groups,
                gates,
                native,
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
            residual,
        }
    }
}

impl MultiTaskModel for Adatt {
    /// `z = [e]`, the concatenated field embeddings `[batch, fields * embed_dim]`.
    fn shared(&self, batch: &Batch, _ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        vec![self.embedding.forward(&batch.cat, batch.num.as_ref())]
    }

    /// Level l, module i (task i, or the shared module): `E_i = experts of group i (x_i)`,
    /// `f_i = Σ_j softmax(W_i x_i)[j] E_j + Σ_k v_i[k] E_i[k]`, `x_i ← f_i`. Level 1 starts
    /// from `x_t = inputs[t]`, `x_shared = inputs[0]`. Records `gate_<l>_<t>` (l from 1) and
    /// `gate_<l>_shared`: the softmax part, before the residual.
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let mut x: Vec<Tensor<2>> = inputs.iter().map(|z| z[0].clone()).collect();
        let n_groups = self.levels[0].groups.len();
        if n_groups > n {
            x.push(inputs[0][0].clone());
        }
        let mut aux = Vec::new();
        for (l, level) in self.levels.iter().enumerate() {
            let outs: Vec<Vec<Tensor<2>>> = level
                .groups
                .iter()
                .zip(&x)
                .map(|(g, xi)| run_experts(g, xi, ctx))
                .collect();
            let all: Vec<Tensor<2>> = outs.iter().flatten().cloned().collect();
            let mut next = Vec::with_capacity(level.gates.len());
            for (i, gate) in level.gates.iter().enumerate() {
                let g = gate.forward(x[i].clone());
                if ctx.record {
                    let who = if i < n {
                        i.to_string()
                    } else {
                        "shared".into()
                    };
                    aux.push((format!("gate_{}_{who}", l + 1), g.clone()));
                }
                let mut f = mix(g, &all);
                match self.residual {
                    1 => {
                        for e in &outs[i] {
                            f = f + e.clone();
                        }
                    }
                    2 => {
                        let v = level.native[i].val();
                        let m = v.dims()[0];
                        let stacked: Tensor<3> = Tensor::stack(outs[i].clone(), 1);
                        let w = v.reshape([1, m, 1]);
                        f = f + (stacked * w).sum_dim(1).squeeze_dim::<2>(1);
                    }
                    _ => {}
                }
                next.push(f);
            }
            x = next;
        }
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

    /// Every task's fusion reads every other task's experts: not separable (the trainer runs
    /// the heads once per task, exact).
    fn separable(&self) -> bool {
        false
    }

    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        vec![("embedding", burn::module::list_param_ids(&self.embedding))]
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }

    /// The trunk is exactly `[embedding.forward(batch)]`: per-task strategies can take the
    /// Gram matrix on the embedding rows the batch touched.
    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        Some(&self.embedding)
    }
}

#[cfg(test)]
mod tests;

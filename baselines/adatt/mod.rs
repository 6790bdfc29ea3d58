//! AdaTT (Li, Zhang, Gu, Zhang, Ren, Wang, Guo, Liu, Zhao, Xu, Lu: "AdaTT: Adaptive
//! Task-to-Task Fusion Network for Multitask Learning in Recommendations", KDD 2023).
//! See `README.md` beside this file.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{
    binary_flags, check_at_least, check_levels, check_widths, level_widths, mix, mix_stacked,
    run_experts, Gate,
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
    /// Shared parameters θ_s that per-task gradient strategies act on: `embedding` or
    /// `trunk` (every parameter used by more than one task: every expert, and every gate and
    /// native weight below the top level; see baselines/README.md).
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
        check_enum("shared", &self.shared, &["embedding", "trunk"])?;
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
        "the field embedding (`shared: embedding`, default); `shared: trunk`: the field embedding + every expert of every level (the shared expert module included) + every gate and native-expert weight below the top level (the top level's gates and weights feed one task each)";
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
    /// `shared: trunk`: every level but the top level's gates and native weights runs in the
    /// trunk (θ_s); otherwise the trunk is the embedding and the levels run in the heads.
    pub trunk: bool,
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
            trunk: cfg.shared == "trunk",
        }
    }
}

impl Adatt {
    /// Module i's fusion on level `level`: `Σ_j g_i[j] E[j] + Σ_k v_i[k] E_i[k]` with
    /// `g_i = gate_i(x_i)`, `all` = every expert output of the level in group order and `own`
    /// = group i's. Returns the fusion and the gate weights.
    fn fuse(
        &self,
        level: &AdattLevel,
        i: usize,
        x_i: Tensor<2>,
        all: &[Tensor<2>],
        own: &[Tensor<2>],
    ) -> (Tensor<2>, Tensor<2>) {
        let g = level.gates[i].forward(x_i);
        // The stable build keeps the stacked form and with it the results AdaTT was stored with
        // (see `mix_stacked`); the default build, whose results differ in the last digits
        // anyway, takes the faster one.
        let mut f = if cfg!(feature = "flex-fast") {
            mix(g.clone(), all)
        } else {
            mix_stacked(g.clone(), all)
        };
        match self.residual {
            1 => {
                for e in own {
                    f = f + e.clone();
                }
            }
            2 => {
                let v = level.native[i].val();
                let m = v.dims()[0];
                let stacked: Tensor<3> = Tensor::stack(own.to_vec(), 1);
                let w = v.reshape([1, m, 1]);
                f = f + (stacked * w).sum_dim(1).squeeze_dim::<2>(1);
            }
            _ => {}
        }
        (f, g)
    }

    /// The name a gate of module i on level l (from 0) is recorded under.
    fn gate_name(&self, l: usize, i: usize) -> String {
        if i < self.towers.len() {
            format!("gate_{}_{i}", l + 1)
        } else {
            format!("gate_{}_shared", l + 1)
        }
    }

    /// Levels `levels` (a range of level indices) from module inputs `x` (tasks, then the
    /// shared module); returns the last level's module outputs and the recorded gates.
    fn run_levels(
        &self,
        levels: std::ops::Range<usize>,
        mut x: Vec<Tensor<2>>,
        ctx: &mut ForwardCtx,
    ) -> (Vec<Tensor<2>>, Vec<(String, Tensor<2>)>) {
        let mut aux = Vec::new();
        for l in levels {
            let level = &self.levels[l];
            let outs: Vec<Vec<Tensor<2>>> = level
                .groups
                .iter()
                .zip(&x)
                .map(|(g, xi)| run_experts(g, xi, ctx))
                .collect();
            let all: Vec<Tensor<2>> = outs.iter().flatten().cloned().collect();
            let mut next = Vec::with_capacity(level.gates.len());
            for (i, (xi, own)) in x.iter().zip(&outs).take(level.gates.len()).enumerate() {
                let (f, g) = self.fuse(level, i, xi.clone(), &all, own);
                if ctx.record {
                    aux.push((self.gate_name(l, i), g));
                }
                next.push(f);
            }
            x = next;
        }
        (x, aux)
    }

    /// Number of expert outputs on the top level (every group's).
    fn top_experts(&self) -> usize {
        self.levels
            .last()
            .map_or(0, |l| l.groups.iter().map(Vec::len).sum())
    }
}

impl MultiTaskModel for Adatt {
    /// `shared: embedding`: `z = [e]`, the concatenated field embeddings
    /// `[batch, fields * embed_dim]`. `shared: trunk`: every level below the top, then the
    /// top level's experts: `z = [E_1, …, E_M, x_1, …, x_T]` (the M top-level expert outputs in
    /// group order, then each task's input to its top-level gate), followed (when recording)
    /// by the lower levels' gate weights.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        if !self.trunk {
            return vec![e];
        }
        let top = self.levels.len() - 1;
        let (x, aux) = self.run_levels(0..top, vec![e; self.levels[0].groups.len()], ctx);
        let level = &self.levels[top];
        let mut z: Vec<Tensor<2>> = level
            .groups
            .iter()
            .zip(&x)
            .flat_map(|(g, xi)| run_experts(g, xi, ctx))
            .collect();
        z.extend(x.into_iter().take(self.towers.len()));
        z.extend(aux.into_iter().map(|(_, g)| g));
        z
    }

    /// Level l, module i (task i, or the shared module): `E_i = experts of group i (x_i)`,
    /// `f_i = Σ_j softmax(W_i x_i)[j] E_j + Σ_k v_i[k] E_i[k]`, `x_i ← f_i`. Embedding mode:
    /// every level runs here, level 1 starting from `x_t = inputs[t]`,
    /// `x_shared = inputs[0]`. Trunk mode: only task t's top-level gate, residual and tower,
    /// on `inputs[t]`. Records `gate_<l>_<t>` (l from 1) and `gate_<l>_shared`: the softmax
    /// part, before the residual.
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let (x, aux) = if self.trunk {
            let top = self.levels.len() - 1;
            let level = &self.levels[top];
            let m = self.top_experts();
            let mut aux: Vec<(String, Tensor<2>)> = Vec::new();
            if ctx.record {
                let names =
                    (0..top).flat_map(|l| (0..self.levels[l].gates.len()).map(move |i| (l, i)));
                aux = names
                    .map(|(l, i)| self.gate_name(l, i))
                    .zip(inputs[0].iter().skip(m + n).cloned())
                    .collect();
            }
            let mut x = Vec::with_capacity(n);
            for (t, z) in inputs.iter().enumerate().take(n) {
                let start: usize = level.groups[..t].iter().map(Vec::len).sum();
                let own = &z[start..start + level.groups[t].len()];
                let (f, g) = self.fuse(level, t, z[m + t].clone(), &z[..m], own);
                if ctx.record {
                    aux.push((self.gate_name(top, t), g));
                }
                x.push(f);
            }
            (x, aux)
        } else {
            let mut x: Vec<Tensor<2>> = inputs.iter().map(|z| z[0].clone()).collect();
            if self.levels[0].groups.len() > n {
                x.push(inputs[0][0].clone());
            }
            self.run_levels(0..self.levels.len(), x, ctx)
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

    /// Embedding mode: every task's fusion reads every other task's experts, so not
    /// separable (the trainer runs the heads once per task, exact). Trunk mode: task t reads
    /// only `inputs[t]`.
    fn separable(&self) -> bool {
        self.trunk
    }

    /// The embedding; trunk mode adds every level's experts and the gates and native-expert
    /// weights of every level below the top (each feeds every task through the next level's
    /// fusion). The top level's gates and native weights feed one task each and stay out.
    fn shared_param_ids(&self) -> Vec<burn::module::ParamId> {
        use burn::module::list_param_ids;
        let mut ids = list_param_ids(&self.embedding);
        if self.trunk {
            let top = self.levels.len() - 1;
            for (l, level) in self.levels.iter().enumerate() {
                ids.extend(list_param_ids(&level.groups));
                if l < top {
                    ids.extend(list_param_ids(&level.gates));
                    ids.extend(list_param_ids(&level.native));
                }
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

//! AITM (Xi, Chen, Yan, Zhuang, Xie, Zhao, Zhang, Liu: "Modeling the Sequential Dependence
//! among Audience Multi-step Conversions with Multi-task Learning in Targeted Display
//! Advertising", KDD 2021). See `README.md` beside this file.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{binary_flags, check_at_least, check_enum, check_widths};
use crate::model::blocks::{dropout, linear, Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::fusion::{attention_fuse, AttentionIfu, Ifu};
use crate::model::{
    check_range, Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput,
    MultiTaskModel, OptionError, Pred, RangeKind,
};

/// Options of `model: aitm` (YAML keys are the field names). Kept equal to `defaults.yaml` and
/// the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AitmConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Hidden widths of each task tower; the last width k is the width of q_t, p_t, z_t.
    pub tower: Vec<usize>,
    /// Hidden widths between the AIT output z_t and the 1-unit head (official code: none;
    /// MTReclib: [128, 64]).
    pub head: Vec<usize>,
    /// Dropout after every hidden layer (one value or one per layer) and, with
    /// `transfer: relu`, after the transfer layer (the tower's last layer's value; the official
    /// code drops out its info layer; MTReclib's linear transfer has no dropout).
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
    /// Shared parameters θ_s that per-task gradient strategies act on: `embedding` or
    /// `trunk` (every parameter whose output reaches more than one task's loss, read from the
    /// chain's dataflow; see the README beside this file).
    pub shared: String,
    /// Weight of the behavioural expectation calibrator (0 = off, as in MTReclib).
    pub alpha_cal: f64,
    /// AIT projections: `shared` by all tasks (both reference codes) or `per_task`.
    pub attention: String,
    /// Transfer layer g: `relu` (dense + ReLU, official code) or `linear` (MTReclib).
    pub transfer: String,
    /// Whether the core task joins the chain (receives p from the last binary task).
    pub core_transfer: bool,
}

impl Default for AitmConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            tower: vec![128, 64, 32],
            head: vec![],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "embedding".into(),
            alpha_cal: 0.6,
            attention: "shared".into(),
            transfer: "relu".into(),
            core_transfer: true,
        }
    }
}

impl ModelOptions for AitmConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_enum("attention", &self.attention, &["shared", "per_task"])?;
        check_enum("transfer", &self.transfer, &["relu", "linear"])?;
        check_widths("tower", &self.tower, false)?;
        check_widths("head", &self.head, true)?;
        check_enum("shared", &self.shared, &["embedding", "trunk"])?;
        self.dropout.check()?;
        check_range("alpha_cal", self.alpha_cal, RangeKind::NonNegative)
    }
}

/// The behavioural expectation calibrator over consecutive binary probabilities:
/// one term `alpha · mean_batch(max(p_t − p_{t−1}, 0))` per t ≥ 2, charged to task t. Their sum
/// is `alpha · mean(Σ_t max(p_t − p_{t−1}, 0))`.
///
/// # Shapes
/// `probs[t]: [batch]` → `(t, [1])` per term
pub fn calibrator(probs: &[Tensor<1>], alpha: f64) -> Vec<(usize, Tensor<1>)> {
    (1..probs.len())
        .map(|t| (t, calibrator_term(&probs[t], &probs[t - 1], alpha)))
        .collect()
}

/// One calibrator term: `alpha · mean_batch(max(p − p_prev, 0))`.
///
/// # Shapes
/// `p, p_prev: [batch]` → `[1]`
pub fn calibrator_term(p: &Tensor<1>, p_prev: &Tensor<1>, alpha: f64) -> Tensor<1> {
    relu(p.clone() - p_prev.clone()).mean().mul_scalar(alpha)
}

/// `model: aitm` in the zoo.
pub struct AitmModel;

impl ModelDef for AitmModel {
    const NAME: &'static str = "aitm";
    const SUMMARY: &'static str = "AITM (KDD 2021): adaptive information transfer down the chain with attention, calibrator alpha_cal";
    const FOLDER: &'static str = "baselines/aitm";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding (`shared: embedding`, default); `shared: trunk`: every parameter whose output reaches more than one task's loss: the field embedding + the towers, transfers and attention of every task whose fused output z_t is passed down the chain + the attention module whenever two linked tasks use it + the output head of every binary task whose probability the next task's calibrator term reads (alpha_cal > 0)";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = AitmConfig;
    type Net = Aitm;

    fn build(
        options: &AitmConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Aitm, ModelError> {
        Ok(Aitm::new(options, info, rng, device))
    }
}

/// The AITM network.
#[derive(Module, Debug)]
pub struct Aitm {
    /// θ_s: the field embeddings.
    pub embedding: FieldEmbedding,
    /// Task towers: `q_t = tower_t(e)`, `[batch, k]`.
    pub towers: Vec<Mlp>,
    /// Transfer layer g_t of each task that receives information (reads z_{t−1}).
    pub transfers: Vec<Option<Linear>>,
    /// AIT attention modules (one when shared).
    pub attention: Vec<Ifu>,
    /// Which attention module task t uses (`attention.len()` = none).
    pub attention_of: Vec<usize>,
    /// Output of each task on z_t: optional hidden layers, then one unit.
    pub outputs: Vec<Tower>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
    /// Calibrator weight.
    pub alpha_cal: f64,
    /// Transfer layer with ReLU.
    pub transfer_relu: bool,
    /// Dropout after the transfer layer (0 with a linear transfer, as MTReclib).
    pub dropout: f64,
    /// `shared: trunk`: the parameters whose output reaches more than one task's loss run in
    /// the trunk (θ_s); otherwise the trunk is the embedding and the chain runs in the heads.
    pub trunk: bool,
}

impl Aitm {
    /// Builds the network (options already validated).
    pub fn new(cfg: &AitmConfig, info: &BuildInfo, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let d_e = embedding.out_dim();
        let k = *cfg.tower.last().expect("validated: tower widths");
        let binary = binary_flags(info);
        let n = binary.len();
        let mut towers = Vec::with_capacity(n);
        let mut transfers = Vec::with_capacity(n);
        let mut attention: Vec<Ifu> = Vec::new();
        let mut attention_of = Vec::with_capacity(n);
        let mut outputs = Vec::with_capacity(n);
        for (t, &bin) in binary.iter().enumerate() {
            towers.push(Mlp::new(
                d_e,
                &cfg.tower,
                MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                rng,
                device,
            ));
            let linked = t > 0 && (bin || cfg.core_transfer);
            transfers.push(linked.then(|| linear(k, k, true, rng, device)));
            if linked {
                if attention.is_empty() || cfg.attention == "per_task" {
                    attention.push(Ifu::new("attention", 2, k, k, rng, device));
                }
                attention_of.push(attention.len() - 1);
            } else {
                attention_of.push(usize::MAX);
            }
            outputs.push(Tower::for_task(
                k,
                &cfg.head,
                MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                info,
                t,
                rng,
                device,
            ));
        }
        let none = attention.len();
        for a in &mut attention_of {
            *a = (*a).min(none);
        }
        Self {
            embedding,
            towers,
            transfers,
            attention,
            attention_of,
            outputs,
            binary,
            alpha_cal: cfg.alpha_cal,
            transfer_relu: cfg.transfer == "relu",
            dropout: if cfg.transfer == "relu" {
                cfg.dropout.at(cfg.tower.len() - 1)
            } else {
                0.0
            },
            trunk: cfg.shared == "trunk",
        }
    }
}

/// The AIT weights of a fusion (`ait_<t>`), when recording.
fn record(aux: &mut Vec<(String, Tensor<2>)>, ctx: &ForwardCtx, t: usize, w: Option<Tensor<2>>) {
    if let (true, Some(w)) = (ctx.record, w) {
        aux.push((format!("ait_{t}"), w));
    }
}

/// `shared: trunk`, read from the dataflow of the chain. With `m` the last task that receives
/// a transfer (0 when none does): `z_t` for `t < m` is passed down to task t + 1, so task t's
/// tower, transfer and per-task attention reach every later linked task's loss (θ_s) and run
/// in the trunk; task m's own parts reach task m only. A shared attention module used by two
/// or more linked tasks is in θ_s; task m applies it in the heads through the projection
/// matrices the trunk passes on (so each task's loss reaches them through its own copy).
/// With the calibrator on, binary task t + 1's term reads `p_t`, so the output head of every
/// binary task followed by a binary task is in θ_s and its output `out_t` comes from the trunk.
impl Aitm {
    /// The last task that receives a transfer (0 when none does).
    fn last_link(&self) -> usize {
        self.transfers
            .iter()
            .rposition(Option::is_some)
            .unwrap_or(0)
    }

    /// Whether task t's output head reaches task t + 1's loss through its calibrator term.
    fn head_shared(&self, t: usize) -> bool {
        self.alpha_cal > 0.0 && self.binary[t] && self.binary.get(t + 1) == Some(&true)
    }

    /// The attention module of the last link when an earlier link uses it too (shared
    /// attention, two or more links): in θ_s, applied by task m through the trunk's copy.
    fn trunk_attention(&self) -> Option<&AttentionIfu> {
        let m = self.last_link();
        let a = *self.attention_of.get(m)?;
        if m < 2 || !self.attention_of[1..m].contains(&a) {
            return None;
        }
        match self.attention.get(a)? {
            Ifu::Attention(att) => Some(att),
            Ifu::Concat(_) => None,
        }
    }

    /// `p_{t−1} = g_t(z_{t−1})` (ReLU with `transfer: relu`, dropout when training).
    fn transfer(&self, g: &Linear, zp: Tensor<2>, ctx: &mut ForwardCtx) -> Tensor<2> {
        let mut p = g.forward(zp);
        if self.transfer_relu {
            p = relu(p);
        }
        if ctx.training {
            p = dropout(p, self.dropout, &mut ctx.rng);
        }
        p
    }

    /// Trunk mode: the index in the trunk output of `out_t` (`[batch, 1]`) of a task whose
    /// head is shared.
    fn out_index(&self, t: usize) -> usize {
        1 + self.last_link() + (0..t).filter(|&u| self.head_shared(u)).count()
    }

    /// Trunk mode: the index of the first of the three attention matrices.
    fn weights_index(&self) -> usize {
        1 + self.last_link()
            + (0..self.binary.len())
                .filter(|&u| self.head_shared(u))
                .count()
    }

    /// Trunk mode, task t's loss terms from its own copy `z` of the trunk output: its
    /// prediction and, when it has one, its calibrator term.
    fn task_head(
        &self,
        t: usize,
        z: &[Tensor<2>],
        aux: &mut Vec<(String, Tensor<2>)>,
        ctx: &mut ForwardCtx,
    ) -> (Pred, Option<Tensor<1>>) {
        let m = self.last_link();
        let out = if self.head_shared(t) {
            z[self.out_index(t)].clone()
        } else {
            let zt = match &self.transfers[t] {
                _ if t < m => z[1 + t].clone(),
                Some(g) if t == m => {
                    let q = self.towers[t].forward(z[0].clone(), ctx);
                    let p = self.transfer(g, z[t].clone(), ctx);
                    let (f, w) = match self.trunk_attention() {
                        Some(att) => {
                            let i = self.weights_index();
                            let w = [z[i].clone(), z[i + 1].clone(), z[i + 2].clone()];
                            let (f, w) = attention_fuse(&[q, p], &w, att.k);
                            (f, Some(w))
                        }
                        None => self.attention[self.attention_of[t]].forward(&[q, p]),
                    };
                    record(aux, ctx, t, w);
                    f
                }
                _ => self.towers[t].forward(z[0].clone(), ctx),
            };
            self.outputs[t].forward_out(zt, ctx)
        };
        let pred = self.outputs[t].pred(out, self.binary[t]);
        // A calibrator term links two binary tasks, so task t's prediction is a logit here.
        let cal = match &pred {
            Pred::Logit(logit) if self.alpha_cal > 0.0 && t > 0 && self.head_shared(t - 1) => {
                let prev = sigmoid(z[self.out_index(t - 1)].clone().squeeze_dim(1));
                Some(calibrator_term(
                    &sigmoid(logit.clone()),
                    &prev,
                    self.alpha_cal,
                ))
            }
            _ => None,
        };
        (pred, cal)
    }
}

impl MultiTaskModel for Aitm {
    /// `shared: embedding`: `z = [e]`, the concatenated field embeddings
    /// `[batch, fields * embed_dim]`. `shared: trunk`: `z = [e, z_0, …, z_{m−1}]`, then
    /// `out_t` `[batch, 1]` of every task whose head is shared, then (shared attention used by
    /// two or more links) its matrices W1, W2, W3 `[K, K]`, then (when recording) `ait_<t>`
    /// for t < m.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        if !self.trunk {
            return vec![e];
        }
        let mut z = vec![e.clone()];
        let mut outs = Vec::new();
        let mut aux = Vec::new();
        let chain = self.towers.iter().zip(&self.transfers).enumerate();
        for (t, (tower, transfer)) in chain.take(self.last_link()) {
            let q = tower.forward(e.clone(), ctx);
            let zt = match (transfer, z.last()) {
                (Some(g), Some(zp)) if t > 0 => {
                    let p = self.transfer(g, zp.clone(), ctx);
                    let (f, w) = self.attention[self.attention_of[t]].forward(&[q, p]);
                    record(&mut aux, ctx, t, w);
                    f
                }
                _ => q,
            };
            if self.head_shared(t) {
                outs.push(self.outputs[t].forward(zt.clone(), ctx).unsqueeze_dim(1));
            }
            z.push(zt);
        }
        z.extend(outs);
        if let Some(att) = self.trunk_attention() {
            z.extend(att.weights());
        }
        z.extend(aux.into_iter().map(|(_, w)| w));
        z
    }

    /// `q_t = tower_t(e)`; task 1: `z_1 = q_1`; linked task t: `p_{t−1} = g_t(z_{t−1})`,
    /// `z_t = AIT({q_t, p_{t−1}})`; `out_t = head_t(z_t)`. Calibrator terms go to
    /// `extra_losses`. Records `ait_<t>` `[batch, 2]` (weights of q_t, p_{t−1}). Trunk mode:
    /// task t computes what the trunk has not, from `inputs[t]` only.
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let mut preds = Vec::with_capacity(n);
        let mut aux = Vec::new();
        if self.trunk {
            let m = self.last_link();
            if ctx.record {
                let names = (1..m).map(|t| format!("ait_{t}"));
                let tail = inputs[0].iter().skip(self.weights_index());
                let tail = tail.skip(if self.trunk_attention().is_some() {
                    3
                } else {
                    0
                });
                aux.extend(names.zip(tail.cloned()));
            }
            let mut extra_losses = Vec::new();
            for (t, z) in inputs.iter().enumerate().take(n) {
                let (pred, cal) = self.task_head(t, z, &mut aux, ctx);
                preds.push(pred);
                extra_losses.extend(cal.map(|c| (t, c)));
            }
            return ModelOutput {
                preds,
                extra_losses,
                aux,
            };
        }
        let mut probs = Vec::new();
        let mut prev: Option<Tensor<2>> = None;
        for (t, z_in) in inputs.iter().enumerate().take(n) {
            let q = self.towers[t].forward(z_in[0].clone(), ctx);
            let z = match (&self.transfers[t], &prev) {
                (Some(g), Some(zp)) => {
                    let p = self.transfer(g, zp.clone(), ctx);
                    let (f, w) = self.attention[self.attention_of[t]].forward(&[q, p]);
                    record(&mut aux, ctx, t, w);
                    f
                }
                _ => q,
            };
            let pred = self.outputs[t].predict(z.clone(), ctx, self.binary[t]);
            if let Pred::Logit(out) = &pred {
                probs.push(sigmoid(out.clone()));
            }
            preds.push(pred);
            prev = Some(z);
        }
        let extra_losses = if self.alpha_cal > 0.0 {
            calibrator(&probs, self.alpha_cal)
        } else {
            vec![]
        };
        ModelOutput {
            preds,
            extra_losses,
            aux,
        }
    }

    /// Embedding mode: a later task's loss reaches earlier towers through the transfer, so
    /// not separable. Trunk mode: task t reads only `inputs[t]`.
    fn separable(&self) -> bool {
        self.trunk
    }

    /// The embedding; trunk mode adds (the rule in the README): the towers, transfers and attention modules of tasks t < m, the shared attention used by two
    /// or more links, and the output heads the calibrator passes on.
    fn shared_param_ids(&self) -> Vec<burn::module::ParamId> {
        use burn::module::list_param_ids;
        let mut ids = list_param_ids(&self.embedding);
        if !self.trunk {
            return ids;
        }
        let m = self.last_link();
        let mut att: Vec<usize> = Vec::new();
        for (tower, transfer) in self.towers.iter().zip(&self.transfers).take(m) {
            ids.extend(list_param_ids(tower));
            ids.extend(list_param_ids(transfer));
        }
        for &a in self.attention_of.iter().take(m).skip(1) {
            if !att.contains(&a) {
                att.push(a);
            }
        }
        for a in att {
            ids.extend(list_param_ids(&self.attention[a]));
        }
        for (t, head) in self.outputs.iter().enumerate() {
            if self.head_shared(t) {
                ids.extend(list_param_ids(head));
            }
        }
        ids
    }

    /// `embedding` and `attention` (every AIT module), the official code's L2 groups.
    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        let mut att = Vec::new();
        for a in &self.attention {
            att.extend(burn::module::list_param_ids(a));
        }
        vec![
            ("embedding", burn::module::list_param_ids(&self.embedding)),
            ("attention", att),
        ]
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

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
use crate::model::fusion::Ifu;
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
    /// Shared parameters θ_s that per-task gradient strategies act on: only `embedding` is
    /// implemented for this model (see baselines/README.md).
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
        if self.shared != "embedding" {
            check_enum("shared", &self.shared, &["embedding", "trunk"])?;
            return Err(OptionError::Rule(format!(
                "`shared: {}` is not implemented for aitm; use `shared: embedding`",
                self.shared
            )));
        }
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
        .map(|t| {
            let gap = relu(probs[t].clone() - probs[t - 1].clone());
            (t, gap.mean().mul_scalar(alpha))
        })
        .collect()
}

/// `model: aitm` in the zoo.
pub struct AitmModel;

impl ModelDef for AitmModel {
    const NAME: &'static str = "aitm";
    const SUMMARY: &'static str = "AITM (KDD 2021): adaptive information transfer down the chain with attention, calibrator alpha_cal";
    const FOLDER: &'static str = "baselines/aitm";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding (`shared: embedding`; `trunk`, torch-rechub's embedding + bottoms, is not implemented)";
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
        }
    }
}

impl MultiTaskModel for Aitm {
    /// `z = [e]`, the concatenated field embeddings `[batch, fields * embed_dim]`.
    fn shared(&self, batch: &Batch, _ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        vec![self.embedding.forward(&batch.cat, batch.num.as_ref())]
    }

    /// `q_t = tower_t(e)`; task 1: `z_1 = q_1`; linked task t: `p_{t−1} = g_t(z_{t−1})`,
    /// `z_t = AIT({q_t, p_{t−1}})`; `out_t = head_t(z_t)`. Calibrator terms go to
    /// `extra_losses`. Records `ait_<t>` `[batch, 2]` (weights of q_t, p_{t−1}).
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let mut preds = Vec::with_capacity(n);
        let mut probs = Vec::new();
        let mut aux = Vec::new();
        let mut prev: Option<Tensor<2>> = None;
        for (t, z_in) in inputs.iter().enumerate().take(n) {
            let q = self.towers[t].forward(z_in[0].clone(), ctx);
            let z = match (&self.transfers[t], &prev) {
                (Some(g), Some(zp)) => {
                    let mut p = g.forward(zp.clone());
                    if self.transfer_relu {
                        p = relu(p);
                    }
                    if ctx.training {
                        p = dropout(p, self.dropout, &mut ctx.rng);
                    }
                    let (f, w) = self.attention[self.attention_of[t]].forward(&[q, p]);
                    if let (true, Some(w)) = (ctx.record, w) {
                        aux.push((format!("ait_{t}"), w));
                    }
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

    /// A later task's loss reaches earlier towers through the transfer: not separable.
    fn separable(&self) -> bool {
        false
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

    /// The trunk is exactly `[embedding.forward(batch)]`: per-task strategies can take the
    /// Gram matrix on the embedding rows the batch touched.
    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        Some(&self.embedding)
    }
}

#[cfg(test)]
mod tests;

//! HTLNet (Tang, Qiao, Lyu, Liu, He: "Touch the Core: Exploring Task Dependence Among Hybrid
//! Targets for Recommendation", RecSys 2024) — the network. Its gradient adjustment is the
//! `htl` strategy in [`crate::optim`]. See `README.md` beside this file for the equations,
//! every option and what the paper leaves unknown.

/// The Information Fusion Unit: the shared fusion block (also used by AITM).
pub use crate::model::fusion as ifu;
pub mod leu;
#[cfg(test)]
mod tests;

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::TaskKind;
use crate::model::blocks::{FieldEmbedding, Tower};
use crate::model::{
    check_at_least, check_dropout, check_enum, check_range, check_widths, Batch, BuildInfo,
    ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel, OptionError, Pred,
    RangeKind,
};
use ifu::Ifu;
use leu::{gumbel_noise, Leu, TauSchedule};

/// Options of `model: htlnet` (YAML keys are the field names). Kept equal to the README's
/// table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HtlNetConfig {
    /// `htlnet`, or `shared_bottom` (the paper's "w/o architecture": a shared-bottom network
    /// trained with HTLNet's adjustment).
    pub architecture: String,
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Hidden widths of each task tower.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer.
    pub dropout: f64,
    /// Which tower layer is `rep`: `first` or `last` hidden layer.
    pub rep_layer: String,
    /// Label Embedding Unit on binary tasks.
    pub leu: bool,
    /// Label embedding width d_l.
    pub label_dim: usize,
    /// Gumbel-softmax temperature: start.
    pub tau_start: f64,
    /// Temperature floor, reached after `tau_anneal` of the planned steps.
    pub tau_min: f64,
    /// Fraction of the planned steps (epochs × batches per epoch) over which the temperature
    /// anneals geometrically from `tau_start` to `tau_min`.
    pub tau_anneal: f64,
    /// Information Fusion Unit: `attention`, `concat` or `none` (no transfer between tasks).
    pub ifu: String,
    /// Whether the IFU receives the preceding towers' representations (`false` = "w/o rep").
    pub ifu_rep: bool,
    /// IFU output width k.
    pub ifu_dim: usize,
    /// What is detached where it leaves task j: `true` = rep_j, le_j and p_j (the paper),
    /// `false` = nothing (relaxed Gumbel-softmax, differentiable w.r.t. task j's logit),
    /// `rep` = rep_j and p_j only (le_j stays attached, so later losses train task j's
    /// label table).
    pub stop_grad: StopGrad,
    /// Shared-bottom MLP widths (only with `architecture: shared_bottom`).
    pub bottom: Vec<usize>,
}

impl Default for HtlNetConfig {
    fn default() -> Self {
        Self {
            architecture: "htlnet".into(),
            embed_dim: 16,
            tower: vec![128, 64, 32],
            dropout: 0.0,
            rep_layer: "first".into(),
            leu: true,
            label_dim: 10,
            tau_start: 10.0,
            tau_min: 0.5,
            tau_anneal: 0.5,
            ifu: "attention".into(),
            ifu_rep: true,
            ifu_dim: 32,
            stop_grad: StopGrad::All,
            bottom: vec![256, 128],
        }
    }
}

impl ModelOptions for HtlNetConfig {
    /// Every option's range; with `architecture: shared_bottom` also `bottom`.
    fn validate(&self) -> Result<(), OptionError> {
        check_enum(
            "architecture",
            &self.architecture,
            &["htlnet", "shared_bottom"],
        )?;
        check_enum("rep_layer", &self.rep_layer, &["first", "last"])?;
        check_enum("ifu", &self.ifu, &["attention", "concat", "none"])?;
        check_at_least("embed_dim", self.embed_dim, 1)?;
        // rep is taken from a tower layer, so the tower needs one.
        check_widths("tower", &self.tower, false)?;
        check_dropout(self.dropout)?;
        check_at_least("label_dim", self.label_dim, 1)?;
        check_at_least("ifu_dim", self.ifu_dim, 1)?;
        check_range("tau_start", self.tau_start, RangeKind::Positive)?;
        check_range("tau_min", self.tau_min, RangeKind::Positive)?;
        check_range("tau_anneal", self.tau_anneal, RangeKind::PositiveUnit)?;
        if self.tau_min > self.tau_start {
            return Err(OptionError::Range {
                key: "tau_min".into(),
                value: self.tau_min.to_string(),
                range: format!(
                    "at most `tau_start` ({}): the temperature anneals, never grows",
                    self.tau_start
                ),
            });
        }
        if self.architecture == "shared_bottom" {
            check_widths("bottom", &self.bottom, true)?;
        }
        Ok(())
    }
}

impl HtlNetConfig {
    /// The temperature schedule.
    pub fn tau(&self) -> TauSchedule {
        TauSchedule {
            start: self.tau_start,
            floor: self.tau_min,
            anneal: self.tau_anneal,
        }
    }
}

/// HTLNet's `stop_grad` option: what is detached where it leaves task j. Written `true`,
/// `false` or `rep` in YAML (and stored so in the cell config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StopGradYaml", into = "StopGradYaml")]
pub enum StopGrad {
    /// `true` (the paper): rep_j, le_j and p_j are detached; later losses train neither task
    /// j's tower nor its label table (which then keeps its initial values).
    All,
    /// `false`: nothing is detached; the Gumbel-softmax sample is the relaxed one,
    /// differentiable w.r.t. task j's logit.
    None,
    /// `rep`: rep_j and p_j are detached, le_j is not (this project's earlier behaviour:
    /// later losses train task j's label table, not its tower).
    Rep,
}

/// How [`StopGrad`] is written in YAML.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StopGradYaml {
    /// `true` / `false`.
    Flag(bool),
    /// `rep`.
    Name(String),
}

impl TryFrom<StopGradYaml> for StopGrad {
    type Error = String;
    fn try_from(v: StopGradYaml) -> Result<Self, String> {
        match v {
            StopGradYaml::Flag(true) => Ok(StopGrad::All),
            StopGradYaml::Flag(false) => Ok(StopGrad::None),
            StopGradYaml::Name(s) if s == "rep" => Ok(StopGrad::Rep),
            StopGradYaml::Name(s) => Err(format!(
                "unknown `stop_grad` `{s}`; valid: true, false, rep"
            )),
        }
    }
}

impl From<StopGrad> for StopGradYaml {
    fn from(s: StopGrad) -> Self {
        match s {
            StopGrad::All => StopGradYaml::Flag(true),
            StopGrad::None => StopGradYaml::Flag(false),
            StopGrad::Rep => StopGradYaml::Name("rep".into()),
        }
    }
}

/// `model: htlnet` in the zoo.
pub struct HtlNetModel;

impl ModelDef for HtlNetModel {
    const NAME: &'static str = "htlnet";
    const SUMMARY: &'static str = "HTLNet (RecSys 2024): LEU + IFU transfer down the chain, stop-gradient, gradient adjustment toward the core task";
    const FOLDER: &'static str = "src/htlnet";
    const DEFAULT_GRAD: &'static str = "htl";
    const THETA_S: &'static str =
        "the field embedding (with `architecture: shared_bottom`: embedding + bottom MLP)";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = HtlNetConfig;
    type Net = HtlNet;

    /// HTLNet itself. `architecture: shared_bottom` is built by the zoo (it needs the
    /// Shared-Bottom baseline, which this folder does not import).
    fn build(
        options: &HtlNetConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<HtlNet, ModelError> {
        if options.architecture != "htlnet" {
            return Err(ModelError::Unsupported(format!(
                "`architecture: {}` is built by the zoo (src/zoo/ablation.rs), not by HtlNet",
                options.architecture
            )));
        }
        Ok(HtlNet::new(options, info, rng, device))
    }
}

/// HTLNet's network.
#[derive(Module, Debug)]
pub struct HtlNet {
    /// θ_s: the shared embedding.
    pub embedding: FieldEmbedding,
    /// One tower per task.
    pub towers: Vec<Tower>,
    /// LEU per task (`None` for the core task or with `leu: false`).
    pub leus: Vec<Option<Leu>>,
    /// IFU over representations, per task (`None` for task 1 or when off).
    pub ifu_rep: Vec<Option<Ifu>>,
    /// IFU over label embeddings, per task.
    pub ifu_le: Vec<Option<Ifu>>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
    /// Index of the tower layer used as `rep`.
    pub rep_index: usize,
    /// Detach rep_j (and p_j) where they leave task j.
    pub detach_rep: bool,
    /// Detach le_j where it leaves task j.
    pub detach_le: bool,
    /// Detach p_j before the LEU (false only with `stop_grad: false`).
    pub detach_p: bool,
    /// Temperature schedule (start, floor, anneal).
    pub tau: Vec<f64>,
}

impl HtlNet {
    /// Builds the network (options already validated).
    pub fn new(
        cfg: &HtlNetConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let e_dim = embedding.out_dim();
        let binary: Vec<bool> = info
            .tasks
            .tasks()
            .iter()
            .map(|t| t.kind == TaskKind::Binary)
            .collect();
        let n = binary.len();
        let rep_index = if cfg.rep_layer == "last" {
            cfg.tower.len() - 1
        } else {
            0
        };
        let rep_dim = cfg.tower[rep_index];
        let transfer = cfg.ifu != "none";
        let mut towers = Vec::with_capacity(n);
        let mut leus = Vec::with_capacity(n);
        let mut ifu_rep = Vec::with_capacity(n);
        let mut ifu_le = Vec::with_capacity(n);
        for t in 0..n {
            let n_le = (0..t).filter(|&j| binary[j]).count();
            let r = (transfer && cfg.ifu_rep && t > 0)
                .then(|| Ifu::new(&cfg.ifu, t, rep_dim, cfg.ifu_dim, rng, device));
            let l = (transfer && cfg.leu && n_le > 0)
                .then(|| Ifu::new(&cfg.ifu, n_le, cfg.label_dim, cfg.ifu_dim, rng, device));
            let d_in = e_dim
                + if r.is_some() { cfg.ifu_dim } else { 0 }
                + if l.is_some() { cfg.ifu_dim } else { 0 };
            towers.push(Tower::for_task(
                d_in,
                &cfg.tower,
                cfg.dropout,
                info,
                t,
                rng,
                device,
            ));
            // A label embedding is only useful when some later task reads it.
            let feeds_later = transfer && t + 1 < n;
            leus.push(
                (cfg.leu && binary[t] && feeds_later).then(|| Leu::new(cfg.label_dim, rng, device)),
            );
            ifu_rep.push(r);
            ifu_le.push(l);
        }
        let s = cfg.tau();
        Self {
            embedding,
            towers,
            leus,
            ifu_rep,
            ifu_le,
            binary,
            rep_index,
            detach_rep: cfg.stop_grad != StopGrad::None,
            detach_le: cfg.stop_grad == StopGrad::All,
            detach_p: cfg.stop_grad != StopGrad::None,
            tau: vec![s.start, s.floor, s.anneal],
        }
    }

    fn schedule(&self) -> TauSchedule {
        TauSchedule {
            start: self.tau[0],
            floor: self.tau[1],
            anneal: self.tau[2],
        }
    }

    fn detach_if<const D: usize>(detach: bool, x: Tensor<D>) -> Tensor<D> {
        if detach {
            x.detach()
        } else {
            x
        }
    }
}

impl MultiTaskModel for HtlNet {
    /// `z = [e]`, the concatenated field embeddings `[batch, fields * embed_dim]`.
    fn shared(&self, batch: &Batch, _ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        vec![self.embedding.forward(&batch.cat, batch.num.as_ref())]
    }

    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let n = self.towers.len();
        let tau = self.schedule().at(ctx.step, ctx.planned_steps);
        let mut reps: Vec<Tensor<2>> = Vec::with_capacity(n);
        let mut les: Vec<Tensor<2>> = Vec::new();
        let mut preds = Vec::with_capacity(n);
        let mut aux = Vec::new();
        #[allow(clippy::needless_range_loop)]
        for t in 0..n {
            let e = inputs[t][0].clone();
            let mut parts = Vec::with_capacity(3);
            if let Some(ifu) = &self.ifu_rep[t] {
                let (f, w) = ifu.forward(&reps);
                if let (true, Some(w)) = (ctx.record, w) {
                    aux.push((format!("ifu_rep_weights_{t}"), w));
                }
                parts.push(f);
            }
            if let Some(ifu) = &self.ifu_le[t] {
                let (f, w) = ifu.forward(&les);
                if let (true, Some(w)) = (ctx.record, w) {
                    aux.push((format!("ifu_le_weights_{t}"), w));
                }
                parts.push(f);
            }
            parts.push(e);
            let x = Tensor::cat(parts, 1);
            // The core head's output (one value, or ZILN's three) feeds nothing later; `rep`
            // is a hidden layer of the tower, whatever the head.
            let (hidden, pred) = self.towers[t].predict_all(x, ctx, self.binary[t]);
            reps.push(Self::detach_if(
                self.detach_rep,
                hidden[self.rep_index].clone(),
            ));
            // LEUs exist on binary tasks only, whose prediction is a logit.
            if let (Some(leu), Pred::Logit(out)) = (&self.leus[t], &pred) {
                // Relaxed Gumbel-softmax: with p attached, the sample is differentiable
                // w.r.t. this task's logit.
                let p = Self::detach_if(self.detach_p, sigmoid(out.clone()));
                let noise = ctx
                    .training
                    .then(|| gumbel_noise(p.dims()[0], &mut ctx.rng));
                let s = Leu::distribution(p, tau, noise);
                les.push(Self::detach_if(self.detach_le, leu.forward(s)));
            }
            preds.push(pred);
        }
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux,
        }
    }

    /// With stop-gradient (`true` or `rep`), task t's loss reaches the trunk only through
    /// its own copy of `e`.
    fn separable(&self) -> bool {
        self.detach_rep && self.detach_p
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }

    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        Some(&self.embedding)
    }

    /// The LEU temperature at `ctx` (`None` when no task has an LEU).
    fn temperature(&self, ctx: &ForwardCtx) -> Option<f64> {
        self.leus
            .iter()
            .any(Option::is_some)
            .then(|| self.schedule().at(ctx.step, ctx.planned_steps))
    }
}

//! DNN: one independent network per task (own embedding, own MLP, own head). Nothing is
//! shared, so it is the "no multi-task learning" reference. See `README.md` beside this file.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{binary_flags, check_at_least, check_widths};
use crate::model::blocks::{Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError,
};

/// Options of `model: dnn` (YAML keys are the field names). Kept equal to `defaults.yaml` and
/// the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnnConfig {
    /// Embedding width per field (each task has its own tables).
    pub embed_dim: usize,
    /// Hidden widths of each task's bottom MLP.
    pub bottom: Vec<usize>,
    /// Hidden widths of each task's tower after the bottom.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer.
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
}

impl Default for DnnConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            bottom: vec![256, 128],
            tower: vec![64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
        }
    }
}

impl ModelOptions for DnnConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_widths("bottom", &self.bottom, true)?;
        check_widths("tower", &self.tower, true)?;
        self.dropout.check()
    }
}

/// One task's private network.
#[derive(Module, Debug)]
pub struct TaskNet {
    /// The task's own embedding tables.
    pub embedding: FieldEmbedding,
    /// Bottom MLP.
    pub bottom: Mlp,
    /// Tower and head.
    pub tower: Tower,
}

/// `model: dnn` in the zoo.
pub struct DnnModel;

impl ModelDef for DnnModel {
    const NAME: &'static str = "dnn";
    const SUMMARY: &'static str =
        "DNN: one independent network per task (own embedding and MLP), nothing shared";
    const FOLDER: &'static str = "baselines/dnn";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str = "nothing: every task has its own embedding and MLP";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = DnnConfig;
    type Net = Dnn;

    fn build(
        options: &DnnConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Dnn, ModelError> {
        Ok(Dnn::new(options, info, rng, device))
    }
}

/// Independent networks, one per task.
#[derive(Module, Debug)]
pub struct Dnn {
    /// One network per task, in chain order.
    pub nets: Vec<TaskNet>,
    /// Binary flag per task.
    pub binary: Vec<bool>,
}

impl Dnn {
    /// Builds one network per task of `info.tasks`; head biases from `info.init_bias`.
    pub fn new(cfg: &DnnConfig, info: &BuildInfo, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let nets = (0..info.tasks.len())
            .map(|t| {
                let embedding =
                    FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
                let d_in = embedding.out_dim();
                let bottom = Mlp::new(
                    d_in,
                    &cfg.bottom,
                    MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                    rng,
                    device,
                );
                let d_b = bottom.out_dim(d_in);
                let tower = Tower::for_task(
                    d_b,
                    &cfg.tower,
                    MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                    info,
                    t,
                    rng,
                    device,
                );
                TaskNet {
                    embedding,
                    bottom,
                    tower,
                }
            })
            .collect();
        Self {
            nets,
            binary: binary_flags(info),
        }
    }
}

impl MultiTaskModel for Dnn {
    /// No trunk: nothing is shared.
    fn shared(&self, _batch: &Batch, _ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        Vec::new()
    }

    fn heads(
        &self,
        _inputs: &[Vec<Tensor<2>>],
        batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let preds = self
            .nets
            .iter()
            .zip(&self.binary)
            .map(|(net, &bin)| {
                let e = net.embedding.forward(&batch.cat, batch.num.as_ref());
                let h = net.bottom.forward(e, ctx);
                net.tower.predict(h, ctx, bin)
            })
            .collect();
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux: vec![],
        }
    }

    /// Trivially: no task's loss reaches a trunk.
    fn separable(&self) -> bool {
        true
    }

    // shared_param_ids: the default (no embedding trunk) is empty — DNN has no shared
    // parameters, so per-task gradient strategies have nothing to adjust and the trainer
    // takes a plain step.

    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        let ids = self
            .nets
            .iter()
            .flat_map(|n| burn::module::list_param_ids(&n.embedding))
            .collect();
        vec![("embedding", ids)]
    }

    fn n_tasks(&self) -> usize {
        self.nets.len()
    }
}

#[cfg(test)]
mod tests;

//! Shared-Bottom (Caruana 1997): one shared MLP over the embedding, one tower per task.
//! See `README.md` beside this file.

use burn::module::{list_param_ids, Module, ParamId};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::TaskKind;
use crate::model::blocks::{task_towers, Dropout, FieldEmbedding, Mlp, MlpSpec, Tower};
use crate::model::{check_at_least, check_widths};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError,
};

/// Options of `model: shared_bottom` (YAML keys are the field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SharedBottomConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Hidden widths of the shared bottom MLP.
    pub bottom: Vec<usize>,
    /// Hidden widths of each task tower.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer.
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
    /// Shared parameters θ_s that per-task gradient strategies act on: `embedding` or
    /// `trunk` (every parameter used by more than one task; see baselines/README.md).
    pub shared: String,
}

impl Default for SharedBottomConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            bottom: vec![256, 128],
            tower: vec![64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "trunk".into(),
        }
    }
}

/// `model: shared_bottom` in the zoo.
pub struct SharedBottomModel;

impl ModelDef for SharedBottomModel {
    const NAME: &'static str = "shared_bottom";
    const SUMMARY: &'static str =
        "Shared-Bottom: shared MLP over the embedding, one tower per task";
    const FOLDER: &'static str = "baselines/shared_bottom";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding + the shared bottom MLP (`shared: trunk`, default, = torch-rechub's shared_layers); `shared: embedding`: the field embedding";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = SharedBottomConfig;
    type Net = SharedBottom;

    fn build(
        options: &SharedBottomConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<SharedBottom, ModelError> {
        Ok(SharedBottom::new(options, info, rng, device))
    }
}

impl ModelOptions for SharedBottomConfig {
    /// Every range; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_widths("bottom", &self.bottom, true)?;
        check_widths("tower", &self.tower, true)?;
        crate::model::check_enum("shared", &self.shared, &["embedding", "trunk"])?;
        self.dropout.check()
    }
}

/// Shared-Bottom network.
#[derive(Module, Debug)]
pub struct SharedBottom {
    /// θ_s, part 1: the field embeddings.
    pub embedding: FieldEmbedding,
    /// θ_s, part 2: the shared bottom MLP.
    pub bottom: Mlp,
    /// One tower per task.
    pub towers: Vec<Tower>,
    /// Task kinds in chain order (binary → logit, regression → value).
    pub binary: Vec<bool>,
    /// `shared: trunk`: the bottom is part of the trunk (θ_s); otherwise each task runs it on
    /// its own copy of the embedding.
    pub trunk: bool,
}

impl SharedBottom {
    /// Builds the network for the task chain in `info`.
    pub fn new(
        cfg: &SharedBottomConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
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
        let towers = task_towers(
            info,
            d_b,
            &cfg.tower,
            &MlpSpec::new(&cfg.dropout, cfg.batch_norm),
            rng,
            device,
        );
        let binary = info
            .tasks
            .tasks()
            .iter()
            .map(|t| t.kind == TaskKind::Binary)
            .collect();
        Self {
            embedding,
            bottom,
            towers,
            binary,
            trunk: cfg.shared == "trunk",
        }
    }
}

impl MultiTaskModel for SharedBottom {
    /// `shared: trunk`: `z = [bottom(e)]`, `[batch, bottom[last]]`; `shared: embedding`:
    /// `z = [e]`.
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        if self.trunk {
            vec![self.bottom.forward(e, ctx)]
        } else {
            vec![e]
        }
    }

    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let preds = self
            .towers
            .iter()
            .zip(inputs)
            .zip(&self.binary)
            .map(|((tower, z), &bin)| {
                let h = if self.trunk {
                    z[0].clone()
                } else {
                    self.bottom.forward(z[0].clone(), ctx)
                };
                tower.predict(h, ctx, bin)
            })
            .collect();
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux: vec![],
        }
    }

    fn separable(&self) -> bool {
        true
    }

    fn shared_param_ids(&self) -> Vec<ParamId> {
        let mut ids = list_param_ids(&self.embedding);
        if self.trunk {
            ids.extend(list_param_ids(&self.bottom));
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

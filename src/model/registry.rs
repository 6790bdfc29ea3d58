//! The registry: YAML `model:` name → options type and constructor. Adding a model touches its
//! folder, one [`AnyModel`] variant and one [`registry`] entry.

use burn::module::{Module, ParamId};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Batch, BuildInfo, ForwardCtx, ModelOutput, MultiTaskModel};
use crate::baselines::adatt::{Adatt, AdattConfig};
use crate::baselines::aitm::{Aitm, AitmConfig};
use crate::baselines::dnn::{Dnn, DnnConfig};
use crate::baselines::esmm::{Esmm, EsmmConfig};
use crate::baselines::mmoe::{Mmoe, MmoeConfig};
use crate::baselines::ple::{Ple, PleConfig};
use crate::baselines::shared_bottom::{SharedBottom, SharedBottomConfig};
use crate::htlnet::{HtlNet, HtlNetConfig};

/// Every registered model, as one module type the optimiser can step.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum AnyModel {
    /// `shared_bottom`
    SharedBottom(SharedBottom),
    /// `htlnet`
    HtlNet(HtlNet),
    /// `dnn`
    Dnn(Dnn),
    /// `mmoe`
    Mmoe(Mmoe),
    /// `ple`
    Ple(Ple),
    /// `adatt`
    Adatt(Adatt),
    /// `esmm`
    Esmm(Esmm),
    /// `aitm`
    Aitm(Aitm),
}

macro_rules! dispatch {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            AnyModel::SharedBottom($m) => $e,
            AnyModel::HtlNet($m) => $e,
            AnyModel::Dnn($m) => $e,
            AnyModel::Mmoe($m) => $e,
            AnyModel::Ple($m) => $e,
            AnyModel::Adatt($m) => $e,
            AnyModel::Esmm($m) => $e,
            AnyModel::Aitm($m) => $e,
        }
    };
}

impl MultiTaskModel for AnyModel {
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        dispatch!(self, m => m.shared(batch, ctx))
    }
    fn heads(&self, inputs: &[Vec<Tensor<2>>], batch: &Batch, ctx: &mut ForwardCtx) -> ModelOutput {
        dispatch!(self, m => m.heads(inputs, batch, ctx))
    }
    fn separable(&self) -> bool {
        dispatch!(self, m => m.separable())
    }
    fn shared_param_ids(&self) -> Vec<ParamId> {
        dispatch!(self, m => m.shared_param_ids())
    }
    fn n_tasks(&self) -> usize {
        dispatch!(self, m => m.n_tasks())
    }
    fn embedding_trunk(&self) -> Option<&crate::model::blocks::FieldEmbedding> {
        dispatch!(self, m => m.embedding_trunk())
    }
}

/// A registered model.
pub struct ModelEntry {
    /// YAML name.
    pub name: &'static str,
    /// One line for `htl models`.
    pub summary: &'static str,
    /// Folder holding its code and README.
    pub folder: &'static str,
    /// Gradient strategy used when the variant names none.
    pub default_grad: &'static str,
    /// The default options as YAML.
    pub defaults: fn() -> serde_yaml::Value,
    /// Resolves options (defaults filled in; unknown keys rejected) without building.
    pub resolve: fn(&serde_yaml::Value) -> Result<serde_yaml::Value, String>,
    /// Builds the model from (resolved or partial) options.
    pub build:
        fn(&serde_yaml::Value, &BuildInfo, &mut ChaCha8Rng, &Device) -> Result<AnyModel, String>,
}

fn parse<C: DeserializeOwned + Default>(v: &serde_yaml::Value) -> Result<C, String> {
    if v.is_null() {
        return Ok(C::default());
    }
    serde_yaml::from_value(v.clone()).map_err(|e| e.to_string())
}

fn defaults_of<C: Serialize + Default>() -> serde_yaml::Value {
    serde_yaml::to_value(C::default()).expect("defaults serialise")
}

fn resolve_as<C: Serialize + DeserializeOwned + Default>(
    v: &serde_yaml::Value,
) -> Result<serde_yaml::Value, String> {
    let c: C = parse(v)?;
    serde_yaml::to_value(c).map_err(|e| e.to_string())
}

/// Parses, validates with `check` and re-serialises (defaults filled in).
fn resolve_checked<C: Serialize + DeserializeOwned + Default>(
    v: &serde_yaml::Value,
    check: fn(&C) -> Result<(), String>,
) -> Result<serde_yaml::Value, String> {
    let c: C = parse(v)?;
    check(&c)?;
    serde_yaml::to_value(c).map_err(|e| e.to_string())
}

/// All registered models, in the order `htl models` lists them.
pub fn registry() -> &'static [ModelEntry] {
    static ENTRIES: &[ModelEntry] = &[
    ModelEntry {
        name: "htlnet",
        summary: "HTLNet (RecSys 2024): LEU + IFU transfer down the chain, stop-gradient, gradient adjustment toward the core task",
        folder: "src/htlnet",
        default_grad: "htl",
        defaults: defaults_of::<HtlNetConfig>,
        resolve: |v| {
            let c: HtlNetConfig = parse(v)?;
            c.validate()?;
            serde_yaml::to_value(c).map_err(|e| e.to_string())
        },
        build: build_htlnet,
    },
    ModelEntry {
        name: "dnn",
        summary: "DNN: one independent network per task (own embedding and MLP), nothing shared",
        folder: "baselines/dnn",
        default_grad: "sum",
        defaults: defaults_of::<DnnConfig>,
        resolve: |v| resolve_checked::<DnnConfig>(v, DnnConfig::validate),
        build: |v, info, rng, dev| {
            let c: DnnConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Dnn(Dnn::new(&c, info, rng, dev)))
        },
    },
    ModelEntry {
        name: "shared_bottom",
        summary: "Shared-Bottom: shared MLP over the embedding, one tower per task",
        folder: "baselines/shared_bottom",
        default_grad: "sum",
        defaults: defaults_of::<SharedBottomConfig>,
        resolve: resolve_as::<SharedBottomConfig>,
        build: |v, info, rng, dev| Ok(AnyModel::SharedBottom(SharedBottom::new(&parse(v)?, info, rng, dev))),
    },
    ModelEntry {
        name: "mmoe",
        summary: "MMoE (KDD 2018): shared experts, one softmax gate per task, towers",
        folder: "baselines/mmoe",
        default_grad: "sum",
        defaults: defaults_of::<MmoeConfig>,
        resolve: |v| resolve_checked::<MmoeConfig>(v, MmoeConfig::validate),
        build: |v, info, rng, dev| {
            let c: MmoeConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Mmoe(Mmoe::new(&c, info, rng, dev)))
        },
    },
    ModelEntry {
        name: "ple",
        summary: "PLE (RecSys 2020): stacked CGC levels of task-specific and shared experts with gates",
        folder: "baselines/ple",
        default_grad: "sum",
        defaults: defaults_of::<PleConfig>,
        resolve: |v| resolve_checked::<PleConfig>(v, PleConfig::validate),
        build: |v, info, rng, dev| {
            let c: PleConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Ple(Ple::new(&c, info, rng, dev)))
        },
    },
    ModelEntry {
        name: "adatt",
        summary: "AdaTT (KDD 2023): per-task expert groups fused task-to-task by gates, native-expert residual",
        folder: "baselines/adatt",
        default_grad: "sum",
        defaults: defaults_of::<AdattConfig>,
        resolve: |v| resolve_checked::<AdattConfig>(v, AdattConfig::validate),
        build: |v, info, rng, dev| {
            let c: AdattConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Adatt(Adatt::new(&c, info, rng, dev)))
        },
    },
    ModelEntry {
        name: "esmm",
        summary: "ESMM (SIGIR 2018): entire-space product chain over the binary tasks; core on its own tower or as expected value",
        folder: "baselines/esmm",
        default_grad: "sum",
        defaults: defaults_of::<EsmmConfig>,
        resolve: |v| resolve_checked::<EsmmConfig>(v, EsmmConfig::validate),
        build: |v, info, rng, dev| {
            let c: EsmmConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Esmm(Esmm::new(&c, info, rng, dev)?))
        },
    },
    ModelEntry {
        name: "aitm",
        summary: "AITM (KDD 2021): adaptive information transfer down the chain with attention, calibrator alpha_cal",
        folder: "baselines/aitm",
        default_grad: "sum",
        defaults: defaults_of::<AitmConfig>,
        resolve: |v| resolve_checked::<AitmConfig>(v, AitmConfig::validate),
        build: |v, info, rng, dev| {
            let c: AitmConfig = parse(v)?;
            c.validate()?;
            Ok(AnyModel::Aitm(Aitm::new(&c, info, rng, dev)))
        },
    },
    ];
    ENTRIES
}

/// HTLNet, or with `architecture: shared_bottom` the shared-bottom network it is compared
/// against in the paper's "w/o architecture" ablation (trained with the same strategy).
fn build_htlnet(
    v: &serde_yaml::Value,
    info: &BuildInfo,
    rng: &mut ChaCha8Rng,
    dev: &Device,
) -> Result<AnyModel, String> {
    let c: HtlNetConfig = parse(v)?;
    c.validate()?;
    if c.architecture == "shared_bottom" {
        let sb = SharedBottomConfig {
            embed_dim: c.embed_dim,
            bottom: c.bottom.clone(),
            tower: c.tower.clone(),
            dropout: c.dropout,
        };
        return Ok(AnyModel::SharedBottom(SharedBottom::new(
            &sb, info, rng, dev,
        )));
    }
    Ok(AnyModel::HtlNet(HtlNet::new(&c, info, rng, dev)))
}

/// Looks a model up by YAML name.
pub fn find_model(name: &str) -> Option<&'static ModelEntry> {
    registry().iter().find(|e| e.name == name)
}

/// Builds a registered model; the error names the model and lists registered ones.
pub fn build_model(
    name: &str,
    options: &serde_yaml::Value,
    info: &BuildInfo,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<AnyModel, String> {
    let entry = find_model(name).ok_or_else(|| {
        let names: Vec<&str> = registry().iter().map(|e| e.name).collect();
        format!(
            "unknown model `{name}`; registered models: {}",
            names.join(", ")
        )
    })?;
    (entry.build)(options, info, rng, device)
        .map_err(|e| format!("model `{name}`, key `options`: {e}"))
}

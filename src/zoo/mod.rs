//! The model zoo: the one list of models. Each model folder implements
//! [`crate::model::ModelDef`]; the `zoo!` list below names it once and generates the
//! [`AnyModel`] enum, its dispatch and the [`registry`] entries (`htl models`, option
//! resolution, presets, build).
//!
//! Adding a model = its folder (code, README, `defaults.yaml`, `presets.yaml`, a `ModelDef`
//! implementation), its `mod` line, and one line in the list below.
//!
//! **HTLNet's `architecture: shared_bottom`** (the paper's "w/o architecture" ablation: a
//! Shared-Bottom network trained with HTLNet's options and strategy) is the one special case:
//! `htlnet` cannot import `baselines`, so its list line names a builder in
//! [`ablation`], here in the zoo, which builds a Shared-Bottom network from HTLNet's
//! `embed_dim`, `bottom`, `tower` and `dropout`.

pub mod ablation;

use burn::module::{Module, ParamId};
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde_yaml::{Mapping, Value};

use crate::model::blocks::FieldEmbedding;
use crate::model::presets::{library, PRESETS};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError,
};

/// Why options could not be resolved or a model could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZooError {
    /// No model of this name.
    #[error("unknown model `{name}`; registered models: {registered}")]
    UnknownModel {
        /// The name written.
        name: String,
        /// Every registered name, comma-separated.
        registered: String,
    },
    /// The options do not parse (unknown key, wrong type): serde's message.
    #[error("{0}")]
    Parse(String),
    /// An option out of range.
    #[error(transparent)]
    Options(#[from] OptionError),
    /// The model cannot be built for this data.
    #[error(transparent)]
    Build(#[from] ModelError),
    /// No such reference library.
    #[error("unknown preset `{name}`; valid presets: {valid}")]
    UnknownPreset {
        /// The name written.
        name: String,
        /// Every preset, comma-separated.
        valid: String,
    },
    /// The library's code does not have this model.
    #[error("preset `{preset}` is {source_name}, which has no model `{model}`; it has: {models}")]
    NotInLibrary {
        /// The preset.
        preset: String,
        /// Where the library's settings come from.
        source_name: String,
        /// The model.
        model: String,
        /// The models the library has, comma-separated.
        models: String,
    },
    /// The model's folder has no settings for this library.
    #[error("preset `{preset}` has no settings for model `{model}`")]
    NoPreset {
        /// The preset.
        preset: String,
        /// The model.
        model: String,
    },
    /// Building a registered model failed: names the model and the key.
    #[error("model `{model}`, key `options`: {source}")]
    InModel {
        /// The model.
        model: String,
        /// What failed.
        source: Box<ZooError>,
    },
}

/// A registered model, type-erased for the registry.
pub struct ModelEntry {
    /// YAML name.
    pub name: &'static str,
    /// One line for `htl models`.
    pub summary: &'static str,
    /// Folder holding its code and README.
    pub folder: &'static str,
    /// Gradient strategy used when the variant names none.
    pub default_grad: &'static str,
    /// The shared parameters θ_s, in words.
    pub theta_s: &'static str,
    /// The folder's `presets.yaml`.
    pub presets_yaml: &'static str,
    /// The default options as YAML.
    pub defaults: fn() -> Value,
    /// Parses and validates options (defaults filled in; unknown keys rejected) without
    /// building.
    pub resolve: fn(&Value) -> Result<Value, ZooError>,
    /// Builds the model from (resolved or partial) options.
    pub build: fn(&Value, &BuildInfo, &mut ChaCha8Rng, &Device) -> Result<AnyModel, ZooError>,
}

/// Parses options (null = all defaults).
pub fn parse_options<O: ModelOptions>(v: &Value) -> Result<O, ZooError> {
    if v.is_null() {
        return Ok(O::default());
    }
    serde_yaml::from_value(v.clone()).map_err(|e| ZooError::Parse(e.to_string()))
}

/// Parses and validates options.
pub fn checked_options<O: ModelOptions>(v: &Value) -> Result<O, ZooError> {
    let o: O = parse_options(v)?;
    o.validate()?;
    Ok(o)
}

fn defaults_of<D: ModelDef>() -> Value {
    serde_yaml::to_value(D::Options::default()).expect("options serialise")
}

fn resolve_of<D: ModelDef>(v: &Value) -> Result<Value, ZooError> {
    let o: D::Options = checked_options(v)?;
    serde_yaml::to_value(o).map_err(|e| ZooError::Parse(e.to_string()))
}

/// The list of models. Each line: `Variant(network type) = ModelDef implementor`, optionally
/// `=> builder` when the model builds something other than its own network (see
/// [`ablation`]). Generates [`AnyModel`], its [`MultiTaskModel`] dispatch and [`registry`].
macro_rules! zoo {
    (@build $variant:ident, $def:ty) => {
        |v, info, rng, dev| {
            let o = checked_options::<<$def as ModelDef>::Options>(v)?;
            Ok(AnyModel::$variant(<$def as ModelDef>::build(&o, info, rng, dev)?))
        }
    };
    (@build $variant:ident, $def:ty, $builder:path) => {
        $builder
    };
    ($($variant:ident($net:ty) = $def:ty $(=> $builder:path)?;)*) => {
        /// Every registered model's network, as one module type the optimiser can step.
        #[derive(Module, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub enum AnyModel {
            $(
                #[doc = concat!("The `", stringify!($variant), "` network.")]
                $variant($net),
            )*
        }

        impl MultiTaskModel for AnyModel {
            fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
                match self { $(AnyModel::$variant(m) => m.shared(batch, ctx),)* }
            }
            fn heads(
                &self,
                inputs: &[Vec<Tensor<2>>],
                batch: &Batch,
                ctx: &mut ForwardCtx,
            ) -> ModelOutput {
                match self { $(AnyModel::$variant(m) => m.heads(inputs, batch, ctx),)* }
            }
            fn separable(&self) -> bool {
                match self { $(AnyModel::$variant(m) => m.separable(),)* }
            }
            fn shared_param_ids(&self) -> Vec<ParamId> {
                match self { $(AnyModel::$variant(m) => m.shared_param_ids(),)* }
            }
            fn n_tasks(&self) -> usize {
                match self { $(AnyModel::$variant(m) => m.n_tasks(),)* }
            }
            fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
                match self { $(AnyModel::$variant(m) => m.embedding_trunk(),)* }
            }
            fn temperature(&self, ctx: &ForwardCtx) -> Option<f64> {
                match self { $(AnyModel::$variant(m) => m.temperature(ctx),)* }
            }
            fn param_groups(&self) -> Vec<(&'static str, Vec<ParamId>)> {
                match self { $(AnyModel::$variant(m) => m.param_groups(),)* }
            }
        }

        /// All registered models, in the order `htl models` lists them.
        pub fn registry() -> &'static [ModelEntry] {
            static ENTRIES: &[ModelEntry] = &[
                $(
                    ModelEntry {
                        name: <$def as ModelDef>::NAME,
                        summary: <$def as ModelDef>::SUMMARY,
                        folder: <$def as ModelDef>::FOLDER,
                        default_grad: <$def as ModelDef>::DEFAULT_GRAD,
                        theta_s: <$def as ModelDef>::THETA_S,
                        presets_yaml: <$def as ModelDef>::PRESETS_YAML,
                        defaults: defaults_of::<$def>,
                        resolve: resolve_of::<$def>,
                        build: zoo!(@build $variant, $def $(, $builder)?),
                    },
                )*
            ];
            ENTRIES
        }
    };
}

zoo! {
    HtlNet(crate::htlnet::HtlNet) = crate::htlnet::HtlNetModel => ablation::build_htlnet;
    Dnn(crate::baselines::dnn::Dnn) = crate::baselines::dnn::DnnModel;
    SharedBottom(crate::baselines::shared_bottom::SharedBottom) = crate::baselines::shared_bottom::SharedBottomModel;
    Mmoe(crate::baselines::mmoe::Mmoe) = crate::baselines::mmoe::MmoeModel;
    Ple(crate::baselines::ple::Ple) = crate::baselines::ple::PleModel;
    Adatt(crate::baselines::adatt::Adatt) = crate::baselines::adatt::AdattModel;
    Esmm(crate::baselines::esmm::Esmm) = crate::baselines::esmm::EsmmModel;
    Aitm(crate::baselines::aitm::Aitm) = crate::baselines::aitm::AitmModel;
}

/// Looks a model up by YAML name.
pub fn find_model(name: &str) -> Option<&'static ModelEntry> {
    registry().iter().find(|e| e.name == name)
}

/// Every registered name, comma-separated.
pub fn model_names() -> String {
    let names: Vec<&str> = registry().iter().map(|e| e.name).collect();
    names.join(", ")
}

/// Builds a registered model; the error names the model and lists registered ones.
pub fn build_model(
    name: &str,
    options: &Value,
    info: &BuildInfo,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Result<AnyModel, ZooError> {
    let entry = find_model(name).ok_or_else(|| ZooError::UnknownModel {
        name: name.into(),
        registered: model_names(),
    })?;
    (entry.build)(options, info, rng, device).map_err(|e| ZooError::InModel {
        model: name.into(),
        source: Box::new(e),
    })
}

impl ModelEntry {
    /// This model's options under the library `preset`, from its folder's `presets.yaml`.
    pub fn preset_options(&self, preset: &str) -> Result<Mapping, ZooError> {
        let all: Mapping = serde_yaml::from_str(self.presets_yaml)
            .map_err(|e| ZooError::Parse(format!("{}/presets.yaml: {e}", self.folder)))?;
        match all.get(Value::from(preset)) {
            Some(Value::Mapping(m)) => Ok(m.clone()),
            _ => Err(ZooError::NoPreset {
                preset: preset.into(),
                model: self.name.into(),
            }),
        }
    }
}

/// The preset `name` for `model`: `(model options, train keys)`. Merge the options under the
/// user's (the user's win). Errors name the unknown preset or model and list the valid ones.
pub fn preset(model: &str, name: &str) -> Result<(Mapping, Mapping), ZooError> {
    let lib = library(name).ok_or_else(|| ZooError::UnknownPreset {
        name: name.into(),
        valid: PRESETS.join(", "),
    })?;
    let entry = find_model(model).ok_or_else(|| ZooError::UnknownModel {
        name: model.into(),
        registered: model_names(),
    })?;
    if !lib.has(model) {
        return Err(ZooError::NotInLibrary {
            preset: name.into(),
            source_name: lib.source.into(),
            model: model.into(),
            models: lib.models.join(", "),
        });
    }
    Ok((entry.preset_options(name)?, lib.train_keys()))
}

#[cfg(test)]
mod tests;

//! The YAML `dataset:` block as a whole ([`DatasetSpec`]) and the one place
//! that dispatches it to its source: the generator, a described file, or a
//! registered preset.
//!
//! Three shapes, told apart by the `synthetic:` and `preset:` keys:
//!
//! ```yaml
//! # the built-in generator (every key optional, see SyntheticConfig)
//! dataset:
//!   synthetic: { rows: 100000, seed: 1, dependence: 0.8 }
//!   split: { ratios: [0.8, 0.1, 0.1], seed: 2024 }   # optional
//!   numeric_transform: standardize                   # optional
//!
//! # a CSV or Parquet file
//! dataset:
//!   name: mydata
//!   path: data/x.csv
//!   categorical: [a, b]
//!   numeric: [x, y]
//!   numeric_transform: standardize    # or bucketize
//!   buckets: 10
//!   tasks:
//!     - { name: visit, kind: binary, column: visit }
//!     - { name: spend, kind: regression, column: spend }
//!   time: ts                          # optional: time-ordered split
//!   time_type: auto                   # optional: auto | number | text
//!   split: { ratios: [0.8, 0.1, 0.1], seed: 2024 }
//!
//! # a registered real data set (see `presets`): files, columns, chain, split
//! dataset: { preset: kuairand_pure, path: /data/KuaiRand-Pure, clip_seconds: 600 }
//! ```
//!
//! Unknown keys are rejected everywhere; a preset's own keys (such as
//! `clip_seconds:`) are accepted only with that preset. The task chain and
//! every option are validated while parsing, so a bad block fails when the
//! experiment is read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::error::DataError;
use super::presets::{self, PresetSpec};
use super::spec::{NumericTransform, SplitSpec, TaskSpec, TimeType, DEFAULT_BUCKETS};
use super::synthetic::{self, SyntheticConfig, SyntheticSpec};
use super::tabular::{self, TabularSpec};
use super::types::{Dataset, Task, TaskChain};

/// The `dataset:` block of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawDatasetSpec", into = "RawDatasetSpec")]
pub enum DatasetSpec {
    /// Rows from the built-in generator.
    Synthetic(SyntheticSpec),
    /// Rows from a CSV or Parquet file.
    Tabular(TabularSpec),
    /// A registered real data set (`preset:`).
    Preset(PresetSpec),
}

/// The generic keys every shape may use.
const GENERIC_KEYS: [&str; 12] = [
    "name",
    "preset",
    "synthetic",
    "path",
    "categorical",
    "numeric",
    "numeric_transform",
    "buckets",
    "tasks",
    "time",
    "time_type",
    "split",
];

/// The serde shape: every generic key, optional, plus the preset's own keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct RawDatasetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<String>,
    #[serde(
        default,
        deserialize_with = "present_as_some",
        skip_serializing_if = "Option::is_none"
    )]
    synthetic: Option<SyntheticConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    categorical: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    numeric: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    numeric_transform: Option<NumericTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buckets: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tasks: Option<Vec<TaskSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_type: Option<TimeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split: Option<SplitSpec>,
    /// Every other key: a preset's own options (or a mistake).
    #[serde(flatten)]
    options: serde_json::Map<String, serde_json::Value>,
}

/// `synthetic:` written with no value (`synthetic:` / `synthetic: ~`) means all defaults.
fn present_as_some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SyntheticConfig>, D::Error> {
    Ok(Some(
        Option::<SyntheticConfig>::deserialize(d)?.unwrap_or_default(),
    ))
}

fn set_keys(keys: &[(&'static str, bool)]) -> Vec<&'static str> {
    keys.iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect()
}

impl TryFrom<RawDatasetSpec> for DatasetSpec {
    type Error = DataError;

    fn try_from(raw: RawDatasetSpec) -> Result<Self, DataError> {
        if raw.preset.is_none() {
            if let Some(key) = raw.options.keys().next() {
                let owned_by_preset = presets::ALL
                    .iter()
                    .any(|p| p.option_keys().contains(&key.as_str()));
                return Err(if owned_by_preset {
                    DataError::InvalidSpec(format!(
                        "`{}` belongs to a `preset:` data set; add `preset:` or remove it",
                        raw.options.keys().cloned().collect::<Vec<_>>().join("`, `")
                    ))
                } else {
                    unknown_key(key)
                });
            }
        }
        let spec = if let Some(name) = raw.preset {
            let preset = presets::find(&name)?;
            let stray = set_keys(&[
                ("synthetic", raw.synthetic.is_some()),
                ("categorical", raw.categorical.is_some()),
                ("numeric", raw.numeric.is_some()),
                ("tasks", raw.tasks.is_some()),
                ("time", raw.time.is_some()),
                ("time_type", raw.time_type.is_some()),
            ]);
            if !stray.is_empty() {
                return Err(DataError::InvalidSpec(format!(
                    "`preset: {name}` cannot be combined with `{}`; a preset defines its own columns, tasks and split (use `path:` for its folder), or remove `preset:` to describe a file yourself",
                    stray.join("`, `")
                )));
            }
            for key in raw.options.keys() {
                if !preset.option_keys().contains(&key.as_str()) {
                    return Err(
                        match presets::ALL
                            .iter()
                            .find(|p| p.option_keys().contains(&key.as_str()))
                        {
                            Some(owner) => DataError::InvalidSpec(format!(
                                "`{key}:` applies only to the {} preset, not to {name}",
                                owner.name()
                            )),
                            None => unknown_key(key),
                        },
                    );
                }
            }
            let options = preset.check_options(raw.options)?;
            DatasetSpec::Preset(PresetSpec {
                preset,
                name: raw.name,
                path: raw.path,
                split: raw.split.unwrap_or_default(),
                numeric_transform: raw.numeric_transform.unwrap_or_default(),
                buckets: raw.buckets.unwrap_or(DEFAULT_BUCKETS),
                options,
            })
        } else if let Some(config) = raw.synthetic {
            let stray = set_keys(&[
                ("path", raw.path.is_some()),
                ("categorical", raw.categorical.is_some()),
                ("numeric", raw.numeric.is_some()),
                ("tasks", raw.tasks.is_some()),
                ("time", raw.time.is_some()),
                ("time_type", raw.time_type.is_some()),
            ]);
            if !stray.is_empty() {
                return Err(DataError::InvalidSpec(format!(
                    "`synthetic:` cannot be combined with `{}`; the generator defines its own columns and tasks (configure them under `synthetic:`), or remove `synthetic:` to load a file",
                    stray.join("`, `")
                )));
            }
            DatasetSpec::Synthetic(SyntheticSpec {
                name: raw.name,
                config,
                split: raw.split.unwrap_or_default(),
                numeric_transform: raw.numeric_transform.unwrap_or_default(),
                buckets: raw.buckets.unwrap_or(DEFAULT_BUCKETS),
            })
        } else {
            let Some(path) = raw.path else {
                return Err(DataError::InvalidSpec(
                    "give either `synthetic:` (generated data) or `path:` with `tasks:` (a CSV or Parquet file)"
                        .into(),
                ));
            };
            if raw.time_type.is_some() && raw.time.is_none() {
                return Err(DataError::InvalidSpec(
                    "`time_type:` needs a `time:` column; add `time:` or remove `time_type:`"
                        .into(),
                ));
            }
            DatasetSpec::Tabular(TabularSpec {
                name: raw.name,
                path,
                categorical: raw.categorical.unwrap_or_default(),
                numeric: raw.numeric.unwrap_or_default(),
                numeric_transform: raw.numeric_transform.unwrap_or_default(),
                buckets: raw.buckets.unwrap_or(DEFAULT_BUCKETS),
                tasks: raw.tasks.unwrap_or_default(),
                time: raw.time,
                time_type: raw.time_type.unwrap_or_default(),
                split: raw.split.unwrap_or_default(),
            })
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// The error for a key no shape and no preset knows.
fn unknown_key(key: &str) -> DataError {
    let mut known: Vec<&str> = GENERIC_KEYS.to_vec();
    for p in presets::ALL {
        for k in p.option_keys() {
            if !known.contains(k) {
                known.push(k);
            }
        }
    }
    DataError::InvalidSpec(format!(
        "unknown field `{key}`, expected one of `{}`",
        known.join("`, `")
    ))
}

impl From<DatasetSpec> for RawDatasetSpec {
    fn from(spec: DatasetSpec) -> Self {
        match spec {
            DatasetSpec::Synthetic(s) => RawDatasetSpec {
                name: s.name,
                synthetic: Some(s.config),
                numeric_transform: Some(s.numeric_transform),
                buckets: Some(s.buckets),
                split: Some(s.split),
                ..Default::default()
            },
            DatasetSpec::Tabular(t) => RawDatasetSpec {
                name: t.name,
                synthetic: None,
                path: Some(t.path),
                categorical: Some(t.categorical),
                numeric: Some(t.numeric),
                numeric_transform: Some(t.numeric_transform),
                buckets: Some(t.buckets),
                tasks: Some(t.tasks),
                time: t.time,
                time_type: (!t.time_type.is_auto()).then_some(t.time_type),
                split: Some(t.split),
                ..Default::default()
            },
            DatasetSpec::Preset(p) => RawDatasetSpec {
                name: p.name,
                preset: Some(p.preset.name().to_string()),
                path: p.path,
                numeric_transform: Some(p.numeric_transform),
                buckets: Some(p.buckets),
                split: Some(p.split),
                options: p.options,
                ..Default::default()
            },
        }
    }
}

impl DatasetSpec {
    /// The generator with the given settings and default split / encoding.
    pub fn synthetic(config: SyntheticConfig) -> Self {
        DatasetSpec::Synthetic(SyntheticSpec {
            config,
            buckets: DEFAULT_BUCKETS,
            ..Default::default()
        })
    }

    /// A registered real data set (by its YAML name) with default options and
    /// `path:` (None: `$HTL_DATA_DIR/<folder>`).
    pub fn preset(name: &str, path: Option<PathBuf>) -> Result<Self, DataError> {
        let mut p = PresetSpec::new(presets::find(name)?);
        p.path = path;
        Ok(DatasetSpec::Preset(p))
    }

    /// Short name for tables: `name:` if given, else `synthetic`, the preset name or the file stem.
    pub fn label(&self) -> String {
        match self {
            DatasetSpec::Synthetic(s) => s.name.clone().unwrap_or_else(|| "synthetic".into()),
            DatasetSpec::Preset(p) => p
                .name
                .clone()
                .unwrap_or_else(|| p.preset.name().to_string()),
            DatasetSpec::Tabular(t) => t.name.clone().unwrap_or_else(|| {
                t.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "data".into())
            }),
        }
    }

    /// The task chain this spec will produce (without reading any data).
    pub fn task_chain(&self) -> Result<TaskChain, DataError> {
        match self {
            DatasetSpec::Synthetic(s) => s.config.task_chain(),
            DatasetSpec::Preset(p) => p.preset.task_chain(),
            DatasetSpec::Tabular(t) => TaskChain::new(
                t.tasks
                    .iter()
                    .map(|ts| Task {
                        name: ts.name.clone(),
                        kind: ts.kind,
                    })
                    .collect(),
            ),
        }
    }

    /// Checks everything that can be checked without data: the chain, split
    /// ratios, bucket count, generator ranges, a preset's options, columns
    /// used twice.
    pub fn validate(&self) -> Result<(), DataError> {
        let (split, transform, buckets) = match self {
            DatasetSpec::Synthetic(s) => {
                s.config.validate()?;
                (&s.split, s.numeric_transform, s.buckets)
            }
            DatasetSpec::Tabular(t) => {
                self.task_chain()?;
                t.columns_by_role()?;
                (&t.split, t.numeric_transform, t.buckets)
            }
            DatasetSpec::Preset(p) => {
                p.preset.check_options(p.options.clone())?;
                (&p.split, p.numeric_transform, p.buckets)
            }
        };
        super::split::check_ratios(&split.ratios)?;
        if transform == NumericTransform::Bucketize && buckets < 2 {
            return Err(DataError::InvalidSpec(format!(
                "`buckets: {buckets}` is too small; bucketize needs at least 2 buckets"
            )));
        }
        Ok(())
    }

    /// The files this spec reads (each checked to exist), e.g. for a cache key.
    pub fn source_files(&self, base_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
        match self {
            DatasetSpec::Synthetic(_) => Ok(Vec::new()),
            DatasetSpec::Tabular(t) => {
                let p = t.resolved_path(base_dir);
                super::io::check_file(&p)?;
                Ok(vec![p])
            }
            DatasetSpec::Preset(p) => p.preset.source_files(&p.folder(base_dir)),
        }
    }
}

/// Loads, validates, splits and encodes the data set of `spec`. Relative
/// paths resolve against `base_dir` (the experiment file's folder).
pub fn load(spec: &DatasetSpec, base_dir: &Path) -> Result<Dataset, DataError> {
    spec.validate()?;
    match spec {
        DatasetSpec::Synthetic(s) => synthetic::load(s, spec.label()),
        DatasetSpec::Tabular(t) => tabular::load(t, base_dir, spec.label()),
        DatasetSpec::Preset(p) => p.preset.load(p, &p.folder(base_dir), spec.label()),
    }
}

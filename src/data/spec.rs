//! The YAML `dataset:` block: [`DatasetSpec`] and its parts.
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
//!   split: { ratios: [0.8, 0.1, 0.1], seed: 2024 }
//!
//! # a registered real data set (see `presets`): files, columns, chain, split
//! dataset: { preset: kuairand_pure, path: /data/KuaiRand-Pure, clip_seconds: 600 }
//! ```
//!
//! Unknown keys are rejected everywhere. The task chain is validated while
//! parsing, so a bad chain fails when the experiment is read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::presets::{Cohort, Company, PresetName, PresetSpec};
use super::synthetic::SyntheticConfig;
use super::{DataError, Task, TaskChain, TaskKind};

/// Default split seed (both shapes).
pub const DEFAULT_SPLIT_SEED: u64 = 2024;
/// Default number of quantile buckets for `numeric_transform: bucketize`.
pub const DEFAULT_BUCKETS: usize = 10;

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

/// The generated data set: generator settings plus split and encoding options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyntheticSpec {
    /// Name for tables (default `synthetic`).
    pub name: Option<String>,
    /// Generator settings (`synthetic:`).
    pub config: SyntheticConfig,
    /// Split (default: seeded random 8:1:1, seed 2024).
    pub split: SplitSpec,
    /// How numeric features are encoded (default standardize).
    pub numeric_transform: NumericTransform,
    /// Buckets per numeric feature under `bucketize` (default 10).
    pub buckets: usize,
}

/// A CSV / Parquet data set described by a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularSpec {
    /// Name for tables (default: the file stem).
    pub name: Option<String>,
    /// The file; `.csv` or `.parquet`. Relative paths resolve against the
    /// experiment file's folder; a leading `$HTL_DATA_DIR/` against [`super::data_dir`].
    pub path: PathBuf,
    /// Categorical feature columns.
    pub categorical: Vec<String>,
    /// Numeric feature columns.
    pub numeric: Vec<String>,
    /// How numeric features are encoded (default standardize).
    pub numeric_transform: NumericTransform,
    /// Buckets per numeric feature under `bucketize` (default 10).
    pub buckets: usize,
    /// The task chain: binary tasks in funnel order, then at most one regression task.
    pub tasks: Vec<TaskSpec>,
    /// Optional time column: sort by it and split in order (else a seeded random split).
    pub time: Option<String>,
    /// Split ratios and seed.
    pub split: SplitSpec,
}

/// One task of a tabular chain (`{name, kind, column}`; `column` defaults to `name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Task name (as shown in tables).
    pub name: String,
    /// `binary` or `regression`.
    pub kind: TaskKind,
    /// Label column (default: the task name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl TaskSpec {
    /// The label column.
    pub fn column(&self) -> &str {
        self.column.as_deref().unwrap_or(&self.name)
    }
}

/// `split: {ratios, seed}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitSpec {
    /// Train, valid, test proportions (normalised by their sum). Default [0.8, 0.1, 0.1].
    pub ratios: Vec<f64>,
    /// Seed of the random permutation (unused with a time column). Default 2024.
    pub seed: u64,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec {
            ratios: vec![0.8, 0.1, 0.1],
            seed: DEFAULT_SPLIT_SEED,
        }
    }
}

/// How numeric features reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumericTransform {
    /// (x - mean) / std with train statistics; missing -> 0.
    #[default]
    Standardize,
    /// Quantile bins fitted on train, as extra categorical fields `<x>_bucket` (0 = missing).
    Bucketize,
}

/// The serde shape: every key of both variants, optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatasetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<PresetName>,
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
    split: Option<SplitSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clip_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    company: Option<Company>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cohort: Option<Cohort>,
}

/// `synthetic:` written with no value (`synthetic:` / `synthetic: ~`) means all defaults.
fn present_as_some<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SyntheticConfig>, D::Error> {
    Ok(Some(
        Option::<SyntheticConfig>::deserialize(d)?.unwrap_or_default(),
    ))
}

impl TryFrom<RawDatasetSpec> for DatasetSpec {
    type Error = DataError;

    fn try_from(raw: RawDatasetSpec) -> Result<Self, DataError> {
        let preset_only: Vec<&str> = [
            ("clip_seconds", raw.clip_seconds.is_some()),
            ("company", raw.company.is_some()),
            ("cohort", raw.cohort.is_some()),
        ]
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
        if raw.preset.is_none() && !preset_only.is_empty() {
            return Err(DataError::InvalidSpec(format!(
                "`{}` belongs to a `preset:` data set; add `preset:` or remove it",
                preset_only.join("`, `")
            )));
        }
        let spec = if let Some(preset) = raw.preset {
            let stray: Vec<&str> = [
                ("synthetic", raw.synthetic.is_some()),
                ("categorical", raw.categorical.is_some()),
                ("numeric", raw.numeric.is_some()),
                ("tasks", raw.tasks.is_some()),
                ("time", raw.time.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect();
            if !stray.is_empty() {
                return Err(DataError::InvalidSpec(format!(
                    "`preset: {preset}` cannot be combined with `{}`; a preset defines its own columns, tasks and split (use `path:` for its folder), or remove `preset:` to describe a file yourself",
                    stray.join("`, `")
                )));
            }
            DatasetSpec::Preset(PresetSpec {
                preset,
                name: raw.name,
                path: raw.path,
                split: raw.split.unwrap_or_default(),
                numeric_transform: raw.numeric_transform.unwrap_or_default(),
                buckets: raw.buckets.unwrap_or(DEFAULT_BUCKETS),
                clip_seconds: raw.clip_seconds,
                company: raw.company,
                cohort: raw.cohort,
            })
        } else if let Some(config) = raw.synthetic {
            let stray: Vec<&str> = [
                ("path", raw.path.is_some()),
                ("categorical", raw.categorical.is_some()),
                ("numeric", raw.numeric.is_some()),
                ("tasks", raw.tasks.is_some()),
                ("time", raw.time.is_some()),
            ]
            .iter()
            .filter(|(_, set)| *set)
            .map(|(k, _)| *k)
            .collect();
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
            DatasetSpec::Tabular(TabularSpec {
                name: raw.name,
                path,
                categorical: raw.categorical.unwrap_or_default(),
                numeric: raw.numeric.unwrap_or_default(),
                numeric_transform: raw.numeric_transform.unwrap_or_default(),
                buckets: raw.buckets.unwrap_or(DEFAULT_BUCKETS),
                tasks: raw.tasks.unwrap_or_default(),
                time: raw.time,
                split: raw.split.unwrap_or_default(),
            })
        };
        spec.validate()?;
        Ok(spec)
    }
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
                split: Some(t.split),
                ..Default::default()
            },
            DatasetSpec::Preset(p) => RawDatasetSpec {
                name: p.name,
                preset: Some(p.preset),
                path: p.path,
                numeric_transform: Some(p.numeric_transform),
                buckets: Some(p.buckets),
                split: Some(p.split),
                clip_seconds: p.clip_seconds,
                company: p.company,
                cohort: p.cohort,
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

    /// A registered real data set with default options and `path:` (None: `$HTL_DATA_DIR/<folder>`).
    pub fn preset(preset: PresetName, path: Option<PathBuf>) -> Self {
        DatasetSpec::Preset(PresetSpec {
            path,
            ..PresetSpec::new(preset)
        })
    }

    /// Short name for tables: `name:` if given, else `synthetic`, the preset name or the file stem.
    pub fn label(&self) -> String {
        match self {
            DatasetSpec::Synthetic(s) => s.name.clone().unwrap_or_else(|| "synthetic".into()),
            DatasetSpec::Preset(p) => p.name.clone().unwrap_or_else(|| p.preset.to_string()),
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
            DatasetSpec::Preset(p) => Ok(p.preset.task_chain()),
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
    /// ratios, bucket count, generator ranges, columns used twice.
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
                p.validate()?;
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
}

impl TabularSpec {
    /// Every configured column with its role, in a fixed order (categorical,
    /// numeric, tasks, time); errors if a column is used twice (the time column
    /// may also be a feature).
    pub fn columns_by_role(&self) -> Result<Vec<(String, super::Role)>, DataError> {
        use super::Role;
        let mut out: Vec<(String, Role)> = Vec::new();
        let mut push = |col: &str, role: Role| -> Result<(), DataError> {
            if let Some((_, first)) = out.iter().find(|(c, _)| c == col) {
                return Err(DataError::ColumnReused {
                    column: col.to_string(),
                    first: first.clone(),
                    second: role,
                });
            }
            out.push((col.to_string(), role));
            Ok(())
        };
        for c in &self.categorical {
            push(c, Role::Categorical)?;
        }
        for c in &self.numeric {
            push(c, Role::Numeric)?;
        }
        for t in &self.tasks {
            push(t.column(), Role::Task(t.name.clone()))?;
        }
        if let Some(time) = &self.time {
            if !out.iter().any(|(c, _)| c == time) {
                out.push((time.clone(), Role::Time));
            }
        }
        Ok(out)
    }

    /// The data file with `$HTL_DATA_DIR/` expanded and relative paths joined to `base_dir`.
    pub fn resolved_path(&self, base_dir: &Path) -> PathBuf {
        resolve_path(&self.path, base_dir)
    }
}

/// Expands a leading `$HTL_DATA_DIR` / `${HTL_DATA_DIR}` and joins relative paths to `base_dir`.
pub fn resolve_path(path: &Path, base_dir: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    for prefix in ["$HTL_DATA_DIR", "${HTL_DATA_DIR}"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\') {
                return super::data_dir().join(rest.trim_start_matches(['/', '\\']));
            }
        }
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

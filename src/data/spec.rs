//! The generic pieces of the YAML `dataset:` block, shared by every kind of
//! source: tasks of a described file, split, numeric encoding, time column
//! type, and path resolution. The block as a whole is
//! [`DatasetSpec`](super::source::DatasetSpec); each source adds its own keys
//! (the generator's settings, a file's columns, a preset's options).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::types::TaskKind;

/// Default split seed (both shapes).
pub const DEFAULT_SPLIT_SEED: u64 = 2024;
/// Default number of quantile buckets for `numeric_transform: bucketize`.
pub const DEFAULT_BUCKETS: usize = 10;

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

/// `time_type:`: how the `time:` column is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeType {
    /// Numbers when most non-empty cells are numbers (then every cell must be
    /// one: a stray word is an error naming its row), else text.
    #[default]
    Auto,
    /// Numbers; a cell that is not a number is an error naming its row.
    Number,
    /// Text, in byte order (ISO dates such as `2024-03-01 10:00` sort correctly).
    Text,
}

impl TimeType {
    /// True for the default (not written when serialised).
    pub fn is_auto(&self) -> bool {
        *self == TimeType::Auto
    }
}

/// The folder of the shared real data: `$HTL_DATA_DIR` if set, else
/// `../shared/data` relative to the current directory (the repository root
/// when run from there).
pub fn data_dir() -> PathBuf {
    match std::env::var_os("HTL_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join("..")
            .join("shared")
            .join("data"),
    }
}

/// Expands a leading `$HTL_DATA_DIR` / `${HTL_DATA_DIR}` and joins relative paths to `base_dir`.
pub fn resolve_path(path: &Path, base_dir: &Path) -> PathBuf {
    let text = path.to_string_lossy();
    for prefix in ["$HTL_DATA_DIR", "${HTL_DATA_DIR}"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            if rest.is_empty() || rest.starts_with('/') || rest.starts_with('\\') {
                return data_dir().join(rest.trim_start_matches(['/', '\\']));
            }
        }
    }
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

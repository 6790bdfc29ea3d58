//! `hillstrom`: Kevin Hillstrom's MineThatData e-mail campaign (2008).
//!
//! File: `hillstrom.csv` in `path:` (the copy in `$HTL_DATA_DIR/hillstrom`),
//! or the original download
//! `Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv`,
//! whose treatment column is called `segment` (read as `treatment`); `path:`
//! may also name the CSV file itself.
//!
//! * Categorical: history_segment, mens, womens, zip_code, newbie, channel, treatment.
//! * Numeric: recency, history.
//! * Chain: visit → conversion → spend (dollars; > 0 exactly when conversion = 1).
//! * Split: seeded random 8:1:1 (no time column); `split:` overrides.
//!
//! Loads exactly what the tabular spec [`tabular_spec`] loads.

use std::path::{Path, PathBuf};

use super::common::{Folder, NoOptions, Preset, PresetSpec};
use crate::data::error::DataError;
use crate::data::io::read_header;
use crate::data::spec::{NumericTransform, SplitSpec, TaskSpec, TimeType, DEFAULT_BUCKETS};
use crate::data::tabular::{self, TabularSpec};
use crate::data::types::{Dataset, TaskKind};

/// The `hillstrom` preset.
pub struct Hillstrom;

impl Preset for Hillstrom {
    type Options = NoOptions;

    fn name(&self) -> &'static str {
        "hillstrom"
    }
    fn default_folder(&self) -> &'static str {
        "hillstrom"
    }
    fn download_page(&self) -> &'static str {
        "https://blog.minethatdata.com/2008/03/minethatdata-e-mail-analytics-and-data.html"
    }
    fn expected_files(&self) -> &'static str {
        "hillstrom.csv (or the original Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[
            ("visit", TaskKind::Binary),
            ("conversion", TaskKind::Binary),
            ("spend", TaskKind::Regression),
        ]
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Ok(vec![file(folder)?])
    }
    fn load(
        &self,
        spec: &PresetSpec,
        _: &NoOptions,
        folder: &Folder,
        name: String,
    ) -> Result<Dataset, DataError> {
        load(spec, folder, name)
    }
}

/// Categorical feature columns.
pub const CATEGORICAL: [&str; 7] = [
    "history_segment",
    "mens",
    "womens",
    "zip_code",
    "newbie",
    "channel",
    "treatment",
];
/// Numeric feature columns.
pub const NUMERIC: [&str; 2] = ["recency", "history"];
/// The file name of the original download.
pub const ORIGINAL_FILE: &str =
    "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv";

/// The CSV file the preset reads.
pub fn file(folder: &Folder) -> Result<PathBuf, DataError> {
    if folder.dir.is_file() {
        return Ok(folder.dir.clone());
    }
    folder.first_of(&["hillstrom.csv", ORIGINAL_FILE])
}

/// Loads the preset (see the module docs).
pub fn load(spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError> {
    let path = file(folder)?;
    let base = tabular_spec();
    let header = read_header(&path)?;
    let alias = !header.iter().any(|c| c == "treatment") && header.iter().any(|c| c == "segment");
    let mut t = TabularSpec {
        path: path.clone(),
        split: spec.split.clone(),
        numeric_transform: spec.numeric_transform,
        buckets: spec.buckets,
        ..base
    };
    if alias {
        for c in t.categorical.iter_mut() {
            if c == "treatment" {
                *c = "segment".into();
            }
        }
    }
    let mut ds = tabular::load(&t, Path::new(""), name)?;
    if alias {
        for f in ds.cat_fields.iter_mut() {
            if f.name == "segment" {
                f.name = "treatment".into();
            }
        }
    }
    Ok(ds)
}

/// Hillstrom's MineThatData e-mail campaign (64,000 customers) as a plain
/// tabular spec on `$HTL_DATA_DIR/hillstrom/hillstrom.csv`:
/// `visit -> conversion -> spend`, seeded random 8:1:1 (no time column).
/// `{preset: hillstrom}` loads the same rows and encoding.
///
/// As YAML:
///
/// ```yaml
/// dataset:
///   name: hillstrom
///   path: $HTL_DATA_DIR/hillstrom/hillstrom.csv
///   categorical: [history_segment, mens, womens, zip_code, newbie, channel, treatment]
///   numeric: [recency, history]
///   tasks:
///     - { name: visit, kind: binary }
///     - { name: conversion, kind: binary }
///     - { name: spend, kind: regression }
/// ```
pub fn tabular_spec() -> TabularSpec {
    let task = |name: &str, kind| TaskSpec {
        name: name.into(),
        kind,
        column: None,
    };
    TabularSpec {
        name: Some("hillstrom".into()),
        path: PathBuf::from("$HTL_DATA_DIR/hillstrom/hillstrom.csv"),
        categorical: CATEGORICAL.iter().map(|s| s.to_string()).collect(),
        numeric: NUMERIC.iter().map(|s| s.to_string()).collect(),
        numeric_transform: NumericTransform::Standardize,
        buckets: DEFAULT_BUCKETS,
        tasks: vec![
            task("visit", TaskKind::Binary),
            task("conversion", TaskKind::Binary),
            task("spend", TaskKind::Regression),
        ],
        time: None,
        time_type: TimeType::Auto,
        split: SplitSpec::default(),
    }
}

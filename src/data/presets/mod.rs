//! Ready specs for the real data sets in `$HTL_DATA_DIR` (see
//! `../shared/data/README.md`).

use std::path::PathBuf;

use super::spec::{
    DatasetSpec, NumericTransform, SplitSpec, TabularSpec, TaskSpec, DEFAULT_BUCKETS,
};
use super::TaskKind;

/// Hillstrom's MineThatData e-mail campaign (64,000 customers):
/// `visit -> conversion -> spend`, seeded random 8:1:1 (no time column).
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
pub fn hillstrom() -> DatasetSpec {
    let cat = [
        "history_segment",
        "mens",
        "womens",
        "zip_code",
        "newbie",
        "channel",
        "treatment",
    ];
    let task = |name: &str, kind| TaskSpec {
        name: name.into(),
        kind,
        column: None,
    };
    DatasetSpec::Tabular(TabularSpec {
        name: Some("hillstrom".into()),
        path: PathBuf::from("$HTL_DATA_DIR/hillstrom/hillstrom.csv"),
        categorical: cat.iter().map(|s| s.to_string()).collect(),
        numeric: vec!["recency".into(), "history".into()],
        numeric_transform: NumericTransform::Standardize,
        buckets: DEFAULT_BUCKETS,
        tasks: vec![
            task("visit", TaskKind::Binary),
            task("conversion", TaskKind::Binary),
            task("spend", TaskKind::Regression),
        ],
        time: None,
        split: SplitSpec::default(),
    })
}

//! Ready-made real data sets: one YAML line sets files, columns, task chain
//! and split.
//!
//! ```yaml
//! dataset: {preset: hillstrom}                                  # path: default $HTL_DATA_DIR/hillstrom
//! dataset: {preset: kuairand_pure, path: /data/KuaiRand-Pure, clip_seconds: 600}
//! dataset: {preset: kaggle_avs, path: /data/avs, company: 103600030, cohort: [2012-03-01, 2012-07-01]}
//! dataset: {preset: aliexpress, path: /data/AliExpress_NL}
//! dataset: {preset: ali_ccp, path: $HTL_DATA_DIR/ali-ccp}
//! dataset: {preset: census_income, path: $HTL_DATA_DIR/census-income}
//! ```
//!
//! Keys besides `preset:` (all optional): `path:` (the folder holding the
//! release's files; relative paths resolve against the experiment file's
//! folder, `$HTL_DATA_DIR/...` against [`super::data_dir`]; default
//! `$HTL_DATA_DIR/<folder>`, see [`DynPreset::default_folder`]), `name:`,
//! `split: {ratios, seed}`, `numeric_transform:`, `buckets:`, and per preset
//! `clip_seconds:` (kuairand_pure), `company:` and `cohort:` (kaggle_avs).
//!
//! | preset | files in `path:` | chain | split |
//! | --- | --- | --- | --- |
//! | `hillstrom` | `hillstrom.csv` | visit → conversion → spend | random 8:1:1 |
//! | `kuairand_pure` | the two standard logs, `user_features_pure.csv`, `video_features_basic_pure.csv` | is_click → long_view → play_time (s) | time 8:1:1 on `time_ms` |
//! | `kaggle_avs` | `transactions.csv` | repurchase_1y → repurchase_1m → spend_1m | random 8:1:1 over customers |
//! | `aliexpress` | `train.csv`, `test.csv` | click → conversion | given: valid carved from train.csv |
//! | `ali_ccp` | `ali_ccp_{train,val,test}.csv` (or `_sample`) | click → purchase | given by the files |
//! | `census_income` | `census-income.{data,test}` (or `.sample`) | income_50k, never_married | given (MMoE) or random 8:1:1 |
//!
//! Each module documents its exact columns, features and label definitions.
//!
//! **Adding a preset**: write `presets/<name>.rs` with a unit struct that
//! implements [`Preset`] (name, folder, download page, expected files,
//! chain, its own typed options, source files, load), then add one line to
//! [`ALL`]. Nothing else names presets: the YAML parser, the missing-file
//! messages and the cache fingerprint (every file under `src/data/`, see
//! `build.rs`) find it there.

use super::error::DataError;

mod common;

pub mod aliccp;
pub mod aliexpress;
pub mod avs;
pub mod census;
pub mod hillstrom;
pub mod kuairand;

pub use common::{
    struct_fields, DynPreset, Folder, NoOptions, OptionMap, Preset, PresetRef, PresetSpec,
};

/// Every registered preset, in documentation order: the one list.
pub static ALL: &[&dyn DynPreset] = &[
    &hillstrom::Hillstrom,
    &kuairand::KuairandPure,
    &avs::KaggleAvs,
    &aliexpress::Aliexpress,
    &aliccp::AliCcp,
    &census::CensusIncome,
];

/// The preset called `name` (its YAML `preset:` value).
pub fn find(name: &str) -> Result<PresetRef, DataError> {
    ALL.iter()
        .find(|p| p.name() == name)
        .map(|p| PresetRef(*p))
        .ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|p| p.name()).collect();
            DataError::InvalidSpec(format!(
                "unknown preset `{name}`, expected one of `{}`",
                names.join("`, `")
            ))
        })
}

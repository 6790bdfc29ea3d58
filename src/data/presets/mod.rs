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
//! `$HTL_DATA_DIR/<folder>`, see [`PresetName::default_folder`]), `name:`,
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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::MissingPresetFile;
use super::spec::{
    resolve_path, DatasetSpec, NumericTransform, SplitSpec, TabularSpec, TaskSpec, DEFAULT_BUCKETS,
};
use super::{DataError, Dataset, Task, TaskChain, TaskKind};

pub mod aliccp;
pub mod aliexpress;
pub mod avs;
pub mod census;
pub mod hillstrom;
pub mod kuairand;

/// The registered presets (YAML `preset:` values in snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresetName {
    /// MineThatData e-mail campaign (Hillstrom 2008).
    Hillstrom,
    /// KuaiRand-Pure (Gao et al., CIKM 2022).
    KuairandPure,
    /// Kaggle "Acquire Valued Shoppers" transactions, customer level as in ZILN.
    KaggleAvs,
    /// AliExpress search logs of one country (MTReclib format).
    Aliexpress,
    /// Ali-CCP, torch-rechub CSV format.
    AliCcp,
    /// UCI census-income (KDD), the MMoE paper's benchmark.
    CensusIncome,
}

impl PresetName {
    /// Every preset, in documentation order.
    pub const ALL: [PresetName; 6] = [
        PresetName::Hillstrom,
        PresetName::KuairandPure,
        PresetName::KaggleAvs,
        PresetName::Aliexpress,
        PresetName::AliCcp,
        PresetName::CensusIncome,
    ];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PresetName::Hillstrom => "hillstrom",
            PresetName::KuairandPure => "kuairand_pure",
            PresetName::KaggleAvs => "kaggle_avs",
            PresetName::Aliexpress => "aliexpress",
            PresetName::AliCcp => "ali_ccp",
            PresetName::CensusIncome => "census_income",
        }
    }

    /// Folder under `$HTL_DATA_DIR` used when `path:` is not given.
    pub fn default_folder(self) -> &'static str {
        match self {
            PresetName::Hillstrom => "hillstrom",
            PresetName::KuairandPure => "KuaiRand-Pure",
            PresetName::KaggleAvs => "acquire-valued-shoppers-challenge",
            PresetName::Aliexpress => "aliexpress",
            PresetName::AliCcp => "ali-ccp",
            PresetName::CensusIncome => "census-income",
        }
    }

    /// The official download page, quoted in missing-file errors.
    pub fn download_page(self) -> &'static str {
        match self {
            PresetName::Hillstrom => {
                "https://blog.minethatdata.com/2008/03/minethatdata-e-mail-analytics-and-data.html"
            }
            PresetName::KuairandPure => {
                "https://kuairand.com (files: https://zenodo.org/records/10439422, KuaiRand-Pure)"
            }
            PresetName::KaggleAvs => {
                "https://www.kaggle.com/competitions/acquire-valued-shoppers-challenge/data"
            }
            PresetName::Aliexpress => "https://tianchi.aliyun.com/dataset/74690",
            PresetName::AliCcp => {
                "https://tianchi.aliyun.com/dataset/408 (CSV files as prepared by torch-rechub: https://github.com/datawhalechina/torch-rechub)"
            }
            PresetName::CensusIncome => "https://archive.ics.uci.edu/dataset/117/census+income+kdd",
        }
    }

    /// The files the preset reads, for messages.
    pub fn expected_files(self) -> &'static str {
        match self {
            PresetName::Hillstrom => {
                "hillstrom.csv (or the original Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv)"
            }
            PresetName::KuairandPure => {
                "log_standard_4_08_to_4_21_pure.csv, log_standard_4_22_to_5_08_pure.csv, user_features_pure.csv and video_features_basic_pure.csv (the release's data/ folder)"
            }
            PresetName::KaggleAvs => "transactions.csv (decompressed)",
            PresetName::Aliexpress => {
                "train.csv and test.csv of one country folder (e.g. AliExpress_NL)"
            }
            PresetName::AliCcp => {
                "ali_ccp_train.csv, ali_ccp_val.csv and ali_ccp_test.csv (or ali_ccp_{train,val,test}_sample.csv)"
            }
            PresetName::CensusIncome => {
                "census-income.data and census-income.test (or one census-income.sample)"
            }
        }
    }

    /// The task chain the preset produces.
    pub fn task_chain(self) -> TaskChain {
        use TaskKind::{Binary, Regression};
        let tasks: &[(&str, TaskKind)] = match self {
            PresetName::Hillstrom => &[
                ("visit", Binary),
                ("conversion", Binary),
                ("spend", Regression),
            ],
            PresetName::KuairandPure => &[
                ("is_click", Binary),
                ("long_view", Binary),
                ("play_time", Regression),
            ],
            PresetName::KaggleAvs => &[
                ("repurchase_1y", Binary),
                ("repurchase_1m", Binary),
                ("spend_1m", Regression),
            ],
            PresetName::Aliexpress => &[("click", Binary), ("conversion", Binary)],
            PresetName::AliCcp => &[("click", Binary), ("purchase", Binary)],
            PresetName::CensusIncome => &[("income_50k", Binary), ("never_married", Binary)],
        };
        TaskChain::new(
            tasks
                .iter()
                .map(|(name, kind)| Task {
                    name: (*name).into(),
                    kind: *kind,
                })
                .collect(),
        )
        .expect("preset chains are valid")
    }
}

impl std::fmt::Display for PresetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `dataset: {preset: ...}`: a registered data set plus its options.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetSpec {
    /// Which data set.
    pub preset: PresetName,
    /// Name for tables (default: the preset name).
    pub name: Option<String>,
    /// Folder of the release's files (default `$HTL_DATA_DIR/<default folder>`).
    pub path: Option<PathBuf>,
    /// Ratios and seed of the split (how they are used depends on the preset).
    pub split: SplitSpec,
    /// How numeric features are encoded.
    pub numeric_transform: NumericTransform,
    /// Buckets per numeric feature under bucketize.
    pub buckets: usize,
    /// kuairand_pure: clip play time at this many seconds (default: no clipping).
    pub clip_seconds: Option<f64>,
    /// kaggle_avs: which company's transactions (default [`avs::DEFAULT_COMPANY`]).
    pub company: Option<Company>,
    /// kaggle_avs: which customers, by first purchase date (default [`avs::default_cohort`]).
    pub cohort: Option<Cohort>,
}

impl PresetSpec {
    /// The preset with default options.
    pub fn new(preset: PresetName) -> Self {
        PresetSpec {
            preset,
            name: None,
            path: None,
            split: SplitSpec::default(),
            numeric_transform: NumericTransform::Standardize,
            buckets: DEFAULT_BUCKETS,
            clip_seconds: None,
            company: None,
            cohort: None,
        }
    }

    /// The preset with default options and `path:`.
    pub fn at(preset: PresetName, path: impl Into<PathBuf>) -> Self {
        PresetSpec {
            path: Some(path.into()),
            ..PresetSpec::new(preset)
        }
    }

    /// Checks the options that do not need data.
    pub fn validate(&self) -> Result<(), DataError> {
        let only = |key: &str, owner: PresetName| -> DataError {
            DataError::InvalidSpec(format!(
                "`{key}:` applies only to the {owner} preset, not to {}",
                self.preset
            ))
        };
        if let Some(c) = self.clip_seconds {
            if self.preset != PresetName::KuairandPure {
                return Err(only("clip_seconds", PresetName::KuairandPure));
            }
            if !(c.is_finite() && c > 0.0) {
                return Err(DataError::InvalidSpec(format!(
                    "`clip_seconds: {c}` is invalid; give a positive number of seconds"
                )));
            }
        }
        if self.company.is_some() && self.preset != PresetName::KaggleAvs {
            return Err(only("company", PresetName::KaggleAvs));
        }
        if let Some(c) = &self.cohort {
            if self.preset != PresetName::KaggleAvs {
                return Err(only("cohort", PresetName::KaggleAvs));
            }
            c.days()?;
        }
        Ok(())
    }

    /// The folder holding the files, and whether it is the default one.
    pub fn folder(&self, base_dir: &Path) -> Folder {
        match &self.path {
            Some(p) => Folder {
                preset: self.preset,
                dir: resolve_path(p, base_dir),
                defaulted: false,
            },
            None => Folder {
                preset: self.preset,
                dir: super::data_dir().join(self.preset.default_folder()),
                defaulted: true,
            },
        }
    }
}

/// The folder a preset reads, with the helpers that find its files.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Which preset.
    pub preset: PresetName,
    /// The folder.
    pub dir: PathBuf,
    /// True when `path:` was not given.
    pub defaulted: bool,
}

impl Folder {
    /// `dir/name`, which must exist.
    pub fn file(&self, name: &str) -> Result<PathBuf, DataError> {
        let p = self.dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(self.missing(name))
        }
    }

    /// The first of `names` that exists in the folder (the error names the first).
    pub fn first_of(&self, names: &[&str]) -> Result<PathBuf, DataError> {
        names
            .iter()
            .map(|n| self.dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| self.missing(names[0]))
    }

    /// The missing-file error for `name` in this folder.
    pub fn missing(&self, name: &str) -> DataError {
        let path = self.dir.join(name);
        let mut hint = String::new();
        for ext in ["gz", "zip", "7z", "tar.gz"] {
            let packed = self.dir.join(format!("{name}.{ext}"));
            if packed.is_file() {
                let how = match ext {
                    "gz" => format!("gunzip -k {name}.gz"),
                    "zip" => format!("unzip {name}.zip"),
                    "7z" => format!("7z x {name}.7z"),
                    _ => format!("tar xzf {name}.tar.gz"),
                };
                hint = format!(
                    "; found \"{}\": decompress it first ({how})",
                    packed.display()
                );
                break;
            }
        }
        if hint.is_empty() && !self.dir.exists() {
            hint = " (nor does its folder)".into();
        }
        if hint.is_empty() && self.preset == PresetName::Aliexpress {
            let countries: Vec<String> = std::fs::read_dir(&self.dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("AliExpress_"))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if !countries.is_empty() {
                hint = format!(
                    "; the folder holds country folders ({}): point `path:` at one of them",
                    countries.join(", ")
                );
            }
        }
        DataError::PresetFileNotFound(Box::new(MissingPresetFile {
            preset: self.preset.as_str().into(),
            path,
            dir: self.dir.clone(),
            expected: self.preset.expected_files().into(),
            default_note: if self.defaulted {
                format!(
                    ", the default $HTL_DATA_DIR/{}; set `path:` or HTL_DATA_DIR",
                    self.preset.default_folder()
                )
            } else {
                String::new()
            },
            hint,
            download: self.preset.download_page().into(),
        }))
    }
}

/// kaggle_avs `company:`: one company id, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CompanyRaw", into = "CompanyRaw")]
pub enum Company {
    /// Every company's transactions.
    All,
    /// One company (the ZILN notebook uses one at a time).
    Id(u64),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CompanyRaw {
    Id(u64),
    Word(String),
}

impl TryFrom<CompanyRaw> for Company {
    type Error = String;
    fn try_from(raw: CompanyRaw) -> Result<Self, String> {
        match raw {
            CompanyRaw::Id(id) => Ok(Company::Id(id)),
            CompanyRaw::Word(w) if w == "all" => Ok(Company::All),
            CompanyRaw::Word(w) => w.trim().parse::<u64>().map(Company::Id).map_err(|_| {
                format!("`company: {w}` is invalid; give a company id (e.g. 103600030) or `all`")
            }),
        }
    }
}

impl From<Company> for CompanyRaw {
    fn from(c: Company) -> Self {
        match c {
            Company::All => CompanyRaw::Word("all".into()),
            Company::Id(id) => CompanyRaw::Id(id),
        }
    }
}

impl std::fmt::Display for Company {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Company::All => f.write_str("all"),
            Company::Id(id) => write!(f, "{id}"),
        }
    }
}

/// kaggle_avs `cohort:`: customers whose first purchase day is in
/// `[from, to)` (dates `YYYY-MM-DD`), or `all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CohortRaw", into = "CohortRaw")]
pub enum Cohort {
    /// Every customer.
    All,
    /// First purchase in `[from, to)`.
    Range {
        /// First day included, `YYYY-MM-DD`.
        from: String,
        /// First day excluded, `YYYY-MM-DD`.
        to: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CohortRaw {
    Word(String),
    Range(Vec<String>),
}

impl TryFrom<CohortRaw> for Cohort {
    type Error = String;
    fn try_from(raw: CohortRaw) -> Result<Self, String> {
        let c = match raw {
            CohortRaw::Word(w) if w == "all" => Cohort::All,
            CohortRaw::Range(v) if v.len() == 2 => Cohort::Range {
                from: v[0].clone(),
                to: v[1].clone(),
            },
            _ => return Err(
                "`cohort:` must be `all` or two dates [from, to), e.g. [2012-03-01, 2012-07-01]"
                    .into(),
            ),
        };
        c.days().map_err(|e| e.to_string())?;
        Ok(c)
    }
}

impl From<Cohort> for CohortRaw {
    fn from(c: Cohort) -> Self {
        match c {
            Cohort::All => CohortRaw::Word("all".into()),
            Cohort::Range { from, to } => CohortRaw::Range(vec![from, to]),
        }
    }
}

impl Cohort {
    /// `[from, to)` as days since 1970-01-01, or None for `all`.
    pub fn days(&self) -> Result<Option<(i32, i32)>, DataError> {
        match self {
            Cohort::All => Ok(None),
            Cohort::Range { from, to } => {
                let parse = |s: &str| {
                    avs::parse_date(s.as_bytes()).ok_or_else(|| {
                        DataError::InvalidSpec(format!(
                            "`cohort:` date \"{s}\" is invalid; write dates as YYYY-MM-DD"
                        ))
                    })
                };
                let (a, b) = (parse(from)?, parse(to)?);
                if a >= b {
                    return Err(DataError::InvalidSpec(format!(
                        "`cohort: [{from}, {to}]` is empty; the first date must come before the second"
                    )));
                }
                Ok(Some((a, b)))
            }
        }
    }
}

impl std::fmt::Display for Cohort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cohort::All => f.write_str("all"),
            Cohort::Range { from, to } => write!(f, "[{from}, {to})"),
        }
    }
}

/// Loads the preset's data set.
pub fn load(spec: &PresetSpec, base_dir: &Path, name: String) -> Result<Dataset, DataError> {
    spec.validate()?;
    let folder = spec.folder(base_dir);
    match spec.preset {
        PresetName::Hillstrom => hillstrom::load(spec, &folder, name),
        PresetName::KuairandPure => kuairand::load(spec, &folder, name),
        PresetName::KaggleAvs => avs::load(spec, &folder, name),
        PresetName::Aliexpress => aliexpress::load(spec, &folder, name),
        PresetName::AliCcp => aliccp::load(spec, &folder, name),
        PresetName::CensusIncome => census::load(spec, &folder, name),
    }
}

/// The files the preset will read (each checked to exist), e.g. for a cache key.
pub fn source_files(spec: &PresetSpec, base_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let folder = spec.folder(base_dir);
    match spec.preset {
        PresetName::Hillstrom => Ok(vec![hillstrom::file(&folder)?]),
        PresetName::KuairandPure => Ok(kuairand::Files::find(&folder)?.all()),
        PresetName::KaggleAvs => Ok(vec![avs::file(&folder)?]),
        PresetName::Aliexpress => {
            let (a, b) = aliexpress::files(&folder)?;
            Ok(vec![a, b])
        }
        PresetName::AliCcp => Ok(aliccp::files(&folder)?.to_vec()),
        PresetName::CensusIncome => census::Files::find(&folder).map(|f| f.all()),
    }
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
pub fn hillstrom() -> DatasetSpec {
    let task = |name: &str, kind| TaskSpec {
        name: name.into(),
        kind,
        column: None,
    };
    DatasetSpec::Tabular(TabularSpec {
        name: Some("hillstrom".into()),
        path: PathBuf::from("$HTL_DATA_DIR/hillstrom/hillstrom.csv"),
        categorical: hillstrom::CATEGORICAL
            .iter()
            .map(|s| s.to_string())
            .collect(),
        numeric: hillstrom::NUMERIC.iter().map(|s| s.to_string()).collect(),
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

//! `aliexpress`: AliExpress search logs of one country (Li et al., CIKM
//! 2020), in the format MTReclib uses (`AliExpress_NL`, `_ES`, `_FR`, `_US`).
//!
//! Files in `path:` (one country folder): `train.csv` and `test.csv`, each
//! with the columns `search_id`, `categorical_1..categorical_16`,
//! `numerical_1..numerical_63`, `click`, `conversion`.
//!
//! * Categorical: categorical_1..16 (integer codes). Numeric: numerical_1..63.
//!   `search_id` is not a feature.
//! * Chain: `click → conversion` (classification only).
//! * Split given by the release: test = `test.csv`; valid = a seeded random
//!   share r_valid / (r_train + r_valid) of `train.csv` (1/9 at the default
//!   8:1:1; `split.ratios[2]` is not used), stratified by the (click,
//!   conversion) pattern so that rare positives are shared in proportion
//!   (see [`crate::data::split::carve_stratified`]); train = the rest of
//!   `train.csv`.

use std::path::PathBuf;

use super::common::{Folder, NoOptions, Preset, PresetSpec};
use crate::data::csvread::{self, Col, Ty};
use crate::data::encode::{self, GivenSplit};
use crate::data::error::{DataError, Role};
use crate::data::io::read_err;
use crate::data::split::{self, SplitIndices};
use crate::data::types::{Dataset, TaskKind};

/// The `aliexpress` preset.
pub struct Aliexpress;

impl Preset for Aliexpress {
    type Options = NoOptions;

    fn name(&self) -> &'static str {
        "aliexpress"
    }
    fn default_folder(&self) -> &'static str {
        "aliexpress"
    }
    fn download_page(&self) -> &'static str {
        "https://tianchi.aliyun.com/dataset/74690"
    }
    fn expected_files(&self) -> &'static str {
        "train.csv and test.csv of one country folder (e.g. AliExpress_NL)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[
            ("click", TaskKind::Binary),
            ("conversion", TaskKind::Binary),
        ]
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        let (a, b) = files(folder)?;
        Ok(vec![a, b])
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
    /// A folder of country folders: point `path:` at one of them.
    fn missing_hint(&self, folder: &Folder) -> Option<String> {
        let countries: Vec<String> = std::fs::read_dir(&folder.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("AliExpress_"))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        (!countries.is_empty()).then(|| {
            format!(
                "; the folder holds country folders ({}): point `path:` at one of them",
                countries.join(", ")
            )
        })
    }
}

/// Categorical feature columns.
pub fn categorical() -> Vec<String> {
    (1..=16).map(|i| format!("categorical_{i}")).collect()
}

/// Numeric feature columns.
pub fn numeric() -> Vec<String> {
    (1..=63).map(|i| format!("numerical_{i}")).collect()
}

/// `train.csv` and `test.csv` of the folder.
pub fn files(folder: &Folder) -> Result<(PathBuf, PathBuf), DataError> {
    Ok((folder.file("train.csv")?, folder.file("test.csv")?))
}

fn cols() -> Vec<Col> {
    let mut v: Vec<Col> = categorical()
        .into_iter()
        .map(|c| Col::new(c, Role::Categorical, Ty::Int))
        .collect();
    v.extend(
        numeric()
            .into_iter()
            .map(|c| Col::new(c, Role::Numeric, Ty::Float)),
    );
    v.push(Col::new("click", Role::Task("click".into()), Ty::Int));
    v.push(Col::new(
        "conversion",
        Role::Task("conversion".into()),
        Ty::Int,
    ));
    v
}

/// Loads the preset (see the module docs).
pub fn load(spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError> {
    let (train_path, test_path) = files(folder)?;
    let preset = Aliexpress.name();
    let train = csvread::read(&train_path, &cols(), preset)?;
    let test = csvread::read(&test_path, &cols(), preset)?;
    let (n_train, n_test) = (train.height(), test.height());
    for (p, n) in [(&train_path, n_train), (&test_path, n_test)] {
        if n == 0 {
            return Err(DataError::NoRows {
                source_name: p.display().to_string(),
            });
        }
    }
    let df = csvread::stack(vec![train, test], &train_path)?;
    let r = &spec.split.ratios;
    let train_rows: Vec<usize> = (0..n_train).collect();
    let strata = label_pattern(&df, &["click", "conversion"], n_train, &train_path)?;
    let (tr, va) = split::carve_stratified(
        &train_rows,
        &strata,
        (r[0], r[1]),
        spec.split.seed,
        ("train", "valid"),
    )?;
    let share = r[1] / (r[0] + r[1]);
    let rule = format!(
        "given: test = test.csv; valid = a random {} of train.csv stratified by (click, conversion), seed {}; train = the rest of train.csv",
        share_text(share),
        spec.split.seed
    );
    let mut layout = spec.layout(
        format!("{} + test.csv", train_path.display()),
        &categorical(),
        &numeric(),
    )?;
    layout.given = Some(GivenSplit {
        indices: SplitIndices {
            train: tr,
            valid: va,
            test: (n_train..n_train + n_test).collect(),
        },
        rule,
    });
    encode::encode_owned(df, &layout, name)
}

/// Per row (the first `n`): the pattern of the 0/1 `labels` as bits (anything
/// but 1 reads as 0; labels are validated later).
pub(crate) fn label_pattern(
    df: &polars::prelude::DataFrame,
    labels: &[&str],
    n: usize,
    path: &std::path::Path,
) -> Result<Vec<u64>, DataError> {
    use polars::prelude::*;
    let mut out = vec![0u64; n];
    for (k, c) in labels.iter().enumerate() {
        let col = df
            .column(c)
            .and_then(|s| s.cast(&DataType::Float64))
            .map_err(|e| read_err(path, e))?;
        let ca = col.f64().map_err(|e| read_err(path, e))?;
        for (o, v) in out.iter_mut().zip(ca.iter()) {
            if v == Some(1.0) {
                *o |= 1 << k;
            }
        }
    }
    Ok(out)
}

/// `1/9` for shares that are a unit fraction, else the decimal.
pub(crate) fn share_text(share: f64) -> String {
    let inv = 1.0 / share;
    if (inv - inv.round()).abs() < 1e-9 {
        format!("1/{}", inv.round() as i64)
    } else {
        format!("{share:.3}")
    }
}

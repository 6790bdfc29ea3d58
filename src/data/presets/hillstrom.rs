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
//! Loads exactly what the tabular spec [`super::hillstrom()`] loads.

use std::path::{Path, PathBuf};

use super::{Folder, PresetSpec};
use crate::data::spec::{DatasetSpec, TabularSpec};
use crate::data::tabular::{self, read_header};
use crate::data::{DataError, Dataset};

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
    let DatasetSpec::Tabular(base) = super::hillstrom() else {
        unreachable!("hillstrom() is tabular")
    };
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

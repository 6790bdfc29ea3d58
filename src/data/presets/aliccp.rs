//! `ali_ccp`: Alibaba Click and Conversion Prediction (Ma et al., SIGIR
//! 2018, the ESMM paper) in the CSV format prepared by torch-rechub.
//!
//! Files in `path:`: `ali_ccp_train.csv`, `ali_ccp_val.csv`,
//! `ali_ccp_test.csv`; when `ali_ccp_train.csv` is absent, the samples
//! `ali_ccp_train_sample.csv`, `ali_ccp_val_sample.csv`,
//! `ali_ccp_test_sample.csv` (as in `$HTL_DATA_DIR/ali-ccp`). Columns: the
//! labels `click`, `purchase`; 23 label-encoded categorical fields `101`,
//! `121`, `122`, `124`, `125`, `126`, `127`, `128`, `129`, `205`, `206`,
//! `207`, `210`, `216`, `508`, `509`, `702`, `853`, `301`, `109_14`,
//! `110_14`, `127_14`, `150_14`; 8 dense fields `D109_14`, `D110_14`,
//! `D127_14`, `D150_14`, `D508`, `D509`, `D702`, `D853`.
//!
//! * Chain: `click → purchase` (classification only).
//! * Split given by the files (train / val / test); `split:` is not used.

use std::path::PathBuf;

use super::common::{Folder, NoOptions, Preset, PresetSpec};
use crate::data::csvread::{self, Col, Ty};
use crate::data::encode::{self, GivenSplit};
use crate::data::error::{DataError, Role};
use crate::data::split::SplitIndices;
use crate::data::types::{Dataset, TaskKind};

/// The `ali_ccp` preset.
pub struct AliCcp;

impl Preset for AliCcp {
    type Options = NoOptions;

    fn name(&self) -> &'static str {
        "ali_ccp"
    }
    fn default_folder(&self) -> &'static str {
        "ali-ccp"
    }
    fn download_page(&self) -> &'static str {
        "https://tianchi.aliyun.com/dataset/408 (CSV files as prepared by torch-rechub: https://github.com/datawhalechina/torch-rechub)"
    }
    fn expected_files(&self) -> &'static str {
        "ali_ccp_train.csv, ali_ccp_val.csv and ali_ccp_test.csv (or ali_ccp_{train,val,test}_sample.csv)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[("click", TaskKind::Binary), ("purchase", TaskKind::Binary)]
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Ok(files(folder)?.to_vec())
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

/// The categorical fields, in file order.
pub const CATEGORICAL: [&str; 23] = [
    "101", "121", "122", "124", "125", "126", "127", "128", "129", "205", "206", "207", "210",
    "216", "508", "509", "702", "853", "301", "109_14", "110_14", "127_14", "150_14",
];
/// The dense fields, in file order.
pub const NUMERIC: [&str; 8] = [
    "D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853",
];

/// The train, val and test files (full set, else the samples).
pub fn files(folder: &Folder) -> Result<[PathBuf; 3], DataError> {
    let full = ["ali_ccp_train.csv", "ali_ccp_val.csv", "ali_ccp_test.csv"];
    let sample = [
        "ali_ccp_train_sample.csv",
        "ali_ccp_val_sample.csv",
        "ali_ccp_test_sample.csv",
    ];
    let names = if folder.dir.join(full[0]).is_file() || !folder.dir.join(sample[0]).is_file() {
        full
    } else {
        sample
    };
    Ok([
        folder.file(names[0])?,
        folder.file(names[1])?,
        folder.file(names[2])?,
    ])
}

fn cols() -> Vec<Col> {
    let mut v: Vec<Col> = CATEGORICAL
        .iter()
        .map(|c| Col::new(*c, Role::Categorical, Ty::Int))
        .collect();
    v.extend(
        NUMERIC
            .iter()
            .map(|c| Col::new(*c, Role::Numeric, Ty::Float)),
    );
    v.push(Col::new("click", Role::Task("click".into()), Ty::Int));
    v.push(Col::new("purchase", Role::Task("purchase".into()), Ty::Int));
    v
}

/// Loads the preset (see the module docs).
pub fn load(spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError> {
    let paths = files(folder)?;
    let preset = AliCcp.name();
    let frames = paths
        .iter()
        .map(|p| csvread::read(p, &cols(), preset))
        .collect::<Result<Vec<_>, _>>()?;
    let sizes: Vec<usize> = frames.iter().map(|f| f.height()).collect();
    for (p, n) in paths.iter().zip(&sizes) {
        if *n == 0 {
            return Err(DataError::NoRows {
                source_name: p.display().to_string(),
            });
        }
    }
    let df = csvread::stack(frames, &paths[0])?;
    let file_name = |p: &PathBuf| {
        p.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (a, b) = (sizes[0], sizes[0] + sizes[1]);
    let cat: Vec<String> = CATEGORICAL.iter().map(|s| s.to_string()).collect();
    let num: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    let mut layout = spec.layout(format!("{} (+ val, test)", paths[0].display()), &cat, &num)?;
    layout.given = Some(GivenSplit {
        indices: SplitIndices {
            train: (0..a).collect(),
            valid: (a..b).collect(),
            test: (b..df.height()).collect(),
        },
        rule: format!(
            "given: {}, {}, {}",
            file_name(&paths[0]),
            file_name(&paths[1]),
            file_name(&paths[2])
        ),
    });
    encode::encode_owned(df, &layout, name)
}

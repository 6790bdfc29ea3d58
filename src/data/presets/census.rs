//! `census_income`: UCI census-income (KDD), the first benchmark of the MMoE
//! paper (Ma et al., KDD 2018).
//!
//! Files in `path:`: the release's `census-income.data` (199,523 rows) and
//! `census-income.test` (99,762 rows), decompressed; or, when
//! `census-income.data` is absent, one `census-income.sample` (as in
//! `$HTL_DATA_DIR/census-income`). No header; comma-separated, values with
//! a leading space. 42 fields per line (41 attributes and the income
//! label), or 43 with a leading row id (the sample), which is dropped.
//!
//! Column names (file order; DeepCTR's short names for the UCI attributes):
//! age, class_worker, det_ind_code, det_occ_code, education, wage_per_hour,
//! hs_college, marital_stat, major_ind_code, major_occ_code, race,
//! hisp_origin, sex, union_member, unemp_reason, full_or_part_emp,
//! capital_gains, capital_losses, stock_dividends, tax_filer_stat,
//! region_prev_res, state_prev_res, det_hh_fam_stat, det_hh_summ,
//! instance_weight, mig_chg_msa, mig_chg_reg, mig_move_reg, mig_same,
//! mig_prev_sunbelt, num_emp, fam_under_18, country_father, country_mother,
//! country_self, citizenship, own_or_self, vet_question, vet_benefits,
//! weeks_worked, year, income.
//!
//! * Tasks (MMoE group 1, both binary): `income_50k` = income is
//!   `50000+.`; `never_married` = marital_stat is `Never married`.
//! * Features: the 7 continuous attributes (age, wage_per_hour,
//!   capital_gains, capital_losses, stock_dividends, num_emp, weeks_worked)
//!   numeric; the other attributes categorical (coded ones such as
//!   det_ind_code and year too; `?` is a category). Not features:
//!   marital_stat and income (labels) and instance_weight (a sampling
//!   weight, not an attribute). As in MMoE, the household attributes
//!   (det_hh_fam_stat, det_hh_summ) stay in although they partly reveal
//!   marital status.
//! * Split: with the release files, as in MMoE: train = census-income.data,
//!   valid and test = census-income.test halved at random (seed
//!   `split.seed`); with the sample, seeded random `split.ratios` (8:1:1).
//!
//! Row numbers in messages are line numbers (the files have no header).

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::common::{Folder, NoOptions, Preset, PresetSpec};
use crate::data::encode::{self, GivenSplit};
use crate::data::error::{DataError, Role, WrongTypeCell};
use crate::data::io::read_err;
use crate::data::split::{self, SplitIndices};
use crate::data::types::{Dataset, TaskKind};

/// The `census_income` preset.
pub struct CensusIncome;

impl Preset for CensusIncome {
    type Options = NoOptions;

    fn name(&self) -> &'static str {
        "census_income"
    }
    fn default_folder(&self) -> &'static str {
        "census-income"
    }
    fn download_page(&self) -> &'static str {
        "https://archive.ics.uci.edu/dataset/117/census+income+kdd"
    }
    fn expected_files(&self) -> &'static str {
        "census-income.data and census-income.test (or one census-income.sample)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[
            ("income_50k", TaskKind::Binary),
            ("never_married", TaskKind::Binary),
        ]
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Files::find(folder).map(|f| f.all())
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

/// The 42 columns of the release, in file order.
pub const COLUMNS: [&str; 42] = [
    "age",
    "class_worker",
    "det_ind_code",
    "det_occ_code",
    "education",
    "wage_per_hour",
    "hs_college",
    "marital_stat",
    "major_ind_code",
    "major_occ_code",
    "race",
    "hisp_origin",
    "sex",
    "union_member",
    "unemp_reason",
    "full_or_part_emp",
    "capital_gains",
    "capital_losses",
    "stock_dividends",
    "tax_filer_stat",
    "region_prev_res",
    "state_prev_res",
    "det_hh_fam_stat",
    "det_hh_summ",
    "instance_weight",
    "mig_chg_msa",
    "mig_chg_reg",
    "mig_move_reg",
    "mig_same",
    "mig_prev_sunbelt",
    "num_emp",
    "fam_under_18",
    "country_father",
    "country_mother",
    "country_self",
    "citizenship",
    "own_or_self",
    "vet_question",
    "vet_benefits",
    "weeks_worked",
    "year",
    "income",
];

/// The continuous attributes (numeric features).
pub const NUMERIC: [&str; 7] = [
    "age",
    "wage_per_hour",
    "capital_gains",
    "capital_losses",
    "stock_dividends",
    "num_emp",
    "weeks_worked",
];

const NOT_FEATURES: [&str; 3] = ["marital_stat", "instance_weight", "income"];

/// Categorical feature columns, in file order.
pub fn categorical() -> Vec<String> {
    COLUMNS
        .iter()
        .filter(|c| !NUMERIC.contains(c) && !NOT_FEATURES.contains(c))
        .map(|c| c.to_string())
        .collect()
}

/// The files found: the release pair, or the sample.
#[derive(Debug, Clone)]
pub enum Files {
    /// `census-income.data` and `census-income.test`.
    Release {
        /// Training file.
        data: PathBuf,
        /// Test file (halved into valid and test).
        test: PathBuf,
    },
    /// One `census-income.sample`.
    Sample(PathBuf),
}

impl Files {
    /// Finds the files in `folder`.
    pub fn find(folder: &Folder) -> Result<Files, DataError> {
        let data = folder.dir.join("census-income.data");
        let sample = folder.dir.join("census-income.sample");
        if !data.is_file() && sample.is_file() {
            return Ok(Files::Sample(sample));
        }
        Ok(Files::Release {
            data: folder.file("census-income.data")?,
            test: folder.file("census-income.test")?,
        })
    }

    /// Every file, in reading order.
    pub fn all(&self) -> Vec<PathBuf> {
        match self {
            Files::Release { data, test } => vec![data.clone(), test.clone()],
            Files::Sample(p) => vec![p.clone()],
        }
    }
}

/// Parsed rows of one or more files, column-wise.
struct Table {
    text: Vec<Vec<String>>,
    num: Vec<Vec<f64>>,
    income: Vec<f64>,
    never_married: Vec<f64>,
}

const PRESET: &str = "census_income";

fn parse_into(path: &Path, t: &mut Table) -> Result<usize, DataError> {
    let raw = std::fs::read(path).map_err(|e| read_err(path, e))?;
    let body = String::from_utf8_lossy(&raw);
    let cats = categorical();
    let cat_pos: Vec<usize> = cats
        .iter()
        .map(|c| COLUMNS.iter().position(|x| x == c).expect("known"))
        .collect();
    let num_pos: Vec<usize> = NUMERIC
        .iter()
        .map(|c| COLUMNS.iter().position(|x| x == c).expect("known"))
        .collect();
    let marital = COLUMNS
        .iter()
        .position(|c| *c == "marital_stat")
        .expect("known");
    let mut width: Option<usize> = None;
    let mut rows = 0usize;
    let mut fields: Vec<&str> = Vec::with_capacity(43);
    for (line_no, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let row = line_no + 1;
        fields.clear();
        fields.extend(line.split(',').map(str::trim));
        let w = *width.get_or_insert(fields.len());
        if (w != 42 && w != 43) || fields.len() != w {
            return Err(DataError::Read {
                path: path.to_path_buf(),
                message: format!(
                    "line {row} has {} comma-separated fields; census-income files have 42 (41 attributes and the income label), or 43 with a leading row id, on every line",
                    fields.len()
                ),
            });
        }
        let f = &fields[w - 42..];
        for (k, &p) in cat_pos.iter().enumerate() {
            t.text[k].push(f[p].to_string());
        }
        for (k, &p) in num_pos.iter().enumerate() {
            let v = f[p];
            let x = if v.is_empty() || v == "?" {
                f64::NAN
            } else {
                v.parse::<f64>().map_err(|_| {
                    DataError::WrongType(Box::new(WrongTypeCell {
                        preset: PRESET.into(),
                        source_name: path.display().to_string(),
                        column: NUMERIC[k].into(),
                        role: Role::Numeric,
                        value: v.into(),
                        row,
                        expected: "numbers".into(),
                    }))
                })?
            };
            t.num[k].push(x);
        }
        let income = f[41].trim_end_matches('.');
        t.income.push(match income {
            "50000+" => 1.0,
            "- 50000" | "-50000" => 0.0,
            other => {
                return Err(DataError::WrongType(Box::new(WrongTypeCell {
                    preset: PRESET.into(),
                    source_name: path.display().to_string(),
                    column: "income".into(),
                    role: Role::Task("income_50k".into()),
                    value: other.into(),
                    row,
                    expected: "\"- 50000.\" or \"50000+.\"".into(),
                })))
            }
        });
        t.never_married
            .push(f64::from(u8::from(f[marital] == "Never married")));
        rows += 1;
    }
    if rows == 0 {
        return Err(DataError::NoRows {
            source_name: path.display().to_string(),
        });
    }
    Ok(rows)
}

/// Loads the preset (see the module docs).
pub fn load(spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError> {
    let files = Files::find(folder)?;
    let cats = categorical();
    let mut t = Table {
        text: vec![Vec::new(); cats.len()],
        num: vec![Vec::new(); NUMERIC.len()],
        income: Vec::new(),
        never_married: Vec::new(),
    };
    let paths = files.all();
    let mut sizes = Vec::new();
    for p in &paths {
        sizes.push(parse_into(p, &mut t)?);
    }
    let n = t.income.len();
    let mut cols: Vec<Column> = Vec::new();
    for (c, v) in cats.iter().zip(t.text) {
        cols.push(Column::new(c.as_str().into(), v));
    }
    for (c, v) in NUMERIC.iter().zip(t.num) {
        cols.push(Column::new((*c).into(), v));
    }
    cols.push(Column::new("income_50k".into(), t.income));
    cols.push(Column::new("never_married".into(), t.never_married));
    let df = DataFrame::new(n, cols).map_err(|e| read_err(&paths[0], e))?;

    let num: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    let mut layout = spec.layout(paths[0].display().to_string(), &cats, &num)?;
    if let Files::Release { .. } = files {
        let test_rows: Vec<usize> = (sizes[0]..n).collect();
        let (valid, test) =
            split::carve(&test_rows, (1.0, 1.0), spec.split.seed, ("valid", "test"))?;
        layout.given = Some(GivenSplit {
            indices: SplitIndices {
                train: (0..sizes[0]).collect(),
                valid,
                test,
            },
            rule: format!(
                "given: train = census-income.data; valid, test = census-income.test halved at random (seed {}), as in MMoE",
                spec.split.seed
            ),
        });
    }
    encode::encode_owned(df, &layout, name)
}

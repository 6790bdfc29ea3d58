//! CSV / Parquet files described by a [`TabularSpec`].
//!
//! The file type comes from the extension (`.csv`, `.parquet`, any case).
//! Only the configured columns are read. CSV files are read with numeric and
//! label columns typed as floats and categorical columns as text; if that
//! typed read fails (a stray word in a numeric column, a time column whose
//! type changes after the first rows), the columns are read again as text and
//! parsed here, so the error names the column, the value and its row.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use polars::prelude::*;

use super::encode::{self, Layout};
use super::error::{DataError, Role};
use super::io::{check_csv, check_file, read_err, read_header, FileKind};
use super::spec::{resolve_path, NumericTransform, SplitSpec, TaskSpec, TimeType};
use super::types::{Dataset, Task};

/// A CSV / Parquet data set described by a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularSpec {
    /// Name for tables (default: the file stem).
    pub name: Option<String>,
    /// The file; `.csv` or `.parquet`. Relative paths resolve against the
    /// experiment file's folder; a leading `$HTL_DATA_DIR/` against [`crate::data::data_dir`].
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
    /// How the time column is ordered (`time_type:`; default auto).
    pub time_type: TimeType,
    /// Split ratios and seed.
    pub split: SplitSpec,
}

impl TabularSpec {
    /// Every configured column with its role, in a fixed order (categorical,
    /// numeric, tasks, time); errors if a column is used twice (the time column
    /// may also be a feature).
    pub fn columns_by_role(&self) -> Result<Vec<(String, Role)>, DataError> {
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

/// Loads, validates, splits and encodes the file of `spec`.
pub fn load(spec: &TabularSpec, base_dir: &Path, name: String) -> Result<Dataset, DataError> {
    spec.columns_by_role()?;
    let path = spec.resolved_path(base_dir);
    let layout = Layout {
        source: path.display().to_string(),
        categorical: spec.categorical.clone(),
        numeric: spec.numeric.clone(),
        transform: spec.numeric_transform,
        buckets: spec.buckets,
        tasks: spec
            .tasks
            .iter()
            .map(|t| {
                (
                    Task {
                        name: t.name.clone(),
                        kind: t.kind,
                    },
                    t.column().to_string(),
                )
            })
            .collect(),
        time: spec.time.clone(),
        time_type: spec.time_type,
        split: spec.split.clone(),
        given: None,
    };
    let df = read_table(&path, &layout)?;
    encode::encode_owned(df, &layout, name)
}

/// Reads the columns `layout` needs from `path` (checking the file and the
/// column names first).
pub fn read_table(path: &Path, layout: &Layout) -> Result<DataFrame, DataError> {
    let kind = check_file(path)?;
    let header = read_header(path)?;
    encode::check_columns(layout, &header)?;
    let cols = layout.columns();
    match kind {
        FileKind::Csv => {
            check_csv(path)?;
            read_csv(path, &cols)
        }
        FileKind::Parquet => {
            let names: Vec<String> = cols.iter().map(|(c, _)| c.clone()).collect();
            let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
            ParquetReader::new(file)
                .with_columns(Some(names))
                .finish()
                .map_err(|e| read_err(path, e))
        }
    }
}

fn read_csv(path: &Path, cols: &[(String, Role)]) -> Result<DataFrame, DataError> {
    let names: Arc<[PlSmallStr]> = cols
        .iter()
        .map(|(c, _)| PlSmallStr::from(c.as_str()))
        .collect();
    let typed = Schema::from_iter(cols.iter().filter_map(|(c, role)| {
        let dtype = match role {
            Role::Categorical => DataType::String,
            Role::Numeric | Role::Task(_) => DataType::Float64,
            Role::Time | Role::Key | Role::Source => return None,
        };
        Some(Field::new(PlSmallStr::from(c.as_str()), dtype))
    }));
    let attempt = |overwrite: Schema, infer: Option<usize>| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_columns(Some(names.clone()))
            .with_schema_overwrite(Some(Arc::new(overwrite)))
            .with_infer_schema_length(infer)
            .try_into_reader_with_file_path(Some(PathBuf::from(path)))
            .and_then(|r| r.finish())
    };
    match attempt(typed, Some(10_000)) {
        Ok(df) => Ok(df),
        Err(_) => {
            // Everything as text; `encode` parses and reports the bad cell.
            let text = Schema::from_iter(
                cols.iter()
                    .map(|(c, _)| Field::new(PlSmallStr::from(c.as_str()), DataType::String)),
            );
            attempt(text, Some(0)).map_err(|e| read_err(path, e))
        }
    }
}

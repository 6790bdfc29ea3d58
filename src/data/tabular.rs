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
use super::spec::TabularSpec;
use super::{DataError, Dataset, Role, Task};

/// Supported file types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl FileKind {
    /// The kind for `path`'s extension, if supported.
    pub fn of(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FileKind::Csv),
            "parquet" => Some(FileKind::Parquet),
            _ => None,
        }
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
        FileKind::Csv => read_csv(path, &cols),
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

/// The file's kind, or why it cannot be read.
pub fn check_file(path: &Path) -> Result<FileKind, DataError> {
    if !path.exists() {
        return Err(DataError::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    FileKind::of(path).ok_or_else(|| DataError::UnsupportedExtension {
        path: path.to_path_buf(),
    })
}

/// The column names of a CSV or Parquet file, in file order.
pub fn read_header(path: &Path) -> Result<Vec<String>, DataError> {
    match check_file(path)? {
        FileKind::Csv => {
            let df = CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_n_rows(Some(1))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish())
                .map_err(|e| read_err(path, e))?;
            Ok(df
                .get_column_names()
                .iter()
                .map(|s| s.to_string())
                .collect())
        }
        FileKind::Parquet => {
            let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
            let schema = ParquetReader::new(file)
                .schema()
                .map_err(|e| read_err(path, e))?;
            Ok(schema.iter_names().map(|s| s.to_string()).collect())
        }
    }
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
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
            let mut df = attempt(text, Some(0)).map_err(|e| read_err(path, e))?;
            if let Some((time, _)) = cols.iter().find(|(_, r)| *r == Role::Time) {
                numeric_time_if_possible(&mut df, time);
            }
            Ok(df)
        }
    }
}

/// A text time column whose every cell is a number is sorted as numbers.
fn numeric_time_if_possible(df: &mut DataFrame, col: &str) {
    let Ok(c) = df.column(col) else { return };
    let Ok(ca) = c.str() else { return };
    let parsed: Option<Vec<Option<f64>>> = ca
        .iter()
        .map(|v| match v {
            None => Some(None),
            Some(t) => t.trim().parse::<f64>().ok().map(Some),
        })
        .collect();
    if let Some(values) = parsed {
        let s = Column::new(PlSmallStr::from(col), values);
        let _ = df.with_column(s);
    }
}

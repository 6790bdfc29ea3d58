//! Typed CSV reading for the presets: check the columns a release must have
//! (with close matches on a miss), read them with the release's types, and on
//! a type error name the column, the cell and its row.

use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::error::{close_matches, DataError, Role, WrongTypeCell};
use super::io::{check_csv, read_err, read_header};

/// The type a release stores in a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    /// Integers (ids, codes, 0/1 flags, millisecond times).
    Int,
    /// Numbers.
    Float,
    /// Text.
    Text,
}

impl Ty {
    fn dtype(self) -> DataType {
        match self {
            Ty::Int => DataType::Int64,
            Ty::Float => DataType::Float64,
            Ty::Text => DataType::String,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Ty::Int => "integers",
            Ty::Float => "numbers",
            Ty::Text => "text",
        }
    }
}

/// One column to read.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    /// Column name as in the release.
    pub name: String,
    /// What the preset uses it for (shown in messages).
    pub role: Role,
    /// The release's type.
    pub ty: Ty,
}

impl Col {
    pub fn new(name: impl Into<String>, role: Role, ty: Ty) -> Self {
        Col {
            name: name.into(),
            role,
            ty,
        }
    }
}

/// Errors with [`DataError::MissingColumn`] for the first of `cols` not in `header`.
pub(crate) fn check_header(path: &Path, header: &[String], cols: &[Col]) -> Result<(), DataError> {
    for c in cols {
        if !header.contains(&c.name) {
            return Err(DataError::MissingColumn {
                source_name: path.display().to_string(),
                column: c.name.clone(),
                role: c.role.clone(),
                suggestions: close_matches(&c.name, header),
                available: header.to_vec(),
            });
        }
    }
    Ok(())
}

/// Reads `cols` (in that order) from the CSV file at `path`, which has a
/// header. Integer categorical columns that hold other text are read as
/// text (a category is a category); any other cell of the wrong type is a
/// [`DataError::WrongType`] naming `preset`.
pub(crate) fn read(path: &Path, cols: &[Col], preset: &str) -> Result<DataFrame, DataError> {
    let header = read_header(path)?;
    check_header(path, &header, cols)?;
    check_csv(path)?;
    let attempt = |text_cats: bool, all_text: bool| {
        let schema = Schema::from_iter(cols.iter().map(|c| {
            let dtype = if all_text || (text_cats && c.role == Role::Categorical) {
                DataType::String
            } else {
                match (&c.role, c.ty) {
                    // Half the memory for the wide releases (AliExpress, Ali-CCP): a
                    // category code beyond i32 falls back to text, and numeric
                    // features end up as f32 anyway.
                    (Role::Categorical, Ty::Int) => DataType::Int32,
                    (Role::Numeric, Ty::Float) => DataType::Float32,
                    _ => c.ty.dtype(),
                }
            };
            Field::new(PlSmallStr::from(c.name.as_str()), dtype)
        }));
        let names: Arc<[PlSmallStr]> = cols
            .iter()
            .map(|c| PlSmallStr::from(c.name.as_str()))
            .collect();
        CsvReadOptions::default()
            .with_has_header(true)
            .with_columns(Some(names))
            .with_schema_overwrite(Some(Arc::new(schema)))
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish())
    };
    let first_err = match attempt(false, false) {
        Ok(df) => return checked(reorder(df, cols, path)?, cols, path, preset),
        Err(e) => e,
    };
    if let Ok(df) = attempt(true, false) {
        return checked(reorder(df, cols, path)?, cols, path, preset);
    }
    let text = attempt(false, true).map_err(|e| read_err(path, e))?;
    for c in cols {
        if c.ty == Ty::Text || c.role == Role::Categorical {
            continue;
        }
        let s = text
            .column(&c.name)
            .map_err(|e| read_err(path, e))?
            .as_materialized_series()
            .clone();
        let ca = s.str().map_err(|e| read_err(path, e))?;
        for (i, v) in ca.iter().enumerate() {
            let Some(t) = v else { continue };
            let t = t.trim();
            if t.is_empty() {
                continue;
            }
            let ok = match c.ty {
                Ty::Int => t.parse::<i64>().is_ok(),
                _ => t.parse::<f64>().is_ok(),
            };
            if !ok {
                return Err(DataError::WrongType(Box::new(WrongTypeCell {
                    preset: preset.into(),
                    source_name: path.display().to_string(),
                    column: c.name.clone(),
                    role: c.role.clone(),
                    value: t.to_string(),
                    row: i + 1,
                    expected: c.ty.expected().into(),
                })));
            }
        }
    }
    Err(read_err(path, first_err))
}

/// Integer task labels must be 0 or 1 (checked here, so the message names
/// the file and its row rather than a row of the stacked table).
fn checked(df: DataFrame, cols: &[Col], path: &Path, preset: &str) -> Result<DataFrame, DataError> {
    for c in cols {
        if !(matches!(c.role, Role::Task(_)) && c.ty == Ty::Int) {
            continue;
        }
        let s = df.column(&c.name).map_err(|e| read_err(path, e))?;
        let ca = s.i64().map_err(|e| read_err(path, e))?;
        if let Some((i, v)) = ca
            .iter()
            .enumerate()
            .find(|(_, v)| !matches!(v, Some(0) | Some(1)))
        {
            return Err(DataError::WrongType(Box::new(WrongTypeCell {
                preset: preset.into(),
                source_name: path.display().to_string(),
                column: c.name.clone(),
                role: c.role.clone(),
                value: v.map_or(String::new(), |v| v.to_string()),
                row: i + 1,
                expected: "0/1 labels".into(),
            })));
        }
    }
    Ok(df)
}

/// The columns in the order asked for.
fn reorder(df: DataFrame, cols: &[Col], path: &Path) -> Result<DataFrame, DataError> {
    df.select(cols.iter().map(|c| PlSmallStr::from(c.name.as_str())))
        .map_err(|e| read_err(path, e))
}

/// Stacks frames with the same columns; a column whose type differs between
/// them (an integer category read as text in one file) becomes text in all.
pub(crate) fn stack(frames: Vec<DataFrame>, source: &Path) -> Result<DataFrame, DataError> {
    let mut frames = frames;
    let names: Vec<PlSmallStr> = frames[0].get_column_names_owned();
    for name in &names {
        let dtypes: Vec<DataType> = frames
            .iter()
            .map(|f| f.column(name).map(|c| c.dtype().clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| read_err(source, e))?;
        if dtypes.iter().any(|d| d != &dtypes[0]) {
            for f in frames.iter_mut() {
                let c = f
                    .column(name)
                    .and_then(|c| c.cast(&DataType::String))
                    .map_err(|e| read_err(source, e))?;
                f.with_column(c).map_err(|e| read_err(source, e))?;
            }
        }
    }
    let mut it = frames.into_iter();
    let mut out = it.next().expect("at least one frame");
    for f in it {
        out.vstack_mut(&f).map_err(|e| read_err(source, e))?;
    }
    // Kept as one chunk per file: no copy of the stacked columns.
    Ok(out)
}

//! From a polars `DataFrame` to an encoded [`Dataset`]: the one path shared by
//! files and the synthetic generator.
//!
//! Order of work (and so of errors): columns present → labels valid →
//! split → every binary task has both classes in train → features encoded
//! with statistics fitted on the training split only.
//!
//! * **Categorical** (and bucketised numeric) fields: the vocabulary is fitted
//!   on the training rows. Values seen in train get indices 1..=V, ordered by
//!   training frequency (most frequent first), ties broken by value: integers
//!   (an integer column, or text that reads as an integer) in numeric order,
//!   before any other text in byte order — so a table and its CSV copy get the
//!   same codes. Index 0 is
//!   the unseen/missing slot: values absent from train and missing cells map
//!   to 0. `vocab` = V + 1.
//! * **Standardize**: x' = (x - mean) / std with the mean and population std
//!   of the non-missing training values (std 0 or no values → 1); missing → 0.
//! * **Bucketize**: cuts c_i = sorted_train[floor(i m / B)] for i = 1..B-1
//!   (m non-missing training values, B buckets), duplicates and cuts at the
//!   training maximum removed; a value x goes to bucket 1 + #{i : c_i < x}
//!   (bins (-inf, c_1], (c_1, c_2], ...), so a point mass such as many zeros
//!   keeps a bucket of its own; missing → 0. The field is named `<x>_bucket`
//!   and has vocab #cuts + 2.
//! * **Labels** stay on their original scale (binary as 0.0 / 1.0).

use polars::prelude::*;

use super::error::{close_matches, DataError, Role};
use super::spec::{NumericTransform, SplitSpec, TimeType};
use super::split::{self, SplitIndices};
use super::types::{CatField, Dataset, Split, Task, TaskChain, TaskKind, TimeColumn};

/// A table's columns resolved to roles: what [`encode`] needs besides the frame.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Shown in messages: the file path or `synthetic data`.
    pub source: String,
    /// Categorical feature columns.
    pub categorical: Vec<String>,
    /// Numeric feature columns.
    pub numeric: Vec<String>,
    /// How numeric features are encoded.
    pub transform: NumericTransform,
    /// Buckets per numeric feature under bucketize.
    pub buckets: usize,
    /// Tasks in chain order, each with its label column.
    pub tasks: Vec<(Task, String)>,
    /// Optional time column.
    pub time: Option<String>,
    /// How a text time column is ordered.
    pub time_type: TimeType,
    /// Ratios and seed.
    pub split: SplitSpec,
    /// Splits fixed by the source (a release's own train / valid / test
    /// files); when set, `time` and `split` are not used for splitting.
    pub given: Option<GivenSplit>,
}

/// Train / valid / test rows decided by the data source itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenSplit {
    /// Row indices (into the frame) of each split; none may be empty.
    pub indices: SplitIndices,
    /// The rule as shown in tables, e.g. `given: train.csv (valid: random 1/9 of it, seed 2024), test.csv`.
    pub rule: String,
}

impl Layout {
    /// Every column the layout reads, with its role (a time column that is
    /// also a feature is listed once).
    pub fn columns(&self) -> Vec<(String, Role)> {
        let mut out: Vec<(String, Role)> = Vec::new();
        out.extend(
            self.categorical
                .iter()
                .map(|c| (c.clone(), Role::Categorical)),
        );
        out.extend(self.numeric.iter().map(|c| (c.clone(), Role::Numeric)));
        out.extend(
            self.tasks
                .iter()
                .map(|(t, c)| (c.clone(), Role::Task(t.name.clone()))),
        );
        if let Some(t) = &self.time {
            if !out.iter().any(|(c, _)| c == t) {
                out.push((t.clone(), Role::Time));
            }
        }
        out
    }
}

/// Errors with [`DataError::MissingColumn`] for the first configured column
/// not in `available` (in [`Layout::columns`] order).
pub fn check_columns(layout: &Layout, available: &[String]) -> Result<(), DataError> {
    for (col, role) in layout.columns() {
        if !available.contains(&col) {
            return Err(DataError::MissingColumn {
                source_name: layout.source.clone(),
                suggestions: close_matches(&col, available),
                column: col,
                role,
                available: available.to_vec(),
            });
        }
    }
    Ok(())
}

/// Validates, splits and encodes `df` (rows in file order) into a [`Dataset`].
pub fn encode(df: &DataFrame, layout: &Layout, name: String) -> Result<Dataset, DataError> {
    encode_owned(df.clone(), layout, name)
}

/// [`encode`] taking the frame: each feature column is dropped once encoded,
/// so memory held by the frame is released while the splits are built.
pub fn encode_owned(
    mut df: DataFrame,
    layout: &Layout,
    name: String,
) -> Result<Dataset, DataError> {
    let available: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    check_columns(layout, &available)?;
    let chain = TaskChain::new(layout.tasks.iter().map(|(t, _)| t.clone()).collect())?;
    let n = df.height();
    if n == 0 {
        return Err(DataError::NoRows {
            source_name: layout.source.clone(),
        });
    }

    // Labels, validated on every row.
    let mut labels: Vec<Vec<f32>> = Vec::with_capacity(layout.tasks.len());
    for (task, col) in &layout.tasks {
        labels.push(read_label(&df, layout, task, col)?);
    }
    let is_feature = |c: &String| layout.categorical.contains(c) || layout.numeric.contains(c);
    for (_, col) in &layout.tasks {
        if !is_feature(col) && layout.time.as_ref() != Some(col) {
            let _ = df.drop_in_place(col);
        }
    }

    // Split.
    let mut time_column: Option<TimeColumn> = None;
    let (idx, split_rule) = match (&layout.given, &layout.time) {
        (Some(g), _) => {
            for (name, part) in [
                ("train", &g.indices.train),
                ("valid", &g.indices.valid),
                ("test", &g.indices.test),
            ] {
                if part.is_empty() {
                    return Err(DataError::EmptySplit {
                        split: name,
                        rows: n,
                        ratios: g.rule.clone(),
                    });
                }
            }
            (g.indices.clone(), g.rule.clone())
        }
        (None, time) => match time {
            Some(t) => {
                let (order, info) = time_order(&df, t, layout)?;
                time_column = Some(info);
                (
                    split::cut(&order, &layout.split.ratios)?,
                    format!(
                        "time {} on column {t}",
                        split::ratios_label(&layout.split.ratios)
                    ),
                )
            }
            None => (
                split::random_split(n, &layout.split.ratios, layout.split.seed)?,
                format!(
                    "random {} seed {}",
                    split::ratios_label(&layout.split.ratios),
                    layout.split.seed
                ),
            ),
        },
    };

    if let Some(t) = &layout.time {
        if !is_feature(t) {
            let _ = df.drop_in_place(t);
        }
    }

    // Both classes in train for every binary task.
    for ((task, col), y) in layout.tasks.iter().zip(&labels) {
        if task.kind == TaskKind::Binary {
            let pos = idx.train.iter().filter(|&&i| y[i] > 0.5).count();
            if pos == 0 || pos == idx.train.len() {
                return Err(DataError::OneClass {
                    task: task.name.clone(),
                    column: col.clone(),
                    class: u8::from(pos > 0),
                    n: idx.train.len(),
                });
            }
        }
    }

    // Features, one column at a time: encoded, gathered into the three
    // splits, then dropped from the frame, so that an owned frame shrinks
    // while the splits grow (peak memory: about the frame plus one column).
    let parts = [&idx.train, &idx.valid, &idx.test];
    let mut out: [Split; 3] = parts.map(|rows| Split {
        n: rows.len(),
        labels: labels.iter().map(|c| gather(c, rows)).collect(),
        ..Split::default()
    });
    drop(labels);
    let release = |df: &mut DataFrame, col: &str, still_needed: bool| {
        if !still_needed {
            let _ = df.drop_in_place(col);
        }
    };
    let mut cat_fields: Vec<CatField> = Vec::new();
    for col in &layout.categorical {
        let (codes, vocab) = encode_categorical(&df, col, &idx.train)?;
        cat_fields.push(CatField {
            name: col.clone(),
            vocab,
        });
        for (s, rows) in out.iter_mut().zip(parts) {
            s.cat.push(gather(&codes, rows));
        }
        release(&mut df, col, layout.numeric.contains(col));
    }
    let mut num_fields: Vec<String> = Vec::new();
    for col in &layout.numeric {
        let x = read_f64(&df, col, &layout.source, Role::Numeric)?;
        match layout.transform {
            NumericTransform::Standardize => {
                let v = standardize(&x, &idx.train);
                for (s, rows) in out.iter_mut().zip(parts) {
                    s.num.push(gather(&v, rows));
                }
                num_fields.push(col.clone());
            }
            NumericTransform::Bucketize => {
                let cuts = quantile_cuts(&x, &idx.train, layout.buckets);
                let codes = bucketize(&x, &cuts);
                for (s, rows) in out.iter_mut().zip(parts) {
                    s.cat.push(gather(&codes, rows));
                }
                cat_fields.push(CatField {
                    name: format!("{col}_bucket"),
                    vocab: cuts.len() + 2,
                });
            }
        }
        release(&mut df, col, false);
    }
    let [train, valid, test] = out;
    Ok(Dataset {
        name,
        cat_fields,
        num_fields,
        tasks: chain,
        train,
        valid,
        test,
        split_rule,
        time: time_column,
    })
}

fn gather<T: Copy>(col: &[T], rows: &[usize]) -> Vec<T> {
    rows.iter().map(|&i| col[i]).collect()
}

fn series<'a>(df: &'a DataFrame, col: &str) -> &'a Series {
    df.column(col)
        .expect("column presence checked before")
        .as_materialized_series()
}

/// A first unparsable text cell: (0-based row, text).
type BadCell = Option<(usize, String)>;

/// The column as f64 (missing → NaN). Numeric and boolean columns are cast;
/// text columns are parsed (empty → missing) and the first cell that does
/// not parse is returned beside the values (it reads as NaN). Other types
/// are a [`DataError::NotNumericType`] naming `col` and `role`.
fn to_f64(
    s: &Series,
    source: &str,
    col: &str,
    role: &Role,
) -> Result<(Vec<f64>, BadCell), DataError> {
    let dtype = s.dtype();
    let not_numeric = || DataError::NotNumericType {
        source_name: source.to_string(),
        column: col.to_string(),
        role: role.clone(),
        dtype: dtype.to_string(),
    };
    if dtype.is_primitive_numeric() || dtype.is_bool() || dtype.is_null() {
        let c = s.cast(&DataType::Float64).map_err(|_| not_numeric())?;
        let ca = c.f64().map_err(|_| not_numeric())?;
        let v = ca.iter().map(|x| x.unwrap_or(f64::NAN)).collect();
        return Ok((v, None));
    }
    if dtype == &DataType::String {
        let ca = s.str().map_err(|_| not_numeric())?;
        let mut bad: BadCell = None;
        let v = ca
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                None => f64::NAN,
                Some(t) => {
                    let t = t.trim();
                    if t.is_empty() {
                        f64::NAN
                    } else {
                        t.parse::<f64>().unwrap_or_else(|_| {
                            if bad.is_none() {
                                bad = Some((i, t.to_string()));
                            }
                            f64::NAN
                        })
                    }
                }
            })
            .collect();
        return Ok((v, bad));
    }
    Err(not_numeric())
}

/// A numeric feature or regression target as f64 (missing → NaN); errors on
/// text that is not a number or a non-numeric type.
fn read_f64(df: &DataFrame, col: &str, source: &str, role: Role) -> Result<Vec<f64>, DataError> {
    match to_f64(series(df, col), source, col, &role)? {
        (v, None) => Ok(v),
        (_, Some((row, value))) => Err(DataError::NonNumeric {
            source_name: source.to_string(),
            column: col.to_string(),
            role,
            value,
            row: row + 1,
        }),
    }
}

fn read_label(
    df: &DataFrame,
    layout: &Layout,
    task: &Task,
    col: &str,
) -> Result<Vec<f32>, DataError> {
    let role = Role::Task(task.name.clone());
    match task.kind {
        TaskKind::Regression => {
            let y = read_f64(df, col, &layout.source, role)?;
            let mut non_finite = (0usize, 0usize);
            let mut negative = (0usize, 0usize);
            for (i, &v) in y.iter().enumerate() {
                if !v.is_finite() {
                    if non_finite.0 == 0 {
                        non_finite.1 = i + 1;
                    }
                    non_finite.0 += 1;
                } else if v < 0.0 {
                    if negative.0 == 0 {
                        negative.1 = i + 1;
                    }
                    negative.0 += 1;
                }
            }
            if non_finite.0 > 0 {
                return Err(DataError::TargetNotFinite {
                    column: col.to_string(),
                    task: task.name.clone(),
                    count: non_finite.0,
                    row: non_finite.1,
                });
            }
            if negative.0 > 0 {
                return Err(DataError::NegativeTarget {
                    column: col.to_string(),
                    task: task.name.clone(),
                    count: negative.0,
                    row: negative.1,
                });
            }
            Ok(y.into_iter().map(|v| v as f32).collect())
        }
        TaskKind::Binary => {
            let (y, bad_text) = to_f64(series(df, col), &layout.source, col, &role)?;
            let mut count = 0usize;
            let mut first: Option<(usize, String)> = None;
            for (i, &v) in y.iter().enumerate() {
                if v == 0.0 || v == 1.0 {
                    continue;
                }
                count += 1;
                if first.is_none() {
                    let shown = match &bad_text {
                        Some((r, t)) if *r == i => format!("\"{t}\""),
                        _ if v.is_nan() => "missing".to_string(),
                        _ => format!("\"{v}\""),
                    };
                    first = Some((i + 1, shown));
                }
            }
            if let Some((row, value)) = first {
                return Err(DataError::BadBinaryLabel {
                    column: col.to_string(),
                    task: task.name.clone(),
                    count,
                    value,
                    row,
                });
            }
            Ok(y.into_iter().map(|v| v as f32).collect())
        }
    }
}

/// Row order by the time column (stable: ties keep file order) and what the
/// column holds. A text column is ordered as numbers when its cells are
/// numbers (see [`TimeType`]); a number column with a stray word is an error
/// naming the first one.
fn time_order(
    df: &DataFrame,
    col: &str,
    layout: &Layout,
) -> Result<(Vec<usize>, TimeColumn), DataError> {
    let c = df.column(col).expect("column presence checked before");
    let nulls = c.null_count();
    if nulls > 0 {
        let first = c
            .is_null()
            .iter()
            .position(|x| x == Some(true))
            .unwrap_or(0);
        return Err(DataError::TimeMissing {
            column: col.to_string(),
            count: nulls,
            row: first + 1,
        });
    }
    let sort = |c: &Column| -> Vec<usize> {
        let idx = c.arg_sort(SortOptions {
            descending: false,
            nulls_last: true,
            multithreaded: true,
            maintain_order: true,
            limit: None,
        });
        idx.iter().map(|i| i.unwrap_or(0) as usize).collect()
    };
    let info = |kind: &str, min: String, max: String| TimeColumn {
        column: col.to_string(),
        kind: kind.to_string(),
        min,
        max,
    };
    let dtype = c.dtype().clone();
    if dtype.is_primitive_numeric() {
        let order = sort(c);
        let (Some(&lo), Some(&hi)) = (order.first(), order.last()) else {
            return Ok((order, info("numbers", String::new(), String::new())));
        };
        let kind = if dtype.is_integer() {
            "integers"
        } else {
            "numbers"
        };
        let shown = |i: usize| {
            c.get(i)
                .ok()
                .and_then(|v| v.extract::<f64>())
                .map_or_else(String::new, |v| v.to_string())
        };
        let (min, max) = (shown(lo), shown(hi));
        return Ok((order, info(kind, min, max)));
    }
    if dtype == DataType::String {
        let ca = c.str().map_err(|e| DataError::Read {
            path: layout.source.clone().into(),
            message: e.to_string(),
        })?;
        let text: Vec<&str> = ca.iter().map(|v| v.unwrap_or("")).collect();
        let text_order = |order: Vec<usize>| {
            let (min, max) = match (order.first(), order.last()) {
                (Some(&lo), Some(&hi)) => (text[lo].to_string(), text[hi].to_string()),
                _ => (String::new(), String::new()),
            };
            (order, info("text", min, max))
        };
        if layout.time_type == TimeType::Text {
            return Ok(text_order(sort(c)));
        }
        let mut values: Vec<Option<f64>> = Vec::with_capacity(text.len());
        let (mut words, mut first_word) = (0usize, None);
        let mut all_int = true;
        for (i, t) in text.iter().enumerate() {
            let t = t.trim();
            match t.parse::<f64>() {
                Ok(v) => {
                    all_int &= t.parse::<i64>().is_ok();
                    values.push(Some(v));
                }
                Err(_) => {
                    words += 1;
                    first_word.get_or_insert((i, t.to_string()));
                    values.push(None);
                }
            }
        }
        let numbers = text.len() - words;
        if let Some((row, value)) = first_word {
            if layout.time_type == TimeType::Number || numbers >= words {
                return Err(DataError::TimeNotNumeric {
                    source_name: layout.source.clone(),
                    column: col.to_string(),
                    value,
                    row: row + 1,
                });
            }
            return Ok(text_order(sort(c)));
        }
        let parsed = Column::new(PlSmallStr::from(col), values);
        let order = sort(&parsed);
        let shown = |i: usize| text[i].trim().to_string();
        let (min, max) = match (order.first(), order.last()) {
            (Some(&lo), Some(&hi)) => (shown(lo), shown(hi)),
            _ => (String::new(), String::new()),
        };
        let kind = if all_int { "integers" } else { "numbers" };
        return Ok((order, info(kind, min, max)));
    }
    // Dates, times and other orderable types: as polars orders them.
    let order = sort(c);
    let shown = |i: usize| {
        c.get(i)
            .map(|v| v.to_string().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let (min, max) = match (order.first(), order.last()) {
        (Some(&lo), Some(&hi)) => (shown(lo), shown(hi)),
        _ => (String::new(), String::new()),
    };
    Ok((order, info(&dtype.to_string(), min, max)))
}

/// Codes per row (file order) and vocab size; vocabulary fitted on `train`.
fn encode_categorical(
    df: &DataFrame,
    col: &str,
    train: &[usize],
) -> Result<(Vec<u32>, usize), DataError> {
    let s = series(df, col);
    let dtype = s.dtype().clone();
    if dtype.is_integer() {
        let c = s.cast(&DataType::Int64).map_err(|e| cast_err(col, e))?;
        let ca = c.i64().map_err(|e| cast_err(col, e))?;
        Ok(fit_codes(ca.iter(), s.len(), train, |a: &i64, b: &i64| {
            a.cmp(b)
        }))
    } else {
        let c = if dtype == DataType::String {
            s.clone()
        } else {
            s.cast(&DataType::String).map_err(|e| cast_err(col, e))?
        };
        let ca = c.str().map_err(|e| cast_err(col, e))?;
        let values = ca.iter().map(|v| v.filter(|t| !t.is_empty()));
        Ok(fit_codes(values, s.len(), train, |a: &&str, b: &&str| {
            text_order(a, b)
        }))
    }
}

fn cast_err(col: &str, e: PolarsError) -> DataError {
    DataError::InvalidSpec(format!(
        "column \"{col}\" cannot be used as a categorical feature: {e}"
    ))
}

const NO_CODE: u32 = u32::MAX;

/// Integers (as read from text) in numeric order first, then other text in byte order.
fn text_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

fn fit_codes<K, I>(
    values: I,
    n: usize,
    train: &[usize],
    order: impl Fn(&K, &K) -> std::cmp::Ordering,
) -> (Vec<u32>, usize)
where
    K: std::hash::Hash + Eq + Copy,
    I: Iterator<Item = Option<K>>,
{
    // First pass: a local id per distinct value (first-seen order).
    let mut map: PlHashMap<K, u32> = PlHashMap::default();
    let mut keys: Vec<K> = Vec::new();
    let mut local: Vec<u32> = Vec::with_capacity(n);
    for v in values {
        local.push(match v {
            None => NO_CODE,
            Some(k) => *map.entry(k).or_insert_with(|| {
                keys.push(k);
                (keys.len() - 1) as u32
            }),
        });
    }
    // Train frequencies, then the vocabulary order.
    let mut counts = vec![0u64; keys.len()];
    for &i in train {
        let l = local[i];
        if l != NO_CODE {
            counts[l as usize] += 1;
        }
    }
    let mut seen: Vec<u32> = (0..keys.len() as u32)
        .filter(|&l| counts[l as usize] > 0)
        .collect();
    seen.sort_unstable_by(|&a, &b| {
        counts[b as usize]
            .cmp(&counts[a as usize])
            .then_with(|| order(&keys[a as usize], &keys[b as usize]))
    });
    let mut final_of_local = vec![0u32; keys.len()];
    for (rank, &l) in seen.iter().enumerate() {
        final_of_local[l as usize] = rank as u32 + 1;
    }
    let codes = local
        .into_iter()
        .map(|l| {
            if l == NO_CODE {
                0
            } else {
                final_of_local[l as usize]
            }
        })
        .collect();
    (codes, seen.len() + 1)
}

/// Train mean and population std of the finite values (std 0 or none → 1).
pub(crate) fn train_stats(x: &[f64], train: &[usize]) -> (f64, f64) {
    let (mut sum, mut m) = (0.0f64, 0usize);
    for &i in train {
        if x[i].is_finite() {
            sum += x[i];
            m += 1;
        }
    }
    if m == 0 {
        return (0.0, 1.0);
    }
    let mean = sum / m as f64;
    let mut ss = 0.0f64;
    for &i in train {
        if x[i].is_finite() {
            ss += (x[i] - mean) * (x[i] - mean);
        }
    }
    let std = (ss / m as f64).sqrt();
    (
        mean,
        if std > 0.0 && std.is_finite() {
            std
        } else {
            1.0
        },
    )
}

fn standardize(x: &[f64], train: &[usize]) -> Vec<f32> {
    let (mean, std) = train_stats(x, train);
    x.iter()
        .map(|&v| {
            if v.is_finite() {
                ((v - mean) / std) as f32
            } else {
                0.0
            }
        })
        .collect()
}

/// Quantile cut points from the finite training values (see module docs).
pub(crate) fn quantile_cuts(x: &[f64], train: &[usize], buckets: usize) -> Vec<f64> {
    let mut v: Vec<f64> = train
        .iter()
        .map(|&i| x[i])
        .filter(|v| v.is_finite())
        .collect();
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len();
    let mut cuts: Vec<f64> = (1..buckets)
        .map(|i| v[(i * m / buckets).min(m - 1)])
        .collect();
    cuts.dedup();
    // A cut at the maximum would leave the top bucket empty in train.
    let max = v[m - 1];
    cuts.retain(|&c| c < max);
    cuts
}

fn bucketize(x: &[f64], cuts: &[f64]) -> Vec<u32> {
    x.iter()
        .map(|&v| {
            if v.is_finite() {
                1 + cuts.partition_point(|&c| c < v) as u32
            } else {
                0
            }
        })
        .collect()
}

/// Indices of the three splits as [`encode`] would make them (for tests and tools).
pub fn split_indices(df: &DataFrame, layout: &Layout) -> Result<SplitIndices, DataError> {
    if let Some(g) = &layout.given {
        return Ok(g.indices.clone());
    }
    match &layout.time {
        Some(t) => split::cut(&time_order(df, t, layout)?.0, &layout.split.ratios),
        None => split::random_split(df.height(), &layout.split.ratios, layout.split.seed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_by_train_frequency_then_value() {
        // train rows 0..6: b b b a a c ; row 6 "d" unseen in train, row 7 missing
        let vals = [
            Some("b"),
            Some("b"),
            Some("b"),
            Some("a"),
            Some("a"),
            Some("c"),
            Some("d"),
            None,
        ];
        let train: Vec<usize> = (0..6).collect();
        let by_text = |a: &&str, b: &&str| text_order(a, b);
        let (codes, vocab) = fit_codes(vals.iter().copied(), vals.len(), &train, by_text);
        assert_eq!(vocab, 4);
        assert_eq!(codes, vec![1, 1, 1, 2, 2, 3, 0, 0]);
        // ties broken by value
        let by_int = |a: &i64, b: &i64| a.cmp(b);
        let ints = [Some(5i64), Some(3), Some(10)];
        let (codes, vocab) = fit_codes(ints.into_iter(), 3, &[0, 1, 2], by_int);
        assert_eq!((codes, vocab), (vec![2, 1, 3], 4));
        // the same integers as text sort the same way; other text after them
        let text = [Some("5"), Some("3"), Some("10"), Some("x"), Some("-1")];
        let (codes, _) = fit_codes(text.into_iter(), 5, &[0, 1, 2, 3, 4], by_text);
        assert_eq!(codes, vec![3, 2, 4, 5, 1]);
    }

    #[test]
    fn quantile_cuts_and_buckets() {
        let x: Vec<f64> = (0..100).map(f64::from).collect();
        let train: Vec<usize> = (0..100).collect();
        let cuts = quantile_cuts(&x, &train, 4);
        assert_eq!(cuts, vec![25.0, 50.0, 75.0]);
        let b = bucketize(&[0.0, 24.9, 25.0, 25.5, 99.0, f64::NAN, -5.0, 1e9], &cuts);
        assert_eq!(b, vec![1, 1, 1, 2, 4, 0, 1, 4]);
        // a point mass at zero keeps its own bucket
        let x: Vec<f64> = std::iter::repeat_n(0.0, 90)
            .chain((0..10).map(f64::from))
            .collect();
        assert_eq!(quantile_cuts(&x, &train, 10), vec![0.0]);
        assert_eq!(bucketize(&[0.0, 3.0], &[0.0]), vec![1, 2]);
        // a 0/1 feature: one cut, no empty top bucket
        let x: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        assert_eq!(quantile_cuts(&x, &train, 10), vec![0.0]);
        // only train rows count
        assert_eq!(
            quantile_cuts(&[1.0, 2.0, 3.0, 1000.0], &[0, 1, 2], 2),
            vec![2.0]
        );
        assert!(quantile_cuts(&[f64::NAN], &[0], 4).is_empty());
    }

    #[test]
    fn train_stats_ignore_missing() {
        let x = [1.0, 3.0, f64::NAN, 100.0];
        assert_eq!(train_stats(&x, &[0, 1, 2]), (2.0, 1.0));
        assert_eq!(train_stats(&x, &[2]), (0.0, 1.0));
        assert_eq!(train_stats(&[4.0, 4.0], &[0, 1]), (4.0, 1.0));
    }
}

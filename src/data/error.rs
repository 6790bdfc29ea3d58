//! [`DataError`]: every way loading or generating a data set can fail.
//!
//! The `Display` text of each variant is the message a user sees (the CLI
//! prints it after `htl: error:`), so it names the file and/or column at fault
//! and says what to do. Tests pin the exact text; change it deliberately.
//!
//! Row numbers in messages are 1-based data rows in file order: row 1 is the
//! first row after a CSV header (line 2 of the file).

use std::fmt;
use std::path::PathBuf;

/// What a column is used for; shown in messages as `(task "spend")`,
/// `(categorical feature)`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A categorical feature (`categorical:`).
    Categorical,
    /// A numeric feature (`numeric:`).
    Numeric,
    /// The label of the named task (`tasks:`).
    Task(String),
    /// The time column used for the split (`time:`).
    Time,
    /// A key that joins or groups a release's files (`user_id`, `video_id`, a customer `id`).
    Key,
    /// A raw column a preset derives features or labels from (e.g. `play_time_ms`).
    Source,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Categorical => f.write_str("categorical feature"),
            Role::Numeric => f.write_str("numeric feature"),
            Role::Task(t) => write!(f, "task \"{t}\""),
            Role::Time => f.write_str("time column"),
            Role::Key => f.write_str("join key"),
            Role::Source => f.write_str("source column"),
        }
    }
}

/// Errors of the data layer. `Display` is the user-facing text.
#[derive(thiserror::Error, Debug)]
pub enum DataError {
    /// The data file does not exist.
    #[error(
        "data file \"{}\" does not exist; check the dataset's `path:` (a relative path resolves against the experiment file's folder; `$HTL_DATA_DIR/...` against the HTL_DATA_DIR environment variable, default ../shared/data)",
        path.display()
    )]
    FileNotFound {
        /// The resolved path.
        path: PathBuf,
    },

    /// The data file's extension is neither `.csv` nor `.parquet`.
    #[error(
        "data file \"{}\" has an unsupported extension; supported: .csv, .parquet",
        path.display()
    )]
    UnsupportedExtension {
        /// The resolved path.
        path: PathBuf,
    },

    /// `write_table` was asked for a file type it cannot write.
    #[error(
        "cannot write \"{}\": unsupported extension; supported: .csv, .parquet",
        path.display()
    )]
    UnsupportedOutput {
        /// The requested output path.
        path: PathBuf,
    },

    /// The file exists but could not be parsed (malformed CSV, bad Parquet ...).
    #[error("could not read data file \"{}\": {message}", path.display())]
    Read {
        /// The resolved path.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },

    /// Writing a table failed.
    #[error("could not write \"{}\": {message}", path.display())]
    Write {
        /// The output path.
        path: PathBuf,
        /// The writer's message.
        message: String,
    },

    /// A CSV row has more fields than the header.
    #[error(
        "data file \"{}\": row {row} has {found} fields but the header has {expected} columns; remove the extra fields, or quote a value that contains a comma",
        path.display()
    )]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: usize,
        /// Fields on that row.
        found: usize,
        /// Columns in the header.
        expected: usize,
    },

    /// A CSV row has fewer fields than the header.
    #[error(
        "data file \"{}\": row {row} has {found} fields but the header has {expected} columns (missing: \"{missing}\"); add the missing fields (an empty field between commas is a missing value)",
        path.display()
    )]
    ShortRow {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: usize,
        /// Fields on that row.
        found: usize,
        /// Columns in the header.
        expected: usize,
        /// The header names of the missing fields, joined by `", "`.
        missing: String,
    },

    /// A CSV file has an empty line among its rows.
    #[error(
        "data file \"{}\": row {row} is an empty line; remove it, or fill in its {expected} fields",
        path.display()
    )]
    EmptyRow {
        /// The file.
        path: PathBuf,
        /// 1-based data row.
        row: usize,
        /// Columns in the header.
        expected: usize,
    },

    /// A CSV file holds bytes that are not UTF-8.
    #[error(
        "data file \"{}\" is not valid UTF-8 at {location} (byte 0x{byte:02X}); save the file with UTF-8 encoding",
        path.display()
    )]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// `row 3, column "city"` or `the header (column 2)`.
        location: String,
        /// The first invalid byte.
        byte: u8,
    },

    /// A quoted CSV field is never closed.
    #[error(
        "data file \"{}\": the quote opened on row {row} is never closed; close it, or remove the stray `\"`",
        path.display()
    )]
    OpenQuote {
        /// The file.
        path: PathBuf,
        /// 1-based data row where the quote opened (0: the header).
        row: usize,
    },

    /// A header names a column twice.
    #[error(
        "data file \"{}\" has two columns named \"{column}\" (columns {first} and {second}); give every column a distinct name",
        path.display()
    )]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        column: String,
        /// 1-based position of its first occurrence.
        first: usize,
        /// 1-based position of the second.
        second: usize,
    },

    /// A numeric time column holds a cell that is not a number.
    #[error(
        "time column \"{column}\" in \"{source_name}\" holds numbers but row {row} has \"{value}\"; fix that value, or add `time_type: text` to order the column as text"
    )]
    TimeNotNumeric {
        /// The file.
        source_name: String,
        /// The time column.
        column: String,
        /// The first offending cell.
        value: String,
        /// Its 1-based data row.
        row: usize,
    },

    /// The file has a header but no data rows.
    #[error("data file \"{source_name}\" has no data rows")]
    NoRows {
        /// The file (or "synthetic data").
        source_name: String,
    },

    /// A configured column is not in the file.
    #[error(
        "column \"{column}\" ({role}) not found in \"{source_name}\"{}; available columns: {}",
        did_you_mean(suggestions),
        available.join(", ")
    )]
    MissingColumn {
        /// The file (or "synthetic data").
        source_name: String,
        /// The column asked for.
        column: String,
        /// What it was asked for.
        role: Role,
        /// Close matches by edit distance, closest first.
        suggestions: Vec<String>,
        /// Every column of the file, in file order.
        available: Vec<String>,
    },

    /// A numeric feature or regression target holds a value that is not a number.
    #[error(
        "column \"{column}\" ({role}) in \"{source_name}\" has a non-numeric value \"{value}\" at row {row}; {}",
        non_numeric_hint(role)
    )]
    NonNumeric {
        /// The file (or "synthetic data").
        source_name: String,
        /// The column.
        column: String,
        /// What it is used for.
        role: Role,
        /// The first offending cell, as written.
        value: String,
        /// Its 1-based data row.
        row: usize,
    },

    /// A numeric column has a type that cannot be read as numbers (dates, lists ...).
    #[error(
        "column \"{column}\" ({role}) in \"{source_name}\" has type {dtype}, which is not numeric; convert it to numbers or list it under `categorical:`"
    )]
    NotNumericType {
        /// The file (or "synthetic data").
        source_name: String,
        /// The column.
        column: String,
        /// What it is used for.
        role: Role,
        /// The column's type as the reader saw it.
        dtype: String,
    },

    /// The regression (core) target has missing, NaN or infinite values.
    #[error(
        "column \"{column}\" (task \"{task}\") has {count} missing, NaN or infinite values (first at row {row}); a regression core target must be a finite number >= 0 on every row"
    )]
    TargetNotFinite {
        /// The label column.
        column: String,
        /// The task name.
        task: String,
        /// How many rows are affected.
        count: usize,
        /// The first affected 1-based data row.
        row: usize,
    },

    /// The regression (core) target has negative values.
    #[error(
        "column \"{column}\" (task \"{task}\") has {count} negative values (first at row {row}); a regression core target must be >= 0"
    )]
    NegativeTarget {
        /// The label column.
        column: String,
        /// The task name.
        task: String,
        /// How many rows are affected.
        count: usize,
        /// The first affected 1-based data row.
        row: usize,
    },

    /// A binary label is not 0 or 1 (or is missing).
    #[error(
        "column \"{column}\" (task \"{task}\") has {count} values outside {{0, 1}} (first: {value} at row {row}); a binary task needs a label 0 or 1 on every row"
    )]
    BadBinaryLabel {
        /// The label column.
        column: String,
        /// The task name.
        task: String,
        /// How many rows are affected.
        count: usize,
        /// The first offending value, quoted, or `missing`.
        value: String,
        /// Its 1-based data row.
        row: usize,
    },

    /// A binary task has a single class in the training split.
    #[error(
        "task \"{task}\" (column \"{column}\") has only one class in the training split (all {n} rows are {class}); a binary task needs both 0 and 1 there: use more rows, another split, or drop the task"
    )]
    OneClass {
        /// The task name.
        task: String,
        /// The label column.
        column: String,
        /// The only class seen (0 or 1).
        class: u8,
        /// Rows in the training split.
        n: usize,
    },

    /// A split ends up with no rows.
    #[error(
        "the {split} split is empty: {rows} rows split {ratios} leave it no rows; use more rows or a larger ratio for it"
    )]
    EmptySplit {
        /// `train`, `valid` or `test`.
        split: &'static str,
        /// Rows in the data.
        rows: usize,
        /// The ratios as written in the split rule, e.g. `8:1:1`.
        ratios: String,
    },

    /// `split.ratios` is not three positive numbers.
    #[error(
        "split ratios {ratios:?} are invalid; give three positive numbers (train, valid, test), e.g. [0.8, 0.1, 0.1]"
    )]
    BadRatios {
        /// The ratios as configured.
        ratios: Vec<f64>,
    },

    /// The time column has missing values.
    #[error(
        "time column \"{column}\" has {count} missing values (first at row {row}); fill them, or remove `time:` to split at random"
    )]
    TimeMissing {
        /// The time column.
        column: String,
        /// How many rows are affected.
        count: usize,
        /// The first affected 1-based data row.
        row: usize,
    },

    /// The task chain is empty.
    #[error(
        "the dataset has no tasks; list at least one under `tasks:` (binary tasks in funnel order, then at most one regression task)"
    )]
    NoTasks,

    /// A regression task is followed by another task.
    #[error(
        "task \"{task}\" is a regression task but is not last (task \"{next}\" follows it); list the binary tasks first in funnel order, then the one regression (core) task"
    )]
    RegressionNotLast {
        /// The misplaced regression task.
        task: String,
        /// The task after it.
        next: String,
    },

    /// Two regression tasks.
    #[error(
        "tasks \"{first}\" and \"{second}\" are both regression tasks; a chain has at most one regression (core) task, and it comes last"
    )]
    TwoRegressionTasks {
        /// The first regression task.
        first: String,
        /// The second one.
        second: String,
    },

    /// Two tasks share a name.
    #[error("task \"{name}\" appears twice in the chain; give every task a distinct name")]
    DuplicateTask {
        /// The repeated name.
        name: String,
    },

    /// A task name is empty.
    #[error("a task has an empty name; give every task a name")]
    EmptyTaskName,

    /// One column is used in two roles.
    #[error(
        "column \"{column}\" is used twice (as {first} and as {second}); use each column in one role only"
    )]
    ColumnReused {
        /// The column.
        column: String,
        /// Its first role.
        first: Role,
        /// Its second role.
        second: Role,
    },

    /// A file that a preset reads is missing.
    #[error("{0}")]
    PresetFileNotFound(Box<MissingPresetFile>),

    /// A column of a release file holds a value of the wrong type.
    #[error("{0}")]
    WrongType(Box<WrongTypeCell>),

    /// The Kaggle transactions hold no customer for the configured company and cohort.
    #[error(
        "no customers in \"{}\" for company {company} with a first purchase in {cohort} (rows with purchaseamount <= 0 are dropped first); check `company:` and `cohort:`",
        path.display()
    )]
    NoCustomers {
        /// The transactions file.
        path: PathBuf,
        /// The company filter as written (`103600030` or `all`).
        company: String,
        /// The cohort as written (`[2012-03-01, 2012-07-01)` or `all`).
        cohort: String,
    },

    /// The `dataset:` block is inconsistent (e.g. `synthetic:` together with `path:`).
    #[error("invalid dataset: {0}")]
    InvalidSpec(String),

    /// A synthetic generator setting is out of range.
    #[error("invalid synthetic dataset: {0}")]
    InvalidSynthetic(String),
}

/// Details of [`DataError::PresetFileNotFound`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPresetFile {
    /// The preset (`kuairand_pure`, ...).
    pub preset: String,
    /// The file looked for.
    pub path: PathBuf,
    /// The folder searched.
    pub dir: PathBuf,
    /// Every file the preset reads, for the message.
    pub expected: String,
    /// `, the default $HTL_DATA_DIR/...; set ...` when no `path:` was given; else empty.
    pub default_note: String,
    /// Extra advice right after "does not exist" (`; found "x.gz": ...`, ` (nor does its folder)`), or empty.
    pub hint: String,
    /// The official download page.
    pub download: String,
}

impl fmt::Display for MissingPresetFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} data file \"{}\" does not exist{}; the `{}` preset reads {} from its `path:` folder (here \"{}\"{}). Download the data set from {}",
            self.preset,
            self.path.display(),
            self.hint,
            self.preset,
            self.expected,
            self.dir.display(),
            self.default_note,
            self.download
        )
    }
}

/// Details of [`DataError::WrongType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongTypeCell {
    /// The preset.
    pub preset: String,
    /// The file.
    pub source_name: String,
    /// The column.
    pub column: String,
    /// What the preset uses it for.
    pub role: Role,
    /// The first offending cell, as written.
    pub value: String,
    /// Its 1-based data row (for a file without a header: its line).
    pub row: usize,
    /// What belongs there, e.g. `integers` or `dates (YYYY-MM-DD)`.
    pub expected: String,
}

impl fmt::Display for WrongTypeCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "column \"{}\" ({}) in \"{}\" has \"{}\" at row {}, but the {} release stores {} there; check that this is the original, unmodified file",
            self.column, self.role, self.source_name, self.value, self.row, self.preset, self.expected
        )
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean \"{one}\"?"),
        many => {
            let quoted: Vec<String> = many.iter().map(|s| format!("\"{s}\"")).collect();
            let (last, head) = quoted.split_last().expect("non-empty");
            format!("; did you mean {} or {last}?", head.join(", "))
        }
    }
}

fn non_numeric_hint(role: &Role) -> &'static str {
    match role {
        Role::Task(_) => "a task label must be a number; fix the value or drop the row",
        _ => "fix the value, leave the cell empty for a missing value, or list the column under `categorical:`",
    }
}

/// Levenshtein distance on characters, case-insensitive.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Columns close to `wanted`: edit distance at most max(2, len/3) (case-insensitive),
/// or one contains the other; closest first, at most 3.
pub(crate) fn close_matches(wanted: &str, available: &[String]) -> Vec<String> {
    let limit = (wanted.chars().count() / 3).max(2);
    let lw = wanted.to_lowercase();
    let mut scored: Vec<(usize, usize, &String)> = available
        .iter()
        .enumerate()
        .filter_map(|(pos, c)| {
            let d = edit_distance(wanted, c);
            let lc = c.to_lowercase();
            let contains = !lw.is_empty() && (lc.contains(&lw) || lw.contains(&lc));
            (d <= limit || contains).then_some((d, pos, c))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, _, c)| c.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("spend", "spend"), 0);
        assert_eq!(edit_distance("spnd", "spend"), 1);
        assert_eq!(edit_distance("Visit", "visit"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn close_matches_orders_by_distance() {
        let cols: Vec<String> = ["spend", "visit", "conversion", "spent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(close_matches("spnd", &cols), vec!["spend", "spent"]);
        assert_eq!(close_matches("convresion", &cols), vec!["conversion"]);
        assert_eq!(close_matches("Visits", &cols), vec!["visit"]);
        assert!(close_matches("zzzzzz", &cols).is_empty());
    }

    #[test]
    fn did_you_mean_lists() {
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&["a".into()]), "; did you mean \"a\"?");
        assert_eq!(
            did_you_mean(&["a".into(), "b".into(), "c".into()]),
            "; did you mean \"a\", \"b\" or \"c\"?"
        );
    }
}

//! The `htl` binary on malformed data files: each gives one line naming the
//! file, the row and the column (exact text), and `htl data inspect` shows
//! the time column. Fixtures: `tests/fixtures/data/` (see its README).

use std::path::{Path, PathBuf};
use std::process::Command;

fn htl(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_htl"));
    c.env("HTL_CACHE_DIR", cache);
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

/// The fixture schema as an experiment on `file`, with `extra` dataset keys.
fn experiment(file: &str, extra: &str) -> String {
    format!(
        "dataset:\n  path: {}\n  categorical: [device, city]\n  numeric: [age, income]\n  tasks: [{{name: visit, kind: binary}}, {{name: buy, kind: binary}}, {{name: spend, kind: regression}}]\n{extra}variants: [{{model: shared_bottom}}]\ntrain: {{epochs: 1}}\n",
        fixture(file).display()
    )
}

/// Runs `htl run` on the experiment; returns (exit code, stderr).
fn run(file: &str, extra: &str) -> (i32, String) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("data.yaml"), experiment(file, extra)).unwrap();
    let out = htl(&d.path().join("cache"))
        .current_dir(d.path())
        .args(["run", "data.yaml", "--quiet", "--out"])
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    )
}

/// The one-line error of a data file, after the common prefix.
fn data_error(file: &str, extra: &str) -> String {
    let (code, err) = run(file, extra);
    assert_eq!(code, 2, "{file}: {err}");
    assert_eq!(err.lines().count(), 1, "{file}: one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let prefix = "htl: error: loading the data set of data.yaml: ";
    assert!(err.starts_with(prefix), "{err}");
    err[prefix.len()..].to_string()
}

#[test]
fn ragged_row_names_file_and_row() {
    assert_eq!(
        data_error("ragged.csv", ""),
        format!(
            "data file \"{}\": row 4 has 9 fields but the header has 8 columns; remove the extra fields, or quote a value that contains a comma",
            fixture("ragged.csv").display()
        )
    );
}

#[test]
fn short_row_is_an_error() {
    assert_eq!(
        data_error("short_row.csv", ""),
        format!(
            "data file \"{}\": row 7 has 7 fields but the header has 8 columns (missing: \"spend\"); add the missing fields (an empty field between commas is a missing value)",
            fixture("short_row.csv").display()
        )
    );
}

#[test]
fn non_utf8_names_row_and_column() {
    assert_eq!(
        data_error("latin1.csv", ""),
        format!(
            "data file \"{}\" is not valid UTF-8 at row 9, column \"city\" (byte 0xFC); save the file with UTF-8 encoding",
            fixture("latin1.csv").display()
        )
    );
}

#[test]
fn duplicate_header_names_the_column() {
    assert_eq!(
        data_error("dup_header.csv", ""),
        format!(
            "data file \"{}\" has two columns named \"age\" (columns 4 and 5); give every column a distinct name",
            fixture("dup_header.csv").display()
        )
    );
}

#[test]
fn word_in_numeric_time_column() {
    assert_eq!(
        data_error("time_word.csv", "  time: ts\n"),
        format!(
            "time column \"ts\" in \"{}\" holds numbers but row 6 has \"abc\"; fix that value, or add `time_type: text` to order the column as text",
            fixture("time_word.csv").display()
        )
    );
}

fn inspect(file: &str, extra: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let yaml = format!(
        "path: {}\ncategorical: [device, city]\nnumeric: [age, income]\ntasks: [{{name: visit, kind: binary}}, {{name: buy, kind: binary}}, {{name: spend, kind: regression}}]\n{extra}",
        fixture(file).display()
    );
    std::fs::write(d.path().join("ds.yaml"), yaml).unwrap();
    let out = htl(&d.path().join("cache"))
        .args(["data", "inspect"])
        .arg(d.path().join("ds.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn inspect_shows_the_time_column() {
    let out = inspect("good.csv", "time: ts\n");
    assert!(
        out.contains("\nsplit rule  time 8:1:1 on column ts\ntime        column ts ordered as integers, from 1 to 20\n"),
        "{out}"
    );
    // explicitly as text
    let out = inspect("time_word.csv", "time: ts\ntime_type: text\n");
    assert!(
        out.contains("\ntime        column ts ordered as text, from 1 to abc\n"),
        "{out}"
    );
    // no time line for a random split
    assert!(!inspect("good.csv", "").contains("\ntime "));
}

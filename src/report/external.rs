//! External rows: published or peer results shown beside ours in the overall table.
//!
//! An external CSV has the header columns `source`, `protocol`, `variant`, `task`, `metric`,
//! `mean` (all required, in any order) and optionally `std` and `n`; one row per
//! (variant, task, metric). `task` and `metric` use this suite's names (e.g. `visit`, `auc`),
//! so a row lands in the column of the same task × metric. External rows are never tested:
//! they were not trained here, on our seeds, so no pairing exists. Reading is strict: a bad
//! file stops the report with one line naming the file, the row and the column.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::util::split_csv_line;

/// One published or peer result.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalRow {
    /// Where it comes from (paper, repository and version).
    pub source: String,
    /// How it was obtained (split, seeds, training budget, metric definitions).
    pub protocol: String,
    /// The model, as the source names it.
    pub variant: String,
    /// Task name in this suite's chain.
    pub task: String,
    /// Metric name in this suite's catalogue.
    pub metric: String,
    /// The reported mean.
    pub mean: f64,
    /// The reported standard deviation, when given.
    pub std: Option<f64>,
    /// The number of runs behind the mean, when given.
    pub n: Option<usize>,
}

/// Why an external CSV cannot be used (one line: file, row, column, what to do).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("external results {}: {message}", .path.display())]
pub struct ExternalError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong and what to do, naming the row and column.
    pub message: String,
}

/// The required columns.
pub const REQUIRED: [&str; 6] = ["source", "protocol", "variant", "task", "metric", "mean"];
/// The optional columns.
pub const OPTIONAL: [&str; 2] = ["std", "n"];

/// Reads one external CSV.
///
/// # Errors
/// [`ExternalError`] when the file cannot be read, a header column is missing, unknown or
/// repeated, a row has the wrong number of fields, a required field is empty, `mean` / `std`
/// is not a finite number, `std` is negative, or `n` is not a positive integer.
pub fn load_external(path: &Path) -> Result<Vec<ExternalRow>, ExternalError> {
    let err = |message: String| ExternalError {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| err(format!("cannot read the file ({e}); check the path given")))?;
    parse_external(&text).map_err(err)
}

/// Parses the text of an external CSV (see [`load_external`]); the error is the message
/// without the file name.
pub fn parse_external(text: &str) -> Result<Vec<ExternalRow>, String> {
    let expected = format!(
        "the header must name {} (and optionally {})",
        REQUIRED.join(", "),
        OPTIONAL.join(", ")
    );
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let Some((_, header)) = lines.find(|(_, l)| !l.trim().is_empty()) else {
        return Err(format!("the file is empty; {expected}"));
    };
    let header: Vec<String> = split_csv_line(header)
        .into_iter()
        .map(|h| h.trim().to_string())
        .collect();
    for (i, h) in header.iter().enumerate() {
        if !REQUIRED.contains(&h.as_str()) && !OPTIONAL.contains(&h.as_str()) {
            return Err(format!("unknown column `{h}` in the header; {expected}"));
        }
        if header[..i].contains(h) {
            return Err(format!("column `{h}` appears twice in the header"));
        }
    }
    if let Some(missing) = REQUIRED.iter().find(|r| !header.iter().any(|h| h == *r)) {
        return Err(format!("missing column `{missing}`; {expected}"));
    }
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut rows = Vec::new();
    for (line_no, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line);
        if fields.len() != header.len() {
            return Err(format!(
                "line {line_no} has {} fields but the header has {}; quote fields that contain commas",
                fields.len(),
                header.len()
            ));
        }
        let get = |name: &str| col(name).map(|i| fields[i].trim().to_string());
        let required = |name: &str| -> Result<String, String> {
            let v = get(name).unwrap_or_default();
            if v.is_empty() {
                Err(format!(
                    "line {line_no}, column `{name}` is empty; fill it in"
                ))
            } else {
                Ok(v)
            }
        };
        let number = |name: &str, v: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    format!("line {line_no}, column `{name}`: `{v}` is not a finite number")
                })
        };
        let mean_text = required("mean")?;
        let mean = number("mean", &mean_text)?;
        let std = match get("std").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let x = number("std", &s)?;
                if x < 0.0 {
                    return Err(format!(
                        "line {line_no}, column `std`: `{s}` is negative; give the standard deviation, or leave it empty"
                    ));
                }
                Some(x)
            }
        };
        let n = match get("n").filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(s.parse::<usize>().ok().filter(|&n| n > 0).ok_or_else(|| {
                format!(
                    "line {line_no}, column `n`: `{s}` is not a positive whole number of runs; leave it empty if unknown"
                )
            })?),
        };
        rows.push(ExternalRow {
            source: required("source")?,
            protocol: required("protocol")?,
            variant: required("variant")?,
            task: required("task")?,
            metric: required("metric")?,
            mean,
            std,
            n,
        });
    }
    Ok(rows)
}

/// Writes rows back as an external CSV (the copy a report keeps in `report/external.csv`, so
/// that a later `htl report` without `--external` shows the same rows).
pub fn external_csv(rows: &[ExternalRow]) -> String {
    let q = super::summary::csv_field;
    let mut s = String::from("source,protocol,variant,task,metric,mean,std,n\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{}",
            q(&r.source),
            q(&r.protocol),
            q(&r.variant),
            q(&r.task),
            q(&r.metric),
            r.mean,
            r.std.map_or(String::new(), |x| x.to_string()),
            r.n.map_or(String::new(), |x| x.to_string()),
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "source,protocol,variant,task,metric,mean,std,n\n\
        peer,\"8:1:1 split, 5 seeds\",ESMM,visit,auc,0.65,0.011,5\n\
        paper,Table 2,HTLNet,click,auc,0.7,,\n";

    #[test]
    fn reads_rows_with_quoted_commas_and_optional_fields() {
        let rows = parse_external(GOOD).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].protocol, "8:1:1 split, 5 seeds");
        assert_eq!(
            (rows[0].mean, rows[0].std, rows[0].n),
            (0.65, Some(0.011), Some(5))
        );
        assert_eq!((rows[1].std, rows[1].n), (None, None));
        // Optional columns may be absent altogether; the order is free.
        let rows =
            parse_external("mean,metric,task,variant,protocol,source\n0.5,auc,a,M,p,s\n").unwrap();
        assert_eq!((rows[0].mean, rows[0].variant.as_str()), (0.5, "M"));
        // The copy reads back the same.
        let rows = parse_external(GOOD).unwrap();
        assert_eq!(parse_external(&external_csv(&rows)).unwrap(), rows);
    }

    #[test]
    fn errors_name_line_and_column() {
        let head = "source,protocol,variant,task,metric,mean,std,n\n";
        let cases = [
            (
                "source,variant,task,metric,mean\n".to_string(),
                "missing column `protocol`; the header must name source, protocol, variant, task, metric, mean (and optionally std, n)",
            ),
            (
                "source,protocol,variant,task,metric,mean,sd\n".to_string(),
                "unknown column `sd` in the header; the header must name source, protocol, variant, task, metric, mean (and optionally std, n)",
            ),
            (
                format!("{head}s,p,M,t,auc,high,0.1,5\n"),
                "line 2, column `mean`: `high` is not a finite number",
            ),
            (
                format!("{head}s,p,M,t,auc,0.5,-0.1,5\n"),
                "line 2, column `std`: `-0.1` is negative; give the standard deviation, or leave it empty",
            ),
            (
                format!("{head}s,p,M,t,auc,0.5,0.1,2.5\n"),
                "line 2, column `n`: `2.5` is not a positive whole number of runs; leave it empty if unknown",
            ),
            (
                format!("{head}s,p,,t,auc,0.5,0.1,5\n"),
                "line 2, column `variant` is empty; fill it in",
            ),
            (
                format!("{head}s,p,M,t,auc,0.5\n"),
                "line 2 has 6 fields but the header has 8; quote fields that contain commas",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_external(&text).unwrap_err(), want);
        }
        let e = load_external(Path::new("/nonexistent/peer.csv")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("external results /nonexistent/peer.csv: cannot read the file ("));
    }
}

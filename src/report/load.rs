//! Reading a result folder: the only part of the report that touches the stored cells.
//!
//! Reads `<dir>/manifest.json` (optional), `<dir>/cells.csv` (optional, for the variant
//! order) and every `<dir>/cells/<id>/` folder: `config.yaml` (variant, model, seed,
//! options), `metrics.json` (finished) or `failed.json` (failed), and the optional
//! `curves.csv`, `grad_stats.csv` and `cell.json`. Nothing here computes a statistic.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::train::MetricTable;

/// What became of a stored cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellStatus {
    /// `metrics.json` exists: split → task → metric → value.
    Finished(MetricTable),
    /// `failed.json` exists, with its reason.
    Failed(String),
    /// Neither exists (a run was interrupted while the cell trained).
    Unfinished,
}

/// One row of a cell's `curves.csv`: the validation loss per task after an epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveRow {
    /// Epoch (0 = before training).
    pub epoch: usize,
    /// Validation loss per task, in [`Curves::tasks`] order (`None` = empty or not finite).
    pub valid_loss: Vec<Option<f64>>,
}

/// A cell's `curves.csv`, reduced to what the report draws.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curves {
    /// Task names in the column order of the file (the task chain's order).
    pub tasks: Vec<String>,
    /// One row per epoch.
    pub rows: Vec<CurveRow>,
}

/// One row of a cell's `grad_stats.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradRow {
    /// Optimisation step.
    pub step: u64,
    /// Task name.
    pub task: String,
    /// `|G_t|` before the adjustment.
    pub norm_raw: f64,
    /// `|G_t|` after the adjustment.
    pub norm_adjusted: f64,
    /// `cos(G_t, G_core)` (NaN when undefined).
    pub cos_core: f64,
}

/// One stored cell as the report sees it.
#[derive(Debug, Clone)]
pub struct StoredCell {
    /// Cell id (its folder name).
    pub id: String,
    /// Variant label.
    pub variant: String,
    /// Model name (`constant` for the reference row).
    pub model: String,
    /// Seed.
    pub seed: u64,
    /// `options.ifu` of the config, when the model has one (`attention`, `concat`, `none`).
    pub ifu: Option<String>,
    /// The whole `config.yaml`.
    pub config: serde_yaml::Value,
    /// Finished, failed or unfinished.
    pub status: CellStatus,
    /// `curves.csv`, when present and readable.
    pub curves: Option<Curves>,
    /// `grad_stats.csv` rows (empty when absent).
    pub grad_stats: Vec<GradRow>,
    /// `cell.json` `finished` time, when present.
    pub finished_at: Option<String>,
}

impl StoredCell {
    /// Whether this cell is the constant reference predictor.
    pub fn is_constant(&self) -> bool {
        self.model == "constant"
    }
}

/// A result folder read into memory.
#[derive(Debug, Clone)]
pub struct Store {
    /// The result folder.
    pub root: PathBuf,
    /// `manifest.json`, when present and readable.
    pub manifest: Option<serde_json::Value>,
    /// Cells, one per (variant, seed), sorted by variant order then seed.
    pub cells: Vec<StoredCell>,
    /// Variant labels in table order: the manifest's `variants` if it has them, else the
    /// order of `cells.csv`, then any other variant (constant first, then by name).
    pub variants: Vec<String>,
    /// Things the reader skipped or chose, in words, for `report.md`.
    pub warnings: Vec<String>,
}

/// Reads the result folder `dir`.
///
/// # Errors
/// [`ReportError::NoResults`] when `dir/cells/` does not exist; [`ReportError::Read`] /
/// [`ReportError::Parse`] when a finished cell's `config.yaml` or `metrics.json` cannot be
/// read (optional files that cannot be read are skipped with a warning instead).
pub fn load_store(dir: &Path) -> Result<Store, ReportError> {
    let cells_dir = dir.join("cells");
    if !cells_dir.is_dir() {
        return Err(ReportError::NoResults {
            dir: dir.to_path_buf(),
        });
    }
    let mut warnings = Vec::new();
    let manifest = read_manifest(dir, &mut warnings);
    let keep: Option<Vec<String>> = manifest
        .as_ref()
        .and_then(|m| m.get("cell_ids"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        });
    let mut ids: Vec<String> = fs::read_dir(&cells_dir)
        .map_err(|source| ReportError::Read {
            path: cells_dir.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| !id.starts_with('.'))
        .collect();
    ids.sort();
    let mut cells = Vec::new();
    for id in ids {
        if let Some(keep) = &keep {
            if !keep.contains(&id) {
                continue;
            }
        }
        if let Some(c) = read_cell(&cells_dir.join(&id), &id, &mut warnings)? {
            cells.push(c);
        }
    }
    let cells = dedupe(cells, &mut warnings);
    let variants = variant_order(dir, manifest.as_ref(), &cells);
    let mut cells = cells;
    cells.sort_by_key(|c| {
        (
            variants.iter().position(|v| v == &c.variant),
            c.seed,
            c.id.clone(),
        )
    });
    Ok(Store {
        root: dir.to_path_buf(),
        manifest,
        cells,
        variants,
        warnings,
    })
}

fn read_manifest(dir: &Path, warnings: &mut Vec<String>) -> Option<serde_json::Value> {
    let path = dir.join("manifest.json");
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => {
            warnings.push(format!("{} is missing: provenance unknown", path.display()));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(format!(
                "{} is not valid JSON ({e}): provenance unknown",
                path.display()
            ));
            None
        }
    }
}

fn read_cell(
    dir: &Path,
    id: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<StoredCell>, ReportError> {
    let cfg_path = dir.join("config.yaml");
    let Ok(cfg_text) = fs::read_to_string(&cfg_path) else {
        warnings.push(format!(
            "cell {id} has no config.yaml ({}); skipped",
            cfg_path.display()
        ));
        return Ok(None);
    };
    let config: serde_yaml::Value =
        serde_yaml::from_str(&cfg_text).map_err(|e| ReportError::Parse {
            path: cfg_path.clone(),
            message: e.to_string(),
        })?;
    let field = |k: &str| config.get(k);
    let variant = field("variant")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| ReportError::Parse {
            path: cfg_path.clone(),
            message: "missing key `variant` (the variant label)".into(),
        })?;
    let model = field("model")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_string();
    let seed = field("seed")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ReportError::Parse {
            path: cfg_path.clone(),
            message: "missing key `seed` (an unsigned integer)".into(),
        })?;
    let ifu = field("options")
        .and_then(|o| o.get("ifu"))
        .and_then(|v| v.as_str())
        .map(str::to_string);

    let metrics_path = dir.join("metrics.json");
    let failed_path = dir.join("failed.json");
    let status = if metrics_path.is_file() {
        let text = fs::read_to_string(&metrics_path).map_err(|source| ReportError::Read {
            path: metrics_path.clone(),
            source,
        })?;
        let table: MetricTable = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
            path: metrics_path.clone(),
            message: format!("{e}; expected split -> task -> metric -> number or null"),
        })?;
        CellStatus::Finished(table)
    } else if failed_path.is_file() {
        let text = fs::read_to_string(&failed_path).unwrap_or_default();
        let reason = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("reason").and_then(|r| r.as_str()).map(str::to_string))
            .unwrap_or_else(|| "failed (no reason recorded)".into());
        CellStatus::Failed(reason)
    } else {
        CellStatus::Unfinished
    };

    let curves_path = dir.join("curves.csv");
    let curves = match fs::read_to_string(&curves_path) {
        Ok(text) => match parse_curves(&text) {
            Ok(c) => Some(c),
            Err(e) => {
                warnings.push(format!("{}: {e}; curves skipped", curves_path.display()));
                None
            }
        },
        Err(_) => None,
    };
    let grad_path = dir.join("grad_stats.csv");
    let grad_stats = match fs::read_to_string(&grad_path) {
        Ok(text) => match parse_grad_stats(&text) {
            Ok(g) => g,
            Err(e) => {
                warnings.push(format!(
                    "{}: {e}; gradient statistics skipped",
                    grad_path.display()
                ));
                Vec::new()
            }
        },
        Err(_) => Vec::new(),
    };
    let finished_at = fs::read_to_string(dir.join("cell.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v.get("finished")
                .and_then(|f| f.as_str())
                .map(str::to_string)
        });
    Ok(Some(StoredCell {
        id: id.to_string(),
        variant,
        model,
        seed,
        ifu,
        config,
        status,
        curves,
        grad_stats,
        finished_at,
    }))
}

/// Keeps one cell per (variant, seed): a finished cell over a failed one over an
/// unfinished one, then the most recently finished, then the largest id.
fn dedupe(cells: Vec<StoredCell>, warnings: &mut Vec<String>) -> Vec<StoredCell> {
    let mut by_key: BTreeMap<(String, u64), Vec<StoredCell>> = BTreeMap::new();
    for c in cells {
        by_key
            .entry((c.variant.clone(), c.seed))
            .or_default()
            .push(c);
    }
    let rank = |c: &StoredCell| match c.status {
        CellStatus::Finished(_) => 2,
        CellStatus::Failed(_) => 1,
        CellStatus::Unfinished => 0,
    };
    let mut out = Vec::new();
    for ((variant, seed), mut group) in by_key {
        if group.len() > 1 {
            group.sort_by(|a, b| {
                (rank(a), a.finished_at.as_deref(), a.id.as_str()).cmp(&(
                    rank(b),
                    b.finished_at.as_deref(),
                    b.id.as_str(),
                ))
            });
            let kept = group.pop().expect("non-empty");
            let dropped: Vec<&str> = group.iter().map(|c| c.id.as_str()).collect();
            warnings.push(format!(
                "variant `{variant}` seed {seed} has {} stored cells (the experiment changed between runs?); kept {}, ignored {}",
                dropped.len() + 1,
                kept.id,
                dropped.join(", ")
            ));
            out.push(kept);
        } else {
            out.extend(group);
        }
    }
    out
}

fn variant_order(
    dir: &Path,
    manifest: Option<&serde_json::Value>,
    cells: &[StoredCell],
) -> Vec<String> {
    let present: Vec<&str> = cells.iter().map(|c| c.variant.as_str()).collect();
    let mut order: Vec<String> = Vec::new();
    let push = |v: &str, order: &mut Vec<String>| {
        if present.contains(&v) && !order.iter().any(|o| o == v) {
            order.push(v.to_string());
        }
    };
    if let Some(list) = manifest
        .and_then(|m| m.get("variants"))
        .and_then(|v| v.as_array())
    {
        for v in list.iter().filter_map(|v| v.as_str()) {
            push(v, &mut order);
        }
    }
    if let Ok(text) = fs::read_to_string(dir.join("cells.csv")) {
        for line in text.lines().skip(1) {
            if let Some(v) = split_csv_line(line).into_iter().next() {
                push(&v, &mut order);
            }
        }
    }
    let mut rest: Vec<(bool, String)> = cells
        .iter()
        .map(|c| (!c.is_constant(), c.variant.clone()))
        .collect();
    rest.sort();
    for (_, v) in rest {
        push(&v, &mut order);
    }
    order
}

/// Splits one CSV line, honouring double quotes (`""` inside quotes is a quote).
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn parse_opt(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Parses `curves.csv` (`epoch,…,valid_loss_<task>…,…`), keeping the epoch and the
/// validation loss columns.
pub fn parse_curves(text: &str) -> Result<Curves, String> {
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().ok_or("empty file")?);
    let epoch_col = header
        .iter()
        .position(|h| h == "epoch")
        .ok_or("no `epoch` column")?;
    let loss_cols: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.strip_prefix("valid_loss_").map(|t| (i, t.to_string())))
        .collect();
    if loss_cols.is_empty() {
        return Err("no `valid_loss_<task>` column".into());
    }
    let mut rows = Vec::new();
    for (ln, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(line);
        let epoch = f
            .get(epoch_col)
            .and_then(|e| e.trim().parse::<usize>().ok())
            .ok_or_else(|| format!("line {}: `epoch` is not an integer", ln + 2))?;
        rows.push(CurveRow {
            epoch,
            valid_loss: loss_cols
                .iter()
                .map(|(i, _)| f.get(*i).and_then(|s| parse_opt(s)))
                .collect(),
        });
    }
    Ok(Curves {
        tasks: loss_cols.into_iter().map(|(_, t)| t).collect(),
        rows,
    })
}

/// Parses `grad_stats.csv` (`step,task,norm_raw,norm_adjusted,cos_core`).
pub fn parse_grad_stats(text: &str) -> Result<Vec<GradRow>, String> {
    let mut lines = text.lines();
    let header = split_csv_line(lines.next().ok_or("empty file")?);
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("no `{name}` column"))
    };
    let (c_step, c_task, c_raw, c_adj) = (
        col("step")?,
        col("task")?,
        col("norm_raw")?,
        col("norm_adjusted")?,
    );
    let c_cos = col("cos_core").ok();
    let mut out = Vec::new();
    for (ln, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(line);
        let get = |i: usize| f.get(i).map(String::as_str).unwrap_or("");
        let step = get(c_step)
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("line {}: `step` is not an integer", ln + 2))?;
        out.push(GradRow {
            step,
            task: get(c_task).to_string(),
            norm_raw: get(c_raw).trim().parse().unwrap_or(f64::NAN),
            norm_adjusted: get(c_adj).trim().parse().unwrap_or(f64::NAN),
            cos_core: c_cos
                .map(|c| get(c).trim().parse().unwrap_or(f64::NAN))
                .unwrap_or(f64::NAN),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_with_quotes() {
        assert_eq!(
            split_csv_line(r#""a, b",c,"say ""hi""",,"#),
            vec!["a, b", "c", "say \"hi\"", "", ""]
        );
    }

    #[test]
    fn curves_keep_valid_loss_in_file_order() {
        let c = parse_curves(
            "epoch,seconds,monitor,train_loss_b,train_loss_a,valid_loss_b,valid_loss_a,valid_b_auc\n0,0.1,1,,,0.6,0.9,0.5\n1,1.0,0.9,0.5,0.8,0.55,,0.7\n",
        )
        .unwrap();
        assert_eq!(c.tasks, vec!["b", "a"]);
        assert_eq!(c.rows[1].epoch, 1);
        assert_eq!(c.rows[1].valid_loss, vec![Some(0.55), None]);
    }

    #[test]
    fn grad_stats_rows() {
        let g = parse_grad_stats(
            "step,task,norm_raw,norm_adjusted,cos_core\n0,click,0.5,0.25,-0.1\n0,y,1,1,1\n",
        )
        .unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].task, "click");
        assert_eq!(g[0].norm_adjusted, 0.25);
        assert!(parse_grad_stats("step,task\n").is_err());
    }
}

//! Reading a result folder: the only part of the report that touches the stored cells, and
//! only through [`crate::store::ResultStore`] (which owns the layout and the records).
//!
//! Reads `manifest.json` (optional: provenance, the task chain, the experiment's cells),
//! `cells.csv` (optional, for the variant order) and every cell folder: `config.yaml`
//! (variant, model, seed, options), `metrics.json` (finished) or `failed.json` (failed), and
//! the optional `curves.csv`, `grad_stats.csv` and `cell.json`. Nothing here computes a
//! statistic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ReportError;
pub use crate::store::{CurveRow, Curves, GradStatRow, MetricTable, TaskKind, TaskRecord};
use crate::store::{Manifest, MetricsState, ResultStore, StoreError};
use crate::util::split_csv_line;

/// What became of a stored cell.
#[derive(Debug, Clone, PartialEq)]
pub enum CellStatus {
    /// `metrics.json` exists and covers the experiment's tasks: split → task → metric → value.
    Finished(MetricTable),
    /// `failed.json` exists, with its reason.
    Failed(String),
    /// Neither exists (a run was interrupted while the cell trained, or never reached the
    /// cell), or `metrics.json` is unusable (the reason is in [`Store::warnings`]).
    Unfinished,
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
    pub grad_stats: Vec<GradStatRow>,
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
    pub manifest: Option<Manifest>,
    /// The task chain in chain order: the manifest's, or (for a manifest written before the
    /// chain was stored) guessed from the metric names, with a note in [`Store::warnings`].
    pub tasks: Vec<TaskRecord>,
    /// Cells, one per (variant, seed), sorted by variant order then seed.
    pub cells: Vec<StoredCell>,
    /// Variant labels in table order: the manifest's `variants` if it has them, else the
    /// order of `cells.csv`, then any other variant (constant first, then by name).
    pub variants: Vec<String>,
    /// Things the reader skipped or chose, in words, for `report.md`.
    pub warnings: Vec<String>,
}

/// Reads the result folder `dir` through the [`ResultStore`].
///
/// A cell whose `metrics.json` does not parse or lacks a task of the stored chain is
/// unfinished (with a warning); so is every cell the manifest lists that has no folder.
///
/// # Errors
/// [`ReportError::NoResults`] when `dir/cells/` does not exist; [`ReportError::Store`]
/// when a cell's `config.yaml` does not parse or a stored file cannot be read (optional
/// files that cannot be parsed are skipped with a warning instead).
pub fn load_store(dir: &Path) -> Result<Store, ReportError> {
    let rs = ResultStore::new(dir);
    if !rs.cells_dir().is_dir() {
        return Err(ReportError::NoResults {
            dir: dir.to_path_buf(),
        });
    }
    let mut warnings = Vec::new();
    let manifest_path = rs.file(crate::store::MANIFEST);
    let manifest = match rs.read_manifest() {
        Ok(Some(m)) => Some(m),
        Ok(None) => {
            warnings.push(format!(
                "{} is missing: provenance unknown",
                manifest_path.display()
            ));
            None
        }
        Err(e) => {
            warnings.push(format!("{e}: provenance unknown"));
            None
        }
    };
    let chain: Vec<String> = manifest
        .iter()
        .flat_map(|m| m.tasks.iter().map(|t| t.name.clone()))
        .collect();
    let keep: Option<&[String]> = manifest
        .as_ref()
        .map(|m| m.cell_ids.as_slice())
        .filter(|ids| !ids.is_empty());
    let ids = rs.cell_ids()?;
    let mut cells = Vec::new();
    for id in &ids {
        if keep.is_some_and(|keep| !keep.contains(id)) {
            continue;
        }
        if let Some(c) = read_cell(&rs, id, &chain, &mut warnings)? {
            cells.push(c);
        }
    }
    if let (Some(m), Some(keep)) = (&manifest, keep) {
        let absent: Vec<&String> = keep.iter().filter(|id| !ids.contains(id)).collect();
        if !absent.is_empty() && m.cell_list.is_empty() {
            warnings.push(format!(
                "{} cell(s) of the experiment have no folder and are not counted (this manifest does not list their variants): {}",
                absent.len(),
                absent.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        for c in m.cell_list.iter().filter(|c| absent.contains(&&c.id)) {
            cells.push(StoredCell {
                id: c.id.clone(),
                variant: c.variant.clone(),
                model: c.model.clone(),
                seed: c.seed,
                ifu: None,
                config: serde_yaml::Value::Null,
                status: CellStatus::Unfinished,
                curves: None,
                grad_stats: Vec::new(),
                finished_at: None,
            });
        }
    }
    let cells = dedupe(cells, &mut warnings);
    let tasks = match manifest.as_ref().filter(|m| !m.tasks.is_empty()) {
        Some(m) => m.tasks.clone(),
        None => {
            let guessed = guess_chain(&cells);
            if manifest.is_some() && !guessed.is_empty() {
                warnings.push(format!(
                    "{} has no task chain (written by an older htl): task kinds guessed from the metric names",
                    manifest_path.display()
                ));
            }
            guessed
        }
    };
    let variants = variant_order(&rs, manifest.as_ref(), &cells);
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
        tasks,
        cells,
        variants,
        warnings,
    })
}

fn read_cell(
    rs: &ResultStore,
    id: &str,
    chain: &[String],
    warnings: &mut Vec<String>,
) -> Result<Option<StoredCell>, ReportError> {
    let cfg_path = rs.cell_file(id, crate::store::CONFIG);
    let config = match rs.read_config(id) {
        Ok(Some(c)) => c,
        Ok(None) | Err(StoreError::Read { .. }) => {
            warnings.push(format!(
                "cell {id} has no config.yaml ({}); skipped",
                cfg_path.display()
            ));
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let field = |k: &str| config.get(k);
    let missing = |message: &str| StoreError::Parse {
        path: cfg_path.clone(),
        message: message.into(),
    };
    let variant = field("variant")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| missing("missing key `variant` (the variant label)"))?;
    let model = field("model")
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_string();
    let seed = field("seed")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| missing("missing key `seed` (an unsigned integer)"))?;
    let ifu = field("options")
        .and_then(|o| o.get("ifu"))
        .and_then(|v| v.as_str())
        .map(str::to_string);

    let status = match rs.check_metrics(id, chain)? {
        MetricsState::Finished(table) => CellStatus::Finished(table),
        MetricsState::Corrupt(why) => {
            warnings.push(format!(
                "{} {why}: cell {id} counted as unfinished (`htl run` sets the file aside and retrains the cell)",
                rs.cell_file(id, crate::store::METRICS).display()
            ));
            CellStatus::Unfinished
        }
        MetricsState::Missing if rs.has_failed(id) => CellStatus::Failed(
            rs.read_failed(id)
                .ok()
                .flatten()
                .map(|f| f.reason)
                .unwrap_or_else(|| "failed (no reason recorded)".into()),
        ),
        MetricsState::Missing => CellStatus::Unfinished,
    };
    let curves = rs.read_curves(id).unwrap_or_else(|e| {
        warnings.push(format!("{e}; curves skipped"));
        None
    });
    let grad_stats = rs.read_grad_stats(id).unwrap_or_else(|e| {
        warnings.push(format!("{e}; gradient statistics skipped"));
        Vec::new()
    });
    let finished_at = rs
        .read_cell_info(id)
        .ok()
        .flatten()
        .and_then(|i| i.finished);
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

/// The task chain of a result folder whose manifest predates the stored chain, guessed as the
/// first release did: a task with `nrmse` / `nmae` is the regression target, one with `auc`
/// / `logloss` is binary; order of the first `curves.csv`, then binary before regression,
/// each by name. Tasks with neither kind of metric are left out.
fn guess_chain(cells: &[StoredCell]) -> Vec<TaskRecord> {
    let mut kinds: BTreeMap<String, TaskKind> = BTreeMap::new();
    for c in cells {
        if let CellStatus::Finished(m) = &c.status {
            for (t, ms) in m.get("test").into_iter().flatten() {
                if ms.contains_key("nrmse") || ms.contains_key("nmae") {
                    kinds.insert(t.clone(), TaskKind::Regression);
                } else if ms.contains_key("auc") || ms.contains_key("logloss") {
                    kinds.entry(t.clone()).or_insert(TaskKind::Binary);
                }
            }
        }
    }
    let mut order: Vec<String> = cells
        .iter()
        .find_map(|c| c.curves.as_ref())
        .map(|cv| {
            cv.tasks
                .iter()
                .filter(|t| kinds.contains_key(*t))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut rest: Vec<(bool, &String)> = kinds
        .iter()
        .filter(|(t, _)| !order.contains(t))
        .map(|(t, k)| (*k == TaskKind::Regression, t))
        .collect();
    rest.sort();
    order.extend(rest.into_iter().map(|(_, t)| t.clone()));
    order
        .into_iter()
        .map(|name| TaskRecord {
            kind: kinds[&name],
            name,
        })
        .collect()
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
    rs: &ResultStore,
    manifest: Option<&Manifest>,
    cells: &[StoredCell],
) -> Vec<String> {
    let present: Vec<&str> = cells.iter().map(|c| c.variant.as_str()).collect();
    let mut order: Vec<String> = Vec::new();
    let push = |v: &str, order: &mut Vec<String>| {
        if present.contains(&v) && !order.iter().any(|o| o == v) {
            order.push(v.to_string());
        }
    };
    for v in manifest.iter().flat_map(|m| &m.variants) {
        push(v, &mut order);
    }
    if let Ok(Some(text)) = rs.read_top(crate::store::CELLS_CSV) {
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

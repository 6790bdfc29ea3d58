//! The result store: the one room that knows the on-disk layout of a result folder, its file
//! names and the records in each file. `run` writes through it, `report` reads through it.
//!
//! ```text
//! <root>/manifest.json  cells.csv  summary.csv  summary.md  .htl.lock
//! <root>/cells/<id>/config.yaml  metrics.json  curves.csv  cell.json
//!                   [grad_stats.csv] [predictions.csv] [failed.json] [metrics.json.corrupt-<n>]
//! ```
//!
//! Every file is written to a temporary file in the same folder and renamed into place
//! ([`crate::util::write_atomic`]), so a killed run never leaves a half-written result.
//! `metrics.json` is written last: a cell is finished when its `metrics.json` parses and has
//! every task of the experiment's chain in its `test` split ([`ResultStore::check_metrics`]).
//!
//! Formats are those of the first release (JSON objects with sorted keys, the same CSV
//! headers), so older result folders stay readable; fields added since (the task chain and
//! the cell list in `manifest.json`) are optional when read.

mod lock;
#[cfg(test)]
mod tests;

pub use lock::{LockOwner, RunLock};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::util::{split_csv_line, write_atomic};

/// `manifest.json`: provenance and the experiment's shape.
pub const MANIFEST: &str = "manifest.json";
/// `cells.csv`: every metric of every stored cell, long form.
pub const CELLS_CSV: &str = "cells.csv";
/// `summary.csv`: mean / std / n per variant × task × metric.
pub const SUMMARY_CSV: &str = "summary.csv";
/// `summary.md`: the run's summary table.
pub const SUMMARY_MD: &str = "summary.md";
/// `.htl.lock`: held by the `htl run` writing to the folder.
pub const LOCK: &str = ".htl.lock";
/// The folder of the per-cell folders.
pub const CELLS_DIR: &str = "cells";
/// A cell's resolved configuration.
pub const CONFIG: &str = "config.yaml";
/// A finished cell's metrics (written last).
pub const METRICS: &str = "metrics.json";
/// A cell's per-epoch curves.
pub const CURVES: &str = "curves.csv";
/// A finished cell's timing and device.
pub const CELL_INFO: &str = "cell.json";
/// A cell's gradient statistics (strategies that work per task).
pub const GRAD_STATS: &str = "grad_stats.csv";
/// Test-split predictions (`--save-predictions`).
pub const PREDICTIONS: &str = "predictions.csv";
/// A failed cell's reason.
pub const FAILED: &str = "failed.json";
/// Prefix of a set-aside unreadable `metrics.json` (`metrics.json.corrupt-<n>`).
pub const METRICS_CORRUPT_PREFIX: &str = "metrics.json.corrupt-";

/// Metrics of a cell: split (`valid`, `test`) → task → metric → value (`None` = undefined).
pub type MetricTable = BTreeMap<String, BTreeMap<String, BTreeMap<String, Option<f64>>>>;

/// Why the store could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or folder could not be written.
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error (part of the message, not a separate cause, so it prints once).
        error: std::io::Error,
    },
    /// A file or folder could not be read.
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error (part of the message, not a separate cause, so it prints once).
        error: std::io::Error,
    },
    /// A stored file is malformed.
    #[error("{}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A record could not be serialised (a bug: records are plain data).
    #[error("cannot serialise {}: {message}", .path.display())]
    Serialise {
        /// The file it was meant for.
        path: PathBuf,
        /// The serialiser's message.
        message: String,
    },
    /// Another live `htl run` on this host holds the lock.
    #[error("another `htl run` (pid {pid}, started {started}) is writing to {}; wait for it to finish or stop it, then run again", .root.display())]
    Locked {
        /// The result folder.
        root: PathBuf,
        /// The owner's process id.
        pid: u32,
        /// When the owner started (RFC 3339, or `unknown`).
        started: String,
    },
    /// An `htl run` on another host holds the lock; its process cannot be checked from here.
    #[error("{} is locked by `htl run` pid {pid} on host `{host}` (started {started}), which this host cannot check; wait for that run to finish, or delete {} if it has stopped", .root.display(), .lock.display())]
    LockedElsewhere {
        /// The result folder.
        root: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The owner's process id.
        pid: u32,
        /// The owner's host.
        host: String,
        /// When the owner started.
        started: String,
    },
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::Write {
        path: path.to_path_buf(),
        error,
    }
}

/// Kind of a task of the chain, as stored in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// A 0/1 action (AUC, LogLoss).
    Binary,
    /// The continuous core target (NRMSE, NMAE, Gini, Spearman).
    Regression,
}

/// One task of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Task name (the label column's display name).
    pub name: String,
    /// Binary or regression.
    pub kind: TaskKind,
}

/// One cell of the experiment, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCell {
    /// Cell id (its folder name).
    pub id: String,
    /// Model name.
    pub model: String,
    /// Seed.
    pub seed: u64,
    /// Variant label.
    pub variant: String,
}

/// The machine a run ran on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU architecture.
    #[serde(default)]
    pub arch: String,
    /// Available parallelism.
    #[serde(default)]
    pub cores: usize,
    /// Host name.
    #[serde(default)]
    pub host: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
}

/// `manifest.json`. Fields are in alphabetical order, which is the order of the JSON object
/// (the first release wrote sorted keys). Every field may be absent in an older manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// Backend (`flex`, `tch`, `cuda`).
    pub backend: String,
    /// Ids of every cell of the experiment, in expansion order.
    pub cell_ids: Vec<String>,
    /// Every cell of the experiment with its variant and seed (absent in older manifests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cell_list: Vec<ManifestCell>,
    /// Number of cells in the experiment (`None` in a manifest that does not say).
    pub cells: Option<usize>,
    /// Versions of the main crates and rustc.
    pub crates: BTreeMap<String, String>,
    /// Device as written (`cpu`, `libtorch-cuda:0`, …).
    pub device: String,
    /// When the run ended (`None` while it runs, or when it was interrupted).
    pub ended: Option<String>,
    /// Experiment name.
    pub experiment: String,
    /// Experiment file as given.
    pub experiment_file: String,
    /// Whether the working tree had uncommitted changes (`None` = unknown).
    pub git_dirty: Option<bool>,
    /// Git revision of the source.
    pub git_revision: String,
    /// htlbench version.
    pub htlbench: String,
    /// The machine.
    pub machine: Machine,
    /// When the run started.
    pub started: String,
    /// The task chain in chain order (absent in older manifests).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskRecord>,
    /// Variant labels in table order.
    pub variants: Vec<String>,
}

impl Manifest {
    /// The kind of task `name` in the stored chain (`None` when the manifest has no chain or
    /// no such task).
    pub fn task_kind(&self, name: &str) -> Option<TaskKind> {
        self.tasks.iter().find(|t| t.name == name).map(|t| t.kind)
    }
}

/// `cell.json`: how a finished cell ran. Alphabetical field order (the stored key order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CellInfo {
    /// Backend.
    pub backend: String,
    /// Epoch whose weights were kept.
    pub best_epoch: usize,
    /// Device.
    pub device: String,
    /// When the cell finished (RFC 3339).
    pub finished: Option<String>,
    /// Gradient strategy name.
    pub grad: String,
    /// Wall-clock seconds of training and evaluation.
    pub seconds: f64,
    /// Optimisation steps taken.
    pub steps: u64,
}

/// `failed.json`: why a cell failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCell {
    /// When it failed (RFC 3339).
    #[serde(default)]
    pub at: String,
    /// The reason, one line.
    pub reason: String,
}

/// One row of `curves.csv` (one epoch). `None` = not defined (written as an empty field).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurveRow {
    /// Epoch (0 = before training).
    pub epoch: usize,
    /// Seconds since the start of training.
    pub seconds: Option<f64>,
    /// The monitored validation value.
    pub monitor: Option<f64>,
    /// The model's sampling temperature at the end of the epoch (HTLNet's LEU), `None` for
    /// models without one and in files written before the `tau` column existed.
    pub tau: Option<f64>,
    /// Mean training loss per task, in [`Curves::tasks`] order.
    pub train_loss: Vec<Option<f64>>,
    /// Validation loss per task, in [`Curves::tasks`] order.
    pub valid_loss: Vec<Option<f64>>,
    /// Validation metrics per task, `(metric, value)`, in [`Curves::tasks`] order.
    pub valid_metrics: Vec<Vec<(String, Option<f64>)>>,
}

/// A cell's `curves.csv`:
/// `epoch,seconds,monitor[,tau],train_loss_<t>…,valid_loss_<t>…,valid_<t>_<metric>…`
/// (`tau` only when some row has a temperature; files without it still parse).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curves {
    /// Task names in column order (the chain's order).
    pub tasks: Vec<String>,
    /// One row per epoch.
    pub rows: Vec<CurveRow>,
}

/// One row of `grad_stats.csv` (`step,task,norm_raw,norm_adjusted,cos_core`).
#[derive(Debug, Clone, PartialEq)]
pub struct GradStatRow {
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

/// What a cell's `metrics.json` says about it.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricsState {
    /// No `metrics.json`.
    Missing,
    /// Parses and covers the experiment's tasks.
    Finished(MetricTable),
    /// Present but unusable, with the reason in words.
    Corrupt(String),
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

fn parse_opt(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

impl Curves {
    /// The CSV text.
    pub fn to_csv(&self) -> String {
        let mut s = String::from("epoch,seconds,monitor");
        let with_tau = self.rows.iter().any(|r| r.tau.is_some());
        if with_tau {
            s.push_str(",tau");
        }
        for t in &self.tasks {
            let _ = write!(s, ",train_loss_{t}");
        }
        for t in &self.tasks {
            let _ = write!(s, ",valid_loss_{t}");
        }
        if let Some(r) = self.rows.first() {
            for (t, ms) in self.tasks.iter().zip(&r.valid_metrics) {
                for (m, _) in ms {
                    let _ = write!(s, ",valid_{t}_{m}");
                }
            }
        }
        s.push('\n');
        for r in &self.rows {
            let seconds = r.seconds.map(|x| format!("{x:.3}")).unwrap_or_default();
            let _ = write!(s, "{},{seconds},{}", r.epoch, opt(r.monitor));
            if with_tau {
                let _ = write!(s, ",{}", opt(r.tau));
            }
            for x in r.train_loss.iter().chain(&r.valid_loss) {
                let _ = write!(s, ",{}", opt(*x));
            }
            for ms in &r.valid_metrics {
                for (_, v) in ms {
                    let _ = write!(s, ",{}", opt(*v));
                }
            }
            s.push('\n');
        }
        s
    }

    /// Parses the CSV text. Tasks are those of the `valid_loss_<task>` columns; the other
    /// columns are optional.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        let header = split_csv_line(lines.next().ok_or("empty file")?);
        let col = |name: &str| header.iter().position(|h| h == name);
        let epoch_col = col("epoch").ok_or("no `epoch` column")?;
        let tasks: Vec<String> = header
            .iter()
            .filter_map(|h| h.strip_prefix("valid_loss_").map(str::to_string))
            .collect();
        if tasks.is_empty() {
            return Err("no `valid_loss_<task>` column".into());
        }
        let per_task = |prefix: &str| -> Vec<Option<usize>> {
            tasks.iter().map(|t| col(&format!("{prefix}{t}"))).collect()
        };
        let train_cols = per_task("train_loss_");
        let valid_cols = per_task("valid_loss_");
        // `valid_<task>_<metric>`: the longest task name that prefixes the column.
        let mut metric_cols: Vec<Vec<(String, usize)>> = vec![Vec::new(); tasks.len()];
        for (i, h) in header.iter().enumerate() {
            let Some(rest) = h.strip_prefix("valid_") else {
                continue;
            };
            if h.starts_with("valid_loss_") {
                continue;
            }
            let best = tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| rest.len() > t.len() + 1 && rest.starts_with(&format!("{t}_")))
                .max_by_key(|(_, t)| t.len());
            if let Some((ti, t)) = best {
                metric_cols[ti].push((rest[t.len() + 1..].to_string(), i));
            }
        }
        let (sec_col, mon_col, tau_col) = (col("seconds"), col("monitor"), col("tau"));
        let mut rows = Vec::new();
        for (ln, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f = split_csv_line(line);
            let get = |i: Option<usize>| i.and_then(|i| f.get(i)).and_then(|s| parse_opt(s));
            let epoch = f
                .get(epoch_col)
                .and_then(|e| e.trim().parse::<usize>().ok())
                .ok_or_else(|| format!("line {}: `epoch` is not an integer", ln + 2))?;
            rows.push(CurveRow {
                epoch,
                seconds: get(sec_col),
                monitor: get(mon_col),
                tau: get(tau_col),
                train_loss: train_cols.iter().map(|c| get(*c)).collect(),
                valid_loss: valid_cols.iter().map(|c| get(*c)).collect(),
                valid_metrics: metric_cols
                    .iter()
                    .map(|ms| ms.iter().map(|(m, i)| (m.clone(), get(Some(*i)))).collect())
                    .collect(),
            });
        }
        Ok(Self { tasks, rows })
    }
}

impl GradStatRow {
    /// The CSV text of `rows`, with its header.
    pub fn to_csv(rows: &[GradStatRow]) -> String {
        let mut s = String::from("step,task,norm_raw,norm_adjusted,cos_core\n");
        for g in rows {
            let _ = writeln!(
                s,
                "{},{},{},{},{}",
                g.step, g.task, g.norm_raw, g.norm_adjusted, g.cos_core
            );
        }
        s
    }

    /// Parses `grad_stats.csv`; `cos_core` is optional, unreadable numbers become NaN.
    pub fn parse(text: &str) -> Result<Vec<GradStatRow>, String> {
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
            let float = |i: usize| get(i).trim().parse().unwrap_or(f64::NAN);
            let step = get(c_step)
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("line {}: `step` is not an integer", ln + 2))?;
            out.push(GradStatRow {
                step,
                task: get(c_task).to_string(),
                norm_raw: float(c_raw),
                norm_adjusted: float(c_adj),
                cos_core: c_cos.map_or(f64::NAN, float),
            });
        }
        Ok(out)
    }
}

/// Whether `table` is a finished cell's metrics for the chain `tasks`: its `test` split names
/// every task (any `test` split at all when the chain is unknown). `Err` says what is missing.
pub fn check_metric_table(table: &MetricTable, tasks: &[String]) -> Result<(), String> {
    let Some(test) = table.get("test") else {
        return Err("has no `test` split".into());
    };
    if tasks.is_empty() && test.is_empty() {
        return Err("has no task in its `test` split".into());
    }
    let missing: Vec<&str> = tasks
        .iter()
        .filter(|t| !test.contains_key(*t))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "lacks task(s) {} in its `test` split",
            missing
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Owns an experiment's result folder.
#[derive(Debug, Clone)]
pub struct ResultStore {
    root: PathBuf,
}

impl ResultStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of the cell folders.
    pub fn cells_dir(&self) -> PathBuf {
        self.root.join(CELLS_DIR)
    }

    /// A cell's folder.
    pub fn cell_dir(&self, id: &str) -> PathBuf {
        self.cells_dir().join(id)
    }

    /// A file in a cell's folder.
    pub fn cell_file(&self, id: &str, name: &str) -> PathBuf {
        self.cell_dir(id).join(name)
    }

    /// A top-level file.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_atomic(path, bytes).map_err(write_err(path))
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| StoreError::Serialise {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        self.write(path, text.as_bytes())
    }

    /// Reads a file; `Ok(None)` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<String>, StoreError> {
        match fs::read_to_string(path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::Read {
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &Path,
    ) -> Result<Option<T>, StoreError> {
        let Some(text) = self.read(path)? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Parse {
                path: path.to_path_buf(),
                message: format!("not a valid {}: {e}", file_name(path)),
            })
    }

    /// Writes `manifest.json`.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), StoreError> {
        self.write_json(&self.file(MANIFEST), m)
    }

    /// Reads `manifest.json` (`Ok(None)` when absent).
    pub fn read_manifest(&self) -> Result<Option<Manifest>, StoreError> {
        self.read_json(&self.file(MANIFEST))
    }

    /// Writes a top-level text file (`cells.csv`, `summary.csv`, `summary.md`).
    pub fn write_top(&self, name: &str, text: &str) -> Result<(), StoreError> {
        self.write(&self.file(name), text.as_bytes())
    }

    /// Reads a top-level text file (`Ok(None)` when absent).
    pub fn read_top(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(&self.file(name))
    }

    /// Writes a cell's `config.yaml` from its resolved config.
    pub fn write_config<T: Serialize>(&self, id: &str, config: &T) -> Result<(), StoreError> {
        let path = self.cell_file(id, CONFIG);
        let text = serde_yaml::to_string(config).map_err(|e| StoreError::Serialise {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.write(&path, text.as_bytes())
    }

    /// Reads a cell's `config.yaml` as YAML (`Ok(None)` when absent).
    pub fn read_config(&self, id: &str) -> Result<Option<serde_yaml::Value>, StoreError> {
        let path = self.cell_file(id, CONFIG);
        let Some(text) = self.read(&path)? else {
            return Ok(None);
        };
        serde_yaml::from_str(&text)
            .map(Some)
            .map_err(|e| StoreError::Parse {
                path,
                message: e.to_string(),
            })
    }

    /// Writes a cell's `metrics.json` (last: it marks the cell finished).
    pub fn write_metrics(&self, id: &str, metrics: &MetricTable) -> Result<(), StoreError> {
        self.write_json(&self.cell_file(id, METRICS), metrics)
    }

    /// Reads and checks a cell's `metrics.json` against the task chain `tasks` (see
    /// [`check_metric_table`]); a file that cannot be read at all is an error.
    pub fn check_metrics(&self, id: &str, tasks: &[String]) -> Result<MetricsState, StoreError> {
        let path = self.cell_file(id, METRICS);
        let Some(text) = self.read(&path)? else {
            return Ok(MetricsState::Missing);
        };
        let table: MetricTable = match serde_json::from_str(&text) {
            Ok(t) => t,
            Err(e) => {
                return Ok(MetricsState::Corrupt(format!(
                    "does not parse ({e}; expected split -> task -> metric -> number or null)"
                )))
            }
        };
        Ok(match check_metric_table(&table, tasks) {
            Ok(()) => MetricsState::Finished(table),
            Err(why) => MetricsState::Corrupt(why),
        })
    }

    /// Moves an unusable `metrics.json` aside to `metrics.json.corrupt-<n>` (the first free
    /// `n` from 1) and returns the new path.
    pub fn set_aside_metrics(&self, id: &str) -> Result<PathBuf, StoreError> {
        let from = self.cell_file(id, METRICS);
        let mut n = 1;
        let to = loop {
            let p = self.cell_file(id, &format!("{METRICS_CORRUPT_PREFIX}{n}"));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        fs::rename(&from, &to).map_err(write_err(&to))?;
        Ok(to)
    }

    /// Writes a cell's `cell.json`.
    pub fn write_cell_info(&self, id: &str, info: &CellInfo) -> Result<(), StoreError> {
        self.write_json(&self.cell_file(id, CELL_INFO), info)
    }

    /// Reads a cell's `cell.json` (`Ok(None)` when absent).
    pub fn read_cell_info(&self, id: &str) -> Result<Option<CellInfo>, StoreError> {
        self.read_json(&self.cell_file(id, CELL_INFO))
    }

    /// Writes a cell's `failed.json`.
    pub fn write_failed(&self, id: &str, failed: &FailedCell) -> Result<(), StoreError> {
        self.write_json(&self.cell_file(id, FAILED), failed)
    }

    /// Reads a cell's `failed.json` (`Ok(None)` when absent).
    pub fn read_failed(&self, id: &str) -> Result<Option<FailedCell>, StoreError> {
        self.read_json(&self.cell_file(id, FAILED))
    }

    /// Whether a cell has a `failed.json`.
    pub fn has_failed(&self, id: &str) -> bool {
        self.cell_file(id, FAILED).is_file()
    }

    /// Writes a cell's `curves.csv`.
    pub fn write_curves(&self, id: &str, curves: &Curves) -> Result<(), StoreError> {
        self.write(&self.cell_file(id, CURVES), curves.to_csv().as_bytes())
    }

    /// Reads a cell's `curves.csv` (`Ok(None)` when absent).
    pub fn read_curves(&self, id: &str) -> Result<Option<Curves>, StoreError> {
        let path = self.cell_file(id, CURVES);
        let Some(text) = self.read(&path)? else {
            return Ok(None);
        };
        Curves::parse(&text)
            .map(Some)
            .map_err(|message| StoreError::Parse { path, message })
    }

    /// Writes a cell's `grad_stats.csv`.
    pub fn write_grad_stats(&self, id: &str, rows: &[GradStatRow]) -> Result<(), StoreError> {
        self.write(
            &self.cell_file(id, GRAD_STATS),
            GradStatRow::to_csv(rows).as_bytes(),
        )
    }

    /// Reads a cell's `grad_stats.csv` (empty when absent).
    pub fn read_grad_stats(&self, id: &str) -> Result<Vec<GradStatRow>, StoreError> {
        let path = self.cell_file(id, GRAD_STATS);
        let Some(text) = self.read(&path)? else {
            return Ok(Vec::new());
        };
        GradStatRow::parse(&text).map_err(|message| StoreError::Parse { path, message })
    }

    /// Writes a cell's `predictions.csv`: `<task>,<task>_pred` per task, one row per test
    /// example (`labels[t][row]`, `predictions[t][row]`).
    pub fn write_predictions(
        &self,
        id: &str,
        tasks: &[String],
        labels: &[Vec<f32>],
        predictions: &[Vec<f32>],
    ) -> Result<(), StoreError> {
        let mut s = tasks
            .iter()
            .map(|n| format!("{n},{n}_pred"))
            .collect::<Vec<_>>()
            .join(",");
        s.push('\n');
        for r in 0..labels.first().map_or(0, Vec::len) {
            let row: Vec<String> = (0..tasks.len())
                .map(|t| format!("{},{}", labels[t][r], predictions[t][r]))
                .collect();
            s.push_str(&row.join(","));
            s.push('\n');
        }
        self.write(&self.cell_file(id, PREDICTIONS), s.as_bytes())
    }

    /// Ids of the stored cell folders, sorted (folders starting with `.` are skipped);
    /// empty when there is no `cells/` folder.
    pub fn cell_ids(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.cells_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(StoreError::Read { path: dir, error }),
        };
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|id| !id.starts_with('.'))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Removes a cell's outputs (for `--force` and before a retry), keeping set-aside
    /// `metrics.json.corrupt-<n>` files.
    pub fn clear_cell(&self, id: &str) -> Result<(), StoreError> {
        let dir = self.cell_dir(id);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(StoreError::Read { path: dir, error }),
        };
        for e in entries {
            let e = e.map_err(|error| StoreError::Read {
                path: dir.clone(),
                error,
            })?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(METRICS_CORRUPT_PREFIX) {
                continue;
            }
            let p = e.path();
            let removed = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            removed.map_err(write_err(&p))?;
        }
        Ok(())
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

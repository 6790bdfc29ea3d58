//! The cell runner: expands an experiment, skips finished cells, trains the rest (side by
//! side on CPU with rayon), isolates failures, writes results atomically and summarises.

mod store;
#[cfg(test)]
mod tests;

pub use store::{write_atomic, ResultStore, RunLock};

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::Device;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::config::{CellConfig, Experiment};
use crate::data::Dataset;
use crate::report::summary::{long_rows, summarise, summary_markdown, CellMetrics};
use crate::train::{train_cell, TrainError, TrainOutcome};

/// Options of `htl run`.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Result folder (default `results/<experiment name>`).
    pub out: Option<PathBuf>,
    /// Cells trained at once (default: the number of cores).
    pub jobs: Option<usize>,
    /// No progress bars.
    pub quiet: bool,
    /// Retrain finished cells.
    pub force: bool,
    /// Write `predictions.csv` for the test split.
    pub save_predictions: bool,
    /// Only cells whose variant label, model or seed matches one of these.
    pub only: Vec<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Result folder.
    pub root: PathBuf,
    /// Cells in the experiment (after `--only`).
    pub total: usize,
    /// Cells skipped because they had finished before.
    pub skipped: usize,
    /// Cells trained now.
    pub trained: usize,
    /// `(cell id, reason)` of failed cells.
    pub failed: Vec<(String, String)>,
    /// The summary table as Markdown.
    pub summary_md: String,
}

/// A device chosen at run time: its name, the burn backend behind it, and the device.
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    /// As written: `cpu`, `libtorch`, `libtorch-cuda:0`, `cuda:0`.
    pub name: String,
    /// Backend: `flex`, `tch` or `cuda`.
    pub backend: &'static str,
    /// The burn device.
    pub device: Device,
    /// GPU devices run cells one after another by default.
    pub is_gpu: bool,
}

fn gpu_index(name: &str, prefix: &str) -> Result<usize, String> {
    name.strip_prefix(prefix)
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| {
            format!("device `{name}`: write the GPU index after the colon, e.g. `{prefix}0`")
        })
}

/// Parses a device name: `cpu` (flex, always built in), `libtorch` / `libtorch-cuda:N`
/// (feature `tch`), `cuda:N` (feature `cuda`). A device whose backend is not compiled in
/// names the feature to enable.
pub fn device_from_name(name: &str) -> Result<DeviceChoice, String> {
    let choice = |backend, device, is_gpu| {
        Ok(DeviceChoice {
            name: name.to_string(),
            backend,
            device,
            is_gpu,
        })
    };
    let missing = |feature: &str| {
        Err(format!(
            "device `{name}` needs the `{feature}` backend, which this binary was built without; rebuild with `cargo build --release --features {feature}` (README: Running on libtorch / on a GPU)"
        ))
    };
    match name {
        "cpu" | "flex" => choice("flex", Device::flex(), false),
        "libtorch" => {
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            return choice("tch", Device::libtorch(), false);
            #[cfg(not(feature = "tch"))]
            missing("tch")
        }
        n if n.starts_with("libtorch-cuda:") => {
            let _i = gpu_index(n, "libtorch-cuda:")?;
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            return choice("tch", Device::libtorch_cuda(_i), true);
            #[cfg(not(feature = "tch"))]
            missing("tch")
        }
        n if n.starts_with("cuda:") || n == "cuda" => {
            let _i = if n == "cuda" {
                0
            } else {
                gpu_index(n, "cuda:")?
            };
            #[cfg(feature = "cuda")]
            return choice("cuda", Device::cuda(_i), true);
            #[cfg(not(feature = "cuda"))]
            missing("cuda")
        }
        other => Err(format!(
            "unknown device `{other}`; valid: cpu, libtorch, libtorch-cuda:N, cuda:N"
        )),
    }
}

/// Runs every unfinished cell of `exp` on `data`.
pub fn run_experiment(
    exp: &Experiment,
    data: &Dataset,
    dev: &DeviceChoice,
    opts: &RunOptions,
) -> Result<RunSummary, String> {
    run_experiment_with(exp, data, dev, opts, &BurnTrainer)
}

/// What trains one cell. The runner only sees this seam, so sweeps, resume, failure
/// isolation and reporting can be tested with an instant mock.
pub trait CellTrainer: Sync {
    /// Trains and evaluates one cell.
    fn train(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        device: &Device,
        progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError>;
}

/// The real trainer ([`train_cell`]).
pub struct BurnTrainer;

impl CellTrainer for BurnTrainer {
    fn train(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        device: &Device,
        progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        train_cell(cell, data, device, progress)
    }
}

/// [`run_experiment`] with a given trainer.
pub fn run_experiment_with(
    exp: &Experiment,
    data: &Dataset,
    dev: &DeviceChoice,
    opts: &RunOptions,
    trainer: &dyn CellTrainer,
) -> Result<RunSummary, String> {
    let root = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let store = ResultStore::new(&root);
    let _lock = RunLock::acquire(&root)?;
    let started = now_rfc3339();
    let cells: Vec<&CellConfig> = exp
        .cells
        .iter()
        .filter(|c| matches_only(c, &opts.only))
        .collect();
    if cells.is_empty() {
        return Err(format!(
            "--only {} matches no cell; variants: {}",
            opts.only.join(","),
            exp.variants.join(", ")
        ));
    }
    let mut todo = Vec::new();
    let mut skipped = 0;
    for c in &cells {
        let id = c.id();
        if opts.force {
            store
                .clear_cell(&id)
                .map_err(|e| format!("cannot clear {}: {e}", store.cell_dir(&id).display()))?;
        }
        if store.is_finished(&id) {
            skipped += 1;
        } else {
            let _ = store.clear_cell(&id);
            todo.push((*c, id));
        }
    }
    write_manifest(&store, exp, dev, &started, None)?;
    let show = !opts.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let bar = multi.add(ProgressBar::new(todo.len() as u64));
    bar.set_style(
        ProgressStyle::with_template(
            "cells {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
        )
        .expect("template"),
    );
    if skipped > 0 {
        bar.println(format!(
            "{skipped} finished cell(s) kept; training {}",
            todo.len()
        ));
    }
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| e.to_string())?;
    let failed = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    pool.install(|| {
        todo.par_iter().for_each(|(cell, id)| {
            let epoch_bar = multi.add(ProgressBar::new(cell.train.epochs as u64));
            epoch_bar.set_style(
                ProgressStyle::with_template("  {msg:40} epoch {pos}/{len}").expect("template"),
            );
            epoch_bar.set_message(id.clone());
            let progress = |e: usize, _max: usize| epoch_bar.set_position(e as u64);
            let ended = train_and_store(
                &store,
                id,
                cell,
                data,
                dev,
                trainer,
                opts.save_predictions,
                &progress,
            );
            if let Err(e) = ended {
                if let CellFailure::Training(why) = &e {
                    bar.println(format!("cell {id} failed: {why}"));
                }
                failed
                    .lock()
                    .expect("lock")
                    .push((id.clone(), e.to_string()));
            }
            epoch_bar.finish_and_clear();
            done.fetch_add(1, Ordering::Relaxed);
            bar.inc(1);
        });
    });
    bar.finish_and_clear();
    let failed = failed.into_inner().expect("lock");
    let task_names: Vec<String> = data.tasks.tasks().iter().map(|t| t.name.clone()).collect();
    let summary_md = write_summaries(&store, exp, &cells, &task_names)?;
    write_manifest(&store, exp, dev, &started, Some(&now_rfc3339()))?;
    Ok(RunSummary {
        root,
        total: cells.len(),
        skipped,
        trained: done.into_inner(),
        failed,
        summary_md,
    })
}

/// Why [`train_and_store`] did not leave a finished cell.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CellFailure {
    /// Training failed (an error, divergence or panic); `failed.json` holds the reason.
    #[error("{0}")]
    Training(String),
    /// The results could not be written.
    #[error("writing results: {0}")]
    Write(String),
}

/// Trains ONE cell and writes its results into `store` — the code path every cell of
/// `htl run` takes, also used by `htl run-cell` (one SLURM array task): a training error or
/// panic is stored as `failed.json`; on success `config.yaml`, `curves.csv`, `cell.json`
/// (and the optional files) are written atomically, `metrics.json` last.
#[allow(clippy::too_many_arguments)]
pub fn train_and_store(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    data: &Dataset,
    dev: &DeviceChoice,
    trainer: &dyn CellTrainer,
    save_predictions: bool,
    progress: crate::train::Progress,
) -> Result<(), CellFailure> {
    let t0 = Instant::now();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        trainer.train(cell, data, &dev.device, progress)
    }));
    let result = match result {
        Ok(r) => r,
        Err(p) => Err(TrainError::Other(format!(
            "internal error (panic): {}",
            panic_text(&p)
        ))),
    };
    let secs = t0.elapsed().as_secs_f64();
    let written = match &result {
        Ok(out) => write_cell(store, id, cell, data, out, secs, save_predictions, dev),
        Err(e) => write_failed(store, id, cell, &e.to_string()),
    };
    match (result, written) {
        (Err(e), _) => Err(CellFailure::Training(e.to_string())),
        (Ok(_), Err(e)) => Err(CellFailure::Write(e)),
        (Ok(_), Ok(())) => Ok(()),
    }
}

/// Whether `c` is selected by `--only` (empty = every cell): its variant label, model name
/// or seed is one of `only`.
pub fn matches_only(c: &CellConfig, only: &[String]) -> bool {
    only.is_empty()
        || only.iter().any(|o| {
            o == &c.variant
                || o == &c.model
                || o.parse::<u64>().ok() == Some(c.seed)
                || o == "constant" && c.model == "constant"
        })
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

#[allow(clippy::too_many_arguments)]
fn write_cell(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    data: &Dataset,
    out: &TrainOutcome,
    secs: f64,
    save_predictions: bool,
    dev: &DeviceChoice,
) -> Result<(), String> {
    store
        .write_cell(
            id,
            "config.yaml",
            serde_yaml::to_string(cell)
                .map_err(|e| e.to_string())?
                .as_bytes(),
        )
        .map_err(io)?;
    let names: Vec<&str> = data.tasks.tasks().iter().map(|t| t.name.as_str()).collect();
    if !out.curves.is_empty() {
        store
            .write_cell(
                id,
                "curves.csv",
                crate::report::csv::curves_csv(&names, &out.curves).as_bytes(),
            )
            .map_err(io)?;
    }
    if !out.grad_stats.is_empty() {
        let mut s = String::from("step,task,norm_raw,norm_adjusted,cos_core\n");
        for (step, g) in &out.grad_stats {
            let _ = writeln!(
                s,
                "{step},{},{},{},{}",
                names[g.task], g.norm_raw, g.norm_adjusted, g.cos_core
            );
        }
        store
            .write_cell(id, "grad_stats.csv", s.as_bytes())
            .map_err(io)?;
    }
    if save_predictions {
        let mut s = names
            .iter()
            .map(|n| format!("{n},{n}_pred"))
            .collect::<Vec<_>>()
            .join(",");
        s.push('\n');
        for r in 0..out.test_labels.first().map_or(0, Vec::len) {
            let row: Vec<String> = (0..names.len())
                .map(|t| format!("{},{}", out.test_labels[t][r], out.test_predictions[t][r]))
                .collect();
            s.push_str(&row.join(","));
            s.push('\n');
        }
        store
            .write_cell(id, "predictions.csv", s.as_bytes())
            .map_err(io)?;
    }
    let info = serde_json::json!({
        "seconds": secs,
        "best_epoch": out.best_epoch,
        "steps": out.steps,
        "backend": dev.backend,
        "device": dev.name,
        "grad": cell.grad.name(),
        "finished": now_rfc3339(),
    });
    store
        .write_cell(
            id,
            "cell.json",
            serde_json::to_string_pretty(&info)
                .expect("json")
                .as_bytes(),
        )
        .map_err(io)?;
    let metrics = serde_json::to_string_pretty(&out.metrics).map_err(|e| e.to_string())?;
    store
        .write_cell(id, "metrics.json", metrics.as_bytes())
        .map_err(io)
}

fn write_failed(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    reason: &str,
) -> Result<(), String> {
    store
        .write_cell(
            id,
            "config.yaml",
            serde_yaml::to_string(cell)
                .map_err(|e| e.to_string())?
                .as_bytes(),
        )
        .map_err(io)?;
    let v = serde_json::json!({ "reason": reason, "at": now_rfc3339() });
    store
        .write_cell(
            id,
            "failed.json",
            serde_json::to_string_pretty(&v).expect("json").as_bytes(),
        )
        .map_err(io)
}

/// Reads the stored results of `cells` and writes `cells.csv`, `summary.csv`, `summary.md`;
/// returns the summary table as Markdown.
pub fn write_summaries(
    store: &ResultStore,
    exp: &Experiment,
    cells: &[&CellConfig],
    tasks: &[String],
) -> Result<String, String> {
    let mut stored = Vec::new();
    for c in cells {
        let id = c.id();
        if let Some(text) = store.read_cell(&id, "metrics.json") {
            let metrics = serde_json::from_str(&text)
                .map_err(|e| format!("{}: {e}", store.cell_file(&id, "metrics.json").display()))?;
            stored.push(CellMetrics {
                variant: c.variant.clone(),
                model: c.model.clone(),
                seed: c.seed,
                metrics,
                failed: None,
            });
        } else if let Some(text) = store.read_cell(&id, "failed.json") {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let reason = v["reason"].as_str().unwrap_or("failed").to_string();
            stored.push(CellMetrics {
                variant: c.variant.clone(),
                model: c.model.clone(),
                seed: c.seed,
                metrics: Default::default(),
                failed: Some(reason),
            });
        }
    }
    store
        .write_top("cells.csv", long_rows(&stored).as_bytes())
        .map_err(io)?;
    let summary = summarise(&stored, &exp.variants);
    store
        .write_top(
            "summary.csv",
            crate::report::csv::summary_csv(&summary).as_bytes(),
        )
        .map_err(io)?;
    let md = summary_markdown(&exp.name, &summary, &stored, tasks);
    store.write_top("summary.md", md.as_bytes()).map_err(io)?;
    Ok(md)
}

/// Writes `manifest.json`: experiment, git revision, versions, backend, machine, start and
/// end times, variants and cell ids.
pub fn write_manifest(
    store: &ResultStore,
    exp: &Experiment,
    dev: &DeviceChoice,
    started: &str,
    ended: Option<&str>,
) -> Result<(), String> {
    // The revision of the source this binary was built from.
    let repo = env!("CARGO_MANIFEST_DIR");
    let git = std::process::Command::new("git")
        .args(["-C", repo, "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = std::process::Command::new("git")
        .args(["-C", repo, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| !o.stdout.is_empty());
    let host = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let v = serde_json::json!({
        "experiment": exp.name,
        "experiment_file": exp.path.display().to_string(),
        "git_revision": git,
        "git_dirty": dirty,
        "htlbench": env!("CARGO_PKG_VERSION"),
        "crates": {"burn": "0.22.1", "polars": "0.55", "rustc": option_env!("RUSTC_VERSION").unwrap_or("see Cargo.lock")},
        "backend": dev.backend,
        "device": dev.name,
        "machine": {"host": host, "os": std::env::consts::OS, "arch": std::env::consts::ARCH,
                     "cores": std::thread::available_parallelism().map_or(1, |n| n.get())},
        "started": started,
        "ended": ended,
        "cells": exp.cells.len(),
        "variants": exp.variants,
        "cell_ids": exp.cells.iter().map(CellConfig::id).collect::<Vec<_>>(),
    });
    store
        .write_top(
            "manifest.json",
            serde_json::to_string_pretty(&v).expect("json").as_bytes(),
        )
        .map_err(io)
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`, without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

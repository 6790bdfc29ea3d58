//! The cell runner: expands an experiment, skips finished cells, trains the rest (side by
//! side on CPU with rayon), isolates failures, writes results atomically and summarises.

#[cfg(test)]
mod gpu_tests;
mod panics;
mod schedule;
#[cfg(test)]
mod tests;

pub use panics::is_out_of_memory;
pub use schedule::{budget_for, fits, Admission, Permit, GPU_MEM_SAFETY};

/// Re-exported for callers that have not moved to [`crate::util::now_rfc3339`] yet.
pub use crate::util::now_rfc3339;
/// Re-exported for callers that have not moved to [`crate::util::write_atomic`] yet.
pub use crate::util::write_atomic;

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
use crate::store::{
    CellInfo, CurveRow, Curves, FailedCell, GradStatRow, Manifest, ManifestCell, MetricsState,
    ResultStore, RunLock, StoreError, TaskKind, TaskRecord,
};
use crate::train::memory::{cell_shape, estimate, gib};
use crate::train::{train_cell, train_cell_with, DataPlacement, TrainError, TrainOutcome};

/// Evaluation batch size on a GPU device for a cell whose `train.eval_batch_size` is left
/// at its default (8192): evaluation has no backward, and large batches keep a GPU busy.
/// The cell's config and id keep the value as written.
pub const GPU_EVAL_BATCH_SIZE: usize = 65_536;

/// The evaluation batch size a cell runs with: on a GPU device the default 8192 becomes
/// [`GPU_EVAL_BATCH_SIZE`]; any other value (and every value on CPU) is used as written.
pub fn eval_batch_size(cell: &CellConfig, is_gpu: bool) -> usize {
    let written = cell.train.eval_batch_size;
    if is_gpu && written == crate::config::TrainConfig::default().eval_batch_size {
        GPU_EVAL_BATCH_SIZE
    } else {
        written
    }
}

/// Why a run could not start or finish. A failing cell is not an error of the run: it is
/// recorded in the cell's `failed.json` and listed in [`RunSummary::failed`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Reading or writing the result folder failed (or its lock is held).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `--only` selects nothing.
    #[error("--only {only} matches no cell; variants: {variants}")]
    NoCellMatches {
        /// The `--only` values, comma-separated.
        only: String,
        /// The experiment's variants, comma-separated.
        variants: String,
    },
    /// The worker threads could not be started.
    #[error("cannot start {jobs} worker thread(s): {message}")]
    ThreadPool {
        /// Threads asked for.
        jobs: usize,
        /// The system's reason.
        message: String,
    },
}

/// A device name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// Not a known device name.
    #[error("unknown device `{0}`; valid: cpu, libtorch, libtorch-cuda:N, cuda:N")]
    Unknown(String),
    /// A GPU device without a usable index.
    #[error("device `{name}`: write the GPU index after the colon, e.g. `{prefix}0`")]
    GpuIndex {
        /// The name as written.
        name: String,
        /// The part before the index (`cuda:`, `libtorch-cuda:`).
        prefix: String,
    },
    /// The device's backend is not compiled into this binary.
    #[error("device `{name}` needs the `{feature}` backend, which this binary was built without; rebuild with `cargo build --release --features {feature}` (README: Running on libtorch / on a GPU)")]
    MissingBackend {
        /// The name as written.
        name: String,
        /// The cargo feature to enable.
        feature: String,
    },
}

/// Options of `htl run`.
#[derive(Debug, Clone, Default)]
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
    /// Memory of the GPU device in bytes (`--gpu-mem`, or what `nvidia-smi` reports): on a
    /// GPU, cells start only while the sum of their estimates fits in
    /// [`GPU_MEM_SAFETY`] of it. `None` on a GPU: one cell at a time unless `--jobs` says
    /// otherwise.
    pub gpu_mem: Option<u64>,
    /// Where the data lives while a cell trains (`None`: on the device for a GPU, on the
    /// host for CPU; see [`DataPlacement`]).
    pub placement: Option<DataPlacement>,
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
    /// One-line notes and warnings printed to stderr during the run (a stale lock taken
    /// over, a corrupt `metrics.json` set aside).
    pub notes: Vec<String>,
}

/// A device chosen at run time: its name, the burn backend behind it, and the device
/// (parsed from its name at the edge, `crate::device`).
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

/// Runs every unfinished cell of `exp` on `data`.
pub fn run_experiment(
    exp: &Experiment,
    data: &Dataset,
    dev: &DeviceChoice,
    opts: &RunOptions,
) -> Result<RunSummary, RunError> {
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

    /// Trains one cell with its data where `placement` says. The default ignores the
    /// placement (for trainers that do not touch a device).
    fn train_placed(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        device: &Device,
        _placement: DataPlacement,
        progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        self.train(cell, data, device, progress)
    }

    /// Device bytes the cell is estimated to need ([`crate::train::memory`]), with its
    /// evaluation batch size `eval_batch`.
    fn estimate(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        placement: DataPlacement,
        eval_batch: usize,
    ) -> Result<u64, TrainError> {
        cell_shape(cell, data, placement, eval_batch).map(|s| estimate(&s).total())
    }
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

    fn train_placed(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        device: &Device,
        placement: DataPlacement,
        progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        train_cell_with(cell, data, device, placement, progress)
    }
}

/// Prints a one-line note or warning to stderr and keeps it for the [`RunSummary`].
fn note(notes: &mut Vec<String>, line: String) {
    eprintln!("{line}");
    notes.push(line);
}

/// [`run_experiment`] with a given trainer.
///
/// A cell counts as finished when its `metrics.json` parses and has every task of the chain
/// in its `test` split; any other `metrics.json` is moved aside to
/// `metrics.json.corrupt-<n>` with a warning and the cell is retrained. The summaries
/// (`cells.csv`, `summary.csv`, `summary.md`) always cover every finished cell of the
/// experiment, whatever `--only` selected.
pub fn run_experiment_with(
    exp: &Experiment,
    data: &Dataset,
    dev: &DeviceChoice,
    opts: &RunOptions,
    trainer: &dyn CellTrainer,
) -> Result<RunSummary, RunError> {
    let root = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(&exp.name));
    let store = ResultStore::new(&root);
    let mut notes = Vec::new();
    let (_lock, lock_note) = RunLock::acquire(&root)?;
    if let Some(n) = lock_note {
        note(&mut notes, n);
    }
    let started = now_rfc3339();
    let cells: Vec<&CellConfig> = exp
        .cells
        .iter()
        .filter(|c| matches_only(c, &opts.only))
        .collect();
    if cells.is_empty() {
        return Err(RunError::NoCellMatches {
            only: opts.only.join(","),
            variants: exp.variants.join(", "),
        });
    }
    let task_names: Vec<String> = data.tasks.tasks().iter().map(|t| t.name.clone()).collect();
    let mut todo = Vec::new();
    let mut skipped = 0;
    for c in &cells {
        let id = c.id();
        if opts.force {
            store.clear_cell(&id)?;
        }
        match store.check_metrics(&id, &task_names)? {
            MetricsState::Finished(_) => skipped += 1,
            MetricsState::Corrupt(why) => {
                let to = store.set_aside_metrics(&id)?;
                note(
                    &mut notes,
                    format!(
                        "warning: {} {why}; moved it to {} and retraining the cell",
                        store.cell_file(&id, crate::store::METRICS).display(),
                        to.display()
                    ),
                );
                store.clear_cell(&id)?;
                todo.push((*c, id));
            }
            MetricsState::Missing => {
                store.clear_cell(&id)?;
                todo.push((*c, id));
            }
        }
    }
    write_manifest(&store, exp, data, dev, &started, None)?;
    let show = !opts.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let bar = multi.add(ProgressBar::new(todo.len() as u64));
    if let Ok(style) = ProgressStyle::with_template(
        "cells {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
    ) {
        bar.set_style(style);
    }
    if skipped > 0 {
        bar.println(format!(
            "{skipped} finished cell(s) kept; training {}",
            todo.len()
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let placement = opts
        .placement
        .unwrap_or(DataPlacement::for_device(dev.is_gpu));
    panics::install_quiet_hook();
    let failed = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let epoch_style = ProgressStyle::with_template("  {msg:40} epoch {pos}/{len}").ok();
    let run_one = |cell: &CellConfig, id: &String| {
        let epoch_bar = multi.add(ProgressBar::new(cell.train.epochs as u64));
        if let Some(style) = &epoch_style {
            epoch_bar.set_style(style.clone());
        }
        epoch_bar.set_message(id.clone());
        let progress = |e: usize, _max: usize| epoch_bar.set_position(e as u64);
        let ended = train_and_store_with(
            &store,
            id,
            cell,
            data,
            dev,
            trainer,
            opts.save_predictions,
            placement,
            &progress,
        );
        if let Err(e) = ended {
            if let CellFailure::Training(why) = &e {
                bar.println(format!("cell {id} failed: {why}"));
            }
            let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.push((id.clone(), e.to_string()));
        }
        epoch_bar.finish_and_clear();
        done.fetch_add(1, Ordering::Relaxed);
        bar.inc(1);
    };
    if dev.is_gpu {
        // Cells share the GPU: `jobs` workers take cells in order; each cell starts once
        // its memory estimate fits beside the running ones.
        let budget = opts.gpu_mem.map(budget_for);
        let jobs = match (opts.jobs, budget) {
            (Some(j), _) => j.max(1),
            (None, Some(_)) => cores,
            (None, None) => 1,
        };
        let mut needs = Vec::with_capacity(todo.len());
        if let Some(b) = budget {
            // Seeds of one variant share their shape: the model is built once per variant.
            let mut known = std::collections::HashMap::new();
            for (cell, id) in &todo {
                let eb = eval_batch_size(cell, true);
                let key = format!(
                    "{}|{}|{:?}|{:?}|{:?}",
                    cell.variant, cell.model, cell.options, cell.grad, cell.train
                );
                let need = *known.entry(key).or_insert_with(|| {
                    // A cell whose model cannot be built fails with that error when it runs.
                    trainer.estimate(cell, data, placement, eb).unwrap_or(0)
                });
                if need > b {
                    note(
                        &mut notes,
                        format!(
                            "note: cell {id} ({}, batch_size {}): estimated {} exceeds the GPU budget {}; it runs alone",
                            cell.model,
                            cell.train.batch_size,
                            gib(need),
                            gib(b)
                        ),
                    );
                }
                needs.push(need);
            }
        } else {
            needs.resize(todo.len(), 0);
        }
        match (budget, opts.gpu_mem) {
            (Some(b), Some(total)) if !opts.quiet => {
                let most = needs.iter().copied().max().unwrap_or(0);
                eprintln!(
                    "{}: up to {jobs} cell(s) at once while their estimates fit in {} ({:.0}% of {}); largest cell estimate {}",
                    dev.name,
                    gib(b),
                    GPU_MEM_SAFETY * 100.0,
                    gib(total),
                    gib(most)
                );
            }
            (Some(_), _) => {}
            _ if jobs == 1 => note(
                &mut notes,
                format!(
                    "note: {}: GPU memory unknown (no --gpu-mem, and nvidia-smi did not report it): one cell at a time; give --gpu-mem GIB to let cells share the device",
                    dev.name
                ),
            ),
            _ => note(
                &mut notes,
                format!(
                    "note: {}: GPU memory unknown (no --gpu-mem, and nvidia-smi did not report it): {jobs} cells at once as --jobs says, with no memory check",
                    dev.name
                ),
            ),
        }
        let admission = Admission::new(budget);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..jobs.min(todo.len()) {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((cell, id)) = todo.get(i) else { break };
                    let _permit = admission.admit(needs[i]);
                    run_one(cell, id);
                });
            }
        });
    } else {
        let jobs = opts.jobs.unwrap_or(cores).max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| RunError::ThreadPool {
                jobs,
                message: e.to_string(),
            })?;
        pool.install(|| {
            todo.par_iter().for_each(|(cell, id)| run_one(cell, id));
        });
    }
    bar.finish_and_clear();
    let failed = failed.into_inner().unwrap_or_else(|p| p.into_inner());
    write_manifest(&store, exp, data, dev, &started, Some(&now_rfc3339()))?;
    Ok(RunSummary {
        root,
        total: cells.len(),
        skipped,
        trained: done.into_inner(),
        failed,
        notes,
    })
}

/// Why [`train_and_store`] did not leave a finished cell.
#[derive(Debug, thiserror::Error)]
pub enum CellFailure {
    /// Training failed (an error, divergence or panic); `failed.json` holds the reason
    /// (unless writing it failed too).
    #[error("{0}")]
    Training(String),
    /// Training succeeded but the results could not be written.
    #[error("writing results: {0}")]
    Write(StoreError),
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
    let placement = DataPlacement::for_device(dev.is_gpu);
    train_and_store_with(
        store,
        id,
        cell,
        data,
        dev,
        trainer,
        save_predictions,
        placement,
        progress,
    )
}

/// [`train_and_store`] with the data where `placement` says. On a GPU the cell evaluates
/// in batches of [`eval_batch_size`] (its stored config keeps the value as written), and an
/// out-of-memory failure is reported with the model and batch sizes.
#[allow(clippy::too_many_arguments)]
pub fn train_and_store_with(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    data: &Dataset,
    dev: &DeviceChoice,
    trainer: &dyn CellTrainer,
    save_predictions: bool,
    placement: DataPlacement,
    progress: crate::train::Progress,
) -> Result<(), CellFailure> {
    let task_names: Vec<String> = data.tasks.tasks().iter().map(|t| t.name.clone()).collect();
    let eval_batch = eval_batch_size(cell, dev.is_gpu);
    let mut run_cell = cell.clone();
    run_cell.train.eval_batch_size = eval_batch;
    let t0 = Instant::now();
    let result = panics::catch_quietly(|| {
        trainer.train_placed(&run_cell, data, &dev.device, placement, progress)
    })
    .unwrap_or_else(|panic| Err(TrainError::Other(panic)));
    let result = result.map_err(|e| match e.to_string() {
        why if is_out_of_memory(&why) => TrainError::Other(out_of_memory_reason(
            &run_cell,
            &dev.name,
            why.lines().next().unwrap_or_default(),
        )),
        _ => e,
    });
    let secs = t0.elapsed().as_secs_f64();
    match result {
        Ok(out) => write_cell(
            store,
            id,
            cell,
            &task_names,
            &out,
            secs,
            save_predictions,
            dev,
        )
        .map_err(CellFailure::Write),
        Err(e) => {
            let why = e.to_string();
            match write_failed(store, id, cell, &why) {
                Ok(()) => Err(CellFailure::Training(why)),
                Err(w) => Err(CellFailure::Training(format!(
                    "{why} (and its failed.json could not be written: {w})"
                ))),
            }
        }
    }
}

/// The failure reason of a cell that ran out of memory: one line naming the model, the
/// batch sizes and the device, what to do, and the backend's first line.
pub fn out_of_memory_reason(cell: &CellConfig, device: &str, detail: &str) -> String {
    format!(
        "out of memory on {device}: model `{}` with train.batch_size {} (evaluation batches of {}) did not fit; lower train.batch_size or train.eval_batch_size, or let fewer cells share the device (--jobs, --gpu-mem) [{}]",
        cell.model,
        cell.train.batch_size,
        cell.train.eval_batch_size,
        detail.trim()
    )
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

fn finite(x: f64) -> Option<f64> {
    Some(x).filter(|x| x.is_finite())
}

#[allow(clippy::too_many_arguments)]
fn write_cell(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    tasks: &[String],
    out: &TrainOutcome,
    secs: f64,
    save_predictions: bool,
    dev: &DeviceChoice,
) -> Result<(), StoreError> {
    store.write_config(id, cell)?;
    if !out.curves.is_empty() {
        let rows = out
            .curves
            .iter()
            .map(|r| CurveRow {
                epoch: r.epoch,
                seconds: Some(r.seconds),
                monitor: finite(r.monitor),
                tau: r.tau.and_then(finite),
                train_loss: r.train_loss.iter().map(|x| finite(*x)).collect(),
                valid_loss: r.valid_loss.iter().map(|x| finite(*x)).collect(),
                valid_metrics: r.valid_metrics.clone(),
            })
            .collect();
        store.write_curves(
            id,
            &Curves {
                tasks: tasks.to_vec(),
                rows,
            },
        )?;
    }
    if !out.grad_stats.is_empty() {
        let rows: Vec<GradStatRow> = out
            .grad_stats
            .iter()
            .map(|(step, g)| GradStatRow {
                step: *step,
                task: tasks.get(g.task).cloned().unwrap_or_default(),
                norm_raw: g.norm_raw,
                norm_adjusted: g.norm_adjusted,
                cos_core: g.cos_core,
            })
            .collect();
        store.write_grad_stats(id, &rows)?;
    }
    if save_predictions {
        store.write_predictions(id, tasks, &out.test_labels, &out.test_predictions)?;
    }
    store.write_cell_info(
        id,
        &CellInfo {
            backend: dev.backend.to_string(),
            best_epoch: out.best_epoch,
            device: dev.name.clone(),
            finished: Some(now_rfc3339()),
            grad: cell.grad.name().to_string(),
            seconds: secs,
            steps: out.steps,
        },
    )?;
    store.write_metrics(id, &out.metrics)
}

fn write_failed(
    store: &ResultStore,
    id: &str,
    cell: &CellConfig,
    reason: &str,
) -> Result<(), StoreError> {
    store.write_config(id, cell)?;
    store.write_failed(
        id,
        &FailedCell {
            at: now_rfc3339(),
            reason: reason.to_string(),
        },
    )
}

/// Writes `manifest.json`: provenance (the revision and versions this binary was built
/// from, backend, machine, start and end), the task chain of `data`, the variants and every
/// cell of `exp`.
pub fn write_manifest(
    store: &ResultStore,
    exp: &Experiment,
    data: &Dataset,
    dev: &DeviceChoice,
    started: &str,
    ended: Option<&str>,
) -> Result<(), StoreError> {
    // The revision of the source this binary was built from, recorded by build.rs (not the
    // repository state when it runs).
    use crate::build_info as bi;
    let git_revision = bi::GIT_REVISION.to_string();
    let git_dirty = match bi::GIT_DIRTY {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let host = std::fs::read_to_string("/etc/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    let crates = [
        ("burn", bi::BURN_VERSION),
        ("burn-flex kernels", bi::FLEX_KERNELS),
        ("polars", bi::POLARS_VERSION),
        ("rustc", bi::RUSTC_VERSION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let m = Manifest {
        backend: dev.backend.to_string(),
        cell_ids: exp.cells.iter().map(CellConfig::id).collect(),
        cell_list: exp
            .cells
            .iter()
            .map(|c| ManifestCell {
                id: c.id(),
                model: c.model.clone(),
                seed: c.seed,
                variant: c.variant.clone(),
            })
            .collect(),
        cells: Some(exp.cells.len()),
        crates,
        device: dev.name.clone(),
        ended: ended.map(str::to_string),
        experiment: exp.name.clone(),
        experiment_file: exp.path.display().to_string(),
        git_dirty,
        git_revision,
        htlbench: env!("CARGO_PKG_VERSION").to_string(),
        machine: crate::store::Machine {
            arch: std::env::consts::ARCH.to_string(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            host,
            os: std::env::consts::OS.to_string(),
        },
        started: started.to_string(),
        tasks: data
            .tasks
            .tasks()
            .iter()
            .map(|t| TaskRecord {
                name: t.name.clone(),
                kind: match t.kind {
                    crate::data::TaskKind::Binary => TaskKind::Binary,
                    crate::data::TaskKind::Regression => TaskKind::Regression,
                },
            })
            .collect(),
        variants: exp.variants.clone(),
    };
    store.write_manifest(&m)
}

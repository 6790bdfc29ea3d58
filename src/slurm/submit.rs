//! `htl run … --executor slurm`: write the unfinished cells' configs, submit the array(s)
//! and the report job, record the submission.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{sh_quote, ArrayRecord, RunRecord, Scheduler, SlurmDir, SlurmError, SubmissionRecord};
use crate::config::{slug, CellConfig, Experiment, SlurmConfig};
use crate::device::device_from_name;
use crate::run::{matches_only, write_manifest};
use crate::store::{MetricsState, ResultStore, RunLock, StoreError};
use crate::util::{now_rfc3339, write_atomic};

fn store_err(e: StoreError) -> SlurmError {
    SlurmError(e.to_string())
}

/// Options of a submission (the `htl run` flags that apply to the slurm executor).
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// Result folder (default `results/<experiment name>`); must be on a shared filesystem.
    pub out: Option<PathBuf>,
    /// Retrain (and resubmit) finished cells too.
    pub force: bool,
    /// Tasks write `predictions.csv`.
    pub save_predictions: bool,
    /// Only cells whose variant label, model or seed matches one of these.
    pub only: Vec<String>,
    /// Device name for every task (`cpu`, `libtorch-cuda:0`, …).
    pub device: String,
    /// Build the dataset cache before submitting and let tasks read it (else the data are
    /// parsed once here, to check them and read the task chain, and again by every task).
    pub use_cache: bool,
    /// Submit the `htl report` job after the arrays.
    pub report: bool,
    /// The `htl` binary the tasks run (on the shared filesystem).
    pub htl: PathBuf,
}

/// What a submission did.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The result folder (absolute).
    pub root: PathBuf,
    /// Cells in the experiment (after `--only`).
    pub total: usize,
    /// Cells kept because they had finished.
    pub finished: usize,
    /// One-line notes (a stale lock taken over, an unusable `metrics.json` set aside).
    pub notes: Vec<String>,
    /// Cells not submitted because the scheduler still has them (pending or running).
    pub queued: usize,
    /// Cells submitted now, in task order.
    pub submitted: Vec<String>,
    /// The array jobs submitted now.
    pub arrays: Vec<ArrayRecord>,
    /// The report job submitted now.
    pub report_job: Option<String>,
    /// What the dataset cache did, in words (when it was built or found).
    pub cache: Option<String>,
}

/// Sizes of the arrays `n` cells are split into when an array may hold at most `max` tasks
/// (`MaxArraySize`: task indices 0 ..= max − 1).
pub fn chunk_sizes(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let mut out = vec![max; n / max];
    if !n.is_multiple_of(max) {
        out.push(n % max);
    }
    out
}

/// The `sbatch` arguments (without `--parsable`) of an array of `tasks` cells.
pub fn array_args(
    cfg: &SlurmConfig,
    job_name: &str,
    tasks: usize,
    logs: &Path,
    after: Option<&str>,
    script: &Path,
    list: &Path,
) -> Vec<String> {
    let mut a = vec![format!("--job-name={job_name}")];
    let throttle = cfg
        .max_concurrent
        .map_or(String::new(), |m| format!("%{m}"));
    a.push(format!("--array=0-{}{throttle}", tasks.saturating_sub(1)));
    a.push(format!("--output={}", logs.join("%A_%a.out").display()));
    a.extend(resource_args(cfg, true));
    if let Some(dep) = after {
        a.push(format!("--dependency=afterany:{dep}"));
    }
    a.push(script.display().to_string());
    a.push(list.display().to_string());
    a
}

/// Partition, extra arguments and (for cells) time, CPUs, memory and gres.
fn resource_args(cfg: &SlurmConfig, cell: bool) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(p) = &cfg.partition {
        a.push(format!("--partition={p}"));
    }
    if cell {
        if let Some(t) = &cfg.time {
            a.push(format!("--time={t}"));
        }
        if let Some(c) = cfg.cpus_per_cell {
            a.push(format!("--cpus-per-task={c}"));
        }
        if let Some(m) = &cfg.mem {
            a.push(format!("--mem={m}"));
        }
        if let Some(g) = &cfg.gres {
            a.push(format!("--gres={g}"));
        }
    }
    a.extend(cfg.extra_args.iter().cloned());
    a
}

fn absolute(p: &Path) -> Result<PathBuf, SlurmError> {
    if p.is_absolute() {
        return Ok(p.to_path_buf());
    }
    std::env::current_dir()
        .map(|d| d.join(p))
        .map_err(|e| SlurmError(format!("cannot read the current folder: {e}")))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SlurmError> {
    write_atomic(path, bytes)
        .map_err(|e| SlurmError(format!("cannot write {}: {e}", path.display())))
}

/// Which of `cells` the scheduler still holds (pending or running), by cell id, from the
/// recorded submissions.
pub(super) fn queued_cells(
    sdir: &SlurmDir,
    sched: &dyn Scheduler,
) -> Result<BTreeMap<String, super::QueueEntry>, SlurmError> {
    let subs = sdir.read_submissions()?;
    let mut by_task = BTreeMap::new();
    for s in &subs {
        for a in &s.arrays {
            for (i, id) in a.cells.iter().enumerate() {
                by_task.insert((a.job_id.clone(), i), id.clone());
            }
        }
    }
    let jobs: Vec<String> = subs
        .iter()
        .flat_map(|s| s.arrays.iter().map(|a| a.job_id.clone()))
        .collect();
    let mut out = BTreeMap::new();
    for e in sched.queue(&jobs)? {
        if let Some(t) = e.task {
            if let Some(id) = by_task.get(&(e.job.clone(), t)) {
                if e.is_active() {
                    out.insert(id.clone(), e);
                }
            }
        }
    }
    Ok(out)
}

/// Submits every unfinished cell of `exp` that the scheduler does not already hold: writes
/// the cells' configs, `slurm/run.json`, the task script and cell lists, submits the
/// array(s) (split at `MaxArraySize`) and the `afterany` report job, and records the
/// submission in `slurm/submissions.json`. Submits nothing when nothing is left to do.
pub fn submit(
    exp: &Experiment,
    opts: &SubmitOptions,
    sched: &dyn Scheduler,
) -> Result<Submission, SlurmError> {
    let root = absolute(
        &opts
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results").join(&exp.name)),
    )?;
    let dev = device_from_name(&opts.device).map_err(|e| SlurmError(e.to_string()))?;
    let store = ResultStore::new(&root);
    let sdir = SlurmDir::new(&root);
    let (_lock, lock_note) = RunLock::acquire(&root).map_err(store_err)?;
    let cells: Vec<&CellConfig> = exp
        .cells
        .iter()
        .filter(|c| matches_only(c, &opts.only))
        .collect();
    if cells.is_empty() {
        return Err(SlurmError(format!(
            "--only {} matches no cell; variants: {}",
            opts.only.join(","),
            exp.variants.join(", ")
        )));
    }
    let queued = queued_cells(&sdir, sched).map_err(|e| {
        SlurmError(format!(
            "cannot ask the scheduler which cells are still queued ({e}); nothing was submitted"
        ))
    })?;
    let mut sub = Submission {
        root: root.clone(),
        total: cells.len(),
        notes: lock_note.into_iter().collect(),
        ..Default::default()
    };
    // The dataset: built (or found) once here, read by every task; its task chain decides
    // whether a stored `metrics.json` is complete.
    let (data, cache_status) =
        crate::data::cache::load_cached(&exp.dataset, &exp.base_dir, opts.use_cache).map_err(
            |e| {
                SlurmError(format!(
                    "loading the data set of {}: {e}",
                    exp.path.display()
                ))
            },
        )?;
    let cache_dir = if opts.use_cache {
        sub.cache = Some(cache_status.to_string());
        Some(absolute(&crate::data::cache::cache_dir())?)
    } else {
        None
    };
    let tasks: Vec<String> = data.tasks.tasks().iter().map(|t| t.name.clone()).collect();
    let mut todo = Vec::new();
    for c in &cells {
        let id = c.id();
        if queued.contains_key(&id) {
            sub.queued += 1;
            continue;
        }
        if opts.force {
            store.clear_cell(&id).map_err(store_err)?;
        }
        match store.check_metrics(&id, &tasks).map_err(store_err)? {
            MetricsState::Finished(_) => sub.finished += 1,
            MetricsState::Corrupt(why) => {
                let to = store.set_aside_metrics(&id).map_err(store_err)?;
                sub.notes.push(format!(
                    "warning: {} {why}; moved it to {} and submitting the cell again",
                    store.cell_file(&id, crate::store::METRICS).display(),
                    to.display()
                ));
                todo.push((*c, id));
            }
            MetricsState::Missing => todo.push((*c, id)),
        }
    }
    if todo.is_empty() {
        return Ok(sub);
    }
    let max_array = sched.max_array_size()?;

    for (cell, id) in &todo {
        store.clear_cell(id).map_err(store_err)?;
        store.write_config(id, cell).map_err(store_err)?;
    }
    write_manifest(&store, exp, &data, &dev, &now_rfc3339(), None).map_err(store_err)?;
    let htl = absolute(&opts.htl)?;
    let record = RunRecord {
        experiment: exp.name.clone(),
        experiment_file: absolute(&exp.path)?,
        base_dir: exp.base_dir.clone(),
        device: opts.device.clone(),
        save_predictions: opts.save_predictions,
        use_cache: opts.use_cache,
        cache_dir: cache_dir.clone(),
        htl: htl.clone(),
    };
    write(
        &sdir.run_json(),
        serde_json::to_string_pretty(&record)
            .expect("json")
            .as_bytes(),
    )?;
    if let Ok(text) = std::fs::read_to_string(&exp.path) {
        write(&sdir.experiment_yaml(), text.as_bytes())?;
    }
    write(&sdir.task_script(), task_script(&root, &htl).as_bytes())?;
    std::fs::create_dir_all(sdir.logs())
        .map_err(|e| SlurmError(format!("cannot create {}: {e}", sdir.logs().display())))?;

    let mut subs = sdir.read_submissions()?;
    let number = subs.iter().map(|s| s.number).max().unwrap_or(0) + 1;
    let mut record = SubmissionRecord {
        number,
        at: now_rfc3339(),
        arrays: Vec::new(),
        report_job: None,
    };
    let job_name = format!("htl-{}", slug(&exp.name));
    let mut start = 0;
    let mut failure = None;
    for (k, size) in chunk_sizes(todo.len(), max_array).into_iter().enumerate() {
        let ids: Vec<String> = todo[start..start + size]
            .iter()
            .map(|(_, id)| id.clone())
            .collect();
        start += size;
        let list = sdir.list_file(number, k);
        let mut text = ids.join("\n");
        text.push('\n');
        write(&list, text.as_bytes())?;
        // Several arrays under one throttle run one after another, so that at most
        // `max_concurrent` cells run at once in total.
        let after = match (opts_throttled(exp), record.arrays.last()) {
            (true, Some(prev)) => Some(prev.job_id.clone()),
            _ => None,
        };
        let args = array_args(
            &exp.slurm,
            &job_name,
            size,
            &sdir.logs(),
            after.as_deref(),
            &sdir.task_script(),
            &list,
        );
        match sched.sbatch(&args) {
            Ok(job_id) => record.arrays.push(ArrayRecord { job_id, cells: ids }),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_none() && opts.report && !record.arrays.is_empty() {
        let deps: Vec<&str> = record.arrays.iter().map(|a| a.job_id.as_str()).collect();
        let mut args = vec![
            format!("--job-name={job_name}-report"),
            format!("--dependency=afterany:{}", deps.join(":")),
            format!("--output={}", sdir.logs().join("report-%j.out").display()),
        ];
        args.extend(resource_args(&exp.slurm, false));
        let h = sh_quote(&htl.display().to_string());
        let r = sh_quote(&root.display().to_string());
        args.push(format!(
            "--wrap={h} status {r} --write-summary; {h} report {r}"
        ));
        match sched.sbatch(&args) {
            Ok(id) => record.report_job = Some(id),
            Err(e) => failure = Some(e),
        }
    }
    sub.submitted = record
        .arrays
        .iter()
        .flat_map(|a| a.cells.iter().cloned())
        .collect();
    sub.arrays = record.arrays.clone();
    sub.report_job = record.report_job.clone();
    if !record.arrays.is_empty() {
        subs.push(record);
        write(
            &sdir.submissions_json(),
            serde_json::to_string_pretty(&subs)
                .expect("json")
                .as_bytes(),
        )?;
    }
    match failure {
        Some(e) if sub.arrays.is_empty() => Err(SlurmError(format!("{e}; nothing was submitted"))),
        Some(e) => Err(SlurmError(format!(
            "{e}; submitted only array job(s) {} ({} of {} cells), recorded in {}; run the same command again to submit the rest",
            sub.arrays.iter().map(|a| a.job_id.as_str()).collect::<Vec<_>>().join(", "),
            sub.submitted.len(),
            todo.len(),
            sdir.submissions_json().display()
        ))),
        None => Ok(sub),
    }
}

fn opts_throttled(exp: &Experiment) -> bool {
    exp.slurm.max_concurrent.is_some()
}

/// The array task: line `SLURM_ARRAY_TASK_ID + 1` of the list names the cell.
fn task_script(root: &Path, htl: &Path) -> String {
    format!(
        r#"#!/bin/bash
# Written by `htl run --executor slurm`: array task i trains the cell on line i+1 of the list
# given as the first argument.
set -euo pipefail
list="$1"
line=$((SLURM_ARRAY_TASK_ID + 1))
id="$(sed -n "${{line}}p" "$list")"
if [ -z "$id" ]; then
  echo "htl: $list has no line $line" >&2
  exit 2
fi
echo "htl: cell $id (task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} on $(hostname))" >&2
exec {htl} run-cell {root} "$id"
"#,
        htl = sh_quote(&htl.display().to_string()),
        root = sh_quote(&root.display().to_string()),
    )
}

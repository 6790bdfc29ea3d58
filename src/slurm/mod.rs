//! Sweeps beyond one machine: the cells of an experiment as a SLURM job array.
//!
//! `htl run exp.yaml --executor slurm` ([`submit()`]) resolves the cells, writes each
//! unfinished cell's resolved config into the result folder (`cells/<id>/config.yaml`), and
//! submits one `sbatch --array` whose task *i* runs `htl run-cell <dir> <id>` for the *i*-th
//! line of a cell list ([`run_cell()`]: the same trainer, store and determinism as a local
//! run), then `htl report` as a job depending on the array (`afterany`). `htl status <dir>`
//! ([`status()`]) combines the store (finished / failed) with the scheduler (running /
//! pending); a cell that is neither is *missing* and is submitted again by the next
//! `htl run … --executor slurm`.
//!
//! What lives under `<dir>/slurm/` ([`SlurmDir`]):
//! ```text
//! run.json            how tasks run: experiment file, base folder, device, cache, htl binary
//! experiment.yaml     the experiment text as submitted (for the summary tables)
//! submissions.json    every submission: array job ids and their cell lists, report job id
//! lists/<n>-<k>.txt   the cells of array k of submission n, one id per line (task i = line i+1)
//! task.sh             the array task: picks its line and execs `htl run-cell`
//! logs/<job>_<task>.out   one log per array task; logs/report-<job>.out for the report job
//! ```
//! The result folder (and the `htl` binary and the dataset cache) must be on a filesystem
//! that every node sees at the same path. Results are written atomically by the store, so a
//! task killed by the scheduler leaves no partial result.

mod cell;
mod command;
mod scheduler;
mod status;
mod submit;

pub use cell::{run_cell, CellRun};
pub use command::{cli_run_cell, cli_status, cli_submit, SubmitArgs};
pub use scheduler::{parse_max_array_size, parse_queue, QueueEntry, Scheduler, SlurmCommands};
pub use status::{status, CellState, CellStatusLine, SweepStatus};
pub use submit::{array_args, chunk_sizes, submit, Submission, SubmitOptions};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// An error of the SLURM executor, already phrased for the user (one line).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SlurmError(pub String);

/// The `<dir>/slurm/` folder: the one place that knows its layout.
#[derive(Debug, Clone)]
pub struct SlurmDir {
    root: PathBuf,
}

impl SlurmDir {
    /// The `slurm/` folder of the result folder `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
    /// The result folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// `<root>/slurm`.
    pub fn dir(&self) -> PathBuf {
        self.root.join("slurm")
    }
    /// `run.json`.
    pub fn run_json(&self) -> PathBuf {
        self.dir().join("run.json")
    }
    /// `experiment.yaml`.
    pub fn experiment_yaml(&self) -> PathBuf {
        self.dir().join("experiment.yaml")
    }
    /// `submissions.json`.
    pub fn submissions_json(&self) -> PathBuf {
        self.dir().join("submissions.json")
    }
    /// `task.sh`.
    pub fn task_script(&self) -> PathBuf {
        self.dir().join("task.sh")
    }
    /// `logs/`.
    pub fn logs(&self) -> PathBuf {
        self.dir().join("logs")
    }
    /// The cell list of array `k` of submission `n`.
    pub fn list_file(&self, n: usize, k: usize) -> PathBuf {
        self.dir().join("lists").join(format!("{n}-{k}.txt"))
    }
    /// The log of array task `task` of job `job` (sbatch `--output=logs/%A_%a.out`).
    pub fn task_log(&self, job: &str, task: usize) -> PathBuf {
        self.logs().join(format!("{job}_{task}.out"))
    }
    /// Reads `run.json`.
    pub fn read_run(&self) -> Result<RunRecord, SlurmError> {
        let p = self.run_json();
        let text = std::fs::read_to_string(&p).map_err(|e| {
            SlurmError(format!(
                "{}: {e}; is {} a result folder submitted with `htl run <exp> --executor slurm`?",
                p.display(),
                self.root.display()
            ))
        })?;
        serde_json::from_str(&text).map_err(|e| {
            SlurmError(format!(
                "{}: {e}; submit again with `htl run <exp> --executor slurm`",
                p.display()
            ))
        })
    }
    /// Reads `submissions.json` (empty when there is none yet).
    pub fn read_submissions(&self) -> Result<Vec<SubmissionRecord>, SlurmError> {
        let p = self.submissions_json();
        match std::fs::read_to_string(&p) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                SlurmError(format!(
                    "{}: {e}; the file is written by `htl run --executor slurm` only: restore it or remove it (then running jobs are no longer known to `htl status`)",
                    p.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(SlurmError(format!("cannot read {}: {e}", p.display()))),
        }
    }
}

/// `slurm/run.json`: what every array task needs besides its cell's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Experiment name.
    pub experiment: String,
    /// The experiment file as given to `htl run` (absolute).
    pub experiment_file: PathBuf,
    /// The folder relative data paths resolve against (absolute).
    pub base_dir: PathBuf,
    /// Device name (`cpu`, `libtorch-cuda:0`, …).
    pub device: String,
    /// Whether tasks write `predictions.csv`.
    pub save_predictions: bool,
    /// Whether tasks read the dataset cache (false with `--no-cache`).
    pub use_cache: bool,
    /// The dataset cache folder the tasks use (absolute), when the cache is used.
    pub cache_dir: Option<PathBuf>,
    /// The `htl` binary the tasks run (absolute).
    pub htl: PathBuf,
}

/// One array job of a submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayRecord {
    /// The array's job id.
    pub job_id: String,
    /// Cell ids in task order (task i trains `cells[i]`).
    pub cells: Vec<String>,
}

/// One `htl run --executor slurm` that submitted something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionRecord {
    /// 1, 2, … in submission order.
    pub number: usize,
    /// When (UTC).
    pub at: String,
    /// The array jobs.
    pub arrays: Vec<ArrayRecord>,
    /// The report job, when one was submitted.
    pub report_job: Option<String>,
}

/// Single-quotes `s` for a POSIX shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests;

//! The scheduler seam: `sbatch`, `squeue` and `scontrol`, behind a trait so that submission
//! and status logic can be tested without a cluster.

use std::process::Command;

use super::SlurmError;

/// One line of the queue: an array task (`job_task`) or a plain job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// The (array) job id.
    pub job: String,
    /// The array task index, for array tasks.
    pub task: Option<usize>,
    /// SLURM's state name: `PENDING`, `RUNNING`, `COMPLETED`, `CANCELLED`, `TIMEOUT`, …
    pub state: String,
}

impl QueueEntry {
    /// Still in the scheduler's hands (not in a final state).
    pub fn is_active(&self) -> bool {
        !matches!(
            self.state.as_str(),
            "COMPLETED"
                | "FAILED"
                | "CANCELLED"
                | "TIMEOUT"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "OUT_OF_MEMORY"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "REVOKED"
        )
    }
    /// Running (or starting / finishing) rather than waiting.
    pub fn is_running(&self) -> bool {
        matches!(
            self.state.as_str(),
            "RUNNING" | "CONFIGURING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" | "RESIZING"
        )
    }
}

/// What the executor asks of SLURM.
pub trait Scheduler {
    /// Runs `sbatch --parsable <args>` and returns the job id.
    fn sbatch(&self, args: &[String]) -> Result<String, SlurmError>;
    /// The queue entries (array tasks expanded, recently finished ones included) of these jobs.
    fn queue(&self, jobs: &[String]) -> Result<Vec<QueueEntry>, SlurmError>;
    /// The cluster's `MaxArraySize` (array task indices run from 0 to this minus 1).
    fn max_array_size(&self) -> Result<usize, SlurmError>;
}

/// The real scheduler: the `sbatch`, `squeue` and `scontrol` commands on `PATH` (with the
/// caller's environment, e.g. `SLURM_CONF`).
#[derive(Debug, Clone, Default)]
pub struct SlurmCommands;

fn run(cmd: &str, args: &[String]) -> Result<std::process::Output, SlurmError> {
    Command::new(cmd).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SlurmError(format!(
                "`{cmd}` not found on PATH: the slurm executor runs where the SLURM client commands are (a login node); or use `--executor local`"
            ))
        } else {
            SlurmError(format!("cannot run `{cmd}`: {e}"))
        }
    })
}

fn one_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Scheduler for SlurmCommands {
    fn sbatch(&self, args: &[String]) -> Result<String, SlurmError> {
        let mut all = vec!["--parsable".to_string()];
        all.extend_from_slice(args);
        let out = run("sbatch", &all)?;
        if !out.status.success() {
            return Err(SlurmError(format!(
                "sbatch refused the job: {}",
                one_line(&out.stderr)
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        // --parsable prints `jobid` or `jobid;cluster`.
        let id = text.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SlurmError(format!(
                "sbatch printed no job id (stdout: `{}`, stderr: `{}`)",
                text.trim(),
                one_line(&out.stderr)
            )));
        }
        Ok(id)
    }

    fn queue(&self, jobs: &[String]) -> Result<Vec<QueueEntry>, SlurmError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let args = vec![
            "--noheader".to_string(),
            "--array".into(),
            "--states=all".into(),
            format!("--jobs={}", jobs.join(",")),
            "--format=%i|%T".into(),
        ];
        let out = run("squeue", &args)?;
        if !out.status.success() {
            let err = one_line(&out.stderr);
            // A single job id that the controller has already forgotten.
            if err.contains("Invalid job id") {
                return Ok(Vec::new());
            }
            return Err(SlurmError(format!("squeue failed: {err}")));
        }
        Ok(parse_queue(&String::from_utf8_lossy(&out.stdout)))
    }

    fn max_array_size(&self) -> Result<usize, SlurmError> {
        let out = run("scontrol", &["show".into(), "config".into()])?;
        if !out.status.success() {
            return Err(SlurmError(format!(
                "scontrol show config failed: {}",
                one_line(&out.stderr)
            )));
        }
        parse_max_array_size(&String::from_utf8_lossy(&out.stdout))
    }
}

/// Parses `squeue --noheader --array --format=%i|%T` output: `123_4|RUNNING` (array task),
/// `125|PENDING` (plain job). Lines that fit neither (e.g. an unexpanded `123_[5-9]`) are
/// skipped.
pub fn parse_queue(text: &str) -> Vec<QueueEntry> {
    text.lines()
        .filter_map(|line| {
            let (id, state) = line.trim().split_once('|')?;
            let (job, task) = match id.split_once('_') {
                Some((j, t)) => (j, Some(t.parse::<usize>().ok()?)),
                None => (id, None),
            };
            if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            Some(QueueEntry {
                job: job.to_string(),
                task,
                state: state.trim().to_string(),
            })
        })
        .collect()
}

/// Reads `MaxArraySize` from `scontrol show config` output.
pub fn parse_max_array_size(text: &str) -> Result<usize, SlurmError> {
    let value = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == "MaxArraySize")
        .map(|(_, v)| v.trim().to_string())
        .ok_or_else(|| {
            SlurmError(
                "`scontrol show config` shows no MaxArraySize; is this a SLURM cluster?".into(),
            )
        })?;
    let n: usize = value.parse().map_err(|_| {
        SlurmError(format!(
            "`scontrol show config`: MaxArraySize `{value}` is not a number"
        ))
    })?;
    if n == 0 {
        return Err(SlurmError(
            "job arrays are disabled on this cluster (MaxArraySize = 0); ask the administrators, or use `--executor local`".into(),
        ));
    }
    Ok(n)
}

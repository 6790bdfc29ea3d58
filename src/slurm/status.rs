//! `htl status <dir>`: each cell's state from the store and the scheduler.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{QueueEntry, Scheduler, SlurmDir, SlurmError};
use crate::store::{MetricsState, ResultStore};

/// The state of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellState {
    /// `metrics.json` is stored.
    Finished,
    /// `failed.json` is stored (training failed): the reason.
    Failed(String),
    /// Its array task is running.
    Running,
    /// Its array task waits in the queue.
    Pending,
    /// No result and nothing queued: never submitted, or its task ended without a result
    /// (cancelled, time limit, node failure, …: the task's final state when the scheduler
    /// still knows it). The next submission submits it again.
    Missing(Option<String>),
}

impl CellState {
    /// `finished`, `failed`, `running`, `pending` or `missing`.
    pub fn name(&self) -> &'static str {
        match self {
            CellState::Finished => "finished",
            CellState::Failed(_) => "failed",
            CellState::Running => "running",
            CellState::Pending => "pending",
            CellState::Missing(_) => "missing",
        }
    }
}

/// One cell's line of the status.
#[derive(Debug, Clone, PartialEq)]
pub struct CellStatusLine {
    /// Cell id.
    pub id: String,
    /// Its state.
    pub state: CellState,
    /// Its latest array task (`job_task`), when it was submitted.
    pub task: Option<(String, usize)>,
    /// That task's log file.
    pub log: Option<PathBuf>,
}

/// The state of a whole sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepStatus {
    /// The result folder.
    pub root: PathBuf,
    /// Every cell of the experiment, in manifest order.
    pub cells: Vec<CellStatusLine>,
    /// Why the scheduler was not asked, when it was not.
    pub scheduler_note: Option<String>,
    /// Recorded jobs (arrays and report) that the scheduler still holds.
    pub active_jobs: Vec<String>,
}

impl SweepStatus {
    /// Cells in a state with this name.
    pub fn count(&self, name: &str) -> usize {
        self.cells.iter().filter(|c| c.state.name() == name).count()
    }
    /// Every cell finished.
    pub fn is_complete(&self) -> bool {
        self.cells.iter().all(|c| c.state == CellState::Finished)
    }
    /// The one-line count: `6 cells: 4 finished, 1 failed, 0 running, 1 pending, 0 missing`.
    pub fn counts_line(&self) -> String {
        format!(
            "{} cells: {} finished, {} failed, {} running, {} pending, {} missing",
            self.cells.len(),
            self.count("finished"),
            self.count("failed"),
            self.count("running"),
            self.count("pending"),
            self.count("missing")
        )
    }
    /// The full text: the counts line, then one line per cell that is not finished.
    pub fn render(&self) -> String {
        let mut s = format!("{}: {}\n", self.root.display(), self.counts_line());
        if let Some(n) = &self.scheduler_note {
            s.push_str(&format!("note: {n}\n"));
        }
        for c in &self.cells {
            let detail = match &c.state {
                CellState::Finished => continue,
                CellState::Failed(why) => format!(" — {why}"),
                CellState::Missing(Some(st)) => format!(" — its task ended {st} without a result"),
                _ => String::new(),
            };
            let task = c
                .task
                .as_ref()
                .map_or(String::new(), |(j, t)| format!(" [task {j}_{t}]"));
            let log = c
                .log
                .as_ref()
                .filter(|p| p.exists())
                .map_or(String::new(), |p| format!(" log: {}", p.display()));
            s.push_str(&format!(
                "{:8} {}{task}{detail}{log}\n",
                c.state.name(),
                c.id
            ));
        }
        s
    }
}

/// Reads the state of every cell of the result folder `root`: finished / failed from the
/// store, running / pending from the scheduler (when `sched` is given and the folder has
/// recorded submissions), missing otherwise.
pub fn status(root: &Path, sched: Option<&dyn Scheduler>) -> Result<SweepStatus, SlurmError> {
    let store = ResultStore::new(root);
    let manifest = store
        .read_manifest()
        .map_err(|e| SlurmError(e.to_string()))?
        .ok_or_else(|| {
            SlurmError(format!(
                "{} has no manifest.json; is it a result folder of `htl run`?",
                root.display()
            ))
        })?;
    let ids = manifest.cell_ids;
    let tasks: Vec<String> = manifest.tasks.into_iter().map(|t| t.name).collect();
    let sdir = SlurmDir::new(root);
    let subs = sdir.read_submissions()?;
    // The latest array task of each cell.
    let mut latest: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut jobs = Vec::new();
    for s in &subs {
        for a in &s.arrays {
            jobs.push(a.job_id.clone());
            for (i, id) in a.cells.iter().enumerate() {
                latest.insert(id.clone(), (a.job_id.clone(), i));
            }
        }
        jobs.extend(s.report_job.clone());
    }
    let mut note = None;
    let mut queue: BTreeMap<(String, Option<usize>), QueueEntry> = BTreeMap::new();
    if !jobs.is_empty() {
        match sched {
            Some(s) => match s.queue(&jobs) {
                Ok(entries) => {
                    for e in entries {
                        queue.insert((e.job.clone(), e.task), e);
                    }
                }
                Err(e) => note = Some(format!("the scheduler was not asked: {e}")),
            },
            None => note = Some("the scheduler was not asked".into()),
        }
    }
    let active_jobs: Vec<String> = {
        let mut v: Vec<String> = queue
            .values()
            .filter(|e| e.is_active())
            .map(|e| e.job.clone())
            .collect();
        v.dedup();
        v
    };
    let mut cells = Vec::with_capacity(ids.len());
    for id in ids {
        let task = latest.get(&id).cloned();
        let entry = task
            .as_ref()
            .and_then(|(j, t)| queue.get(&(j.clone(), Some(*t))));
        let metrics = store
            .check_metrics(&id, &tasks)
            .map_err(|e| SlurmError(e.to_string()))?;
        let state = match (metrics, entry.filter(|e| e.is_active())) {
            (MetricsState::Finished(_), _) => CellState::Finished,
            (_, Some(e)) if e.is_running() => CellState::Running,
            (_, Some(_)) => CellState::Pending,
            (MetricsState::Corrupt(why), None) => {
                CellState::Failed(format!("its metrics.json is unusable: {why}"))
            }
            (MetricsState::Missing, None) => match store.read_failed(&id) {
                Ok(Some(f)) => CellState::Failed(f.reason),
                Ok(None) => CellState::Missing(entry.map(|e| e.state.clone())),
                Err(e) => CellState::Failed(format!("unreadable failed.json: {e}")),
            },
        };
        let log = task.as_ref().map(|(j, t)| sdir.task_log(j, *t));
        cells.push(CellStatusLine {
            id,
            state,
            task,
            log,
        });
    }
    Ok(SweepStatus {
        root: root.to_path_buf(),
        cells,
        scheduler_note: note,
        active_jobs,
    })
}

//! The command-line edge of the slurm executor: `htl run --executor slurm [--wait]`,
//! `htl run-cell`, `htl status`. Printing and exit codes live here; the work is in the
//! sibling modules.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::cell::CellRun;
use super::{run_cell, status, submit, SlurmCommands, SlurmDir, SubmitOptions, SweepStatus};
use crate::config::Experiment;
use crate::store::{ResultStore, FAILED};
use crate::util::Exit;

/// The `htl run` flags, as given, for the slurm executor.
#[derive(Debug, Clone, Default)]
pub struct SubmitArgs {
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--jobs` (refused: the local executor's flag).
    pub jobs: Option<usize>,
    /// `--quiet`.
    pub quiet: bool,
    /// `--force`.
    pub force: bool,
    /// `--save-predictions`.
    pub save_predictions: bool,
    /// `--only`.
    pub only: Vec<String>,
    /// `--device`.
    pub device: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--no-report`.
    pub no_report: bool,
    /// `--wait`.
    pub wait: bool,
}

/// Seconds between polls of `--wait`: `$HTL_SLURM_POLL_SECS` or 5.
fn poll_interval() -> Duration {
    std::env::var("HTL_SLURM_POLL_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

/// `htl run exp.yaml --executor slurm`: submit, print the job ids, and with `--wait` follow
/// the sweep until the scheduler holds none of its jobs.
pub fn cli_submit(exp: &Experiment, args: SubmitArgs) -> Result<()> {
    if args.jobs.is_some() {
        return Err(anyhow!(
            "--jobs applies to the local executor; with --executor slurm limit concurrent cells with `slurm: {{max_concurrent: N}}` in {}",
            exp.path.display()
        ));
    }
    let device = args
        .device
        .clone()
        .or_else(|| exp.device.clone())
        .unwrap_or_else(|| "cpu".into());
    let opts = SubmitOptions {
        out: args.out.clone(),
        force: args.force,
        save_predictions: args.save_predictions,
        only: args.only.clone(),
        device,
        use_cache: !args.no_cache,
        report: !args.no_report,
        htl: std::env::current_exe()?,
    };
    let sched = SlurmCommands;
    let sub = submit(exp, &opts, &sched)?;
    let root = sub.root.clone();
    if let Some(c) = &sub.cache {
        if !args.quiet {
            eprintln!("data: {} ({c})", exp.dataset.label());
        }
    }
    if sub.submitted.is_empty() {
        println!(
            "nothing to submit: of {} cells, {} finished, {} still queued",
            sub.total, sub.finished, sub.queued
        );
    } else {
        let arrays: Vec<String> = sub
            .arrays
            .iter()
            .map(|a| {
                let n = a.cells.len();
                format!("{} ({n} task{})", a.job_id, if n == 1 { "" } else { "s" })
            })
            .collect();
        println!(
            "submitted {} cell(s) as array job(s) {}{}",
            sub.submitted.len(),
            arrays.join(", "),
            match &sub.report_job {
                Some(r) => format!("; report job {r} (afterany)"),
                None => String::new(),
            }
        );
        if sub.finished + sub.queued > 0 {
            println!(
                "kept {} finished cell(s); {} still queued from earlier submissions",
                sub.finished, sub.queued
            );
        }
        println!("logs: {}", SlurmDir::new(&root).logs().display());
    }
    if !args.wait {
        println!("follow with: htl status {}", root.display());
        return Ok(());
    }
    let st = wait(&root, args.quiet)?;
    print!("{}", st.render());
    let report = root.join("report").join("report.md");
    if report.is_file() {
        println!("report: {}", report.display());
    }
    finish(&st, &exp.path)
}

fn finish(st: &SweepStatus, exp: &Path) -> Result<()> {
    if st.is_complete() {
        return Ok(());
    }
    let waiting = st.count("running") + st.count("pending");
    let what = if waiting > 0 {
        "still in progress".to_string()
    } else {
        format!(
            "`htl run {} --executor slurm` submits the failed and missing cells again",
            exp.display()
        )
    };
    Err(anyhow!(Exit(1)).context(format!(
        "the sweep is not complete ({}); {what}",
        st.counts_line()
    )))
}

/// Polls the store and the queue until the scheduler holds none of the folder's jobs.
fn wait(root: &Path, quiet: bool) -> Result<SweepStatus> {
    let show = !quiet && std::io::stderr().is_terminal();
    let bar = ProgressBar::with_draw_target(
        None,
        if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "cells {pos}/{len} [{elapsed_precise}<{eta_precise}] {wide_bar} {msg}",
        )
        .expect("template"),
    );
    let sched = SlurmCommands;
    loop {
        let st = status(root, Some(&sched))?;
        if let Some(n) = &st.scheduler_note {
            return Err(anyhow!("cannot follow the sweep: {n}"));
        }
        bar.set_length(st.cells.len() as u64);
        bar.set_position((st.count("finished") + st.count("failed")) as u64);
        bar.set_message(format!(
            "{} running, {} pending",
            st.count("running"),
            st.count("pending")
        ));
        if st.active_jobs.is_empty() {
            bar.finish_and_clear();
            return Ok(st);
        }
        std::thread::sleep(poll_interval());
    }
}

/// `htl run-cell <dir> <id>`: train one submitted cell (one array task).
pub fn cli_run_cell(dir: &Path, id: &str) -> Result<()> {
    let progress = |e: usize, max: usize| eprintln!("htl: cell {id}: epoch {e}/{max}");
    let t0 = std::time::Instant::now();
    match run_cell(dir, id, &progress)? {
        CellRun::AlreadyFinished => {
            println!("cell {id}: already finished; nothing to do");
            Ok(())
        }
        CellRun::Trained => {
            println!("cell {id}: finished in {:.1} s", t0.elapsed().as_secs_f64());
            Ok(())
        }
        CellRun::Failed(why) => Err(anyhow!(Exit(1)).context(format!(
            "cell {id} failed: {why} (stored in {})",
            ResultStore::new(dir).cell_file(id, FAILED).display()
        ))),
    }
}

/// `htl status <dir>`: print each cell's state; exit 0 only when every cell finished. With
/// `write_summary`, also rewrite `cells.csv`, `summary.csv` and `summary.md` from the store
/// (what a local run writes at its end; the report job of a submission does this).
pub fn cli_status(dir: &Path, write_summary: bool) -> Result<()> {
    let st = status(dir, Some(&SlurmCommands))?;
    print!("{}", st.render());
    let sdir = SlurmDir::new(dir);
    let run = sdir.read_run().ok();
    if write_summary {
        match crate::report::summary::write_summaries(&ResultStore::new(dir))? {
            Some(_) => println!("summary: {}", dir.join("summary.md").display()),
            None => println!(
                "note: {} has no manifest with the cell list and task chain: no summary written",
                dir.display()
            ),
        }
    }
    let exp = run.map_or_else(|| PathBuf::from("<exp>"), |r| r.experiment_file);
    finish(&st, &exp)
}

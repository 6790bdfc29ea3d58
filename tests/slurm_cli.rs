//! The slurm executor's command line without a cluster: exact error text, and `htl status`
//! on a local run's folder. (Against a real scheduler: `tests/slurm.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn htl(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_htl"))
        .args(args)
        .env("HTL_CACHE_DIR", cache)
        .output()
        .unwrap()
}

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slurm/tiny.yaml")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

#[test]
fn jobs_is_refused_with_the_slurm_executor() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny();
    let o = htl(
        d.path(),
        &[
            "run",
            exp.to_str().unwrap(),
            "--jobs",
            "2",
            "--out",
            d.path().join("o").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "htl: error: --jobs applies to the local executor; with --executor slurm limit concurrent cells with `slurm: {{max_concurrent: N}}` in {}",
            exp.display()
        )
    );
}

#[test]
fn without_the_slurm_commands_the_error_says_where_to_run() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny();
    let out = d.path().join("o");
    let o = Command::new(env!("CARGO_BIN_EXE_htl"))
        .args(["run", exp.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("HTL_CACHE_DIR", d.path())
        .env("PATH", d.path()) // no sbatch, squeue or scontrol here
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "htl: error: `scontrol` not found on PATH: the slurm executor runs where the SLURM client commands are (a login node); or use `--executor local`"
    );
    // Nothing was written for the cells.
    assert!(!out.join("cells").exists());
}

#[test]
fn status_reads_a_local_run_and_exits_by_completeness() {
    let d = tempfile::tempdir().unwrap();
    let exp = tiny();
    let out = d.path().join("o");
    let o = htl(
        d.path(),
        &[
            "run",
            exp.to_str().unwrap(),
            "--executor",
            "local",
            "--only",
            "DNN",
            "--quiet",
            "--no-report",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Only the two DNN cells were trained: the sweep (6 cells) is not complete.
    let o = htl(d.path(), &["status", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("6 cells: 2 finished, 0 failed, 0 running, 0 pending, 4 missing"),
        "{text}"
    );
    assert_eq!(
        stderr(&o),
        "htl: error: the sweep is not complete (6 cells: 2 finished, 0 failed, 0 running, 0 pending, 4 missing); `htl run <exp> --executor slurm` submits the failed and missing cells again: exit 1"
    );

    let o = htl(
        d.path(),
        &["status", d.path().join("nowhere").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "htl: error: {} has no manifest.json; is it a result folder of `htl run`?",
            d.path().join("nowhere").display()
        )
    );
}

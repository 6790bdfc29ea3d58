//! `htl run --executor slurm` against a real SLURM scheduler.
//!
//! Ignored in the normal suite: `.ci/run` starts a one-node cluster with
//! `scripts/slurm-local.sh`, exports `SLURM_CONF` and runs
//! `cargo test --release --test slurm -- --ignored --test-threads=1`. Without the SLURM
//! client commands (or a reachable controller) each test prints why and passes, unless
//! `HTL_SLURM_REQUIRED=1` (set by `.ci/run`), in which case it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const HTL: &str = env!("CARGO_BIN_EXE_htl");

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/slurm")
        .join(name)
}

/// Whether a scheduler answers; otherwise prints why (or fails when one is required).
fn cluster_up() -> bool {
    let why = match Command::new("sinfo").arg("--noheader").output() {
        Err(e) => format!("no SLURM client commands (`sinfo`: {e})"),
        Ok(o) if !o.status.success() => format!(
            "no SLURM controller answers (`sinfo`: {})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(_) => return true,
    };
    if std::env::var("HTL_SLURM_REQUIRED").as_deref() == Ok("1") {
        panic!("HTL_SLURM_REQUIRED=1 but {why}");
    }
    eprintln!("skipped: {why}; start a test cluster with scripts/slurm-local.sh (see .ci/run)");
    false
}

fn htl(cache: &Path, args: &[&str]) -> Output {
    let out = Command::new(HTL)
        .args(args)
        .env("HTL_CACHE_DIR", cache)
        .env("HTL_SLURM_POLL_SECS", "0.3")
        .output()
        .expect("run htl");
    eprintln!(
        "$ htl {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn cell_ids(root: &Path) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    m["cell_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn max_array_size() -> usize {
    let o = Command::new("scontrol")
        .args(["show", "config"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "MaxArraySize").then(|| v.trim().parse().unwrap())
        })
        .unwrap()
}

/// `job_task → state` of these jobs (array tasks expanded; recently finished ones too).
fn queue(jobs: &[String]) -> BTreeMap<String, String> {
    let o = Command::new("squeue")
        .args(["--noheader", "--array", "--states=all", "--format=%i|%T"])
        .arg(format!("--jobs={}", jobs.join(",")))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .collect()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_same_metrics(a: &Path, b: &Path, ids: &[String]) {
    for id in ids {
        let x = std::fs::read(a.join("cells").join(id).join("metrics.json")).unwrap();
        let y = std::fs::read(b.join("cells").join(id).join("metrics.json")).unwrap();
        assert!(
            x == y,
            "metrics.json of {id} differ between the SLURM and the local run"
        );
    }
}

#[test]
#[ignore = "needs a SLURM cluster: run by .ci/run against scripts/slurm-local.sh"]
fn a_sweep_runs_as_a_job_array_and_matches_a_local_run() {
    if !cluster_up() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("slurm");
    let exp = fixture("tiny.yaml");
    let (exp_s, out_s) = (exp.to_str().unwrap(), out.to_str().unwrap());

    let o = htl(&cache, &["run", exp_s, "--out", out_s, "--wait"]);
    assert!(o.status.success(), "the SLURM sweep failed");
    let arrays = 6usize.div_ceil(max_array_size());
    let stdout = text(&o);
    assert!(
        stdout.contains("submitted 6 cell(s) as array job(s) "),
        "{stdout}"
    );
    let submitted = stdout.lines().find(|l| l.starts_with("submitted")).unwrap();
    assert_eq!(
        submitted.matches(" task").count(),
        arrays,
        "one array per MaxArraySize tasks: {stdout}"
    );
    assert!(stdout.contains("report job "), "{stdout}");

    let ids = cell_ids(&out);
    assert_eq!(ids.len(), 6);
    for id in &ids {
        assert!(
            out.join("cells").join(id).join("metrics.json").is_file(),
            "{id}"
        );
    }
    assert!(
        out.join("report/report.md").is_file(),
        "the report job wrote no report"
    );
    assert!(out.join("summary.md").is_file());
    let logs = std::fs::read_dir(out.join("slurm/logs")).unwrap().count();
    assert!(
        logs >= 7,
        "one log per task and one for the report, found {logs}"
    );

    let st = htl(&cache, &["status", out_s]);
    assert!(st.status.success());
    assert!(text(&st).contains("6 cells: 6 finished, 0 failed, 0 running, 0 pending, 0 missing"));

    // The same cells trained locally: byte for byte the same metrics.
    let local = tmp.path().join("local");
    let o = htl(
        &cache,
        &[
            "run",
            exp_s,
            "--executor",
            "local",
            "--out",
            local.to_str().unwrap(),
            "--quiet",
            "--no-report",
        ],
    );
    assert!(o.status.success());
    assert_eq!(cell_ids(&local), ids);
    assert_same_metrics(&out, &local, &ids);

    // A second submission submits nothing.
    let o = htl(&cache, &["run", exp_s, "--out", out_s]);
    assert!(o.status.success());
    assert!(
        text(&o).contains("nothing to submit: of 6 cells, 6 finished, 0 still queued"),
        "{}",
        text(&o)
    );
    let subs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("slurm/submissions.json")).unwrap())
            .unwrap();
    assert_eq!(subs.as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs a SLURM cluster: run by .ci/run against scripts/slurm-local.sh"]
fn a_cancelled_task_leaves_no_result_and_the_resubmission_completes_it() {
    if !cluster_up() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("slurm");
    let exp = fixture("slow.yaml");
    let (exp_s, out_s) = (exp.to_str().unwrap(), out.to_str().unwrap());

    let o = htl(&cache, &["run", exp_s, "--out", out_s, "--no-report"]);
    assert!(o.status.success());
    let subs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("slurm/submissions.json")).unwrap())
            .unwrap();
    let array = &subs[0]["arrays"][0];
    let job = array["job_id"].as_str().unwrap().to_string();
    let cells: Vec<String> = array["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let slow = cells.iter().position(|c| c.starts_with("dnn-")).unwrap();
    let (slow_id, task) = (cells[slow].clone(), format!("{job}_{slow}"));

    // Cancel the slow cell's task once it trains.
    let jobs = [job.clone()];
    wait_until("the slow task runs", 120, || {
        queue(&jobs).get(&task).map(String::as_str) == Some("RUNNING")
    });
    // While it trains, `htl status` says so (and the sweep is not complete).
    let st = htl(&cache, &["status", out_s]);
    assert_eq!(st.status.code(), Some(1));
    assert!(
        text(&st).contains(&format!("running  {slow_id} [task {task}]")),
        "{}",
        text(&st)
    );
    std::thread::sleep(Duration::from_millis(1000));
    let s = Command::new("scancel").arg(&task).status().unwrap();
    assert!(s.success());
    wait_until("every task ended", 120, || {
        let q = queue(&jobs);
        !q.is_empty()
            && q.values().all(|s| {
                [
                    "COMPLETED",
                    "CANCELLED",
                    "FAILED",
                    "TIMEOUT",
                    "NODE_FAIL",
                    "PREEMPTED",
                ]
                .contains(&s.as_str())
            })
    });
    assert_eq!(
        queue(&jobs)[&task],
        "CANCELLED",
        "the task finished before it was cancelled: make slow.yaml slower"
    );
    let dir = out.join("cells").join(&slow_id);
    assert!(
        !dir.join("metrics.json").exists(),
        "a cancelled task left a result"
    );
    assert!(!dir.join("failed.json").exists());

    let st = htl(&cache, &["status", out_s]);
    assert_eq!(st.status.code(), Some(1), "an incomplete sweep exits 1");
    let t = text(&st);
    assert!(
        t.contains("2 cells: 1 finished, 0 failed, 0 running, 0 pending, 1 missing"),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "missing  {slow_id} [task {task}] — its task ended CANCELLED without a result"
        )),
        "{t}"
    );

    // The resubmission takes only the cancelled cell and completes the sweep.
    let o = htl(&cache, &["run", exp_s, "--out", out_s, "--wait"]);
    assert!(o.status.success());
    assert!(
        text(&o).contains("submitted 1 cell(s) as array job(s) "),
        "{}",
        text(&o)
    );
    assert!(dir.join("metrics.json").is_file());
    let st = htl(&cache, &["status", out_s]);
    assert!(st.status.success());

    let local = tmp.path().join("local");
    let o = htl(
        &cache,
        &[
            "run",
            exp_s,
            "--executor",
            "local",
            "--out",
            local.to_str().unwrap(),
            "--quiet",
            "--no-report",
        ],
    );
    assert!(o.status.success());
    assert_same_metrics(&out, &local, &cell_ids(&out));
}

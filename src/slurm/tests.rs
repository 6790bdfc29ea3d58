//! Submission, resubmission, status and run-cell against a mock scheduler; the real
//! scheduler is exercised by `tests/slurm.rs` (run by `.ci/run` against a local cluster).

use std::cell::RefCell;
use std::path::Path;

use super::*;
use crate::config::{parse_experiment, Executor, Experiment};
use crate::run::{run_experiment, RunOptions};

/// Records `sbatch` calls, hands out job ids 100, 101, …, and answers `squeue` from a list.
struct Mock {
    max_array: usize,
    calls: RefCell<Vec<Vec<String>>>,
    queue: RefCell<Vec<QueueEntry>>,
    refuse: RefCell<Option<usize>>,
}

impl Mock {
    fn new(max_array: usize) -> Self {
        Self {
            max_array,
            calls: RefCell::new(Vec::new()),
            queue: RefCell::new(Vec::new()),
            refuse: RefCell::new(None),
        }
    }
    fn set_queue(&self, entries: &[(&str, usize, &str)]) {
        *self.queue.borrow_mut() = entries
            .iter()
            .map(|(j, t, s)| QueueEntry {
                job: j.to_string(),
                task: Some(*t),
                state: s.to_string(),
            })
            .collect();
    }
}

impl Scheduler for Mock {
    fn sbatch(&self, args: &[String]) -> Result<String, SlurmError> {
        let mut calls = self.calls.borrow_mut();
        if *self.refuse.borrow() == Some(calls.len()) {
            return Err(SlurmError(
                "sbatch refused the job: sbatch: error: invalid partition specified: gpu".into(),
            ));
        }
        calls.push(args.to_vec());
        Ok((99 + calls.len()).to_string())
    }
    fn queue(&self, jobs: &[String]) -> Result<Vec<QueueEntry>, SlurmError> {
        Ok(self
            .queue
            .borrow()
            .iter()
            .filter(|e| jobs.contains(&e.job))
            .cloned()
            .collect())
    }
    fn max_array_size(&self) -> Result<usize, SlurmError> {
        Ok(self.max_array)
    }
}

const EXP: &str = "name: tiny
executor: slurm
slurm: {time: \"00:10:00\", cpus_per_cell: 1, max_concurrent: 2, extra_args: [\"--account=p1\"]}
dataset: {synthetic: {rows: 400, users: 40, items: 30, seed: 3}}
train: {epochs: 1, batch_size: 128, grad_stats_every: 0}
seeds: [1, 2]
variants:
  - {label: DNN, model: dnn}
";

/// A `metrics.json` that counts as finished for the synthetic chain.
const FINISHED: &str =
    r#"{"test": {"click": {"auc": 0.5}, "long_view": {"auc": 0.5}, "watch_time": {"nrmse": 1.0}}}"#;

fn setup() -> (tempfile::TempDir, Experiment) {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("tiny.yaml");
    std::fs::write(&path, EXP).unwrap();
    let exp = parse_experiment(EXP, &path).unwrap();
    (d, exp)
}

fn opts(root: &Path) -> SubmitOptions {
    SubmitOptions {
        out: Some(root.to_path_buf()),
        force: false,
        save_predictions: false,
        only: vec![],
        device: "cpu".into(),
        use_cache: false,
        report: true,
        htl: "/opt/htl/bin/htl".into(),
    }
}

#[test]
fn the_yaml_block_is_read_and_validated_with_the_file_named() {
    let (_d, exp) = setup();
    assert_eq!(exp.executor, Executor::Slurm);
    assert_eq!(exp.slurm.max_concurrent, Some(2));
    let bad = EXP.replace("time: \"00:10:00\"", "time: 10min");
    let e = parse_experiment(&bad, Path::new("x.yaml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.yaml: key `slurm.time`: `10min` is not a SLURM time limit; write MM, MM:SS, HH:MM:SS or D-HH:MM:SS, e.g. \"02:00:00\""
    );
    let unknown = EXP.replace("cpus_per_cell: 1", "cpus: 1");
    let e = parse_experiment(&unknown, Path::new("x.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("x.yaml: slurm: unknown field `cpus`"),
        "{e}"
    );
    let exec = EXP.replace("executor: slurm", "executor: pbs");
    let e = parse_experiment(&exec, Path::new("x.yaml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("unknown variant `pbs`, expected `local` or `slurm`"),
        "{e}"
    );
}

#[test]
fn the_executor_never_changes_a_cell_id() {
    let (_d, exp) = setup();
    let plain = EXP
        .lines()
        .filter(|l| !l.starts_with("executor") && !l.starts_with("slurm"))
        .collect::<Vec<_>>()
        .join("\n");
    let local = parse_experiment(&plain, Path::new("tiny.yaml")).unwrap();
    let a: Vec<String> = exp.cells.iter().map(|c| c.id()).collect();
    let b: Vec<String> = local.cells.iter().map(|c| c.id()).collect();
    assert_eq!(a, b);
}

#[test]
fn arrays_are_split_at_max_array_size() {
    assert_eq!(chunk_sizes(7, 4), vec![4, 3]);
    assert_eq!(chunk_sizes(8, 4), vec![4, 4]);
    assert_eq!(chunk_sizes(3, 1001), vec![3]);
    assert_eq!(chunk_sizes(0, 4), Vec::<usize>::new());
    assert_eq!(chunk_sizes(2, 1), vec![1, 1]);
}

#[test]
fn sbatch_arguments_carry_every_resource() {
    let cfg = crate::config::SlurmConfig {
        partition: Some("gpu".into()),
        time: Some("02:00:00".into()),
        cpus_per_cell: Some(4),
        mem: Some("16G".into()),
        gres: Some("gpu:1".into()),
        max_concurrent: Some(8),
        extra_args: vec!["--qos=long".into()],
    };
    let a = array_args(
        &cfg,
        "htl-q",
        5,
        Path::new("/r/slurm/logs"),
        Some("41"),
        Path::new("/r/slurm/task.sh"),
        Path::new("/r/slurm/lists/1-0.txt"),
    );
    assert_eq!(
        a,
        [
            "--job-name=htl-q",
            "--array=0-4%8",
            "--output=/r/slurm/logs/%A_%a.out",
            "--partition=gpu",
            "--time=02:00:00",
            "--cpus-per-task=4",
            "--mem=16G",
            "--gres=gpu:1",
            "--qos=long",
            "--dependency=afterany:41",
            "/r/slurm/task.sh",
            "/r/slurm/lists/1-0.txt"
        ]
    );
}

#[test]
fn queue_and_config_output_are_parsed() {
    let q = parse_queue("12_3|RUNNING\n12_[4-9%2]|PENDING\n13|PENDING\n\nbogus\n");
    assert_eq!(
        q,
        vec![
            QueueEntry {
                job: "12".into(),
                task: Some(3),
                state: "RUNNING".into()
            },
            QueueEntry {
                job: "13".into(),
                task: None,
                state: "PENDING".into()
            },
        ]
    );
    assert!(q[0].is_active() && q[0].is_running());
    assert!(q[1].is_active() && !q[1].is_running());
    assert_eq!(
        parse_max_array_size("AuthType = auth/munge\nMaxArraySize            = 1001\n"),
        Ok(1001)
    );
    assert_eq!(
        parse_max_array_size("MaxArraySize = 0\n").unwrap_err().0,
        "job arrays are disabled on this cluster (MaxArraySize = 0); ask the administrators, or use `--executor local`"
    );
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn a_submission_writes_configs_lists_and_records_and_chains_split_arrays() {
    let (d, exp) = setup();
    let root = d.path().join("out");
    let mock = Mock::new(2);
    let sub = submit(&exp, &opts(&root), &mock).unwrap();
    let ids: Vec<String> = exp.cells.iter().map(|c| c.id()).collect();
    assert_eq!(ids.len(), 4); // constant and DNN, seeds 1 and 2
    assert_eq!(sub.submitted, ids);
    assert_eq!(sub.report_job.as_deref(), Some("102"));
    let calls = mock.calls.borrow();
    assert_eq!(calls.len(), 3);
    // Two arrays of 2 (MaxArraySize 2); the second waits for the first (max_concurrent).
    assert!(
        calls[0].contains(&"--array=0-1%2".to_string()),
        "{:?}",
        calls[0]
    );
    assert!(!calls[0].iter().any(|a| a.starts_with("--dependency")));
    assert!(calls[1].contains(&"--dependency=afterany:100".to_string()));
    assert!(calls[2].contains(&"--dependency=afterany:100:101".to_string()));
    assert!(calls[2].contains(&"--account=p1".to_string()));
    assert!(!calls[2].iter().any(|a| a.starts_with("--time")));
    let wrap = calls[2].last().unwrap();
    let r = root.display();
    assert_eq!(
        wrap,
        &format!("--wrap='/opt/htl/bin/htl' status '{r}' --write-summary; '/opt/htl/bin/htl' report '{r}'")
    );
    let sdir = SlurmDir::new(&root);
    assert_eq!(
        read(&sdir.list_file(1, 0)),
        format!("{}\n{}\n", ids[0], ids[1])
    );
    assert_eq!(
        read(&sdir.list_file(1, 1)),
        format!("{}\n{}\n", ids[2], ids[3])
    );
    for (c, id) in exp.cells.iter().zip(&ids) {
        let stored: crate::config::CellConfig =
            serde_yaml::from_str(&read(&root.join("cells").join(id).join("config.yaml"))).unwrap();
        assert_eq!(&stored, c);
    }
    let subs = sdir.read_submissions().unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].arrays[1].job_id, "101");
    let run = sdir.read_run().unwrap();
    assert_eq!(run.device, "cpu");
    assert_eq!(run.base_dir, d.path());
    assert!(read(&sdir.task_script())
        .contains(&format!("exec '/opt/htl/bin/htl' run-cell '{r}' \"$id\"")));
    // Nothing was trained: every cell is pending in the store's eyes.
    assert!(!root
        .join("cells")
        .join(&ids[0])
        .join("metrics.json")
        .exists());
}

#[test]
fn resubmission_skips_finished_and_queued_cells_and_status_says_why() {
    let (d, exp) = setup();
    let root = d.path().join("out");
    let mock = Mock::new(1001);
    submit(&exp, &opts(&root), &mock).unwrap();
    let ids: Vec<String> = exp.cells.iter().map(|c| c.id()).collect();
    // Task 0 finished, 1 runs, 2 was cancelled (no result), 3 failed in training.
    std::fs::write(
        root.join("cells").join(&ids[0]).join("metrics.json"),
        FINISHED,
    )
    .unwrap();
    std::fs::write(
        root.join("cells").join(&ids[3]).join("failed.json"),
        "{\"reason\": \"loss diverged\"}",
    )
    .unwrap();
    mock.set_queue(&[
        ("100", 0, "COMPLETED"),
        ("100", 1, "RUNNING"),
        ("100", 2, "CANCELLED"),
        ("100", 3, "FAILED"),
    ]);
    let st = status(&root, Some(&mock)).unwrap();
    let states: Vec<CellState> = st.cells.iter().map(|c| c.state.clone()).collect();
    assert_eq!(
        states,
        vec![
            CellState::Finished,
            CellState::Running,
            CellState::Missing(Some("CANCELLED".into())),
            CellState::Failed("loss diverged".into()),
        ]
    );
    assert_eq!(
        st.counts_line(),
        "4 cells: 1 finished, 1 failed, 1 running, 0 pending, 1 missing"
    );
    assert!(!st.is_complete());
    assert_eq!(st.active_jobs, vec!["100".to_string()]);
    let text = st.render();
    assert!(
        text.contains(&format!(
            "missing  {} [task 100_2] — its task ended CANCELLED without a result",
            ids[2]
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("failed   {} [task 100_3] — loss diverged", ids[3])),
        "{text}"
    );

    // The second submission takes only the cancelled and the failed cell.
    let sub = submit(&exp, &opts(&root), &mock).unwrap();
    assert_eq!(sub.submitted, vec![ids[2].clone(), ids[3].clone()]);
    assert_eq!((sub.finished, sub.queued), (1, 1));
    assert!(!root
        .join("cells")
        .join(&ids[3])
        .join("failed.json")
        .exists());
    let st = status(&root, Some(&mock)).unwrap();
    // The mock's queue does not list the new tasks: they read as missing, not failed.
    assert_eq!(st.cells[3].state, CellState::Missing(None));
    assert_eq!(st.cells[3].task, Some(("102".into(), 1)));

    // Once every cell has a result and nothing is queued, nothing is submitted.
    for id in &ids {
        std::fs::write(root.join("cells").join(id).join("metrics.json"), FINISHED).unwrap();
    }
    mock.set_queue(&[]);
    let calls = mock.calls.borrow().len();
    let sub = submit(&exp, &opts(&root), &mock).unwrap();
    assert!(sub.submitted.is_empty());
    assert_eq!(sub.finished, 4);
    assert_eq!(mock.calls.borrow().len(), calls);
    assert!(status(&root, Some(&mock)).unwrap().is_complete());
}

#[test]
fn a_refused_sbatch_submits_nothing_and_says_so() {
    let (d, exp) = setup();
    let root = d.path().join("out");
    let mock = Mock::new(1001);
    *mock.refuse.borrow_mut() = Some(0);
    let e = submit(&exp, &opts(&root), &mock).unwrap_err();
    assert_eq!(
        e.0,
        "sbatch refused the job: sbatch: error: invalid partition specified: gpu; nothing was submitted"
    );
    assert!(SlurmDir::new(&root).read_submissions().unwrap().is_empty());
}

#[test]
fn run_cell_writes_byte_identical_results_to_a_local_run() {
    let (d, exp) = setup();
    // The local run.
    let local = d.path().join("local");
    let data = crate::data::load(&exp.dataset, &exp.base_dir).unwrap();
    let dev = crate::device::device_from_name("cpu").unwrap();
    let ro = RunOptions {
        out: Some(local.clone()),
        jobs: Some(2),
        quiet: true,
        force: false,
        save_predictions: false,
        only: vec![],
        gpu_mem: None,
        placement: None,
    };
    let summary = run_experiment(&exp, &data, &dev, &ro).unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    // The same cells, one task each.
    let root = d.path().join("slurm");
    let mock = Mock::new(1001);
    let sub = submit(&exp, &opts(&root), &mock).unwrap();
    let quiet = |_: usize, _: usize| {};
    for id in &sub.submitted {
        assert_eq!(run_cell(&root, id, &quiet).unwrap(), CellRun::Trained);
        // (curves.csv and cell.json also hold wall-clock seconds, so they differ.)
        for f in ["metrics.json", "config.yaml"] {
            let a = std::fs::read(local.join("cells").join(id).join(f)).unwrap();
            let b = std::fs::read(root.join("cells").join(id).join(f)).unwrap();
            assert!(a == b, "{id}/{f} differs");
        }
        // A requeued task finds the cell finished and does nothing.
        assert_eq!(
            run_cell(&root, id, &quiet).unwrap(),
            CellRun::AlreadyFinished
        );
    }
    assert!(status(&root, Some(&mock)).unwrap().is_complete());
}

#[test]
fn run_cell_refuses_a_config_whose_id_does_not_match() {
    let (d, exp) = setup();
    let root = d.path().join("out");
    let mock = Mock::new(1001);
    let sub = submit(&exp, &opts(&root), &mock).unwrap();
    let id = &sub.submitted[2];
    let p = root.join("cells").join(id).join("config.yaml");
    let edited = read(&p).replace("seed: 1", "seed: 9");
    std::fs::write(&p, edited).unwrap();
    let e = run_cell(&root, id, &|_, _| {}).unwrap_err();
    assert!(
        e.0.contains("config.yaml: this config has id `dnn-s9-")
            && e.0.contains(&format!(
                "not `{id}` (edited, or written by another version of htl)"
            )),
        "{e}"
    );
    let e = run_cell(&root, "dnn-s1-0000000000", &|_, _| {}).unwrap_err();
    assert!(
        e.0.contains("cell `dnn-s1-0000000000` was not submitted from"),
        "{e}"
    );
}

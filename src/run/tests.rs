//! The runner with an instant, deterministic mock trainer: sweeps, resume, `--force`,
//! `--only`, failure isolation (errors, divergence, panics) and the stored layout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::config::parse_experiment;
use crate::device::device_from_name;
use crate::store::{LockOwner, LOCK, METRICS};
use crate::train::{MetricTable, TrainOutcome};

/// Fake metrics from the cell's seed and variant; fails on request.
struct Mock {
    calls: AtomicUsize,
}

impl CellTrainer for Mock {
    fn train(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        _device: &Device,
        progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match cell.variant.as_str() {
            "broken" => return Err(TrainError::Other("mock failure".into())),
            "nan" => {
                return Err(TrainError::Diverged {
                    task: "click".into(),
                    value: f32::NAN,
                    epoch: 1,
                    step: 3,
                })
            }
            "panics" => panic!("mock panic"),
            _ => {}
        }
        progress(1, 1);
        let bump = if cell.variant == "good" { 0.05 } else { 0.0 };
        let mut table = MetricTable::new();
        for split in ["valid", "test"] {
            let mut tasks = BTreeMap::new();
            for t in data.tasks.tasks() {
                let mut m = BTreeMap::new();
                m.insert(
                    "auc".to_string(),
                    Some(0.6 + bump + cell.seed as f64 * 0.001),
                );
                tasks.insert(t.name.clone(), m);
            }
            table.insert(split.to_string(), tasks);
        }
        Ok(TrainOutcome {
            metrics: table,
            curves: vec![],
            grad_stats: vec![],
            test_predictions: vec![],
            test_labels: vec![],
            best_epoch: 1,
            steps: 1,
        })
    }
}

const EXP: &str = "name: mock
dataset: {synthetic: {rows: 2000, users: 100, items: 50, seed: 1}}
seeds: [1, 2, 3]
constant_reference: false
variants:
  - {label: good, model: htlnet}
  - {label: plain, model: shared_bottom}
  - {label: broken, model: shared_bottom}
  - {label: nan, model: shared_bottom}
  - {label: panics, model: shared_bottom}
";

fn setup() -> (tempfile::TempDir, Experiment, Dataset) {
    let d = tempfile::tempdir().unwrap();
    let exp = parse_experiment(EXP, &d.path().join("mock.yaml")).unwrap();
    let data = crate::data::load(&exp.dataset, d.path()).unwrap();
    (d, exp, data)
}

fn opts(root: &Path) -> RunOptions {
    RunOptions {
        out: Some(root.to_path_buf()),
        jobs: Some(2),
        quiet: true,
        force: false,
        save_predictions: false,
        only: vec![],
        gpu_mem: None,
        placement: None,
    }
}

#[test]
fn failures_are_isolated_stored_and_reported() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let dev = device_from_name("cpu").unwrap();
    let s = run_experiment_with(&exp, &data, &dev, &opts(&root), &mock).unwrap();
    assert_eq!((s.total, s.trained, s.skipped), (15, 15, 0));
    assert_eq!(s.failed.len(), 9, "{:?}", s.failed);
    let reasons: Vec<&str> = s.failed.iter().map(|(_, r)| r.as_str()).collect();
    assert!(reasons.contains(&"mock failure"));
    assert!(reasons
        .iter()
        .any(|r| r.starts_with("diverged: loss of task `click` is NaN at epoch 1, step 3")));
    let panic = reasons
        .iter()
        .find(|r| r.starts_with("internal error (panic at "))
        .expect("the panic is recorded");
    assert!(
        panic.starts_with("internal error (panic at src/run/tests.rs:")
            && panic.ends_with("): mock panic"),
        "{panic}"
    );
    let store = ResultStore::new(&root);
    for c in &exp.cells {
        let id = c.id();
        let finished = store.cell_file(&id, METRICS).is_file();
        let failed = store.cell_file(&id, "failed.json").is_file();
        assert_eq!(
            finished,
            ["good", "plain"].contains(&c.variant.as_str()),
            "{id}"
        );
        assert_eq!(failed, !finished, "{id}");
        assert!(store.cell_file(&id, "config.yaml").is_file());
    }
    crate::report::summary::write_summaries(&store).unwrap();
    let md = std::fs::read_to_string(root.join("summary.md")).unwrap();
    assert!(
        md.contains("| good | 3 |")
            && md.contains("Failed cells:")
            && md.contains("- broken seed 1: mock failure"),
        "{md}"
    );
    let long = std::fs::read_to_string(root.join("cells.csv")).unwrap();
    assert!(long.contains("broken,shared_bottom,1,,,failed,"));
    // The report reads the same store and shows the failed cells.
    let r = crate::report::report(
        &root,
        &crate::report::ReportOptions {
            figures: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(r.failed_cells.len(), 9);
}

#[test]
fn a_rerun_trains_only_unfinished_cells_and_force_retrains() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    // As if killed: only seed 1 ran.
    let mut o = opts(&root);
    o.only = vec!["1".into()];
    let s = run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    assert_eq!((s.total, s.trained), (5, 5));
    let first =
        std::fs::read(ResultStore::new(&root).cell_file(&exp.cells[0].id(), "metrics.json"))
            .unwrap();
    // Full run: finished cells are kept, failed ones are retried, the rest trained.
    mock.calls.store(0, Ordering::SeqCst);
    let s = run_experiment_with(&exp, &data, &dev, &opts(&root), &mock).unwrap();
    assert_eq!((s.total, s.skipped, s.trained), (15, 2, 13));
    assert_eq!(mock.calls.load(Ordering::SeqCst), 13);
    let again =
        std::fs::read(ResultStore::new(&root).cell_file(&exp.cells[0].id(), "metrics.json"))
            .unwrap();
    assert_eq!(first, again);
    // --force retrains everything.
    mock.calls.store(0, Ordering::SeqCst);
    let mut o = opts(&root);
    o.force = true;
    let s = run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    assert_eq!((s.skipped, s.trained), (0, 15));
    // --only by variant label and by model.
    let mut o = opts(&d.path().join("only"));
    o.only = vec!["good".into()];
    assert_eq!(
        run_experiment_with(&exp, &data, &dev, &o, &mock)
            .unwrap()
            .total,
        3
    );
    let mut o = opts(&d.path().join("only2"));
    o.only = vec!["nothing".into()];
    let e = run_experiment_with(&exp, &data, &dev, &o, &mock)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "--only nothing matches no cell; variants: good, plain, broken, nan, panics"
    );
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let (d, exp, data) = setup();
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let mut a = opts(&d.path().join("a"));
    a.jobs = Some(1);
    let mut b = opts(&d.path().join("b"));
    b.jobs = Some(4);
    run_experiment_with(&exp, &data, &dev, &a, &mock).unwrap();
    run_experiment_with(&exp, &data, &dev, &b, &mock).unwrap();
    for side in ["a", "b"] {
        let store = crate::store::ResultStore::new(d.path().join(side));
        crate::report::summary::write_summaries(&store)
            .unwrap()
            .unwrap();
    }
    for f in ["cells.csv", "summary.csv", "summary.md"] {
        assert_eq!(
            std::fs::read(d.path().join("a").join(f)).unwrap(),
            std::fs::read(d.path().join("b").join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn a_second_run_on_a_locked_folder_refuses() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    std::fs::create_dir_all(&root).unwrap();
    // A live `htl` (this very process) holds the lock.
    let owner = LockOwner::current();
    std::fs::write(root.join(LOCK), serde_json::to_string(&owner).unwrap()).unwrap();
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let e = run_experiment_with(&exp, &data, &dev, &opts(&root), &mock)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "another `htl run` (pid {}, started {}) is writing to {}; wait for it to finish or stop it, then run again",
            owner.pid,
            owner.started,
            root.display()
        )
    );
    assert_eq!(mock.calls.load(Ordering::SeqCst), 0);
    // The same pid with another start time is a reused pid: taken over with a note.
    let mut reused = owner.clone();
    reused.proc_start = owner.proc_start.map(|t| t + 7);
    std::fs::write(root.join(LOCK), serde_json::to_string(&reused).unwrap()).unwrap();
    let mut o = opts(&root);
    o.only = vec!["good".into()];
    let s = run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    assert_eq!(
        s.notes,
        vec![format!(
            "note: took over the stale lock {} (pid {} started {}: the pid now belongs to a newer process)",
            root.join(LOCK).display(),
            owner.pid,
            owner.started
        )]
    );
    assert!(!root.join(LOCK).exists(), "the lock is released");
}

#[test]
fn corrupt_metrics_are_set_aside_and_retrained() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let mut o = opts(&root);
    o.only = vec!["good".into(), "plain".into()];
    run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    let store = ResultStore::new(&root);
    let good: Vec<String> = exp
        .cells
        .iter()
        .filter(|c| c.variant == "good")
        .map(|c| c.id())
        .collect();
    let first = std::fs::read(store.cell_file(&good[0], METRICS)).unwrap();
    std::fs::write(store.cell_file(&good[0], METRICS), "{\"test\": {\"click").unwrap();
    std::fs::write(store.cell_file(&good[1], METRICS), "{}").unwrap();
    // The report sees both as unfinished before the rerun.
    let r = crate::report::report(
        &root,
        &crate::report::ReportOptions {
            figures: false,
            ..Default::default()
        },
    )
    .unwrap();
    for id in &good[..2] {
        assert!(
            r.unfinished_cells.contains(id),
            "{id}: {:?}",
            r.unfinished_cells
        );
    }
    mock.calls.store(0, Ordering::SeqCst);
    let s = run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    assert_eq!((s.skipped, s.trained), (4, 2));
    assert_eq!(
        s.notes,
        vec![
            format!(
                "warning: {} does not parse (EOF while parsing a string at line 1 column 16; expected split -> task -> metric -> number or null); moved it to {} and retraining the cell",
                store.cell_file(&good[0], METRICS).display(),
                store.cell_file(&good[0], "metrics.json.corrupt-1").display()
            ),
            format!(
                "warning: {} has no `test` split; moved it to {} and retraining the cell",
                store.cell_file(&good[1], METRICS).display(),
                store.cell_file(&good[1], "metrics.json.corrupt-1").display()
            ),
        ]
    );
    assert_eq!(
        std::fs::read(store.cell_file(&good[0], METRICS)).unwrap(),
        first
    );
    assert_eq!(
        std::fs::read_to_string(store.cell_file(&good[1], "metrics.json.corrupt-1")).unwrap(),
        "{}"
    );
}

#[test]
fn only_never_shrinks_the_summaries_and_absent_cells_are_unfinished() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let mut o = opts(&root);
    o.only = vec!["good".into(), "plain".into()];
    run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    let store = crate::store::ResultStore::new(&root);
    crate::report::summary::write_summaries(&store).unwrap();
    let summary = std::fs::read(root.join("summary.csv")).unwrap();
    let cells = std::fs::read(root.join("cells.csv")).unwrap();
    // A rerun of one variant keeps every finished cell in the summaries.
    o.only = vec!["plain".into()];
    o.force = true;
    let s = run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    assert_eq!(s.trained, 3);
    let md = crate::report::summary::write_summaries(&store)
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(root.join("summary.csv")).unwrap(), summary);
    assert_eq!(std::fs::read(root.join("cells.csv")).unwrap(), cells);
    assert!(md.contains("| good | 3 |"), "{md}");
    // Nine cells never ran: the report counts them as unfinished.
    let r = crate::report::report(
        &root,
        &crate::report::ReportOptions {
            figures: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        (
            r.finished_cells,
            r.failed_cells.len(),
            r.unfinished_cells.len()
        ),
        (6, 0, 9)
    );
    let md = std::fs::read_to_string(&r.report_md).unwrap();
    assert!(
        md.contains("| cells | 15 in the experiment; 6 finished, 0 failed, 9 unfinished |"),
        "{md}"
    );
    let broken = exp.cells.iter().find(|c| c.variant == "broken").unwrap();
    assert!(
        md.contains(&format!("| `{}` | broken | 1 | unfinished |", broken.id())),
        "{md}"
    );
}

#[test]
fn the_manifest_records_the_task_chain() {
    let (d, exp, data) = setup();
    let root = d.path().join("out");
    let dev = device_from_name("cpu").unwrap();
    let mock = Mock {
        calls: AtomicUsize::new(0),
    };
    let mut o = opts(&root);
    o.only = vec!["good".into()];
    run_experiment_with(&exp, &data, &dev, &o, &mock).unwrap();
    let m = ResultStore::new(&root).read_manifest().unwrap().unwrap();
    let chain: Vec<(String, crate::store::TaskKind)> =
        m.tasks.iter().map(|t| (t.name.clone(), t.kind)).collect();
    let want: Vec<(String, crate::store::TaskKind)> = data
        .tasks
        .tasks()
        .iter()
        .map(|t| {
            let k = match t.kind {
                crate::data::TaskKind::Binary => crate::store::TaskKind::Binary,
                crate::data::TaskKind::Regression => crate::store::TaskKind::Regression,
            };
            (t.name.clone(), k)
        })
        .collect();
    assert_eq!(chain, want);
    assert_eq!(m.variants, exp.variants);
    assert_eq!(m.cell_list.len(), 15);
    assert_eq!(
        m.cell_ids,
        exp.cells.iter().map(|c| c.id()).collect::<Vec<_>>()
    );
    assert!(m.ended.is_some());
}

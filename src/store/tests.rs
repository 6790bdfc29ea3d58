//! The store's records round-trip, old result folders stay readable, corrupt metrics are
//! recognised, and the lock tells a live owner from a stale one.

use super::*;

#[test]
fn an_old_manifest_loads_and_is_written_back_byte_for_byte() {
    // The quickstart reference manifest as written before the task chain and cell list were
    // stored (revision b0a9e61).
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store/manifest_before_chain.json");
    let text = fs::read_to_string(&path).unwrap();
    let m: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(m.cells, Some(18));
    assert_eq!(m.cell_ids.len(), 18);
    assert!(m.tasks.is_empty() && m.cell_list.is_empty());
    assert_eq!(m.machine.cores, 2);
    assert_eq!(serde_json::to_string_pretty(&m).unwrap(), text.trim_end());
    // An empty or partial manifest still loads.
    let m: Manifest = serde_json::from_str(r#"{"experiment": "x"}"#).unwrap();
    assert_eq!((m.experiment.as_str(), m.cells, m.ended), ("x", None, None));
}

#[test]
fn the_reference_manifest_has_the_chain_and_round_trips() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("results/reference/quickstart/manifest.json");
    let text = fs::read_to_string(&path).unwrap();
    let m: Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(m.cell_list.len(), 18);
    let names: Vec<&str> = m.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["click", "long_view", "watch_time"]);
    assert_eq!(serde_json::to_string_pretty(&m).unwrap(), text.trim_end());
}

#[test]
fn the_task_chain_is_stored_in_chain_order() {
    let d = tempfile::tempdir().unwrap();
    let s = ResultStore::new(d.path());
    let m = Manifest {
        tasks: vec![
            TaskRecord {
                name: "watch".into(),
                kind: TaskKind::Binary,
            },
            TaskRecord {
                name: "time".into(),
                kind: TaskKind::Regression,
            },
        ],
        ..Manifest::default()
    };
    s.write_manifest(&m).unwrap();
    let text = fs::read_to_string(d.path().join(MANIFEST)).unwrap();
    assert!(
        text.contains(
            r#""name": "watch",
      "kind": "binary""#
        ),
        "{text}"
    );
    let back = s.read_manifest().unwrap().unwrap();
    assert_eq!(back, m);
    assert_eq!(back.task_kind("time"), Some(TaskKind::Regression));
    assert_eq!(back.task_kind("click"), None);
}

#[test]
fn curves_and_grad_stats_round_trip() {
    let c = Curves {
        tasks: vec!["a_b".into(), "a".into()],
        rows: vec![
            CurveRow {
                epoch: 0,
                seconds: Some(0.25),
                monitor: None,
                tau: None,
                train_loss: vec![None, None],
                valid_loss: vec![Some(0.5), Some(1.5)],
                valid_metrics: vec![vec![("auc".into(), Some(0.5))], vec![("x_y".into(), None)]],
            },
            CurveRow {
                epoch: 1,
                seconds: Some(1.0),
                monitor: Some(0.75),
                tau: None,
                train_loss: vec![Some(0.4), Some(1.0)],
                valid_loss: vec![Some(0.45), None],
                valid_metrics: vec![
                    vec![("auc".into(), Some(0.6))],
                    vec![("x_y".into(), Some(2.0))],
                ],
            },
        ],
    };
    let text = c.to_csv();
    assert_eq!(
        text,
        "epoch,seconds,monitor,train_loss_a_b,train_loss_a,valid_loss_a_b,valid_loss_a,valid_a_b_auc,valid_a_x_y\n\
         0,0.250,,,,0.5,1.5,0.5,\n1,1.000,0.75,0.4,1,0.45,,0.6,2\n"
    );
    assert_eq!(Curves::parse(&text).unwrap(), c);
    // With a temperature: a `tau` column after `monitor`, read back; an old file without
    // the column reads as `tau: None` (checked just above).
    let mut t = c.clone();
    t.rows[0].tau = Some(10.0);
    t.rows[1].tau = Some(0.5);
    let text = t.to_csv();
    assert!(
        text.starts_with("epoch,seconds,monitor,tau,train_loss_a_b,")
            && text.contains("\n0,0.250,,10,")
            && text.contains("\n1,1.000,0.75,0.5,0.4,"),
        "{text}"
    );
    assert_eq!(Curves::parse(&text).unwrap(), t);
    assert_eq!(
        Curves::parse("epoch,seconds\n").unwrap_err(),
        "no `valid_loss_<task>` column"
    );
    let g = vec![GradStatRow {
        step: 3,
        task: "click".into(),
        norm_raw: 0.5,
        norm_adjusted: 0.25,
        cos_core: f64::NAN,
    }];
    let text = GradStatRow::to_csv(&g);
    assert_eq!(
        text,
        "step,task,norm_raw,norm_adjusted,cos_core\n3,click,0.5,0.25,NaN\n"
    );
    let back = GradStatRow::parse(&text).unwrap();
    assert_eq!((back[0].step, back[0].norm_adjusted), (3, 0.25));
    assert!(back[0].cos_core.is_nan());
    assert_eq!(
        GradStatRow::parse("step,task\n").unwrap_err(),
        "no `norm_raw` column"
    );
}

#[test]
fn corrupt_metrics_are_recognised_and_set_aside() {
    let d = tempfile::tempdir().unwrap();
    let s = ResultStore::new(d.path());
    let tasks = vec!["click".to_string(), "time".to_string()];
    assert_eq!(s.check_metrics("c", &tasks).unwrap(), MetricsState::Missing);
    let write = |t: &str| {
        fs::create_dir_all(s.cell_dir("c")).unwrap();
        fs::write(s.cell_file("c", METRICS), t).unwrap();
    };
    write("");
    assert_eq!(
        s.check_metrics("c", &tasks).unwrap(),
        MetricsState::Corrupt("does not parse (EOF while parsing a value at line 1 column 0; expected split -> task -> metric -> number or null)".into())
    );
    write("{}");
    assert_eq!(
        s.check_metrics("c", &tasks).unwrap(),
        MetricsState::Corrupt("has no `test` split".into())
    );
    write(r#"{"test": {"click": {"auc": 0.5}}}"#);
    assert_eq!(
        s.check_metrics("c", &tasks).unwrap(),
        MetricsState::Corrupt("lacks task(s) `time` in its `test` split".into())
    );
    assert!(matches!(
        s.check_metrics("c", &tasks[..1]).unwrap(),
        MetricsState::Finished(_)
    ));
    assert_eq!(
        s.set_aside_metrics("c").unwrap(),
        s.cell_file("c", "metrics.json.corrupt-1")
    );
    write("{}");
    assert_eq!(
        s.set_aside_metrics("c").unwrap(),
        s.cell_file("c", "metrics.json.corrupt-2")
    );
    fs::write(s.cell_file("c", CONFIG), "x").unwrap();
    s.clear_cell("c").unwrap();
    let mut left: Vec<String> = fs::read_dir(s.cell_dir("c"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec!["metrics.json.corrupt-1", "metrics.json.corrupt-2"]
    );
}

fn write_lock(root: &Path, owner: &LockOwner) {
    fs::write(root.join(LOCK), serde_json::to_string(owner).unwrap()).unwrap();
}

#[test]
fn a_live_lock_is_refused_and_a_stale_one_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let (lock, note) = RunLock::acquire(root).unwrap();
    assert_eq!(note, None);
    let held: LockOwner =
        serde_json::from_str(&fs::read_to_string(root.join(LOCK)).unwrap()).unwrap();
    assert_eq!(held.pid, std::process::id());
    assert_eq!(held.host, lock::host_name());
    // This process holds it: a second acquire is refused.
    let e = RunLock::acquire(root).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "another `htl run` (pid {}, started {}) is writing to {}; wait for it to finish or stop it, then run again",
            held.pid, held.started, root.display()
        )
    );
    drop(lock);
    assert!(!root.join(LOCK).exists());
    // The same pid, started at another time: the pid was reused.
    let mut reused = held.clone();
    reused.proc_start = held.proc_start.map(|t| t + 1);
    reused.started = "2020-01-01T00:00:00Z".into();
    write_lock(root, &reused);
    let (_l, note) = RunLock::acquire(root).unwrap();
    assert_eq!(
        note.unwrap(),
        format!(
            "note: took over the stale lock {} (pid {} started 2020-01-01T00:00:00Z: the pid now belongs to a newer process)",
            root.join(LOCK).display(),
            held.pid
        )
    );
    drop(_l);
    // A process that has exited.
    let mut dead = held.clone();
    dead.pid = 999_999_999;
    write_lock(root, &dead);
    let (_l, note) = RunLock::acquire(root).unwrap();
    assert!(note.unwrap().ends_with(&format!(
        "(pid 999999999 started {}: that process has exited)",
        held.started
    )));
    drop(_l);
    // A first-release lock (a bare pid) of a process that is not `htl`.
    fs::write(root.join(LOCK), "999999999").unwrap();
    let (_l, note) = RunLock::acquire(root).unwrap();
    assert!(note
        .unwrap()
        .ends_with("(pid 999999999: no `htl` process has that pid)"));
    drop(_l);
    // Another host: cannot be checked from here, refused.
    let mut other = held;
    other.host = "elsewhere".into();
    write_lock(root, &other);
    let e = RunLock::acquire(root).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{} is locked by `htl run` pid {} on host `elsewhere` (started {}), which this host cannot check; wait for that run to finish, or delete {} if it has stopped",
            root.display(), other.pid, other.started, root.join(LOCK).display()
        )
    );
}

#[test]
fn a_write_error_names_the_file_and_says_its_reason_once() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("plain-file");
    fs::write(&file, "").unwrap();
    let s = ResultStore::new(&file);
    let e = s.write_top(SUMMARY_MD, "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write {}: File exists (os error 17)",
            file.join(SUMMARY_MD).display()
        )
    );
    // The reason is part of the message, not a cause that `{:#}` would print again.
    assert!(std::error::Error::source(&e).is_none());
}

//! Metrics against a numeric grid key: the points and 95% t-intervals the analysis computes
//! on a hand-made result folder, and the sweep figure drawn by `htl run` on a tiny grid
//! over `synthetic.dependence` (each grid point trained on its own data set).

use std::path::Path;
use std::process::Command;

use htlbench::report::analysis::{analyse, MetricKey};
use htlbench::report::load::load_store;
use htlbench::report::sweep::parse_grid_label;
use htlbench::report::ReportOptions;
use htlbench::store::{CellInfo, Manifest, MetricTable, ResultStore, TaskKind, TaskRecord};

/// t quantile 0.975 with 2 degrees of freedom.
const T2: f64 = 4.302_652_729_911_275;

/// (label, model, click AUC per seed 1..3)
const CELLS: [(&str, &str, [f64; 3]); 7] = [
    ("constant [d=0]", "constant", [0.5, 0.5, 0.5]),
    ("constant [d=1]", "constant", [0.5, 0.5, 0.5]),
    ("A [d=0, r=x]", "m", [0.60, 0.62, 0.64]),
    ("A [d=1, r=x]", "m", [0.70, 0.70, 0.73]),
    ("A [d=0, r=y]", "m", [0.55, 0.56, 0.57]),
    ("A [d=1, r=y]", "m", [0.58, 0.59, 0.66]),
    ("B [d=0.5, r=x]", "m", [0.61, 0.61, 0.61]),
];

fn write_store(root: &Path) {
    let store = ResultStore::new(root);
    for (i, (label, model, aucs)) in CELLS.iter().enumerate() {
        for (s, auc) in aucs.iter().enumerate() {
            let seed = s as u64 + 1;
            let id = format!("v{i}-s{seed}-00000000{i}{s}");
            let config: serde_yaml::Value = serde_yaml::from_str(&format!(
                "variant: \"{label}\"\nmodel: {model}\nseed: {seed}\n"
            ))
            .unwrap();
            store.write_config(&id, &config).unwrap();
            store
                .write_cell_info(
                    &id,
                    &CellInfo {
                        finished: Some("2026-01-01T00:00:00Z".into()),
                        ..CellInfo::default()
                    },
                )
                .unwrap();
            let m: MetricTable = serde_json::from_str(&format!(
                r#"{{"test": {{"click": {{"auc": {auc}, "logloss": 0.5}}}}}}"#
            ))
            .unwrap();
            store.write_metrics(&id, &m).unwrap();
        }
    }
    store
        .write_manifest(&Manifest {
            experiment: "sweep".into(),
            tasks: vec![TaskRecord {
                name: "click".into(),
                kind: TaskKind::Binary,
            }],
            variants: CELLS.iter().map(|c| c.0.to_string()).collect(),
            ..Manifest::default()
        })
        .unwrap();
}

#[test]
fn grid_labels_split_into_base_and_pairs() {
    assert_eq!(
        parse_grid_label("w/o LE (no LEU) [dependence=0.5, core_transform=none]"),
        Some((
            "w/o LE (no LEU)".to_string(),
            vec![
                ("dependence".to_string(), "0.5".to_string()),
                ("core_transform".to_string(), "none".to_string())
            ]
        ))
    );
    assert_eq!(parse_grid_label("HTLNet"), None);
    assert_eq!(parse_grid_label("odd [label]"), None);
}

#[test]
fn sweep_points_are_means_with_t_intervals_per_line() {
    let d = tempfile::tempdir().unwrap();
    write_store(d.path());
    let a = analyse(&load_store(d.path()).unwrap(), &ReportOptions::default()).unwrap();
    // `r` takes text values: no sweep; `d` is numeric with 3 values.
    assert_eq!(a.sweeps.len(), 1);
    let sw = &a.sweeps[0];
    assert_eq!(sw.key, "d");
    assert_eq!(sw.values, vec![0.0, 0.5, 1.0]);
    let auc = MetricKey {
        task: "click".into(),
        metric: "auc".into(),
    };
    let lines: Vec<&str> = sw
        .lines
        .iter()
        .filter(|l| l.key == auc)
        .map(|l| l.label.as_str())
        .collect();
    assert_eq!(lines, vec!["constant", "A [r=x]", "A [r=y]", "B [r=x]"]);
    let line = |label: &str| {
        sw.lines
            .iter()
            .find(|l| l.key == auc && l.label == label)
            .unwrap()
    };
    assert!(line("constant").constant);
    let ax = line("A [r=x]");
    assert_eq!((ax.base.as_str(), ax.others.as_str()), ("A", "r=x"));
    let xs: Vec<f64> = ax.points.iter().map(|p| p.x).collect();
    assert_eq!(xs, vec![0.0, 1.0]);
    // d=0: 0.60, 0.62, 0.64 → mean 0.62, sd 0.02, half-width t(2) · 0.02 / √3
    let p0 = &ax.points[0];
    assert!((p0.mean - 0.62).abs() < 1e-12);
    let half = T2 * 0.02 / 3f64.sqrt();
    let (lo, hi) = p0.ci95.unwrap();
    assert!((lo - (0.62 - half)).abs() < 1e-9 && (hi - (0.62 + half)).abs() < 1e-9);
    assert_eq!(p0.n, 3);
    // d=1: 0.70, 0.70, 0.73 → mean 0.71, sd √0.0003
    let p1 = &ax.points[1];
    assert!((p1.mean - 0.71).abs() < 1e-12);
    let half = T2 * 0.0003f64.sqrt() / 3f64.sqrt();
    assert!((p1.ci95.unwrap().1 - (0.71 + half)).abs() < 1e-9);
    // B has one point, at d=0.5, with no spread
    let b = line("B [r=x]");
    assert_eq!(b.points.len(), 1);
    assert_eq!(b.points[0].x, 0.5);
    let (lo, hi) = b.points[0].ci95.unwrap();
    assert!((lo - 0.61).abs() < 1e-12 && (hi - 0.61).abs() < 1e-12);
}

fn htl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_htl"));
    c.env(
        "HTL_CACHE_DIR",
        std::env::temp_dir().join("htlbench-test-cache"),
    );
    c
}

fn y_mean(dir: &Path, prefix: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.join("cells")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with(prefix) {
            let m: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p.join("metrics.json")).unwrap())
                    .unwrap();
            out.push(m["test"]["watch_time"]["mean"].as_f64().unwrap());
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

#[test]
fn htl_run_trains_each_grid_point_on_its_data_and_draws_the_sweep() {
    let d = tempfile::tempdir().unwrap();
    let yaml = "name: tiny_sweep\ndataset: {synthetic: {rows: 800, users: 50, items: 40, seed: 2, funnel: graded}}\ntrain: {epochs: 1, batch_size: 256}\nseeds: [1, 2]\ngrid: {synthetic.dependence: [0, 0.9]}\nvariants: [{label: DNN, model: dnn}, {label: Shared-Bottom, model: shared_bottom}]\n";
    std::fs::write(d.path().join("s.yaml"), yaml).unwrap();
    let out = htl()
        .current_dir(d.path())
        .args(["run", "s.yaml", "--quiet", "--jobs", "2", "--out"])
        .arg(d.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let root = d.path().join("out");
    // The test split's watch_time mean is a property of the data set: equal within a grid
    // point (constant and DNN, every seed), different between the two points.
    let at0 = [
        y_mean(&root, "constant-dependence-0-s"),
        y_mean(&root, "dnn-dependence-0-s"),
    ]
    .concat();
    let at9 = [
        y_mean(&root, "constant-dependence-0-9-s"),
        y_mean(&root, "dnn-dependence-0-9-s"),
    ]
    .concat();
    assert_eq!((at0.len(), at9.len()), (4, 4), "{at0:?} {at9:?}");
    assert!(at0.iter().all(|y| *y == at0[0]), "{at0:?}");
    assert!(at9.iter().all(|y| *y == at9[0]), "{at9:?}");
    assert_ne!(at0[0], at9[0]);
    let fig = root.join("report/figures/sweep_dependence.png");
    assert!(fig.is_file(), "no {}", fig.display());
    assert!(std::fs::metadata(&fig).unwrap().len() > 15_000);
    assert!(root.join("report/figures/sweep_dependence.svg").is_file());
    let md = std::fs::read_to_string(root.join("report/report.md")).unwrap();
    assert!(md.contains("(figures/sweep_dependence.png)"), "{md}");
    assert!(
        md.contains("### Metrics against a numeric grid key"),
        "{md}"
    );
    // The sweep verdict table: Shared-Bottom against DNN (the first model: no HTLNet here)
    // at each value of dependence, on every shown metric.
    assert!(
        md.contains("### Against DNN along `dependence`, per grid point"),
        "{md}"
    );
    assert!(
        md.contains("| Task | Metric | Variant | dependence=0 Δ | dependence=0 p (holm) | dependence=0 verdict | dependence=0.9 Δ |"),
        "{md}"
    );
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("| Shared-Bottom |"))
        .collect();
    // 2 binary tasks × 2 metrics + 4 core metrics, each with a word at both points.
    assert_eq!(rows.len(), 8, "{md}");
    let words = ["win", "lose", "tie", "under-powered"];
    for r in &rows {
        let n = r.split('|').filter(|c| words.contains(&c.trim())).count();
        assert_eq!(n, 2, "{r}");
    }
    assert!(root.join("report/tables/sweep_dependence.tex").is_file());
    let stats = std::fs::read_to_string(root.join("report/stats.csv")).unwrap();
    assert!(
        stats
            .lines()
            .filter(|l| l.starts_with("Shared-Bottom [dependence=0.9],"))
            .all(|l| l.contains(",DNN [dependence=0.9],")),
        "{stats}"
    );
}

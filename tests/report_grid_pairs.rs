//! Paired tests in a grid experiment: each variant is paired with the reference at the same
//! grid point, the correction works within each grid point, and the sweep verdict table
//! names each comparison. A hand-made result set with two grid points where pairing across
//! points would give the opposite answer; every t-statistic and p-value below is worked by
//! hand (t with 2 degrees of freedom: two-sided p = 1 − |t| / √(2 + t²)).

use std::path::Path;

use htlbench::report::analysis::{analyse, MetricKey};
use htlbench::report::load::load_store;
use htlbench::report::stats::Verdict;
use htlbench::report::sweep::SweepVerdict;
use htlbench::report::{report, ReportError, ReportOptions};
use htlbench::store::{CellInfo, Manifest, MetricTable, ResultStore, TaskKind, TaskRecord};

/// (base label, value of the grid key, click AUC per seed 1..3)
const CELLS: [(&str, &str, [f64; 3]); 8] = [
    ("constant", "0", [0.5, 0.5, 0.5]),
    ("constant", "1", [0.5, 0.5, 0.5]),
    ("HTLNet", "0", [0.60, 0.62, 0.61]),
    ("HTLNet", "1", [0.70, 0.73, 0.71]),
    // d=0: differences from HTLNet [d=0] 0.02, 0.01, 0.03; d=1: −0.01, −0.03, −0.01.
    ("B", "0", [0.62, 0.63, 0.64]),
    ("B", "1", [0.69, 0.70, 0.70]),
    // d=0: 0.05 at every seed; d=1: 0.001, −0.001, 0.
    ("C", "0", [0.65, 0.67, 0.66]),
    ("C", "1", [0.701, 0.729, 0.71]),
];

fn label(base: &str, key: &str, x: &str) -> String {
    format!("{base} [{key}={x}]")
}

/// Writes the cells with grid key `key` (the labels the grid expansion writes).
fn write_store(root: &Path, key: &str) {
    let store = ResultStore::new(root);
    for (i, (base, x, aucs)) in CELLS.iter().enumerate() {
        let model = if *base == "constant" { "constant" } else { "m" };
        for (s, auc) in aucs.iter().enumerate() {
            let seed = s as u64 + 1;
            let id = format!("v{i}-s{seed}-00000000{i}{s}");
            let config: serde_yaml::Value = serde_yaml::from_str(&format!(
                "variant: \"{}\"\nmodel: {model}\nseed: {seed}\n",
                label(base, key, x)
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
            let m: MetricTable =
                serde_json::from_str(&format!(r#"{{"test": {{"click": {{"auc": {auc}}}}}}}"#))
                    .unwrap();
            store.write_metrics(&id, &m).unwrap();
        }
    }
    store
        .write_manifest(&Manifest {
            experiment: "grid".into(),
            tasks: vec![TaskRecord {
                name: "click".into(),
                kind: TaskKind::Binary,
            }],
            variants: CELLS.iter().map(|c| label(c.0, key, c.1)).collect(),
            ..Manifest::default()
        })
        .unwrap();
}

fn auc() -> MetricKey {
    MetricKey {
        task: "click".into(),
        metric: "auc".into(),
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() < tol
}

/// The pairing, the per-point Holm family and the verdicts, for a grid key over the data
/// (`dependence`) and over a hyper-parameter (`lr`): the same rule.
fn check_pairs_within_points(key: &str) {
    let d = tempfile::tempdir().unwrap();
    write_store(d.path(), key);
    let a = analyse(&load_store(d.path()).unwrap(), &ReportOptions::default()).unwrap();
    // No plain `HTLNet` label: the reference is still HTLNet, matched by base label.
    assert_eq!(a.reference.as_deref(), Some("HTLNet"));
    assert!(a.grid);
    assert!(a.is_reference(&label("HTLNet", key, "1")));
    let c = |base: &str, x: &str| a.comparison(&label(base, key, x), &auc()).unwrap();

    // B at 1 is paired with HTLNet at 1 (differences −0.01, −0.03, −0.01: mean −1/60,
    // sd 0.01·√(4/3), t = −2.5, p = 1 − 2.5/√8.25 = 0.129612), not with HTLNet at 0
    // (differences 0.09, 0.08, 0.09: t = 26, p = 0.001476, "significantly better").
    let b1 = c("B", "1");
    assert_eq!(b1.reference, label("HTLNet", key, "1"));
    let t = b1.test.unwrap();
    assert!(close(t.statistic, -2.5, 1e-9), "{}", t.statistic);
    assert!(close(t.p_value, 1.0 - 2.5 / 8.25f64.sqrt(), 1e-9));
    assert!(close(b1.delta.unwrap(), -1.0 / 60.0, 1e-12));
    // B at 0: differences 0.02, 0.01, 0.03: t = 0.02 / (0.01/√3) = 2√3,
    // p = 1 − 2√3/√14 = 0.074180.
    let b0 = c("B", "0");
    assert_eq!(b0.reference, label("HTLNet", key, "0"));
    let t0 = b0.test.unwrap();
    assert!(close(t0.statistic, 2.0 * 3f64.sqrt(), 1e-9));
    let p_b0 = 1.0 - 2.0 * 3f64.sqrt() / 14f64.sqrt();
    assert!(close(t0.p_value, p_b0, 1e-9));
    // C at 0: the same difference at every seed (up to rounding): p ≈ 0.
    assert!(c("C", "0").test.unwrap().p_value < 1e-9);
    // C at 1: differences 0.001, −0.001, 0: t = 0, p = 1.
    let c1 = c("C", "1");
    assert!(c1.test.unwrap().statistic.abs() < 1e-9);
    assert!(close(c1.test.unwrap().p_value, 1.0, 1e-9));

    // Holm within each grid point (families {B, C} at 0 and at 1), not over all four:
    // at 0, C ranks first (2·0 = 0), B second: max(0, 1·0.074180) = 0.074180 (over all
    // four it would be 3·0.074180 = 0.222539); at 1, B ranks first: 2·0.129612 = 0.259224,
    // C: max(0.259224, 1·1) = 1.
    assert_eq!(a.families(), 2);
    assert!(close(b0.p_adjusted.unwrap(), p_b0, 1e-9));
    assert!(close(
        b1.p_adjusted.unwrap(),
        2.0 * (1.0 - 2.5 / 8.25f64.sqrt()),
        1e-9
    ));
    assert!(close(c1.p_adjusted.unwrap(), 1.0, 1e-9));
    assert_eq!(c("C", "0").verdict, Some(Verdict::Better));
    assert_eq!(b1.verdict, Some(Verdict::NotSignificant));
    // The constant rows are compared with nothing that marks them, and never noted.
    assert!(a.pairing_notes.is_empty(), "{:?}", a.pairing_notes);

    // The sweep verdicts: one row per compared line, one point per key value.
    let sw = a.sweeps.iter().find(|s| s.key == key).unwrap();
    let rows: Vec<&str> = sw.verdicts.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(rows, vec!["B", "C"]);
    let words = |line: &str| -> Vec<SweepVerdict> {
        sw.verdicts
            .iter()
            .find(|r| r.label == line)
            .unwrap()
            .points
            .iter()
            .map(|p| p.verdict)
            .collect()
    };
    // The tie margin: 0.5% of HTLNet's mean at the point (0.61 → ±0.00305 at 0,
    // 0.71333 → ±0.0035667 at 1). C: win at 0; at 1 the 95% interval
    // 0 ± t(2)·0.001/√3 = ±0.002484 lies within ±0.0035667: a tie. B: not significant at
    // both points, its intervals 0.02 ± 0.02484 and −0.01667 ± 0.02869 reach beyond the
    // margin: under-powered.
    assert_eq!(words("C"), vec![SweepVerdict::Win, SweepVerdict::Tie]);
    assert_eq!(
        words("B"),
        vec![SweepVerdict::UnderPowered, SweepVerdict::UnderPowered]
    );
    let p = &sw.verdicts[1].points[1];
    assert_eq!(
        (p.x, p.reference.as_str()),
        (1.0, label("HTLNet", key, "1").as_str())
    );
    assert!(close(p.margin.unwrap(), 0.005 * 2.14 / 3.0, 1e-12));
    let (lo, hi) = p.delta_ci95.unwrap();
    let half = 4.302_652_729_911_275 * 0.001 / 3f64.sqrt();
    assert!(close(lo, -half, 1e-9) && close(hi, half, 1e-9), "{lo} {hi}");
    // A margin of 0.3% (±0.00214 at 1) no longer holds C's interval: under-powered.
    let tight = analyse(
        &load_store(d.path()).unwrap(),
        &ReportOptions {
            tie_margin: 0.003,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let sw = tight.sweeps.iter().find(|s| s.key == key).unwrap();
    assert_eq!(sw.verdicts[1].points[1].verdict, SweepVerdict::UnderPowered);
}

#[test]
fn grid_variants_pair_with_the_reference_at_their_own_data_point() {
    check_pairs_within_points("dependence");
}

#[test]
fn hyper_parameter_grids_pair_the_same_way() {
    check_pairs_within_points("lr");
}

#[test]
fn reference_names_the_base_label() {
    let d = tempfile::tempdir().unwrap();
    write_store(d.path(), "dependence");
    let store = load_store(d.path()).unwrap();
    let opts = |r: &str| ReportOptions {
        reference: Some(r.into()),
        ..ReportOptions::default()
    };
    // `--reference B`: every other variant against B at its own point.
    let a = analyse(&store, &opts("B")).unwrap();
    assert_eq!(
        a.comparison("HTLNet [dependence=1]", &auc())
            .unwrap()
            .reference,
        "B [dependence=1]"
    );
    let e = analyse(&store, &opts("B [dependence=1]")).unwrap_err();
    assert!(matches!(e, ReportError::GridPointReference { .. }));
    assert_eq!(
        e.to_string(),
        "reference variant `B [dependence=1]` is one grid point of `B`; in a grid each variant is compared with the reference at its own grid point, so name the base label: --reference \"B\""
    );
    let e = analyse(
        &store,
        &ReportOptions {
            tie_margin: -0.01,
            ..ReportOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--tie-margin must be a finite number ≥ 0 (a fraction of the reference's mean), got -0.01; the default is 0.005 (±0.5%)"
    );
    let e = analyse(&store, &opts("D")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "reference variant `D` is not among the stored variants; choose one of: constant, HTLNet, B, C"
    );
}

#[test]
fn report_md_shows_the_sweep_verdict_table() {
    let d = tempfile::tempdir().unwrap();
    write_store(d.path(), "dependence");
    report(
        d.path(),
        &ReportOptions {
            figures: false,
            ..ReportOptions::default()
        },
    )
    .unwrap();
    let md = std::fs::read_to_string(d.path().join("report/report.md")).unwrap();
    assert!(
        md.contains("### Against HTLNet along `dependence`, per grid point"),
        "{md}"
    );
    assert!(
        md.contains("| Task | Metric | Variant | dependence=0 Δ | dependence=0 p (holm) | dependence=0 verdict | dependence=1 Δ | dependence=1 p (holm) | dependence=1 verdict |"),
        "{md}"
    );
    assert!(
        md.contains("| click | AUC ↑ | B | +0.0200 | 0.074 | under-powered | -0.0167 | 0.259 | under-powered |"),
        "{md}"
    );
    assert!(
        md.contains("|  |  | C | +0.0500 | <0.001 | win | 0.0000 | 1.000 | tie |"),
        "{md}"
    );
    assert!(
        md.contains("tie: not significant, and the 95% t-interval of the paired differences lies within ±0.5% of HTLNet's mean at that point"),
        "{md}"
    );
    assert!(
        md.contains(
            "Holm-adjusted p within each grid point's comparisons (2 families of 2, 4 in all)"
        ),
        "{md}"
    );
    assert!(
        md.contains("applied within each of the 2 grid points"),
        "{md}"
    );
    assert!(md.contains("| HTLNet [dependence=0] (reference) |"), "{md}");
    let tables = d.path().join("report/tables");
    for ext in ["md", "tex", "csv"] {
        assert!(tables.join(format!("sweep_dependence.{ext}")).is_file());
    }
    // stats.csv names the reference each row was paired with.
    let stats = std::fs::read_to_string(d.path().join("report/stats.csv")).unwrap();
    assert!(
        stats.contains("B [dependence=1],click,auc,3,")
            && stats
                .lines()
                .any(|l| l.starts_with("B [dependence=1],")
                    && l.contains(",HTLNet [dependence=1],3,")),
        "{stats}"
    );
}

//! The report's statistics and tables on a mock result folder (no training): snapshots of
//! every table export, statistics against SciPy reference values, options and errors.

#[path = "fixtures/report/mock_store.rs"]
mod mock_store;

use std::fs;

use htlbench::report::analysis::{analyse, MetricKey};
use htlbench::report::load::load_store;
use htlbench::report::power::Correction;
use htlbench::report::stats::Verdict;
use htlbench::report::{report, ReportError, ReportOptions, TestKind};

fn no_figures() -> ReportOptions {
    ReportOptions {
        figures: false,
        ..ReportOptions::default()
    }
}

fn key(task: &str, metric: &str) -> MetricKey {
    MetricKey {
        task: task.into(),
        metric: metric.into(),
    }
}

#[test]
fn table_exports_match_snapshots() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let s = report(d.path(), &no_figures()).unwrap();
    let tables = d.path().join("report/tables");
    for name in [
        "overall.md",
        "overall.tex",
        "overall.csv",
        "ablation.md",
        "ablation.tex",
        "ablation.csv",
    ] {
        let text = fs::read_to_string(tables.join(name)).unwrap();
        mock_store::assert_snapshot(name, &text);
        assert!(s.tables.contains(&tables.join(name)), "{name} not listed");
    }
    let stats = fs::read_to_string(d.path().join("report/stats.csv")).unwrap();
    mock_store::assert_snapshot("stats.csv", &stats);
}

#[test]
fn overall_table_marks_best_and_significance() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    // Holm (the default) over the 18 comparisons of the tables removes the ‡ of
    // Shared-Bottom's click AUC (raw p = 0.032, adjusted 0.160).
    report(d.path(), &no_figures()).unwrap();
    let md = fs::read_to_string(d.path().join("report/tables/overall.md")).unwrap();
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows[3].contains("| 0.7307 ± 0.0013 |"), "{}", rows[3]);
    assert!(
        md.contains("Holm-adjusted p over the 18 comparisons of the tables ≤ 0.05"),
        "{md}"
    );
    // report.md counts the verdicts before and after, and lists the under-powered ones.
    let rmd = fs::read_to_string(d.path().join("report/report.md")).unwrap();
    assert!(
        rmd.contains("Of the 18 comparisons in the tables, 14 have p ≤ 0.05 uncorrected and 11 after the Holm correction the verdicts use."),
        "{rmd}"
    );
    assert!(
        rmd.contains("| Shared-Bottom | click | AUC | -0.0104 | 0.0108 | 4 |"),
        "{rmd}"
    );
    // Uncorrected, as before the correction existed.
    report(
        d.path(),
        &ReportOptions {
            correction: Correction::None,
            ..no_figures()
        },
    )
    .unwrap();
    let md = fs::read_to_string(d.path().join("report/tables/overall.md")).unwrap();
    // Rows in the experiment's order (cells.csv), the constant reference first.
    let rows: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows[1].starts_with("| constant | 3 |"), "{}", rows[1]);
    assert!(
        rows[2].starts_with("| HTLNet (reference) | 3 |"),
        "{}",
        rows[2]
    );
    // HTLNet has the best click AUC (bold); Shared-Bottom is significantly worse (‡,
    // p = 0.032), IFU concat is not significant (p = 0.123: no mark).
    assert!(rows[2].contains("| **0.7411** ± 0.0021 |"), "{}", rows[2]);
    assert!(rows[3].contains("| 0.7307 ± 0.0013‡ |"), "{}", rows[3]);
    assert!(rows[4].contains("| 0.7386 ± 0.0018 |"), "{}", rows[4]);
    // The failed seed is not counted.
    assert!(
        rows[5].starts_with("| w/o optimisation | 2 |"),
        "{}",
        rows[5]
    );
    assert!(md.contains("† / ‡: significantly better / worse than HTLNet"));
    let tex = fs::read_to_string(d.path().join("report/tables/overall.tex")).unwrap();
    assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
    assert!(tex.contains("\\multicolumn{2}{c}{click} & \\multicolumn{4}{c}{watch\\_time}"));
}

#[test]
fn statistics_match_scipy() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let store = load_store(d.path()).unwrap();
    let a = analyse(&store, &ReportOptions::default()).unwrap();
    assert_eq!(a.reference.as_deref(), Some("HTLNet"));
    let auc = key("click", "auc");

    // x = [0.7412, 0.7390, 0.7431]: np.mean(x), np.std(x, ddof=1) and
    // scipy.stats.t.interval(0.95, 2, loc=np.mean(x), scale=np.std(x, ddof=1) / np.sqrt(3))
    let s = a.summary("HTLNet", &auc).unwrap();
    assert_eq!(s.n, 3);
    assert!((s.mean.unwrap() - 0.7411).abs() < 1e-12);
    assert!((s.std.unwrap() - 0.0020518284528683152).abs() < 1e-12);
    let (lo, hi) = s.ci95.unwrap();
    assert!((lo - 0.7360029755621874).abs() < 1e-10, "{lo}");
    assert!((hi - 0.7461970244378126).abs() < 1e-10, "{hi}");

    // scipy.stats.ttest_rel([0.7301, 0.7322, 0.7298], [0.7412, 0.7390, 0.7431])
    //   -> TtestResult(statistic=-5.448586947597196, pvalue=0.0320729201539557, df=2)
    let c = a.comparison("Shared-Bottom", &auc).unwrap();
    assert_eq!(c.seeds, vec![1, 2, 3]);
    let t = c.test.unwrap();
    assert!(
        (t.statistic - -5.448586947597196).abs() < 1e-9,
        "{}",
        t.statistic
    );
    assert!(
        (t.p_value - 0.0320729201539557).abs() < 1e-10,
        "{}",
        t.p_value
    );
    assert_eq!(c.raw_verdict, Some(Verdict::Worse));
    // Holm over the 18 comparisons of the tables (3 model variants × 6 shown metrics): this
    // p is the 5th largest, so it is multiplied by 5 (no larger adjusted p before it).
    assert!((c.p_adjusted.unwrap() - 5.0 * 0.0320729201539557).abs() < 1e-10);
    assert_eq!(c.verdict, Some(Verdict::NotSignificant));
    assert!((c.delta.unwrap() - (-0.0104)).abs() < 1e-12);
    // Differences [-0.0111, -0.0068, -0.0133]: np.std(d, ddof=1) = 0.003306055050963283;
    // statsmodels TTestPower().solve_power(nobs=3, alpha=0.05, power=0.8) = 3.264043552819638.
    let sd = c.sd_diff.unwrap();
    assert!((sd - 0.003306055050963283).abs() < 1e-12, "{sd}");
    let mdd = c.min_detectable.unwrap();
    assert!((mdd - 3.264043552819638 * sd).abs() < 1e-8, "{mdd}");
    // |Δ| = 0.0104 < MDD = 0.0108: not significant because the run is too small.
    assert!(c.under_powered);
    // dz = 0.0104 / 0.003306 = 3.146: power at 3 pairs < 0.8 (3.146 < 3.264), at 4 above.
    assert_eq!(c.seeds_needed, Some(4));
    let p4 = htlbench::report::power::paired_t_power(4, 0.0104 / sd, 0.05).unwrap();
    let p3 = htlbench::report::power::paired_t_power(3, 0.0104 / sd, 0.05).unwrap();
    assert!(p3 < 0.8 && p4 >= 0.8, "{p3} {p4}");

    // scipy.stats.ttest_rel([0.7370, 0.7382, 0.7405], [0.7412, 0.7390, 0.7431])
    //   -> TtestResult(statistic=-2.57960808654811, pvalue=0.1231288074113119, df=2)
    let c = a.comparison("IFU concat", &auc).unwrap();
    assert!((c.test.unwrap().p_value - 0.1231288074113119).abs() < 1e-10);
    assert_eq!(c.verdict, Some(Verdict::NotSignificant));
    assert_eq!(c.raw_verdict, Some(Verdict::NotSignificant));
    // The constant predictor is outside the family: no adjusted p, raw verdict.
    let c = a.comparison("constant", &auc).unwrap();
    assert_eq!(c.p_adjusted, None);
    assert_eq!(c.verdict, c.raw_verdict);

    // The failed seed 3 of "w/o optimisation" leaves two pairs.
    let c = a.comparison("w/o optimisation", &auc).unwrap();
    assert_eq!(c.seeds, vec![1, 2]);
    assert_eq!(a.variant("w/o optimisation").unwrap().failed, vec![3]);

    // The constant row's Spearman is undefined on every seed: n = 0, no mean, no test.
    let sp = a
        .summary("constant", &key("watch_time", "spearman"))
        .unwrap();
    assert_eq!((sp.n, sp.mean), (0, None));
    assert!(a
        .comparison("constant", &key("watch_time", "spearman"))
        .unwrap()
        .test
        .is_none());
}

#[test]
fn wilcoxon_and_an_explicit_reference() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let store = load_store(d.path()).unwrap();
    let opts = ReportOptions {
        reference: Some("Shared-Bottom".into()),
        test: TestKind::Wilcoxon,
        ..ReportOptions::default()
    };
    let a = analyse(&store, &opts).unwrap();
    assert_eq!(a.reference.as_deref(), Some("Shared-Bottom"));
    // scipy.stats.wilcoxon([0.7412, 0.7390, 0.7431], [0.7301, 0.7322, 0.7298])
    //   -> WilcoxonResult(statistic=0.0, pvalue=0.25)
    let c = a.comparison("HTLNet", &key("click", "auc")).unwrap();
    let t = c.test.unwrap();
    assert_eq!((t.statistic, t.p_value), (0.0, 0.25));
    assert_eq!(c.verdict, Some(Verdict::NotSignificant));
    // report.md says that three pairs can never be significant with this test.
    let s = report(
        d.path(),
        &ReportOptions {
            figures: false,
            ..opts
        },
    )
    .unwrap();
    let md = fs::read_to_string(s.report_md).unwrap();
    assert!(
        md.contains(
            "With at most 3 paired seeds the two-sided Wilcoxon test cannot reach p below 0.25"
        ),
        "{md}"
    );
    assert_eq!("wilcoxon".parse::<TestKind>().unwrap(), TestKind::Wilcoxon);
    assert_eq!("paired_t".parse::<TestKind>().unwrap(), TestKind::PairedT);
}

#[test]
fn errors_name_what_to_change() {
    let d = tempfile::tempdir().unwrap();
    let e = report(d.path(), &no_figures()).unwrap_err();
    assert!(matches!(e, ReportError::NoResults { .. }));
    assert!(
        e.to_string().contains("expected") && e.to_string().contains("/cells/"),
        "{e}"
    );

    mock_store::write_mock_store(d.path());
    let opts = ReportOptions {
        reference: Some("HTLNet v2".into()),
        ..no_figures()
    };
    let e = report(d.path(), &opts).unwrap_err().to_string();
    assert_eq!(
        e,
        "reference variant `HTLNet v2` is not among the stored variants; choose one of: constant, HTLNet, Shared-Bottom, IFU concat, w/o optimisation"
    );
    let opts = ReportOptions {
        alpha: 1.5,
        ..no_figures()
    };
    assert!(report(d.path(), &opts)
        .unwrap_err()
        .to_string()
        .contains("alpha must be in (0, 1), got 1.5"));
    assert_eq!(
        "anova".parse::<TestKind>().unwrap_err().to_string(),
        "unknown test `anova`; use paired_t or wilcoxon"
    );
    // A malformed metrics.json makes its cell unfinished, with a note naming the file.
    let cell = fs::read_dir(d.path().join("cells"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("metrics.json").is_file())
        .unwrap();
    fs::write(cell.join("metrics.json"), "{ not json").unwrap();
    let s = report(d.path(), &no_figures()).unwrap();
    let id = cell.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(s.unfinished_cells, vec![id.clone()]);
    assert!(
        s.warnings.contains(&format!(
            "{} does not parse (key must be a string at line 1 column 3; expected split -> task -> metric -> number or null): cell {id} counted as unfinished (`htl run` sets the file aside and retrains the cell)",
            cell.join("metrics.json").display()
        )),
        "{:?}",
        s.warnings
    );
    // A cell without a task of the chain is unfinished too.
    fs::write(
        cell.join("metrics.json"),
        r#"{"test": {"click": {"auc": 0.5}}}"#,
    )
    .unwrap();
    let s = report(d.path(), &no_figures()).unwrap();
    assert_eq!(s.unfinished_cells, vec![id.clone()]);
    assert!(
        s.warnings.iter().any(|w| w.ends_with(&format!(
            "metrics.json lacks task(s) `watch_time` in its `test` split: cell {id} counted as unfinished (`htl run` sets the file aside and retrains the cell)"
        ))),
        "{:?}",
        s.warnings
    );
}

#[test]
fn default_reference_without_htlnet_is_the_first_model() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    // Drop HTLNet's cells: the reference becomes the first non-constant variant.
    for e in fs::read_dir(d.path().join("cells")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("htlnet-")
        {
            fs::remove_dir_all(p).unwrap();
        }
    }
    let s = report(d.path(), &no_figures()).unwrap();
    assert_eq!(s.reference.as_deref(), Some("Shared-Bottom"));
}

#[test]
fn task_kinds_come_from_the_stored_chain_and_old_manifests_still_load() {
    use htlbench::report::analysis::TaskKind;
    use htlbench::store::{ResultStore, TaskKind as Stored};
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let store = ResultStore::new(d.path());
    let mut m = store.read_manifest().unwrap().unwrap();
    // The chain decides the kind, whatever the metric names say.
    m.tasks[0].kind = Stored::Regression;
    m.tasks[1].kind = Stored::Binary;
    store.write_manifest(&m).unwrap();
    let a = analyse(&load_store(d.path()).unwrap(), &no_figures()).unwrap();
    assert_eq!(a.task_kind("click"), TaskKind::Core);
    assert_eq!(a.task_kind("watch_time"), TaskKind::Binary);
    // A manifest written before the chain was stored: kinds guessed, with a note; the tables
    // are those of the stored chain.
    m.tasks.clear();
    store.write_manifest(&m).unwrap();
    let s = report(d.path(), &no_figures()).unwrap();
    assert!(
        s.warnings.contains(&format!(
            "{} has no task chain (written by an older htl): task kinds guessed from the metric names",
            d.path().join("manifest.json").display()
        )),
        "{:?}",
        s.warnings
    );
    let text = fs::read_to_string(d.path().join("report/tables/overall.md")).unwrap();
    mock_store::assert_snapshot("overall.md", &text);
}

#[test]
fn external_rows_join_the_overall_table_untested() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let ext = d.path().join("peer.csv");
    fs::write(
        &ext,
        "source,protocol,variant,task,metric,mean,std,n\n\
         Peer lib 1.0,\"random split, 5 seeds\",MMoE,click,auc,0.9,0.01,5\n\
         Peer lib 1.0,\"random split, 5 seeds\",MMoE,click,logloss,0.5,,5\n\
         Peer lib 1.0,\"random split, 5 seeds\",MMoE,other_task,auc,0.6,,5\n\
         Peer lib 1.0,\"random split, 5 seeds\",MMoE,watch_time,rmse,14.0,,5\n",
    )
    .unwrap();
    let opts = ReportOptions {
        external: vec![ext.clone()],
        ..no_figures()
    };
    report(d.path(), &opts).unwrap();
    let md = fs::read_to_string(d.path().join("report/tables/overall.md")).unwrap();
    let row = md
        .lines()
        .find(|l| l.starts_with("| MMoE (ext. 1) |"))
        .unwrap_or_else(|| panic!("{md}"));
    // Not bold although 0.9 beats every model's AUC; no mark; a column it lacks shows `–`.
    assert!(
        row.starts_with("| MMoE (ext. 1) | 5 | 0.9000 ± 0.0100 | 0.5000 | – |"),
        "{row}"
    );
    assert!(md.contains("| **0.7411** ± 0.0021 |"), "{md}");
    assert!(md.contains("ext. 1: external result, not trained here and not tested (no bold, no †/‡): Peer lib 1.0. Protocol: random split, 5 seeds"), "{md}");
    // A metric the tables do not show but this run measured gets its own column beside
    // ours of the same definition (never in the NRMSE column), with its definition.
    let header = md.lines().find(|l| l.starts_with("| Variant")).unwrap();
    assert!(header.ends_with("watch_time RMSE ↓ |"), "{header}");
    assert!(row.ends_with("| 14.0000 |"), "{row}");
    assert!(md.contains("| **15.3000** ± 0.0000 |"), "{md}");
    // Not in the statistics, and the unmatched row is named in report.md.
    let stats = fs::read_to_string(d.path().join("report/stats.csv")).unwrap();
    assert!(!stats.contains("MMoE"));
    let rmd = fs::read_to_string(d.path().join("report/report.md")).unwrap();
    assert!(!rmd.contains("watch_time rmse is not shown"), "{rmd}");
    assert!(rmd.contains("External row MMoE (Peer lib 1.0) other_task auc is not shown: the tables have no column for task `other_task` metric `auc`."), "{rmd}");
    // A later report without --external keeps the rows (report/external.csv).
    fs::remove_file(&ext).unwrap();
    report(d.path(), &no_figures()).unwrap();
    let md = fs::read_to_string(d.path().join("report/tables/overall.md")).unwrap();
    assert!(
        md.contains("| MMoE (ext. 1) | 5 | 0.9000 ± 0.0100 |"),
        "{md}"
    );
    // A bad file: one line with file, line and column.
    fs::write(
        &ext,
        "source,protocol,variant,task,metric,mean\nP,p,M,click,auc,n/a\n",
    )
    .unwrap();
    let e = report(
        d.path(),
        &ReportOptions {
            external: vec![ext.clone()],
            ..no_figures()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "external results {}: line 2, column `mean`: `n/a` is not a finite number",
            ext.display()
        )
    );
}

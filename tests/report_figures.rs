//! The report's figures and `report.md` on a mock result folder (no training): PNGs of the
//! expected pixel size that are not blank, SVGs, skipped figures noted, failed cells shown.

#[path = "fixtures/report/mock_store.rs"]
mod mock_store;

use std::fs;
use std::path::Path;

use htlbench::report::analysis::analyse;
use htlbench::report::load::load_store;
use htlbench::report::plot::{render_rgb, Figure};
use htlbench::report::{figures, report, ReportOptions};

const NAMES: [&str; 5] = [
    "metrics_bars",
    "ablation_deltas",
    "valid_curves",
    "grad_norms",
    "ifu_attention_vs_concat",
];

/// Width and height from a PNG's IHDR chunk (bytes 16..24, big-endian), after checking
/// the signature and the chunk type.
fn png_size(path: &Path) -> (u32, u32) {
    let b = fs::read(path).unwrap();
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    (be(16), be(20))
}

fn built(dir: &Path) -> Vec<(&'static str, Result<Figure, String>)> {
    let store = load_store(dir).unwrap();
    let a = analyse(&store, &ReportOptions::default()).unwrap();
    figures::all(&a)
}

#[test]
fn every_figure_is_drawn_as_png_and_svg_of_the_expected_size() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let s = report(d.path(), &ReportOptions::default()).unwrap();
    assert!(s.skipped_figures.is_empty(), "{:?}", s.skipped_figures);
    assert_eq!(s.figures.len(), 2 * NAMES.len());
    let figs = built(d.path());
    for (name, fig) in &figs {
        let fig = fig.as_ref().unwrap();
        let png = d.path().join(format!("report/figures/{name}.png"));
        assert_eq!(png_size(&png), fig.size(), "{name}");
        // A plot compresses far worse than a blank canvas of the same size (a few KB).
        let bytes = fs::metadata(&png).unwrap().len();
        assert!(bytes > 15_000, "{name}.png is only {bytes} bytes");
        let svg = fs::read_to_string(d.path().join(format!("report/figures/{name}.svg"))).unwrap();
        assert!(svg.contains("<svg"), "{name}.svg");
        assert!(
            svg.contains(&fig.title.replace('&', "&amp;")),
            "{name}.svg has no title"
        );
    }
    // Fixed layouts: 6 metric panels in 3 columns, 4 model variants per panel:
    // 3 × 460 wide; 40 title + 2 × (90 + 4 × 24) high.
    assert_eq!(
        png_size(&d.path().join("report/figures/metrics_bars.png")),
        (1380, 40 + 2 * (90 + 4 * 24))
    );
    // Two grad panels (HTLNet, IFU concat) in 2 columns of 480; a legend of 4 entries
    // (2 tasks, before / after adjustment) in cells of 56 + 8 × 17 = 192 px, 5 per row:
    // one row of 22 + 8; one row of panels of 330.
    assert_eq!(
        png_size(&d.path().join("report/figures/grad_norms.png")),
        (960, 40 + 30 + 330)
    );
}

#[test]
fn figures_are_not_blank() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    for (name, fig) in built(d.path()) {
        let fig = fig.unwrap();
        let (w, h) = fig.size();
        let rgb = render_rgb(&fig).unwrap();
        assert_eq!(rgb.len(), (w * h * 3) as usize);
        let non_white = rgb.chunks(3).filter(|p| *p != [255, 255, 255]).count();
        let coloured = rgb
            .chunks(3)
            .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 40)
            .count();
        // Text, axes and bars or lines: well over 1% of the pixels, some of them coloured.
        assert!(
            non_white * 100 > (w * h) as usize,
            "{name}: {non_white} non-white pixels of {}",
            w * h
        );
        assert!(coloured > 500, "{name}: {coloured} coloured pixels");
    }
}

#[test]
fn report_md_links_everything_and_shows_the_failed_cell() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    let s = report(d.path(), &ReportOptions::default()).unwrap();
    let md = fs::read_to_string(&s.report_md).unwrap();
    // Provenance from the manifest.
    for needle in [
        "# Report: mock",
        "| git revision | 0123456789abcdef0123456789abcdef01234567 |",
        "| backend / device | flex / cpu |",
        "| machine | testhost, linux x86_64, 2 cores |",
        "| started | 2026-01-02T03:00:00Z |",
        "| ended | 2026-01-02T03:10:00Z |",
        "| cells | 15 in the experiment; 14 finished, 1 failed, 0 unfinished |",
    ] {
        assert!(md.contains(needle), "missing {needle:?} in\n{md}");
    }
    // Every link points at a file that exists.
    let mut links = 0;
    for part in md.split("](").skip(1) {
        let target = &part[..part.find(')').unwrap()];
        assert!(
            s.dir.join(target).is_file(),
            "report.md links to missing {target}"
        );
        links += 1;
    }
    assert!(links >= 6 + 1 + 2 * NAMES.len(), "{links} links");
    for name in NAMES {
        assert!(md.contains(&format!("(figures/{name}.png)")), "{name}");
        assert!(md.contains(&format!("(figures/{name}.svg)")), "{name}");
    }
    // The failed cell, as failed, with its reason.
    let row = md
        .lines()
        .find(|l| l.contains("| w/o optimisation | 3 |"))
        .expect("failed cell row");
    assert!(row.contains("| failed |"), "{row}");
    assert!(row.contains(mock_store::FAIL_REASON), "{row}");
    assert_eq!(s.failed_cells.len(), 1);
    assert_eq!(s.failed_cells[0].1, mock_store::FAIL_REASON);
}

#[test]
fn absent_data_skips_a_figure_with_a_note() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    report(d.path(), &ReportOptions::default()).unwrap();
    // No gradient statistics and no concat variant any more.
    for e in fs::read_dir(d.path().join("cells")).unwrap() {
        let p = e.unwrap().path();
        let _ = fs::remove_file(p.join("grad_stats.csv"));
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ifu-concat")
        {
            fs::remove_dir_all(&p).unwrap();
        }
    }
    let s = report(d.path(), &ReportOptions::default()).unwrap();
    let skipped: Vec<&str> = s.skipped_figures.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(skipped, vec!["grad_norms", "ifu_attention_vs_concat"]);
    assert_eq!(
        s.describe(),
        format!(
            "report: {} (7 tables, 6 figures; 1 failed cell; skipped: grad_norms, ifu_attention_vs_concat)",
            s.report_md.display()
        )
    );
    // The stale drawings from the first report are gone.
    assert!(!d.path().join("report/figures/grad_norms.png").exists());
    assert!(!d
        .path()
        .join("report/figures/ifu_attention_vs_concat.svg")
        .exists());
    let md = fs::read_to_string(&s.report_md).unwrap();
    assert!(
        md.contains("Skipped: no finished cell has a grad_stats.csv"),
        "{md}"
    );
    assert!(
        md.contains("Skipped: no variant with `options.ifu: concat`"),
        "{md}"
    );
    assert!(d.path().join("report/figures/metrics_bars.png").is_file());
}

#[test]
fn unfinished_and_duplicate_cells_are_reported() {
    let d = tempfile::tempdir().unwrap();
    mock_store::write_mock_store(d.path());
    // An interrupted cell (config only) of a new variant, and a stale second HTLNet seed-1
    // cell from an older configuration.
    let c = d.path().join("cells/late-s1-0000000001");
    fs::create_dir_all(&c).unwrap();
    fs::write(
        c.join("config.yaml"),
        "variant: Late\nmodel: mmoe\nseed: 1\n",
    )
    .unwrap();
    let old = d.path().join("cells/htlnet-s1-0000000000");
    fs::create_dir_all(&old).unwrap();
    fs::write(
        old.join("config.yaml"),
        "variant: HTLNet\nmodel: htlnet\nseed: 1\n",
    )
    .unwrap();
    fs::write(
        old.join("cell.json"),
        r#"{"finished": "2025-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    fs::write(
        old.join("metrics.json"),
        r#"{"test": {"click": {"auc": 0.1}}}"#,
    )
    .unwrap();
    let s = report(d.path(), &ReportOptions::default()).unwrap();
    assert_eq!(s.unfinished_cells, vec!["late-s1-0000000001".to_string()]);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("ignored htlnet-s1-0000000000")),
        "{:?}",
        s.warnings
    );
    let md = fs::read_to_string(&s.report_md).unwrap();
    assert!(
        md.contains("| `late-s1-0000000001` | Late | 1 | unfinished |"),
        "{md}"
    );
    assert!(md.contains("## Notes"));
    // The stale cell's AUC of 0.1 is not in HTLNet's mean.
    assert!(
        md.contains("| HTLNet (reference) | 3 | **0.7411** ± 0.0021 |"),
        "{md}"
    );
}

/// Development aid: `HTL_REPORT_DIR=<results dir> cargo test --release --test report_figures
/// -- --ignored report_on_a_real_folder` writes the report of a real result folder (with
/// `HTL_REPORT_MOCK=1`, of the mock folder written there first).
#[test]
#[ignore]
fn report_on_a_real_folder() {
    let Ok(dir) = std::env::var("HTL_REPORT_DIR") else {
        eprintln!("HTL_REPORT_DIR is not set: nothing to do");
        return;
    };
    if std::env::var_os("HTL_REPORT_MOCK").is_some() {
        mock_store::write_mock_store(Path::new(&dir));
    }
    let s = report(Path::new(&dir), &ReportOptions::default()).unwrap();
    println!("{s:#?}");
}

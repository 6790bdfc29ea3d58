//! The report: reads only a result folder and writes paper-style tables and figures.
//!
//! The layers follow criterion's shape, each feeding the next and none reaching back:
//!
//! ```text
//! load (the result store) ─► analysis (statistics: stats.rs) ─► table (layout) ─► md / tex / csv
//!                                                            └► figures (data) ─► plot (png / svg)
//! ```
//!
//! * [`load`] reads `manifest.json`, `cells.csv` (variant order) and every
//!   `cells/<id>/{config.yaml, metrics.json | failed.json, curves.csv, grad_stats.csv}`.
//! * [`analysis`] computes every number: mean, std, 95% CI per variant over seeds on the
//!   test split, paired tests against the reference ([`stats`]; in a grid against the
//!   reference's variant at the same grid point, corrected within each grid point), mean
//!   curves. Statistics never format. [`sweep`] arranges those summaries and verdicts
//!   against each numeric grid key (one line per variant, one point per key value).
//! * [`table`] lays the overall and ablation tables out once; Markdown, LaTeX and CSV only
//!   supply syntax.
//! * [`figures`] picks numbers into [`plot::Figure`]s; [`plot`] draws them and never
//!   computes.
//!
//! [`report`] runs them all and writes `<dir>/report/`:
//!
//! ```text
//! report.md                       every table inline, every figure linked, provenance, failed cells
//! stats.csv                       every variant × task × metric at full precision, with the test
//! external.csv                    the external rows shown (kept for the next `htl report`)
//! tables/overall.{md,tex,csv}     paper Table 2 layout
//! tables/ablation.{md,tex,csv}    each variant against the reference (Tables 3-5)
//! tables/sweep_<key>.{md,tex,csv} per numeric grid key: each variant against the reference
//!                                 at the same grid point, verdict win / lose / tie /
//!                                 under-powered per key value
//! figures/<name>.{png,svg}        metrics_bars, ablation_deltas, valid_curves, grad_norms,
//!                                 ifu_attention_vs_concat, and sweep_<key> per numeric grid key
//! ```
//!
//! `summary` and `csv` format the per-run summary `htl run` writes (`summary.md`,
//! `cells.csv`, `summary.csv`); the result layout itself belongs to [`crate::store`].

pub mod analysis;
pub mod csv;
pub mod external;
pub mod figures;
pub mod load;
pub mod plot;
pub mod power;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod table;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::util::write_atomic;
use analysis::Analysis;
use load::Store;

/// The paired test of the comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestKind {
    /// Two-sided paired t-test ([`stats::paired_t_test`]).
    #[default]
    PairedT,
    /// Two-sided Wilcoxon signed-rank test ([`stats::wilcoxon_signed_rank`]).
    Wilcoxon,
}

impl FromStr for TestKind {
    type Err = ReportError;

    /// `paired_t` (also `paired-t`, `t`, `ttest`) or `wilcoxon`.
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.to_ascii_lowercase().as_str() {
            "paired_t" | "paired-t" | "t" | "ttest" | "t-test" => Ok(Self::PairedT),
            "wilcoxon" | "wilcoxon_signed_rank" => Ok(Self::Wilcoxon),
            _ => Err(ReportError::UnknownTest(s.to_string())),
        }
    }
}

impl std::fmt::Display for TestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PairedT => "paired_t",
            Self::Wilcoxon => "wilcoxon",
        })
    }
}

/// Options of `htl report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Reference variant of the comparisons (default: `HTLNet` if present, else the first
    /// non-constant variant).
    pub reference: Option<String>,
    /// Paired test.
    pub test: TestKind,
    /// Significance level (default 0.05; a comparison is significant when p ≤ alpha).
    pub alpha: f64,
    /// Draw the figures (default true; false writes tables and `report.md` only).
    pub figures: bool,
    /// Correction of the tables' verdicts for the number of comparisons (default Holm).
    pub correction: power::Correction,
    /// External result CSVs ([`external`]) whose rows join the overall table, untested. When
    /// empty, the rows kept by the previous report in `report/external.csv` are used again.
    pub external: Vec<PathBuf>,
    /// The equivalence margin of a sweep "tie", relative to the reference's mean on the
    /// paired seeds (default 0.005 = ±0.5%; [`sweep::SweepVerdict::Tie`]).
    pub tie_margin: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            reference: None,
            test: TestKind::PairedT,
            alpha: 0.05,
            figures: true,
            correction: power::Correction::Holm,
            external: Vec::new(),
            tie_margin: DEFAULT_TIE_MARGIN,
        }
    }
}

/// The default [`ReportOptions::tie_margin`]: ±0.5% of the reference's mean.
pub const DEFAULT_TIE_MARGIN: f64 = 0.005;

/// What [`report`] wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportSummary {
    /// The report folder, `<dir>/report`.
    pub dir: PathBuf,
    /// `<dir>/report/report.md`.
    pub report_md: PathBuf,
    /// The reference variant used (`None` without model variants).
    pub reference: Option<String>,
    /// Variants in table order.
    pub variants: Vec<String>,
    /// Finished cells read.
    pub finished_cells: usize,
    /// `(cell id, reason)` of failed cells.
    pub failed_cells: Vec<(String, String)>,
    /// Ids of cells with neither `metrics.json` nor `failed.json`.
    pub unfinished_cells: Vec<String>,
    /// Table files written (and `stats.csv`).
    pub tables: Vec<PathBuf>,
    /// Figure files written (PNG and SVG).
    pub figures: Vec<PathBuf>,
    /// `(figure name, reason)` of figures not drawn.
    pub skipped_figures: Vec<(String, String)>,
    /// What the reader skipped or chose, in words (also in `report.md`).
    pub warnings: Vec<String>,
}

impl ReportSummary {
    /// One line for the terminal, e.g.
    /// `report: results/x/report/report.md (7 tables, 8 figures; 1 failed cell; skipped: grad_norms)`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "report: {} ({} tables, {} figures",
            self.report_md.display(),
            self.tables.len(),
            self.figures.len()
        );
        if !self.failed_cells.is_empty() {
            let n = self.failed_cells.len();
            let _ = write!(s, "; {n} failed cell{}", if n == 1 { "" } else { "s" });
        }
        if !self.unfinished_cells.is_empty() {
            let _ = write!(s, "; {} unfinished", self.unfinished_cells.len());
        }
        if !self.skipped_figures.is_empty() {
            let names: Vec<&str> = self
                .skipped_figures
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            let _ = write!(s, "; skipped: {}", names.join(", "));
        }
        s.push(')');
        s
    }
}

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder has no `cells/`.
    #[error("no results in {}: expected {}/cells/ as written by `htl run`", .dir.display(), .dir.display())]
    NoResults {
        /// The folder given.
        dir: PathBuf,
    },
    /// `--reference` names no stored variant.
    #[error("reference variant `{name}` is not among the stored variants; choose one of: {}", .available.join(", "))]
    UnknownReference {
        /// The name asked for.
        name: String,
        /// The stored variant labels.
        available: Vec<String>,
    },
    /// `--reference` names one grid point of a grid variant instead of its base label.
    #[error("reference variant `{name}` is one grid point of `{base}`; in a grid each variant is compared with the reference at its own grid point, so name the base label: --reference \"{base}\"")]
    GridPointReference {
        /// The name asked for.
        name: String,
        /// Its label without the grid suffix.
        base: String,
    },
    /// Alpha outside (0, 1).
    #[error("alpha must be in (0, 1), got {0}; the usual level is 0.05")]
    InvalidAlpha(f64),
    /// A tie margin that is negative or not finite.
    #[error("--tie-margin must be a finite number ≥ 0 (a fraction of the reference's mean), got {0}; the default is 0.005 (±0.5%)")]
    InvalidTieMargin(f64),
    /// Unknown test name.
    #[error("unknown test `{0}`; use paired_t or wilcoxon")]
    UnknownTest(String),
    /// An external result CSV is unusable.
    #[error(transparent)]
    External(#[from] external::ExternalError),
    /// The result store could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A file could not be written.
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error (part of the message, not a separate cause, so it prints once).
        error: std::io::Error,
    },
}

fn write(path: &Path, text: &str, written: &mut Vec<PathBuf>) -> Result<(), ReportError> {
    write_atomic(path, text.as_bytes()).map_err(|error| ReportError::Write {
        path: path.to_path_buf(),
        error,
    })?;
    written.push(path.to_path_buf());
    Ok(())
}

/// Reads the result folder `dir` and writes the report under `dir/report/`.
///
/// Reads only the result store, so it can be re-run at any time to redraw everything
/// without training. A figure whose data is absent is skipped with a note in `report.md`.
///
/// # Errors
/// See [`ReportError`]: no `cells/` folder, an unknown reference, a bad alpha, a cell whose
/// `config.yaml` does not parse or a stored file that cannot be read, or a file that cannot
/// be written. (An unusable `metrics.json` is not an error: its cell is unfinished.)
pub fn report(dir: &Path, opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    let store = load::load_store(dir)?;
    let mut a = analysis::analyse(&store, opts)?;
    let out = dir.join("report");
    let kept = out.join("external.csv");
    let external_files: Vec<PathBuf> = if opts.external.is_empty() && kept.is_file() {
        vec![kept.clone()]
    } else {
        opts.external.clone()
    };
    for f in &external_files {
        a.external.extend(external::load_external(f)?);
    }
    let mut summary = ReportSummary {
        dir: out.clone(),
        report_md: out.join("report.md"),
        reference: a.reference.clone(),
        variants: a.variants.iter().map(|v| v.label.clone()).collect(),
        finished_cells: a.finished_cells,
        failed_cells: a
            .issues
            .iter()
            .filter_map(|i| i.reason.clone().map(|r| (i.id.clone(), r)))
            .collect(),
        unfinished_cells: a
            .issues
            .iter()
            .filter(|i| i.reason.is_none())
            .map(|i| i.id.clone())
            .collect(),
        warnings: store.warnings.clone(),
        ..ReportSummary::default()
    };

    let mut ext_notes = Vec::new();
    let columns = table::overall_keys(&a);
    for r in &a.external {
        let shown = columns
            .iter()
            .any(|k| k.task == r.task && k.metric == r.metric);
        if !shown {
            ext_notes.push(format!(
                "External row {} ({}) {} {} is not shown: the tables have no column for task `{}` metric `{}`.",
                r.variant, r.source, r.task, r.metric, r.task, r.metric
            ));
        }
    }
    summary.warnings.extend(ext_notes.iter().cloned());
    let overall = table::overall_table(&a);
    let has_ablation =
        a.reference.is_some() && a.comparisons.iter().any(|c| !is_constant(&a, &c.variant));
    let ablation = has_ablation.then(|| table::ablation_table(&a));
    let sweep_tables: Vec<table::Table> = if has_ablation {
        a.sweeps
            .iter()
            .filter(|sw| !sw.verdicts.is_empty())
            .map(|sw| table::sweep_verdict_table(&a, sw))
            .collect()
    } else {
        Vec::new()
    };
    if ablation.is_none() {
        // A stale ablation table from an earlier report would contradict report.md.
        for ext in ["md", "tex", "csv"] {
            let _ = std::fs::remove_file(out.join("tables").join(format!("ablation.{ext}")));
        }
    }
    for t in std::iter::once(&overall)
        .chain(ablation.as_ref())
        .chain(&sweep_tables)
    {
        let base = out.join("tables").join(&t.id);
        write(
            &base.with_extension("md"),
            &table::markdown(t),
            &mut summary.tables,
        )?;
        write(
            &base.with_extension("tex"),
            &table::latex(t),
            &mut summary.tables,
        )?;
        write(
            &base.with_extension("csv"),
            &table::csv(t),
            &mut summary.tables,
        )?;
    }
    write(
        &out.join("stats.csv"),
        &table::stats_csv(&a),
        &mut summary.tables,
    )?;
    if !a.external.is_empty() {
        write(
            &kept,
            &external::external_csv(&a.external),
            &mut summary.tables,
        )?;
    }

    let mut figure_notes: Vec<(String, String, Option<String>)> = Vec::new(); // (name, title, skipped reason)
    if opts.figures {
        let fig_dir = out.join("figures");
        let every = figures::all(&a)
            .into_iter()
            .map(|(n, b)| (n.to_string(), b))
            .chain(figures::sweeps(&a));
        for (name, built) in every {
            let png = fig_dir.join(format!("{name}.png"));
            let svg = fig_dir.join(format!("{name}.svg"));
            let drawn = built.and_then(|fig| {
                plot::write_png(&fig, &png).map_err(|e| e.to_string())?;
                let s = plot::render_svg(&fig).map_err(|e| e.to_string())?;
                write_atomic(&svg, s.as_bytes()).map_err(|e| format!("{}: {e}", svg.display()))?;
                Ok(fig.title)
            });
            match drawn {
                Ok(title) => {
                    summary.figures.push(png);
                    summary.figures.push(svg);
                    figure_notes.push((name.to_string(), title, None));
                }
                Err(reason) => {
                    // A stale drawing from an earlier report would contradict the note.
                    let _ = std::fs::remove_file(&png);
                    let _ = std::fs::remove_file(&svg);
                    summary
                        .skipped_figures
                        .push((name.to_string(), reason.clone()));
                    figure_notes.push((name.to_string(), String::new(), Some(reason)));
                }
            }
        }
    }
    let md = report_markdown(
        &store,
        &a,
        &overall,
        ablation.as_ref(),
        &sweep_tables,
        &figure_notes,
        opts,
        &ext_notes,
    );
    let mut ignore = Vec::new();
    write(&summary.report_md, &md, &mut ignore)?;
    Ok(summary)
}

fn is_constant(a: &Analysis, label: &str) -> bool {
    a.variant(label).is_some_and(|v| v.constant)
}

fn md_inline(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `Some(s)` unless `s` is empty (a field an older manifest did not have).
fn known(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A text field of the manifest, `None` without a manifest or when the field is empty.
fn manifest_field<F>(m: Option<&crate::store::Manifest>, f: F) -> Option<String>
where
    F: Fn(&crate::store::Manifest) -> &str,
{
    m.map(f).and_then(known)
}

/// What each figure shows, for `report.md`.
fn figure_caption(name: &str, a: &Analysis) -> String {
    let r = a.reference.as_deref().unwrap_or("the reference");
    match name {
        "metrics_bars" => "Each panel is one task × metric on the test split: one bar per model variant at its mean over seeds, with the 95% t-interval of the mean. The constant reference's value is in the panel title.".into(),
        "ablation_deltas" => format!("Each panel is one task × metric: the mean over paired seeds of (variant − {r}) with the 95% interval of the paired differences; green / red = significantly better / worse at p ≤ {} ({} correction over the comparisons of the tables), grey = not significant.", a.alpha, a.correction.name()),
        "valid_curves" => "Validation loss per epoch and task, mean over seeds per variant (BCE for binary tasks; for the core task MSE on the transformed training scale, or the ZILN loss on the raw scale for variants with `core_loss: ziln`). Seeds that stopped early drop out of later epochs' means.".into(),
        "grad_norms" => "Paper Figure 5: the norm of each task's gradient on the shared embedding over training steps, before (solid) and after (dashed) the gradient adjustment, mean over seeds, log scale. Only variants whose gradient strategy works per task log these.".into(),
        "ifu_attention_vs_concat" => {
            let pairs: Vec<String> = a
                .ifu_pairs
                .iter()
                .map(|p| {
                    format!(
                        "{} vs {}{}",
                        p.attention,
                        p.concat,
                        if p.exact { "" } else { " (configs differ beyond `options.ifu`)" }
                    )
                })
                .collect();
            format!("Paper Figure 4: test metrics of the attention and concatenation IFU (from each cell's `options.ifu`), mean over seeds with 95% CI: {}.", pairs.join("; "))
        }
        n if n.starts_with("sweep_") => {
            let key = a
                .sweeps
                .iter()
                .find(|s| figures::sweep_name(&s.key) == n)
                .map_or("the grid key", |s| s.key.as_str());
            format!("Each panel is one task × metric on the test split against `{key}`: one line per variant (the grid's other keys in its label), each point the mean over seeds with the 95% t-interval of the mean; the constant reference is grey and dashed. The paired tests above compare each variant with {r} at the same grid point; the table \"Against {r} along `{key}`\" gives their verdicts per value of `{key}`.")
        }
        _ => String::new(),
    }
}

fn figure_heading(name: &str) -> &'static str {
    match name {
        n if n.starts_with("sweep_") => "Metrics against a numeric grid key",
        "metrics_bars" => "Test metrics per variant",
        "ablation_deltas" => "Differences from the reference",
        "valid_curves" => "Validation curves",
        "grad_norms" => "Gradient norms, raw vs adjusted",
        "ifu_attention_vs_concat" => "IFU: attention vs concat",
        _ => "Figure",
    }
}

/// `report.md`'s account of the verdicts: how many comparisons are significant before and
/// after the correction, and which non-significant ones are under-powered.
fn power_paragraph(a: &Analysis) -> String {
    let family: Vec<&analysis::Comparison> = a
        .comparisons
        .iter()
        .filter(|c| c.p_adjusted.is_some())
        .collect();
    let m = family.len();
    if m == 0 {
        return String::new();
    }
    let raw = family
        .iter()
        .filter(|c| c.test.is_some_and(|t| t.p_value <= a.alpha))
        .count();
    let adjusted = family
        .iter()
        .filter(|c| {
            matches!(
                c.verdict,
                Some(stats::Verdict::Better | stats::Verdict::Worse)
            )
        })
        .count();
    let under: Vec<&&analysis::Comparison> = family.iter().filter(|c| c.under_powered).collect();
    let mut s = String::from("### Power and multiple comparisons\n\n");
    let _ = write!(
        s,
        "Of the {m} comparisons in the tables, {raw} have p ≤ {} uncorrected",
        a.alpha
    );
    match a.correction {
        power::Correction::None => {
            let _ = writeln!(
                s,
                "; the verdicts are not corrected for the number of comparisons (`--correction none`), so about {:.1} of them are expected to be significant by chance alone.\n",
                a.alpha * m as f64
            );
        }
        c => {
            let families = a.families();
            let _ = writeln!(
                s,
                " and {adjusted} after the {} correction the verdicts use{}.\n",
                if c == power::Correction::Holm {
                    "Holm"
                } else {
                    "Bonferroni"
                },
                if families > 1 {
                    format!(", applied within each of the {families} grid points (each point's comparisons are one family)")
                } else {
                    String::new()
                }
            );
        }
    }
    if under.is_empty() {
        s.push_str("No non-significant comparison is under-powered: each observed difference is at least the smallest difference the run detects with 80% power (MDD), so \"not significant\" there means the difference is small relative to the seed-to-seed spread.\n\n");
    } else {
        let _ = writeln!(
            s,
            "{} of the not-significant comparisons are **under-powered**: the observed difference is smaller than the smallest difference this run detects with {:.0}% power at α = {} (MDD, from the observed std of the paired differences and the number of seeds). For these, the run cannot tell; it is not evidence that the variants perform alike. Seeds each would need (column \"Seeds for Δ\" of the table; `>` {} = practically never):\n",
            under.len(),
            100.0 * analysis::POWER,
            a.alpha,
            analysis::MAX_SEEDS_NEEDED
        );
        s.push_str("| variant | task | metric | Δ | MDD | seeds for Δ |\n|:---|:---|:---|---:|---:|---:|\n");
        for c in &under {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                md_inline(&c.variant),
                md_inline(&c.key.task),
                table::metric_name(&c.key.metric),
                c.delta.map_or("–".into(), |d| table::fmt_signed(d, 4)),
                c.min_detectable
                    .map_or("–".into(), |d| table::fmt_num(d, 4)),
                c.seeds_needed
                    .map_or(format!("> {}", analysis::MAX_SEEDS_NEEDED), |n| n
                        .to_string())
            );
        }
        s.push('\n');
    }
    s
}

#[allow(clippy::too_many_arguments)]
fn report_markdown(
    store: &Store,
    a: &Analysis,
    overall: &table::Table,
    ablation: Option<&table::Table>,
    sweep_tables: &[table::Table],
    figure_notes: &[(String, String, Option<String>)],
    opts: &ReportOptions,
    ext_notes: &[String],
) -> String {
    let m = store.manifest.as_ref();
    let name = m.and_then(|m| known(&m.experiment)).unwrap_or_else(|| {
        store
            .root
            .file_name()
            .map_or("results".into(), |n| n.to_string_lossy().into_owned())
    });
    let mut s = format!("# Report: {}\n\n", md_inline(&name));
    let _ = writeln!(
        s,
        "Written by `htl report` from the stored results in `{}` only; run `htl report {}` again to redraw without training.\n",
        store.root.display(),
        store.root.display()
    );

    s.push_str("## Provenance\n\n| | |\n|:---|:---|\n");
    let unknown = || "unknown".to_string();
    let mut prov = |k: &str, v: String| {
        let _ = writeln!(s, "| {k} | {} |", md_inline(&v));
    };
    prov(
        "experiment",
        match manifest_field(m, |m| m.experiment_file.as_str()) {
            Some(f) => format!("{name} (`{f}`)"),
            None => name.clone(),
        },
    );
    let dirty = match m.and_then(|m| m.git_dirty) {
        Some(true) => " (with uncommitted changes)",
        _ => "",
    };
    prov(
        "git revision",
        format!(
            "{}{dirty}",
            manifest_field(m, |m| m.git_revision.as_str()).unwrap_or_else(unknown)
        ),
    );
    prov(
        "htlbench",
        manifest_field(m, |m| m.htlbench.as_str()).unwrap_or_else(unknown),
    );
    prov(
        "backend / device",
        format!(
            "{} / {}",
            manifest_field(m, |m| m.backend.as_str()).unwrap_or_else(unknown),
            manifest_field(m, |m| m.device.as_str()).unwrap_or_else(unknown)
        ),
    );
    let machine = match m.map(|m| &m.machine) {
        Some(mc) if *mc != crate::store::Machine::default() => format!(
            "{}, {} {}, {} cores",
            known(&mc.host).unwrap_or_else(unknown),
            known(&mc.os).unwrap_or_else(unknown),
            known(&mc.arch).unwrap_or_else(unknown),
            mc.cores,
        ),
        _ => unknown(),
    };
    prov("machine", machine);
    prov(
        "started",
        manifest_field(m, |m| m.started.as_str()).unwrap_or_else(unknown),
    );
    prov(
        "ended",
        m.and_then(|m| m.ended.clone())
            .unwrap_or_else(|| "not recorded (run still going, or interrupted)".into()),
    );
    let failed = a.issues.iter().filter(|i| i.reason.is_some()).count();
    let unfinished = a.issues.len() - failed;
    let expected = m
        .and_then(|m| m.cells)
        .map(|c| format!("{c} in the experiment; "))
        .unwrap_or_default();
    prov(
        "cells",
        format!(
            "{expected}{} finished, {failed} failed, {unfinished} unfinished",
            a.finished_cells
        ),
    );
    let test = match opts.test {
        TestKind::PairedT => "paired t-test",
        TestKind::Wilcoxon => "Wilcoxon signed-rank test",
    };
    prov(
        "statistics",
        format!(
            "test split; mean, sample std, 95% t-interval over seeds; two-sided {test} against {}{}, cells paired by seed, α = {}, verdicts corrected for the number of comparisons: {}{}",
            a.reference.as_deref().unwrap_or("(no reference)"),
            if a.grid { " at the same grid point (the same value of every grid key)" } else { "" },
            a.alpha,
            a.correction.name(),
            if a.grid && a.correction != power::Correction::None {
                " within each grid point (one family per grid point: its comparisons in the overall and ablation tables, which mark the same comparisons)"
            } else {
                ""
            }
        ),
    );
    s.push('\n');
    let most_pairs = a
        .comparisons
        .iter()
        .map(|c| c.seeds.len())
        .max()
        .unwrap_or(0);
    if opts.test == TestKind::Wilcoxon && (1..6).contains(&most_pairs) {
        let _ = writeln!(
            s,
            "With at most {most_pairs} paired seeds the two-sided Wilcoxon test cannot reach p below {}: run more seeds, or use the paired t-test.\n",
            2.0 / f64::powi(2.0, most_pairs as i32)
        );
    }

    s.push_str("## Overall\n\n");
    s.push_str(&table::markdown_body(overall));
    s.push_str("\nExports: [Markdown](tables/overall.md) · [LaTeX](tables/overall.tex) · [CSV](tables/overall.csv) · every statistic at full precision: [stats.csv](stats.csv)\n\n");

    match (ablation, &a.reference) {
        (Some(t), Some(r)) => {
            let _ = writeln!(s, "## Against the reference ({})\n", md_inline(r));
            s.push_str(&table::markdown_body(t));
            s.push_str("\nExports: [Markdown](tables/ablation.md) · [LaTeX](tables/ablation.tex) · [CSV](tables/ablation.csv)\n\n");
            s.push_str(&power_paragraph(a));
            for t in sweep_tables {
                let _ = writeln!(s, "### {}\n", md_inline(&t.title));
                s.push_str(&table::markdown_body(t));
                let _ = writeln!(
                    s,
                    "\nExports: [Markdown](tables/{id}.md) · [LaTeX](tables/{id}.tex) · [CSV](tables/{id}.csv)\n",
                    id = t.id
                );
            }
        }
        _ => s.push_str(
            "## Against the reference\n\nSkipped: no other model variant to compare with a reference.\n\n",
        ),
    }

    s.push_str("## Figures\n\n");
    if figure_notes.is_empty() {
        s.push_str("Not drawn (figures turned off).\n\n");
    }
    for (name, title, skipped) in figure_notes {
        let _ = writeln!(s, "### {}\n", figure_heading(name));
        match skipped {
            None => {
                let _ = writeln!(
                    s,
                    "![{}](figures/{name}.png)\n\n{} [PNG](figures/{name}.png) · [SVG](figures/{name}.svg)\n",
                    md_inline(title),
                    figure_caption(name, a)
                );
            }
            Some(reason) => {
                let _ = writeln!(s, "Skipped: {}.\n", md_inline(reason));
            }
        }
    }

    s.push_str("## Failed and unfinished cells\n\n");
    if a.issues.is_empty() {
        s.push_str("None: every cell of the experiment finished.\n\n");
    } else {
        s.push_str("| cell | variant | seed | status | reason |\n|:---|:---|---:|:---|:---|\n");
        for i in &a.issues {
            let (status, reason) = match &i.reason {
                Some(r) => ("failed", r.as_str()),
                None => (
                    "unfinished",
                    "no usable metrics.json and no failed.json (run interrupted, or see the notes)",
                ),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {status} | {} |",
                i.id,
                md_inline(&i.variant),
                i.seed,
                md_inline(reason)
            );
        }
        s.push_str("\nThese cells are left out of every statistic. Re-running `htl run` retrains them.\n\n");
    }

    if !store.warnings.is_empty() || !ext_notes.is_empty() || !a.pairing_notes.is_empty() {
        s.push_str("## Notes\n\n");
        for w in store
            .warnings
            .iter()
            .chain(ext_notes)
            .chain(&a.pairing_notes)
        {
            let _ = writeln!(s, "- {}", md_inline(w));
        }
        s.push('\n');
    }
    s
}

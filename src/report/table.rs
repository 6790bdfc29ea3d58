//! Tables: one layout ([`Table`]) built once from an [`Analysis`], exported as Markdown,
//! LaTeX (booktabs) and CSV. The exporters only supply syntax (hyperfine's markup shape);
//! the builders only pick and format numbers the statistics layer computed.

use std::fmt::Write as _;

use super::analysis::{Analysis, MetricKey, MAX_SEEDS_NEEDED, POWER};
use super::power::Correction;
use super::stats::Verdict;
use super::sweep::{GridSweep, SweepVerdict};

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A column: an optional group heading (spanning consecutive columns with the same group,
/// e.g. the task), its own heading, and which direction is better (drawn as an arrow).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Group heading (`""` = none).
    pub group: String,
    /// Heading.
    pub header: String,
    /// Alignment.
    pub align: Align,
    /// `Some(true)` = higher is better (↑), `Some(false)` = lower is better (↓).
    pub higher_is_better: Option<bool>,
}

/// A significance mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Significantly better than the reference (†).
    Better,
    /// Significantly worse than the reference (‡).
    Worse,
}

impl Mark {
    /// The symbol used in Markdown and CSV.
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::Better => "†",
            Mark::Worse => "‡",
        }
    }
}

/// One cell: a main text (bold when best), an optional spread (drawn as `± spread`) and
/// an optional significance mark.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    /// Main text.
    pub text: String,
    /// Spread, e.g. the standard deviation, already formatted.
    pub spread: Option<String>,
    /// Bold (best in its column).
    pub bold: bool,
    /// Significance mark.
    pub mark: Option<Mark>,
}

impl Cell {
    /// A plain text cell.
    pub fn text(s: impl Into<String>) -> Self {
        Self {
            text: s.into(),
            ..Self::default()
        }
    }
}

/// A row; `rule_before` draws a horizontal rule above it (LaTeX `\midrule`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Cells, one per column.
    pub cells: Vec<Cell>,
    /// Rule above this row.
    pub rule_before: bool,
}

/// The one table layout every exporter reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Short id: file stem and LaTeX label (`tab:<id>`).
    pub id: String,
    /// Title (LaTeX caption).
    pub title: String,
    /// Columns.
    pub columns: Vec<Column>,
    /// Rows.
    pub rows: Vec<Row>,
    /// Notes under the table (legend), plain text with the mark symbols.
    pub notes: Vec<String>,
}

/// Display name of a metric (the catalogue's name; the key itself when not catalogued).
pub fn metric_name(metric: &str) -> String {
    crate::metrics::catalogue::display_name(metric).to_string()
}

/// Fixed-point number with `digits` decimals; `–` when not finite; no negative zero.
pub fn fmt_num(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let s = format!("{x:.digits$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Signed number (`+0.0100`, `-0.0100`).
pub fn fmt_signed(x: f64, digits: usize) -> String {
    let s = fmt_num(x, digits);
    if x.is_finite() && !s.starts_with('-') && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("+{s}")
    } else {
        s
    }
}

/// A p-value: `<0.001` below 0.001, else three decimals.
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "<0.001".into()
    } else {
        format!("{p:.3}")
    }
}

/// A percentage without trailing zeros (`0.5`, `1`, `2.25`).
fn fmt_pct(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Verdict in words.
pub fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::NotSignificant => "not significant",
    }
}

fn test_name(a: &Analysis) -> &'static str {
    match a.test {
        super::TestKind::PairedT => "two-sided paired t-test",
        super::TestKind::Wilcoxon => "two-sided Wilcoxon signed-rank test",
    }
}

/// How the verdicts' p-value is adjusted, in words, e.g. `Holm-adjusted p over the 24
/// comparisons of the tables`, or in a grid `Holm-adjusted p within each grid point (4
/// families of 32 comparisons)`.
fn p_rule(a: &Analysis) -> String {
    let m = a
        .comparisons
        .iter()
        .filter(|c| c.p_adjusted.is_some())
        .count();
    let name = match a.correction {
        Correction::None => return "raw p (no correction for the number of comparisons)".into(),
        Correction::Holm => "Holm",
        Correction::Bonferroni => "Bonferroni",
    };
    let families = a.families();
    if families <= 1 {
        return format!("{name}-adjusted p over the {m} comparisons of the tables");
    }
    let mut sizes: Vec<usize> = Vec::new();
    let mut refs: Vec<&str> = Vec::new();
    for c in a.comparisons.iter().filter(|c| c.p_adjusted.is_some()) {
        match refs.iter().position(|r| *r == c.reference) {
            Some(i) => sizes[i] += 1,
            None => {
                refs.push(&c.reference);
                sizes.push(1);
            }
        }
    }
    let (lo, hi) = (
        sizes.iter().min().copied().unwrap_or(0),
        sizes.iter().max().copied().unwrap_or(0),
    );
    let size = if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    };
    format!(
        "{name}-adjusted p within each grid point's comparisons ({families} families of {size}, {m} in all)"
    )
}

/// `than HTLNet` outside a grid, `than HTLNet at the same grid point` in one.
fn than_reference(a: &Analysis, r: &str) -> String {
    if a.grid {
        format!("than {r} at the same grid point")
    } else {
        format!("than {r}")
    }
}

fn mark_of(v: Option<Verdict>) -> Option<Mark> {
    match v {
        Some(Verdict::Better) => Some(Mark::Better),
        Some(Verdict::Worse) => Some(Mark::Worse),
        _ => None,
    }
}

const DIGITS: usize = 4;

/// The overall table (paper Table 2 layout): one row per variant (the constant reference
/// first as stored), one column per task × shown metric, mean ± std over seeds on the test
/// split, the best mean per column bold, significance against the reference marked.
pub fn overall_table(a: &Analysis) -> Table {
    let keys = overall_keys(a);
    let mut columns = vec![
        Column {
            group: String::new(),
            header: "Variant".into(),
            align: Align::Left,
            higher_is_better: None,
        },
        Column {
            group: String::new(),
            header: "n".into(),
            align: Align::Right,
            higher_is_better: None,
        },
    ];
    for k in &keys {
        columns.push(Column {
            group: k.task.clone(),
            header: metric_name(&k.metric),
            align: Align::Right,
            higher_is_better: Some(k.higher_is_better()),
        });
    }
    let best: Vec<Option<f64>> = keys.iter().map(|k| best_mean(a, k)).collect();
    let mut rows = Vec::new();
    let mut prev_constant = None;
    for v in &a.variants {
        let mut cells = vec![
            Cell::text(if a.is_reference(&v.label) {
                format!("{} (reference)", v.label)
            } else {
                v.label.clone()
            }),
            Cell::text(v.finished.len().to_string()),
        ];
        for (k, best) in keys.iter().zip(&best) {
            let s = a.summary(&v.label, k);
            let cell = match s.and_then(|s| s.mean.map(|m| (s, m))) {
                Some((s, m)) => Cell {
                    text: fmt_num(m, DIGITS),
                    spread: s.std.map(|x| fmt_num(x, DIGITS)),
                    bold: Some(m) == *best,
                    // The constant predictor is a yardstick, not a competitor: not tested.
                    // Extra columns carried by external rows are not in the tested family.
                    mark: if v.constant || !a.shown.contains(k) {
                        None
                    } else {
                        mark_of(a.comparison(&v.label, k).and_then(|c| c.verdict))
                    },
                },
                None if v.finished.is_empty() && !v.failed.is_empty() => Cell::text("failed"),
                None => Cell::text("–"),
            };
            cells.push(cell);
        }
        // A rule between the constant reference row(s) and the models.
        let rule_before = prev_constant == Some(true) && !v.constant;
        prev_constant = Some(v.constant);
        rows.push(Row { cells, rule_before });
    }
    // External rows: one per (source, protocol, variant) in file order, after the models.
    let mut sources: Vec<(&str, &str)> = Vec::new();
    let mut groups: Vec<(&str, &str, &str)> = Vec::new();
    for r in &a.external {
        let src = (r.source.as_str(), r.protocol.as_str());
        if !sources.contains(&src) {
            sources.push(src);
        }
        let g = (src.0, src.1, r.variant.as_str());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    for (i, g) in groups.iter().enumerate() {
        let of_group: Vec<&super::external::ExternalRow> = a
            .external
            .iter()
            .filter(|r| (r.source.as_str(), r.protocol.as_str(), r.variant.as_str()) == *g)
            .collect();
        let idx = 1 + sources
            .iter()
            .position(|s| (s.0, s.1) == (g.0, g.1))
            .unwrap_or(0);
        let mut ns: Vec<usize> = of_group.iter().filter_map(|r| r.n).collect();
        ns.sort_unstable();
        ns.dedup();
        let n = match ns.as_slice() {
            [one] => one.to_string(),
            [] => "–".to_string(),
            [lo, .., hi] => format!("{lo}–{hi}"),
        };
        let mut cells = vec![Cell::text(format!("{} (ext. {idx})", g.2)), Cell::text(n)];
        for k in &keys {
            let r = of_group
                .iter()
                .find(|r| r.task == k.task && r.metric == k.metric);
            cells.push(match r {
                Some(r) => Cell {
                    text: fmt_num(r.mean, DIGITS),
                    spread: r.std.map(|x| fmt_num(x, DIGITS)),
                    ..Cell::default()
                },
                None => Cell::text("–"),
            });
        }
        rows.push(Row {
            cells,
            rule_before: i == 0,
        });
    }
    let mut notes = vec![format!(
        "Test split; mean ± sample std over the n finished seeds. Bold: best mean per column (↑ higher is better, ↓ lower is better)."
    )];
    for (i, (source, protocol)) in sources.iter().enumerate() {
        notes.push(format!(
            "ext. {}: external result, not trained here and not tested (no bold, no †/‡): {source}. Protocol: {protocol}",
            i + 1
        ));
    }
    if let Some(r) = &a.reference {
        notes.push(format!(
            "† / ‡: significantly better / worse {} ({}, cells paired by seed, {} ≤ {}; the constant predictor is not tested).",
            than_reference(a, r),
            test_name(a),
            p_rule(a),
            a.alpha
        ));
    }
    let has = |m: &str| keys.iter().any(|k| k.metric == m);
    if has("nrmse") || has("nmae") {
        notes.push("NRMSE = RMSE / std(y), NMAE = MAE / mean(abs(y - mean(y))) of the split's core target (1 = the constant-mean predictor); `–` = undefined.".into());
    } else {
        notes.push("`–` = undefined.".into());
    }
    if has("nrmse_mean") || has("nmae_mean") {
        notes.push("NRMSE_mean = RMSE / mean(y), NMAE_mean = MAE / mean(y) (columns shown because an external row reports them; not tested).".into());
    }
    if a.issues.iter().any(|i| i.reason.is_some()) {
        notes.push("Failed cells are left out of n and of every statistic; `failed` = every seed of the variant failed.".into());
    }
    Table {
        id: "overall".into(),
        title: "Overall comparison on the test split".into(),
        columns,
        rows,
        notes,
    }
}

/// The overall table's columns: the shown metrics, plus every task × metric an external row
/// carries that the tables do not show but this run measured (e.g. a peer's NRMSE_mean =
/// RMSE / mean(y)), after the last column of its task, so that an external number only ever
/// sits beside ours of the same definition. Those extra columns are never tested.
pub fn overall_keys(a: &Analysis) -> Vec<MetricKey> {
    let mut keys = a.shown.clone();
    for r in &a.external {
        let k = MetricKey {
            task: r.task.clone(),
            metric: r.metric.clone(),
        };
        let measured = a
            .variants
            .iter()
            .any(|v| a.summary(&v.label, &k).is_some_and(|s| s.mean.is_some()));
        if keys.contains(&k) || !measured {
            continue;
        }
        let at = keys
            .iter()
            .rposition(|x| x.task == k.task)
            .map_or(keys.len(), |i| i + 1);
        keys.insert(at, k);
    }
    keys
}

fn best_mean(a: &Analysis, k: &MetricKey) -> Option<f64> {
    let means = a
        .variants
        .iter()
        .filter_map(|v| a.summary(&v.label, k)?.mean);
    if k.higher_is_better() {
        means.fold(None, |b: Option<f64>, m| Some(b.map_or(m, |b| b.max(m))))
    } else {
        means.fold(None, |b: Option<f64>, m| Some(b.map_or(m, |b| b.min(m))))
    }
}

/// The ablation table (paper Tables 3–5): per task × shown metric, every model variant's
/// mean ± std, its paired difference from the reference (absolute and relative), the
/// p-value and the verdict.
pub fn ablation_table(a: &Analysis) -> Table {
    let col = |h: &str, align| Column {
        group: String::new(),
        header: h.into(),
        align,
        higher_is_better: None,
    };
    let reference = a.reference.clone().unwrap_or_else(|| "reference".into());
    let columns = vec![
        col("Task", Align::Left),
        col("Metric", Align::Left),
        col("Variant", Align::Left),
        col("n", Align::Right),
        col("Mean", Align::Right),
        col(&format!("Δ vs {reference}"), Align::Right),
        col("Δ %", Align::Right),
        col("p", Align::Right),
        col(&format!("p ({})", a.correction.name()), Align::Right),
        col("MDD", Align::Right),
        col("Seeds for Δ", Align::Right),
        col("Verdict", Align::Left),
    ];
    let mut rows = Vec::new();
    for k in &a.shown {
        let mut first = true;
        for v in a.variants.iter().filter(|v| !v.constant) {
            let Some(s) = a.summary(&v.label, k) else {
                continue;
            };
            let mean_cell = match s.mean {
                Some(m) => Cell {
                    text: fmt_num(m, DIGITS),
                    spread: s.std.map(|x| fmt_num(x, DIGITS)),
                    ..Cell::default()
                },
                None if v.finished.is_empty() && !v.failed.is_empty() => Cell::text("failed"),
                None => Cell::text("–"),
            };
            let is_ref = a.is_reference(&v.label);
            let c = a.comparison(&v.label, k);
            let (delta, rel, p, power, verdict) = if is_ref {
                (
                    Cell::text("reference"),
                    Cell::text(""),
                    Cell::text(""),
                    [Cell::text(""), Cell::text(""), Cell::text("")],
                    Cell::text(""),
                )
            } else {
                match c {
                    Some(c) => (
                        Cell {
                            text: c.delta.map_or("–".into(), |d| fmt_signed(d, DIGITS)),
                            mark: mark_of(c.verdict),
                            ..Cell::default()
                        },
                        Cell::text(
                            c.delta_rel
                                .map_or("–".into(), |r| format!("{}%", fmt_signed(100.0 * r, 2))),
                        ),
                        Cell::text(c.test.map_or("–".into(), |t| fmt_p(t.p_value))),
                        [
                            Cell::text(c.p_adjusted.map_or("–".into(), fmt_p)),
                            Cell::text(c.min_detectable.map_or("–".into(), |m| fmt_num(m, DIGITS))),
                            Cell::text(match (c.seeds_needed, c.delta, c.sd_diff) {
                                (Some(n), _, _) => n.to_string(),
                                (None, Some(d), Some(sd)) if d != 0.0 && sd > 0.0 => {
                                    format!("> {MAX_SEEDS_NEEDED}")
                                }
                                _ => "–".into(),
                            }),
                        ],
                        Cell::text(c.verdict.map_or_else(
                            || {
                                if c.seeds.len() < 2 {
                                    format!("no test ({} paired seeds)", c.seeds.len())
                                } else {
                                    "no test".into()
                                }
                            },
                            |v| {
                                if c.under_powered {
                                    "under-powered".to_string()
                                } else {
                                    verdict_text(v).to_string()
                                }
                            },
                        )),
                    ),
                    None => (
                        Cell::text("–"),
                        Cell::text("–"),
                        Cell::text("–"),
                        [Cell::text("–"), Cell::text("–"), Cell::text("–")],
                        Cell::text("–"),
                    ),
                }
            };
            rows.push(Row {
                cells: vec![
                    Cell::text(if first { k.task.clone() } else { String::new() }),
                    Cell::text(if first {
                        format!(
                            "{} {}",
                            metric_name(&k.metric),
                            if k.higher_is_better() { "↑" } else { "↓" }
                        )
                    } else {
                        String::new()
                    }),
                    Cell::text(v.label.clone()),
                    Cell::text(s.n.to_string()),
                    mean_cell,
                    delta,
                    rel,
                    p,
                ]
                .into_iter()
                .chain(power)
                .chain(std::iter::once(verdict))
                .collect(),
                rule_before: first && !rows.is_empty(),
            });
            first = false;
        }
    }
    let notes = vec![
        format!(
            "Test split; mean ± sample std over n seeds. Δ = mean over paired seeds of (variant − {reference}{}); Δ % relative to {reference}'s mean on the same seeds.",
            if a.grid { " at the same grid point" } else { "" }
        ),
        format!(
            "p: {}, cells paired by seed; p ({}): adjusted over the comparisons the tables mark; verdict at {} ≤ {} in the metric's direction (↑ higher is better, ↓ lower is better); † / ‡ = significantly better / worse.",
            test_name(a),
            a.correction.name(),
            p_rule(a),
            a.alpha
        ),
        format!(
            "MDD: the smallest true mean difference the paired t-test detects with {:.0}% power at α = {} with these n pairs and their observed std of differences. Seeds for Δ: seeds the observed Δ would need for that power. under-powered: not significant, and |Δ| < MDD — this run could not have detected a difference of this size, so it is not evidence of no difference.",
            100.0 * POWER,
            a.alpha
        ),
    ];
    Table {
        id: "ablation".into(),
        title: format!("Each variant against {reference}"),
        columns,
        rows,
        notes,
    }
}

/// The verdict word of the sweep table.
pub fn sweep_verdict_text(v: SweepVerdict) -> &'static str {
    match v {
        SweepVerdict::Win => "win",
        SweepVerdict::Lose => "lose",
        SweepVerdict::Tie => "tie",
        SweepVerdict::UnderPowered => "under-powered",
        SweepVerdict::NoTest => "no test",
    }
}

/// The file stem of the sweep verdict table of grid key `key` (`sweep_dependence`).
pub fn sweep_table_id(key: &str) -> String {
    let slug: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("sweep_{slug}")
}

/// The sweep verdict table of one numeric grid key: per task × shown metric, one row per
/// compared variant line, and per value of the key its mean paired difference from the
/// reference at that grid point, the adjusted p-value and the verdict word
/// ([`SweepVerdict`]). Only formats what [`GridSweep::verdicts`] holds.
pub fn sweep_verdict_table(a: &Analysis, sw: &GridSweep) -> Table {
    let reference = a.reference.clone().unwrap_or_else(|| "reference".into());
    let col = |group: String, h: &str, align| Column {
        group,
        header: h.into(),
        align,
        higher_is_better: None,
    };
    let mut columns = vec![
        col(String::new(), "Task", Align::Left),
        col(String::new(), "Metric", Align::Left),
        col(String::new(), "Variant", Align::Left),
    ];
    let p_head = format!("p ({})", a.correction.name());
    for x in &sw.values {
        let g = format!("{}={}", sw.key, x);
        columns.push(col(g.clone(), "Δ", Align::Right));
        columns.push(col(g.clone(), &p_head, Align::Right));
        columns.push(col(g, "verdict", Align::Left));
    }
    let mut rows = Vec::new();
    let mut prev: Option<&MetricKey> = None;
    for r in &sw.verdicts {
        let first = prev != Some(&r.key);
        let mut cells = vec![
            Cell::text(if first {
                r.key.task.clone()
            } else {
                String::new()
            }),
            Cell::text(if first {
                format!(
                    "{} {}",
                    metric_name(&r.key.metric),
                    if r.key.higher_is_better() {
                        "↑"
                    } else {
                        "↓"
                    }
                )
            } else {
                String::new()
            }),
            Cell::text(r.label.clone()),
        ];
        for x in &sw.values {
            match r.points.iter().find(|p| p.x == *x) {
                Some(p) => {
                    cells.push(Cell::text(
                        p.delta.map_or("–".into(), |d| fmt_signed(d, DIGITS)),
                    ));
                    cells.push(Cell::text(p.p_adjusted.map_or("–".into(), fmt_p)));
                    cells.push(Cell::text(sweep_verdict_text(p.verdict)));
                }
                None => cells.extend([Cell::text(""), Cell::text(""), Cell::text("")]),
            }
        }
        rows.push(Row {
            cells,
            rule_before: first && !rows.is_empty(),
        });
        prev = Some(&r.key);
    }
    let notes = vec![
        format!(
            "Test split. Each variant against {reference} at the same grid point (the same value of `{}` and of every other grid key): Δ = mean over paired seeds of (variant − {reference}); p ({}): {}, cells paired by seed; {}.",
            sw.key,
            a.correction.name(),
            test_name(a),
            p_rule(a)
        ),
        format!(
            "win / lose: significantly better / worse at adjusted p ≤ {} in the metric's direction (↑ higher is better, ↓ lower is better). tie: not significant, and the 95% t-interval of the paired differences lies within ±{}% of {reference}'s mean at that point (equivalent within that margin; `htl report --tie-margin`). under-powered: not significant, and the interval reaches beyond that margin: this run can neither tell the two apart nor call them equivalent (the ablation table gives the MDD and the seeds the observed Δ would need).",
            a.alpha,
            fmt_pct(100.0 * a.tie_margin)
        ),
    ];
    Table {
        id: sweep_table_id(&sw.key),
        title: format!("Against {reference} along `{}`, per grid point", sw.key),
        columns,
        rows,
        notes,
    }
}

fn arrow(c: &Column) -> &'static str {
    match c.higher_is_better {
        Some(true) => " ↑",
        Some(false) => " ↓",
        None => "",
    }
}

fn flat_header(c: &Column) -> String {
    if c.group.is_empty() {
        c.header.clone()
    } else {
        format!("{} {}", c.group, c.header)
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn md_cell(c: &Cell) -> String {
    let mut s = md_escape(&c.text);
    if c.bold && !s.is_empty() {
        s = format!("**{s}**");
    }
    if let Some(sp) = &c.spread {
        let _ = write!(s, " ± {}", md_escape(sp));
    }
    if let Some(m) = c.mark {
        s.push_str(m.symbol());
    }
    s
}

/// The table body in Markdown (pipe table plus the notes), without the title.
pub fn markdown_body(t: &Table) -> String {
    let mut s = String::from("|");
    for c in &t.columns {
        let _ = write!(s, " {}{} |", md_escape(&flat_header(c)), arrow(c));
    }
    s.push_str("\n|");
    for c in &t.columns {
        s.push_str(match c.align {
            Align::Left => ":---|",
            Align::Right => "---:|",
        });
    }
    s.push('\n');
    for r in &t.rows {
        s.push('|');
        for c in &r.cells {
            let _ = write!(s, " {} |", md_cell(c));
        }
        s.push('\n');
    }
    if !t.notes.is_empty() {
        s.push('\n');
        for n in &t.notes {
            let _ = writeln!(s, "{n}");
        }
    }
    s
}

/// The table in Markdown: a title line, the pipe table and the notes.
pub fn markdown(t: &Table) -> String {
    format!("**{}**\n\n{}", t.title, markdown_body(t))
}

/// Escapes LaTeX specials and maps the symbols the tables use to math mode.
pub fn latex_text(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '`' => out.push('\''),
            '†' => out.push_str("$^{\\dagger}$"),
            '‡' => out.push_str("$^{\\ddagger}$"),
            '±' => out.push_str("$\\pm$"),
            '≤' => out.push_str("$\\le$"),
            '↑' => out.push_str("$\\uparrow$"),
            '↓' => out.push_str("$\\downarrow$"),
            'Δ' => out.push_str("$\\Delta$"),
            '−' | '–' => out.push_str("--"),
            _ => out.push(ch),
        }
    }
    out
}

fn latex_cell(c: &Cell) -> String {
    let mut s = latex_text(&c.text);
    if c.bold && !s.is_empty() {
        s = format!("\\textbf{{{s}}}");
    }
    if let Some(sp) = &c.spread {
        let _ = write!(s, "\\,{{\\scriptsize$\\pm${}}}", latex_text(sp));
    }
    if let Some(m) = c.mark {
        s.push_str(&latex_text(m.symbol()));
    }
    s
}

/// The table as a LaTeX `table` float with a booktabs `tabular` (needs
/// `\usepackage{booktabs}`); group headings become `\multicolumn` with `\cmidrule`.
pub fn latex(t: &Table) -> String {
    let mut s = String::from("% Written by `htl report`; needs \\usepackage{booktabs}.\n");
    s.push_str("\\begin{table}[htbp]\n  \\centering\n  \\small\n");
    let _ = writeln!(s, "  \\caption{{{}}}", latex_text(&t.title));
    let _ = writeln!(s, "  \\label{{tab:{}}}", t.id);
    let spec: String = t
        .columns
        .iter()
        .map(|c| match c.align {
            Align::Left => 'l',
            Align::Right => 'r',
        })
        .collect();
    let _ = writeln!(s, "  \\begin{{tabular}}{{{spec}}}");
    s.push_str("    \\toprule\n");
    // Group heading row: runs of consecutive columns with the same non-empty group.
    let mut runs: Vec<(String, usize, usize)> = Vec::new(); // (group, first col, len)
    for (i, c) in t.columns.iter().enumerate() {
        match runs.last_mut() {
            Some((g, _, len)) if *g == c.group => *len += 1,
            _ => runs.push((c.group.clone(), i, 1)),
        }
    }
    if runs.iter().any(|(g, _, _)| !g.is_empty()) {
        let cells: Vec<String> = runs
            .iter()
            .map(|(g, _, len)| {
                if g.is_empty() {
                    vec![String::new(); *len].join(" & ")
                } else {
                    format!("\\multicolumn{{{len}}}{{c}}{{{}}}", latex_text(g))
                }
            })
            .collect();
        let _ = writeln!(s, "    {} \\\\", cells.join(" & "));
        let rules: String = runs
            .iter()
            .filter(|(g, _, _)| !g.is_empty())
            .map(|(_, first, len)| format!("\\cmidrule(lr){{{}-{}}}", first + 1, first + len))
            .collect();
        let _ = writeln!(s, "    {rules}");
    }
    let heads: Vec<String> = t
        .columns
        .iter()
        .map(|c| latex_text(&format!("{}{}", c.header, arrow(c))))
        .collect();
    let _ = writeln!(s, "    {} \\\\", heads.join(" & "));
    s.push_str("    \\midrule\n");
    for r in &t.rows {
        if r.rule_before {
            s.push_str("    \\midrule\n");
        }
        let cells: Vec<String> = r.cells.iter().map(latex_cell).collect();
        let _ = writeln!(s, "    {} \\\\", cells.join(" & "));
    }
    s.push_str("    \\bottomrule\n  \\end{tabular}\n");
    if !t.notes.is_empty() {
        s.push_str("  \\par\\smallskip\n  {\\footnotesize\n");
        for n in &t.notes {
            let _ = writeln!(s, "  {}\\par", latex_text(n));
        }
        s.push_str("  }\n");
    }
    s.push_str("\\end{table}\n");
    s
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The table as CSV: one header line (`<group> <header>`), the cells as shown (bold
/// dropped; `± spread` and the mark kept). Full-precision numbers are in `stats.csv`.
pub fn csv(t: &Table) -> String {
    let mut s = t
        .columns
        .iter()
        .map(|c| csv_quote(&flat_header(c)))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    for r in &t.rows {
        let cells: Vec<String> = r
            .cells
            .iter()
            .map(|c| {
                let mut x = c.text.clone();
                if let Some(sp) = &c.spread {
                    let _ = write!(x, " ± {sp}");
                }
                if let Some(m) = c.mark {
                    x.push_str(m.symbol());
                }
                csv_quote(&x)
            })
            .collect();
        s.push_str(&cells.join(","));
        s.push('\n');
    }
    s
}

fn verdict_csv(v: Option<Verdict>) -> &'static str {
    v.map_or("", |v| match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::NotSignificant => "not_significant",
    })
}

fn opt_num(x: Option<f64>) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{v}"))
        .unwrap_or_default()
}

/// `stats.csv`: every (variant, task, metric) of the test split at full precision, with
/// the comparison against the reference. Columns:
/// `variant,task,metric,n,mean,std,ci95_low,ci95_high,reference,n_pairs,delta,delta_rel,delta_ci95_low,delta_ci95_high,test,statistic,p_value,correction,p_adjusted,verdict_raw,verdict,sd_diff,min_detectable_diff,seeds_needed,under_powered`.
/// `p_adjusted` is empty outside the family the tables mark (constant predictors, metrics not
/// shown); there `verdict` is `verdict_raw`. `seeds_needed` is empty when above
/// [`MAX_SEEDS_NEEDED`] or undefined.
pub fn stats_csv(a: &Analysis) -> String {
    let mut s = String::from("variant,task,metric,n,mean,std,ci95_low,ci95_high,reference,n_pairs,delta,delta_rel,delta_ci95_low,delta_ci95_high,test,statistic,p_value,correction,p_adjusted,verdict_raw,verdict,sd_diff,min_detectable_diff,seeds_needed,under_powered\n");
    let test = match a.test {
        super::TestKind::PairedT => "paired_t",
        super::TestKind::Wilcoxon => "wilcoxon",
    };
    for sm in &a.summaries {
        let _ = write!(
            s,
            "{},{},{},{},{},{},{},{}",
            csv_quote(&sm.variant),
            csv_quote(&sm.key.task),
            csv_quote(&sm.key.metric),
            sm.n,
            opt_num(sm.mean),
            opt_num(sm.std),
            opt_num(sm.ci95.map(|c| c.0)),
            opt_num(sm.ci95.map(|c| c.1)),
        );
        match a.comparison(&sm.variant, &sm.key) {
            Some(c) => {
                let _ = writeln!(
                    s,
                    ",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_quote(&c.reference),
                    c.seeds.len(),
                    opt_num(c.delta),
                    opt_num(c.delta_rel),
                    opt_num(c.delta_ci95.map(|x| x.0)),
                    opt_num(c.delta_ci95.map(|x| x.1)),
                    if c.test.is_some() { test } else { "" },
                    c.test.map_or(String::new(), |t| format!("{}", t.statistic)),
                    opt_num(c.test.map(|t| t.p_value)),
                    if c.p_adjusted.is_some() {
                        a.correction.name()
                    } else {
                        ""
                    },
                    opt_num(c.p_adjusted),
                    verdict_csv(c.raw_verdict),
                    verdict_csv(c.verdict),
                    opt_num(c.sd_diff),
                    opt_num(c.min_detectable),
                    c.seeds_needed.map_or(String::new(), |n| n.to_string()),
                    if c.test.is_some() {
                        if c.under_powered {
                            "true"
                        } else {
                            "false"
                        }
                    } else {
                        ""
                    },
                );
            }
            None => s.push_str(",,,,,,,,,,,,,,,,,\n"),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(fmt_num(-0.00001, 4), "0.0000");
        assert_eq!(fmt_num(f64::NAN, 4), "–");
        assert_eq!(fmt_signed(0.01, 4), "+0.0100");
        assert_eq!(fmt_signed(-0.01, 4), "-0.0100");
        assert_eq!(fmt_signed(0.0, 4), "0.0000");
        assert_eq!(fmt_p(0.0004), "<0.001");
        assert_eq!(fmt_p(0.04321), "0.043");
    }

    #[test]
    fn latex_escapes() {
        assert_eq!(latex_text("w/o LE & 5% #1_a"), "w/o LE \\& 5\\% \\#1\\_a");
        assert_eq!(latex_text("a ± b†"), "a $\\pm$ b$^{\\dagger}$");
    }

    #[test]
    fn group_headers_span_consecutive_columns() {
        let c = |g: &str, h: &str| Column {
            group: g.into(),
            header: h.into(),
            align: Align::Right,
            higher_is_better: None,
        };
        let t = Table {
            id: "x".into(),
            title: "T".into(),
            columns: vec![c("", "V"), c("a", "m1"), c("a", "m2"), c("b", "m3")],
            rows: vec![Row {
                cells: vec![
                    Cell::text("v"),
                    Cell {
                        text: "1".into(),
                        bold: true,
                        ..Cell::default()
                    },
                    Cell::text("2"),
                    Cell::text("3"),
                ],
                rule_before: false,
            }],
            notes: vec![],
        };
        let tex = latex(&t);
        assert!(tex.contains(" & \\multicolumn{2}{c}{a} & \\multicolumn{1}{c}{b} \\\\"));
        assert!(tex.contains("\\cmidrule(lr){2-3}\\cmidrule(lr){4-4}"));
        assert!(tex.contains("v & \\textbf{1} & 2 & 3 \\\\"));
        assert_eq!(csv(&t), "V,a m1,a m2,b m3\nv,1,2,3\n");
        assert!(markdown_body(&t).contains("| v | **1** | 2 | 3 |"));
    }
}

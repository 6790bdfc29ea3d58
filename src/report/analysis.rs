//! The statistics layer of the report: from the stored cells to numbers (summaries over
//! seeds, paired comparisons with the reference variant, mean curves). Nothing here
//! formats; tables and figures only pick from an [`Analysis`].

use std::collections::BTreeMap;

use super::load::{CellStatus, Store, StoredCell};
use super::power::{self, Correction};
use super::stats::{self, TestResult, Verdict};
use super::{ReportError, ReportOptions, TestKind};
use crate::metrics::catalogue::{self, MetricTask};
use crate::store::TaskKind as StoredKind;

/// Kind of a task, from the task chain stored in `manifest.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A binary task of the chain (AUC / LogLoss).
    Binary,
    /// The regression (core) task of the chain (NRMSE / NMAE / Gini / Spearman).
    Core,
    /// A task in the metrics but not in the chain (shown in `stats.csv` only).
    Other,
}

/// A task of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: TaskKind,
}

/// One (task, metric) column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricKey {
    /// Task name.
    pub task: String,
    /// Metric name as stored (`auc`, `nrmse`, …).
    pub metric: String,
}

impl MetricKey {
    /// Whether a larger value is better (the metric catalogue's direction).
    pub fn higher_is_better(&self) -> bool {
        catalogue::higher_is_better(&self.metric)
    }
}

/// A variant (one row of the overall table).
#[derive(Debug, Clone, PartialEq)]
pub struct VariantInfo {
    /// Label.
    pub label: String,
    /// Model name of its cells.
    pub model: String,
    /// Whether it is the constant reference predictor.
    pub constant: bool,
    /// `options.ifu` of its cells, when the model has one.
    pub ifu: Option<String>,
    /// Seeds of its finished cells.
    pub finished: Vec<u64>,
    /// Seeds of its failed cells.
    pub failed: Vec<u64>,
    /// Seeds of its unfinished cells.
    pub unfinished: Vec<u64>,
    /// The label before its grid suffix (the whole label outside a grid,
    /// [`super::sweep::parse_grid_label`]).
    pub base: String,
    /// The grid point's `(key, value)` pairs from the label's suffix (empty outside a grid).
    pub grid: Vec<(String, String)>,
}

/// Summary over seeds of one metric of one variant (test split).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSummary {
    /// Variant label.
    pub variant: String,
    /// Task and metric.
    pub key: MetricKey,
    /// `(seed, value)` for every finished seed with a defined value.
    pub values: Vec<(u64, f64)>,
    /// Number of values.
    pub n: usize,
    /// Mean (`None` when n = 0).
    pub mean: Option<f64>,
    /// Sample standard deviation (`None` when n < 2).
    pub std: Option<f64>,
    /// 95% t-interval of the mean (`None` when n < 2).
    pub ci95: Option<(f64, f64)>,
}

/// A paired comparison of a variant with the reference on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The compared variant (`a` of the test).
    pub variant: String,
    /// The reference variant (`b`).
    pub reference: String,
    /// Task and metric.
    pub key: MetricKey,
    /// Seeds where both have a value.
    pub seeds: Vec<u64>,
    /// Mean of `variant - reference` over the paired seeds (`None` without pairs).
    pub delta: Option<f64>,
    /// `delta` relative to the reference's mean over the same seeds (`None` when that is 0).
    pub delta_rel: Option<f64>,
    /// The reference's mean over the paired seeds (`None` without pairs).
    pub reference_mean: Option<f64>,
    /// 95% t-interval of the paired differences (`None` with fewer than 2 pairs).
    pub delta_ci95: Option<(f64, f64)>,
    /// The test, when it could run.
    pub test: Option<TestResult>,
    /// The p-value adjusted over the comparisons of the tables (every non-reference model
    /// variant × shown metric) with [`ReportOptions::correction`]; `None` for a comparison
    /// outside that family (a constant predictor, a metric not shown) or without a test.
    pub p_adjusted: Option<f64>,
    /// The verdict at `alpha` from the raw p-value.
    pub raw_verdict: Option<Verdict>,
    /// The verdict the tables show: from `p_adjusted` inside the family, from the raw
    /// p-value outside it.
    pub verdict: Option<Verdict>,
    /// Sample standard deviation of the paired differences (`None` with fewer than 2 pairs).
    pub sd_diff: Option<f64>,
    /// The smallest true mean difference the two-sided paired t-test detects with power
    /// [`POWER`] at `alpha` with this many pairs and this `sd_diff`
    /// ([`power::min_detectable_difference`]); `None` when `sd_diff` is 0 or undefined.
    pub min_detectable: Option<f64>,
    /// Seeds the observed `delta` would need to be detected with power [`POWER`] at `alpha`
    /// if the differences keep `sd_diff` ([`power::seeds_needed`], at most
    /// [`MAX_SEEDS_NEEDED`]; `None` above that, or when `delta` is 0 or `sd_diff` undefined).
    pub seeds_needed: Option<usize>,
    /// Not significant and the observed |delta| is below `min_detectable`: the run could not
    /// have detected a difference of this size, so "no significant difference" is not
    /// evidence of no difference.
    pub under_powered: bool,
    /// Why there is no test, when there is none.
    pub no_test: Option<String>,
}

/// Mean over seeds of one series, per x value.
#[derive(Debug, Clone, PartialEq)]
pub struct MeanPoint {
    /// x (epoch or step).
    pub x: f64,
    /// Mean of the seeds' values at x.
    pub mean: f64,
    /// Seeds with a value at x.
    pub n: usize,
}

/// Validation loss of one task per epoch, mean over the seeds of one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveSeries {
    /// Variant label.
    pub variant: String,
    /// Task.
    pub task: String,
    /// Points in epoch order.
    pub points: Vec<MeanPoint>,
}

/// Gradient norms of one task over steps, mean over the seeds of one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct GradSeries {
    /// Variant label.
    pub variant: String,
    /// Task.
    pub task: String,
    /// `|G_t|` before adjustment.
    pub raw: Vec<MeanPoint>,
    /// `|G_t|` after adjustment.
    pub adjusted: Vec<MeanPoint>,
}

/// An IFU attention / concat pair of variants (paper Figure 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfuPair {
    /// The variant with `options.ifu: attention`.
    pub attention: String,
    /// The variant with `options.ifu: concat`.
    pub concat: String,
    /// Whether the two configs differ only in `options.ifu` (else the attention side is
    /// the reference variant, used as a fallback).
    pub exact: bool,
}

/// A failed or unfinished cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellIssue {
    /// Cell id.
    pub id: String,
    /// Variant label.
    pub variant: String,
    /// Seed.
    pub seed: u64,
    /// Failure reason (`None` = unfinished).
    pub reason: Option<String>,
}

/// Everything the tables and figures draw from.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Variants in table order.
    pub variants: Vec<VariantInfo>,
    /// The reference of the comparisons (`None` when there is no model variant): a base
    /// label. Outside a grid it is the reference variant's label; in a grid each variant is
    /// compared with the variant of this base label at the same grid point
    /// ([`Comparison::reference`] names it).
    pub reference: Option<String>,
    /// Whether any variant label carries a grid point (`<label> [key=value, …]`).
    pub grid: bool,
    /// Why some variants have no comparison (no or several reference variants at their grid
    /// point), in words, for `report.md`.
    pub pairing_notes: Vec<String>,
    /// The paired test used.
    pub test: TestKind,
    /// Significance level.
    pub alpha: f64,
    /// The correction of the tables' verdicts for the number of comparisons.
    pub correction: Correction,
    /// The sweep verdicts' equivalence margin, relative to the reference's mean
    /// ([`ReportOptions::tie_margin`]).
    pub tie_margin: f64,
    /// Tasks in chain order.
    pub tasks: Vec<TaskInfo>,
    /// Every (task, metric) on the test split: task order, then shown metrics, then others.
    pub keys: Vec<MetricKey>,
    /// The keys shown in tables and figures (AUC, LogLoss; NRMSE, NMAE, Gini, Spearman).
    pub shown: Vec<MetricKey>,
    /// Summaries per (variant, key), variants in order.
    pub summaries: Vec<MetricSummary>,
    /// Comparisons of every other variant with the reference, per key.
    pub comparisons: Vec<Comparison>,
    /// Mean validation-loss curves.
    pub curves: Vec<CurveSeries>,
    /// Mean gradient norms.
    pub grads: Vec<GradSeries>,
    /// IFU attention / concat pairs.
    pub ifu_pairs: Vec<IfuPair>,
    /// Failed and unfinished cells.
    pub issues: Vec<CellIssue>,
    /// Finished cells.
    pub finished_cells: usize,
    /// Published or peer rows shown in the overall table, never tested ([`super::external`];
    /// filled by [`super::report`], empty from [`analyse`]).
    pub external: Vec<super::external::ExternalRow>,
    /// Shown metrics against each numeric grid key ([`super::sweep`]).
    pub sweeps: Vec<super::sweep::GridSweep>,
}

impl Analysis {
    /// The summary of `variant` on `key`.
    pub fn summary(&self, variant: &str, key: &MetricKey) -> Option<&MetricSummary> {
        self.summaries
            .iter()
            .find(|s| s.variant == variant && &s.key == key)
    }

    /// The comparison of `variant` with the reference on `key`.
    pub fn comparison(&self, variant: &str, key: &MetricKey) -> Option<&Comparison> {
        self.comparisons
            .iter()
            .find(|c| c.variant == variant && &c.key == key)
    }

    /// The variant's info.
    pub fn variant(&self, label: &str) -> Option<&VariantInfo> {
        self.variants.iter().find(|v| v.label == label)
    }

    /// Whether `label` is a reference variant: the reference itself, or in a grid the
    /// reference's variant at one grid point.
    pub fn is_reference(&self, label: &str) -> bool {
        match (&self.reference, self.variant(label)) {
            (Some(r), Some(v)) => &v.base == r,
            _ => false,
        }
    }

    /// The reference variant `label` is compared with (the one at its grid point), when it
    /// has a comparison.
    pub fn reference_of(&self, label: &str) -> Option<&str> {
        self.comparisons
            .iter()
            .find(|c| c.variant == label)
            .map(|c| c.reference.as_str())
    }

    /// The number of correction families among the comparisons the tables mark: one per
    /// reference variant (one per grid point in a grid, one outside a grid).
    pub fn families(&self) -> usize {
        let mut refs: Vec<&str> = self
            .comparisons
            .iter()
            .filter(|c| c.p_adjusted.is_some())
            .map(|c| c.reference.as_str())
            .collect();
        refs.sort_unstable();
        refs.dedup();
        refs.len()
    }

    /// The kind of a task.
    pub fn task_kind(&self, task: &str) -> TaskKind {
        self.tasks
            .iter()
            .find(|t| t.name == task)
            .map_or(TaskKind::Other, |t| t.kind)
    }
}

/// Computes every statistic of the report from a loaded store.
///
/// # Errors
/// [`ReportError::UnknownReference`] when `opts.reference` names no stored variant;
/// [`ReportError::InvalidAlpha`] when `opts.alpha` is not in (0, 1).
pub fn analyse(store: &Store, opts: &ReportOptions) -> Result<Analysis, ReportError> {
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(ReportError::InvalidAlpha(opts.alpha));
    }
    if !(opts.tie_margin.is_finite() && opts.tie_margin >= 0.0) {
        return Err(ReportError::InvalidTieMargin(opts.tie_margin));
    }
    let variants = variant_infos(store);
    let reference = choose_reference(&variants, opts.reference.as_deref())?;
    let tasks = task_infos(store);
    let keys = metric_keys(store, &tasks);
    let shown: Vec<MetricKey> = keys
        .iter()
        .filter(|k| is_shown(&tasks, k))
        .cloned()
        .collect();
    let mut summaries = Vec::new();
    for v in &variants {
        for k in &keys {
            summaries.push(summarise_metric(store, &v.label, k));
        }
    }
    let mut comparisons = Vec::new();
    let mut pairing_notes = Vec::new();
    if let Some(r) = &reference {
        for v in variants.iter().filter(|v| &v.base != r) {
            let partner = match reference_at_point(&variants, r, v) {
                Ok(p) => p,
                Err(note) => {
                    // The constant rows are never tested in the tables: no note for them.
                    if !v.constant {
                        pairing_notes.push(note);
                    }
                    continue;
                }
            };
            for k in &keys {
                let a = summaries
                    .iter()
                    .find(|s| s.variant == v.label && &s.key == k)
                    .expect("summarised");
                let b = summaries
                    .iter()
                    .find(|s| s.variant == partner.label && &s.key == k)
                    .expect("summarised");
                comparisons.push(compare(a, b, opts));
            }
        }
    }
    let family_variants: Vec<String> = variants
        .iter()
        .filter(|v| !v.constant)
        .map(|v| v.label.clone())
        .collect();
    // One family per reference variant: outside a grid the whole table, in a grid each grid
    // point's comparisons.
    let mut family_refs: Vec<String> = Vec::new();
    for c in &comparisons {
        if !family_refs.contains(&c.reference) {
            family_refs.push(c.reference.clone());
        }
    }
    for fr in &family_refs {
        adjust_family(
            &mut comparisons,
            |c| {
                &c.reference == fr && family_variants.contains(&c.variant) && shown.contains(&c.key)
            },
            opts.correction,
            opts.alpha,
        );
    }
    let issues = store
        .cells
        .iter()
        .filter_map(|c| match &c.status {
            CellStatus::Finished(_) => None,
            CellStatus::Failed(r) => Some(issue(c, Some(r.clone()))),
            CellStatus::Unfinished => Some(issue(c, None)),
        })
        .collect();
    let ifu_pairs = ifu_pairs(store, &variants, &comparisons);
    let sweeps =
        super::sweep::grid_sweeps(&variants, &summaries, &shown, &comparisons, opts.tie_margin);
    Ok(Analysis {
        grid: variants.iter().any(|v| !v.grid.is_empty()),
        pairing_notes,
        sweeps,
        curves: curve_series(store, &variants, &tasks),
        grads: grad_series(store, &variants, &tasks),
        ifu_pairs,
        finished_cells: store
            .cells
            .iter()
            .filter(|c| matches!(c.status, CellStatus::Finished(_)))
            .count(),
        variants,
        reference,
        test: opts.test,
        alpha: opts.alpha,
        correction: opts.correction,
        tie_margin: opts.tie_margin,
        tasks,
        keys,
        shown,
        summaries,
        comparisons,
        issues,
        external: Vec::new(),
    })
}

fn issue(c: &StoredCell, reason: Option<String>) -> CellIssue {
    CellIssue {
        id: c.id.clone(),
        variant: c.variant.clone(),
        seed: c.seed,
        reason,
    }
}

fn variant_infos(store: &Store) -> Vec<VariantInfo> {
    store
        .variants
        .iter()
        .map(|label| {
            let cells: Vec<&StoredCell> =
                store.cells.iter().filter(|c| &c.variant == label).collect();
            let seeds = |f: fn(&CellStatus) -> bool| -> Vec<u64> {
                cells
                    .iter()
                    .filter(|c| f(&c.status))
                    .map(|c| c.seed)
                    .collect()
            };
            let (base, grid) = super::sweep::parse_grid_label(label)
                .unwrap_or_else(|| (label.clone(), Vec::new()));
            VariantInfo {
                base,
                grid,
                label: label.clone(),
                model: cells.first().map(|c| c.model.clone()).unwrap_or_default(),
                constant: cells.iter().any(|c| c.is_constant()),
                ifu: cells.iter().find_map(|c| c.ifu.clone()),
                finished: seeds(|s| matches!(s, CellStatus::Finished(_))),
                failed: seeds(|s| matches!(s, CellStatus::Failed(_))),
                unfinished: seeds(|s| matches!(s, CellStatus::Unfinished)),
            }
        })
        .collect()
}

/// The reference, a base label ([`VariantInfo::base`]): the one asked for, else `HTLNet`,
/// else the first non-constant variant's. Outside a grid the base label is the label.
fn choose_reference(
    variants: &[VariantInfo],
    asked: Option<&str>,
) -> Result<Option<String>, ReportError> {
    let models = || variants.iter().filter(|v| !v.constant);
    if let Some(a) = asked {
        if variants.iter().any(|v| v.base == a) {
            return Ok(Some(a.to_string()));
        }
        if let Some(v) = variants.iter().find(|v| v.label == a) {
            return Err(ReportError::GridPointReference {
                name: a.to_string(),
                base: v.base.clone(),
            });
        }
        let mut available: Vec<String> = Vec::new();
        for v in variants {
            if !available.contains(&v.base) {
                available.push(v.base.clone());
            }
        }
        return Err(ReportError::UnknownReference {
            name: a.to_string(),
            available,
        });
    }
    Ok(models()
        .find(|v| v.base == "HTLNet")
        .or_else(|| models().next())
        .map(|v| v.base.clone()))
}

/// Whether two grid values are the same (equal text, or equal numbers: `0.5` and `0.50`).
fn same_value(a: &str, b: &str) -> bool {
    a == b
        || matches!(
            (a.parse::<f64>(), b.parse::<f64>()),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The variant of the reference base label `reference` at `v`'s grid point: the one whose
/// grid values agree with `v`'s on every grid key both carry. Outside a grid that is the
/// reference variant itself. A grid key only one side carries (a variant's own `grid:`)
/// does not decide; when several reference variants agree (the reference has a grid key
/// `v` lacks), or none does, there is no partner and the error says so.
pub fn reference_at_point<'a>(
    variants: &'a [VariantInfo],
    reference: &str,
    v: &VariantInfo,
) -> Result<&'a VariantInfo, String> {
    let matching: Vec<&VariantInfo> = variants
        .iter()
        .filter(|r| r.base == reference)
        .filter(|r| {
            r.grid.iter().all(|(k, x)| {
                v.grid
                    .iter()
                    .find(|(kv, _)| kv == k)
                    .is_none_or(|(_, y)| same_value(x, y))
            })
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "{} is not compared: no {reference} variant has the same grid values",
            v.label
        )),
        many => Err(format!(
            "{} is not compared: {} {reference} variants match its grid values ({}); give both the same grid keys",
            v.label,
            many.len(),
            many.iter().map(|r| r.label.as_str()).collect::<Vec<_>>().join("; ")
        )),
    }
}

fn test_metrics(c: &StoredCell) -> Option<&BTreeMap<String, BTreeMap<String, Option<f64>>>> {
    match &c.status {
        CellStatus::Finished(m) => m.get("test"),
        _ => None,
    }
}

/// The stored task chain in chain order (tasks that some finished cell has test metrics
/// for), with its kinds; then any other task in the metrics, by name, as [`TaskKind::Other`].
fn task_infos(store: &Store) -> Vec<TaskInfo> {
    let mut seen: Vec<&String> = Vec::new();
    for c in &store.cells {
        for t in test_metrics(c).into_iter().flat_map(|m| m.keys()) {
            if !seen.contains(&t) {
                seen.push(t);
            }
        }
    }
    let mut out: Vec<TaskInfo> = store
        .tasks
        .iter()
        .filter(|t| seen.contains(&&t.name))
        .map(|t| TaskInfo {
            name: t.name.clone(),
            kind: match t.kind {
                StoredKind::Binary => TaskKind::Binary,
                StoredKind::Regression => TaskKind::Core,
            },
        })
        .collect();
    let mut rest: Vec<&String> = seen
        .into_iter()
        .filter(|t| !store.tasks.iter().any(|c| &c.name == *t))
        .collect();
    rest.sort();
    out.extend(rest.into_iter().map(|t| TaskInfo {
        name: t.clone(),
        kind: TaskKind::Other,
    }));
    out
}

/// Shown metrics first, then the other catalogue metrics, each in catalogue order; metrics
/// outside the catalogue last, by name.
fn metric_rank(m: &str) -> (usize, usize, String) {
    match catalogue::CATALOGUE.iter().position(|d| d.key == m) {
        Some(i) => (
            usize::from(!catalogue::CATALOGUE[i].in_tables),
            i,
            String::new(),
        ),
        None => (2, 0, m.to_string()),
    }
}

fn metric_keys(store: &Store, tasks: &[TaskInfo]) -> Vec<MetricKey> {
    let mut keys: Vec<MetricKey> = Vec::new();
    for c in &store.cells {
        if let Some(ts) = test_metrics(c) {
            for (t, ms) in ts {
                for m in ms.keys() {
                    let k = MetricKey {
                        task: t.clone(),
                        metric: m.clone(),
                    };
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
        }
    }
    keys.sort_by_key(|k| {
        (
            tasks.iter().position(|t| t.name == k.task),
            metric_rank(&k.metric),
        )
    });
    keys
}

fn is_shown(tasks: &[TaskInfo], k: &MetricKey) -> bool {
    let task = match tasks.iter().find(|t| t.name == k.task).map(|t| t.kind) {
        Some(TaskKind::Binary) => MetricTask::Binary,
        Some(TaskKind::Core) => MetricTask::Regression,
        _ => return false,
    };
    catalogue::find(&k.metric).is_some_and(|d| d.in_tables && d.task == task)
}

fn summarise_metric(store: &Store, variant: &str, key: &MetricKey) -> MetricSummary {
    let values: Vec<(u64, f64)> = store
        .cells
        .iter()
        .filter(|c| c.variant == variant)
        .filter_map(|c| {
            let v = test_metrics(c)?
                .get(&key.task)?
                .get(&key.metric)?
                .as_ref()?;
            v.is_finite().then_some((c.seed, *v))
        })
        .collect();
    let xs: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
    let n = xs.len();
    MetricSummary {
        variant: variant.to_string(),
        key: key.clone(),
        n,
        mean: (n > 0).then(|| stats::mean(&xs)),
        std: (n > 1).then(|| stats::std_dev(&xs)),
        ci95: stats::ci95(&xs),
        values,
    }
}

/// The power at which [`Comparison::min_detectable`] and [`Comparison::seeds_needed`] are
/// computed.
pub const POWER: f64 = 0.8;

/// The largest seed count [`Comparison::seeds_needed`] reports.
pub const MAX_SEEDS_NEEDED: usize = 10_000;

/// Adjusts the p-values of the family (comparisons of non-constant, non-reference variants on
/// the shown metrics, i.e. those the tables mark) with `correction`, and sets each member's
/// `p_adjusted` and `verdict` from it. Comparisons outside the family keep their raw verdict.
pub fn adjust_family(
    comparisons: &mut [Comparison],
    in_family: impl Fn(&Comparison) -> bool,
    correction: Correction,
    alpha: f64,
) {
    let members: Vec<(usize, TestResult)> = comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| in_family(c))
        .filter_map(|(i, c)| c.test.map(|t| (i, t)))
        .collect();
    let raw: Vec<f64> = members.iter().map(|(_, t)| t.p_value).collect();
    let adjusted = power::adjust_p_values(&raw, correction);
    for ((i, t), p) in members.into_iter().zip(adjusted) {
        let c = &mut comparisons[i];
        c.p_adjusted = Some(p);
        c.verdict = Some(stats::verdict(
            &TestResult { p_value: p, ..t },
            alpha,
            c.key.higher_is_better(),
        ));
        c.under_powered = c.verdict == Some(Verdict::NotSignificant)
            && match (c.delta, c.min_detectable) {
                (Some(d), Some(m)) => d.abs() < m,
                _ => false,
            };
    }
}

/// Pairs `a` (a variant) with `b` (the reference) by seed and tests them (raw p-value;
/// [`adjust_family`] applies the correction), with the power figures of the comparison.
pub fn compare(a: &MetricSummary, b: &MetricSummary, opts: &ReportOptions) -> Comparison {
    let mut seeds = Vec::new();
    let mut xa = Vec::new();
    let mut xb = Vec::new();
    for (seed, va) in &a.values {
        if let Some((_, vb)) = b.values.iter().find(|(s, _)| s == seed) {
            seeds.push(*seed);
            xa.push(*va);
            xb.push(*vb);
        }
    }
    let diffs: Vec<f64> = xa.iter().zip(&xb).map(|(x, y)| x - y).collect();
    let delta = (!diffs.is_empty()).then(|| stats::mean(&diffs));
    let ref_mean = (!xb.is_empty()).then(|| stats::mean(&xb));
    let delta_rel = match (delta, ref_mean) {
        (Some(d), Some(m)) if m != 0.0 => Some(d / m.abs()),
        _ => None,
    };
    let result = match opts.test {
        TestKind::PairedT => stats::paired_t_test(&xa, &xb),
        TestKind::Wilcoxon => stats::wilcoxon_signed_rank(&xa, &xb),
    };
    let (test, verdict, no_test) = match result {
        Ok(t) => (
            Some(t),
            Some(stats::verdict(&t, opts.alpha, a.key.higher_is_better())),
            None,
        ),
        Err(e) => (None, None, Some(e.to_string())),
    };
    let sd_diff = (diffs.len() >= 2).then(|| stats::std_dev(&diffs));
    let min_detectable = sd_diff
        .filter(|sd| sd.is_finite() && *sd > 0.0)
        .and_then(|sd| {
            power::min_detectable_dz_cached(diffs.len(), opts.alpha, POWER).map(|dz| dz * sd)
        });
    let seeds_needed = match (delta, sd_diff) {
        (Some(d), Some(sd)) => power::seeds_needed(d, sd, opts.alpha, POWER, MAX_SEEDS_NEEDED),
        _ => None,
    };
    let under_powered = verdict == Some(Verdict::NotSignificant)
        && match (delta, min_detectable) {
            (Some(d), Some(m)) => d.abs() < m,
            _ => false,
        };
    Comparison {
        variant: a.variant.clone(),
        reference: b.variant.clone(),
        key: a.key.clone(),
        seeds,
        delta,
        delta_rel,
        reference_mean: ref_mean,
        delta_ci95: stats::ci95(&diffs),
        test,
        p_adjusted: None,
        raw_verdict: verdict,
        verdict,
        sd_diff,
        min_detectable,
        seeds_needed,
        under_powered,
        no_test,
    }
}

/// Mean over seeds per x of `(x, value)` series (one per seed); NaN values are skipped.
pub fn mean_by_x(series: &[Vec<(f64, f64)>]) -> Vec<MeanPoint> {
    let mut acc: BTreeMap<i64, (f64, Vec<f64>)> = BTreeMap::new();
    for s in series {
        for &(x, y) in s {
            if y.is_finite() {
                // x values are integers (epochs, steps): key on the rounded value.
                acc.entry(x.round() as i64)
                    .or_insert((x, Vec::new()))
                    .1
                    .push(y);
            }
        }
    }
    acc.into_values()
        .map(|(x, ys)| MeanPoint {
            x,
            mean: stats::mean(&ys),
            n: ys.len(),
        })
        .collect()
}

fn finished_cells<'a>(store: &'a Store, variant: &'a str) -> impl Iterator<Item = &'a StoredCell> {
    store
        .cells
        .iter()
        .filter(move |c| c.variant == variant && matches!(c.status, CellStatus::Finished(_)))
}

fn curve_series(store: &Store, variants: &[VariantInfo], tasks: &[TaskInfo]) -> Vec<CurveSeries> {
    let mut out = Vec::new();
    for t in tasks {
        for v in variants {
            let per_seed: Vec<Vec<(f64, f64)>> = finished_cells(store, &v.label)
                .filter_map(|c| c.curves.as_ref())
                .filter_map(|cv| {
                    let i = cv.tasks.iter().position(|x| x == &t.name)?;
                    Some(
                        cv.rows
                            .iter()
                            .filter_map(|r| r.valid_loss[i].map(|y| (r.epoch as f64, y)))
                            .collect(),
                    )
                })
                .collect();
            let points = mean_by_x(&per_seed);
            if !points.is_empty() {
                out.push(CurveSeries {
                    variant: v.label.clone(),
                    task: t.name.clone(),
                    points,
                });
            }
        }
    }
    out
}

fn grad_series(store: &Store, variants: &[VariantInfo], tasks: &[TaskInfo]) -> Vec<GradSeries> {
    let mut out = Vec::new();
    for v in variants {
        let cells: Vec<&StoredCell> = finished_cells(store, &v.label)
            .filter(|c| !c.grad_stats.is_empty())
            .collect();
        if cells.is_empty() {
            continue;
        }
        let mut names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
        for c in &cells {
            for g in &c.grad_stats {
                if !names.contains(&g.task) {
                    names.push(g.task.clone());
                }
            }
        }
        for t in names {
            let pick = |f: fn(&super::load::GradStatRow) -> f64| -> Vec<Vec<(f64, f64)>> {
                cells
                    .iter()
                    .map(|c| {
                        c.grad_stats
                            .iter()
                            .filter(|g| g.task == t)
                            .map(|g| (g.step as f64, f(g)))
                            .collect()
                    })
                    .collect()
            };
            let raw = mean_by_x(&pick(|g| g.norm_raw));
            let adjusted = mean_by_x(&pick(|g| g.norm_adjusted));
            if !raw.is_empty() || !adjusted.is_empty() {
                out.push(GradSeries {
                    variant: v.label.clone(),
                    task: t,
                    raw,
                    adjusted,
                });
            }
        }
    }
    out
}

/// The config with the label, seed and `options.ifu` removed: two variants whose keys are
/// equal differ only in the IFU.
fn ifu_key(c: &StoredCell) -> String {
    let mut v = c.config.clone();
    if let Some(m) = v.as_mapping_mut() {
        m.remove("variant");
        m.remove("seed");
        if let Some(o) = m.get_mut("options").and_then(|o| o.as_mapping_mut()) {
            o.remove("ifu");
        }
    }
    serde_yaml::to_string(&v).unwrap_or_default()
}

fn ifu_pairs(store: &Store, variants: &[VariantInfo], comparisons: &[Comparison]) -> Vec<IfuPair> {
    let key_of = |label: &str| store.cells.iter().find(|c| c.variant == label).map(ifu_key);
    let has_values = |v: &VariantInfo| !v.finished.is_empty();
    let mut out = Vec::new();
    for concat in variants
        .iter()
        .filter(|v| v.ifu.as_deref() == Some("concat") && has_values(v))
    {
        let k = key_of(&concat.label);
        let exact = variants.iter().find(|v| {
            v.ifu.as_deref() == Some("attention") && has_values(v) && key_of(&v.label) == k
        });
        // The fallback: the reference variant this one is compared with (at its grid point).
        let reference = comparisons
            .iter()
            .find(|c| c.variant == concat.label)
            .map(|c| c.reference.as_str());
        let pair = match exact {
            Some(a) => Some(IfuPair {
                attention: a.label.clone(),
                concat: concat.label.clone(),
                exact: true,
            }),
            None => reference
                .and_then(|r| variants.iter().find(|v| v.label == r))
                .filter(|r| r.ifu.as_deref() == Some("attention") && has_values(r))
                .map(|r| IfuPair {
                    attention: r.label.clone(),
                    concat: concat.label.clone(),
                    exact: false,
                }),
        };
        out.extend(pair);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_by_x_groups_and_skips_nan() {
        let m = mean_by_x(&[
            vec![(0.0, 1.0), (1.0, 2.0), (2.0, 5.0)],
            vec![(0.0, 3.0), (1.0, f64::NAN)],
        ]);
        assert_eq!(m.len(), 3);
        assert_eq!((m[0].x, m[0].mean, m[0].n), (0.0, 2.0, 2));
        assert_eq!((m[1].mean, m[1].n), (2.0, 1));
        assert_eq!((m[2].mean, m[2].n), (5.0, 1));
    }

    fn summary(values: &[(u64, f64)], metric: &str) -> MetricSummary {
        MetricSummary {
            variant: "v".into(),
            key: MetricKey {
                task: "t".into(),
                metric: metric.into(),
            },
            values: values.to_vec(),
            n: values.len(),
            mean: None,
            std: None,
            ci95: None,
        }
    }

    #[test]
    fn compare_pairs_by_seed() {
        // Seeds 1 and 3 pair; seed 2 of `a` and seed 4 of `b` have no partner.
        let a = summary(&[(1, 0.8), (2, 0.1), (3, 0.9)], "auc");
        let b = summary(&[(3, 0.7), (1, 0.6), (4, 0.0)], "auc");
        let c = compare(&a, &b, &ReportOptions::default());
        assert_eq!(c.seeds, vec![1, 3]);
        assert!((c.delta.unwrap() - 0.2).abs() < 1e-12);
        // Identical differences: p = 0, so a significant improvement in AUC.
        assert_eq!(c.verdict, Some(Verdict::Better));
        let one = compare(&summary(&[(1, 0.8)], "auc"), &b, &ReportOptions::default());
        assert!(one.test.is_none());
        assert!(one.no_test.unwrap().contains("at least 2 pairs"));
    }
}

//! Metrics against a numeric grid key (e.g. `synthetic.dependence`): the points the
//! report's sweep figures draw, one line per variant, each point the mean over seeds with
//! its 95% t-interval ([`MetricSummary`]).
//!
//! The report reads only the result store, so the grid key values come from the variant
//! labels the grid expansion writes: `<label> [key=value, key=value, …]`, keys in sorted
//! order of the full grid key, the prefix (`options.`, `train.`, `grad.`, `synthetic.`)
//! dropped.

//!
//! The sweep's verdicts ([`GridSweep::verdicts`]) read the paired comparisons the analysis
//! made, each variant against the reference at the same grid point, with the p-value
//! adjusted within that grid point's family, and name each one ([`SweepVerdict`]).

use super::analysis::{Comparison, MetricKey, MetricSummary, VariantInfo};
use super::stats::Verdict;

/// A grid point as parsed from a label: `(key, value)` pairs in label order.
type GridPoint = Vec<(String, String)>;

/// One point of a sweep line.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// The grid key's value.
    pub x: f64,
    /// Mean over seeds.
    pub mean: f64,
    /// 95% t-interval of the mean (`None` with fewer than 2 seeds).
    pub ci95: Option<(f64, f64)>,
    /// Seeds with a value.
    pub n: usize,
}

/// One line: the variants that differ only in the swept key, on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepLine {
    /// The label without the swept key: `<base>` or `<base> [other=value, …]`.
    pub label: String,
    /// The label before its grid suffix.
    pub base: String,
    /// The other grid keys' `key=value` pairs, joined with `, ` (empty when none).
    pub others: String,
    /// Whether these are constant-reference rows.
    pub constant: bool,
    /// Task and metric.
    pub key: MetricKey,
    /// Points in increasing x.
    pub points: Vec<SweepPoint>,
}

/// A comparison with the reference at one grid point, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepVerdict {
    /// Significantly better than the reference (adjusted p ≤ alpha).
    Win,
    /// Significantly worse than the reference (adjusted p ≤ alpha).
    Lose,
    /// Not significant, and the 95% t-interval of the mean paired difference lies within
    /// ±margin, the margin a fraction ([`super::ReportOptions::tie_margin`], default 0.5%)
    /// of the reference's mean on the paired seeds: equivalent within that margin (a
    /// confidence-interval inclusion test, at 95% where the usual TOST uses 90%).
    Tie,
    /// Not significant, and the 95% interval reaches beyond ±margin (or is undefined): the
    /// run can neither tell the variants apart nor call them equivalent.
    UnderPowered,
    /// No test (fewer than 2 paired seeds).
    NoTest,
}

/// The word for a comparison: from its verdict after the correction, and for a
/// not-significant one whether the 95% interval of the paired differences lies within
/// ±`margin` × |the reference's mean on the paired seeds|.
pub fn sweep_verdict(c: &Comparison, margin: f64) -> SweepVerdict {
    match c.verdict {
        None => SweepVerdict::NoTest,
        Some(Verdict::Better) => SweepVerdict::Win,
        Some(Verdict::Worse) => SweepVerdict::Lose,
        Some(Verdict::NotSignificant) => match (c.delta_ci95, c.reference_mean) {
            (Some((lo, hi)), Some(r)) if lo >= -margin * r.abs() && hi <= margin * r.abs() => {
                SweepVerdict::Tie
            }
            _ => SweepVerdict::UnderPowered,
        },
    }
}

/// One variant line's comparison at one grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictPoint {
    /// The swept key's value.
    pub x: f64,
    /// The reference variant it is paired with (the reference at the same grid point).
    pub reference: String,
    /// Mean paired difference (variant − reference).
    pub delta: Option<f64>,
    /// The p-value adjusted within the grid point's family.
    pub p_adjusted: Option<f64>,
    /// The smallest difference the run detects with 80% power.
    pub min_detectable: Option<f64>,
    /// The 95% t-interval of the paired differences.
    pub delta_ci95: Option<(f64, f64)>,
    /// The tie margin in the metric's units (the relative margin × |reference mean|).
    pub margin: Option<f64>,
    /// The verdict.
    pub verdict: SweepVerdict,
}

/// One variant line against the reference along the swept key, on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictRow {
    /// The label without the swept key (as [`SweepLine::label`]).
    pub label: String,
    /// Task and metric.
    pub key: MetricKey,
    /// Points in increasing x (only the values the line has).
    pub points: Vec<VerdictPoint>,
}

/// Every line of one numeric grid key.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSweep {
    /// The key as it appears in the labels (`dependence`).
    pub key: String,
    /// Its values, increasing.
    pub values: Vec<f64>,
    /// Lines per shown metric, in variant order within each metric, metrics in `shown`
    /// order.
    pub lines: Vec<SweepLine>,
    /// Each compared (non-reference, non-constant) line against the reference, per shown
    /// metric, in the order of `lines`.
    pub verdicts: Vec<VerdictRow>,
}

/// Splits a grid variant label `base [k=v, k2=v2]` into the base and its pairs; `None`
/// for a label without a well-formed grid suffix.
pub fn parse_grid_label(label: &str) -> Option<(String, Vec<(String, String)>)> {
    let inner = label.strip_suffix(']')?;
    let at = inner.rfind(" [")?;
    let (base, pairs) = (&inner[..at], &inner[at + 2..]);
    let pairs: Option<Vec<(String, String)>> = pairs
        .split(", ")
        .map(|p| {
            p.split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    Some((base.to_string(), pairs?))
}

/// The sweeps of every grid key whose values are all numbers with at least two distinct
/// values, over the `shown` metrics, with the verdicts of the `comparisons` (ties within
/// ±`tie_margin` of the reference's mean).
pub fn grid_sweeps(
    variants: &[VariantInfo],
    summaries: &[MetricSummary],
    shown: &[MetricKey],
    comparisons: &[Comparison],
    tie_margin: f64,
) -> Vec<GridSweep> {
    let parsed: Vec<(&VariantInfo, String, GridPoint)> = variants
        .iter()
        .filter_map(|v| parse_grid_label(&v.label).map(|(b, p)| (v, b, p)))
        .collect();
    let mut key_names: Vec<&String> = Vec::new();
    for (_, _, pairs) in &parsed {
        for (k, _) in pairs {
            if !key_names.contains(&k) {
                key_names.push(k);
            }
        }
    }
    let mut out = Vec::new();
    for key in key_names {
        // (variant, base, others, x) of every variant with this key
        let mut members = Vec::new();
        let mut numeric = true;
        for (v, base, pairs) in &parsed {
            let Some((_, raw)) = pairs.iter().find(|(k, _)| k == key) else {
                continue;
            };
            match raw.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    let others: Vec<String> = pairs
                        .iter()
                        .filter(|(k, _)| k != key)
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    members.push((*v, base.clone(), others.join(", "), x));
                }
                _ => numeric = false,
            }
        }
        let mut values: Vec<f64> = members.iter().map(|m| m.3).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        if !numeric || values.len() < 2 {
            continue;
        }
        let mut line_ids: Vec<(String, String, bool)> = Vec::new();
        for (v, base, others, _) in &members {
            let id = (base.clone(), others.clone(), v.constant);
            if !line_ids.contains(&id) {
                line_ids.push(id);
            }
        }
        let mut lines = Vec::new();
        let mut verdicts = Vec::new();
        for mk in shown {
            for (base, others, constant) in &line_ids {
                let mut points: Vec<SweepPoint> = members
                    .iter()
                    .filter(|(v, b, o, _)| b == base && o == others && v.constant == *constant)
                    .filter_map(|(v, _, _, x)| {
                        let s = summaries
                            .iter()
                            .find(|s| s.variant == v.label && &s.key == mk)?;
                        Some(SweepPoint {
                            x: *x,
                            mean: s.mean?,
                            ci95: s.ci95,
                            n: s.n,
                        })
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                points.sort_by(|a, b| a.x.total_cmp(&b.x));
                let label = if others.is_empty() {
                    base.clone()
                } else {
                    format!("{base} [{others}]")
                };
                let mut compared: Vec<(f64, &Comparison)> = members
                    .iter()
                    .filter(|(v, b, o, _)| b == base && o == others && !v.constant)
                    .filter_map(|(v, _, _, x)| {
                        let c = comparisons
                            .iter()
                            .find(|c| c.variant == v.label && &c.key == mk)?;
                        Some((*x, c))
                    })
                    .collect();
                compared.sort_by(|a, b| a.0.total_cmp(&b.0));
                if !compared.is_empty() {
                    verdicts.push(VerdictRow {
                        label: label.clone(),
                        key: mk.clone(),
                        points: compared
                            .into_iter()
                            .map(|(x, c)| VerdictPoint {
                                x,
                                reference: c.reference.clone(),
                                delta: c.delta,
                                p_adjusted: c.p_adjusted,
                                min_detectable: c.min_detectable,
                                delta_ci95: c.delta_ci95,
                                margin: c.reference_mean.map(|r| tie_margin * r.abs()),
                                verdict: sweep_verdict(c, tie_margin),
                            })
                            .collect(),
                    });
                }
                lines.push(SweepLine {
                    label,
                    base: base.clone(),
                    others: others.clone(),
                    constant: *constant,
                    key: mk.clone(),
                    points,
                });
            }
        }
        if !lines.is_empty() {
            out.push(GridSweep {
                key: key.clone(),
                values,
                lines,
                verdicts,
            });
        }
    }
    out
}

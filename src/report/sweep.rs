//! Metrics against a numeric grid key (e.g. `synthetic.dependence`): the points the
//! report's sweep figures draw, one line per variant, each point the mean over seeds with
//! its 95% t-interval ([`MetricSummary`]).
//!
//! The report reads only the result store, so the grid key values come from the variant
//! labels the grid expansion writes: `<label> [key=value, key=value, …]`, keys in sorted
//! order of the full grid key, the prefix (`options.`, `train.`, `grad.`, `synthetic.`)
//! dropped.

use super::analysis::{MetricKey, MetricSummary, VariantInfo};

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
/// values, over the `shown` metrics.
pub fn grid_sweeps(
    variants: &[VariantInfo],
    summaries: &[MetricSummary],
    shown: &[MetricKey],
) -> Vec<GridSweep> {
    let parsed: Vec<(&VariantInfo, String, Vec<(String, String)>)> = variants
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
            });
        }
    }
    out
}

//! Aggregation of stored cell metrics over seeds (test split). Pure data in, data out; the
//! Markdown at the end only formats what was computed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::store::{
    MetricTable, MetricsState, ResultStore, StoreError, CELLS_CSV, SUMMARY_CSV, SUMMARY_MD,
};

/// One stored cell as the report sees it.
#[derive(Debug, Clone)]
pub struct CellMetrics {
    /// Variant label.
    pub variant: String,
    /// Model name.
    pub model: String,
    /// Seed.
    pub seed: u64,
    /// `metrics.json` content (empty when failed).
    pub metrics: MetricTable,
    /// Failure reason, if the cell failed.
    pub failed: Option<String>,
}

/// One `summary.csv` row.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Variant label.
    pub variant: String,
    /// Task.
    pub task: String,
    /// Metric.
    pub metric: String,
    /// Mean over seeds with a defined value.
    pub mean: f64,
    /// Sample standard deviation (NaN when n < 2).
    pub std: f64,
    /// Seeds with a defined value.
    pub n: usize,
}

/// `cells.csv` in long form: `variant,model,seed,split,task,metric,value` (empty value =
/// undefined; failed cells have one row with metric `failed`).
pub fn long_rows(cells: &[CellMetrics]) -> String {
    let mut s = String::from("variant,model,seed,split,task,metric,value\n");
    for c in cells {
        if c.failed.is_some() {
            let _ = writeln!(
                s,
                "{},{},{},,,failed,",
                csv_field(&c.variant),
                c.model,
                c.seed
            );
            continue;
        }
        for (split, tasks) in &c.metrics {
            for (task, metrics) in tasks {
                for (metric, v) in metrics {
                    let val = v.map(|x| format!("{x}")).unwrap_or_default();
                    let _ = writeln!(
                        s,
                        "{},{},{},{split},{},{metric},{val}",
                        csv_field(&c.variant),
                        c.model,
                        c.seed,
                        csv_field(task)
                    );
                }
            }
        }
    }
    s
}

/// Quotes a CSV field when needed.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Mean / std / n per (variant, task, metric) on the test split, variants in `order`.
pub fn summarise(cells: &[CellMetrics], order: &[String]) -> Vec<SummaryRow> {
    let mut acc: BTreeMap<(usize, String, String, String), Vec<f64>> = BTreeMap::new();
    let mut task_order: Vec<String> = Vec::new();
    for c in cells {
        let Some(vi) = order.iter().position(|v| v == &c.variant) else {
            continue;
        };
        if let Some(tasks) = c.metrics.get("test") {
            for (task, metrics) in tasks {
                if !task_order.contains(task) {
                    task_order.push(task.clone());
                }
                for (metric, v) in metrics {
                    let e = acc
                        .entry((vi, task.clone(), metric.clone(), c.variant.clone()))
                        .or_default();
                    if let Some(x) = v {
                        e.push(*x);
                    }
                }
            }
        }
    }
    acc.into_iter()
        .map(|((_, task, metric, variant), xs)| {
            let n = xs.len();
            let mean = if n > 0 {
                super::stats::mean(&xs)
            } else {
                f64::NAN
            };
            let std = if n > 1 {
                super::stats::std_dev(&xs)
            } else {
                f64::NAN
            };
            SummaryRow {
                variant,
                task,
                metric,
                mean,
                std,
                n,
            }
        })
        .collect()
}

/// The metrics shown in the printed table (the catalogue's `in_tables` entries), in order.
pub fn shown() -> Vec<&'static str> {
    crate::metrics::CATALOGUE
        .iter()
        .filter(|m| m.in_tables)
        .map(|m| m.key)
        .collect()
}

/// A Markdown summary: one row per variant, one column per task × metric (mean ± std).
/// Columns follow `tasks` (the chain order); tasks not listed come after, as first seen.
pub fn summary_markdown(
    name: &str,
    rows: &[SummaryRow],
    cells: &[CellMetrics],
    tasks: &[String],
) -> String {
    let shown = shown();
    let mut variants: Vec<&str> = Vec::new();
    let mut cols: Vec<(String, String)> = Vec::new();
    for r in rows {
        if !variants.contains(&r.variant.as_str()) {
            variants.push(&r.variant);
        }
        if shown.contains(&r.metric.as_str())
            && !cols.iter().any(|(t, m)| t == &r.task && m == &r.metric)
        {
            cols.push((r.task.clone(), r.metric.clone()));
        }
    }
    // chain order first, then any other task as first seen; metric order as in the catalogue
    let task_order: Vec<String> = cols.iter().fold(tasks.to_vec(), |mut v, (t, _)| {
        if !v.contains(t) {
            v.push(t.clone());
        }
        v
    });
    cols.sort_by_key(|(t, m)| {
        (
            task_order.iter().position(|x| x == t),
            shown.iter().position(|x| x == m),
        )
    });
    let mut s = format!("# {name}: test metrics (mean ± std over seeds)\n\n| variant | n |");
    for (t, m) in &cols {
        let _ = write!(s, " {t} {m} |");
    }
    s.push_str("\n|---|---|");
    for _ in &cols {
        s.push_str("---|");
    }
    s.push('\n');
    for v in &variants {
        let n = rows
            .iter()
            .filter(|r| r.variant == *v)
            .map(|r| r.n)
            .max()
            .unwrap_or(0);
        let _ = write!(s, "| {v} | {n} |");
        for (t, m) in &cols {
            match rows
                .iter()
                .find(|r| r.variant == *v && &r.task == t && &r.metric == m)
            {
                Some(r) if r.n > 0 && r.std.is_finite() => {
                    let _ = write!(s, " {:.4} ± {:.4} |", r.mean, r.std);
                }
                Some(r) if r.n > 0 => {
                    let _ = write!(s, " {:.4} |", r.mean);
                }
                _ => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    let failed: Vec<&CellMetrics> = cells.iter().filter(|c| c.failed.is_some()).collect();
    if !failed.is_empty() {
        s.push_str("\nFailed cells:\n\n");
        for c in failed {
            let _ = writeln!(
                s,
                "- {} seed {}: {}",
                c.variant,
                c.seed,
                c.failed.as_deref().unwrap_or("")
            );
        }
    }
    let relative = |m: &str| m.starts_with("nrmse") || m.starts_with("nmae");
    if cols.iter().any(|(_, m)| relative(m)) {
        s.push_str("\nNRMSE = RMSE / std(y), NMAE = MAE / mean|y − mean(y)| (relative to predicting the split's mean: 1 = as good as that constant, < 1 = better); RMSE / mean(y) and MAE / mean(y) are nrmse_mean / nmae_mean, with rmse, mae, mean, std, mad in summary.csv. `–` = undefined.\n");
    }
    s
}

/// Reads every cell the manifest lists and writes `cells.csv`, `summary.csv` and `summary.md`
/// (test split, every finished cell of the experiment, whatever `--only` selected; unfinished
/// cells and cells whose `metrics.json` is unusable are left out). Returns the Markdown, or
/// `None` when there is no manifest or it predates the stored cell list and task chain.
///
/// `htl run` calls it when the run ends, `htl report` before the report.
pub fn write_summaries(store: &ResultStore) -> Result<Option<String>, StoreError> {
    let Some(m) = store.read_manifest()? else {
        return Ok(None);
    };
    if m.cell_list.is_empty() || m.tasks.is_empty() {
        return Ok(None);
    }
    let tasks: Vec<String> = m.tasks.iter().map(|t| t.name.clone()).collect();
    let mut stored = Vec::new();
    for c in &m.cell_list {
        let entry = |metrics, failed| CellMetrics {
            variant: c.variant.clone(),
            model: c.model.clone(),
            seed: c.seed,
            metrics,
            failed,
        };
        if let MetricsState::Finished(metrics) = store.check_metrics(&c.id, &tasks)? {
            stored.push(entry(metrics, None));
        } else if store.has_failed(&c.id) {
            let reason = match store.read_failed(&c.id) {
                Ok(Some(f)) => f.reason,
                _ => "failed (no reason recorded)".to_string(),
            };
            stored.push(entry(Default::default(), Some(reason)));
        }
    }
    store.write_top(CELLS_CSV, &long_rows(&stored))?;
    let summary = summarise(&stored, &m.variants);
    store.write_top(SUMMARY_CSV, &super::csv::summary_csv(&summary))?;
    let md = summary_markdown(&m.experiment, &summary, &stored, &tasks);
    store.write_top(SUMMARY_MD, &md)?;
    Ok(Some(md))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(task: &str, metric: &str) -> SummaryRow {
        SummaryRow {
            variant: "A".into(),
            task: task.into(),
            metric: metric.into(),
            mean: 0.5,
            std: 0.1,
            n: 2,
        }
    }

    /// The NRMSE / NMAE footnote only where the table shows those metrics.
    #[test]
    fn nrmse_footnote_only_with_a_core_task() {
        let tasks = vec!["click".to_string(), "spend".to_string()];
        let binary = summary_markdown("x", &[row("click", "auc")], &[], &tasks);
        assert!(!binary.contains("NRMSE"), "{binary}");
        let hybrid = summary_markdown(
            "x",
            &[row("click", "auc"), row("spend", "nrmse")],
            &[],
            &tasks,
        );
        assert!(hybrid.contains("NRMSE = RMSE / std(y)"), "{hybrid}");
    }
}

//! `htl data inspect`: the numbers a researcher looks at before trusting a
//! run — rows, fields and vocabularies, per-task rates overall and per
//! split, funnel consistency, the core target's distribution, split sizes
//! and rule.

use std::fmt::Write as _;
use std::path::Path;

use super::cache::{load_cached, CacheStatus};
use super::error::DataError;
use super::source::DatasetSpec;
use super::types::{CatField, Dataset, TaskKind, TimeColumn};

/// Summary statistics of a loaded data set (all numbers; see [`format_inspection`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    /// The data set's name.
    pub name: String,
    /// Rows in all splits.
    pub rows: usize,
    /// Rows of train, valid, test.
    pub split_sizes: [usize; 3],
    /// How the rows were split, e.g. `time 8:1:1 on column time_ms`.
    pub split_rule: String,
    /// The time column of a time split: how it was ordered and its range.
    pub time: Option<TimeColumn>,
    /// Categorical fields with their vocabulary sizes (including the unseen slot 0).
    pub cat_fields: Vec<CatField>,
    /// Numeric fields.
    pub num_fields: Vec<String>,
    /// One entry per task, in chain order.
    pub tasks: Vec<TaskStats>,
    /// The regression (core) target's distribution, if the chain has one.
    pub core: Option<CoreStats>,
    /// What the cache did.
    pub cache: CacheStatus,
}

/// Per-task numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStats {
    /// Task name.
    pub name: String,
    /// Binary or regression.
    pub kind: TaskKind,
    /// Mean label over all rows: the positive rate of a binary task, the mean of the core target.
    pub overall: f64,
    /// The same per split: train, valid, test.
    pub per_split: [f64; 3],
    /// Rows with a label > 0 (positives of a binary task, non-zero core values).
    pub positives: usize,
    /// Share of rows with a label > 0 among rows where the previous task is
    /// positive (the conditional rate of the funnel); None for the first task
    /// or when the previous task is never positive.
    pub given_previous: Option<f64>,
    /// Rows with a label > 0 although the previous task is 0 (outside the
    /// funnel); None for the first task.
    pub outside_funnel: Option<usize>,
}

/// Distribution of the core (regression) target over all rows.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreStats {
    /// Task name.
    pub name: String,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub median: f64,
    /// Share of rows equal to 0.
    pub zero_frac: f64,
    /// Maximum.
    pub max: f64,
    /// Mean over the rows > 0 (0 if none).
    pub mean_positive: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Mean per split: train, valid, test.
    pub per_split_mean: [f64; 3],
    /// Share of zeros per split.
    pub per_split_zero_frac: [f64; 3],
}

/// Loads `spec` (through the cache unless `use_cache` is false) and summarises it.
pub fn inspect(
    spec: &DatasetSpec,
    base_dir: &Path,
    use_cache: bool,
) -> Result<Inspection, DataError> {
    let (ds, cache) = load_cached(spec, base_dir, use_cache)?;
    Ok(summarise(&ds, cache))
}

/// The numbers of an already loaded data set.
pub fn summarise(ds: &Dataset, cache: CacheStatus) -> Inspection {
    let splits = [&ds.train, &ds.valid, &ds.test];
    let rows: usize = splits.iter().map(|s| s.n).sum();
    let tasks_def = ds.tasks.tasks();
    let mut tasks = Vec::with_capacity(tasks_def.len());
    for (t, task) in tasks_def.iter().enumerate() {
        let mut per_split = [0.0; 3];
        let mut total = 0.0f64;
        let mut positives = 0usize;
        let (mut prev_pos, mut both, mut outside) = (0usize, 0usize, 0usize);
        for (k, s) in splits.iter().enumerate() {
            let y = &s.labels[t];
            let sum: f64 = y.iter().map(|&v| f64::from(v)).sum();
            per_split[k] = if s.n > 0 { sum / s.n as f64 } else { 0.0 };
            total += sum;
            positives += y.iter().filter(|&&v| v > 0.0).count();
            if t > 0 {
                let p = &s.labels[t - 1];
                for (a, b) in p.iter().zip(y) {
                    if *a > 0.0 {
                        prev_pos += 1;
                        if *b > 0.0 {
                            both += 1;
                        }
                    } else if *b > 0.0 {
                        outside += 1;
                    }
                }
            }
        }
        tasks.push(TaskStats {
            name: task.name.clone(),
            kind: task.kind,
            overall: if rows > 0 { total / rows as f64 } else { 0.0 },
            per_split,
            positives,
            given_previous: (t > 0 && prev_pos > 0).then(|| both as f64 / prev_pos as f64),
            outside_funnel: (t > 0).then_some(outside),
        });
    }
    let core = ds.tasks.core().map(|c| {
        let mut all: Vec<f64> = splits
            .iter()
            .flat_map(|s| s.labels[c].iter().map(|&v| f64::from(v)))
            .collect();
        let n = all.len().max(1) as f64;
        let mean = all.iter().sum::<f64>() / n;
        let zeros = all.iter().filter(|&&v| v == 0.0).count();
        let pos: Vec<f64> = all.iter().copied().filter(|&v| v > 0.0).collect();
        let mean_positive = if pos.is_empty() {
            0.0
        } else {
            pos.iter().sum::<f64>() / pos.len() as f64
        };
        all.sort_unstable_by(f64::total_cmp);
        let m = all.len();
        let (median, p99, max) = if m == 0 {
            (0.0, 0.0, 0.0)
        } else {
            let median = if m % 2 == 1 {
                all[m / 2]
            } else {
                0.5 * (all[m / 2 - 1] + all[m / 2])
            };
            let rank = ((0.99 * m as f64).ceil() as usize).clamp(1, m);
            (median, all[rank - 1], all[m - 1])
        };
        let mut per_split_mean = [0.0; 3];
        let mut per_split_zero_frac = [0.0; 3];
        for (k, s) in splits.iter().enumerate() {
            let y = &s.labels[c];
            if s.n > 0 {
                per_split_mean[k] = y.iter().map(|&v| f64::from(v)).sum::<f64>() / s.n as f64;
                per_split_zero_frac[k] =
                    y.iter().filter(|&&v| v == 0.0).count() as f64 / s.n as f64;
            }
        }
        CoreStats {
            name: tasks_def[c].name.clone(),
            mean,
            median,
            zero_frac: zeros as f64 / n,
            max,
            mean_positive,
            p99,
            per_split_mean,
            per_split_zero_frac,
        }
    });
    Inspection {
        name: ds.name.clone(),
        rows,
        split_sizes: [ds.train.n, ds.valid.n, ds.test.n],
        split_rule: ds.split_rule.clone(),
        time: ds.time.clone(),
        cat_fields: ds.cat_fields.clone(),
        num_fields: ds.num_fields.clone(),
        tasks,
        core,
        cache,
    }
}

/// 1234567 → `1,234,567`.
fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct(x: f64) -> String {
    if x > 0.0 && x < 0.0001 {
        format!("{:.4}%", 100.0 * x)
    } else {
        format!("{:.2}%", 100.0 * x)
    }
}

fn num(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(0.01..1e6).contains(&a) {
        format!("{x:.3e}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// Names in columns of `width` characters, wrapped at about 100 characters.
fn wrap(items: &[String], indent: &str) -> String {
    let width = items.iter().map(|s| s.len()).max().unwrap_or(0) + 3;
    let per_line = (96 / width.max(1)).max(1);
    let mut out = String::new();
    for line in items.chunks(per_line) {
        out.push_str(indent);
        let cells: Vec<String> = line.iter().map(|s| format!("{s:<width$}")).collect();
        out.push_str(cells.concat().trim_end());
        out.push('\n');
    }
    out
}

/// The inspection as a plain-text table (ends with a newline).
pub fn format_inspection(i: &Inspection) -> String {
    let mut o = String::new();
    let [tr, va, te] = i.split_sizes;
    let share = |k: usize| {
        if i.rows > 0 {
            format!("{:.1}%", 100.0 * k as f64 / i.rows as f64)
        } else {
            "-".into()
        }
    };
    let _ = writeln!(o, "data set    {}", i.name);
    let _ = writeln!(o, "rows        {}", thousands(i.rows));
    let _ = writeln!(
        o,
        "splits      train {} ({}) · valid {} ({}) · test {} ({})",
        thousands(tr),
        share(tr),
        thousands(va),
        share(va),
        thousands(te),
        share(te)
    );
    let _ = writeln!(o, "split rule  {}", i.split_rule);
    if let Some(t) = &i.time {
        let _ = writeln!(
            o,
            "time        column {} ordered as {}, from {} to {}",
            t.column, t.kind, t.min, t.max
        );
    }
    let _ = writeln!(
        o,
        "fields      {} categorical ({} embedding rows in all), {} numeric",
        i.cat_fields.len(),
        thousands(i.cat_fields.iter().map(|f| f.vocab).sum()),
        i.num_fields.len()
    );
    let _ = writeln!(o, "cache       {}", i.cache);
    if !i.cat_fields.is_empty() {
        let _ = writeln!(
            o,
            "\ncategorical fields (vocabulary incl. slot 0 for unseen / missing):"
        );
        let items: Vec<String> = i
            .cat_fields
            .iter()
            .map(|f| format!("{} {}", f.name, thousands(f.vocab)))
            .collect();
        o.push_str(&wrap(&items, "  "));
    }
    if !i.num_fields.is_empty() {
        let _ = writeln!(o, "\nnumeric fields (standardised on train):");
        o.push_str(&wrap(&i.num_fields, "  "));
    }

    // Task table.
    let _ = writeln!(o, "\ntasks (binary: positive rate; regression: mean):");
    let name_w = i
        .tasks
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        o,
        "  {:<name_w$}  {:<10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>12}  {:>12}  {:>14}",
        "task", "kind", "all", "train", "valid", "test", "rows > 0", "| previous", "outside funnel"
    );
    for t in &i.tasks {
        let show = |x: f64| match t.kind {
            TaskKind::Binary => pct(x),
            TaskKind::Regression => num(x),
        };
        let kind = match t.kind {
            TaskKind::Binary => "binary",
            TaskKind::Regression => "regression",
        };
        let _ = writeln!(
            o,
            "  {:<name_w$}  {:<10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>12}  {:>12}  {:>14}",
            t.name,
            kind,
            show(t.overall),
            show(t.per_split[0]),
            show(t.per_split[1]),
            show(t.per_split[2]),
            thousands(t.positives),
            t.given_previous.map_or("-".into(), pct),
            t.outside_funnel.map_or("-".into(), thousands),
        );
    }
    let _ = writeln!(
        o,
        "  (| previous: share > 0 among rows where the previous task is 1; outside funnel: rows > 0 where it is 0)"
    );
    if let Some(c) = &i.core {
        let _ = writeln!(o, "\ncore target {} (all rows):", c.name);
        let _ = writeln!(
            o,
            "  mean {}   median {}   zeros {}   max {}   p99 {}   mean of values > 0 {}",
            num(c.mean),
            num(c.median),
            pct(c.zero_frac),
            num(c.max),
            num(c.p99),
            num(c.mean_positive)
        );
        let _ = writeln!(
            o,
            "  per split: train mean {} zeros {} · valid mean {} zeros {} · test mean {} zeros {}",
            num(c.per_split_mean[0]),
            pct(c.per_split_zero_frac[0]),
            num(c.per_split_mean[1]),
            pct(c.per_split_zero_frac[1]),
            num(c.per_split_mean[2]),
            pct(c.per_split_zero_frac[2])
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_436_609), "1,436,609");
        assert_eq!(pct(0.1468), "14.68%");
        assert_eq!(pct(0.00001), "0.0010%");
        assert_eq!(num(1.05), "1.050");
        assert_eq!(num(116.36), "116.4");
        assert_eq!(num(0.0), "0.000");
        assert_eq!(num(3.0e7), "3.000e7");
    }
}

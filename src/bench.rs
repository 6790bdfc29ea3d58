//! `htl bench`: training throughput of each model and gradient strategy on a fixed synthetic
//! shape, median of many steps after warm-up, with peak memory. Each configuration runs in a
//! child process (`htl bench --one …`) so that its peak resident memory is its own.
//!
//! Shape (the reference of `../shared/BURN-0.22-NOTES.md` and `benches/pytorch_reference.py`):
//! batch 2048, 20 categorical fields × 10,000 values × dim 16 in per-field tables, three tasks
//! (click → long_view → watch_time: two BCE, one MSE), Adam. Models use their default
//! options with `embed_dim` = dim, except `shared_bottom`, which uses the reference MLP
//! (bottom 256-128, towers 64).

use std::fmt::Write as _;
use std::time::Instant;

use burn::optim::AdamConfig;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{CatField, Dataset, Split, Task, TaskChain, TaskKind};
use crate::model::{BuildInfo, ForwardCtx};
use crate::optim::GradSpec;
use crate::train::Prepared;
use crate::zoo::build_model;

/// The benchmark shape and budget.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchShape {
    /// Rows per step.
    pub batch: usize,
    /// Categorical fields.
    pub fields: usize,
    /// Values per field.
    pub vocab: usize,
    /// Embedding width.
    pub dim: usize,
    /// Timed steps.
    pub steps: usize,
    /// Untimed warm-up steps.
    pub warmup: usize,
    /// Worker threads of the backend (rayon pool).
    pub threads: usize,
}

/// One measured configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRow {
    /// Model name.
    pub model: String,
    /// Gradient strategy.
    pub grad: String,
    /// Backend.
    pub backend: String,
    /// Shape.
    pub shape: BenchShape,
    /// Median milliseconds per step.
    pub median_ms: f64,
    /// 10th percentile.
    pub p10_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Training samples per second at the median.
    pub samples_per_s: f64,
    /// Peak resident memory of the process (MiB), from /proc/self/status VmHWM.
    pub peak_rss_mib: f64,
}

fn synthetic_data(shape: &BenchShape, rows: usize) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    use rand::Rng;
    let cat: Vec<Vec<u32>> = (0..shape.fields)
        .map(|_| {
            (0..rows)
                .map(|_| rng.random_range(1..shape.vocab as u32))
                .collect()
        })
        .collect();
    let click: Vec<f32> = (0..rows)
        .map(|_| f32::from(rng.random::<f64>() < 0.3))
        .collect();
    let lv: Vec<f32> = click
        .iter()
        .map(|&c| {
            if c > 0.0 && rng.random::<f64>() < 0.4 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let wt: Vec<f32> = lv
        .iter()
        .map(|&l| {
            if l > 0.0 {
                (3.0 + rng.random::<f32>()).exp()
            } else {
                0.0
            }
        })
        .collect();
    let split = Split {
        n: rows,
        cat,
        num: vec![],
        labels: vec![click, lv, wt],
    };
    let tasks = TaskChain::new(vec![
        Task {
            name: "click".into(),
            kind: TaskKind::Binary,
        },
        Task {
            name: "long_view".into(),
            kind: TaskKind::Binary,
        },
        Task {
            name: "watch_time".into(),
            kind: TaskKind::Regression,
        },
    ])
    .expect("valid chain");
    Dataset {
        name: "bench".into(),
        cat_fields: (0..shape.fields)
            .map(|f| CatField {
                name: format!("f{f}"),
                vocab: shape.vocab,
            })
            .collect(),
        num_fields: vec![],
        tasks,
        train: split.clone(),
        valid: split.clone(),
        test: split,
        split_rule: "bench".into(),
        time: None,
    }
}

/// Model options used by the benchmark.
pub fn bench_options(model: &str, dim: usize) -> serde_yaml::Value {
    let text = match model {
        "shared_bottom" => format!("{{embed_dim: {dim}, bottom: [256, 128], tower: [64]}}"),
        _ => format!("{{embed_dim: {dim}}}"),
    };
    serde_yaml::from_str(&text).expect("yaml")
}

/// Peak resident memory of this process in MiB (0 where /proc is missing).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Measures one configuration in this process.
pub fn bench_one(
    model: &str,
    grad: &str,
    shape: &BenchShape,
    dev: &crate::run::DeviceChoice,
) -> Result<BenchRow, String> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(shape.threads.max(1))
        .build()
        .map_err(|e| e.to_string())?;
    pool.install(|| {
        let rows = shape.batch * 4;
        let data = synthetic_data(shape, rows);
        let prep = Prepared::new(&data, "standardize");
        let info = BuildInfo {
            vocabs: data.cat_fields.iter().map(|f| f.vocab).collect(),
            n_numeric: 0,
            tasks: data.tasks.clone(),
            init_bias: prep.init_bias.clone(),
        };
        let ad = dev.device.clone().autodiff();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut m = build_model(
            model,
            &bench_options(model, shape.dim),
            &info,
            &mut rng,
            &ad,
        )
        .map_err(|e| e.to_string())?;
        let spec = GradSpec::from_yaml(&serde_yaml::Value::String(grad.into()))
            .map_err(|e| e.to_string())?;
        let mut strategy = spec.build(3, 2);
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        let mut stepper = crate::train::Stepper::new(&m, 2);
        let mut ctx = ForwardCtx {
            training: true,
            rng: ChaCha8Rng::seed_from_u64(2),
            step: 0,
            record: false,
        };
        let mut times = Vec::with_capacity(shape.steps);
        for i in 0..shape.warmup + shape.steps {
            let start = (i % 4) * shape.batch;
            let rows: Vec<usize> = (start..start + shape.batch).collect();
            let t0 = Instant::now();
            let batch = prep.batch(&data.train, &rows, &ad);
            let (next, losses, _) = stepper.step(
                m,
                &batch,
                &mut ctx,
                strategy.as_deref_mut(),
                &mut optim,
                1e-3,
                false,
            );
            m = next;
            // Reading the losses synchronises the backend, so the time is the whole step.
            if losses.iter().any(|l| !l.is_finite()) {
                return Err(format!("{model}/{grad}: loss not finite at step {i}"));
            }
            ctx.step += 1;
            if i >= shape.warmup {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        let median = q(0.5);
        Ok(BenchRow {
            model: model.into(),
            grad: grad.into(),
            backend: format!("{}:{}", dev.backend, dev.name),
            shape: shape.clone(),
            median_ms: median,
            p10_ms: q(0.1),
            p90_ms: q(0.9),
            samples_per_s: shape.batch as f64 / (median / 1e3),
            peak_rss_mib: peak_rss_mib(),
        })
    })
}

/// The table printed by `htl bench`.
pub fn format_table(rows: &[BenchRow]) -> String {
    let mut s = String::from("| model | grad | backend | ms/step (median) | p10 | p90 | samples/s | vs plain step | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let plain = rows
            .iter()
            .find(|p| p.model == r.model && p.grad == "sum")
            .map(|p| p.median_ms);
        let ratio = plain.map_or(String::from("–"), |p| format!("{:.2}×", r.median_ms / p));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.0} |",
            r.model,
            r.grad,
            r.backend,
            r.median_ms,
            r.p10_ms,
            r.p90_ms,
            r.samples_per_s,
            ratio,
            r.peak_rss_mib
        );
    }
    s
}

/// CSV of the rows.
pub fn format_csv(rows: &[BenchRow]) -> String {
    let mut s = String::from("model,grad,backend,batch,fields,vocab,dim,threads,steps,median_ms,p10_ms,p90_ms,samples_per_s,peak_rss_mib\n");
    for r in rows {
        let b = &r.shape;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.1},{:.1}",
            r.model,
            r.grad,
            r.backend,
            b.batch,
            b.fields,
            b.vocab,
            b.dim,
            b.threads,
            b.steps,
            r.median_ms,
            r.p10_ms,
            r.p90_ms,
            r.samples_per_s,
            r.peak_rss_mib
        );
    }
    s
}

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

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::data::{CatField, Dataset, Split, Task, TaskChain, TaskKind};
use crate::optim::GradSpec;
use crate::train::{DataPlacement, TrainError, Trainer, TrainerSpec};
use crate::util::transfers::{transfers, Transfers};

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
    /// Where the data lived: `host` (batches copied each step) or `device` (uploaded once).
    pub data: String,
    /// Host → device copies (`from_data`) per timed step, mean.
    pub h2d_per_step: f64,
    /// Device → host copies (`into_data`) per timed step, mean.
    pub d2h_per_step: f64,
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
    let tasks = bench_tasks();
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

/// The benchmark's task chain: click → long_view → watch_time (binary, binary, core).
pub fn bench_tasks() -> TaskChain {
    TaskChain::new(vec![
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
    .expect("a fixed, valid chain")
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

/// Measures one configuration in this process, stepping a [`Trainer`] (the same code path
/// as `htl run`, with `lr` 1e-3 and no gradient statistics) over four fixed batches, with
/// the data where `placement` says (`None`: on the device for a GPU, as `htl run` does).
/// Host↔device copies are counted over the timed steps.
pub fn bench_one(
    model: &str,
    grad: &str,
    shape: &BenchShape,
    dev: &crate::run::DeviceChoice,
    placement: Option<DataPlacement>,
) -> Result<BenchRow, BenchError> {
    let placement = placement.unwrap_or(DataPlacement::for_device(dev.is_gpu));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(shape.threads.max(1))
        .build()
        .map_err(|e| BenchError::Measure(e.to_string()))?;
    pool.install(|| {
        let rows = shape.batch * 4;
        let data = synthetic_data(shape, rows);
        let options = bench_options(model, shape.dim);
        let grad_spec = GradSpec::from_yaml(&serde_yaml::Value::String(grad.into()))
            .map_err(|e| BenchError::Measure(e.to_string()))?;
        let train = TrainConfig {
            lr: 1e-3,
            grad_stats_every: 0,
            ..TrainConfig::default()
        };
        let spec = TrainerSpec {
            model,
            options: &options,
            grad: &grad_spec,
            train: &train,
            seed: 1,
        };
        let measure = |e: TrainError| BenchError::Measure(format!("{model}/{grad}: {e}"));
        let mut trainer = Trainer::setup(spec, &data, &dev.device)
            .map_err(measure)?
            .with_placement(placement);
        // The rows' order is set once, as an epoch does; each step is one batch of it.
        trainer.set_order((0..rows).collect());
        let mut times = Vec::with_capacity(shape.steps);
        let mut copies = Transfers::default();
        for i in 0..shape.warmup + shape.steps {
            let start = (i % 4) * shape.batch;
            let before = transfers();
            let t0 = Instant::now();
            // Reading the losses synchronises the backend, so the time is the whole step.
            trainer
                .step_range(start..start + shape.batch, 1)
                .map_err(measure)?;
            if i >= shape.warmup {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
                let d = transfers() - before;
                copies.h2d += d.h2d;
                copies.d2h += d.d2h;
            }
        }
        if times.is_empty() {
            return Err(BenchError::Measure("--steps must be at least 1".into()));
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
            data: placement_name(placement).into(),
            h2d_per_step: copies.h2d as f64 / times.len() as f64,
            d2h_per_step: copies.d2h as f64 / times.len() as f64,
        })
    })
}

/// `host` or `device`, as `--data-placement` spells it.
pub fn placement_name(p: DataPlacement) -> &'static str {
    match p {
        DataPlacement::Host => "host",
        DataPlacement::Device => "device",
    }
}

/// The table printed by `htl bench`.
pub fn format_table(rows: &[BenchRow]) -> String {
    let mut s = String::from("| model | grad | backend | data | ms/step (median) | p10 | p90 | samples/s | vs plain step | peak RSS MiB | h2d/step | d2h/step |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let plain = rows
            .iter()
            .find(|p| p.model == r.model && p.grad == "sum")
            .map(|p| p.median_ms);
        let ratio = plain.map_or(String::from("–"), |p| format!("{:.2}×", r.median_ms / p));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {} | {:.0} | {:.1} | {:.1} |",
            r.model,
            r.grad,
            r.backend,
            r.data,
            r.median_ms,
            r.p10_ms,
            r.p90_ms,
            r.samples_per_s,
            ratio,
            r.peak_rss_mib,
            r.h2d_per_step,
            r.d2h_per_step
        );
    }
    s
}

/// CSV of the rows.
pub fn format_csv(rows: &[BenchRow]) -> String {
    let mut s = String::from("model,grad,backend,batch,fields,vocab,dim,threads,steps,median_ms,p10_ms,p90_ms,samples_per_s,peak_rss_mib,data,h2d_per_step,d2h_per_step\n");
    for r in rows {
        let b = &r.shape;
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.1},{:.1},{},{:.2},{:.2}",
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
            r.peak_rss_mib,
            r.data,
            r.h2d_per_step,
            r.d2h_per_step
        );
    }
    s
}

/// Why `htl bench` could not measure.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The measurement itself failed (model, strategy or a non-finite loss).
    #[error("{0}")]
    Measure(String),
    /// A child process could not be started or its output not read.
    #[error("bench {config}: cannot run the child process: {source}")]
    Spawn {
        /// `model:grad`.
        config: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A child process exited with an error.
    #[error("bench {config} failed: {stderr}")]
    Child {
        /// `model:grad`.
        config: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
    /// A child process printed something other than one row of JSON.
    #[error("bench {config}: unreadable output: {source}")]
    Output {
        /// `model:grad`.
        config: String,
        /// The JSON error.
        source: serde_json::Error,
    },
}

/// Measures every `model × grad` in its own child process (`exe bench --one model:grad …`),
/// so that each peak memory is its own; `device` (and `placement`, if given) are passed on
/// as written.
pub fn bench_in_children(
    exe: &std::path::Path,
    models: &[String],
    grads: &[String],
    shape: &BenchShape,
    device: &str,
    placement: Option<DataPlacement>,
) -> Result<Vec<BenchRow>, BenchError> {
    let mut rows = Vec::new();
    for m in models {
        for g in grads {
            let config = format!("{m}:{g}");
            eprintln!("bench {m} {g} …");
            let flags = [
                ("--batch", shape.batch),
                ("--fields", shape.fields),
                ("--vocab", shape.vocab),
                ("--dim", shape.dim),
                ("--steps", shape.steps),
                ("--warmup", shape.warmup),
                ("--threads", shape.threads),
            ];
            let mut cmd = std::process::Command::new(exe);
            cmd.args(["bench", "--one", &config]);
            for (flag, value) in flags {
                cmd.args([flag, &value.to_string()]);
            }
            if let Some(p) = placement {
                cmd.args(["--data-placement", placement_name(p)]);
            }
            let out =
                cmd.args(["--device", device])
                    .output()
                    .map_err(|source| BenchError::Spawn {
                        config: config.clone(),
                        source,
                    })?;
            if !out.status.success() {
                return Err(BenchError::Child {
                    config,
                    stderr: String::from_utf8_lossy(&out.stderr)
                        .trim()
                        .trim_start_matches("htl: error: ")
                        .to_string(),
                });
            }
            let row = serde_json::from_slice(&out.stdout)
                .map_err(|source| BenchError::Output { config, source })?;
            rows.push(row);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_rows_count_copies_per_step_by_placement() {
        let shape = BenchShape {
            batch: 64,
            fields: 3,
            vocab: 50,
            dim: 4,
            steps: 3,
            warmup: 1,
            threads: 1,
        };
        let dev = crate::device::device_from_name("cpu").unwrap();
        let host = bench_one("shared_bottom", "sum", &shape, &dev, None).unwrap();
        // On CPU the data stays on the host: 3 fields + 3 task labels up, the losses down.
        assert_eq!(host.data, "host");
        assert_eq!((host.h2d_per_step, host.d2h_per_step), (6.0, 1.0));
        let on_dev = bench_one(
            "shared_bottom",
            "sum",
            &shape,
            &dev,
            Some(DataPlacement::Device),
        )
        .unwrap();
        assert_eq!(on_dev.data, "device");
        assert_eq!((on_dev.h2d_per_step, on_dev.d2h_per_step), (0.0, 1.0));
        let csv = format_csv(&[host.clone(), on_dev]);
        let mut lines = csv.lines();
        assert!(lines
            .next()
            .unwrap()
            .ends_with(",peak_rss_mib,data,h2d_per_step,d2h_per_step"));
        assert!(lines.next().unwrap().ends_with(",host,6.00,1.00"));
        assert!(lines.next().unwrap().ends_with(",device,0.00,1.00"));
        let table = format_table(&[host]);
        assert!(table.contains("| h2d/step | d2h/step |"), "{table}");
        assert!(
            table.lines().nth(2).unwrap().ends_with("| 6.0 | 1.0 |"),
            "{table}"
        );
    }
}

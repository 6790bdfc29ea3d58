//! The command line (`htl`). `main.rs` only prints the error chain.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};

use crate::config::load_experiment;
use crate::data;
use crate::run::{device_from_name, run_experiment, RunOptions};
use crate::zoo::registry;

/// A non-zero exit that is not an error of `htl` itself (e.g. some cells failed).
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Exit {}

/// htl — benchmark multi-task recommenders on hybrid targets (binary action chain → continuous core value).
///
/// Write an experiment in YAML (a data set, model variants, seeds), then `htl run` it: every
/// (variant × seed) cell is trained, scored on valid/test and stored under results/<name>/.
/// Rerunning skips finished cells, so an interrupted run resumes where it stopped.
#[derive(Parser, Debug)]
#[command(
    name = "htl",
    version,
    about,
    long_about,
    after_help = "Examples:\n  htl run experiments/quickstart.yaml\n  htl run experiments/htlnet_ablations.yaml --jobs 2 --only HTLNet\n  htl models\n  htl data gen --rows 10000 --out synth.parquet"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train every unfinished cell of an experiment and print the summary table.
    Run {
        /// The experiment YAML file.
        experiment: PathBuf,
        /// Result folder [default: results/<experiment name>].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Cells trained side by side [default: number of cores].
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
        /// Retrain cells that already finished.
        #[arg(long)]
        force: bool,
        /// Also write predictions.csv (test split, original scale) per cell.
        #[arg(long)]
        save_predictions: bool,
        /// Only cells whose variant label, model name or seed is one of these (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Device: cpu (flex, default), libtorch, libtorch-cuda:N (feature tch), cuda:N (feature cuda). Overrides the YAML `device:`.
        #[arg(long)]
        device: Option<String>,
        /// Parse the data again instead of reading the dataset cache (.htl-cache/ or $HTL_CACHE_DIR).
        #[arg(long)]
        no_cache: bool,
        /// Skip the report (tables and figures) written to <out>/report/ at the end.
        #[arg(long)]
        no_report: bool,
    },
    /// Write the paper-style report of a result folder: statistics over seeds, paired tests
    /// against a reference variant, tables (Markdown, LaTeX, CSV) and figures (PNG, SVG).
    ///
    /// Reads only stored results, so it can be rerun without retraining.
    Report {
        /// The result folder (e.g. results/quickstart).
        dir: PathBuf,
        /// Reference variant for the paired tests [default: HTLNet if present, else the first model].
        #[arg(long)]
        reference: Option<String>,
        /// Paired test: paired_t or wilcoxon.
        #[arg(long, default_value = "paired_t")]
        test: String,
        /// Significance level.
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Tables and report.md only.
        #[arg(long)]
        no_figures: bool,
    },
    /// List registered models with their YAML options and defaults.
    Models,
    /// Training throughput per model and gradient strategy (median ms/step, samples/s, peak memory).
    ///
    /// Each configuration runs in its own child process. Shape: batch × fields × vocab × dim,
    /// three tasks (click → long_view → watch_time). Compare with benches/pytorch_reference.py.
    Bench {
        /// Models (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "shared_bottom,htlnet")]
        models: Vec<String>,
        /// Gradient strategies (comma-separated).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "sum,htl,pcgrad,metabalance"
        )]
        grads: Vec<String>,
        /// Rows per step.
        #[arg(long, default_value_t = 2048)]
        batch: usize,
        /// Categorical fields.
        #[arg(long, default_value_t = 20)]
        fields: usize,
        /// Values per field.
        #[arg(long, default_value_t = 10_000)]
        vocab: usize,
        /// Embedding width.
        #[arg(long, default_value_t = 16)]
        dim: usize,
        /// Timed steps (median reported).
        #[arg(long, default_value_t = 30)]
        steps: usize,
        /// Warm-up steps.
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Backend threads [default: number of cores].
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the rows as CSV here.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Device (as for `htl run`).
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Internal: measure one `model:grad` in this process and print JSON.
        #[arg(long, hide = true)]
        one: Option<String>,
    },
    /// Data utilities.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Subcommand, Debug)]
enum DataCommand {
    /// Generate the synthetic hybrid-target data set and write it as CSV or Parquet.
    Gen {
        /// Output file: .csv or .parquet.
        #[arg(long)]
        out: PathBuf,
        /// Rows.
        #[arg(long)]
        rows: Option<usize>,
        /// Generator seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Task dependence strength in [0, 1] (0 = independent tasks).
        #[arg(long)]
        dependence: Option<f64>,
        /// A YAML file with a full synthetic config (the keys of `dataset: {synthetic: …}`); flags override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Rows, fields and vocabularies, per-task positive rates, the core target's distribution and
    /// split sizes: the table to look at before trusting a run.
    Inspect {
        /// An experiment YAML (its `dataset:` block is used) or a YAML file holding a dataset spec.
        spec: PathBuf,
        /// Parse the data again instead of reading the dataset cache.
        #[arg(long)]
        no_cache: bool,
    },
}

/// Entry point used by `main.rs`.
pub fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            experiment,
            out,
            jobs,
            quiet,
            force,
            save_predictions,
            only,
            device,
            no_cache,
            no_report,
        } => {
            let exp = load_experiment(&experiment)?;
            for note in &exp.notes {
                eprintln!("{note}");
            }
            let name = device
                .or_else(|| exp.device.clone())
                .unwrap_or_else(|| "cpu".into());
            let device = device_from_name(&name).map_err(|e| anyhow!("{e}"))?;
            let (data, cache) = data::cache::load_cached(&exp.dataset, &exp.base_dir, !no_cache)
                .with_context(|| format!("loading the data set of {}", experiment.display()))?;
            if !quiet {
                eprintln!("data: {} ({cache})", data.name);
            }
            let opts = RunOptions {
                out,
                jobs,
                quiet,
                force,
                save_predictions,
                only,
            };
            let summary = run_experiment(&exp, &data, &device, &opts).map_err(|e| anyhow!(e))?;
            println!("{}", summary.summary_md);
            if !no_report {
                match crate::report::report(&summary.root, &crate::report::ReportOptions::default())
                {
                    Ok(r) => println!("report: {}", r.report_md.display()),
                    Err(e) => eprintln!(
                        "htl: warning: the report could not be written: {e}; rerun `htl report {}`",
                        summary.root.display()
                    ),
                }
            }
            println!(
                "results: {} ({} cells: {} trained now, {} kept from earlier runs, {} failed)",
                summary.root.display(),
                summary.total,
                summary.trained,
                summary.skipped,
                summary.failed.len()
            );
            if !summary.failed.is_empty() {
                for (id, why) in &summary.failed {
                    eprintln!("failed: {id}: {why}");
                }
                return Err(anyhow!(Exit(1)).context(format!(
                    "{} cell(s) failed; their reasons are in cells/<id>/failed.json",
                    summary.failed.len()
                )));
            }
            Ok(())
        }
        Command::Bench {
            models,
            grads,
            batch,
            fields,
            vocab,
            dim,
            steps,
            warmup,
            threads,
            csv,
            one,
            device,
        } => {
            let dev = device_from_name(&device).map_err(|e| anyhow!(e))?;
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let shape = crate::bench::BenchShape {
                batch,
                fields,
                vocab,
                dim,
                steps,
                warmup,
                threads,
            };
            if let Some(one) = one {
                let (m, g) = one
                    .split_once(':')
                    .ok_or_else(|| anyhow!("--one takes model:grad"))?;
                let row = crate::bench::bench_one(m, g, &shape, &dev).map_err(|e| anyhow!(e))?;
                println!("{}", serde_json::to_string(&row)?);
                return Ok(());
            }
            let exe = std::env::current_exe()?;
            let mut rows = Vec::new();
            for m in &models {
                for g in &grads {
                    eprintln!("bench {m} {g} …");
                    let out = std::process::Command::new(&exe)
                        .args(["bench", "--one", &format!("{m}:{g}")])
                        .args([
                            "--batch",
                            &batch.to_string(),
                            "--fields",
                            &fields.to_string(),
                            "--vocab",
                            &vocab.to_string(),
                        ])
                        .args([
                            "--dim",
                            &dim.to_string(),
                            "--steps",
                            &steps.to_string(),
                            "--warmup",
                            &warmup.to_string(),
                        ])
                        .args(["--threads", &threads.to_string(), "--device", &device])
                        .output()?;
                    if !out.status.success() {
                        return Err(anyhow!(
                            "bench {m}/{g} failed: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ));
                    }
                    let row: crate::bench::BenchRow = serde_json::from_slice(&out.stdout)?;
                    rows.push(row);
                }
            }
            println!("{}", crate::bench::format_table(&rows));
            println!("device {device}; shape: batch {batch}, {fields} fields × {vocab} values × dim {dim}, {threads} threads, median of {steps} steps after {warmup} warm-up; machine: {} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
            if let Some(p) = csv {
                crate::run::write_atomic(&p, crate::bench::format_csv(&rows).as_bytes())?;
            }
            Ok(())
        }
        Command::Models => {
            for e in registry() {
                println!(
                    "{}  —  {}\n  folder: {}\n  default grad: {}\n  shared parameters (θ_s): {}",
                    e.name, e.summary, e.folder, e.default_grad, e.theta_s
                );
                let d = (e.defaults)();
                let text = serde_yaml::to_string(&d).unwrap_or_default();
                println!("  options (defaults):");
                for line in text.lines() {
                    println!("    {line}");
                }
                println!();
            }
            println!("Every model also takes `grad:` sum | pcgrad | metabalance | htl (or a map with `name:` and options).");
            Ok(())
        }
        Command::Report {
            dir,
            reference,
            test,
            alpha,
            no_figures,
        } => {
            let opts = crate::report::ReportOptions {
                reference,
                test: test.parse().map_err(|e| anyhow!("--test: {e}"))?,
                alpha,
                figures: !no_figures,
            };
            let r = crate::report::report(&dir, &opts)?;
            println!("report: {}", r.report_md.display());
            println!(
                "{} tables, {} figures ({} skipped)",
                r.tables.len(),
                r.figures.len(),
                r.skipped_figures.len()
            );
            for (name, why) in &r.skipped_figures {
                println!("  skipped {name}: {why}");
            }
            Ok(())
        }
        Command::Data {
            command: DataCommand::Inspect { spec, no_cache },
        } => {
            let text = std::fs::read_to_string(&spec)
                .with_context(|| format!("cannot read {}", spec.display()))?;
            let value: serde_yaml::Value =
                serde_yaml::from_str(&text).map_err(|e| anyhow!("{}: {e}", spec.display()))?;
            let dataset_value = match value.get("dataset") {
                Some(d) if value.get("variants").is_some() => d.clone(),
                _ => value,
            };
            let ds: data::DatasetSpec = serde_yaml::from_value(dataset_value)
                .map_err(|e| anyhow!("{}: dataset: {e}", spec.display()))?;
            let parent = spec.parent().map(PathBuf::from).unwrap_or_default();
            let base = if parent.is_absolute() {
                parent
            } else {
                std::env::current_dir()?.join(parent)
            };
            let i = data::inspect::inspect(&ds, &base, !no_cache)
                .with_context(|| format!("loading the data set of {}", spec.display()))?;
            println!("{}", data::inspect::format_inspection(&i));
            Ok(())
        }
        Command::Data {
            command:
                DataCommand::Gen {
                    out,
                    rows,
                    seed,
                    dependence,
                    config,
                },
        } => {
            let mut cfg: data::synthetic::SyntheticConfig = match &config {
                Some(p) => {
                    let text = std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    serde_yaml::from_str(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?
                }
                None => Default::default(),
            };
            if let Some(r) = rows {
                cfg.rows = r;
            }
            if let Some(s) = seed {
                cfg.seed = s;
            }
            if let Some(d) = dependence {
                cfg.dependence = d;
            }
            let df = data::synthetic::generate(&cfg)?;
            data::synthetic::write_table(&df, &out)?;
            println!("wrote {} rows to {}", df.height(), out.display());
            Ok(())
        }
    }
}

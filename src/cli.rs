//! The command line (`htl`). `main.rs` only prints the error chain.

use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};

use crate::config::load_experiment;
use crate::data;
use crate::model::registry;
use crate::run::{device_from_name, run_experiment, RunOptions};

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
        /// Device: cpu (the default flex backend).
        #[arg(long, default_value = "cpu")]
        device: String,
    },
    /// List registered models with their YAML options and defaults.
    Models,
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
        } => {
            let exp = load_experiment(&experiment)?;
            let device = device_from_name(&device).map_err(|e| anyhow!("--device: {e}"))?;
            let data = data::load(&exp.dataset, &exp.base_dir)
                .with_context(|| format!("loading the data set of {}", experiment.display()))?;
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
        Command::Models => {
            for e in registry() {
                println!(
                    "{}  —  {}\n  folder: {}\n  default grad: {}",
                    e.name, e.summary, e.folder, e.default_grad
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

//! The command line (`htl`): one short function per subcommand. `main.rs` only prints the
//! error chain ([`error_line`]) and exits with its code.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{load_experiment, Experiment};
use crate::data;
use crate::device::device_from_name;
use crate::run::{run_experiment, DeviceChoice, RunOptions};
use crate::zoo::registry;

pub use crate::util::Exit;

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
    Run(RunArgs),
    /// Train one cell of a sweep submitted with `--executor slurm` (what each array task runs).
    RunCell {
        /// The result folder.
        dir: PathBuf,
        /// The cell id (a folder name under <dir>/cells/).
        id: String,
    },
    /// Each cell's state (finished, failed, running, pending, missing) from the result folder
    /// and the SLURM queue; exits 0 only when every cell finished.
    Status {
        /// The result folder.
        dir: PathBuf,
        /// Also rewrite cells.csv, summary.csv and summary.md from the stored results.
        #[arg(long)]
        write_summary: bool,
    },
    /// Write the paper-style report of a result folder: statistics over seeds, paired tests
    /// against a reference variant, tables (Markdown, LaTeX, CSV) and figures (PNG, SVG).
    ///
    /// Reads only stored results, so it can be rerun without retraining.
    Report(ReportArgs),
    /// List registered models with their YAML options and defaults.
    Models,
    /// Training throughput per model and gradient strategy (median ms/step, samples/s, peak memory).
    ///
    /// Each configuration runs in its own child process. Shape: batch × fields × vocab × dim,
    /// three tasks (click → long_view → watch_time). Compare with benches/pytorch_reference.py.
    Bench(BenchArgs),
    /// Data utilities.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The experiment YAML file.
    experiment: PathBuf,
    /// Result folder [default: results/<experiment name>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cells trained side by side, at least 1 [default: number of cores].
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
    /// GPU memory in GiB: on a GPU device, cells start only while the sum of their memory
    /// estimates fits in 80% of it [default: what nvidia-smi reports; without it, one cell
    /// at a time unless --jobs says otherwise].
    #[arg(long, value_name = "GIB")]
    gpu_mem: Option<String>,
    /// Where a cell's data lives while it trains: device (uploaded once per cell; the GPU
    /// default) or host (copied batch by batch; the CPU default). Results are the same.
    #[arg(long, value_name = "host|device")]
    data_placement: Option<String>,
    /// Skip the report (tables and figures) written to <out>/report/ at the end.
    #[arg(long)]
    no_report: bool,
    /// Correction of the report's verdicts for the number of comparisons: none, holm or
    /// bonferroni.
    #[arg(long, default_value = "holm")]
    correction: String,
    /// Where cells train: local (this machine) or slurm (a job array; README: Running on
    /// a SLURM cluster). Overrides the YAML `executor:`.
    #[arg(long)]
    executor: Option<crate::config::Executor>,
    /// With --executor slurm: block until the sweep's jobs have left the queue, showing
    /// progress (a local run always waits).
    #[arg(long)]
    wait: bool,
}

#[derive(Args, Debug)]
struct ReportArgs {
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
    /// Correction of the verdicts for the number of comparisons in a table: none, holm or
    /// bonferroni.
    #[arg(long, default_value = "holm")]
    correction: String,
    /// External result CSV (published or peer numbers) to show, untested, in the overall
    /// table; repeatable. Without it, the rows of the previous report are kept.
    #[arg(long)]
    external: Vec<PathBuf>,
    /// Equivalence margin of a "tie" in the sweep verdict tables, as a fraction of the
    /// reference's mean at the grid point (0.005 = ±0.5%).
    #[arg(long, default_value_t = crate::report::DEFAULT_TIE_MARGIN)]
    tie_margin: f64,
}

#[derive(Args, Debug)]
struct BenchArgs {
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
    /// Where the data lives: host (copied each step) or device (uploaded once) [default: as
    /// `htl run`: device on a GPU, host on CPU].
    #[arg(long, value_name = "host|device")]
    data_placement: Option<String>,
    /// Internal: measure one `model:grad` in this process and print JSON.
    #[arg(long, hide = true)]
    one: Option<String>,
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

/// Entry point used by `main.rs`: parses the command line and runs one subcommand.
pub fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run(a) => run(a),
        Command::Report(a) => report(a),
        Command::Models => models(),
        Command::Bench(a) => bench(a),
        Command::RunCell { dir, id } => crate::slurm::cli_run_cell(&dir, &id),
        Command::Status { dir, write_summary } => crate::slurm::cli_status(&dir, write_summary),
        Command::Data {
            command: DataCommand::Inspect { spec, no_cache },
        } => data_inspect(&spec, no_cache),
        Command::Data {
            command:
                DataCommand::Gen {
                    out,
                    rows,
                    seed,
                    dependence,
                    config,
                },
        } => data_gen(&out, rows, seed, dependence, config.as_deref()),
    }
}

/// The error chain as one line: each cause after a colon, except a cause whose text the
/// message already holds (a `cannot read X: <reason>` error whose source is that reason).
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// The device of a run: `--device` if given, else the experiment's `device:`, else `cpu`.
fn resolve_device(flag: Option<&str>, exp: &Experiment) -> Result<DeviceChoice> {
    match (flag, &exp.device) {
        (Some(name), _) => device_from_name(name).map_err(|e| anyhow!("--device: {e}")),
        (None, Some(name)) => {
            device_from_name(name).map_err(|e| anyhow!("{}: key `device`: {e}", exp.path.display()))
        }
        (None, None) => Ok(device_from_name("cpu")?),
    }
}

/// `htl run`.
fn run(a: RunArgs) -> Result<()> {
    let correction = parse_correction(&a.correction)?;
    if a.jobs == Some(0) {
        return Err(anyhow!(
            "--jobs 0: at least one cell must train at a time; give --jobs 1 or more, or leave it out for one per core"
        ));
    }
    let exp = load_experiment(&a.experiment)?;
    for note in &exp.notes {
        eprintln!("{note}");
    }
    // A bad external CSV stops the run before training, not at the report after it.
    for f in &exp.external {
        crate::report::external::load_external(f)?;
    }
    if a.executor.unwrap_or(exp.executor) == crate::config::Executor::Slurm {
        let args = crate::slurm::SubmitArgs {
            out: a.out,
            jobs: a.jobs,
            quiet: a.quiet,
            force: a.force,
            save_predictions: a.save_predictions,
            only: a.only,
            device: a.device,
            no_cache: a.no_cache,
            no_report: a.no_report,
            wait: a.wait,
        };
        return crate::slurm::cli_submit(&exp, args);
    }
    let device = resolve_device(a.device.as_deref(), &exp)?;
    crate::device::check_gpu_driver(&device).map_err(|e| anyhow!("{e}"))?;
    let gpu_mem = match &a.gpu_mem {
        Some(g) => Some(crate::device::parse_gpu_mem(g).map_err(|e| anyhow!(e))?),
        None => crate::device::gpu_memory_bytes(&device),
    };
    let placement = parse_placement(a.data_placement.as_deref())?;
    let (data, cache) = data::cache::load_cached(&exp.dataset, &exp.base_dir, !a.no_cache)
        .with_context(|| format!("loading the data set of {}", a.experiment.display()))?;
    if !a.quiet {
        eprintln!("data: {} ({cache})", data.name);
    }
    let opts = RunOptions {
        out: a.out,
        jobs: a.jobs,
        quiet: a.quiet,
        force: a.force,
        save_predictions: a.save_predictions,
        only: a.only,
        gpu_mem,
        placement,
    };
    // A grid over `synthetic.<key>` gives cells their own data sets: load each once.
    let mut specs: Vec<&data::DatasetSpec> = Vec::new();
    for c in &exp.cells {
        if c.dataset != exp.dataset && !specs.contains(&&c.dataset) {
            specs.push(&c.dataset);
        }
    }
    let summary = if specs.is_empty() {
        run_experiment(&exp, &data, &device, &opts).map_err(|e| anyhow!(e))?
    } else {
        let mut sets = Vec::new();
        let n_sets = specs.len();
        for (i, spec) in specs.into_iter().enumerate() {
            let (d, cache) = data::cache::load_cached(spec, &exp.base_dir, !a.no_cache)
                .with_context(|| {
                    format!("loading a grid data set of {}", a.experiment.display())
                })?;
            if !a.quiet {
                eprintln!(
                    "data: {} (grid data set {}/{n_sets}, {cache})",
                    d.name,
                    i + 1
                );
            }
            sets.push((spec.clone(), d));
        }
        let trainer = PerCellData { sets };
        crate::run::run_experiment_with(&exp, &data, &device, &opts, &trainer)
            .map_err(|e| anyhow!(e))?
    };
    let store = crate::store::ResultStore::new(&summary.root);
    if let Some(md) = crate::report::summary::write_summaries(&store)
        .with_context(|| format!("writing the summaries of {}", summary.root.display()))?
    {
        println!("{md}");
    }
    if !a.no_report {
        let opts = crate::report::ReportOptions {
            correction,
            external: exp.external.clone(),
            ..crate::report::ReportOptions::default()
        };
        match crate::report::report(&summary.root, &opts) {
            Ok(r) => println!("report: {}", r.report_md.display()),
            Err(e) => eprintln!(
                "htl: warning: the report could not be written: {}; rerun `htl report {}`",
                error_line(&e.into()),
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
    if summary.failed.is_empty() {
        return Ok(());
    }
    for (id, why) in &summary.failed {
        eprintln!("failed: {id}: {why}");
    }
    Err(anyhow!(Exit(1)).context(format!(
        "{} cell(s) failed; their reasons are in cells/<id>/failed.json",
        summary.failed.len()
    )))
}

/// Trains each cell on the data set its own config names (a grid over `synthetic.<key>`):
/// the experiment's data set unless the cell's spec is one of `sets`.
struct PerCellData {
    sets: Vec<(data::DatasetSpec, data::Dataset)>,
}

impl crate::run::CellTrainer for PerCellData {
    fn train(
        &self,
        cell: &crate::config::CellConfig,
        data: &data::Dataset,
        device: &burn::tensor::Device,
        progress: crate::train::Progress,
    ) -> std::result::Result<crate::train::TrainOutcome, crate::train::TrainError> {
        let own = self
            .sets
            .iter()
            .find(|(spec, _)| spec == &cell.dataset)
            .map_or(data, |(_, d)| d);
        crate::run::BurnTrainer.train(cell, own, device, progress)
    }
}

/// `htl bench`: one child process per configuration, or (`--one`) the measurement itself.
fn bench(a: BenchArgs) -> Result<()> {
    let dev = device_from_name(&a.device).map_err(|e| anyhow!("--device: {e}"))?;
    crate::device::check_gpu_driver(&dev).map_err(|e| anyhow!("{e}"))?;
    let placement = parse_placement(a.data_placement.as_deref())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let shape = crate::bench::BenchShape {
        batch: a.batch,
        fields: a.fields,
        vocab: a.vocab,
        dim: a.dim,
        steps: a.steps,
        warmup: a.warmup,
        threads: a.threads.unwrap_or(cores),
    };
    if let Some(one) = a.one {
        let (m, g) = one
            .split_once(':')
            .ok_or_else(|| anyhow!("--one takes model:grad"))?;
        let row = crate::bench::bench_one(m, g, &shape, &dev, placement)?;
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let rows =
        crate::bench::bench_in_children(&exe, &a.models, &a.grads, &shape, &a.device, placement)?;
    println!("{}", crate::bench::format_table(&rows));
    println!(
        "device {}; shape: batch {}, {} fields × {} values × dim {}, {} threads, median of {} steps after {} warm-up; machine: {cores} cores",
        a.device, a.batch, a.fields, a.vocab, a.dim, shape.threads, a.steps, a.warmup
    );
    if let Some(p) = a.csv {
        crate::run::write_atomic(&p, crate::bench::format_csv(&rows).as_bytes())
            .with_context(|| format!("--csv: cannot write {}", p.display()))?;
    }
    Ok(())
}

/// `htl models`.
fn models() -> Result<()> {
    for e in registry() {
        println!(
            "{}  —  {}\n  folder: {}\n  default grad: {}\n  shared parameters (θ_s): {}",
            e.name, e.summary, e.folder, e.default_grad, e.theta_s
        );
        let text = serde_yaml::to_string(&(e.defaults)()).unwrap_or_default();
        println!("  options (defaults):");
        for line in text.lines() {
            println!("    {line}");
        }
        println!();
    }
    println!("Every model also takes `grad:` sum | pcgrad | metabalance | htl (or a map with `name:` and options).");
    println!("Every model also takes `train.core_loss:` mse (default) | ziln (a three-output core head p(y>0), μ, σ trained with the zero-inflated log-normal loss on the raw scale; needs `core_transform: none`).");
    Ok(())
}

/// `--data-placement`: host or device (`None` when left out).
fn parse_placement(s: Option<&str>) -> Result<Option<crate::train::DataPlacement>> {
    use crate::train::DataPlacement;
    match s {
        None => Ok(None),
        Some("host") => Ok(Some(DataPlacement::Host)),
        Some("device") => Ok(Some(DataPlacement::Device)),
        Some(other) => Err(anyhow!(
            "--data-placement {other}: use host or device (or leave it out: device on a GPU, host on CPU)"
        )),
    }
}

/// `--correction`: none, holm or bonferroni.
fn parse_correction(s: &str) -> Result<crate::report::power::Correction> {
    crate::report::power::Correction::parse(s).ok_or_else(|| {
        anyhow!("--correction: unknown correction `{s}`; use none, holm or bonferroni")
    })
}

/// `htl report`.
fn report(a: ReportArgs) -> Result<()> {
    let opts = crate::report::ReportOptions {
        reference: a.reference,
        test: a.test.parse().map_err(|e| anyhow!("--test: {e}"))?,
        alpha: a.alpha,
        figures: !a.no_figures,
        correction: parse_correction(&a.correction)?,
        external: a.external,
        tie_margin: a.tie_margin,
    };
    let store = crate::store::ResultStore::new(&a.dir);
    if crate::report::summary::write_summaries(&store)
        .with_context(|| format!("writing the summaries of {}", a.dir.display()))?
        .is_none()
    {
        println!(
            "note: {} has a manifest without the cell list and task chain (an older run): summary.* and cells.csv left as they are",
            a.dir.display()
        );
    }
    let r = crate::report::report(&a.dir, &opts)?;
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

/// `htl data inspect`.
fn data_inspect(spec: &Path, no_cache: bool) -> Result<()> {
    let (ds, base) = crate::config::load_dataset_spec(spec)?;
    let i = data::inspect::inspect(&ds, &base, !no_cache)
        .with_context(|| format!("loading the data set of {}", spec.display()))?;
    println!("{}", data::inspect::format_inspection(&i));
    Ok(())
}

/// `htl data gen`.
fn data_gen(
    out: &Path,
    rows: Option<usize>,
    seed: Option<u64>,
    dependence: Option<f64>,
    config: Option<&Path>,
) -> Result<()> {
    let mut cfg: data::synthetic::SyntheticConfig = match config {
        Some(p) => crate::config::load_yaml(p)?,
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
    data::synthetic::write_table(&df, out)?;
    println!("wrote {} rows to {}", df.height(), out.display());
    Ok(())
}

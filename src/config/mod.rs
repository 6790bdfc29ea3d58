//! The experiment YAML: the raw schema as written ([`RawExperiment`], unknown keys rejected),
//! its resolution into cells ([`CellConfig`]) and stable cell ids.
//!
//! ```yaml
//! name: quickstart                 # default: the file's stem
//! dataset: {synthetic: {rows: 100000}}
//! train: {epochs: 8, batch_size: 2048}
//! seeds: [1, 2]
//! base: {options: {embed_dim: 16}}  # inherited by every variant (options merged key by key)
//! variants:
//!   - {model: shared_bottom}
//!   - {label: HTLNet, model: htlnet, grad: htl}
//!   - {label: "w/o LEU", model: htlnet, options: {leu: false}}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::data::{DatasetSpec, TaskChain, TaskKind};
use crate::metrics::MetricTask;
pub use crate::model::blocks::CoreLoss;
use crate::optim::GradSpec;
use crate::zoo::find_model;

/// A configuration error, already phrased for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

mod executor;
pub use executor::{Executor, SlurmConfig};

/// Training options (YAML `train:`), all optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Maximum epochs.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Adam epsilon. burn's default is 1e-5; we use PyTorch's 1e-8 so that results compare
    /// with the PyTorch reference libraries.
    pub adam_eps: f64,
    /// L2 weight decay (0 = off): `weight_decay · θ` added to the gradient before Adam
    /// (PyTorch's Adam `weight_decay`).
    pub weight_decay: f64,
    /// Which parameters `weight_decay` applies to: `[all]`, or named groups of the model
    /// (`embedding`, `attention`; the official AITM code regularises those two).
    pub weight_decay_on: Vec<String>,
    /// How task losses are combined: `sum` (default) or `mean` (MTReclib).
    pub loss_reduction: String,
    /// Epochs without improvement of the monitor before stopping.
    pub patience: usize,
    /// Validation monitor: `all` (mean over tasks of validation loss / its epoch-0 value,
    /// lower is better) or `<task>:<metric>` (e.g. `click:auc`; the metric's direction comes
    /// from the metric catalogue). Checked against the task chain when the experiment is read.
    pub monitor: Monitor,
    /// Scale of the core target in the loss: `standardize`, `log1p_standardize`, `log1p` or
    /// `none` (MSE on the raw scale, the paper's regime).
    pub core_transform: CoreScale,
    /// Loss of the core task: `mse` (default; on the `core_transform` scale) or `ziln` (the
    /// zero-inflated log-normal loss on the raw scale, with a three-output core head; needs
    /// `core_transform: none` and a chain with a regression task). Left out of the cell
    /// config when `mse`, so experiments that do not write it keep their cell ids.
    #[serde(default, skip_serializing_if = "CoreLoss::is_mse")]
    pub core_loss: CoreLoss,
    /// Batch size for evaluation. On a GPU device the runner evaluates a cell left at the
    /// default 8192 in batches of 65,536 (the stored value, and so the cell id, stay 8192).
    pub eval_batch_size: usize,
    /// Write per-task gradient statistics (`grad_stats.csv`) every this many steps (0 =
    /// never). `sum` runs log them too (raw = adjusted), at the cost of a per-task backward
    /// on those steps.
    pub grad_stats_every: usize,
    /// Cap on optimisation steps per epoch (0 = a full pass over the training split).
    pub max_steps_per_epoch: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 2048,
            lr: 1e-3,
            adam_eps: 1e-8,
            weight_decay: 0.0,
            weight_decay_on: vec!["all".into()],
            loss_reduction: "sum".into(),
            patience: 2,
            monitor: Monitor::All,
            core_transform: CoreScale::Standardize,
            core_loss: CoreLoss::Mse,
            eval_batch_size: 8192,
            grad_stats_every: 20,
            max_steps_per_epoch: 0,
        }
    }
}

/// The validation monitor (YAML `train.monitor`), written `all` or `<task>:<metric>`, and
/// stored in the cell config with the same spelling (so cell ids do not depend on it being
/// an enum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Monitor {
    /// Mean over tasks of the validation loss divided by its epoch-0 value (lower is better).
    All,
    /// One task's validation loss (`metric` = `loss`) or one of its curve metrics.
    Task {
        /// Task name.
        task: String,
        /// `loss` or a metric key of the catalogue recorded per epoch.
        metric: String,
    },
}

impl Monitor {
    /// Whether a larger monitor value is better.
    pub fn higher_is_better(&self) -> bool {
        match self {
            Monitor::All => false,
            Monitor::Task { metric, .. } => crate::metrics::catalogue::higher_is_better(metric),
        }
    }

    /// Checks the task and the metric against the task chain: the task exists, and the
    /// metric is `loss` or a per-epoch metric of that task's kind.
    pub fn check(&self, chain: &TaskChain) -> Result<(), TrainKeyError> {
        let Monitor::Task { task, metric } = self else {
            return Ok(());
        };
        let Some(t) = chain.tasks().iter().find(|t| &t.name == task) else {
            let names: Vec<&str> = chain.tasks().iter().map(|t| t.name.as_str()).collect();
            return Err(TrainKeyError::MonitorTask {
                monitor: self.to_string(),
                task: task.clone(),
                tasks: names.join(", "),
            });
        };
        let kind = metric_task(t.kind);
        let valid: Vec<&str> = std::iter::once("loss")
            .chain(
                crate::metrics::catalogue::for_kind(kind)
                    .filter(|m| m.in_curves)
                    .map(|m| m.key),
            )
            .collect();
        if valid.contains(&metric.as_str()) {
            return Ok(());
        }
        let why = match crate::metrics::catalogue::find(metric) {
            Some(m) if m.task != kind => format!(
                "`{metric}` scores {} tasks, but `{task}` is {}",
                kind_name(m.task),
                kind_name(kind)
            ),
            Some(_) => format!("`{metric}` is not recorded per epoch"),
            None => format!("unknown metric `{metric}`"),
        };
        Err(TrainKeyError::MonitorMetric {
            why,
            monitor: self.to_string(),
            task: task.clone(),
            valid: valid.join(", "),
        })
    }
}

fn metric_task(kind: TaskKind) -> MetricTask {
    match kind {
        TaskKind::Binary => MetricTask::Binary,
        TaskKind::Regression => MetricTask::Regression,
    }
}

fn kind_name(kind: MetricTask) -> &'static str {
    match kind {
        MetricTask::Binary => "binary",
        MetricTask::Regression => "regression",
    }
}

/// A bad value in a `train:` block (the message is phrased for the key it names).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainKeyError {
    /// `monitor` is neither `all` nor `<task>:<metric>`.
    #[error("`monitor: {0}` is neither `all` nor `<task>:<metric>` (e.g. `click:auc`)")]
    MonitorSyntax(String),
    /// The monitor's task is not in the chain.
    #[error("unknown task `{task}` in `{monitor}`; tasks: {tasks}")]
    MonitorTask {
        /// The monitor as written.
        monitor: String,
        /// Its task.
        task: String,
        /// The chain's tasks, comma-separated.
        tasks: String,
    },
    /// The monitor's metric is unknown, of the other task kind, or not recorded per epoch.
    #[error("{why} in `{monitor}`; valid for `{task}`: {valid}")]
    MonitorMetric {
        /// What is wrong with the metric.
        why: String,
        /// The monitor as written.
        monitor: String,
        /// Its task.
        task: String,
        /// The valid metrics, comma-separated.
        valid: String,
    },
    /// `core_transform` is not a known spelling.
    #[error("unknown `core_transform` `{0}`; valid: standardize, log1p_standardize, log1p, none")]
    CoreTransform(String),
    /// `core_loss: ziln` with a transformed core target.
    #[error("`core_loss: ziln` models the raw core value, so it needs `core_transform: none`, not `{0}`; write `core_transform: none` beside `core_loss: ziln`")]
    ZilnTransform(String),
    /// `core_loss: ziln` on a chain without a regression task.
    #[error("`core_loss: ziln` is the loss of the core regression task, but the task chain ({0}) has none; remove `core_loss: ziln` or end the chain with a regression task")]
    ZilnWithoutCore(String),
    /// `epochs: 0`.
    #[error("`epochs` must be at least 1")]
    Epochs,
    /// A batch size of 0.
    #[error("`batch_size` and `eval_batch_size` must be at least 1")]
    BatchSize,
    /// A learning rate that is not a positive number.
    #[error("`lr` must be a positive number, got {0}")]
    Lr(f64),
    /// A negative or non-finite weight decay.
    #[error("`weight_decay: {0}` must be a finite number ≥ 0")]
    WeightDecay(f64),
    /// An unknown `loss_reduction`.
    #[error("`loss_reduction: {0}` is not valid; use one of: sum, mean")]
    LossReduction(String),
    /// An unknown parameter group in `weight_decay_on`.
    #[error(
        "`weight_decay_on: {0}` is not a parameter group; use `[all]` or a list of: embedding, attention"
    )]
    DecayGroup(String),
    /// `weight_decay_on` empty, or `all` beside groups.
    #[error(
        "`weight_decay_on: {0}` must be `[all]` or a non-empty list of groups (embedding, attention)"
    )]
    DecayGroups(String),
}

impl std::fmt::Display for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Monitor::All => f.write_str("all"),
            Monitor::Task { task, metric } => write!(f, "{task}:{metric}"),
        }
    }
}

impl std::str::FromStr for Monitor {
    type Err = TrainKeyError;
    fn from_str(s: &str) -> Result<Self, TrainKeyError> {
        if s == "all" {
            return Ok(Monitor::All);
        }
        match s.split_once(':') {
            Some((task, metric)) if !task.is_empty() && !metric.is_empty() => Ok(Monitor::Task {
                task: task.to_string(),
                metric: metric.to_string(),
            }),
            _ => Err(TrainKeyError::MonitorSyntax(s.to_string())),
        }
    }
}

impl TryFrom<String> for Monitor {
    type Error = TrainKeyError;
    fn try_from(s: String) -> Result<Self, TrainKeyError> {
        s.parse()
    }
}

impl From<Monitor> for String {
    fn from(m: Monitor) -> String {
        m.to_string()
    }
}

/// The scale of the core target in the loss (YAML `train.core_transform`), stored in the
/// cell config with the YAML spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CoreScale {
    /// `standardize`: (y − mean) / std, fitted on train.
    Standardize,
    /// `log1p_standardize`: standardise log(1 + y).
    Log1pStandardize,
    /// `log1p`: log(1 + y), not standardised.
    Log1p,
    /// `none`: the raw target (MSE on the original scale, as HTLNet's paper trains it).
    None,
}

impl CoreScale {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreScale::Standardize => "standardize",
            CoreScale::Log1pStandardize => "log1p_standardize",
            CoreScale::Log1p => "log1p",
            CoreScale::None => "none",
        }
    }

    /// Whether `log1p` is applied (before standardising, if that is on).
    pub fn log1p(self) -> bool {
        matches!(self, CoreScale::Log1pStandardize | CoreScale::Log1p)
    }

    /// Whether the (log1p) target is standardised with the training mean and std.
    pub fn standardize(self) -> bool {
        matches!(self, CoreScale::Standardize | CoreScale::Log1pStandardize)
    }
}

impl std::fmt::Display for CoreScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CoreScale {
    type Error = TrainKeyError;
    fn try_from(s: String) -> Result<Self, TrainKeyError> {
        match s.as_str() {
            "standardize" => Ok(CoreScale::Standardize),
            "log1p_standardize" => Ok(CoreScale::Log1pStandardize),
            "log1p" => Ok(CoreScale::Log1p),
            "none" => Ok(CoreScale::None),
            _ => Err(TrainKeyError::CoreTransform(s)),
        }
    }
}

impl From<CoreScale> for String {
    fn from(c: CoreScale) -> String {
        c.as_str().to_string()
    }
}

/// One variant as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    /// Name used in tables (default: the model name).
    pub label: Option<String>,
    /// Registered model name (`htl models` lists them).
    pub model: Option<String>,
    /// Model options (ablation switches, widths).
    #[serde(default)]
    pub options: serde_yaml::Mapping,
    /// Gradient strategy: `sum`, `pcgrad`, `metabalance`, `htl` or a map with `name`.
    pub grad: Option<serde_yaml::Value>,
    /// Training overrides for this variant.
    #[serde(default)]
    pub train: serde_yaml::Mapping,
    /// A reference library's settings for this model: `mtreclib` or `aitm_official`
    /// (`options` and `train` written here override the preset's values).
    pub preset: Option<String>,
    /// Grid for this variant (merged over the experiment's `grid`, key by key).
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<serde_yaml::Value>>,
}

/// The experiment file as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    /// Experiment name (default: file stem); results go to `results/<name>/`.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The data set.
    pub dataset: DatasetSpec,
    /// Training options shared by every cell.
    #[serde(default)]
    pub train: serde_yaml::Mapping,
    /// Seeds; one cell per variant and seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Device: `cpu` (default), `libtorch`, `libtorch-cuda:N`, `cuda:N`; `--device` overrides.
    pub device: Option<String>,
    /// Add the `constant` reference row (training base rates / mean).
    #[serde(default = "yes")]
    pub constant_reference: bool,
    /// Defaults inherited by every variant.
    #[serde(default)]
    pub base: RawVariant,
    /// The model variants.
    pub variants: Vec<RawVariant>,
    /// Cartesian grid applied to every variant: `options.<key>` (or a bare model option),
    /// `train.<key>`, `grad.<key>` or `synthetic.<key>` (a key of the synthetic generator:
    /// the point's cells get their own data set, and the constant reference is repeated
    /// per data set) → list of values. Each point becomes its own variant labelled
    /// `<label> [key=value, …]`.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<serde_yaml::Value>>,
    /// Where cells train: `local` (default) or `slurm`; `htl run --executor` overrides.
    #[serde(default)]
    pub executor: Executor,
    /// SLURM resources per cell, used by the `slurm` executor.
    #[serde(default)]
    pub slurm: SlurmConfig,
    /// External result CSVs (published or peer numbers), relative to the YAML file, shown
    /// untested in the report's overall table (`htl report --external`).
    #[serde(default)]
    pub external: Vec<PathBuf>,
}

fn default_seeds() -> Vec<u64> {
    vec![1]
}
fn yes() -> bool {
    true
}

/// A fully resolved cell: everything that determines its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellConfig {
    /// Variant label.
    pub variant: String,
    /// Model name (`constant` for the reference row).
    pub model: String,
    /// Model options with defaults filled in.
    pub options: serde_yaml::Value,
    /// Gradient strategy.
    pub grad: GradSpec,
    /// Training options.
    pub train: TrainConfig,
    /// Data set.
    pub dataset: DatasetSpec,
    /// The cell's seed: initialisation, shuffling, dropout, Gumbel noise.
    pub seed: u64,
    /// The reference-library preset the options came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
}

impl CellConfig {
    /// Stable id: `<variant slug>-s<seed>-<first 10 hex of sha256(canonical json)>`. The
    /// canonical form is the JSON of the resolved config with keys sorted, so ids do not
    /// depend on key order in the YAML or on other variants.
    pub fn id(&self) -> String {
        let v = serde_json::to_value(self).expect("config serialises");
        let canon = canonical_json(&v);
        let hash = Sha256::digest(canon.as_bytes());
        let hex: String = hash.iter().take(5).map(|b| format!("{b:02x}")).collect();
        format!("{}-s{}-{}", slug(&self.variant), self.seed, hex)
    }
}

/// Serialises with object keys sorted (serde_json's map is ordered by key).
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).expect("json")
}

/// Lower-case alphanumerics and dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let t = out.trim_matches('-').to_string();
    if t.is_empty() {
        "variant".into()
    } else {
        t
    }
}

/// A resolved experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Name.
    pub name: String,
    /// The YAML file.
    pub path: PathBuf,
    /// Folder relative paths resolve against.
    pub base_dir: PathBuf,
    /// The data set as written; a cell's own `dataset` differs from it when the grid has
    /// `synthetic.<key>` keys.
    pub dataset: DatasetSpec,
    /// Cells in a stable order (variant order, then seed).
    pub cells: Vec<CellConfig>,
    /// Variant labels in order (the constant reference first when enabled).
    pub variants: Vec<String>,
    /// The YAML `device:` key.
    pub device: Option<String>,
    /// The YAML `executor:` key.
    pub executor: Executor,
    /// The YAML `slurm:` block (validated).
    pub slurm: SlurmConfig,
    /// One line per variant whose preset changes a training key (`htl run` prints them).
    pub notes: Vec<String>,
    /// The YAML `external:` files, resolved against the YAML's folder (checked to exist).
    pub external: Vec<PathBuf>,
}

fn merge(base: &serde_yaml::Mapping, over: &serde_yaml::Mapping) -> serde_yaml::Mapping {
    let mut m = base.clone();
    for (k, v) in over {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// What a YAML value is, for messages (`a string`, `a list`, …).
fn yaml_kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "an empty document",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// The top-level keys of an experiment file, as listed in messages.
const EXPERIMENT_KEYS: &str =
    "name, description, dataset, train, seeds, device, constant_reference, base, variants, grid, executor, slurm, external";

/// Reads and resolves an experiment file. Every error names the file and the key.
pub fn load_experiment(path: &Path) -> Result<Experiment, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read experiment file {}: {e}",
            path.display()
        ))
    })?;
    parse_experiment(&text, path)
}

/// Resolves an experiment from YAML text (`path` is used for messages and relative paths).
pub fn parse_experiment(text: &str, path: &Path) -> Result<Experiment, ConfigError> {
    let file = path.display();
    // A file that is not a mapping gets a message about the file, not about serde's struct.
    match serde_yaml::from_str::<serde_yaml::Value>(text) {
        Ok(serde_yaml::Value::Mapping(_)) | Err(_) => {}
        Ok(other) => {
            let found = yaml_kind(&other);
            return Err(ConfigError(format!(
                "{file}: expected a mapping with the keys {EXPERIMENT_KEYS} (at least `dataset` and `variants`), found {found}"
            )));
        }
    }
    let raw: RawExperiment =
        serde_yaml::from_str(text).map_err(|e| ConfigError(format!("{file}: {e}")))?;
    // Everything about the data set that needs no data: the chain, split ratios, generator
    // ranges, preset-only options.
    let chain = raw
        .dataset
        .validate()
        .and_then(|()| raw.dataset.task_chain())
        .map_err(|e| ConfigError(format!("{file}: key `dataset`: {e}")))?;
    let name = raw.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("experiment".into(), |s| s.to_string_lossy().into_owned())
    });
    if raw.variants.is_empty() {
        return Err(ConfigError(format!(
            "{file}: `variants` is empty; list at least one model variant"
        )));
    }
    raw.slurm
        .validate()
        .map_err(|e| ConfigError(format!("{file}: {e}")))?;
    if raw.seeds.is_empty() {
        return Err(ConfigError(format!(
            "{file}: `seeds` is empty; give at least one seed, e.g. `seeds: [1, 2, 3]`"
        )));
    }
    let mut cells = Vec::new();
    let mut variants = Vec::new();
    let mut notes = Vec::new();
    let base_train = raw.train.clone();
    // One precedence for every key: model defaults < preset < experiment `train:` / `base:`
    // < the variant's own keys. `under` holds the preset's training keys.
    let train_of = |under: &serde_yaml::Mapping,
                    over: &serde_yaml::Mapping,
                    key: &str|
     -> Result<TrainConfig, ConfigError> {
        let m = merge(&merge(&merge(under, &base_train), &raw.base.train), over);
        let t: TrainConfig = serde_yaml::from_value(serde_yaml::Value::Mapping(m))
            .map_err(|e| ConfigError(format!("{file}: key `{key}`: {e}")))?;
        validate_train(&t)
            .and_then(|()| check_core_loss(&t, &chain))
            .map_err(|e| ConfigError(format!("{file}: key `{key}`: {e}")))?;
        t.monitor
            .check(&chain)
            .map_err(|e| ConfigError(format!("{file}: key `{key}.monitor`: {e}")))?;
        Ok(t)
    };
    let constant_train = if raw.constant_reference {
        let empty = serde_yaml::Mapping::new();
        Some(train_of(&empty, &empty, "train")?)
    } else {
        None
    };
    // The data sets of the grid's `synthetic.<key>` points, in first-seen order, with
    // their label suffix (just the data set's first when no grid key touches the data).
    let mut datasets: Vec<(DatasetSpec, String)> = Vec::new();
    for (i, v) in raw.variants.iter().enumerate() {
        let key = format!("variants[{i}]");
        let mut grid = raw.grid.clone();
        grid.extend(v.grid.clone());
        for (gk, values) in &grid {
            if values.is_empty() {
                return Err(ConfigError(format!(
                    "{file}: key `grid.{gk}` has no values; list at least one"
                )));
            }
        }
        for point in grid_points(&grid) {
            let mut v = v.clone();
            let mut suffix = Vec::new();
            let mut data_suffix = Vec::new();
            let mut dataset = raw.dataset.clone();
            for (gk, value) in &point {
                let (section, name) = match gk.split_once('.') {
                    Some((s, n)) if ["options", "train", "grad", "synthetic"].contains(&s) => {
                        (s, n)
                    }
                    Some(_) => {
                        return Err(ConfigError(format!(
                            "{file}: grid key `{gk}`: the prefix must be `options.`, `train.`, `grad.` or `synthetic.` (or no prefix for a model option)"
                        )))
                    }
                    None => ("options", gk.as_str()),
                };
                let k: serde_yaml::Value = name.into();
                match section {
                    "synthetic" => {
                        dataset = with_synthetic_key(&dataset, gk, name, value)
                            .map_err(|m| ConfigError(format!("{file}: {m}")))?;
                        data_suffix.push(format!("{name}={}", yaml_scalar(value)));
                    }
                    "options" => {
                        v.options.insert(k, value.clone());
                    }
                    "train" => {
                        v.train.insert(k, value.clone());
                    }
                    _ => {
                        let mut m = serde_yaml::Mapping::new();
                        match v.grad.clone().or_else(|| raw.base.grad.clone()) {
                            Some(serde_yaml::Value::String(n)) => {
                                m.insert("name".into(), n.into());
                            }
                            Some(serde_yaml::Value::Mapping(g)) => m = g,
                            _ => {
                                return Err(ConfigError(format!(
                                    "{file}: grid key `{gk}` needs the variant to name its `grad:` strategy"
                                )))
                            }
                        }
                        m.insert(k, value.clone());
                        v.grad = Some(serde_yaml::Value::Mapping(m));
                    }
                }
                suffix.push(format!("{name}={}", yaml_scalar(value)));
            }
            let label_suffix = if suffix.is_empty() {
                String::new()
            } else {
                format!(" [{}]", suffix.join(", "))
            };
            if !datasets.iter().any(|(d, _)| d == &dataset) {
                let data_label = if data_suffix.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", data_suffix.join(", "))
                };
                datasets.push((dataset.clone(), data_label));
            }
            push_variant(
                &raw,
                &v,
                &dataset,
                &key,
                &label_suffix,
                &train_of,
                file.to_string(),
                &mut variants,
                &mut cells,
                &mut notes,
            )?;
        }
    }
    // The constant reference comes first, once per data set.
    if let Some(train) = constant_train {
        let mut constant_cells = Vec::new();
        let mut constant_labels = Vec::new();
        for (dataset, data_label) in &datasets {
            let label = format!("constant{data_label}");
            if variants.contains(&label) {
                return Err(ConfigError(format!(
                    "{file}: a variant is labelled `{label}`, the label of the constant reference row; rename it or set `constant_reference: false`"
                )));
            }
            constant_labels.push(label.clone());
            for &seed in &raw.seeds {
                constant_cells.push(CellConfig {
                    variant: label.clone(),
                    model: "constant".into(),
                    options: serde_yaml::Value::Null,
                    grad: GradSpec::Sum,
                    train: train.clone(),
                    dataset: dataset.clone(),
                    seed,
                    preset: None,
                });
            }
        }
        constant_cells.append(&mut cells);
        cells = constant_cells;
        constant_labels.append(&mut variants);
        variants = constant_labels;
    }
    let base_dir = base_dir_of(path);
    let mut external = Vec::new();
    for (i, f) in raw.external.iter().enumerate() {
        let resolved = base_dir.join(f);
        if !resolved.is_file() {
            return Err(ConfigError(format!(
                "{file}: key `external[{i}]`: {} does not exist (paths are relative to the experiment file); fix the path or remove the entry",
                resolved.display()
            )));
        }
        external.push(resolved);
    }
    Ok(Experiment {
        name,
        path: path.to_path_buf(),
        base_dir,
        external,
        dataset: raw.dataset,
        cells,
        variants,
        device: raw.device,
        executor: raw.executor,
        slurm: raw.slurm,
        notes,
    })
}

/// The folder that relative paths in the YAML file `path` resolve against (absolute).
fn base_dir_of(path: &Path) -> PathBuf {
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if parent.is_absolute() {
        parent
    } else {
        std::env::current_dir()
            .map(|d| d.join(&parent))
            .unwrap_or(parent)
    }
}

/// Reads the data set of `path` for `htl data inspect`: an experiment file (its `dataset:`
/// block, recognised by having both `dataset` and `variants`) or a file holding a dataset
/// spec. Returns the spec and the folder its relative paths resolve against.
pub fn load_dataset_spec(path: &Path) -> Result<(DatasetSpec, PathBuf), ConfigError> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {file}: {e}")))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| ConfigError(format!("{file}: {e}")))?;
    if !value.is_mapping() {
        return Err(ConfigError(format!(
            "{file}: expected a mapping: an experiment (with `dataset` and `variants`) or a dataset spec (with `synthetic`, `preset` or `path`), found {}",
            yaml_kind(&value)
        )));
    }
    let (value, key) = match value.get("dataset") {
        Some(d) if value.get("variants").is_some() => (d.clone(), "key `dataset`: "),
        _ => (value, ""),
    };
    let spec: DatasetSpec =
        serde_yaml::from_value(value).map_err(|e| ConfigError(format!("{file}: {key}{e}")))?;
    Ok((spec, base_dir_of(path)))
}

/// Reads a YAML file into `T` (e.g. the synthetic generator's settings for `htl data gen
/// --config`); errors name the file.
pub fn load_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {file}: {e}")))?;
    serde_yaml::from_str(&text).map_err(|e| ConfigError(format!("{file}: {e}")))
}

/// The synthetic generator keys a grid may vary: every key of `dataset.synthetic` except
/// those that change the task chain (`chain`, `core`), which must be the same for every
/// cell of an experiment.
const SYNTHETIC_GRID_KEYS: &str = "rows, users, items, item_skew, context_vocab, numeric, latent_dim, dependence, signal, noise, seed, funnel";

/// `dataset` with `synthetic.<name>` set to `value` (the grid key `gk`), validated; the
/// message names the grid key.
fn with_synthetic_key(
    dataset: &DatasetSpec,
    gk: &str,
    name: &str,
    value: &serde_yaml::Value,
) -> Result<DatasetSpec, String> {
    let DatasetSpec::Synthetic(spec) = dataset else {
        return Err(format!(
            "grid key `{gk}`: the data set is not synthetic; a `synthetic.` grid key needs `dataset: {{synthetic: …}}`"
        ));
    };
    if !SYNTHETIC_GRID_KEYS.split(", ").any(|k| k == name) {
        return Err(format!(
            "grid key `{gk}`: `{name}` cannot vary in a grid (the task chain must be the same for every cell); use one of {SYNTHETIC_GRID_KEYS}"
        ));
    }
    let mut m = match serde_yaml::to_value(&spec.config) {
        Ok(serde_yaml::Value::Mapping(m)) => m,
        _ => {
            return Err(format!(
                "grid key `{gk}`: the synthetic settings do not serialise"
            ))
        }
    };
    m.insert(name.into(), value.clone());
    let config: crate::data::SyntheticConfig =
        serde_yaml::from_value(serde_yaml::Value::Mapping(m))
            .map_err(|e| format!("grid key `{gk}`: value {}: {e}", yaml_scalar(value)))?;
    config
        .validate()
        .map_err(|e| format!("grid key `{gk}`: value {}: {e}", yaml_scalar(value)))?;
    let mut spec = spec.clone();
    spec.config = config;
    Ok(DatasetSpec::Synthetic(spec))
}

/// Every point of a cartesian grid, keys in sorted order (one empty point for no grid).
fn grid_points(
    grid: &BTreeMap<String, Vec<serde_yaml::Value>>,
) -> Vec<Vec<(String, serde_yaml::Value)>> {
    let mut points = vec![Vec::new()];
    for (k, values) in grid {
        let mut next = Vec::with_capacity(points.len() * values.len());
        for p in &points {
            for v in values {
                let mut q = p.clone();
                q.push((k.clone(), v.clone()));
                next.push(q);
            }
        }
        points = next;
    }
    points
}

fn yaml_scalar(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn push_variant(
    raw: &RawExperiment,
    v: &RawVariant,
    dataset: &DatasetSpec,
    key: &str,
    label_suffix: &str,
    train_of: &dyn Fn(
        &serde_yaml::Mapping,
        &serde_yaml::Mapping,
        &str,
    ) -> Result<TrainConfig, ConfigError>,
    file: String,
    variants: &mut Vec<String>,
    cells: &mut Vec<CellConfig>,
    notes: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let model = v
        .model
        .clone()
        .or_else(|| raw.base.model.clone())
        .ok_or_else(|| {
            ConfigError(format!(
                "{file}: key `{key}.model` is missing; name a model (`htl models` lists them)"
            ))
        })?;
    let entry = find_model(&model).ok_or_else(|| {
        let names: Vec<String> = crate::zoo::registry()
            .iter()
            .map(|e| e.name.to_string())
            .collect();
        let close = crate::data::error::close_matches(&model, &names);
        let hint = match close.first() {
            Some(c) => format!(" (did you mean `{c}`?)"),
            None => String::new(),
        };
        ConfigError(format!(
            "{file}: key `{key}.model`: unknown model `{model}`{hint}; registered models: {}",
            names.join(", ")
        ))
    })?;
    let preset_name = v.preset.clone().or_else(|| raw.base.preset.clone());
    let (preset_options, preset_train) = match &preset_name {
        Some(p) => crate::zoo::preset(&model, p)
            .map_err(|e| ConfigError(format!("{file}: key `{key}.preset`: {e}")))?,
        None => (serde_yaml::Mapping::new(), serde_yaml::Mapping::new()),
    };
    let options = merge(&merge(&preset_options, &raw.base.options), &v.options);
    let options = (entry.resolve)(&serde_yaml::Value::Mapping(options)).map_err(|e| {
        ConfigError(format!(
            "{file}: key `{key}.options` (model `{model}`): {e}"
        ))
    })?;
    let grad_v = v
        .grad
        .clone()
        .or_else(|| raw.base.grad.clone())
        .unwrap_or_else(|| serde_yaml::Value::String(entry.default_grad.into()));
    let grad = GradSpec::from_yaml(&grad_v)
        .map_err(|e| ConfigError(format!("{file}: key `{key}.grad`: {e}")))?;
    let train_key = format!("{key}.train");
    let train = train_of(&preset_train, &v.train, &train_key)?;
    let unpreset = train_of(&serde_yaml::Mapping::new(), &v.train, &train_key)?;
    let changed = preset_changes(&unpreset, &train);
    let default_label = match &preset_name {
        Some(p) => format!("{model} ({p})"),
        None => model.clone(),
    };
    let label = format!("{}{label_suffix}", v.label.clone().unwrap_or(default_label));
    if variants.contains(&label) {
        return Err(ConfigError(format!(
            "{file}: key `{key}.label`: two variants are labelled `{label}`; give each a distinct `label`"
        )));
    }
    if let (Some(p), false) = (&preset_name, changed.is_empty()) {
        notes.push(format!(
            "note: `{label}`: preset `{p}` sets train {} (write them under `train:` to override)",
            changed.join(", ")
        ));
    }
    variants.push(label.clone());
    for &seed in &raw.seeds {
        cells.push(CellConfig {
            variant: label.clone(),
            model: model.clone(),
            options: options.clone(),
            grad: grad.clone(),
            train: train.clone(),
            dataset: dataset.clone(),
            seed,
            preset: preset_name.clone(),
        });
    }
    Ok(())
}

/// The training keys whose resolved value differs with and without the preset, as
/// `key: value` (sorted by key).
fn preset_changes(without: &TrainConfig, with: &TrainConfig) -> Vec<String> {
    let (Ok(serde_yaml::Value::Mapping(a)), Ok(serde_yaml::Value::Mapping(b))) =
        (serde_yaml::to_value(without), serde_yaml::to_value(with))
    else {
        return Vec::new();
    };
    let mut out: Vec<String> = b
        .iter()
        .filter(|(k, v)| a.get(*k) != Some(*v))
        .map(|(k, v)| {
            let shown = match v {
                serde_yaml::Value::Sequence(items) => {
                    let parts: Vec<String> = items.iter().map(yaml_scalar).collect();
                    format!("[{}]", parts.join(", "))
                }
                other => yaml_scalar(other),
            };
            format!("{}: {shown}", yaml_scalar(k))
        })
        .collect();
    out.sort();
    out
}

/// `core_loss: ziln` needs the raw core target and a chain that has one.
fn check_core_loss(t: &TrainConfig, chain: &TaskChain) -> Result<(), TrainKeyError> {
    if t.core_loss != CoreLoss::Ziln {
        return Ok(());
    }
    if chain.core().is_none() {
        let names: Vec<&str> = chain.tasks().iter().map(|t| t.name.as_str()).collect();
        return Err(TrainKeyError::ZilnWithoutCore(names.join(", ")));
    }
    if t.core_transform != CoreScale::None {
        return Err(TrainKeyError::ZilnTransform(
            t.core_transform.as_str().to_string(),
        ));
    }
    Ok(())
}

fn validate_train(t: &TrainConfig) -> Result<(), TrainKeyError> {
    if t.epochs == 0 {
        return Err(TrainKeyError::Epochs);
    }
    if t.batch_size == 0 || t.eval_batch_size == 0 {
        return Err(TrainKeyError::BatchSize);
    }
    if !(t.lr.is_finite() && t.lr > 0.0) {
        return Err(TrainKeyError::Lr(t.lr));
    }
    if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
        return Err(TrainKeyError::WeightDecay(t.weight_decay));
    }
    if !["sum", "mean"].contains(&t.loss_reduction.as_str()) {
        return Err(TrainKeyError::LossReduction(t.loss_reduction.clone()));
    }
    let groups = ["all", "embedding", "attention"];
    if let Some(g) = t
        .weight_decay_on
        .iter()
        .find(|g| !groups.contains(&g.as_str()))
    {
        return Err(TrainKeyError::DecayGroup(g.clone()));
    }
    if t.weight_decay_on.is_empty()
        || (t.weight_decay_on.len() > 1 && t.weight_decay_on.iter().any(|g| g == "all"))
    {
        return Err(TrainKeyError::DecayGroups(format!(
            "{:?}",
            t.weight_decay_on
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

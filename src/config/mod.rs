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

use crate::data::DatasetSpec;
use crate::optim::GradSpec;
use crate::zoo::find_model;

/// A configuration error, already phrased for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
    /// lower is better) or `<task>:<metric>` (e.g. `click:auc`; higher is better for auc,
    /// gini, spearman, lower for the others).
    pub monitor: String,
    /// Scale of the core target in the loss: `standardize` or `log1p_standardize`.
    pub core_transform: String,
    /// Batch size for evaluation.
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
            monitor: "all".into(),
            core_transform: "standardize".into(),
            eval_batch_size: 8192,
            grad_stats_every: 20,
            max_steps_per_epoch: 0,
        }
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
    /// `train.<key>` or `grad.<key>` → list of values. Each point becomes its own variant
    /// labelled `<label> [key=value, …]`.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<serde_yaml::Value>>,
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
    /// The data set (same for all cells).
    pub dataset: DatasetSpec,
    /// Cells in a stable order (variant order, then seed).
    pub cells: Vec<CellConfig>,
    /// Variant labels in order (the constant reference first when enabled).
    pub variants: Vec<String>,
    /// The YAML `device:` key.
    pub device: Option<String>,
    /// One line per variant whose preset changes a training key (`htl run` prints them).
    pub notes: Vec<String>,
}

fn merge(base: &serde_yaml::Mapping, over: &serde_yaml::Mapping) -> serde_yaml::Mapping {
    let mut m = base.clone();
    for (k, v) in over {
        m.insert(k.clone(), v.clone());
    }
    m
}

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
    let raw: RawExperiment =
        serde_yaml::from_str(text).map_err(|e| ConfigError(format!("{file}: {e}")))?;
    let name = raw.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("experiment".into(), |s| s.to_string_lossy().into_owned())
    });
    if raw.variants.is_empty() {
        return Err(ConfigError(format!(
            "{file}: `variants` is empty; list at least one model variant"
        )));
    }
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
        validate_train(&t).map_err(|e| ConfigError(format!("{file}: key `{key}`: {e}")))?;
        Ok(t)
    };
    if raw.constant_reference {
        let empty = serde_yaml::Mapping::new();
        let train = train_of(&empty, &empty, "train")?;
        variants.push("constant".to_string());
        for &seed in &raw.seeds {
            cells.push(CellConfig {
                variant: "constant".into(),
                model: "constant".into(),
                options: serde_yaml::Value::Null,
                grad: GradSpec::Sum,
                train: train.clone(),
                dataset: raw.dataset.clone(),
                seed,
                preset: None,
            });
        }
    }
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
            for (gk, value) in &point {
                let (section, name) = match gk.split_once('.') {
                    Some((s, n)) if ["options", "train", "grad"].contains(&s) => (s, n),
                    Some(_) => {
                        return Err(ConfigError(format!(
                            "{file}: grid key `{gk}`: the prefix must be `options.`, `train.` or `grad.` (or no prefix for a model option)"
                        )))
                    }
                    None => ("options", gk.as_str()),
                };
                let k: serde_yaml::Value = name.into();
                match section {
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
            push_variant(
                &raw,
                &v,
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
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base_dir = if parent.is_absolute() {
        parent
    } else {
        std::env::current_dir()
            .map(|d| d.join(&parent))
            .unwrap_or(parent)
    };
    Ok(Experiment {
        name,
        path: path.to_path_buf(),
        base_dir,
        dataset: raw.dataset,
        cells,
        variants,
        device: raw.device,
        notes,
    })
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
            dataset: raw.dataset.clone(),
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

fn validate_train(t: &TrainConfig) -> Result<(), String> {
    if t.epochs == 0 {
        return Err("`epochs` must be at least 1".into());
    }
    if t.batch_size == 0 || t.eval_batch_size == 0 {
        return Err("`batch_size` and `eval_batch_size` must be at least 1".into());
    }
    if !(t.lr.is_finite() && t.lr > 0.0) {
        return Err(format!("`lr` must be a positive number, got {}", t.lr));
    }
    if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
        return Err(format!(
            "`weight_decay: {}` must be a finite number ≥ 0",
            t.weight_decay
        ));
    }
    if !["sum", "mean"].contains(&t.loss_reduction.as_str()) {
        return Err(format!(
            "`loss_reduction: {}` is not valid; use one of: sum, mean",
            t.loss_reduction
        ));
    }
    let groups = ["all", "embedding", "attention"];
    if let Some(g) = t
        .weight_decay_on
        .iter()
        .find(|g| !groups.contains(&g.as_str()))
    {
        return Err(format!(
            "`weight_decay_on: {g}` is not a parameter group; use `[all]` or a list of: embedding, attention"
        ));
    }
    if t.weight_decay_on.is_empty()
        || (t.weight_decay_on.len() > 1 && t.weight_decay_on.iter().any(|g| g == "all"))
    {
        return Err(format!(
            "`weight_decay_on: {:?}` must be `[all]` or a non-empty list of groups (embedding, attention)",
            t.weight_decay_on
        ));
    }
    if !["standardize", "log1p_standardize"].contains(&t.core_transform.as_str()) {
        return Err(format!(
            "unknown `core_transform` `{}`; valid: standardize, log1p_standardize",
            t.core_transform
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

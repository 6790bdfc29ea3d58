//! The built-in synthetic data set: impressions with a binary funnel and a
//! zero-inflated, heavy-tailed core value (SPEC §4).
//!
//! # Model
//!
//! Columns: `user_id`, `item_id`, `ctx_1..ctx_F`, `num_1..num_M`, the chain's
//! binary actions `a_1..a_K` (0/1) and the core value `y` (float >= 0).
//! With d = `latent_dim`, δ = `dependence`, σ(x) = 1 / (1 + e^-x):
//!
//! * Entities. For every factor set s ∈ {0 (shared), 1..K (one per action),
//!   K+1 (core)}: user factors P_s\[u\] and item factors Q_s\[i\] with N(0, 1/√d)
//!   entries (so P·Q has variance ≈ 1), user and item biases b_s ~ N(0, 1).
//!   Context effects c_f\[v\] ~ N(0, 1/F). Per-user numeric means g\[u, j\] ~ N(0, 1)
//!   and weights w_j ~ N(0, 1/(2M)).
//! * A row: u ~ uniform over `users`; i ~ P(i) ∝ (i + 1)^-`item_skew`;
//!   ctx_f ~ uniform over its vocabulary; num_j = g\[u, j\] + N(0, 1).
//! * Scores. Shared: S = P_0\[u\]·Q_0\[i\] + b_0\[u\] + b_0\[i\] + Σ_f c_f\[ctx_f\] + Σ_j w_j num_j;
//!   task-specific: T_s = P_s\[u\]·Q_s\[i\] + b_s\[u\] + b_s\[i\]. Each is standardised
//!   over the generated rows. Task s mixes them: R_s = √δ S + √(1-δ) T_s
//!   (unit variance; at δ = 0 every task has its own independent factors).
//! * Actions, k = 1..K: z_k = `signal` R_k + `noise` ε_k, ε_k ~ N(0, 1);
//!   a_k ~ Bernoulli(σ(β_k + z_k)) on the *eligible* rows, 0 elsewhere.
//!   Eligible: all rows for k = 1, or whenever δ = 0; rows with a_{k-1} = 1
//!   otherwise (an action is only possible after the previous one). β_k is
//!   found by bisection so that the mean of σ(β_k + z_k) over the eligible
//!   rows equals `rate` — so `rate` is the rate *conditional on the previous
//!   action* (and the marginal rate when δ = 0).
//! * Core value (`funnel: strict`): active = a_K when δ > 0 (and K > 0); when δ = 0 (or K = 0)
//!   active ~ Bernoulli(Π_k rate_k), independent of the actions. Positive =
//!   active and U >= `zero_prob`. With z_c = `signal` R_c + `noise` ε_c + ξ,
//!   ε_c, ξ ~ N(0, 1) (ξ: the value's own randomness), standardised to mean 0
//!   and std 1 over the positive rows: log y = `mu` + `sigma` z_c on positive
//!   rows (so among them log y has mean `mu` and std `sigma` exactly, whatever
//!   the funnel selected), y = 0 otherwise.
//!
//! The bullets above are `funnel: strict` (the default). There, δ > 0 is a
//! strict funnel whatever its size, and at δ = 0 whether the core is positive
//! is independent of every feature, so the core has almost nothing to learn.
//!
//! # `funnel: graded`
//!
//! δ also sets how strongly each target depends on the *realised* previous
//! label, not only on the shared factors, and the core's activity has its
//! own learnable score. Entities, rows, scores R_s and z_k are as above; with
//! m_k = Π_{j<=k} rate_j (m_0 = 1) and gates g_1 = 1, g_k = 1 - δ (1 - a_{k-1}):
//!
//! * Actions: P(a_k = 1 | x, a_{k-1}) = g_k σ(β_k + z_k), drawn on every row;
//!   β_k is found by bisection so that the mean of g_k σ(β_k + z_k) over all
//!   rows equals m_k. So a row without the previous action keeps a share
//!   1 - δ of its probability: δ = 0 makes a_k independent of a_{k-1} (given
//!   the features), δ = 1 is the strict funnel. The marginal rate of a_k is
//!   m_k at every δ (at δ = 1, `rate` is again the rate given the previous
//!   action), so class balance does not move along a δ sweep.
//! * Core activity, one more gated step: z_a = `signal` R_c + `noise` η,
//!   η ~ N(0, 1); g_c = 1 - δ (1 - a_K) (1 when K = 0);
//!   P(active | x, a_K) = g_c σ(β_c + z_a), β_c calibrated so that its mean
//!   over all rows is m_K. Positive = active and U >= `zero_prob`, as above.
//!   Near δ = 1 a target the gate cannot reach puts β_c at the top of the
//!   bisection range: active = a_K, as in the strict funnel.
//! * Core value: z_c = `signal` R_c + `noise` ε_c + ξ + `signal` δ a_K, then
//!   standardised over the positive rows and log y = `mu` + `sigma` z_c as
//!   above: at δ > 0 a row that took the last action has a larger value.
//!
//! At δ = 0 the actions and the core are independent of each other, and both
//! whether the core is positive and its size depend on the features through
//! R_c = T_c (user and item factors and biases): the core stays learnable.
//!
//! # Determinism
//!
//! `ChaCha8Rng::seed_from_u64(seed)`: stream 0 draws entities and row
//! features, stream 1 + k the noise and uniforms of action k, stream K + 1
//! those of the core value, stream K + 2 the activity noise η (`graded`
//! only); every row draws the same numbers whatever δ is.
//! Sums run in a fixed order, so the same config gives the same bytes on any
//! machine and thread count.

use std::path::Path;

use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::encode::{self, Layout};
use super::error::DataError;
use super::io::FileKind;
use super::spec::{NumericTransform, SplitSpec, TimeType};
use super::split::bounded;
use super::types::{Dataset, Task, TaskChain, TaskKind};

/// The generated data set: generator settings plus split and encoding options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyntheticSpec {
    /// Name for tables (default `synthetic`).
    pub name: Option<String>,
    /// Generator settings (`synthetic:`).
    pub config: SyntheticConfig,
    /// Split (default: seeded random 8:1:1, seed 2024).
    pub split: SplitSpec,
    /// How numeric features are encoded (default standardize).
    pub numeric_transform: NumericTransform,
    /// Buckets per numeric feature under `bucketize` (default 10).
    pub buckets: usize,
}

/// Settings of the generator (`dataset: { synthetic: {...} }`). Every key is
/// optional; defaults in parentheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of rows (impressions) (default 100000).
    pub rows: usize,
    /// Distinct users: the `user_id` vocabulary (default 2000).
    pub users: usize,
    /// Distinct items: the `item_id` vocabulary (default 1000).
    pub items: usize,
    /// Zipf exponent of item popularity, P(i) ∝ (i + 1)^-item_skew; 0 = uniform (default 0.8).
    pub item_skew: f64,
    /// One entry per context field `ctx_1..ctx_F`: that field's vocabulary [[4, 24, 7]].
    pub context_vocab: Vec<usize>,
    /// Number of numeric features `num_1..num_M` (default 2).
    pub numeric: usize,
    /// Dimension of the latent user / item factors (default 8).
    pub latent_dim: usize,
    /// The binary actions in funnel order, each with its positive rate given
    /// the previous action (default click 0.3, long_view 0.4).
    pub chain: Vec<ChainStep>,
    /// The core (regression) target (default watch_time, mu 3, sigma 1, zero_prob 0.05).
    pub core: CoreConfig,
    /// How strongly tasks depend on each other, in [0, 1]: 0 = independent
    /// tasks (no funnel, no shared factors); > 0 = a share δ of each task's
    /// score variance from the shared factors and, with `funnel: strict`, a
    /// strict funnel; with `funnel: graded`, δ is also the strength of each
    /// target's dependence on the previous realised label (default 0.8).
    pub dependence: f64,
    /// Scale of the learnable part of each task's logit (default 1.5).
    pub signal: f64,
    /// Std of unobservable per-row logit noise (default 0.5).
    pub noise: f64,
    /// Seed of everything generated (default 1).
    pub seed: u64,
    /// How later targets depend on earlier labels (default `strict`, today's generator;
    /// `graded`: see the module docs). Left out of the serialised config when `strict`,
    /// so the ids of cells written before this key existed stay the same.
    #[serde(default, skip_serializing_if = "Funnel::is_strict")]
    pub funnel: Funnel,
}

/// How the synthetic funnel links a target to the realised earlier labels
/// (`synthetic.funnel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Funnel {
    /// A strict funnel whenever δ > 0 (action k only after action k-1, the core only
    /// after the last action); at δ = 0 every target is independent of the others and
    /// whether the core is positive is independent of the features.
    #[default]
    Strict,
    /// δ also sets how strongly each target depends on the realised previous label:
    /// P(a_k = 1) = (1 - δ (1 - a_{k-1})) σ(β_k + z_k); the core's activity is one more
    /// such step with its own learnable score; marginal rates do not move with δ.
    Graded,
}

impl Funnel {
    /// Whether this is the default (`strict`).
    pub fn is_strict(&self) -> bool {
        *self == Funnel::Strict
    }
}

/// One binary action of the synthetic funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainStep {
    /// Column and task name.
    pub name: String,
    /// Positive rate given the previous action is 1 (the first: overall), in (0, 1).
    pub rate: f64,
}

/// The core value: zero-inflated log-normal given the last action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreConfig {
    /// Column and task name (default watch_time).
    pub name: String,
    /// Mean of log(value) among positive values (default 3.0).
    pub mu: f64,
    /// Std of log(value) among positive values (default 1.0).
    pub sigma: f64,
    /// Probability that the value is 0 although the last action is 1 (default 0.05).
    pub zero_prob: f64,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            name: "watch_time".into(),
            mu: 3.0,
            sigma: 1.0,
            zero_prob: 0.05,
        }
    }
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            rows: 100_000,
            users: 2_000,
            items: 1_000,
            item_skew: 0.8,
            context_vocab: vec![4, 24, 7],
            numeric: 2,
            latent_dim: 8,
            chain: vec![
                ChainStep {
                    name: "click".into(),
                    rate: 0.3,
                },
                ChainStep {
                    name: "long_view".into(),
                    rate: 0.4,
                },
            ],
            core: CoreConfig::default(),
            dependence: 0.8,
            signal: 1.5,
            noise: 0.5,
            seed: 1,
            funnel: Funnel::Strict,
        }
    }
}

impl SyntheticConfig {
    /// Feature column names: `user_id`, `item_id`, `ctx_*`, `num_*`.
    pub fn feature_columns(&self) -> (Vec<String>, Vec<String>) {
        let mut cat = vec!["user_id".to_string(), "item_id".to_string()];
        cat.extend((1..=self.context_vocab.len()).map(|f| format!("ctx_{f}")));
        let num = (1..=self.numeric).map(|j| format!("num_{j}")).collect();
        (cat, num)
    }

    /// The chain: the binary actions, then the core regression task.
    pub fn task_chain(&self) -> Result<TaskChain, DataError> {
        let mut tasks: Vec<Task> = self
            .chain
            .iter()
            .map(|s| Task {
                name: s.name.clone(),
                kind: TaskKind::Binary,
            })
            .collect();
        tasks.push(Task {
            name: self.core.name.clone(),
            kind: TaskKind::Regression,
        });
        TaskChain::new(tasks)
    }

    /// Range checks; the message names the key.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::InvalidSynthetic(m));
        for (key, v) in [
            ("rows", self.rows),
            ("users", self.users),
            ("items", self.items),
            ("latent_dim", self.latent_dim),
        ] {
            if v == 0 {
                return bad(format!("`synthetic.{key}` must be at least 1"));
            }
        }
        if self.users > u32::MAX as usize || self.items > u32::MAX as usize {
            return bad("`synthetic.users` and `synthetic.items` must be below 2^32".into());
        }
        if let Some(f) = self.context_vocab.iter().position(|&v| v == 0) {
            return bad(format!(
                "`synthetic.context_vocab[{f}]` is 0; each context field needs a vocabulary of at least 1"
            ));
        }
        for (key, v, lo, hi) in [
            ("dependence", self.dependence, 0.0, 1.0),
            ("signal", self.signal, 0.0, f64::MAX),
            ("noise", self.noise, 0.0, f64::MAX),
            ("item_skew", self.item_skew, 0.0, f64::MAX),
            ("core.sigma", self.core.sigma, 0.0, f64::MAX),
        ] {
            if !(v.is_finite() && v >= lo && v <= hi) {
                let range = if hi == f64::MAX {
                    format!("a finite number >= {lo}")
                } else {
                    format!("in [{lo}, {hi}]")
                };
                return bad(format!("`synthetic.{key}` is {v}; it must be {range}"));
            }
        }
        if !self.core.mu.is_finite() {
            return bad(format!(
                "`synthetic.core.mu` is {}; it must be finite",
                self.core.mu
            ));
        }
        if !(self.core.zero_prob >= 0.0 && self.core.zero_prob < 1.0) {
            return bad(format!(
                "`synthetic.core.zero_prob` is {}; it must be in [0, 1)",
                self.core.zero_prob
            ));
        }
        for (k, s) in self.chain.iter().enumerate() {
            if !(s.rate > 0.0 && s.rate < 1.0) {
                return bad(format!(
                    "`synthetic.chain[{k}].rate` (\"{}\") is {}; it must be in (0, 1)",
                    s.name, s.rate
                ));
            }
        }
        let (cat, num) = self.feature_columns();
        for name in self.chain.iter().map(|s| &s.name).chain([&self.core.name]) {
            if cat.contains(name) || num.contains(name) {
                return bad(format!(
                    "task name \"{name}\" is also a feature column; rename the task"
                ));
            }
        }
        self.task_chain()?;
        Ok(())
    }
}

/// Generates the table described by `cfg` (see the module docs for the model).
pub fn generate(cfg: &SyntheticConfig) -> Result<DataFrame, DataError> {
    cfg.validate()?;
    let n = cfg.rows;
    let d = cfg.latent_dim;
    let k_actions = cfg.chain.len();
    let n_sets = k_actions + 2;
    let f_ctx = cfg.context_vocab.len();
    let m_num = cfg.numeric;
    let delta = cfg.dependence;

    // ---- stream 0: entities, then row features ----
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let factor_sd = 1.0 / (d as f64).sqrt().sqrt();
    let mut sets: Vec<FactorSet> = Vec::with_capacity(n_sets);
    for _ in 0..n_sets {
        sets.push(FactorSet::draw(
            &mut rng, cfg.users, cfg.items, d, factor_sd,
        ));
    }
    let ctx_sd = 1.0 / (f_ctx.max(1) as f64).sqrt();
    let ctx_eff: Vec<Vec<f64>> = cfg
        .context_vocab
        .iter()
        .map(|&v| (0..v).map(|_| ctx_sd * normal(&mut rng)).collect())
        .collect();
    let num_mean: Vec<f64> = (0..cfg.users * m_num).map(|_| normal(&mut rng)).collect();
    let w_sd = 1.0 / ((2 * m_num.max(1)) as f64).sqrt();
    let num_w: Vec<f64> = (0..m_num).map(|_| w_sd * normal(&mut rng)).collect();
    let item_cdf = zipf_cdf(cfg.items, cfg.item_skew);

    let mut user = Vec::with_capacity(n);
    let mut item = Vec::with_capacity(n);
    let mut ctx: Vec<Vec<u32>> = vec![Vec::with_capacity(n); f_ctx];
    let mut num: Vec<Vec<f64>> = vec![Vec::with_capacity(n); m_num];
    for _ in 0..n {
        let u = bounded(&mut rng, cfg.users as u64) as u32;
        let x: f64 = rng.random();
        let i = item_cdf.partition_point(|&c| c <= x).min(cfg.items - 1) as u32;
        user.push(u);
        item.push(i);
        for (f, &v) in cfg.context_vocab.iter().enumerate() {
            ctx[f].push(bounded(&mut rng, v as u64) as u32);
        }
        for (j, col) in num.iter_mut().enumerate() {
            col.push(num_mean[u as usize * m_num + j] + normal(&mut rng));
        }
    }

    // ---- scores ----
    let shared = standardized(
        (0..n)
            .into_par_iter()
            .map(|r| {
                let mut s = sets[0].score(user[r], item[r], d);
                for (f, eff) in ctx_eff.iter().enumerate() {
                    s += eff[ctx[f][r] as usize];
                }
                for (j, w) in num_w.iter().enumerate() {
                    s += w * num[j][r];
                }
                s
            })
            .collect(),
    );
    let (w_shared, w_own) = (delta.sqrt(), (1.0 - delta).sqrt());
    let task_score = |set: usize| -> Vec<f64> {
        let own = standardized(
            (0..n)
                .into_par_iter()
                .map(|r| sets[set].score(user[r], item[r], d))
                .collect(),
        );
        own.iter()
            .zip(&shared)
            .map(|(t, s)| w_shared * s + w_own * t)
            .collect()
    };

    // ---- actions ----
    let graded = cfg.funnel == Funnel::Graded;
    // Marginal rate of the action so far: Π_{j<=k} rate_j (used by `graded` only).
    let mut marginal = 1.0;
    let mut actions: Vec<Vec<i32>> = Vec::with_capacity(k_actions);
    for (k, step) in cfg.chain.iter().enumerate() {
        let mut rng = stream(cfg.seed, 1 + k as u64);
        let score = task_score(1 + k);
        let mut z = Vec::with_capacity(n);
        let mut unif = Vec::with_capacity(n);
        for s in &score {
            z.push(cfg.signal * s + cfg.noise * normal(&mut rng));
            unif.push(rng.random::<f64>());
        }
        marginal *= step.rate;
        let a: Vec<i32> = if graded {
            let gate = graded_gate(actions.last(), delta, n);
            let beta = calibrate_gated(&z, &gate, marginal);
            (0..n)
                .map(|r| i32::from(unif[r] < gate[r] * sigmoid(beta + z[r])))
                .collect()
        } else {
            let eligible: Vec<bool> = match actions.last() {
                Some(prev) if delta > 0.0 => prev.iter().map(|&a| a == 1).collect(),
                _ => vec![true; n],
            };
            let beta = calibrate(&z, &eligible, step.rate);
            (0..n)
                .map(|r| i32::from(eligible[r] && unif[r] < sigmoid(beta + z[r])))
                .collect()
        };
        actions.push(a);
    }

    // ---- core value ----
    let mut rng = stream(cfg.seed, 1 + k_actions as u64);
    let score = task_score(1 + k_actions);
    let gate_rate: f64 = cfg.chain.iter().map(|s| s.rate).product();
    // `graded`: the core's activity is one more gated step with its own learnable score
    // z_a = signal R_c + noise η (η from stream K + 2) and marginal rate Π_k rate_k.
    let graded_core = if graded {
        let mut eta_rng = stream(cfg.seed, 2 + k_actions as u64);
        let za: Vec<f64> = score
            .iter()
            .map(|s| cfg.signal * s + cfg.noise * normal(&mut eta_rng))
            .collect();
        let gate = graded_gate(actions.last(), delta, n);
        let beta = calibrate_gated(&za, &gate, marginal);
        let p: Vec<f64> = (0..n).map(|r| gate[r] * sigmoid(beta + za[r])).collect();
        Some(p)
    } else {
        None
    };
    let mut zc = Vec::with_capacity(n);
    let mut positive = Vec::with_capacity(n);
    for (r, s) in score.iter().enumerate() {
        let eps: f64 = normal(&mut rng);
        let xi: f64 = normal(&mut rng);
        let u_zero: f64 = rng.random();
        let u_gate: f64 = rng.random();
        let (active, shift) = match (&graded_core, actions.last()) {
            (Some(p), last) => {
                let a_last = last.map_or(0.0, |l| f64::from(l[r]));
                (u_gate < p[r], cfg.signal * delta * a_last)
            }
            (None, Some(last)) if delta > 0.0 => (last[r] == 1, 0.0),
            (None, _) => (u_gate < gate_rate, 0.0),
        };
        positive.push(active && u_zero >= cfg.core.zero_prob);
        zc.push(cfg.signal * s + cfg.noise * eps + xi + shift);
    }
    // Standardise z_c over the positive rows, so that log y has mean mu and
    // std sigma among them whatever the selection by the funnel did.
    let pos_z: Vec<f64> = zc
        .iter()
        .zip(&positive)
        .filter(|(_, p)| **p)
        .map(|(z, _)| *z)
        .collect();
    let (z_mean, z_sd) = if pos_z.is_empty() {
        (0.0, 1.0)
    } else {
        let m = pos_z.len() as f64;
        let mean = fixed_sum(&pos_z, |v| v) / m;
        let var = fixed_sum(&pos_z, |v| (v - mean) * (v - mean)) / m;
        (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
    };
    let value: Vec<f64> = zc
        .iter()
        .zip(&positive)
        .map(|(z, p)| {
            if *p {
                (cfg.core.mu + cfg.core.sigma * (z - z_mean) / z_sd).exp()
            } else {
                0.0
            }
        })
        .collect();

    // ---- frame ----
    let (cat_names, num_names) = cfg.feature_columns();
    let mut cols: Vec<Column> = Vec::new();
    let ids = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect::<Vec<i64>>();
    cols.push(Column::new(cat_names[0].as_str().into(), ids(&user)));
    cols.push(Column::new(cat_names[1].as_str().into(), ids(&item)));
    for (f, c) in ctx.iter().enumerate() {
        cols.push(Column::new(cat_names[2 + f].as_str().into(), ids(c)));
    }
    for (j, c) in num.into_iter().enumerate() {
        cols.push(Column::new(num_names[j].as_str().into(), c));
    }
    for (step, a) in cfg.chain.iter().zip(actions) {
        cols.push(Column::new(step.name.as_str().into(), a));
    }
    cols.push(Column::new(cfg.core.name.as_str().into(), value));
    DataFrame::new(n, cols).map_err(|e| DataError::InvalidSynthetic(e.to_string()))
}

/// Generates and encodes the synthetic data set through the same path as files.
pub fn load(spec: &SyntheticSpec, name: String) -> Result<Dataset, DataError> {
    let cfg = &spec.config;
    let df = generate(cfg)?;
    let (categorical, numeric) = cfg.feature_columns();
    let chain = cfg.task_chain()?;
    let layout = Layout {
        source: "synthetic data".into(),
        categorical,
        numeric,
        transform: spec.numeric_transform,
        buckets: spec.buckets,
        tasks: chain
            .tasks()
            .iter()
            .map(|t| (t.clone(), t.name.clone()))
            .collect(),
        time: None,
        time_type: TimeType::Auto,
        split: spec.split.clone(),
        given: None,
    };
    encode::encode_owned(df, &layout, name)
}

/// Writes `df` as CSV (with header) or Parquet, chosen by `path`'s extension;
/// creates missing parent folders.
pub fn write_table(df: &DataFrame, path: &Path) -> Result<(), DataError> {
    let kind = FileKind::of(path).ok_or_else(|| DataError::UnsupportedOutput {
        path: path.to_path_buf(),
    })?;
    let werr = |e: &dyn std::fmt::Display| DataError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| werr(&e))?;
    }
    let mut file = std::fs::File::create(path).map_err(|e| werr(&e))?;
    let mut df = df.clone();
    match kind {
        FileKind::Csv => CsvWriter::new(&mut file)
            .include_header(true)
            .finish(&mut df)
            .map_err(|e| werr(&e)),
        FileKind::Parquet => ParquetWriter::new(&mut file)
            .finish(&mut df)
            .map(|_| ())
            .map_err(|e| werr(&e)),
    }
}

/// User and item factors and biases of one factor set.
struct FactorSet {
    user_f: Vec<f64>,
    item_f: Vec<f64>,
    user_b: Vec<f64>,
    item_b: Vec<f64>,
}

impl FactorSet {
    fn draw(rng: &mut ChaCha8Rng, users: usize, items: usize, d: usize, sd: f64) -> Self {
        FactorSet {
            user_f: (0..users * d).map(|_| sd * normal(rng)).collect(),
            item_f: (0..items * d).map(|_| sd * normal(rng)).collect(),
            user_b: (0..users).map(|_| normal(rng)).collect(),
            item_b: (0..items).map(|_| normal(rng)).collect(),
        }
    }

    fn score(&self, u: u32, i: u32, d: usize) -> f64 {
        let (u, i) = (u as usize, i as usize);
        let pu = &self.user_f[u * d..(u + 1) * d];
        let qi = &self.item_f[i * d..(i + 1) * d];
        let dot: f64 = pu.iter().zip(qi).map(|(a, b)| a * b).sum();
        dot + self.user_b[u] + self.item_b[i]
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

fn stream(seed: u64, id: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(id);
    rng
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Cumulative item probabilities for P(i) ∝ (i + 1)^-skew.
fn zipf_cdf(items: usize, skew: f64) -> Vec<f64> {
    let w: Vec<f64> = (0..items).map(|i| ((i + 1) as f64).powf(-skew)).collect();
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    w.iter()
        .map(|x| {
            acc += x / total;
            acc
        })
        .collect()
}

/// (x - mean) / std over all values (std 0 → 1), summed in a fixed order.
fn standardized(x: Vec<f64>) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    let mean = fixed_sum(&x, |v| v) / n;
    let var = fixed_sum(&x, |v| (v - mean) * (v - mean)) / n;
    let sd = if var > 0.0 { var.sqrt() } else { 1.0 };
    x.into_iter().map(|v| (v - mean) / sd).collect()
}

/// Sum of f(x) in fixed chunks (parallel, but the result does not depend on
/// the thread count).
fn fixed_sum(x: &[f64], f: impl Fn(f64) -> f64 + Sync) -> f64 {
    let parts: Vec<f64> = x
        .par_chunks(1 << 14)
        .map(|c| c.iter().map(|&v| f(v)).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// The `graded` gate of the next target: 1 for the first, else 1 - δ (1 - a_prev) per row.
fn graded_gate(prev: Option<&Vec<i32>>, delta: f64, n: usize) -> Vec<f64> {
    match prev {
        Some(prev) => prev
            .iter()
            .map(|&a| if a == 1 { 1.0 } else { 1.0 - delta })
            .collect(),
        None => vec![1.0; n],
    }
}

/// β with mean over all rows of gate · σ(β + z) = target (bisection). A target the gate
/// cannot reach (>= the mean gate) gives β at the upper end: every gated row at its gate.
fn calibrate_gated(z: &[f64], gate: &[f64], target: f64) -> f64 {
    if z.is_empty() {
        return 0.0;
    }
    let m = z.len() as f64;
    bisect(target, |beta| {
        let p: Vec<f64> = z
            .iter()
            .zip(gate)
            .map(|(&v, &g)| g * sigmoid(beta + v))
            .collect();
        fixed_sum(&p, |v| v) / m
    })
}

/// β with mean over eligible rows of σ(β + z) = rate (bisection; 0 if none eligible).
fn calibrate(z: &[f64], eligible: &[bool], rate: f64) -> f64 {
    let zs: Vec<f64> = z
        .iter()
        .zip(eligible)
        .filter(|(_, e)| **e)
        .map(|(&v, _)| v)
        .collect();
    if zs.is_empty() {
        return 0.0;
    }
    let m = zs.len() as f64;
    bisect(rate, |beta| fixed_sum(&zs, |v| sigmoid(beta + v)) / m)
}

/// The β in [−50, 50] where the increasing `mean(β)` reaches `target`, by bisection (100
/// halvings at most, stopping at a bracket under 1e-10); the midpoint of the last bracket.
fn bisect(target: f64, mean: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (-50.0f64, 50.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mean(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-10 {
            break;
        }
    }
    0.5 * (lo + hi)
}

//! Gradient strategies: how per-task gradients of the shared parameters are combined.
//!
//! Every strategy here (plain sum, PCGrad, MetaBalance, HTLNet's adjustment) turns the raw
//! per-task gradients `g_1..g_T` into adjusted ones that are *linear combinations* of the raw
//! ones with scalar coefficients that depend only on their inner products. So a strategy is
//! a function of the Gram matrix `K[i][j] = <g_i, g_j>`: it returns a matrix `A` with
//! `adjusted_t = Σ_j A[t][j] g_j`, and the combined shared gradient is `Σ_t adjusted_t`.
//! The trainer computes `K` from the per-task gradients once per step and forms the combined
//! gradient as `Σ_j (Σ_t A[t][j]) g_j` — exact, and no flattening of parameters is needed.

mod adam;
mod htl;
mod metabalance;
mod pcgrad;

pub use adam::FusedAdam;
pub use htl::HtlAdjust;
pub use metabalance::MetaBalance;
pub use pcgrad::PcGrad;

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The YAML `grad:` key: a name (`sum`) or a map with `name` and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)]
pub enum GradSpec {
    /// Plain sum of task losses (one backward; no per-task gradients).
    Sum,
    /// PCGrad (Yu et al., NeurIPS 2020).
    Pcgrad {
        /// Random projection order per step (as in the paper); false = chain order.
        #[serde(default = "yes")]
        shuffle: bool,
    },
    /// MetaBalance (He et al., WWW 2022), target = the core task.
    Metabalance {
        /// Relax factor r.
        #[serde(default = "r_default")]
        r: f64,
        /// Moving-average factor of gradient norms.
        #[serde(default = "beta_default")]
        beta: f64,
        /// Which auxiliary gradients are rescaled: `all`, `reduce` (only larger ones) or
        /// `enlarge` (only smaller ones).
        #[serde(default = "mode_default")]
        mode: String,
        /// `tensor` (the official code: norms and moving averages per shared parameter
        /// tensor, each tensor rescaled with its own ratio) or `global` (one norm over all
        /// shared parameters).
        #[serde(default = "granularity_default")]
        granularity: String,
    },
    /// HTLNet's adjustment (SPEC §2).
    Htl {
        /// Projection strength (1 = projection onto the normal plane).
        #[serde(default = "one")]
        alpha: f64,
        /// Relaxation of the magnitude pull (the paper leaves it unknown).
        #[serde(default = "gamma_default")]
        gamma: f64,
        /// Weight clip C: w ∈ [clip_low, C].
        #[serde(default = "clip_default")]
        clip: f64,
        /// Lower weight clip; absent = 1/C (the paper writes one clip C and leaves the lower
        /// bound unstated). Left out of the stored config when absent, so older cell ids hold.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip_low: Option<f64>,
    },
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn r_default() -> f64 {
    0.7
}
fn beta_default() -> f64 {
    0.9
}
fn mode_default() -> String {
    "all".into()
}
fn granularity_default() -> String {
    "tensor".into()
}
fn gamma_default() -> f64 {
    0.1
}
fn clip_default() -> f64 {
    10.0
}

/// A `grad:` value that does not parse or is out of range. The message names the YAML key,
/// the value and the valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GradError {
    /// Unknown strategy or key, wrong type: serde's message.
    #[error("{0} (valid strategies: sum, pcgrad, metabalance, htl)")]
    Parse(String),
    /// A strategy option outside its range.
    #[error("`{key}: {value}` must be {range}")]
    Range {
        /// YAML key inside `grad:`.
        key: &'static str,
        /// The value written.
        value: f64,
        /// The valid range.
        range: &'static str,
    },
    /// Unknown MetaBalance mode.
    #[error("`mode: {0}` is not valid; use one of: all, reduce, enlarge")]
    Mode(String),
    /// Unknown MetaBalance granularity.
    #[error("`granularity: {0}` is not valid; use one of: tensor, global")]
    Granularity(String),
}

fn check(key: &'static str, value: f64, ok: bool, range: &'static str) -> Result<(), GradError> {
    if ok {
        Ok(())
    } else {
        Err(GradError::Range { key, value, range })
    }
}

impl GradSpec {
    /// Parses `sum` / `htl` / `{name: htl, gamma: 0.2}` and validates it; errors list the
    /// valid names or name the key, the value and its range.
    pub fn from_yaml(v: &serde_yaml::Value) -> Result<Self, GradError> {
        let v = match v {
            serde_yaml::Value::String(s) => {
                let mut m = serde_yaml::Mapping::new();
                m.insert("name".into(), s.clone().into());
                serde_yaml::Value::Mapping(m)
            }
            other => other.clone(),
        };
        let spec: GradSpec =
            serde_yaml::from_value(v).map_err(|e| GradError::Parse(e.to_string()))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Every strategy's option ranges, in one place (those of the official code where there
    /// is one): MetaBalance `0 ≤ r < 1`, `0 ≤ beta < 1`; HTL `0 ≤ alpha ≤ 1`,
    /// `0 ≤ gamma ≤ 1`, `clip ≥ 1`. NaN is always out of range.
    pub fn validate(&self) -> Result<(), GradError> {
        let half_open = |x: f64| (0.0..1.0).contains(&x);
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        match self {
            GradSpec::Sum | GradSpec::Pcgrad { .. } => Ok(()),
            GradSpec::Metabalance {
                r,
                beta,
                mode,
                granularity,
            } => {
                check("r", *r, half_open(*r), "in [0, 1)")?;
                check("beta", *beta, half_open(*beta), "in [0, 1)")?;
                if !["all", "reduce", "enlarge"].contains(&mode.as_str()) {
                    return Err(GradError::Mode(mode.clone()));
                }
                if !["tensor", "global"].contains(&granularity.as_str()) {
                    return Err(GradError::Granularity(granularity.clone()));
                }
                Ok(())
            }
            GradSpec::Htl {
                alpha,
                gamma,
                clip,
                clip_low,
            } => {
                check("alpha", *alpha, unit(*alpha), "in [0, 1]")?;
                check("gamma", *gamma, unit(*gamma), "in [0, 1]")?;
                check(
                    "clip",
                    *clip,
                    *clip >= 1.0,
                    "≥ 1 (weights are clipped to [1/clip, clip])",
                )?;
                match clip_low {
                    Some(low) => check(
                        "clip_low",
                        *low,
                        *low > 0.0 && *low <= 1.0,
                        "in (0, 1] (the lower weight clip; absent = 1/clip)",
                    ),
                    None => Ok(()),
                }
            }
        }
    }

    /// Short name.
    pub fn name(&self) -> &'static str {
        match self {
            GradSpec::Sum => "sum",
            GradSpec::Pcgrad { .. } => "pcgrad",
            GradSpec::Metabalance { .. } => "metabalance",
            GradSpec::Htl { .. } => "htl",
        }
    }

    /// Builds the strategy. `target` = index of the core task (or the last task).
    pub fn build(&self, n_tasks: usize, target: usize) -> Option<Box<dyn GradientStrategy>> {
        match self {
            GradSpec::Sum => None,
            GradSpec::Pcgrad { shuffle } => Some(Box::new(PcGrad { shuffle: *shuffle })),
            GradSpec::Metabalance {
                r,
                beta,
                mode,
                granularity,
            } => Some(Box::new(MetaBalance::new(
                n_tasks,
                target,
                *r,
                *beta,
                mode,
                granularity == "tensor",
            ))),
            GradSpec::Htl {
                alpha,
                gamma,
                clip,
                clip_low,
            } => Some(Box::new(HtlAdjust {
                target,
                alpha: *alpha,
                gamma: *gamma,
                clip: *clip,
                clip_low: clip_low.unwrap_or(1.0 / *clip),
            })),
        }
    }
}

/// A per-task gradient strategy on the Gram matrix of the per-task shared gradients.
///
/// The trainer gives one Gram matrix per shared parameter group (tensor) and receives one
/// `A` per group. Strategies defined on the whole flattened θ_s (PCGrad, HTL, global
/// MetaBalance) use the default [`GradientStrategy::adjust_groups`]: the group Grams summed
/// (= the Gram of the concatenation) and the same `A` for every group.
pub trait GradientStrategy: Send {
    /// `A` with `adjusted_t = Σ_j A[t][j] g_j`. `gram[i][j] = <g_i, g_j>`.
    fn adjust(&mut self, gram: &[Vec<f64>], rng: &mut ChaCha8Rng) -> Vec<Vec<f64>>;

    /// One `A` per parameter group; `grams[p]` is group p's Gram matrix.
    fn adjust_groups(
        &mut self,
        grams: &[Vec<Vec<f64>>],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<Vec<f64>>> {
        let a = self.adjust(&sum_grams(grams), rng);
        vec![a; grams.len()]
    }
}

/// The Gram matrix of the concatenated groups: the element-wise sum of the group Grams.
pub fn sum_grams(grams: &[Vec<Vec<f64>>]) -> Vec<Vec<f64>> {
    let n = grams.first().map_or(0, Vec::len);
    let mut k = vec![vec![0.0; n]; n];
    for g in grams {
        for (row, grow) in k.iter_mut().zip(g) {
            for (x, y) in row.iter_mut().zip(grow) {
                *x += y;
            }
        }
    }
    k
}

/// The identity combination: every task keeps its raw gradient (plain summation). Used to
/// log gradient statistics of `sum` runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl GradientStrategy for Identity {
    fn adjust(&mut self, gram: &[Vec<f64>], _rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        (0..gram.len()).map(|t| unit(gram.len(), t)).collect()
    }
}

/// `aᵀ K b`.
pub fn quad(a: &[f64], gram: &[Vec<f64>], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, ai) in a.iter().enumerate() {
        if *ai == 0.0 {
            continue;
        }
        for (j, bj) in b.iter().enumerate() {
            s += ai * gram[i][j] * bj;
        }
    }
    s
}

/// Unit vector `e_t` of length `n`.
pub fn unit(n: usize, t: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    v[t] = 1.0;
    v
}

/// Coefficients of the combined gradient: column sums of `A`.
pub fn combined(a: &[Vec<f64>]) -> Vec<f64> {
    let n = a.first().map_or(0, Vec::len);
    (0..n).map(|j| a.iter().map(|row| row[j]).sum()).collect()
}

/// One row of `grad_stats.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct GradStat {
    /// Task index.
    pub task: usize,
    /// `|g_t|` before adjustment.
    pub norm_raw: f64,
    /// `|adjusted_t|`.
    pub norm_adjusted: f64,
    /// `cos(g_t, g_core)` (NaN when either is zero).
    pub cos_core: f64,
}

/// Per-task statistics of a per-group adjustment: raw norms and cosines from the summed Gram,
/// adjusted norms `sqrt(Σ_p a_pᵀ K_p a_p)`.
pub fn grad_stats_groups(
    grams: &[Vec<Vec<f64>>],
    a: &[Vec<Vec<f64>>],
    target: usize,
) -> Vec<GradStat> {
    let total = sum_grams(grams);
    let mut stats = grad_stats(&total, &a[0], target);
    for (t, s) in stats.iter_mut().enumerate() {
        let sq: f64 = grams
            .iter()
            .zip(a)
            .map(|(k, ap)| quad(&ap[t], k, &ap[t]))
            .sum();
        s.norm_adjusted = sq.max(0.0).sqrt();
    }
    stats
}

/// Per-task statistics of an adjustment, from the Gram matrix alone.
pub fn grad_stats(gram: &[Vec<f64>], a: &[Vec<f64>], target: usize) -> Vec<GradStat> {
    (0..gram.len())
        .map(|t| {
            let norm_raw = gram[t][t].max(0.0).sqrt();
            let norm_adjusted = quad(&a[t], gram, &a[t]).max(0.0).sqrt();
            let denom = norm_raw * gram[target][target].max(0.0).sqrt();
            let cos_core = if denom > 0.0 {
                gram[t][target] / denom
            } else {
                f64::NAN
            };
            GradStat {
                task: t,
                norm_raw,
                norm_adjusted,
                cos_core,
            }
        })
        .collect()
}

/// Helpers for tests on explicit vectors.
#[cfg(test)]
pub(crate) mod testutil {
    /// Gram matrix of explicit vectors.
    pub fn gram(v: &[Vec<f64>]) -> Vec<Vec<f64>> {
        v.iter()
            .map(|a| {
                v.iter()
                    .map(|b| a.iter().zip(b).map(|(x, y)| x * y).sum())
                    .collect()
            })
            .collect()
    }

    /// Materialises `A · V`.
    pub fn apply_a(a: &[Vec<f64>], v: &[Vec<f64>]) -> Vec<Vec<f64>> {
        a.iter()
            .map(|row| {
                let mut out = vec![0.0; v[0].len()];
                for (c, vec) in row.iter().zip(v) {
                    for (o, x) in out.iter_mut().zip(vec) {
                        *o += c * x;
                    }
                }
                out
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{apply_a, gram};
    use super::*;

    #[test]
    fn grad_spec_parses_names_and_maps() {
        let s: serde_yaml::Value = serde_yaml::from_str("htl").unwrap();
        assert_eq!(
            GradSpec::from_yaml(&s).unwrap(),
            GradSpec::Htl {
                alpha: 1.0,
                gamma: 0.1,
                clip: 10.0,
                clip_low: None
            }
        );
        let m: serde_yaml::Value = serde_yaml::from_str("{name: htl, gamma: 0.5}").unwrap();
        assert_eq!(
            GradSpec::from_yaml(&m).unwrap(),
            GradSpec::Htl {
                alpha: 1.0,
                gamma: 0.5,
                clip: 10.0,
                clip_low: None
            }
        );
        let bad: serde_yaml::Value = serde_yaml::from_str("magic").unwrap();
        let e = GradSpec::from_yaml(&bad).unwrap_err().to_string();
        assert!(
            e.contains("valid strategies: sum, pcgrad, metabalance, htl"),
            "{e}"
        );
        let bad_key: serde_yaml::Value = serde_yaml::from_str("{name: htl, gama: 0.5}").unwrap();
        assert!(GradSpec::from_yaml(&bad_key)
            .unwrap_err()
            .to_string()
            .contains("unknown field `gama`"));
    }

    #[test]
    fn out_of_range_options_are_rejected_with_key_value_and_range() {
        let err = |s: &str| {
            GradSpec::from_yaml(&serde_yaml::from_str(s).unwrap())
                .unwrap_err()
                .to_string()
        };
        let clip = "`clip: 0` must be ≥ 1 (weights are clipped to [1/clip, clip])";
        assert_eq!(err("{name: htl, clip: 0}"), clip);
        assert_eq!(
            err("{name: htl, clip: 0.5}"),
            clip.replace("clip: 0`", "clip: 0.5`")
        );
        assert_eq!(
            err("{name: htl, clip: -1}"),
            clip.replace("clip: 0`", "clip: -1`")
        );
        assert_eq!(
            err("{name: htl, gamma: -1}"),
            "`gamma: -1` must be in [0, 1]"
        );
        assert_eq!(
            err("{name: htl, alpha: 1.5}"),
            "`alpha: 1.5` must be in [0, 1]"
        );
        assert_eq!(err("{name: metabalance, r: 2}"), "`r: 2` must be in [0, 1)");
        assert_eq!(
            err("{name: metabalance, beta: 5}"),
            "`beta: 5` must be in [0, 1)"
        );
        assert_eq!(err("{name: metabalance, r: 1}"), "`r: 1` must be in [0, 1)");
        assert_eq!(
            err("{name: metabalance, mode: most}"),
            "`mode: most` is not valid; use one of: all, reduce, enlarge"
        );
        assert_eq!(
            err("{name: metabalance, granularity: layer}"),
            "`granularity: layer` is not valid; use one of: tensor, global"
        );
        assert_eq!(
            err("{name: htl, gamma: .nan}"),
            "`gamma: NaN` must be in [0, 1]"
        );
        for ok in [
            "{name: htl, clip: 1, gamma: 0, alpha: 0}",
            "{name: htl, gamma: 1, alpha: 1}",
            "{name: metabalance, r: 0, beta: 0.99}",
            "{name: pcgrad, shuffle: false}",
            "sum",
        ] {
            assert!(
                GradSpec::from_yaml(&serde_yaml::from_str(ok).unwrap()).is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn stats_from_gram_match_explicit_vectors() {
        let v = vec![vec![1.0, 0.0], vec![-1.0, 1.0], vec![0.0, 2.0]];
        let k = gram(&v);
        let a = vec![unit(3, 0), vec![0.5, 1.0, 0.0], unit(3, 2)];
        let s = grad_stats(&k, &a, 2);
        let _ = apply_a(&a, &v);
        assert!((s[1].norm_raw - 2f64.sqrt()).abs() < 1e-12);
        // adjusted_1 = 0.5*(1,0) + (-1,1) = (-0.5, 1) → norm sqrt(1.25)
        assert!((s[1].norm_adjusted - 1.25f64.sqrt()).abs() < 1e-12);
        // cos((-1,1),(0,2)) = 2 / (sqrt2 * 2)
        assert!((s[1].cos_core - 1.0 / 2f64.sqrt()).abs() < 1e-12);
        assert!(s[0].cos_core.abs() < 1e-12);
    }
}

//! Turning a split into device batches, and the core target's loss scale.

use burn::tensor::Device;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::config::CoreScale;
use crate::data::{Dataset, Split, TaskKind};
use crate::model::blocks::{int1, tensor1, tensor2};
use crate::model::Batch;

/// The core target's transform (`train.core_transform`), fitted on train: optional `log1p`,
/// then optional standardisation. Without standardisation `mean` = 0 and `std` = 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoreTransform {
    /// Which transform (its YAML spelling names it in error messages).
    pub scale: CoreScale,
    /// Apply `log1p` first.
    pub log1p: bool,
    /// Mean of the (log1p) training target (0 when not standardised).
    pub mean: f64,
    /// Standard deviation of the (log1p) training target (1 if zero or not standardised).
    pub std: f64,
}

impl CoreTransform {
    /// Fits `scale` on training values.
    pub fn fit_scale(y: &[f32], scale: CoreScale) -> Self {
        let mut t = Self::fit(y, scale.log1p());
        t.scale = scale;
        if !scale.standardize() {
            t.mean = 0.0;
            t.std = 1.0;
        }
        t
    }

    /// Fits a standardising transform (after `log1p` if asked) on training values.
    pub fn fit(y: &[f32], log1p: bool) -> Self {
        let v: Vec<f64> = y
            .iter()
            .map(|&x| if log1p { (x as f64).ln_1p() } else { x as f64 })
            .collect();
        let n = v.len().max(1) as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        let scale = if log1p {
            CoreScale::Log1pStandardize
        } else {
            CoreScale::Standardize
        };
        Self {
            scale,
            log1p,
            mean,
            std,
        }
    }
    /// Original → loss scale.
    pub fn forward(&self, y: f32) -> f32 {
        let x = if self.log1p {
            (y as f64).ln_1p()
        } else {
            y as f64
        };
        ((x - self.mean) / self.std) as f32
    }
    /// Loss scale → original, clamped at 0 (the core target is non-negative).
    pub fn inverse(&self, z: f32) -> f32 {
        let x = z as f64 * self.std + self.mean;
        let y = if self.log1p { x.exp_m1() } else { x };
        y.max(0.0) as f32
    }
}

/// A data set prepared for training: the core transform, initial biases and batch builders.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Task kinds in chain order.
    pub kinds: Vec<TaskKind>,
    /// The core transform (identity-free: only the regression task uses it).
    pub core: Option<(usize, CoreTransform)>,
    /// Initial head biases: logit(train rate) or transformed mean (= 0 when standardised).
    pub init_bias: Vec<f32>,
}

impl Prepared {
    /// Fits the transform and biases on the training split.
    pub fn new(data: &Dataset, core_transform: CoreScale) -> Self {
        let kinds: Vec<TaskKind> = data.tasks.tasks().iter().map(|t| t.kind).collect();
        let core = data.tasks.core().map(|c| {
            (
                c,
                CoreTransform::fit_scale(&data.train.labels[c], core_transform),
            )
        });
        let mut init_bias = Vec::new();
        for (t, kind) in kinds.iter().enumerate() {
            let y = &data.train.labels[t];
            match kind {
                TaskKind::Binary => {
                    let rate = y.iter().map(|&v| v as f64).sum::<f64>() / y.len().max(1) as f64;
                    let r = rate.clamp(1e-6, 1.0 - 1e-6);
                    init_bias.push((r / (1.0 - r)).ln() as f32);
                }
                TaskKind::Regression => {
                    let ct = core.expect("regression task is the core").1;
                    let z: Vec<f32> = y.iter().map(|&v| ct.forward(v)).collect();
                    let m = z.iter().map(|&v| v as f64).sum::<f64>() / z.len().max(1) as f64;
                    init_bias.push(m as f32);
                }
            }
        }
        Self {
            kinds,
            core,
            init_bias,
        }
    }

    /// A shuffled order of `n` rows.
    pub fn shuffled_order(&self, n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        v.shuffle(rng);
        v
    }

    /// Labels of a split on the loss scale (only the core task changes).
    pub fn transform_labels(&self, y: &[f32]) -> Vec<f32> {
        match self.core {
            Some((_, ct)) => y.iter().map(|&v| ct.forward(v)).collect(),
            None => y.to_vec(),
        }
    }

    /// Builds a batch of `rows` of `split` on `device`.
    pub fn batch(&self, split: &Split, rows: &[usize], device: &Device) -> Batch {
        let b = rows.len();
        let cat_host: Vec<Vec<u32>> = split
            .cat
            .iter()
            .map(|col| rows.iter().map(|&r| col[r]).collect())
            .collect();
        let cat = cat_host
            .iter()
            .map(|col| int1(col.iter().map(|&x| x as i64).collect(), device))
            .collect();
        let k = split.num.len();
        let mut num_host = Vec::with_capacity(b * k);
        for &r in rows {
            for col in &split.num {
                num_host.push(col[r]);
            }
        }
        let num = (k > 0).then(|| tensor2(num_host.clone(), b, k, device));
        let labels = (0..self.kinds.len())
            .map(|t| {
                let y: Vec<f32> = match (self.kinds[t], self.core) {
                    (TaskKind::Regression, Some((_, ct))) => rows
                        .iter()
                        .map(|&r| ct.forward(split.labels[t][r]))
                        .collect(),
                    _ => rows.iter().map(|&r| split.labels[t][r]).collect(),
                };
                tensor1(y, device)
            })
            .collect();
        Batch {
            cat,
            num,
            labels,
            size: b,
            cat_host,
            num_host,
        }
    }

    /// Model-scale predictions → original scale (probabilities unchanged).
    pub fn to_original(&self, preds: &[Vec<f32>]) -> Vec<Vec<f32>> {
        preds
            .iter()
            .enumerate()
            .map(|(t, p)| match (self.kinds[t], self.core) {
                (TaskKind::Regression, Some((_, ct))) => p.iter().map(|&z| ct.inverse(z)).collect(),
                _ => p.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_transform_round_trips_and_clamps() {
        let y = [0.0f32, 0.0, 3.0, 9.0];
        for log1p in [false, true] {
            let ct = CoreTransform::fit(&y, log1p);
            for &v in &y {
                assert!((ct.inverse(ct.forward(v)) - v).abs() < 1e-4);
            }
            assert_eq!(ct.inverse(-100.0), 0.0);
        }
        // standardize: mean 3, population std sqrt(((9+9+0+36)/4)) = sqrt(13.5)
        let ct = CoreTransform::fit(&y, false);
        assert!((ct.mean - 3.0).abs() < 1e-12 && (ct.std - 13.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn raw_and_log1p_scales_are_not_standardised() {
        let y = [0.0f32, 0.0, 3.0, 9.0];
        let none = CoreTransform::fit_scale(&y, CoreScale::None);
        assert_eq!((none.mean, none.std), (0.0, 1.0));
        assert_eq!(none.forward(9.0), 9.0);
        assert_eq!(none.inverse(9.0), 9.0);
        assert_eq!(none.inverse(-2.0), 0.0);
        let l = CoreTransform::fit_scale(&y, CoreScale::Log1p);
        assert_eq!(l.forward(3.0), 4f32.ln());
        assert!((l.inverse(l.forward(9.0)) - 9.0).abs() < 1e-5);
        assert_eq!(l.scale, CoreScale::Log1p);
        let s = CoreTransform::fit_scale(&y, CoreScale::Log1pStandardize);
        assert!(s.log1p && s.std != 1.0);
    }
}

//! Turning a split into device batches, and the core target's loss scale.

use std::ops::Range;

use burn::tensor::{Device, Int, Tensor};
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

    /// Labels of task `t` for `rows` of `split`, on the loss scale (the core task through the
    /// core transform, binary tasks as stored). Both batch paths take their labels from here.
    pub fn task_labels(&self, split: &Split, t: usize, rows: &[usize]) -> Vec<f32> {
        match (self.kinds[t], self.core) {
            (TaskKind::Regression, Some((_, ct))) => rows
                .iter()
                .map(|&r| ct.forward(split.labels[t][r]))
                .collect(),
            _ => rows.iter().map(|&r| split.labels[t][r]).collect(),
        }
    }

    /// The host copies a [`Batch`] carries: categorical indices `[field][row]` and numeric
    /// features row-major.
    fn host_rows(split: &Split, rows: &[usize]) -> (Vec<Vec<u32>>, Vec<f32>) {
        let cat_host = split
            .cat
            .iter()
            .map(|col| rows.iter().map(|&r| col[r]).collect())
            .collect();
        let mut num_host = Vec::with_capacity(rows.len() * split.num.len());
        for &r in rows {
            for col in &split.num {
                num_host.push(col[r]);
            }
        }
        (cat_host, num_host)
    }

    /// Builds a batch of `rows` of `split` on `device`: gathered on the host, then one
    /// host → device copy per categorical field, one for the numeric block and one per task.
    pub fn batch(&self, split: &Split, rows: &[usize], device: &Device) -> Batch {
        let b = rows.len();
        let (cat_host, num_host) = Self::host_rows(split, rows);
        let cat = cat_host
            .iter()
            .map(|col| int1(col.iter().map(|&x| x as i64).collect(), device))
            .collect();
        let k = split.num.len();
        let num = (k > 0).then(|| tensor2(num_host.clone(), b, k, device));
        let labels = (0..self.kinds.len())
            .map(|t| tensor1(self.task_labels(split, t, rows), device))
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

    /// Uploads every column of `split` to `device` once (the same values [`Self::batch`]
    /// would copy, labels on the loss scale).
    pub fn upload(&self, split: &Split, device: &Device) -> DeviceSplit {
        let all: Vec<usize> = (0..split.n).collect();
        let k = split.num.len();
        let num = (k > 0).then(|| {
            let mut rows = Vec::with_capacity(split.n * k);
            for r in 0..split.n {
                rows.extend(split.num.iter().map(|col| col[r]));
            }
            tensor2(rows, split.n, k, device)
        });
        DeviceSplit {
            n: split.n,
            cat: split
                .cat
                .iter()
                .map(|col| int1(col.iter().map(|&x| x as i64).collect(), device))
                .collect(),
            num,
            labels: (0..self.kinds.len())
                .map(|t| tensor1(self.task_labels(split, t, &all), device))
                .collect(),
        }
    }

    /// The batch of `rows` of `split` cut from its device columns `cols`: `pick` says which
    /// device rows (an index select by a device-side index tensor, or a contiguous range).
    /// No host → device copy; the values equal [`Self::batch`]'s for the same rows.
    pub fn batch_on_device(
        &self,
        cols: &DeviceSplit,
        split: &Split,
        rows: &[usize],
        pick: &Pick,
    ) -> Batch {
        let take1 = |t: &Tensor<1>| match pick {
            Pick::Select(idx) => t.clone().select(0, idx.clone()),
            Pick::Range(r) => t.clone().slice([r.clone()]),
        };
        let cat = cols
            .cat
            .iter()
            .map(|t| match pick {
                Pick::Select(idx) => t.clone().select(0, idx.clone()),
                Pick::Range(r) => t.clone().slice([r.clone()]),
            })
            .collect();
        let num = cols.num.as_ref().map(|t| match pick {
            Pick::Select(idx) => t.clone().select(0, idx.clone()),
            Pick::Range(r) => {
                let k = t.dims()[1];
                t.clone().slice([r.clone(), 0..k])
            }
        });
        let labels = cols.labels.iter().map(take1).collect();
        let (cat_host, num_host) = Self::host_rows(split, rows);
        Batch {
            cat,
            num,
            labels,
            size: rows.len(),
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

/// Where a cell's data lives while it trains. Chosen by the runner from the device
/// ([`DataPlacement::for_device`]); it is not part of the cell's config or id, and both
/// placements give identical batches (same rows, same order, same values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataPlacement {
    /// Each batch is gathered on the host and copied to the device: one copy per
    /// categorical field, one for the numeric block and one per task label, every step.
    /// The CPU default (on `flex` host and device memory are the same).
    #[default]
    Host,
    /// Every split's columns are uploaded once per cell; each epoch's shuffled order is
    /// uploaded once; a training batch is an index select of the device columns by a slice
    /// of that order, an evaluation batch a slice of them. No data copy per step. The GPU
    /// default.
    Device,
}

impl DataPlacement {
    /// [`DataPlacement::Device`] on a GPU, [`DataPlacement::Host`] otherwise.
    pub fn for_device(is_gpu: bool) -> Self {
        if is_gpu {
            Self::Device
        } else {
            Self::Host
        }
    }
}

/// One split's columns on a device, uploaded once ([`Prepared::upload`]).
#[derive(Debug, Clone)]
pub struct DeviceSplit {
    /// Rows.
    pub n: usize,
    /// One `[n]` index column per categorical field.
    pub cat: Vec<Tensor<1, Int>>,
    /// Numeric features `[n, n_numeric]`, if any.
    pub num: Option<Tensor<2>>,
    /// One `[n]` label column per task, on the loss scale.
    pub labels: Vec<Tensor<1>>,
}

/// Which device rows a batch takes. One per batch, moved once: the size difference between
/// the variants costs nothing worth a heap allocation.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Pick {
    /// Rows named by a device-side index tensor (a slice of the epoch's order).
    Select(Tensor<1, Int>),
    /// A contiguous range of rows (evaluation).
    Range(Range<usize>),
}

/// Hands out a cell's batches in either [`DataPlacement`]: the current epoch's order of
/// training rows (on the host, and on the device when the data is there) and, on the
/// device, the uploaded splits.
#[derive(Debug, Clone)]
pub struct Feeder {
    placement: DataPlacement,
    train: Option<DeviceSplit>,
    valid: Option<DeviceSplit>,
    test: Option<DeviceSplit>,
    order: Vec<usize>,
    order_on_device: Option<Tensor<1, Int>>,
}

impl Feeder {
    /// A feeder for `data`; with [`DataPlacement::Device`] the training split is uploaded to
    /// `train_device` (the autodiff device) and valid/test to `eval_device`, once.
    pub fn new(
        placement: DataPlacement,
        prep: &Prepared,
        data: &Dataset,
        train_device: &Device,
        eval_device: &Device,
    ) -> Self {
        let on_device = placement == DataPlacement::Device;
        Self {
            placement,
            train: on_device.then(|| prep.upload(&data.train, train_device)),
            valid: on_device.then(|| prep.upload(&data.valid, eval_device)),
            test: on_device.then(|| prep.upload(&data.test, eval_device)),
            order: Vec::new(),
            order_on_device: None,
        }
    }

    /// The placement.
    pub fn placement(&self) -> DataPlacement {
        self.placement
    }

    /// Sets the order of training rows that [`Self::train_batch`] ranges refer to (one
    /// host → device copy of the order with the data on the device).
    pub fn set_order(&mut self, order: Vec<usize>, train_device: &Device) {
        self.order_on_device = (self.placement == DataPlacement::Device)
            .then(|| int1(order.iter().map(|&r| r as i64).collect(), train_device));
        self.order = order;
    }

    /// Rows in the current order.
    pub fn order_len(&self) -> usize {
        self.order.len()
    }

    /// The training batch of positions `range` of the current order.
    pub fn train_batch(
        &self,
        prep: &Prepared,
        data: &Dataset,
        range: Range<usize>,
        train_device: &Device,
    ) -> Batch {
        let rows = &self.order[range.clone()];
        match (&self.train, &self.order_on_device) {
            (Some(cols), Some(order)) => {
                let idx = order.clone().slice([range]);
                prep.batch_on_device(cols, &data.train, rows, &Pick::Select(idx))
            }
            _ => prep.batch(&data.train, rows, train_device),
        }
    }

    /// The evaluation batch of rows `range` of `split` (valid or test come from the device
    /// when uploaded; any other split is copied from the host).
    pub fn eval_batch(
        &self,
        prep: &Prepared,
        data: &Dataset,
        split: &Split,
        range: Range<usize>,
        device: &Device,
    ) -> Batch {
        let rows: Vec<usize> = range.clone().collect();
        let cols = if std::ptr::eq(split, &data.valid) {
            self.valid.as_ref()
        } else if std::ptr::eq(split, &data.test) {
            self.test.as_ref()
        } else {
            None
        };
        match cols {
            Some(c) => prep.batch_on_device(c, split, &rows, &Pick::Range(range)),
            None => prep.batch(split, &rows, device),
        }
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

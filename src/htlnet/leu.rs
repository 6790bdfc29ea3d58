//! Label Embedding Unit (SPEC §2): a 2-row table read with a distribution over the labels
//! formed from the task's predicted probability (detached unless `stop_grad: false`).
//!
//! ```text
//! training:   s = GumbelSoftmax([log p, log(1 - p)], tau)
//! evaluation: s = softmax([log p, log(1 - p)] / tau)
//! le = s · E            (E: row 0 = positive, row 1 = negative)
//! ```
//! At tau = 1 without noise, `s = [p, 1 - p]` and `le = p E_pos + (1 - p) E_neg`.

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::model::blocks::{tensor2, EMBED_INIT_STD};

/// The LEU of one binary task.
#[derive(Module, Debug)]
pub struct Leu {
    /// `[2, d_l]`: row 0 = "positive", row 1 = "negative".
    pub table: Param<Tensor<2>>,
}

/// Temperature schedule: geometric annealing from `start` to `floor` over the first
/// `anneal` fraction of the planned run, then held at `floor`:
///
/// ```text
/// horizon = anneal · planned_steps
/// tau(step) = start · (floor / start)^min(1, step / horizon)
/// ```
/// With an unknown plan (`planned_steps` = 0, e.g. a bare forward pass) the temperature
/// stays at `start`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TauSchedule {
    /// Initial temperature.
    pub start: f64,
    /// Final temperature (reached at `anneal · planned_steps`).
    pub floor: f64,
    /// Fraction of the planned steps over which the temperature anneals, in (0, 1].
    pub anneal: f64,
}

impl TauSchedule {
    /// Temperature at optimisation step `step` of a run planned for `planned` steps.
    pub fn at(&self, step: u64, planned: u64) -> f64 {
        if planned == 0 {
            return self.start;
        }
        let horizon = (self.anneal * planned as f64).max(1.0);
        let progress = (step as f64 / horizon).min(1.0);
        let tau = self.start * (self.floor / self.start).powf(progress);
        // Land exactly on the floor (powf rounding), never below it.
        if progress >= 1.0 {
            self.floor
        } else {
            tau.max(self.floor.min(self.start))
        }
    }
}

/// Draws `n` pairs of Gumbel(0, 1) noise from the cell's generator.
pub fn gumbel_noise(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..2 * n)
        .map(|_| {
            let u: f64 = rng.random_range(1e-10..1.0);
            (-(-u.ln()).ln()) as f32
        })
        .collect()
}

impl Leu {
    /// A table initialised `N(0, EMBED_INIT_STD²)`.
    pub fn new(dim: usize, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        let normal = Normal::new(0.0, EMBED_INIT_STD).expect("valid std");
        let w: Vec<f32> = (0..2 * dim).map(|_| normal.sample(rng) as f32).collect();
        Self {
            table: Param::from_tensor(tensor2(w, 2, dim, device)),
        }
    }

    /// The label distribution `s` for probabilities `p`. The relaxed Gumbel-softmax: `s` is a
    /// smooth function of `p` (and so of the task's logit) when `p` is attached; HTLNet
    /// detaches `p` first under stop-gradient.
    ///
    /// # Shapes
    /// `p: [batch]` → `[batch, 2]`
    pub fn distribution(p: Tensor<1>, tau: f64, noise: Option<Vec<f32>>) -> Tensor<2> {
        let [b] = p.dims();
        let p = p.clamp(1e-7, 1.0 - 1e-7).unsqueeze_dim::<2>(1);
        let one = p.ones_like();
        let logits = Tensor::cat(vec![p.clone().log(), (one - p).log()], 1);
        let logits = match noise {
            Some(g) => {
                let device = logits.device();
                logits + tensor2(g, b, 2, &device)
            }
            None => logits,
        };
        softmax(logits.div_scalar(tau as f32), 1)
    }

    /// `le = s · E`.
    ///
    /// # Shapes
    /// `s: [batch, 2]` → `[batch, d_l]`
    pub fn forward(&self, s: Tensor<2>) -> Tensor<2> {
        s.matmul(self.table.val())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blocks::tensor1;
    use rand::SeedableRng;

    #[test]
    fn tau_one_without_noise_is_the_expectation() {
        let dev = Device::flex();
        // E_pos = (1, 2), E_neg = (3, -1); p = 0.25 → 0.25*(1,2) + 0.75*(3,-1) = (2.5, -0.25)
        let leu = Leu {
            table: Param::from_tensor(tensor2(vec![1.0, 2.0, 3.0, -1.0], 2, 2, &dev)),
        };
        let s = Leu::distribution(tensor1(vec![0.25, 0.9], &dev), 1.0, None);
        let le = leu.forward(s).into_data().try_into_vec::<f32>().unwrap();
        assert!(
            (le[0] - 2.5).abs() < 1e-5 && (le[1] + 0.25).abs() < 1e-5,
            "{le:?}"
        );
        // p = 0.9 → (0.9 + 0.3, 1.8 - 0.1) = (1.2, 1.7)
        assert!(
            (le[2] - 1.2).abs() < 1e-5 && (le[3] - 1.7).abs() < 1e-5,
            "{le:?}"
        );
    }

    #[test]
    fn gumbel_sample_is_a_distribution_and_reproducible() {
        let dev = Device::flex();
        let p = tensor1(vec![0.1, 0.5, 0.99], &dev);
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let g = gumbel_noise(3, &mut rng);
            Leu::distribution(p.clone(), 0.7, Some(g))
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        let a = draw(5);
        for row in a.chunks(2) {
            assert!(row.iter().all(|&x| (0.0..=1.0).contains(&x)));
            assert!((row[0] + row[1] - 1.0).abs() < 1e-5);
        }
        assert_eq!(a, draw(5));
        assert_ne!(a, draw(6));
    }

    #[test]
    fn schedule_anneals_to_the_floor_within_the_planned_run() {
        let s = TauSchedule {
            start: 10.0,
            floor: 0.5,
            anneal: 0.5,
        };
        // 400 planned steps, anneal over the first 200.
        assert_eq!(s.at(0, 400), 10.0);
        // Halfway through the anneal: the geometric mean sqrt(10 · 0.5).
        assert!((s.at(100, 400) - 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.at(200, 400), 0.5);
        assert_eq!(s.at(399, 400), 0.5);
        assert_eq!(s.at(1_000_000, 400), 0.5);
        // Monotone non-increasing.
        let v: Vec<f64> = (0..=400).map(|k| s.at(k, 400)).collect();
        assert!(v.windows(2).all(|w| w[1] <= w[0]));
        // Unknown plan: the start temperature.
        assert_eq!(s.at(5_000, 0), 10.0);
        // anneal = 1: the floor is reached on the last planned step.
        let full = TauSchedule { anneal: 1.0, ..s };
        assert!(full.at(399, 400) > 0.5 && full.at(400, 400) == 0.5);
    }
}

//! HTLNet's gradient adjustment (Tang et al., RecSys 2024; SPEC §2).
//!
//! For every binary task t with core gradient `g_c`:
//!
//! ```text
//! if <g_t, g_c> < 0:  g_t <- g_t - alpha * (<g_t, g_c> / |g_c|^2) * g_c
//! w_t = clip(|g_c| / |g_t|, clip_low, C)        clip_low = 1/C unless set
//! g_t <- gamma * w_t * g_t + (1 - gamma) * g_t
//! shared gradient = g_c + Σ_t g_t
//! ```
//!
//! `|g_t|` in the weight is the norm after the projection step (the paper applies the
//! direction step first, then the magnitude step to its result).

use super::{quad, unit, GradientStrategy};
use rand_chacha::ChaCha8Rng;

/// HTLNet's adjustment with its three knobs.
#[derive(Debug, Clone)]
pub struct HtlAdjust {
    /// Index of the core (target) task.
    pub target: usize,
    /// Projection strength.
    pub alpha: f64,
    /// Relaxation of the magnitude pull.
    pub gamma: f64,
    /// Upper weight clip C.
    pub clip: f64,
    /// Lower weight clip (`1 / clip` by default; the paper does not state it).
    pub clip_low: f64,
}

impl GradientStrategy for HtlAdjust {
    fn adjust(&mut self, gram: &[Vec<f64>], _rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        let n = gram.len();
        let c = self.target;
        let gcc = gram[c][c];
        (0..n)
            .map(|t| {
                let mut row = unit(n, t);
                if t == c || gcc <= 0.0 {
                    return row;
                }
                let dot = gram[t][c];
                if dot < 0.0 {
                    row[c] -= self.alpha * dot / gcc;
                }
                let norm_t = quad(&row, gram, &row).max(0.0).sqrt();
                if norm_t > 0.0 {
                    let w = (gcc.sqrt() / norm_t).clamp(self.clip_low, self.clip);
                    let scale = self.gamma * w + (1.0 - self.gamma);
                    row.iter_mut().for_each(|x| *x *= scale);
                }
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{apply_a, gram};
    use super::*;
    use rand::SeedableRng;

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
    fn norm(a: &[f64]) -> f64 {
        dot(a, a).sqrt()
    }
    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(0)
    }

    #[test]
    fn conflict_is_projected_off_the_core() {
        // g_1 = (1, -2) conflicts with g_c = (0, 1): <g_1, g_c> = -2.
        let v = vec![vec![1.0, -2.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 0.0,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        // projection: (1,-2) - (-2/1)(0,1) = (1, 0)
        assert!((adj[0][0] - 1.0).abs() < 1e-12 && adj[0][1].abs() < 1e-12);
        assert!(dot(&adj[0], &v[1]) >= -1e-12);
        assert_eq!(adj[1], v[1]);
    }

    #[test]
    fn half_projection_with_alpha() {
        let v = vec![vec![1.0, -2.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 0.5,
            gamma: 0.0,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert!((adj[0][1] + 1.0).abs() < 1e-12);
    }

    #[test]
    fn no_conflict_means_no_projection() {
        let v = vec![vec![1.0, 2.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 0.0,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert_eq!(adj[0], v[0]);
    }

    #[test]
    fn gamma_zero_leaves_the_magnitude() {
        let v = vec![vec![30.0, 40.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 0.0,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert_eq!(adj[0], v[0]);
    }

    #[test]
    fn weights_clip_at_c_and_one_over_c() {
        // |g_1| = 50, |g_c| = 1 → w = 1/50 clipped to 1/C = 0.1; gamma = 1 → scale 0.1.
        let v = vec![vec![30.0, 40.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 1.0,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert!((norm(&adj[0]) - 5.0).abs() < 1e-9);
        // |g_1| = 0.001, |g_c| = 1 → w = 1000 clipped to C = 10.
        let v = vec![vec![0.0006, 0.0008], vec![0.0, 1.0]];
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert!((norm(&adj[0]) - 0.01).abs() < 1e-12);
        // in range: |g_1| = 2, |g_c| = 1 → w = 0.5; gamma = 0.5 → scale 0.75
        let v = vec![vec![0.0, 2.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 0.5,
            clip: 10.0,
            clip_low: 0.1,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert!((norm(&adj[0]) - 1.5).abs() < 1e-12);
    }

    #[test]
    fn clip_low_sets_the_lower_bound_independently_of_c() {
        // |g_1| = 50, |g_c| = 1 → w = 0.02; clip_low = 0.5 → w = 0.5, gamma = 1 → |g| = 25.
        let v = vec![vec![30.0, 40.0], vec![0.0, 1.0]];
        let mut s = HtlAdjust {
            target: 1,
            alpha: 1.0,
            gamma: 1.0,
            clip: 10.0,
            clip_low: 0.5,
        };
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng()), &v);
        assert!((norm(&adj[0]) - 25.0).abs() < 1e-9);
        // The spec's default is 1/C, an explicit value wins, out-of-range values are rejected.
        let spec = |y: &str| super::super::GradSpec::from_yaml(&serde_yaml::from_str(y).unwrap());
        let low = |y: &str| {
            let s = spec(y).unwrap();
            let mut b = s.build(2, 1).unwrap();
            let a = b.adjust(&gram(&v), &mut rng());
            norm(&apply_a(&a, &v)[0])
        };
        assert!((low("{name: htl, gamma: 1.0, clip: 4.0}") - 12.5).abs() < 1e-9);
        assert!((low("{name: htl, gamma: 1.0, clip: 4.0, clip_low: 0.1}") - 5.0).abs() < 1e-9);
        let e = spec("{name: htl, clip_low: 0}").unwrap_err().to_string();
        assert!(e.contains("clip_low") && e.contains("in (0, 1]"), "{e}");
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn combined_gradient_is_core_plus_adjusted() {
        let v = vec![
            vec![1.0, -2.0, 0.5],
            vec![0.2, 0.1, -3.0],
            vec![0.0, 1.0, 1.0],
        ];
        let mut s = HtlAdjust {
            target: 2,
            alpha: 1.0,
            gamma: 0.3,
            clip: 10.0,
            clip_low: 0.1,
        };
        let a = s.adjust(&gram(&v), &mut rng());
        let adj = apply_a(&a, &v);
        for t in 0..2 {
            assert!(dot(&adj[t], &v[2]) >= -1e-12, "task {t} still conflicts");
        }
        let comb = super::super::combined(&a);
        let total = apply_a(&[comb], &v);
        for k in 0..3 {
            let expect = adj[0][k] + adj[1][k] + v[2][k];
            assert!((total[0][k] - expect).abs() < 1e-12);
        }
    }
}

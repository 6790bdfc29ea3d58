//! PCGrad (Yu et al., "Gradient Surgery for Multi-Task Learning", NeurIPS 2020).
//!
//! For each task i, starting from `g_i' = g_i`, for each other task j in a random order:
//! `if <g_i', g_j> < 0: g_i' <- g_i' - (<g_i', g_j> / |g_j|^2) g_j`. The combined gradient
//! is `Σ_i g_i'`. Projections use the *original* `g_j`, as in the paper.

use super::{quad, unit, GradientStrategy};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// PCGrad.
#[derive(Debug, Clone)]
pub struct PcGrad {
    /// Shuffle the projection order each step (the paper's choice).
    pub shuffle: bool,
}

impl GradientStrategy for PcGrad {
    fn adjust(&mut self, gram: &[Vec<f64>], rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        let n = gram.len();
        (0..n)
            .map(|i| {
                let mut row = unit(n, i);
                let mut order: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                if self.shuffle {
                    order.shuffle(rng);
                }
                for j in order {
                    let gjj = gram[j][j];
                    if gjj <= 0.0 {
                        continue;
                    }
                    let d = quad(&row, gram, &unit(n, j));
                    if d < 0.0 {
                        row[j] -= d / gjj;
                    }
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

    #[test]
    fn two_conflicting_gradients_end_pairwise_non_negative() {
        // g_1 = (1, 0), g_2 = (-1, 1): <g_1, g_2> = -1.
        let v = vec![vec![1.0, 0.0], vec![-1.0, 1.0]];
        let mut s = PcGrad { shuffle: true };
        let adj = apply_a(&s.adjust(&gram(&v), &mut ChaCha8Rng::seed_from_u64(3)), &v);
        // g_1' = (1,0) - (-1/2)(-1,1) = (0.5, 0.5); g_2' = (-1,1) - (-1/1)(1,0) = (0, 1)
        assert!((adj[0][0] - 0.5).abs() < 1e-12 && (adj[0][1] - 0.5).abs() < 1e-12);
        assert!(adj[1][0].abs() < 1e-12 && (adj[1][1] - 1.0).abs() < 1e-12);
        for a in &adj {
            for b in &v {
                let d: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                assert!(d >= -1e-12);
            }
        }
    }

    #[test]
    fn agreeing_gradients_are_untouched() {
        let v = vec![vec![1.0, 0.5], vec![0.5, 1.0]];
        let mut s = PcGrad { shuffle: false };
        let a = s.adjust(&gram(&v), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(a, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }
}

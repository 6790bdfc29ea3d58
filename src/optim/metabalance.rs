//! MetaBalance (He et al., "MetaBalance: Improving Multi-Task Recommendations via Adapting
//! Gradient Magnitudes of Auxiliary Tasks", WWW 2022).
//!
//! Moving averages of gradient norms, `m_t <- beta * m_t + (1 - beta) * |g_t|`, then for every
//! auxiliary task t (not the target):
//!
//! ```text
//! g_t <- r * (m_target / m_t) * g_t + (1 - r) * g_t
//! ```
//!
//! applied to all auxiliary tasks (`mode: all`), only to those with `m_t > m_target`
//! (`reduce`) or only to those with `m_t < m_target` (`enlarge`). The combined gradient is
//! `g_target + Σ_t g_t`.

use super::{unit, GradientStrategy};
use rand_chacha::ChaCha8Rng;

/// MetaBalance with its moving averages.
#[derive(Debug, Clone)]
pub struct MetaBalance {
    target: usize,
    r: f64,
    beta: f64,
    mode: String,
    avg: Vec<Option<f64>>,
}

impl MetaBalance {
    /// New state; the first step initialises each moving average with the first norm.
    pub fn new(n_tasks: usize, target: usize, r: f64, beta: f64, mode: &str) -> Self {
        Self {
            target,
            r,
            beta,
            mode: mode.to_string(),
            avg: vec![None; n_tasks],
        }
    }
}

impl GradientStrategy for MetaBalance {
    #[allow(clippy::needless_range_loop)]
    fn adjust(&mut self, gram: &[Vec<f64>], _rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        let n = gram.len();
        for t in 0..n {
            let norm = gram[t][t].max(0.0).sqrt();
            self.avg[t] = Some(match self.avg[t] {
                None => norm,
                Some(m) => self.beta * m + (1.0 - self.beta) * norm,
            });
        }
        let m_tar = self.avg[self.target].unwrap_or(0.0);
        (0..n)
            .map(|t| {
                let mut row = unit(n, t);
                let m_t = self.avg[t].unwrap_or(0.0);
                if t == self.target || m_t <= 0.0 {
                    return row;
                }
                let apply = match self.mode.as_str() {
                    "reduce" => m_t > m_tar,
                    "enlarge" => m_t < m_tar,
                    _ => true,
                };
                if apply {
                    row[t] = self.r * (m_tar / m_t) + (1.0 - self.r);
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
    fn scales_an_auxiliary_gradient_toward_the_target_norm() {
        // |g_aux| = 10, |g_target| = 2, r = 0.7, first step (averages = norms):
        // scale = 0.7 * 2/10 + 0.3 = 0.44 → |g_aux'| = 4.4
        let v = vec![vec![6.0, 8.0], vec![2.0, 0.0]];
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "all");
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let adj = apply_a(&s.adjust(&gram(&v), &mut rng), &v);
        assert!((adj[0][0] - 6.0 * 0.44).abs() < 1e-12 && (adj[0][1] - 8.0 * 0.44).abs() < 1e-12);
        assert_eq!(adj[1], v[1]);
        // second step with |g_aux| = 20: m_aux = 0.9*10 + 0.1*20 = 11, m_tar = 2
        // scale = 0.7 * 2/11 + 0.3
        let v2 = vec![vec![12.0, 16.0], vec![2.0, 0.0]];
        let a = s.adjust(&gram(&v2), &mut rng);
        assert!((a[0][0] - (0.7 * 2.0 / 11.0 + 0.3)).abs() < 1e-12);
    }

    #[test]
    fn enlarge_mode_leaves_larger_gradients() {
        let v = vec![vec![6.0, 8.0], vec![2.0, 0.0]];
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "enlarge");
        let a = s.adjust(&gram(&v), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(a[0], vec![1.0, 0.0]);
    }
}

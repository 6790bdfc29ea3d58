//! MetaBalance (He et al., "MetaBalance: Improving Multi-Task Recommendations via Adapting
//! Gradient Magnitudes of Auxiliary Tasks", WWW 2022).
//!
//! `granularity: tensor` (the default) is the official code's rule: for every shared
//! parameter tensor p and task t, a moving average of the norm of that task's gradient on
//! that tensor, started at 0,
//!
//! ```text
//! m[p][t] <- beta * m[p][t] + (1 - beta) * |g[p][t]|
//! g[p][t] <- r * m[p][target] / (m[p][t] + 1e-5) * g[p][t] + (1 - r) * g[p][t]
//! ```
//!
//! applied to every task (the target's own factor is `r·m/(m + 1e-5) + 1 − r`, just under 1,
//! as in the official code), so each tensor is rescaled with its own ratio. The combined
//! gradient of p is `Σ_t g[p][t]`.
//!
//! `granularity: global` is this crate's earlier rule: one norm over all shared parameters,
//! averages started at the first norm, no epsilon and the target left untouched.
//!
//! `mode: reduce` / `enlarge` (the paper's variants) rescale an auxiliary task only when its
//! average is larger / smaller than the target's; `all` (the official code) rescales all.

use super::{unit, GradientStrategy};
use rand_chacha::ChaCha8Rng;

/// The official code's epsilon in the denominator of the ratio (tensor granularity).
pub const METABALANCE_EPS: f64 = 1e-5;

/// MetaBalance with its moving averages.
#[derive(Debug, Clone)]
pub struct MetaBalance {
    target: usize,
    r: f64,
    beta: f64,
    mode: String,
    per_tensor: bool,
    /// Global granularity: one average per task (None until the first step).
    avg: Vec<Option<f64>>,
    /// Tensor granularity: `avg_groups[p][t]`, created at the first step.
    avg_groups: Vec<Vec<f64>>,
}

impl MetaBalance {
    /// New state. `per_tensor`: one moving average per parameter group and task (the official
    /// code); otherwise one global norm per task.
    pub fn new(
        n_tasks: usize,
        target: usize,
        r: f64,
        beta: f64,
        mode: &str,
        per_tensor: bool,
    ) -> Self {
        Self {
            target,
            r,
            beta,
            mode: mode.to_string(),
            per_tensor,
            avg: vec![None; n_tasks],
            avg_groups: Vec::new(),
        }
    }

    /// The moving averages per group and task (tensor granularity), for inspection.
    pub fn averages(&self) -> &[Vec<f64>] {
        &self.avg_groups
    }

    fn applies(&self, m_t: f64, m_tar: f64) -> bool {
        match self.mode.as_str() {
            "reduce" => m_t > m_tar,
            "enlarge" => m_t < m_tar,
            _ => true,
        }
    }

    /// The official per-tensor step for one group `p` with Gram matrix `gram`.
    fn tensor_step(&mut self, p: usize, gram: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = gram.len();
        let m = &mut self.avg_groups[p];
        for (t, m_t) in m.iter_mut().enumerate() {
            let norm = gram[t][t].max(0.0).sqrt();
            *m_t = self.beta * *m_t + (1.0 - self.beta) * norm;
        }
        let m = self.avg_groups[p].clone();
        let m_tar = m[self.target];
        (0..n)
            .map(|t| {
                let mut row = unit(n, t);
                if t == self.target || self.applies(m[t], m_tar) {
                    row[t] = self.r * m_tar / (m[t] + METABALANCE_EPS) + (1.0 - self.r);
                }
                row
            })
            .collect()
    }
}

impl GradientStrategy for MetaBalance {
    #[allow(clippy::needless_range_loop)]
    fn adjust(&mut self, gram: &[Vec<f64>], rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        if self.per_tensor {
            return self
                .adjust_groups(&[gram.to_vec()], rng)
                .pop()
                .expect("one group");
        }
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
                if self.applies(m_t, m_tar) {
                    row[t] = self.r * (m_tar / m_t) + (1.0 - self.r);
                }
                row
            })
            .collect()
    }

    fn adjust_groups(
        &mut self,
        grams: &[Vec<Vec<f64>>],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Vec<Vec<f64>>> {
        if !self.per_tensor {
            let a = self.adjust(&super::sum_grams(grams), rng);
            return vec![a; grams.len()];
        }
        let n = grams.first().map_or(0, Vec::len);
        if self.avg_groups.len() != grams.len() {
            self.avg_groups = vec![vec![0.0; n]; grams.len()];
        }
        grams
            .iter()
            .enumerate()
            .map(|(p, g)| self.tensor_step(p, g))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{apply_a, gram};
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn global_scales_an_auxiliary_gradient_toward_the_target_norm() {
        // |g_aux| = 10, |g_target| = 2, r = 0.7, first step (averages = norms):
        // scale = 0.7 * 2/10 + 0.3 = 0.44 → |g_aux'| = 4.4
        let v = vec![vec![6.0, 8.0], vec![2.0, 0.0]];
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "all", false);
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
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "enlarge", false);
        let a = s.adjust(&gram(&v), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(a[0], vec![1.0, 0.0]);
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "enlarge", true);
        let a = s.adjust(&gram(&v), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(a[0], vec![1.0, 0.0]);
    }

    /// The independent NumPy transcription of the official update
    /// (`scripts/make_metabalance_fixtures.py`): combined per-tensor gradients and moving
    /// averages over several steps, to 1e-9.
    #[test]
    fn per_tensor_matches_the_independent_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/optim/metabalance_reference.json"
        );
        let text = std::fs::read_to_string(path).expect("fixture");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let f = |x: &serde_json::Value| x.as_f64().expect("number");
        let vecs = |x: &serde_json::Value| -> Vec<Vec<f64>> {
            x.as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_array().unwrap().iter().map(f).collect())
                .collect()
        };
        let cases = v["cases"].as_array().unwrap();
        assert!(cases.len() >= 3);
        let mut checked = 0;
        for c in cases {
            let target = c["target"].as_u64().unwrap() as usize;
            let steps = c["steps"].as_array().unwrap();
            let n = steps[0]["grads"][0].as_array().unwrap().len();
            let mut s = MetaBalance::new(n, target, f(&c["r"]), f(&c["beta"]), "all", true);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            for step in steps {
                let grads: Vec<Vec<Vec<f64>>> = step["grads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(&vecs)
                    .collect();
                let grams: Vec<Vec<Vec<f64>>> = grads.iter().map(|g| gram(g)).collect();
                let a = s.adjust_groups(&grams, &mut rng);
                let want = vecs(&step["combined"]);
                for (p, (ap, gp)) in a.iter().zip(&grads).enumerate() {
                    let adjusted = apply_a(ap, gp);
                    for (k, w) in want[p].iter().enumerate() {
                        let got: f64 = adjusted.iter().map(|row| row[k]).sum();
                        assert!(
                            (got - w).abs() <= 1e-9 * w.abs().max(1.0),
                            "tensor {p} element {k}: {got} vs {w}"
                        );
                        checked += 1;
                    }
                }
                let avg = vecs(&step["averages"]);
                for (got, w) in s.averages().iter().flatten().zip(avg.iter().flatten()) {
                    assert!((got - w).abs() <= 1e-9 * w.abs().max(1.0), "{got} vs {w}");
                }
            }
        }
        assert!(checked > 100);
    }

    #[test]
    fn per_tensor_first_step_by_hand() {
        // Two tensors, target = task 1. Tensor 0: |g_0| = 10, |g_1| = 2; tensor 1: |g_0| = 1,
        // |g_1| = 4. beta = 0.9 → m = 0.1·norm; ratio r·m_tar/(m_t + 1e-5) + 1 − r.
        let t0 = vec![vec![6.0, 8.0], vec![2.0, 0.0]];
        let t1 = vec![vec![1.0], vec![4.0]];
        let mut s = MetaBalance::new(2, 1, 0.7, 0.9, "all", true);
        let a = s.adjust_groups(&[gram(&t0), gram(&t1)], &mut ChaCha8Rng::seed_from_u64(0));
        let f = |tar: f64, t: f64| 0.7 * (0.1 * tar) / (0.1 * t + 1e-5) + 0.3;
        assert!((a[0][0][0] - f(2.0, 10.0)).abs() < 1e-15);
        assert!((a[1][0][0] - f(4.0, 1.0)).abs() < 1e-15);
        assert!((a[0][1][1] - f(2.0, 2.0)).abs() < 1e-15);
        assert!(a[0][1][1] < 1.0 && a[0][1][1] > 1.0 - 1e-4);
        assert_eq!(s.averages().len(), 2);
    }
}

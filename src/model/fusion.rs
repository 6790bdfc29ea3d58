//! Attention / concatenation fusion of a set of vectors: HTLNet's Information Fusion Unit
//! (SPEC §2; `htlnet::ifu` is this module) and AITM's adaptive information transfer, which uses
//! the same attention formula. It lives among the shared blocks so that neither model folder
//! imports the other.
//!
//! ```text
//! attention: a_j = softmax_j(<W2 u_j, W3 u_j> / sqrt(k));  fused = Σ_j a_j W1 u_j
//! concat:    fused = W [u_1; …; u_m]
//! ```
//! With one item (m = 1) the attention variant is `W1 u_1`.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use super::blocks::linear;

/// One IFU over a set of `m` items of width `d_in`, output width `k`.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Ifu {
    /// Attention fusion.
    Attention(AttentionIfu),
    /// Concatenation + linear.
    Concat(ConcatIfu),
}

/// Attention fusion with projections W1 (value), W2, W3.
#[derive(Module, Debug)]
pub struct AttentionIfu {
    /// Value projection.
    pub w1: Linear,
    /// First score projection.
    pub w2: Linear,
    /// Second score projection.
    pub w3: Linear,
    /// Projection width k.
    pub k: usize,
}

/// Concatenation fusion.
#[derive(Module, Debug)]
pub struct ConcatIfu {
    /// `[m * d_in] → k`.
    pub w: Linear,
}

impl Ifu {
    /// Builds an IFU for `m` items of width `d_in`.
    pub fn new(
        kind: &str,
        m: usize,
        d_in: usize,
        k: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        match kind {
            "concat" => Ifu::Concat(ConcatIfu {
                w: linear(m * d_in, k, true, rng, device),
            }),
            _ => Ifu::Attention(AttentionIfu {
                w1: linear(d_in, k, false, rng, device),
                w2: linear(d_in, k, false, rng, device),
                w3: linear(d_in, k, false, rng, device),
                k,
            }),
        }
    }

    /// Fuses the items; also returns the attention weights `[batch, m]` (attention only).
    ///
    /// # Shapes
    /// `items[j]: [batch, d_in]` → `[batch, k]`
    pub fn forward(&self, items: &[Tensor<2>]) -> (Tensor<2>, Option<Tensor<2>>) {
        match self {
            Ifu::Concat(c) => (c.w.forward(Tensor::cat(items.to_vec(), 1)), None),
            Ifu::Attention(a) => {
                let (fused, weights) = attention_fuse(items, &a.weights(), a.k);
                (fused, Some(weights))
            }
        }
    }
}

impl AttentionIfu {
    /// The projection matrices `[W1, W2, W3]`, each `[d_in, k]` (on the autodiff graph).
    pub fn weights(&self) -> [Tensor<2>; 3] {
        [
            self.w1.weight.val(),
            self.w2.weight.val(),
            self.w3.weight.val(),
        ]
    }
}

/// The attention formula with the projections given as tensors `[W1, W2, W3]` (`[d_in, k]`
/// each, no bias): what [`Ifu::forward`] computes for an attention IFU from its own weights.
/// A model that passes its attention weights through its trunk (AITM's `shared: trunk`)
/// applies them with this. Returns the fused vector and the weights `[batch, m]`.
///
/// # Shapes
/// `items[j]: [batch, d_in]` → `([batch, k], [batch, m])`
pub fn attention_fuse(items: &[Tensor<2>], w: &[Tensor<2>; 3], k: usize) -> (Tensor<2>, Tensor<2>) {
    let proj =
        |u: &Tensor<2>, m: &Tensor<2>| burn::tensor::module::linear(u.clone(), m.clone(), None);
    let values: Vec<Tensor<2>> = items.iter().map(|u| proj(u, &w[0])).collect();
    let scores: Vec<Tensor<2>> = items
        .iter()
        .map(|u| (proj(u, &w[1]) * proj(u, &w[2])).sum_dim(1))
        .collect();
    let weights = softmax(Tensor::cat(scores, 1).div_scalar((k as f32).sqrt()), 1);
    let v: Tensor<3> = Tensor::stack(values, 1);
    let fused = (v * weights.clone().unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .squeeze_dim::<2>(1);
    (fused, weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blocks::tensor2;
    use rand::SeedableRng;

    fn items(dev: &Device) -> Vec<Tensor<2>> {
        vec![
            tensor2(vec![1.0, 0.0, 0.5, 2.0, -1.0, 0.3], 2, 3, dev),
            tensor2(vec![0.0, 1.0, 0.2, 0.1, 0.4, -2.0], 2, 3, dev),
            tensor2(vec![0.3, 0.3, 0.3, 1.0, 1.0, 1.0], 2, 3, dev),
        ]
    }

    #[test]
    fn attention_weights_sum_to_one() {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ifu = Ifu::new("attention", 3, 3, 4, &mut rng, &dev);
        let (out, w) = ifu.forward(&items(&dev));
        assert_eq!(out.dims(), [2, 4]);
        let w = w.unwrap().into_data().try_into_vec::<f32>().unwrap();
        for row in w.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    /// `attention_fuse` with an IFU's own weights is the formula through the IFU's `Linear`
    /// layers, bit for bit (AITM's trunk passes the weights on and applies them with it).
    #[test]
    fn attention_fuse_with_own_weights_equals_the_linear_layers() {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let ifu = Ifu::new("attention", 3, 3, 4, &mut rng, &dev);
        let Ifu::Attention(a) = &ifu else {
            panic!("attention")
        };
        let items = items(&dev);
        let values: Vec<Tensor<2>> = items.iter().map(|u| a.w1.forward(u.clone())).collect();
        let scores: Vec<Tensor<2>> = items
            .iter()
            .map(|u| (a.w2.forward(u.clone()) * a.w3.forward(u.clone())).sum_dim(1))
            .collect();
        let weights = softmax(Tensor::cat(scores, 1).div_scalar(2.0), 1);
        let v: Tensor<3> = Tensor::stack(values, 1);
        let fused = (v * weights.clone().unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1);
        let (f, w) = attention_fuse(&items, &a.weights(), a.k);
        let host = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        assert_eq!(host(f), host(fused));
        assert_eq!(host(w), host(weights));
    }

    #[test]
    fn one_item_equals_w1_u() {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let ifu = Ifu::new("attention", 1, 3, 4, &mut rng, &dev);
        let u = items(&dev).remove(0);
        let (out, _) = ifu.forward(std::slice::from_ref(&u));
        let Ifu::Attention(a) = &ifu else {
            panic!("attention")
        };
        let expect = a.w1.forward(u).into_data().try_into_vec::<f32>().unwrap();
        let got = out.into_data().try_into_vec::<f32>().unwrap();
        for (g, e) in got.iter().zip(&expect) {
            assert!((g - e).abs() < 1e-6);
        }
    }

    #[test]
    fn concat_has_one_matrix_over_all_items() {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let ifu = Ifu::new("concat", 3, 3, 4, &mut rng, &dev);
        let (out, w) = ifu.forward(&items(&dev));
        assert_eq!(out.dims(), [2, 4]);
        assert!(w.is_none());
        assert_eq!(ifu.num_params(), 9 * 4 + 4);
    }
}

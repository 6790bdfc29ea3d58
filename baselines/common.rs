//! Pieces several baselines share: softmax gates, gated expert mixing and option checks. (A
//! task's prediction type comes from its tower: `crate::model::blocks::Tower::predict`.)

use burn::module::Module;
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;

use crate::data::TaskKind;
use crate::model::blocks::{linear, Mlp};
use crate::model::{BuildInfo, OptionError};

/// A softmax gate over `n` experts: `softmax(BN?(W x + b))`.
///
/// The papers (MMoE, PLE, AdaTT) use `softmax(W x + b)`; torch-rechub's gates put a
/// batch-norm between the linear map and the softmax (`gate_bn: true`).
#[derive(Module, Debug)]
pub struct Gate {
    /// `[d_in] → [n]` logits.
    pub linear: Linear,
    /// Optional batch-norm on the logits (torch-rechub's variant).
    pub bn: Option<BatchNorm>,
}

impl Gate {
    /// A gate reading `d_in` features and weighting `n` experts.
    pub fn new(d_in: usize, n: usize, bn: bool, rng: &mut ChaCha8Rng, device: &Device) -> Self {
        Self {
            linear: linear(d_in, n, true, rng, device),
            bn: bn.then(|| BatchNormConfig::new(n).init(device)),
        }
    }

    /// Expert weights; every row sums to 1.
    ///
    /// # Shapes
    /// `x: [batch, d_in]` → `[batch, n]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let mut h = self.linear.forward(x);
        if let Some(bn) = &self.bn {
            h = bn.forward(h);
        }
        softmax(h, 1)
    }
}

/// Weighted sum of expert outputs: `Σ_j w[:, j] · experts[j]`.
///
/// # Shapes
/// `weights: [batch, n]`, `experts[j]: [batch, d]` → `[batch, d]`
///
/// Summed expert by expert (`w[:, 0]·E_0 + w[:, 1]·E_1 + …`): the same products added in the
/// same order as stacking the experts and summing over them ([`mix_stacked`]), without the
/// `[batch, n, d]` stack and its copies (benches/README.md, attempt 8; tested bit-equal to
/// the stacked form, values and gradients).
pub fn mix(weights: Tensor<2>, experts: &[Tensor<2>]) -> Tensor<2> {
    let [batch, _] = weights.dims();
    let column = |j: usize| weights.clone().slice([0..batch, j..j + 1]);
    let mut out = experts[0].clone() * column(0);
    for (j, e) in experts.iter().enumerate().skip(1) {
        out = out + e.clone() * column(j);
    }
    out
}

/// The stacked form of [`mix`]: `(stack(experts) · w).sum over experts`. The same values,
/// but a different autodiff graph: where an expert output also feeds other operations
/// (AdaTT's native-expert residual), burn accumulates its gradient contributions in another
/// order, so AdaTT keeps this form in the stable build, where it reproduces the results it
/// was stored with (benches/README.md, attempt 8).
pub fn mix_stacked(weights: Tensor<2>, experts: &[Tensor<2>]) -> Tensor<2> {
    let stacked: Tensor<3> = Tensor::stack(experts.to_vec(), 1); // [batch, n, d]
    (stacked * weights.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .squeeze_dim::<2>(1)
}

/// Runs every expert on the same input.
pub fn run_experts(
    experts: &[Mlp],
    x: &Tensor<2>,
    ctx: &mut crate::model::ForwardCtx,
) -> Vec<Tensor<2>> {
    experts.iter().map(|e| e.forward(x.clone(), ctx)).collect()
}

/// Binary flag per task, in chain order.
pub fn binary_flags(info: &BuildInfo) -> Vec<bool> {
    info.tasks
        .tasks()
        .iter()
        .map(|t| t.kind == TaskKind::Binary)
        .collect()
}

pub use crate::model::{check_at_least, check_dropout, check_enum, check_widths};

/// Expert widths at each level under `expert_layout`: `repeat` gives every level the whole
/// `expert` MLP; `split` gives level l one layer of width `expert[l]` (MTReclib's PLE, where
/// `levels` must equal `len(expert)`).
pub fn level_widths(expert: &[usize], layout_split: bool, levels: usize) -> Vec<Vec<usize>> {
    if layout_split {
        expert.iter().map(|&w| vec![w]).collect()
    } else {
        vec![expert.to_vec(); levels]
    }
}

/// Checks `levels`, `expert` and `expert_layout` together.
pub fn check_levels(levels: usize, expert: &[usize], layout: &str) -> Result<(), OptionError> {
    check_enum("expert_layout", layout, &["repeat", "split"])?;
    check_at_least("levels", levels, 1)?;
    check_widths("expert", expert, false)?;
    if layout == "split" && expert.len() != levels {
        return Err(OptionError::Rule(format!(
            "`expert_layout: split` gives level l one layer of width expert[l], so `expert` \
             needs `levels` = {levels} widths, not {}",
            expert.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(t: Tensor<2>) -> Vec<u32> {
        let v: Vec<f32> = t.into_data().try_to_vec().unwrap_or_default();
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// `mix` adds the same products in the same order as the stacked form: equal bit for
    /// bit, values and the gradients of the weights and of every expert.
    #[test]
    fn mix_equals_the_stacked_form_bit_for_bit() {
        let dev = Device::flex().autodiff();
        let (batch, n, d) = (37, 4, 129);
        let val = |k: usize, m: usize| ((k * 7919 + m * 104_729) % 2003) as f32 / 1001.0 - 1.0;
        let w: Vec<f32> = (0..batch * n).map(|k| val(k, 1)).collect();
        let leaf_w = || {
            Tensor::<1>::from_floats(w.as_slice(), &dev)
                .reshape([batch, n])
                .require_grad()
        };
        let leaf_e = |j: usize| {
            let v: Vec<f32> = (0..batch * d).map(|k| val(k, j + 2)).collect();
            Tensor::<1>::from_floats(v.as_slice(), &dev)
                .reshape([batch, d])
                .require_grad()
        };
        let (wa, wb) = (leaf_w(), leaf_w());
        let (ea, eb): (Vec<_>, Vec<_>) = (0..n).map(|j| (leaf_e(j), leaf_e(j))).unzip();
        let (a, b) = (mix(wa.clone(), &ea), mix_stacked(wb.clone(), &eb));
        assert_eq!(bits(a.clone()), bits(b.clone()));
        // A loss whose gradient differs per element.
        let weight: Vec<f32> = (0..batch * d).map(|k| val(k, 99)).collect();
        let g = Tensor::<1>::from_floats(weight.as_slice(), &dev).reshape([batch, d]);
        let (ga, gb) = ((a * g.clone()).sum().backward(), (b * g).sum().backward());
        let grad = |t: &Tensor<2>, gs| t.grad(gs).map(bits).unwrap_or_default();
        assert!(!grad(&wa, &ga).is_empty());
        assert_eq!(grad(&wa, &ga), grad(&wb, &gb), "weights' gradient");
        for (x, y) in ea.iter().zip(&eb) {
            assert_eq!(grad(x, &ga), grad(y, &gb), "an expert's gradient");
        }
    }
}

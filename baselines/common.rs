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
pub fn mix(weights: Tensor<2>, experts: &[Tensor<2>]) -> Tensor<2> {
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

//! The zero-inflated log-normal (ZILN) core loss of Wang, Liu & Miao (2019), for a sparse,
//! non-negative core target such as spend (most rows 0, the rest heavy-tailed).
//!
//! The core head outputs three values per row, `z = [z_p, z_μ, z_σ]`:
//!
//! ```text
//! p = sigmoid(z_p)                       probability that y > 0
//! μ = z_μ                                mean of log y given y > 0
//! σ = max(softplus(z_σ), SIGMA_FLOOR)    std of log y given y > 0
//!
//! loss = mean over the batch of
//!        BCE(p, 1[y > 0]) + 1[y > 0] · ( log y + log σ + ½ log 2π + (log y − μ)² / (2σ²) )
//!
//! prediction = E[y] = p · exp(μ + σ²/2)
//! ```
//!
//! The second term is −log of the log-normal density of `y` (on the raw scale, so it
//! includes the Jacobian `log y`; that term has no gradient but keeps the loss a true
//! negative log-likelihood). The target is the raw core value: no standardisation, since
//! the model is of `y` itself.
//!
//! Head initialisation ([`ziln_init_bias`]): the bias of `z_p` at the logit of the training
//! rate of `y > 0`, of `z_μ` at the mean of `log y` over the training positives, and of `z_σ`
//! at `softplus⁻¹` of the standard deviation of `log y` over the positives (at least
//! `SIGMA_FLOOR`), so the untrained head already predicts the training distribution.
//!
//! Wiring: `train.core_loss: ziln` (which needs `core_transform: none`) gives every model's
//! core tower three outputs (`crate::model::blocks::core_out_dim`); the tower's prediction is
//! `Pred::Ziln`, whose loss is [`ziln_loss`] in `task_losses` (so every gradient strategy
//! sees it as the core task's loss), whose validation loss and stored predictions use
//! [`ziln_loss`] and [`ziln_expectation`] (the trainer's evaluation), and whose head bias is
//! [`ziln_init_bias`] of the training split.

use burn::tensor::activation::{relu, sigmoid, softplus};
use burn::tensor::Tensor;

/// Lower bound of σ, so that the log-normal term stays finite.
pub const SIGMA_FLOOR: f64 = 1e-3;

/// `(p, μ, σ)` from the head's `[batch, 3]` output, each `[batch]`; `p` as its logit.
fn split(z: Tensor<2>) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let b = z.dims()[0];
    let logit = z.clone().slice([0..b, 0..1]).squeeze_dim::<1>(1);
    let mu = z.clone().slice([0..b, 1..2]).squeeze_dim::<1>(1);
    let sigma = softplus(z.slice([0..b, 2..3]).squeeze_dim::<1>(1), 1.0).clamp_min(SIGMA_FLOOR);
    (logit, mu, sigma)
}

/// The ZILN loss `[1]` of a `[batch, 3]` head output against the raw target `y` `[batch]`
/// (`y ≥ 0`), averaged over the batch (formula in the module docs).
pub fn ziln_loss(z: Tensor<2>, y: Tensor<1>) -> Tensor<1> {
    let (logit, mu, sigma) = split(z);
    let pos = y.clone().greater_elem(0.0).float();
    // BCE with logits, stably: relu(z) − z·t + log1p(e^−|z|).
    let bce = relu(logit.clone()) - logit.clone() * pos.clone() + logit.abs().neg().exp().log1p();
    // log y on the positives; 1 (log = 0) elsewhere, where the term is masked anyway.
    let one = pos.ones_like();
    let y_safe = y * pos.clone() + (one - pos.clone());
    let log_y = y_safe.log();
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let nll = log_y.clone()
        + sigma.clone().log()
        + half_log_2pi
        + (log_y - mu).powi_scalar(2) / (sigma.powi_scalar(2) * 2.0);
    (bce + pos * nll).mean()
}

/// The prediction `E[y] = p · exp(μ + σ²/2)` `[batch]` of a `[batch, 3]` head output.
pub fn ziln_expectation(z: Tensor<2>) -> Tensor<1> {
    let (logit, mu, sigma) = split(z);
    sigmoid(logit) * (mu + sigma.powi_scalar(2) / 2.0).exp()
}

/// Initial biases `[z_p, z_μ, z_σ]` of the ZILN head from the raw training target (see the
/// module docs). Without positives: p at the floor rate 1e-6, μ = 0, σ = 1.
pub fn ziln_init_bias(y: &[f32]) -> [f32; 3] {
    let logs: Vec<f64> = y
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| (v as f64).ln())
        .collect();
    let rate = (logs.len() as f64 / y.len().max(1) as f64).clamp(1e-6, 1.0 - 1e-6);
    let (mu, sd) = if logs.is_empty() {
        (0.0, 1.0)
    } else {
        let n = logs.len() as f64;
        let m = logs.iter().sum::<f64>() / n;
        let var = logs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n;
        (m, var.sqrt())
    };
    // softplus⁻¹(s) = log(e^s − 1).
    let sd = sd.max(SIGMA_FLOOR);
    [
        (rate / (1.0 - rate)).ln() as f32,
        mu as f32,
        sd.exp_m1().ln() as f32,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blocks::{tensor1, tensor2};
    use burn::tensor::Device;

    fn vec1(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    /// softplus⁻¹(0.5) = log(e^0.5 − 1).
    const SP_INV_HALF: f32 = -0.432_752_13;

    #[test]
    fn loss_and_expectation_match_hand_computed_values() {
        let dev = Device::flex();
        // Row 1: z = [0, 0, 0], y = 0 → BCE = ln 2, no log-normal term.
        // Row 2: z = [ln 3, 1, softplus⁻¹(0.5)], y = e → p = 0.75, μ = 1, σ = 0.5:
        //   BCE = −ln 0.75; NLL = ln e + ln 0.5 + ½ ln 2π + 0 = 1.2257913526447273.
        // Mean = (0.6931471805599453 + 0.2876820724517809 + 1.2257913526447273) / 2
        //      = 1.1033103028282267.
        let z = tensor2(vec![0.0, 0.0, 0.0, 3f32.ln(), 1.0, SP_INV_HALF], 2, 3, &dev);
        let y = tensor1(vec![0.0, std::f32::consts::E], &dev);
        let loss = vec1(ziln_loss(z.clone(), y));
        assert!((loss[0] - 1.103_310_3).abs() < 1e-5, "{loss:?}");
        // E[y]: row 1 0.5·exp(ln²2 / 2) = 0.6357685648570702; row 2 0.75·exp(1.125)
        // = 2.3101626366885233.
        let e = vec1(ziln_expectation(z));
        assert!((e[0] - 0.635_768_56).abs() < 1e-5, "{e:?}");
        assert!((e[1] - 2.310_162_6).abs() < 1e-5, "{e:?}");
    }

    #[test]
    fn loss_has_gradients_for_all_three_outputs() {
        let dev = Device::flex().autodiff();
        let z = tensor2(vec![0.2, 0.5, 0.1, -0.3, 1.5, 0.4], 2, 3, &dev).require_grad();
        let y = tensor1(vec![2.0, 0.0], &dev);
        let grads = ziln_loss(z.clone(), y).backward();
        let g = z
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // The positive row moves p, μ and σ; the zero row moves only p.
        assert!(g[0] != 0.0 && g[1] != 0.0 && g[2] != 0.0, "{g:?}");
        assert!(g[3] != 0.0 && g[4] == 0.0 && g[5] == 0.0, "{g:?}");
    }

    #[test]
    fn initial_bias_predicts_the_training_distribution() {
        // Positives e and e³: rate 0.5 → logit 0; log y = 1, 3 → μ = 2, σ = 1.
        let b = ziln_init_bias(&[0.0, std::f32::consts::E, 0.0, 3f32.exp()]);
        assert!(b[0].abs() < 1e-6, "{b:?}");
        assert!((b[1] - 2.0).abs() < 1e-6, "{b:?}");
        // softplus⁻¹(1) = ln(e − 1) = 0.5413248546129181.
        assert!((b[2] - 0.541_324_85).abs() < 1e-5, "{b:?}");
        // No positives: the floor rate, μ = 0, σ = 1.
        let b = ziln_init_bias(&[0.0, 0.0]);
        assert!((b[0] - (1e-6f64 / (1.0 - 1e-6)).ln() as f32).abs() < 1e-4);
        assert_eq!(b[1], 0.0);
    }
}

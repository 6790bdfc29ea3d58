//! ESMM (Ma, Zhao, Huang, Wang, Hu, Zhu, Gai: "Entire Space Multi-Task Model: An Effective
//! Approach for Estimating Post-Click Conversion Rate", SIGIR 2018), generalised to a chain of
//! k binary tasks and an optional core task. See `README.md` beside this file.

use burn::module::{Module, Param};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::common::{binary_flags, check_at_least, check_enum, check_widths};
use crate::model::blocks::{tensor1, CoreLoss, Dropout, FieldEmbedding, Head, MlpSpec, Tower};
use crate::model::{
    Batch, BuildInfo, ForwardCtx, ModelDef, ModelError, ModelOptions, ModelOutput, MultiTaskModel,
    OptionError, Pred,
};

/// Options of `model: esmm` (YAML keys are the field names). Kept equal to `defaults.yaml` and
/// the README's table by a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EsmmConfig {
    /// Embedding width per field.
    pub embed_dim: usize,
    /// Hidden widths of each task tower.
    pub tower: Vec<usize>,
    /// Dropout after every hidden layer.
    pub dropout: Dropout,
    /// Batch-norm after every hidden linear layer of every MLP (MTReclib); evaluation uses the
    /// running statistics.
    pub batch_norm: bool,
    /// Shared parameters θ_s that per-task gradient strategies act on: `embedding` or
    /// `trunk` (every parameter used by more than one task; see baselines/README.md).
    pub shared: String,
    /// The core task: `separate` (its own tower predicts the transformed value) or
    /// `expected_value` (chain probability × conditional amount, see the README).
    pub core_mode: String,
}

impl Default for EsmmConfig {
    fn default() -> Self {
        Self {
            embed_dim: 16,
            tower: vec![128, 64, 32],
            dropout: Dropout::One(0.0),
            batch_norm: false,
            shared: "embedding".into(),
            core_mode: "separate".into(),
        }
    }
}

impl ModelOptions for EsmmConfig {
    /// Every range and cross-key rule; the error names the key, the value and the range.
    fn validate(&self) -> Result<(), OptionError> {
        check_at_least("embed_dim", self.embed_dim, 1)?;
        check_enum(
            "core_mode",
            &self.core_mode,
            &["separate", "expected_value"],
        )?;
        check_widths("tower", &self.tower, true)?;
        crate::model::check_enum("shared", &self.shared, &["embedding", "trunk"])?;
        self.dropout.check()
    }
}

/// Initial bias of binary head t: the logit of the *conditional* rate `r_t / r_{t-1}` (rates
/// from `init_bias`, the logits of the marginal training rates), so that the initial product
/// chain reproduces every marginal rate (SPEC §7). Task 1 keeps its marginal logit.
pub fn conditional_biases(marginal_logits: &[f32]) -> Vec<f32> {
    let rate = |z: f32| 1.0 / (1.0 + (-z as f64).exp());
    marginal_logits
        .iter()
        .enumerate()
        .map(|(t, &z)| {
            if t == 0 {
                return z;
            }
            let c = (rate(z) / rate(marginal_logits[t - 1])).clamp(1e-6, 1.0 - 1e-6);
            (c / (1.0 - c)).ln() as f32
        })
        .collect()
}

/// A ZILN head `[batch, 3]` whose probability of `y > 0` goes through the chain: column 0
/// becomes the logit of `P_k · sigmoid(z_p)` (clamped to [1e-7, 1 − 1e-7]), μ and σ stay.
///
/// # Shapes
/// `head: [batch, 3]`, `chain: [batch]` → `[batch, 3]`
pub fn ziln_through_chain(head: Tensor<2>, chain: Tensor<1>) -> Tensor<2> {
    let b = head.dims()[0];
    let q = sigmoid(head.clone().slice([0..b, 0..1]).squeeze_dim::<1>(1));
    let p = (chain * q).clamp(1e-7, 1.0 - 1e-7);
    let logit = p.clone().log() - p.neg().add_scalar(1.0).log();
    Tensor::cat(
        vec![logit.unsqueeze_dim::<2>(1), head.slice([0..b, 1..3])],
        1,
    )
}

/// `model: esmm` in the zoo.
pub struct EsmmModel;

impl ModelDef for EsmmModel {
    const NAME: &'static str = "esmm";
    const SUMMARY: &'static str = "ESMM (SIGIR 2018): entire-space product chain over the binary tasks; core on its own tower or as expected value";
    const FOLDER: &'static str = "baselines/esmm";
    const DEFAULT_GRAD: &'static str = "sum";
    const THETA_S: &'static str =
        "the field embedding (its only part used by more than one task, so `shared: trunk` is the same set; torch-rechub pairs no strategy with ESMM)";
    const PRESETS_YAML: &'static str = include_str!("presets.yaml");
    type Options = EsmmConfig;
    type Net = Esmm;

    fn build(
        options: &EsmmConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Esmm, ModelError> {
        Esmm::new(options, info, rng, device)
    }
}

/// The ESMM network.
#[derive(Module, Debug)]
pub struct Esmm {
    /// θ_s: the field embeddings.
    pub embedding: FieldEmbedding,
    /// One tower per task: conditional-probability logits for binary tasks; the core value
    /// (`separate`) or the conditional amount (`expected_value`) for the core task.
    pub towers: Vec<Tower>,
    /// `expected_value` with an MSE core only: the transformed value of a row outside the
    /// chain's end (learned scalar `[1]`), see the README.
    pub zero_value: Option<Param<Tensor<1>>>,
    /// `expected_value` with a ZILN core: p(y > 0) = P_k · sigmoid(z_p) (see the README).
    pub ziln_through_chain: bool,
    /// Binary flag per task.
    pub binary: Vec<bool>,
}

impl Esmm {
    /// Builds the network (options already validated).
    pub fn new(
        cfg: &EsmmConfig,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let binary = binary_flags(info);
        let k = binary.iter().filter(|&&b| b).count();
        let expected = cfg.core_mode == "expected_value" && k < binary.len();
        if expected && k == 0 {
            return Err(ModelError::Unsupported(
                "`core_mode: expected_value` needs at least one binary task before the core task"
                    .into(),
            ));
        }
        let embedding =
            FieldEmbedding::new(&info.vocabs, info.n_numeric, cfg.embed_dim, rng, device);
        let d_e = embedding.out_dim();
        let mut bias = conditional_biases(&info.init_bias[..k]);
        bias.extend_from_slice(&info.init_bias[k..]);
        let towers = bias
            .iter()
            .enumerate()
            .map(|(t, &b)| {
                Tower::for_head(
                    d_e,
                    &cfg.tower,
                    MlpSpec::new(&cfg.dropout, cfg.batch_norm),
                    &Head::of(info, t).with_bias(b),
                    rng,
                    device,
                )
            })
            .collect();
        let ziln = info.core_head.loss() == CoreLoss::Ziln;
        let zero_value = (expected && !ziln)
            .then(|| Param::from_tensor(tensor1(vec![info.init_bias[k]], device)));
        Ok(Self {
            embedding,
            towers,
            zero_value,
            ziln_through_chain: expected && ziln,
            binary,
        })
    }
}

impl MultiTaskModel for Esmm {
    /// `z = [e]`, the concatenated field embeddings `[batch, fields * embed_dim]`.
    fn shared(&self, batch: &Batch, _ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        vec![self.embedding.forward(&batch.cat, batch.num.as_ref())]
    }

    /// Binary t: `c_t = sigmoid(tower_t(e))` = p(a_t | a_{t-1} = 1); task 1 predicts its
    /// logit, task t > 1 the chain probability `P_t = Π_{j≤t} c_j`. Core: `tower_c(e)`
    /// (`separate`) or `P_k · tower_c(e) + (1 - P_k) · z0` (`expected_value`); with a ZILN
    /// core, `expected_value` makes p(y > 0) = `P_k · sigmoid(z_p)`. Records `cond_<t>`
    /// `[batch, 1]` (the conditional probabilities).
    fn heads(
        &self,
        inputs: &[Vec<Tensor<2>>],
        _batch: &Batch,
        ctx: &mut ForwardCtx,
    ) -> ModelOutput {
        let mut preds = Vec::with_capacity(self.towers.len());
        let mut chain: Option<Tensor<1>> = None;
        let mut aux = Vec::new();
        for (t, (tower, z)) in self.towers.iter().zip(inputs).enumerate() {
            if !self.binary[t] {
                let pred = match (tower.predict(z[0].clone(), ctx, false), &chain) {
                    (Pred::Value(out), Some(p)) => match &self.zero_value {
                        Some(z0) => {
                            let z0 = z0.val();
                            let one_minus = p.clone().neg().add_scalar(1.0);
                            Pred::Value(p.clone() * out + one_minus * z0)
                        }
                        None => Pred::Value(out),
                    },
                    (Pred::Ziln(h), Some(p)) if self.ziln_through_chain => {
                        Pred::Ziln(ziln_through_chain(h, p.clone()))
                    }
                    (pred, _) => pred,
                };
                preds.push(pred);
                continue;
            }
            let out = tower.forward(z[0].clone(), ctx);
            let c = sigmoid(out.clone());
            if ctx.record {
                aux.push((format!("cond_{t}"), c.clone().unsqueeze_dim::<2>(1)));
            }
            match chain.take() {
                None => {
                    preds.push(Pred::Logit(out));
                    chain = Some(c);
                }
                Some(p) => {
                    let p = p * c;
                    preds.push(Pred::Prob(p.clone()));
                    chain = Some(p);
                }
            }
        }
        ModelOutput {
            preds,
            extra_losses: vec![],
            aux,
        }
    }

    /// Task t's prediction multiplies the outputs of towers 1..t: not separable.
    fn separable(&self) -> bool {
        false
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }

    /// The trunk is exactly `[embedding.forward(batch)]`: per-task strategies can take the
    /// Gram matrix on the embedding rows the batch touched.
    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        Some(&self.embedding)
    }
}

#[cfg(test)]
mod tests;

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
        "the field embedding (`shared: embedding`, default); `shared: trunk`: the field embedding + every binary tower whose conditional probability a later task's prediction multiplies (all but the last binary tower; with `core_mode: expected_value` every binary tower)";
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
    /// `shared: trunk`: the binary towers that feed a later task run in the trunk (θ_s);
    /// otherwise the trunk is the embedding and every tower runs in the heads.
    pub trunk: bool,
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
            trunk: cfg.shared == "trunk",
        })
    }
}

impl Esmm {
    /// Whether tower t reaches a later task's loss: a binary tower followed by a binary task
    /// (whose chain probability multiplies it), or any binary tower when the core task is the
    /// expected value over the chain. These towers are the first ones of the chain.
    fn tower_shared(&self, t: usize) -> bool {
        self.binary[t] && (self.binary.get(t + 1) == Some(&true) || self.expected())
    }

    /// `core_mode: expected_value` (with an MSE or a ZILN core).
    fn expected(&self) -> bool {
        self.zero_value.is_some() || self.ziln_through_chain
    }

    /// Trunk mode: the chain probability `Π_{j<t} c_j` from the towers' logits in the trunk
    /// output `z` (`z[1 + j]`, `[batch, 1]`); `None` for t = 0.
    fn chain_from(z: &[Tensor<2>], t: usize) -> Option<Tensor<1>> {
        (0..t)
            .map(|j| sigmoid(z[1 + j].clone().squeeze_dim::<1>(1)))
            .reduce(|p, c| p * c)
    }

    /// The core prediction from the core tower's output `pred`: `tower_c(e)` (`separate`),
    /// `P_k · tower_c(e) + (1 − P_k) · z0` (`expected_value`, MSE core, `chain` = `P_k`), or
    /// with a ZILN core and `expected_value` the head with p(y > 0) = `P_k · sigmoid(z_p)`.
    fn core_pred(&self, pred: Pred, chain: Option<&Tensor<1>>) -> Pred {
        match (pred, chain) {
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
        }
    }
}

impl MultiTaskModel for Esmm {
    /// `shared: embedding`: `z = [e]`, the concatenated field embeddings
    /// `[batch, fields * embed_dim]`. `shared: trunk`: `z = [e, out_0, …, out_{s−1}]`, the
    /// logits `[batch, 1]` of the towers that feed a later task (the first s).
    fn shared(&self, batch: &Batch, ctx: &mut ForwardCtx) -> Vec<Tensor<2>> {
        let e = self.embedding.forward(&batch.cat, batch.num.as_ref());
        let mut z = vec![e.clone()];
        if self.trunk {
            for (t, tower) in self.towers.iter().enumerate() {
                if !self.tower_shared(t) {
                    break;
                }
                z.push(tower.forward(e.clone(), ctx).unsqueeze_dim(1));
            }
        }
        z
    }

    /// Binary t: `c_t = sigmoid(tower_t(e))` = p(a_t | a_{t-1} = 1); task 1 predicts its
    /// logit, task t > 1 the chain probability `P_t = Π_{j≤t} c_j`. Core: `tower_c(e)`
    /// (`separate`) or `P_k · tower_c(e) + (1 - P_k) · z0` (`expected_value`); with a ZILN
    /// core, `expected_value` makes p(y > 0) = `P_k · sigmoid(z_p)`. Records `cond_<t>`
    /// `[batch, 1]` (the conditional probabilities). Trunk mode: task t reads the
    /// earlier towers' logits from its own copy `inputs[t]`.
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
            if self.trunk && (self.binary[t] || self.expected()) {
                // Every tower before t is in the trunk: a binary task's earlier towers feed
                // it, and with `expected_value` every binary tower feeds the core task.
                chain = Self::chain_from(z, t);
            }
            if !self.binary[t] {
                let pred = tower.predict(z[0].clone(), ctx, false);
                preds.push(self.core_pred(pred, chain.as_ref()));
                continue;
            }
            let out = if self.trunk && self.tower_shared(t) {
                z[1 + t].clone().squeeze_dim(1)
            } else {
                tower.forward(z[0].clone(), ctx)
            };
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

    /// Embedding mode: task t's prediction multiplies the outputs of towers 1..t, so not
    /// separable. Trunk mode: task t reads only `inputs[t]`.
    fn separable(&self) -> bool {
        self.trunk
    }

    /// The embedding; trunk mode adds every tower that feeds a later task.
    fn shared_param_ids(&self) -> Vec<burn::module::ParamId> {
        let mut ids = burn::module::list_param_ids(&self.embedding);
        if self.trunk {
            for (t, tower) in self.towers.iter().enumerate() {
                if self.tower_shared(t) {
                    ids.extend(burn::module::list_param_ids(tower));
                }
            }
        }
        ids
    }

    fn param_groups(&self) -> Vec<(&'static str, Vec<burn::module::ParamId>)> {
        vec![("embedding", burn::module::list_param_ids(&self.embedding))]
    }

    fn n_tasks(&self) -> usize {
        self.towers.len()
    }

    /// Embedding mode: the trunk is exactly `[embedding.forward(batch)]`, so per-task
    /// strategies can take the Gram matrix on the embedding rows the batch touched.
    fn embedding_trunk(&self) -> Option<&FieldEmbedding> {
        (!self.trunk).then_some(&self.embedding)
    }
}

#[cfg(test)]
mod tests;

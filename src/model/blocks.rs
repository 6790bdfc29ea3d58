//! Shared building blocks: seeded initialisation, per-field embeddings, MLPs and towers.
//!
//! Every parameter is initialised from the cell's own [`ChaCha8Rng`], never from a
//! backend's global generator, so that cells running side by side stay deterministic.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig, Linear};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use super::def::{check_range, OptionError, RangeKind};
use super::{BuildInfo, Pred};
use crate::data::TaskKind;

/// Standard deviation of the normal initialiser of embedding tables, for every model (MTReclib
/// initialises its embeddings Xavier-uniform; the difference is a row in each baseline
/// README).
pub const EMBED_INIT_STD: f64 = 0.01;

/// A `[rows, cols]` float tensor filled from `f`.
pub fn tensor2(values: Vec<f32>, rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    crate::util::transfers::count_h2d();
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// A `[n]` float tensor.
pub fn tensor1(values: Vec<f32>, device: &Device) -> Tensor<1> {
    crate::util::transfers::count_h2d();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// A `[n]` integer tensor.
pub fn int1(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    crate::util::transfers::count_h2d();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// A linear layer initialised like PyTorch's `nn.Linear`: weight and bias uniform in
/// `[-1/sqrt(d_in), 1/sqrt(d_in)]`. burn stores the weight as `[d_in, d_out]`.
pub fn linear(
    d_in: usize,
    d_out: usize,
    bias: bool,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Linear {
    let bound = 1.0 / (d_in.max(1) as f64).sqrt();
    let w: Vec<f32> = (0..d_in * d_out)
        .map(|_| rng.random_range(-bound..bound) as f32)
        .collect();
    let weight = Param::from_tensor(tensor2(w, d_in, d_out, device));
    let bias = bias.then(|| {
        let b: Vec<f32> = (0..d_out)
            .map(|_| rng.random_range(-bound..bound) as f32)
            .collect();
        Param::from_tensor(tensor1(b, device))
    });
    Linear { weight, bias }
}

/// Sets the bias of a 1-unit head (used for base-rate initialisation, SPEC §7).
pub fn set_head_bias(head: Linear, value: f32) -> Linear {
    let d_out = head.weight.val().dims()[1];
    set_head_biases(head, &vec![value; d_out])
}

/// Sets the bias of a head to `values` (one per output unit).
pub fn set_head_biases(head: Linear, values: &[f32]) -> Linear {
    let device = head.weight.val().device();
    Linear {
        weight: head.weight,
        bias: Some(Param::from_tensor(tensor1(values.to_vec(), &device))),
    }
}

/// The core task's loss (YAML `train.core_loss`). It is stored in the cell config with its
/// YAML spelling, and only when it is not the default `mse`, so that cells of experiments that
/// do not write it keep their ids. It lives among the blocks because it sets the width of the
/// core head ([`core_out_dim`]), which every model's core tower takes from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CoreLoss {
    /// `mse`: one output, squared error on the `core_transform` scale.
    #[default]
    Mse,
    /// `ziln`: three outputs `(z_p, z_μ, z_σ)` and the zero-inflated log-normal loss on the
    /// raw scale (`crate::train::ziln`); the prediction is its expectation.
    Ziln,
}

/// A `core_loss` value that is neither `mse` nor `ziln`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown `core_loss` `{0}`; valid: mse, ziln")]
pub struct UnknownCoreLoss(pub String);

impl CoreLoss {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CoreLoss::Mse => "mse",
            CoreLoss::Ziln => "ziln",
        }
    }

    /// Whether this is the default `mse` (then the cell config leaves the key out).
    pub fn is_mse(&self) -> bool {
        *self == CoreLoss::Mse
    }
}

impl std::fmt::Display for CoreLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CoreLoss {
    type Error = UnknownCoreLoss;
    fn try_from(s: String) -> Result<Self, UnknownCoreLoss> {
        match s.as_str() {
            "mse" => Ok(CoreLoss::Mse),
            "ziln" => Ok(CoreLoss::Ziln),
            _ => Err(UnknownCoreLoss(s)),
        }
    }
}

impl From<CoreLoss> for String {
    fn from(c: CoreLoss) -> String {
        c.as_str().to_string()
    }
}

/// Width of the core task's head under `loss`: 1 (`mse`: the value) or 3 (`ziln`: `z_p`,
/// `z_μ`, `z_σ`). The one place every model's core tower gets its width from.
pub fn core_out_dim(loss: CoreLoss) -> usize {
    match loss {
        CoreLoss::Mse => 1,
        CoreLoss::Ziln => 3,
    }
}

/// The core head of a model being built: its loss and, with `ziln`, the initial bias of its
/// three outputs (`crate::train::ziln::ziln_init_bias` of the training target; the trainer
/// fills it in).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum CoreHead {
    /// One output, initialised like every head from `BuildInfo::init_bias`.
    #[default]
    Mse,
    /// Three outputs with these initial biases `[z_p, z_μ, z_σ]`.
    Ziln {
        /// Initial biases.
        bias: [f32; 3],
    },
}

impl CoreHead {
    /// The loss this head is trained with.
    pub fn loss(&self) -> CoreLoss {
        match self {
            CoreHead::Mse => CoreLoss::Mse,
            CoreHead::Ziln { .. } => CoreLoss::Ziln,
        }
    }

    /// Output width ([`core_out_dim`]).
    pub fn out_dim(&self) -> usize {
        core_out_dim(self.loss())
    }
}

/// What a task's output layer is: its width, its initial bias (one value per unit) and whether
/// it is a ZILN core head. [`Head::of`] derives it from the task's kind and the core head.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// Output units.
    pub width: usize,
    /// Initial bias per unit.
    pub bias: Vec<f32>,
    /// The core head under `core_loss: ziln` (its output is `[batch, 3]`).
    pub ziln: bool,
}

impl Head {
    /// Task `t`'s head: one unit with bias `info.init_bias[t]` for a binary task or an MSE
    /// core; for a ZILN core, [`core_out_dim`] units with the ZILN bias of `info.core_head`.
    pub fn of(info: &BuildInfo, t: usize) -> Self {
        let b = info.init_bias.get(t).copied().unwrap_or(0.0);
        let core = info
            .tasks
            .tasks()
            .get(t)
            .is_some_and(|task| task.kind == TaskKind::Regression);
        match (core, info.core_head) {
            (true, CoreHead::Ziln { bias }) => Self {
                width: core_out_dim(CoreLoss::Ziln),
                bias: bias.to_vec(),
                ziln: true,
            },
            _ => Self {
                width: 1,
                bias: vec![b],
                ziln: false,
            },
        }
    }

    /// The same head with the bias of a one-unit head replaced by `value` (e.g. ESMM's
    /// conditional rates); a ZILN head keeps its own three biases.
    pub fn with_bias(self, value: f32) -> Self {
        if self.ziln {
            self
        } else {
            Self {
                bias: vec![value; self.width],
                ..self
            }
        }
    }
}

/// Inverted dropout with a mask drawn from the cell's generator.
///
/// # Shapes
/// `x: [batch, width]` → `[batch, width]`
pub fn dropout(x: Tensor<2>, p: f64, rng: &mut ChaCha8Rng) -> Tensor<2> {
    if p <= 0.0 {
        return x;
    }
    let [b, w] = x.dims();
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    let mask: Vec<f32> = (0..b * w)
        .map(|_| {
            if rng.random::<f64>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    let device = x.device();
    x * tensor2(mask, b, w, &device)
}

/// Per-field embedding tables plus an optional linear projection of the numeric features
/// as one extra field. These are the *shared parameters* θ_s of SPEC §2.
#[derive(Module, Debug)]
pub struct FieldEmbedding {
    /// One `[vocab, dim]` table per categorical field.
    pub tables: Vec<Param<Tensor<2>>>,
    /// Numeric features → one extra field of width `dim`.
    pub numeric: Option<Linear>,
    /// Embedding width per field.
    pub dim: usize,
}

impl FieldEmbedding {
    /// Tables initialised `N(0, EMBED_INIT_STD²)`.
    pub fn new(
        vocabs: &[usize],
        n_numeric: usize,
        dim: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let normal = Normal::new(0.0, EMBED_INIT_STD).expect("valid std");
        let tables = vocabs
            .iter()
            .map(|&v| {
                let w: Vec<f32> = (0..v * dim).map(|_| normal.sample(rng) as f32).collect();
                Param::from_tensor(tensor2(w, v, dim, device))
            })
            .collect();
        let numeric = (n_numeric > 0).then(|| linear(n_numeric, dim, true, rng, device));
        Self {
            tables,
            numeric,
            dim,
        }
    }

    /// Number of fields including the numeric one.
    pub fn n_fields(&self) -> usize {
        self.tables.len() + usize::from(self.numeric.is_some())
    }

    /// Width of the concatenated output.
    pub fn out_dim(&self) -> usize {
        self.n_fields() * self.dim
    }

    /// Looks up every field and concatenates.
    ///
    /// # Shapes
    /// `cat[f]: [batch]`, `num: [batch, n_numeric]` → `[batch, n_fields * dim]`
    pub fn forward(&self, cat: &[Tensor<1, Int>], num: Option<&Tensor<2>>) -> Tensor<2> {
        let mut parts: Vec<Tensor<2>> = self
            .tables
            .iter()
            .zip(cat)
            .map(|(t, idx)| t.val().select(0, idx.clone()))
            .collect();
        if let (Some(lin), Some(x)) = (&self.numeric, num) {
            parts.push(lin.forward(x.clone()));
        }
        Tensor::cat(parts, 1)
    }
}

/// The YAML `dropout:` key of a model: one probability for every hidden layer (`0.2`) or
/// one per layer (`[0.1, 0.3, 0.3]`: entry i applies to hidden layer i of every MLP of the
/// model; layers past the end of the list use its last entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dropout {
    /// The same probability after every hidden layer.
    One(f64),
    /// Probability per hidden layer.
    PerLayer(Vec<f64>),
}

impl Default for Dropout {
    fn default() -> Self {
        Dropout::One(0.0)
    }
}

impl From<f64> for Dropout {
    fn from(p: f64) -> Self {
        Dropout::One(p)
    }
}

impl Dropout {
    /// The probability after hidden layer `layer`.
    pub fn at(&self, layer: usize) -> f64 {
        match self {
            Dropout::One(p) => *p,
            Dropout::PerLayer(v) => v.get(layer).or(v.last()).copied().unwrap_or(0.0),
        }
    }

    /// Every probability in `[0, 1)`, a list non-empty. Errors name `dropout` (or
    /// `dropout[i]`), the value and the range.
    pub fn check(&self) -> Result<(), OptionError> {
        match self {
            Dropout::One(p) => check_range("dropout", *p, RangeKind::HalfOpenUnit),
            Dropout::PerLayer(v) if v.is_empty() => Err(OptionError::Range {
                key: "dropout".into(),
                value: "[]".into(),
                range: "a probability in [0, 1) or a non-empty list of them".into(),
            }),
            Dropout::PerLayer(v) => v.iter().enumerate().try_for_each(|(i, p)| {
                check_range(&format!("dropout[{i}]"), *p, RangeKind::HalfOpenUnit)
            }),
        }
    }
}

/// How an MLP regularises its hidden layers: dropout per layer and an optional batch-norm
/// after every hidden linear layer (MTReclib's `Linear → BatchNorm1d → ReLU → Dropout`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MlpSpec {
    /// Dropout after each hidden layer.
    pub dropout: Dropout,
    /// Batch-norm between each hidden linear map and its ReLU (evaluation uses the running
    /// statistics).
    pub batch_norm: bool,
}

impl MlpSpec {
    /// From a model's `dropout` and `batch_norm` options.
    pub fn new(dropout: &Dropout, batch_norm: bool) -> Self {
        Self {
            dropout: dropout.clone(),
            batch_norm,
        }
    }
}

impl From<f64> for MlpSpec {
    fn from(p: f64) -> Self {
        Self {
            dropout: Dropout::One(p),
            batch_norm: false,
        }
    }
}

/// A ReLU MLP with optional batch-norm and dropout after each hidden layer.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Hidden layers in order.
    pub layers: Vec<Linear>,
    /// Dropout probability after each layer (0 = off).
    pub dropout: Vec<f64>,
    /// One batch-norm per hidden layer, or none.
    pub bns: Vec<BatchNorm>,
}

impl Mlp {
    /// `d_in → hidden[0] → … → hidden[last]`. `spec` is a dropout probability or an
    /// [`MlpSpec`]. Batch-norm layers draw nothing from `rng` (weight 1, bias 0, as PyTorch).
    pub fn new(
        d_in: usize,
        hidden: &[usize],
        spec: impl Into<MlpSpec>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let spec = spec.into();
        let mut layers = Vec::with_capacity(hidden.len());
        let mut bns = Vec::new();
        let mut d = d_in;
        for &h in hidden {
            layers.push(linear(d, h, true, rng, device));
            if spec.batch_norm {
                bns.push(BatchNormConfig::new(h).init(device));
            }
            d = h;
        }
        let dropout = (0..hidden.len()).map(|i| spec.dropout.at(i)).collect();
        Self {
            layers,
            dropout,
            bns,
        }
    }

    /// Hidden layer `i`: linear, batch-norm (if any), ReLU, dropout (training only).
    fn layer(&self, i: usize, h: Tensor<2>, ctx: &mut super::ForwardCtx) -> Tensor<2> {
        let mut h = self.layers[i].forward(h);
        if let Some(bn) = self.bns.get(i) {
            h = bn.forward(h);
        }
        h = relu(h);
        if ctx.training {
            h = dropout(h, self.dropout.get(i).copied().unwrap_or(0.0), &mut ctx.rng);
        }
        h
    }

    /// Output width (`d_in` when there are no layers).
    pub fn out_dim(&self, d_in: usize) -> usize {
        self.layers
            .last()
            .map_or(d_in, |l| l.weight.val().dims()[1])
    }

    /// Forward returning every hidden activation (after ReLU and dropout).
    ///
    /// # Shapes
    /// `x: [batch, d_in]` → one `[batch, hidden[i]]` per layer
    pub fn forward_all(&self, x: Tensor<2>, ctx: &mut super::ForwardCtx) -> Vec<Tensor<2>> {
        let mut out = Vec::with_capacity(self.layers.len());
        let mut h = x;
        for i in 0..self.layers.len() {
            h = self.layer(i, h, ctx);
            out.push(h.clone());
        }
        out
    }

    /// Forward to the last hidden layer.
    pub fn forward(&self, x: Tensor<2>, ctx: &mut super::ForwardCtx) -> Tensor<2> {
        let mut h = x;
        for i in 0..self.layers.len() {
            h = self.layer(i, h, ctx);
        }
        h
    }
}

/// A task tower: an MLP and a linear head (one unit, or three for a ZILN core, see [`Head`]).
#[derive(Module, Debug)]
pub struct Tower {
    /// Hidden layers.
    pub mlp: Mlp,
    /// Output units (logit for a binary task, value for an MSE core, `z_p, z_μ, z_σ` for a
    /// ZILN core).
    pub head: Linear,
    /// The head is a ZILN core head (`[batch, 3]` output).
    pub ziln: bool,
}

impl Tower {
    /// A tower `d_in → hidden… → 1`.
    pub fn new(
        d_in: usize,
        hidden: &[usize],
        spec: impl Into<MlpSpec>,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let mlp = Mlp::new(d_in, hidden, spec, rng, device);
        let head = linear(mlp.out_dim(d_in), 1, true, rng, device);
        Self {
            mlp,
            head,
            ziln: false,
        }
    }

    /// A tower `d_in → hidden… → head.width` with the head's bias. Draws exactly what
    /// [`Tower::new`] draws for a one-unit head.
    pub fn for_head(
        d_in: usize,
        hidden: &[usize],
        spec: impl Into<MlpSpec>,
        head: &Head,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        let mlp = Mlp::new(d_in, hidden, spec, rng, device);
        let out = linear(mlp.out_dim(d_in), head.width, true, rng, device);
        Self {
            mlp,
            head: set_head_biases(out, &head.bias),
            ziln: head.ziln,
        }
    }

    /// Task `t`'s tower of `info`: [`Tower::for_head`] with [`Head::of`]`(info, t)`.
    pub fn for_task(
        d_in: usize,
        hidden: &[usize],
        spec: impl Into<MlpSpec>,
        info: &BuildInfo,
        t: usize,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Self {
        Self::for_head(d_in, hidden, spec, &Head::of(info, t), rng, device)
    }

    /// Sets the bias of every head unit to `value`.
    pub fn with_bias(self, value: f32) -> Self {
        Self {
            mlp: self.mlp,
            head: set_head_bias(self.head, value),
            ziln: self.ziln,
        }
    }

    /// Forward of a one-unit head (a binary task or an MSE core; use [`Tower::predict`] for
    /// any task).
    ///
    /// # Shapes
    /// `x: [batch, d_in]` → `[batch]`
    pub fn forward(&self, x: Tensor<2>, ctx: &mut super::ForwardCtx) -> Tensor<1> {
        let h = self.mlp.forward(x, ctx);
        self.head.forward(h).squeeze_dim(1)
    }

    /// The head's raw output.
    ///
    /// # Shapes
    /// `x: [batch, d_in]` → `[batch, width]`
    pub fn forward_out(&self, x: Tensor<2>, ctx: &mut super::ForwardCtx) -> Tensor<2> {
        let h = self.mlp.forward(x, ctx);
        self.head.forward(h)
    }

    /// A head output `[batch, width]` as the task's prediction: a ZILN head's three columns,
    /// else the logit of a binary task or the value of an MSE core.
    pub fn pred(&self, out: Tensor<2>, binary: bool) -> Pred {
        if self.ziln {
            Pred::Ziln(out)
        } else if binary {
            Pred::Logit(out.squeeze_dim(1))
        } else {
            Pred::Value(out.squeeze_dim(1))
        }
    }

    /// The task's prediction ([`Tower::pred`] of [`Tower::forward_out`]).
    pub fn predict(&self, x: Tensor<2>, ctx: &mut super::ForwardCtx, binary: bool) -> Pred {
        let out = self.forward_out(x, ctx);
        self.pred(out, binary)
    }

    /// Forward returning the hidden activations and the prediction.
    pub fn predict_all(
        &self,
        x: Tensor<2>,
        ctx: &mut super::ForwardCtx,
        binary: bool,
    ) -> (Vec<Tensor<2>>, Pred) {
        let hs = self.mlp.forward_all(x.clone(), ctx);
        let last = hs.last().cloned().unwrap_or(x);
        let out = self.head.forward(last);
        (hs, self.pred(out, binary))
    }
}

/// One tower per task of `info` (`d_in → hidden… → head`), heads from [`Head::of`]: what
/// every model with plain task towers builds.
pub fn task_towers(
    info: &BuildInfo,
    d_in: usize,
    hidden: &[usize],
    spec: &MlpSpec,
    rng: &mut ChaCha8Rng,
    device: &Device,
) -> Vec<Tower> {
    (0..info.tasks.len())
        .map(|t| Tower::for_task(d_in, hidden, spec.clone(), info, t, rng, device))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ForwardCtx;
    use rand::SeedableRng;

    fn ctx(training: bool) -> ForwardCtx {
        ForwardCtx {
            training,
            rng: ChaCha8Rng::seed_from_u64(1),
            step: 0,
            planned_steps: 0,
            record: false,
        }
    }

    #[test]
    fn the_core_head_width_and_bias_come_from_the_core_loss() {
        use crate::data::TaskKind::{Binary, Regression};
        assert_eq!(
            (core_out_dim(CoreLoss::Mse), core_out_dim(CoreLoss::Ziln)),
            (1, 3)
        );
        let mut info = crate::model::testutil::info(&[Binary, Regression]);
        info.init_bias = vec![-1.5, 0.25];
        assert_eq!(
            Head::of(&info, 1),
            Head {
                width: 1,
                bias: vec![0.25],
                ziln: false
            }
        );
        info.core_head = CoreHead::Ziln {
            bias: [-2.0, 3.0, 0.5],
        };
        let core = Head::of(&info, 1);
        assert_eq!(
            core,
            Head {
                width: 3,
                bias: vec![-2.0, 3.0, 0.5],
                ziln: true
            }
        );
        // ESMM's conditional biases replace one-unit biases only.
        assert_eq!(core.clone().with_bias(7.0), core);
        assert_eq!(Head::of(&info, 0).with_bias(7.0).bias, vec![7.0]);
        // A one-unit head draws exactly what `Tower::new` draws, then takes its bias.
        let dev = Device::flex();
        let a = Tower::new(4, &[3], 0.0, &mut ChaCha8Rng::seed_from_u64(9), &dev).with_bias(-1.5);
        let b = Tower::for_task(
            4,
            &[3],
            0.0,
            &info,
            0,
            &mut ChaCha8Rng::seed_from_u64(9),
            &dev,
        );
        let v = |t: &Tower| -> Vec<f32> {
            let mut v: Vec<f32> = t.head.weight.val().into_data().try_into_vec().unwrap();
            v.extend(
                t.head
                    .bias
                    .as_ref()
                    .unwrap()
                    .val()
                    .into_data()
                    .try_into_vec::<f32>()
                    .unwrap(),
            );
            v
        };
        assert_eq!(v(&a), v(&b));
        let z = Tower::for_task(
            4,
            &[3],
            0.0,
            &info,
            1,
            &mut ChaCha8Rng::seed_from_u64(9),
            &dev,
        );
        let bias: Vec<f32> = z
            .head
            .bias
            .unwrap()
            .val()
            .into_data()
            .try_into_vec()
            .unwrap();
        assert_eq!(bias, vec![-2.0, 3.0, 0.5]);
        assert!(z.ziln && z.head.weight.val().dims() == [3, 3]);
        assert_eq!(
            CoreLoss::try_from("lognormal".to_string())
                .unwrap_err()
                .to_string(),
            "unknown `core_loss` `lognormal`; valid: mse, ziln"
        );
    }

    #[test]
    fn dropout_lists_apply_per_layer_and_repeat_the_last_entry() {
        let d = Dropout::PerLayer(vec![0.1, 0.3]);
        assert_eq!((d.at(0), d.at(1), d.at(5)), (0.1, 0.3, 0.3));
        assert_eq!(Dropout::One(0.2).at(7), 0.2);
        let m = Mlp::new(
            4,
            &[3, 3, 3],
            MlpSpec::new(&d, false),
            &mut ChaCha8Rng::seed_from_u64(0),
            &Device::flex(),
        );
        assert_eq!(m.dropout, vec![0.1, 0.3, 0.3]);
        assert!(m.bns.is_empty());
        assert_eq!(
            Dropout::PerLayer(vec![]).check().unwrap_err().to_string(),
            "`dropout: []` must be a probability in [0, 1) or a non-empty list of them"
        );
        let parsed: Dropout = serde_yaml::from_str("[0.1, 0.3]").unwrap();
        assert_eq!(parsed, d);
        assert_eq!(
            serde_yaml::to_string(&Dropout::One(0.0)).unwrap().trim(),
            "0.0"
        );
    }

    #[test]
    fn embedding_tables_start_normal_with_std_0_01() {
        let e = FieldEmbedding::new(
            &[20_000],
            0,
            8,
            &mut ChaCha8Rng::seed_from_u64(3),
            &Device::flex(),
        );
        let v: Vec<f32> = e.tables[0].val().into_data().try_into_vec().unwrap();
        let n = v.len() as f64;
        let mean = v.iter().map(|x| f64::from(*x)).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|x| (f64::from(*x) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 3e-4, "{mean}");
        assert!((var.sqrt() - EMBED_INIT_STD).abs() < 2e-4, "{}", var.sqrt());
    }

    /// Training normalises with the batch's statistics and moves the running ones; evaluation
    /// (`valid()`) uses the running statistics.
    #[test]
    fn batch_norm_trains_on_batch_statistics_and_evaluates_on_running_ones() {
        use burn::module::Module;
        let dev = Device::flex().autodiff();
        let m = Mlp::new(
            3,
            &[4],
            MlpSpec::new(&Dropout::One(0.0), true),
            &mut ChaCha8Rng::seed_from_u64(0),
            &dev,
        );
        assert_eq!(m.bns.len(), 1);
        let x = tensor2((0..24).map(|i| i as f32 * 0.5 + 3.0).collect(), 8, 3, &dev);
        let fresh = m.valid().forward(x.clone().inner(), &mut ctx(false));
        let trained = m.forward(x.clone(), &mut ctx(true));
        let after = m.valid().forward(x.inner(), &mut ctx(false));
        let d1: f32 = (fresh.clone() - after).abs().sum().into_scalar();
        let d2: f32 = (fresh - trained.inner()).abs().sum().into_scalar();
        assert!(
            d1 > 1e-4,
            "running statistics moved after a training forward"
        );
        assert!(d2 > 1e-4, "training uses batch statistics");
    }
}

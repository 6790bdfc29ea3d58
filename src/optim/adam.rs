//! Adam in one pass per parameter on the flex backend, bit-for-bit equal to burn's `Adam`.
//!
//! burn's `Adam` (0.22.1) updates a parameter with about fifteen element-wise tensor ops
//! (weight decay, two moments, bias correction, square root, division, the step), each a
//! pass over the parameter that allocates its result. For the embedding tables of a CTR
//! model (`fields × vocab × dim` floats, 3.2 M in `htl bench`'s shape) those passes are a
//! large share of a training step (benches/README.md, attempt 5). [`FusedAdam`] does the
//! same arithmetic in one loop over the parameter, its gradient and both moments, in place
//! when the buffers are not shared.
//!
//! Exactness: every element goes through the same IEEE-754 single-precision operations in
//! the same order as burn's tensor ops (`θ·λ + g`, `m·β₁ + g·(1−β₁)`, `v·β₂ + (g·g)·(1−β₂)`,
//! `(m·c) / (√v + ε·√(1−β₂ᵗ))`, `θ − u·lr`, with burn's scalar factors computed the same
//! way), and element-wise operations do not depend on how the loop is split, so the result
//! equals burn's `Adam` bit for bit on any number of threads (tested below). Tensors that
//! are not contiguous f32 flex tensors (libtorch, CUDA, strided views) take burn's `Adam`
//! unchanged, so every backend keeps its exact previous behaviour.

use burn::backend::flex::FlexTensor;
use burn::backend::Flex;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Elements per parallel chunk (and the size below which the loop stays on one thread).
const CHUNK: usize = 1 << 16;

/// Adam with PyTorch's coupled L2 (`weight_decay · θ` added to the gradient), as burn's
/// `AdamConfig::with_weight_decay`; no AMSGrad, no gradient clipping.
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: Option<f32>,
    /// burn's Adam with the same settings: the path for tensors the fused loop cannot take.
    fallback: Adam,
    /// Parameters updated by the fused loop so far (shared by clones; read by tests).
    fused: Arc<AtomicUsize>,
}

impl FusedAdam {
    /// β₁ 0.9, β₂ 0.999 (burn's and PyTorch's defaults), the given ε and weight decay.
    pub fn new(epsilon: f32, weight_decay: Option<f32>) -> Self {
        let (beta_1, beta_2) = (0.9, 0.999);
        let mut cfg = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon);
        if let Some(wd) = weight_decay {
            cfg = cfg.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(wd)));
        }
        Self {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
            fallback: cfg.build(),
            fused: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// How many parameter updates took the fused loop (clones share the count).
    pub fn fused_steps(&self) -> usize {
        self.fused.load(Ordering::Relaxed)
    }

    /// A module optimizer (what `AdamConfig::init` returns for burn's Adam).
    pub fn init(self) -> burn::optim::ModuleOptimizer {
        burn::optim::ModuleOptimizer::from(self)
    }
}

/// The scalar factors of one step, computed exactly as burn's `AdaptiveMomentum` does.
struct Factors {
    b1: f32,
    b2: f32,
    f1: f32,
    f2: f32,
    combined: f32,
    eps: f32,
    lr: f32,
    wd: Option<f32>,
}

impl Factors {
    fn new(a: &FusedAdam, time: usize, lr: LearningRate) -> Self {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - a.beta_2.powi(t)).sqrt();
        Self {
            b1: a.beta_1,
            b2: a.beta_2,
            f1: 1.0 - a.beta_1,
            f2: 1.0 - a.beta_2,
            combined: bias_correction2_sqrt / (1.0 - a.beta_1.powi(t)),
            eps: a.epsilon * bias_correction2_sqrt,
            // burn's flex `mul_scalar` casts the f64 scalar to f32.
            lr: lr as f32,
            wd: a.weight_decay,
        }
    }

    /// One chunk: `first` is the step that creates the moments (burn then skips the decay
    /// of the zero moments: `m = g·(1−β₁)`, not `0·β₁ + g·(1−β₁)`, which differs in the
    /// sign of a zero).
    fn apply(&self, first: bool, theta: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        // One loop per case so that each is branch-free and zipped (no bounds checks): the
        // compiler vectorises it, and vector sqrt and division round exactly as scalar ones.
        match (first, self.wd) {
            (true, None) => self.each(theta, grad, m, v, |_, g| g, |_, _, g| self.moments_0(g)),
            (true, Some(p)) => self.each(
                theta,
                grad,
                m,
                v,
                |t, g| t * p + g,
                |_, _, g| self.moments_0(g),
            ),
            (false, None) => {
                self.each(theta, grad, m, v, |_, g| g, |m, v, g| self.moments(m, v, g))
            }
            (false, Some(p)) => self.each(
                theta,
                grad,
                m,
                v,
                |t, g| t * p + g,
                |m, v, g| self.moments(m, v, g),
            ),
        }
    }

    #[inline(always)]
    fn moments_0(&self, g: f32) -> (f32, f32) {
        (g * self.f1, (g * g) * self.f2)
    }

    #[inline(always)]
    fn moments(&self, m: f32, v: f32, g: f32) -> (f32, f32) {
        (m * self.b1 + g * self.f1, v * self.b2 + (g * g) * self.f2)
    }

    #[inline(always)]
    fn each(
        &self,
        theta: &mut [f32],
        grad: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        decay: impl Fn(f32, f32) -> f32,
        moments: impl Fn(f32, f32, f32) -> (f32, f32),
    ) {
        for (((t, &g), m), v) in theta
            .iter_mut()
            .zip(grad)
            .zip(m.iter_mut())
            .zip(v.iter_mut())
        {
            let g = decay(*t, g);
            (*m, *v) = moments(*m, *v, g);
            let u = (*m * self.combined) / (v.sqrt() + self.eps);
            *t -= u * self.lr;
        }
    }
}

/// A contiguous f32 flex tensor from offset 0; to `write` to, an unshared buffer (copied only
/// when the buffer is shared, e.g. with a kept best-model snapshot); the tensor back when it
/// is on another backend, strided or not f32.
fn owned_flex<const D: usize>(t: Tensor<D>, write: bool) -> Result<FlexTensor, Box<Tensor<D>>> {
    let shape = t.shape();
    // Converting consumes its input: convert a clone, and drop the original on success so
    // that the buffer's reference count is what it was.
    let ft = match t.clone().try_into_primitive::<Flex>() {
        Ok(ft) => ft,
        Err(_) => return Err(Box::new(t)),
    };
    drop(t);
    let n = shape.num_elements();
    if ft.dtype() != DType::F32 || ft.layout().contiguous_offsets() != Some((0, n)) {
        return Err(Box::new(Tensor::from_primitive::<Flex>(ft)));
    }
    if !write || ft.is_unique() {
        return Ok(ft);
    }
    let copy = ft.storage::<f32>()[..n].to_vec();
    Ok(FlexTensor::from_data(TensorData::new(copy, shape)))
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if state
            .as_ref()
            .is_some_and(|s| s.momentum.max_moment_2.is_some())
        {
            return self.fallback.step(lr, tensor, grad, state);
        }
        let shape = tensor.shape();
        let (time, first, m, v) = match state {
            Some(s) => (
                s.momentum.time + 1,
                false,
                s.momentum.moment_1,
                s.momentum.moment_2,
            ),
            None => {
                let dev = tensor.device();
                (
                    1,
                    true,
                    Tensor::zeros(shape.clone(), &dev),
                    Tensor::zeros(shape.clone(), &dev),
                )
            }
        };
        let parts = (
            owned_flex(tensor, true),
            owned_flex(grad, false),
            owned_flex(m, true),
            owned_flex(v, true),
        );
        let (mut theta, grad, mut m, mut v) = match parts {
            (Ok(a), Ok(b), Ok(c), Ok(d)) => (a, b, c, d),
            (a, b, c, d) => {
                // Strided or non-f32: burn's Adam on the same values.
                let back = |r: Result<FlexTensor, Box<Tensor<D>>>| match r {
                    Ok(ft) => Tensor::from_primitive::<Flex>(ft),
                    Err(t) => *t,
                };
                let state = (!first).then(|| {
                    AdamState::new(AdaptiveMomentumState::new(time - 1, back(c), back(d)))
                });
                return self.fallback.step(lr, back(a), back(b), state);
            }
        };
        let n = shape.num_elements();
        let f = Factors::new(self, time, lr);
        {
            let g = &grad.storage::<f32>()[..n];
            let (t, mm, vv) = (
                &mut theta.storage_mut::<f32>()[..n],
                &mut m.storage_mut::<f32>()[..n],
                &mut v.storage_mut::<f32>()[..n],
            );
            if n <= CHUNK {
                f.apply(first, t, g, mm, vv);
            } else {
                t.par_chunks_mut(CHUNK)
                    .zip(mm.par_chunks_mut(CHUNK))
                    .zip(vv.par_chunks_mut(CHUNK))
                    .zip(g.par_chunks(CHUNK))
                    .for_each(|(((t, m), v), g)| f.apply(first, t, g, m, v));
            }
        }
        self.fused.fetch_add(1, Ordering::Relaxed);
        let state = AdamState::new(AdaptiveMomentumState::new(
            time,
            Tensor::from_primitive::<Flex>(m),
            Tensor::from_primitive::<Flex>(v),
        ));
        (Tensor::from_primitive::<Flex>(theta), Some(state))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        <Adam as Optimizer>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::Int;

    #[derive(Module, Debug)]
    struct Net {
        emb: Embedding,
        lin: Linear,
    }

    fn net(dev: &Device) -> Net {
        Net {
            // 70,000 × 2 = 140,000 elements: more than two chunks, so the parallel path runs.
            emb: EmbeddingConfig::new(70_000, 2).init(dev),
            lin: LinearConfig::new(2, 3).init(dev),
        }
    }

    fn loss(net: &Net, step: usize, dev: &Device) -> Tensor<1> {
        let ids: Vec<i64> = (0..64)
            .map(|i| ((i * 7919 + step * 104_729) % 70_000) as i64)
            .collect();
        let x = Tensor::<1, Int>::from_ints(ids.as_slice(), dev).reshape([64, 1]);
        let h = net.emb.forward(x).reshape([64, 2]);
        let y = net.lin.forward(h);
        (y.clone() * y).mean()
    }

    fn bits(n: &Net) -> Vec<u32> {
        let mut out = Vec::new();
        for t in [
            n.emb.weight.val().reshape([-1]),
            n.lin.weight.val().reshape([-1]),
            n.lin
                .bias
                .as_ref()
                .map(|b| b.val())
                .unwrap_or_else(|| Tensor::zeros([1], &n.emb.weight.device())),
        ] {
            let v: Vec<f32> = t.into_data().try_to_vec::<f32>().unwrap_or_default();
            out.extend(v.iter().map(|x| x.to_bits()));
        }
        out
    }

    /// Ten steps of each optimizer from the same start, with and without weight decay, a
    /// large learning rate so that every step moves every touched value, and a kept clone
    /// of the model (a shared buffer: the fused path must copy, not write through it).
    #[test]
    fn equals_burns_adam_bit_for_bit() {
        let dev = Device::flex().autodiff();
        for wd in [None, Some(1e-2f32)] {
            let start = net(&dev);
            let kept = start.clone();
            let kept_bits = bits(&kept);
            let mut burn_cfg = AdamConfig::new().with_epsilon(1e-8);
            if let Some(w) = wd {
                burn_cfg =
                    burn_cfg.with_weight_decay(Some(burn::optim::decay::WeightDecayConfig::new(w)));
            }
            let mut reference = burn_cfg.init();
            let handle = FusedAdam::new(1e-8, wd);
            let mut fused = handle.clone().init();
            let (mut a, mut b) = (start.clone(), start);
            for step in 0..10 {
                let ga = GradientsParams::from_grads(loss(&a, step, &dev).backward(), &a);
                a = reference.step(0.05, a, ga);
                let gb = GradientsParams::from_grads(loss(&b, step, &dev).backward(), &b);
                b = fused.step(0.05, b, gb);
            }
            assert_eq!(bits(&a), bits(&b), "weight decay {wd:?}");
            // Three parameters × ten steps, all through the fused loop (not the fallback).
            assert_eq!(handle.fused_steps(), 30);
            assert_ne!(bits(&a), kept_bits, "the steps moved the parameters");
            assert_eq!(
                bits(&kept),
                kept_bits,
                "a shared buffer was written through"
            );
        }
    }
}

//! Device memory of one cell, estimated before it runs, so that the runner can decide how
//! many cells share a GPU (`htl run --gpu-mem`, README "Running on libtorch / on a GPU").
//!
//! The estimate is a sum of parts, each a product of sizes (4 bytes per float, 8 per
//! categorical index):
//!
//! * **weights** `2 · 4P`: the model's `P` float parameters and the best-epoch snapshot;
//! * **optimizer** `2 · 4P`: Adam's first and second moments;
//! * **gradients** `4P · g`, `g` = 1, or `1 + T` with a per-task strategy (or gradient
//!   statistics), which holds one gradient per task beside the combined one;
//! * **activations** `max(train, eval)`: a training step keeps
//!   `4 · batch · W · 3 · k` bytes (each layer's output for the backward, its gradient and
//!   one element-wise temporary; `k` = 2 with per-task gradients, whose pass keeps the trunk
//!   graph while the heads run), plus the batch itself; evaluation keeps
//!   `4 · eval_batch · W` plus its batch. `W` is the activation width per row: for every
//!   parameter of rank ≥ 2 its element count divided by its input dimension (the
//!   second-to-last), i.e. `d_out` for a linear layer `[d_in, d_out]`, `dim` for an
//!   embedding table `[vocab, dim]`, `E · d_out` for stacked experts `[E, d_in, d_out]`;
//! * **data** (data on the device only): every split's rows (`8F + 4N + 4T` bytes a row for
//!   `F` categorical fields, `N` numeric features, `T` tasks) and the epoch's order (8 bytes a
//!   training row).
//!
//! It is a model of the sizes, not a measurement: the backend's allocator pools, the CUDA
//! context and kernel workspaces are left to the safety factor of the budget
//! (`crate::run::GPU_MEM_SAFETY`). Not yet checked against a GPU's own memory counter.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{DataPlacement, TrainError};
use crate::config::CellConfig;
use crate::data::Dataset;
use crate::model::BuildInfo;
use crate::optim::GradSpec;

/// Bytes of a float.
const FLOAT: u64 = 4;
/// Bytes of a categorical index on the device (`i64`).
const INDEX: u64 = 8;
/// Activation bytes kept per float of width in a training step: the layer output (kept
/// for the backward), its gradient, one element-wise temporary.
const TRAIN_ACTIVATION_COPIES: u64 = 3;

/// The sizes an estimate is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellShape {
    /// Float parameters of the model.
    pub params: u64,
    /// Activation floats per row of one forward pass (see the module docs).
    pub row_width: u64,
    /// Training batch size.
    pub batch: u64,
    /// Evaluation batch size.
    pub eval_batch: u64,
    /// Tasks.
    pub tasks: u64,
    /// Categorical fields.
    pub cat_fields: u64,
    /// Numeric features.
    pub numeric: u64,
    /// Whether steps compute per-task gradients (a per-task strategy, or gradient
    /// statistics).
    pub per_task: bool,
    /// Rows of all splits held on the device (0 with the data on the host).
    pub resident_rows: u64,
    /// Training rows whose order is held on the device (0 with the data on the host).
    pub order_rows: u64,
}

/// Estimated device bytes of one cell, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryEstimate {
    /// Parameters and the best-epoch snapshot.
    pub weights: u64,
    /// Adam's moments.
    pub optimizer: u64,
    /// Gradients (one per task beside the combined one with per-task gradients).
    pub gradients: u64,
    /// The larger of a training step's and an evaluation batch's activations and inputs.
    pub activations: u64,
    /// The data on the device (0 with the data on the host).
    pub data: u64,
}

impl MemoryEstimate {
    /// The sum of the parts.
    pub fn total(&self) -> u64 {
        self.weights + self.optimizer + self.gradients + self.activations + self.data
    }
}

/// `bytes` as GiB with two decimals (`1.50 GiB`).
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}

impl std::fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (weights {}, Adam {}, gradients {}, activations {}, data {})",
            gib(self.total()),
            gib(self.weights),
            gib(self.optimizer),
            gib(self.gradients),
            gib(self.activations),
            gib(self.data)
        )
    }
}

/// The estimate for `s` (formulas in the module docs).
pub fn estimate(s: &CellShape) -> MemoryEstimate {
    let p = s.params * FLOAT;
    let grad_copies = if s.per_task { 1 + s.tasks } else { 1 };
    let graph_copies = if s.per_task { 2 } else { 1 };
    let row_bytes = s.cat_fields * INDEX + (s.numeric + s.tasks) * FLOAT;
    let train = s.batch * s.row_width * FLOAT * TRAIN_ACTIVATION_COPIES * graph_copies
        + s.batch * row_bytes;
    let eval = s.eval_batch * s.row_width * FLOAT + s.eval_batch * row_bytes;
    MemoryEstimate {
        weights: 2 * p,
        optimizer: 2 * p,
        gradients: grad_copies * p,
        activations: train.max(eval),
        data: s.resident_rows * row_bytes + s.order_rows * INDEX,
    }
}

struct Sizes {
    params: u64,
    row_width: u64,
}

impl ModuleVisitor for Sizes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let dims = param.val().dims();
        let numel: u64 = dims.iter().map(|&d| d as u64).product();
        self.params += numel;
        if D >= 2 && dims[D - 2] > 0 {
            self.row_width += numel / dims[D - 2] as u64;
        }
    }
}

/// `(float parameters, activation width per row)` of a module (see the module docs).
pub fn module_sizes<M: Module>(m: &M) -> (u64, u64) {
    let mut v = Sizes {
        params: 0,
        row_width: 0,
    };
    m.visit(&mut v);
    (v.params, v.row_width)
}

/// The shape of `cell` on `data`: the model is built on the CPU (`flex`) to read its
/// parameter shapes; the `constant` reference has none.
pub fn cell_shape(
    cell: &CellConfig,
    data: &Dataset,
    placement: DataPlacement,
    eval_batch: usize,
) -> Result<CellShape, TrainError> {
    let (params, row_width) = if cell.model == "constant" {
        (0, 0)
    } else {
        let info = BuildInfo {
            vocabs: data.cat_fields.iter().map(|f| f.vocab).collect(),
            n_numeric: data.num_fields.len(),
            tasks: data.tasks.clone(),
            init_bias: vec![0.0; data.tasks.len()],
            core_head: super::trainer::core_head(cell.train.core_loss, data)?,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(cell.seed);
        let model =
            crate::zoo::build_model(&cell.model, &cell.options, &info, &mut rng, &Device::flex())?;
        module_sizes(&model)
    };
    let on_device = placement == DataPlacement::Device && cell.model != "constant";
    Ok(CellShape {
        params,
        row_width,
        batch: cell.train.batch_size as u64,
        eval_batch: eval_batch as u64,
        tasks: data.tasks.len() as u64,
        cat_fields: data.cat_fields.len() as u64,
        numeric: data.num_fields.len() as u64,
        per_task: !matches!(cell.grad, GradSpec::Sum) || cell.train.grad_stats_every > 0,
        resident_rows: if on_device {
            (data.train.n + data.valid.n + data.test.n) as u64
        } else {
            0
        },
        order_rows: if on_device { data.train.n as u64 } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::blocks::{linear, tensor2};
    use burn::nn::Linear;

    #[derive(Module, Debug)]
    struct Toy {
        table: Param<Tensor<2>>,
        layer: Linear,
        experts: Param<Tensor<3>>,
    }

    #[test]
    fn sizes_of_tables_layers_and_stacked_experts() {
        let dev = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let toy = Toy {
            // embedding [10, 4]: 40 parameters, width 4
            table: Param::from_tensor(tensor2(vec![0.0; 40], 10, 4, &dev)),
            // linear 4 → 3 with bias: 12 + 3 parameters, width 3 (the bias has rank 1)
            layer: linear(4, 3, true, &mut rng, &dev),
            // experts [2, 3, 5]: 30 parameters, width 2 · 5 = 10
            experts: Param::from_tensor(Tensor::zeros([2, 3, 5], &dev)),
        };
        assert_eq!(module_sizes(&toy), (40 + 15 + 30, 4 + 3 + 10));
    }

    #[test]
    fn estimate_by_hand() {
        let s = CellShape {
            params: 1000,
            row_width: 50,
            batch: 100,
            eval_batch: 1000,
            tasks: 3,
            cat_fields: 2,
            numeric: 1,
            per_task: false,
            resident_rows: 0,
            order_rows: 0,
        };
        // row: 2 · 8 + (1 + 3) · 4 = 32 bytes
        // train: 100 · 50 · 4 · 3 = 60,000 + 100 · 32 = 3,200 → 63,200
        // eval: 1000 · 50 · 4 = 200,000 + 1000 · 32 = 32,000 → 232,000 (the larger)
        let e = estimate(&s);
        assert_eq!(
            e,
            MemoryEstimate {
                weights: 8000,
                optimizer: 8000,
                gradients: 4000,
                activations: 232_000,
                data: 0,
            }
        );
        assert_eq!(e.total(), 252_000);
        // Per-task gradients: 1 + 3 gradient copies; training graph twice:
        // 100 · 50 · 4 · 3 · 2 = 120,000 + 3,200 = 123,200 < eval 232,000.
        // Data on the device: 500 rows · 32 + 300 order rows · 8 = 18,400.
        let e = estimate(&CellShape {
            per_task: true,
            resident_rows: 500,
            order_rows: 300,
            batch: 1000,
            ..s
        });
        // batch 1000: train 1000 · 50 · 4 · 3 · 2 = 1,200,000 + 32,000 = 1,232,000
        assert_eq!(e.gradients, 16_000);
        assert_eq!(e.activations, 1_232_000);
        assert_eq!(e.data, 18_400);
        assert_eq!(e.total(), 8000 + 8000 + 16_000 + 1_232_000 + 18_400);
        assert_eq!(gib(3 << 29), "1.50 GiB");
    }
}

//! Data on the device ([`DataPlacement::Device`]) against data on the host: the same
//! batches, the same trained cell, and the host↔device copies each step makes.

use std::path::Path;

use burn::tensor::{Device, Int, Tensor};

use super::{train_cell_with, DataPlacement, Feeder, Prepared, Trainer, TrainerSpec};
use crate::config::{parse_experiment, CellConfig, CoreScale};
use crate::data::Dataset;
use crate::model::Batch;
use crate::util::transfers::{transfers, Transfers};

fn setup(train: &str, variant: &str) -> (CellConfig, Dataset) {
    let yaml = format!(
        "name: t\ndataset: {{synthetic: {{rows: 1500, users: 100, items: 60, seed: 3}}}}\ntrain: {train}\nseeds: [7]\nconstant_reference: false\nvariants: [{variant}]\n"
    );
    let exp = parse_experiment(&yaml, Path::new("t.yaml")).unwrap();
    let data = crate::data::load(&exp.dataset, Path::new(".")).unwrap();
    (exp.cells[0].clone(), data)
}

fn floats(t: &Tensor<1>) -> Vec<f32> {
    t.clone().into_data().try_into_vec::<f32>().unwrap()
}

fn ints(t: &Tensor<1, Int>) -> Vec<i64> {
    t.clone()
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .unwrap()
}

fn assert_same(a: &Batch, b: &Batch) {
    assert_eq!(a.size, b.size);
    assert_eq!(a.cat_host, b.cat_host);
    assert_eq!(a.num_host, b.num_host);
    assert_eq!(a.cat.len(), b.cat.len());
    for (x, y) in a.cat.iter().zip(&b.cat) {
        assert_eq!(ints(x), ints(y));
    }
    match (&a.num, &b.num) {
        (Some(x), Some(y)) => {
            assert_eq!(x.dims(), y.dims());
            let (x, y) = (x.clone().flatten::<1>(0, 1), y.clone().flatten::<1>(0, 1));
            assert_eq!(floats(&x), floats(&y));
        }
        (None, None) => {}
        _ => panic!("numeric block on one side only"),
    }
    for (x, y) in a.labels.iter().zip(&b.labels) {
        // Bit for bit, the core target's transform included.
        let (x, y) = (floats(x), floats(y));
        assert_eq!(
            x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn device_batches_equal_host_batches() {
    let (_, data) = setup("{epochs: 1}", "{model: shared_bottom}");
    assert!(!data.num_fields.is_empty() || !data.cat_fields.is_empty());
    let prep = Prepared::new(&data, CoreScale::Log1pStandardize);
    let dev = Device::flex();
    let ad = dev.clone().autodiff();
    let mut host = Feeder::new(DataPlacement::Host, &prep, &data, &ad, &dev);
    let mut on_dev = Feeder::new(DataPlacement::Device, &prep, &data, &ad, &dev);
    // A shuffled order, and a last batch shorter than the others.
    let order: Vec<usize> = (0..data.train.n).rev().step_by(3).collect();
    host.set_order(order.clone(), &ad);
    on_dev.set_order(order.clone(), &ad);
    let n = order.len();
    for start in (0..n).step_by(128) {
        let r = start..(start + 128).min(n);
        assert_same(
            &host.train_batch(&prep, &data, r.clone(), &ad),
            &on_dev.train_batch(&prep, &data, r, &ad),
        );
    }
    for split in [&data.valid, &data.test] {
        for start in (0..split.n).step_by(100) {
            let r = start..(start + 100).min(split.n);
            assert_same(
                &host.eval_batch(&prep, &data, split, r.clone(), &dev),
                &on_dev.eval_batch(&prep, &data, split, r, &dev),
            );
        }
    }
}

#[test]
fn a_cell_trained_with_its_data_on_the_device_is_identical() {
    for variant in [
        "{model: shared_bottom, options: {dropout: 0.2}}",
        "{model: htlnet}",
    ] {
        let (cell, data) = setup(
            "{epochs: 2, batch_size: 200, eval_batch_size: 300, grad_stats_every: 3}",
            variant,
        );
        let dev = Device::flex();
        let host = train_cell_with(&cell, &data, &dev, DataPlacement::Host, &|_, _| {}).unwrap();
        let on_dev =
            train_cell_with(&cell, &data, &dev, DataPlacement::Device, &|_, _| {}).unwrap();
        assert_eq!(host.metrics, on_dev.metrics, "{variant}");
        assert_eq!(host.test_predictions, on_dev.test_predictions, "{variant}");
        assert_eq!(host.steps, on_dev.steps);
        assert_eq!(host.grad_stats.len(), on_dev.grad_stats.len());
    }
}

/// Copies of each of `steps` training steps of `cell` on flex.
fn copies_per_step(cell: &CellConfig, data: &Dataset, placement: DataPlacement) -> Vec<Transfers> {
    let spec = TrainerSpec {
        model: &cell.model,
        options: &cell.options,
        grad: &cell.grad,
        train: &cell.train,
        seed: cell.seed,
    };
    let mut t = Trainer::setup(spec, data, &Device::flex())
        .unwrap()
        .with_placement(placement);
    let before = transfers();
    t.set_order((0..data.train.n).collect());
    let set_order = transfers() - before;
    let expect_order = match placement {
        DataPlacement::Host => 0,
        DataPlacement::Device => 1,
    };
    assert_eq!(
        set_order,
        Transfers {
            h2d: expect_order,
            d2h: 0
        }
    );
    (0..3)
        .map(|i| {
            let before = transfers();
            t.step_range(i * 64..(i + 1) * 64, 1).unwrap();
            transfers() - before
        })
        .collect()
}

#[test]
fn copies_per_training_step_on_flex() {
    let train = "{epochs: 1, grad_stats_every: 0}";
    let (cell, data) = setup(train, "{model: shared_bottom}");
    let f = data.cat_fields.len() as u64;
    let num = u64::from(!data.num_fields.is_empty());
    let tasks = data.tasks.len() as u64;
    // Plain sum: the batch (one copy per field, the numeric block, one per task label) goes
    // up, the loss values come down once.
    let host = Transfers {
        h2d: f + num + tasks,
        d2h: 1,
    };
    assert_eq!(
        copies_per_step(&cell, &data, DataPlacement::Host),
        vec![host; 3]
    );
    let device = Transfers { h2d: 0, d2h: 1 };
    assert_eq!(
        copies_per_step(&cell, &data, DataPlacement::Device),
        vec![device; 3]
    );

    // PCGrad on the shared MLP trunk: loss values and one read of all Gram matrices.
    let (cell, data) = setup(train, "{model: shared_bottom, grad: pcgrad}");
    let device = Transfers { h2d: 0, d2h: 2 };
    assert_eq!(
        copies_per_step(&cell, &data, DataPlacement::Device),
        vec![device; 3]
    );

    // PCGrad on the embedding only: loss values and each task's activation gradient (the
    // Gram is computed on the host from the touched rows).
    let (cell, data) = setup(
        train,
        "{model: shared_bottom, grad: pcgrad, options: {shared: embedding}}",
    );
    let device = Transfers {
        h2d: 0,
        d2h: 1 + tasks,
    };
    assert_eq!(
        copies_per_step(&cell, &data, DataPlacement::Device),
        vec![device; 3]
    );

    // Dropout masks are drawn on the host from the cell's generator (so that every backend
    // sees the same masks): one copy per dropout layer in the forward, on both placements.
    // shared_bottom: bottom [256, 128] and towers [64, 32] → 2 + 2 per task.
    let (cell, data) = setup(train, "{model: shared_bottom, options: {dropout: 0.1}}");
    let masks = 2 + 2 * tasks;
    let device = Transfers { h2d: masks, d2h: 1 };
    assert_eq!(
        copies_per_step(&cell, &data, DataPlacement::Device),
        vec![device; 3]
    );
}

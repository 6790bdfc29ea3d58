//! Training-loop behaviour that needs a whole run: the temperature in the curves, the best
//! snapshot's temperature, raw-scale core losses.

use std::path::Path;

use burn::tensor::Device;

use super::{train_cell, TrainError, TrainOutcome};
use crate::config::{parse_experiment, CellConfig};
use crate::data::Dataset;

/// The cells and data of a small synthetic experiment (`train` and `options` as YAML flow
/// maps).
fn setup(train: &str, options: &str) -> (Vec<CellConfig>, Dataset) {
    let yaml = format!(
        "name: t\ndataset: {{synthetic: {{rows: 3000, users: 200, items: 100, seed: 5}}}}\ntrain: {train}\nseeds: [1]\nvariants: [{{model: htlnet, options: {options}}}]\n"
    );
    let exp = parse_experiment(&yaml, Path::new("t.yaml")).unwrap();
    let data = crate::data::load(&exp.dataset, Path::new(".")).unwrap();
    (exp.cells, data)
}

fn run(train: &str, options: &str) -> Result<TrainOutcome, TrainError> {
    let (cells, data) = setup(train, options);
    let cell = cells.iter().find(|c| c.model == "htlnet").unwrap();
    train_cell(cell, &data, &Device::flex(), &|_, _| {})
}

#[test]
fn curves_record_tau_and_it_reaches_tau_min_within_the_run() {
    let out = run(
        "{epochs: 4, batch_size: 256, patience: 10, grad_stats_every: 0}",
        "{tau_start: 8.0, tau_min: 0.25, tau_anneal: 0.5}",
    )
    .unwrap();
    let taus: Vec<f64> = out.curves.iter().map(|r| r.tau.unwrap()).collect();
    assert_eq!(out.curves.len(), 5);
    assert_eq!(taus[0], 8.0);
    // Half of the planned steps = after epoch 2: at the floor from then on.
    assert!(taus[1] < 8.0 && taus[1] > 0.25, "{taus:?}");
    assert_eq!(&taus[2..], &[0.25, 0.25, 0.25], "{taus:?}");
}

#[test]
fn the_best_snapshot_is_scored_with_the_temperature_it_was_selected_at() {
    // A large learning rate on a small set overfits, so the monitor peaks before the last
    // epoch; tau anneals over the whole run, so it differs between the best and the last
    // epoch.
    let out = run(
        "{epochs: 6, batch_size: 128, lr: 0.03, patience: 10, grad_stats_every: 0, monitor: watch_time:gini}",
        "{tau_start: 10.0, tau_min: 0.1, tau_anneal: 1.0}",
    )
    .unwrap();
    let last = out.curves.len() - 1;
    assert!(
        out.best_epoch > 0 && out.best_epoch < last,
        "precondition: best epoch {} strictly inside 1..{last}",
        out.best_epoch
    );
    let best = &out.curves[out.best_epoch];
    assert_ne!(best.tau, out.curves[last].tau);
    // Every validation metric of the restored snapshot equals the one recorded when it was
    // selected (they differ when it is scored at the end-of-training temperature).
    let valid = &out.metrics["valid"];
    let mut compared = 0;
    for (t, task) in ["click", "long_view", "watch_time"].iter().enumerate() {
        for (k, v) in &best.valid_metrics[t] {
            assert_eq!(valid[*task][k], *v, "{task} {k}");
            compared += 1;
        }
    }
    assert!(compared >= 8);
}

#[test]
fn a_raw_scale_core_loss_that_diverges_fails_naming_the_transform() {
    let Err(err) = run(
        "{epochs: 2, batch_size: 256, lr: 1.0e6, core_transform: none, grad_stats_every: 0}",
        "{}",
    ) else {
        panic!("expected the cell to fail");
    };
    let msg = err.to_string();
    assert!(matches!(err, TrainError::CoreDiverged { .. }), "{msg}");
    assert!(
        msg.starts_with("diverged: loss of core task `watch_time` (MSE with `core_transform: none`) is ")
            && msg.ends_with("on this scale the loss overflows or diverges: lower `lr`, or use `core_transform: standardize`"),
        "{msg}"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn raw_and_log1p_core_scales_train_and_report_on_the_original_scale() {
    for scale in ["none", "log1p"] {
        let out = run(
            &format!(
                "{{epochs: 2, batch_size: 256, core_transform: {scale}, grad_stats_every: 5}}"
            ),
            "{}",
        )
        .unwrap();
        let core = &out.metrics["test"]["watch_time"];
        for k in [
            "nrmse",
            "nmae",
            "nrmse_mean",
            "nmae_mean",
            "rmse",
            "mae",
            "mean",
            "std",
            "mad",
        ] {
            assert!(core[k].is_some_and(f64::is_finite), "{scale}: {k}");
        }
        // Gradient statistics are logged in every regime.
        assert!(!out.grad_stats.is_empty(), "{scale}");
    }
}

/// The ZILN loss and the expectation through a model head, worked by hand: a tower without
/// hidden layers, head weight `[ln 3, 1, 0]` (one input), bias `[0, 0, softplus⁻¹(0.5)]`.
///
/// * Row 1: x = 0, y = 0 → z = [0, 0, softplus⁻¹(0.5)]: p = 0.5, μ = 0, σ = 0.5.
///   Loss: BCE = ln 2 = 0.6931471805599453 (no log-normal term). E[y] = 0.5·exp(0.125)
///   = 0.5665742265334132.
/// * Row 2: x = 1, y = e → z = [ln 3, 1, softplus⁻¹(0.5)]: p = 0.75, μ = 1, σ = 0.5.
///   Loss: −ln 0.75 + (ln e + ln 0.5 + ½ ln 2π + 0) = 0.2876820724517809 + 1.2257913526447273.
///   E[y] = 0.75·exp(1.125) = 2.3101626366885233.
/// * Mean loss = 1.1033103028282267.
#[test]
fn ziln_loss_and_expectation_through_a_model_head_match_hand_computed_values() {
    use burn::module::Param;
    use rand::SeedableRng;

    use crate::model::blocks::{tensor1, tensor2, Head, Tower};
    use crate::model::{Batch, ModelOutput, Pred};
    let dev = Device::flex();
    let head = Head {
        width: 3,
        bias: vec![0.0, 0.0, -0.432_752_13],
        ziln: true,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut tower = Tower::for_head(1, &[], 0.0, &head, &mut rng, &dev);
    tower.head.weight = Param::from_tensor(tensor2(vec![3f32.ln(), 1.0, 0.0], 1, 3, &dev));
    let x = tensor2(vec![0.0, 1.0], 2, 1, &dev);
    let pred = tower.predict(x, &mut crate::model::testutil::ctx(0), false);
    assert!(matches!(pred, Pred::Ziln(_)));
    let batch = Batch {
        cat: vec![],
        num: None,
        labels: vec![tensor1(vec![0.0, std::f32::consts::E], &dev)],
        size: 2,
        cat_host: vec![],
        num_host: vec![],
    };
    let out = ModelOutput {
        preds: vec![pred.clone()],
        extra_losses: vec![],
        aux: vec![],
    };
    let loss: f32 = super::task_losses(&out, &batch)[0].clone().into_scalar();
    assert!((loss - 1.103_310_3).abs() < 1e-5, "{loss}");
    let e = super::trainer::host_prediction(pred).unwrap();
    assert!((e[0] - 0.566_574_2).abs() < 1e-5, "{e:?}");
    assert!((e[1] - 2.310_162_6).abs() < 1e-5, "{e:?}");
}

/// `core_loss: ziln` end to end on three model families, each with a per-task strategy (the
/// ZILN loss is the core task's loss for htl, pcgrad and metabalance): every metric is finite
/// and the stored core predictions are expectations (finite, ≥ 0).
#[test]
fn ziln_trains_end_to_end_with_finite_metrics() {
    let yaml = "name: z\ndataset: {synthetic: {rows: 600, users: 60, items: 40, seed: 7}}\n\
        train: {epochs: 1, batch_size: 128, core_loss: ziln, core_transform: none, grad_stats_every: 2}\n\
        seeds: [1]\nvariants:\n\
        - {model: htlnet, grad: htl, options: {embed_dim: 4, tower: [16, 8]}}\n\
        - {model: mmoe, grad: pcgrad, options: {embed_dim: 4, expert: [16], tower: [8]}}\n\
        - {model: esmm, grad: metabalance, options: {embed_dim: 4, tower: [8], core_mode: expected_value}}\n";
    let exp = parse_experiment(yaml, Path::new("z.yaml")).unwrap();
    let data = crate::data::load(&exp.dataset, Path::new(".")).unwrap();
    let core = data.tasks.core().unwrap();
    let mut trained = 0;
    for cell in exp.cells.iter().filter(|c| c.model != "constant") {
        let out = train_cell(cell, &data, &Device::flex(), &|_, _| {})
            .unwrap_or_else(|e| panic!("{}: {e}", cell.model));
        for split in ["valid", "test"] {
            for (task, mets) in &out.metrics[split] {
                for (k, v) in mets {
                    assert!(
                        v.is_some_and(f64::is_finite),
                        "{} {split} {task} {k}: {v:?}",
                        cell.model
                    );
                }
            }
        }
        assert_eq!(out.test_predictions[core].len(), data.test.n);
        assert!(
            out.test_predictions[core]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0),
            "{}",
            cell.model
        );
        assert!(
            out.curves.iter().all(|r| r.valid_loss[core].is_finite()),
            "{}",
            cell.model
        );
        assert!(!out.grad_stats.is_empty(), "{}", cell.model);
        trained += 1;
    }
    assert_eq!(trained, 3);
}

#[test]
fn ziln_on_a_negative_core_value_fails_naming_the_task_split_and_row() {
    let (cells, mut data) = setup("{core_loss: ziln, core_transform: none}", "{}");
    let cell = cells.iter().find(|c| c.model == "htlnet").unwrap();
    let core = data.tasks.core().unwrap();
    data.valid.labels[core][3] = -2.0;
    let err = train_cell(cell, &data, &Device::flex(), &|_, _| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        "core task `watch_time` has 1 negative or non-finite values in the valid split (first at row 4, value -2); `core_loss: ziln` models a target ≥ 0: fix that column or use `core_loss: mse`"
    );
}

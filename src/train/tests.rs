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

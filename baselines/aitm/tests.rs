//! AITM: shapes, the calibrator, the attention, hand-counted parameters, defaults, training.

use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::blocks::tensor1;
use crate::model::testutil::{batch, ctx, info};
use crate::zoo::AnyModel;

const TINY: &str = "{embed_dim: 4, tower: [4]}";

fn tiny(kinds: &[crate::data::TaskKind], opts: &str) -> Aitm {
    match testkit::build("aitm", opts, kinds, &Device::flex()) {
        AnyModel::Aitm(m) => m,
        _ => panic!("aitm"),
    }
}

fn total(terms: &[(usize, Tensor<1>)]) -> f32 {
    terms
        .iter()
        .map(|(_, l)| l.clone().into_scalar::<f32>())
        .sum()
}

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("aitm", TINY);
    testkit::check_shapes("aitm", "{embed_dim: 4, tower: [6, 4], head: [3], attention: per_task, transfer: linear, core_transfer: false, alpha_cal: 0.0}");
}

#[test]
fn calibrator_is_zero_for_non_increasing_predictions_and_positive_otherwise() {
    let dev = Device::flex();
    let p = |v: Vec<f32>| tensor1(v, &dev);
    // Non-increasing along the chain in every row: no penalty.
    let ok = [p(vec![0.9, 0.4]), p(vec![0.5, 0.4]), p(vec![0.1, 0.0])];
    assert_eq!(total(&calibrator(&ok, 0.6)), 0.0);
    // Row 1 rises from 0.4 to 0.5 at task 2 (gap 0.1), row 2 from 0.2 to 0.3 at task 3 (0.1):
    // task 2 term 0.6 * mean(0.1, 0) = 0.03, task 3 term 0.6 * mean(0, 0.1) = 0.03.
    let bad = [p(vec![0.4, 0.9]), p(vec![0.5, 0.2]), p(vec![0.1, 0.3])];
    let terms = calibrator(&bad, 0.6);
    assert_eq!(
        terms.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!((total(&terms) - 0.06).abs() < 1e-6, "{}", total(&terms));
}

#[test]
fn model_reports_calibrator_terms_on_binary_tasks_only() {
    let kinds = [Binary, Binary, Binary, Regression];
    let b = batch(&info(&kinds), 8, 1, &Device::flex());
    let out = tiny(&kinds, TINY).forward(&b, &mut ctx(0));
    let tasks: Vec<usize> = out.extra_losses.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        tasks,
        vec![1, 2],
        "charged to binary tasks 2 and 3, never to the core task"
    );
    assert!(total(&out.extra_losses) >= 0.0);
    let off = tiny(&kinds, "{embed_dim: 4, tower: [4], alpha_cal: 0.0}").forward(&b, &mut ctx(0));
    assert!(off.extra_losses.is_empty());
}

#[test]
fn ait_weights_are_recorded_and_sum_to_one() {
    let kinds = [Binary, Binary, Regression];
    let out = tiny(&kinds, TINY).forward(&batch(&info(&kinds), 5, 2, &Device::flex()), &mut ctx(0));
    for key in ["ait_1", "ait_2"] {
        assert!(testkit::row_sums(&out, key)
            .iter()
            .all(|s| (s - 1.0).abs() < 1e-5));
    }
    assert!(
        !out.aux.iter().any(|(k, _)| k == "ait_0"),
        "task 1 has nothing to attend to"
    );
    let unlinked = tiny(&kinds, "{embed_dim: 4, tower: [4], core_transfer: false}");
    let out = unlinked.forward(&batch(&info(&kinds), 5, 2, &Device::flex()), &mut ctx(0));
    assert!(
        !out.aux.iter().any(|(k, _)| k == "ait_2"),
        "core off the chain"
    );
    assert!(!unlinked.separable());
}

#[test]
fn parameter_count_by_hand() {
    // embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 16; k = 4.
    // towers [4]: 16 * 4 + 4 = 68 each; transfer g: 4 * 4 + 4 = 20 per linked task;
    // AIT: 3 projections 4 * 4 without bias = 48 (one module when shared); output 4 * 1 + 1 = 5.
    // [B, R]:    104 + 2 * 68 + 20 + 48 + 2 * 5 = 318
    // [B, B, R]: 104 + 3 * 68 + 2 * 20 + 48 + 3 * 5 = 411; per_task AIT: + 48 = 459;
    //            core off the chain: one transfer, one AIT: 104 + 204 + 20 + 48 + 15 = 391
    assert_eq!(testkit::count("aitm", TINY, &[Binary, Regression]), 318);
    let three = [Binary, Binary, Regression];
    assert_eq!(testkit::count("aitm", TINY, &three), 411);
    assert_eq!(
        testkit::count(
            "aitm",
            "{embed_dim: 4, tower: [4], attention: per_task}",
            &three
        ),
        459
    );
    assert_eq!(
        testkit::count(
            "aitm",
            "{embed_dim: 4, tower: [4], core_transfer: false}",
            &three
        ),
        391
    );
}

#[test]
fn invalid_options_name_the_key_and_values() {
    let resolve = crate::zoo::find_model("aitm").unwrap().resolve;
    let err = |s: &str| {
        resolve(&serde_yaml::from_str(s).unwrap())
            .unwrap_err()
            .to_string()
    };
    let e = err("{attention: global}");
    assert!(
        e.contains("attention") && e.contains("shared, per_task"),
        "{e}"
    );
    let e = err("{transfer: tanh}");
    assert!(e.contains("transfer") && e.contains("relu, linear"), "{e}");
    assert!(err("{tower: []}").contains("tower"));
    assert!(err("{alpha_cal: -1.0}").contains("alpha_cal"));
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("aitm", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("aitm", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<AitmConfig>(include_str!("README.md"), include_str!("defaults.yaml"));
}

#[test]
fn trains() {
    testkit::check_trains("aitm", TINY);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("aitm");
}

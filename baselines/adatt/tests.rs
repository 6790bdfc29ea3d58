//! AdaTT: shapes, gates, residual, hand-counted parameters, defaults, training.

use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::{batch, ctx, info};
use crate::zoo::AnyModel;

const TINY: &str = "{embed_dim: 4, levels: 1, task_experts: 2, expert: [8], tower: [4]}";
const SHARED: &str =
    "{embed_dim: 4, levels: 2, task_experts: 1, shared_experts: 1, expert: [8], tower: [4]}";

fn tiny(kinds: &[crate::data::TaskKind], opts: &str) -> Adatt {
    match testkit::build("adatt", opts, kinds, &Device::flex()) {
        AnyModel::Adatt(m) => m,
        _ => panic!("adatt"),
    }
}

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("adatt", TINY);
    testkit::check_shapes("adatt", SHARED);
    testkit::check_shapes("adatt", "{embed_dim: 4, levels: 2, task_experts: 2, shared_experts: 1, expert: [8, 6], expert_layout: split, residual: false}");
}

#[test]
fn gate_weights_sum_to_one_and_the_shared_module_stops_below_the_top() {
    let kinds = [Binary, Binary, Regression];
    let m = tiny(
        &kinds,
        "{embed_dim: 4, levels: 2, task_experts: 2, shared_experts: 1, expert: [8], tower: [4]}",
    );
    let out = m.forward(&batch(&info(&kinds), 5, 3, &Device::flex()), &mut ctx(0));
    for key in [
        "gate_1_0",
        "gate_1_1",
        "gate_1_2",
        "gate_1_shared",
        "gate_2_0",
        "gate_2_2",
    ] {
        let sums = testkit::row_sums(&out, key);
        assert!(
            sums.iter().all(|s| (s - 1.0).abs() < 1e-5),
            "{key}: {sums:?}"
        );
    }
    let (_, w) = out.aux.iter().find(|(k, _)| k == "gate_1_0").unwrap();
    assert_eq!(
        w.dims(),
        [5, 3 * 2 + 1],
        "gates weigh every expert of the level"
    );
    assert!(!out.aux.iter().any(|(k, _)| k == "gate_2_shared"));
    assert!(!m.separable());
    assert_eq!(
        m.residual, 2,
        "groups of 2 experts → learned native weights"
    );
    assert_eq!(
        tiny(&kinds, SHARED).residual,
        1,
        "one expert per group → unit weights"
    );
}

#[test]
fn residual_switch_changes_the_output() {
    let kinds = [Binary, Regression];
    let on = tiny(&kinds, TINY);
    let b = batch(&info(&kinds), 4, 1, &Device::flex());
    let mut c = ctx(0);
    c.training = false;
    let a = on.forward(&b, &mut c).preds[0]
        .tensor()
        .unwrap()
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let off = Adatt { residual: 0, ..on };
    let z = off.forward(&b, &mut c).preds[0]
        .tensor()
        .unwrap()
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    assert_ne!(a, z);
}

#[test]
fn parameter_count_by_hand() {
    // Two tasks. embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 16.
    // TINY, one (top) level: experts 2 tasks * 2 = 4 * (16 * 8 + 8) = 544;
    //   gates 2 * (16 * 4 + 4) = 136; learned native weights 2 modules * 2 = 4       → 684
    // towers [4]: 2 * (8 * 4 + 4 + 4 * 1 + 1) = 82; total 104 + 684 + 82 = 870
    assert_eq!(testkit::count("adatt", TINY, &[Binary, Regression]), 870);
    // SHARED, two levels, groups of one expert (unit residual weights, no parameters):
    //   level 1: 3 experts * (16 * 8 + 8) = 408; gates for 2 tasks + shared 3 * (16 * 3 + 3) = 153 → 561
    //   level 2: 3 experts * (8 * 8 + 8) = 216; gates for 2 tasks 2 * (8 * 3 + 3) = 54             → 270
    //   total 104 + 561 + 270 + 82 = 1017
    assert_eq!(testkit::count("adatt", SHARED, &[Binary, Regression]), 1017);
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("adatt", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("adatt", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<AdattConfig>(
        include_str!("README.md"),
        include_str!("defaults.yaml"),
    );
}

#[test]
fn trains() {
    testkit::check_trains("adatt", TINY);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("adatt");
}

//! MMoE: shapes, gates, trunk layout, hand-counted parameters, defaults, training.

use burn::module::list_param_ids;
use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::{batch, ctx, info};
use crate::zoo::AnyModel;

const TINY: &str = "{embed_dim: 4, n_experts: 2, expert: [8], tower: [4]}";

fn tiny(kinds: &[crate::data::TaskKind], opts: &str) -> Mmoe {
    match testkit::build("mmoe", opts, kinds, &Device::flex()) {
        AnyModel::Mmoe(m) => m,
        _ => panic!("mmoe"),
    }
}

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("mmoe", TINY);
    testkit::check_shapes(
        "mmoe",
        "{embed_dim: 4, n_experts: 3, expert: [8, 6], tower: [], gate_bn: true}",
    );
}

#[test]
fn gate_weights_sum_to_one_per_sample() {
    let kinds = [Binary, Binary, Regression];
    for opts in [
        TINY,
        "{embed_dim: 4, n_experts: 3, expert: [8], tower: [4], gate_bn: true}",
    ] {
        let m = tiny(&kinds, opts);
        let out = m.forward(&batch(&info(&kinds), 7, 2, &Device::flex()), &mut ctx(0));
        for t in 0..3 {
            let sums = testkit::row_sums(&out, &format!("gate_{t}"));
            assert_eq!(sums.len(), 7);
            assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
        }
    }
}

#[test]
fn trunk_is_embedding_then_experts_and_separable() {
    let kinds = [Binary, Regression];
    let m = tiny(&kinds, TINY);
    let z = m.shared(&batch(&info(&kinds), 5, 1, &Device::flex()), &mut ctx(0));
    assert_eq!(z.len(), 3);
    assert_eq!(z[0].dims(), [5, 16]);
    assert_eq!(z[1].dims(), [5, 8]);
    assert!(m.separable());
    let mut ids = list_param_ids(&m.embedding);
    ids.extend(list_param_ids(&m.experts[0]));
    ids.extend(list_param_ids(&m.experts[1]));
    assert_eq!(m.shared_param_ids(), ids);
}

#[test]
fn parameter_count_by_hand() {
    // embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 4 fields * 4 = 16
    // experts [8], n = 2: 2 * (16 * 8 + 8) = 272
    // gates: per task 16 * 2 + 2 = 34
    // towers [4]: per task 8 * 4 + 4 + 4 * 1 + 1 = 41
    // 2 tasks: 104 + 272 + 2 * 34 + 2 * 41 = 526; 3 tasks: 526 + 34 + 41 = 601
    assert_eq!(testkit::count("mmoe", TINY, &[Binary, Regression]), 526);
    assert_eq!(
        testkit::count("mmoe", TINY, &[Binary, Binary, Regression]),
        601
    );
}

#[test]
fn enumerated_and_range_options_are_checked() {
    let e = (crate::zoo::find_model("mmoe").unwrap().resolve)(
        &serde_yaml::from_str("{n_experts: 0}").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("n_experts"), "{e}");
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("mmoe", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("mmoe", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<MmoeConfig>(include_str!("README.md"), include_str!("defaults.yaml"));
}

#[test]
fn trains() {
    testkit::check_trains("mmoe", TINY);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("mmoe");
}

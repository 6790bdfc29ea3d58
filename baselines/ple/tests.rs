//! PLE: shapes, gates, hand-counted parameters, layouts, defaults, training.

use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::{batch, ctx, info};
use crate::zoo::{find_model, AnyModel};

const TINY: &str =
    "{embed_dim: 4, levels: 2, shared_experts: 1, specific_experts: 1, expert: [8], tower: [4]}";

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("ple", TINY);
    testkit::check_shapes(
        "ple",
        "{embed_dim: 4, levels: 3, shared_experts: 2, specific_experts: 0, expert: [6], tower: []}",
    );
    testkit::check_shapes("ple", "{embed_dim: 4, levels: 1, shared_experts: 0, specific_experts: 2, expert: [6, 5], gate_bn: true}");
}

#[test]
fn gate_weights_sum_to_one_per_sample() {
    let kinds = [Binary, Binary, Regression];
    let opts = "{embed_dim: 4, levels: 2, shared_experts: 2, specific_experts: 3, expert: [8], tower: [4]}";
    let AnyModel::Ple(m) = testkit::build("ple", opts, &kinds, &Device::flex()) else {
        panic!("ple")
    };
    let out = m.forward(&batch(&info(&kinds), 6, 2, &Device::flex()), &mut ctx(0));
    for l in 1..=2 {
        for t in 0..3 {
            let key = format!("gate_{l}_{t}");
            let sums = testkit::row_sums(&out, &key);
            assert_eq!(sums.len(), 6);
            assert!(
                sums.iter().all(|s| (s - 1.0).abs() < 1e-5),
                "{key}: {sums:?}"
            );
        }
    }
    // The shared gate exists below the top level only; it weighs 3 tasks * 3 + 2 experts.
    let (_, w) = out.aux.iter().find(|(k, _)| k == "gate_1_shared").unwrap();
    assert_eq!(w.dims(), [6, 11]);
    assert!(testkit::row_sums(&out, "gate_1_shared")
        .iter()
        .all(|s| (s - 1.0).abs() < 1e-5));
    assert!(!out.aux.iter().any(|(k, _)| k == "gate_2_shared"));
    // `shared: trunk` (the default): task t's tower reads only its own CGC output.
    assert!(m.separable());
}

#[test]
fn parameter_count_by_hand() {
    // Two tasks. embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 16.
    // level 1 (input 16): experts 2 tasks * 1 + 1 shared = 3 * (16 * 8 + 8) = 408;
    //   task gates 2 * (16 * 2 + 2) = 68; shared gate 16 * 3 + 3 = 51           → 527
    // level 2 (input 8, top): experts 3 * (8 * 8 + 8) = 216; task gates 2 * (8 * 2 + 2) = 36 → 252
    // towers [4]: 2 * (8 * 4 + 4 + 4 * 1 + 1) = 82
    // total 104 + 527 + 252 + 82 = 965
    assert_eq!(testkit::count("ple", TINY, &[Binary, Regression]), 965);
    // `split`: level 2's experts are one layer of width 6: 3 * (8 * 6 + 6) = 162, gates 36 → 198;
    // towers 2 * (6 * 4 + 4 + 5) = 66; total 104 + 527 + 198 + 66 = 895
    let split = "{embed_dim: 4, levels: 2, shared_experts: 1, specific_experts: 1, expert: [8, 6], expert_layout: split, tower: [4]}";
    assert_eq!(testkit::count("ple", split, &[Binary, Regression]), 895);
}

#[test]
fn invalid_options_name_the_key() {
    let resolve = find_model("ple").unwrap().resolve;
    let err = |s: &str| {
        resolve(&serde_yaml::from_str(s).unwrap())
            .unwrap_err()
            .to_string()
    };
    let e = err("{expert_layout: stacked}");
    assert!(
        e.contains("expert_layout") && e.contains("repeat, split"),
        "{e}"
    );
    let e = err("{expert_layout: split, levels: 3, expert: [8, 4]}");
    assert!(e.contains("levels"), "{e}");
    let e = err("{shared_experts: 0, specific_experts: 0}");
    assert!(e.contains("shared_experts"), "{e}");
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("ple", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("ple", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<PleConfig>(include_str!("README.md"), include_str!("defaults.yaml"));
}

#[test]
fn trains() {
    testkit::check_trains("ple", TINY);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("ple");
}

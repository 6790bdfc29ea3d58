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

/// Two levels, groups of two experts (learned native weights) and a shared expert module.
const TRUNK: &str = "{embed_dim: 4, levels: 2, task_experts: 2, shared_experts: 1, expert: [8], tower: [4], shared: trunk}";

#[test]
fn shared_trunk_is_an_option_and_a_bad_value_names_the_key() {
    let resolve = crate::zoo::find_model("adatt").unwrap().resolve;
    assert!(resolve(&serde_yaml::from_str("{shared: trunk}").unwrap()).is_ok());
    assert_eq!(
        resolve(&serde_yaml::from_str("{shared: bottom}").unwrap())
            .unwrap_err()
            .to_string(),
        "`shared: bottom` is not valid; use one of: embedding, trunk"
    );
}

#[test]
fn trunk_computes_the_same_network_as_embedding() {
    testkit::check_trunk_same_function("adatt", TINY);
    testkit::check_trunk_same_function("adatt", SHARED);
    testkit::check_trunk_same_function(
        "adatt",
        "{embed_dim: 4, levels: 3, task_experts: 2, shared_experts: 1, expert: [8], tower: [4]}",
    );
    testkit::check_trunk_same_function("adatt", "{embed_dim: 4, levels: 2, task_experts: 2, shared_experts: 1, expert: [8, 6], expert_layout: split, residual: false}");
}

/// θ_s under `shared: trunk`, counted by hand on three tasks. Every expert of every level
/// feeds every task (each gate mixes all experts of its level); a gate or native weight below
/// the top feeds its module's next-level experts, which feed every task; the top level's gates
/// and native weights feed one task each.
#[test]
fn trunk_theta_s_is_every_expert_and_the_gates_below_the_top() {
    use burn::module::list_param_ids;
    let kinds = [Binary, Binary, Regression];
    let dev = Device::flex();
    // Embedding: 3 tables + numeric weight and bias = 5 tensors. TRUNK: 2 levels of
    // 3 tasks × 2 + 1 shared = 7 one-layer experts (weight, bias) = 28; level 1's 4 gates
    // (3 tasks + shared module) = 8; level 1's 4 native weight vectors = 4: 40 more, 45 in all.
    // TINY (one level): the level is the top, so its 3 × 2 experts only: 12 more, 17 in all.
    for (opts, count) in [(TRUNK, 45), (&*testkit::with_shared(TINY, "trunk"), 17)] {
        let m = testkit::build("adatt", opts, &kinds, &dev);
        let AnyModel::Adatt(a) = &m else {
            panic!("adatt")
        };
        let top = a.levels.len() - 1;
        let mut extra = Vec::new();
        for (l, level) in a.levels.iter().enumerate() {
            extra.extend(list_param_ids(&level.groups));
            if l < top {
                extra.extend(list_param_ids(&level.gates));
                extra.extend(list_param_ids(&level.native));
            }
        }
        testkit::assert_theta_s(&m, extra, opts);
        let ids = m.shared_param_ids();
        assert_eq!(ids.len(), count, "{opts}");
        assert!(!ids.contains(&a.levels[top].gates[0].linear.weight.id));
        assert!(!ids.contains(&a.towers[0].head.weight.id));
        let e = testkit::build(
            "adatt",
            &testkit::with_shared(opts, "embedding"),
            &kinds,
            &dev,
        );
        assert_eq!(
            e.shared_param_ids().len(),
            5,
            "embedding mode: the embedding"
        );
    }
}

#[test]
fn trunk_output_shapes_separability_and_per_task_gradients() {
    testkit::check_shapes("adatt", TRUNK);
    testkit::check_separable("adatt", TRUNK);
    testkit::check_separable("adatt", &testkit::with_shared(TINY, "trunk"));
    testkit::check_per_task_gradients("adatt", TRUNK);
    testkit::check_per_task_gradients("adatt", &testkit::with_shared(SHARED, "trunk"));
    testkit::check_trains("adatt", TRUNK);
}

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

#[test]
fn shared_trunk_is_an_option_and_a_bad_value_names_the_key() {
    let resolve = crate::zoo::find_model("aitm").unwrap().resolve;
    assert!(resolve(&serde_yaml::from_str("{shared: trunk}").unwrap()).is_ok());
    assert_eq!(
        resolve(&serde_yaml::from_str("{shared: bottoms}").unwrap())
            .unwrap_err()
            .to_string(),
        "`shared: bottoms` is not valid; use one of: embedding, trunk"
    );
}

#[test]
fn trunk_computes_the_same_network_as_embedding() {
    testkit::check_trunk_same_function("aitm", TINY);
    testkit::check_trunk_same_function(
        "aitm",
        "{embed_dim: 4, tower: [6, 4], head: [3], attention: per_task, transfer: linear}",
    );
    testkit::check_trunk_same_function(
        "aitm",
        "{embed_dim: 4, tower: [4], head: [3], core_transfer: false}",
    );
    testkit::check_trunk_same_function("aitm", "{embed_dim: 4, tower: [4], alpha_cal: 0.0}");
}

/// θ_s under `shared: trunk`, read from the dataflow and counted by hand. Tensors: embedding
/// 5 (3 tables, numeric weight and bias); a one-layer tower 2; a transfer 2; an attention
/// module 3 (W1..W3, no bias); an output head without hidden layers 2. m = the last task that
/// receives a transfer: z_t for t < m feeds task t + 1, so tower_t, the transfer and the
/// attention of t < m are shared; the shared attention is shared once two links use it; the
/// calibrator term of binary task t + 1 reads p_t, so head t is shared when alpha_cal > 0.
#[test]
fn trunk_theta_s_follows_the_dataflow() {
    use crate::data::TaskKind;
    use burn::module::{list_param_ids as ids, ParamId};
    let dev = Device::flex();
    type Pick = fn(&Aitm) -> Vec<ParamId>;
    let cases: [(&str, &[TaskKind], usize, Pick); 6] = [
        // m = 2: towers 0, 1 (4), transfer 1 (2), the shared attention (3), head 0 (2): 16.
        (TINY, &[Binary, Binary, Regression], 16, |a| {
            [
                ids(&a.towers[0]),
                ids(&a.towers[1]),
                ids(&a.transfers[1]),
                ids(&a.attention[0]),
                ids(&a.outputs[0]),
            ]
            .concat()
        }),
        // m = 3: towers 0..2 (6), transfers 1, 2 (4), attention (3), heads 0, 1 (4): 22.
        (TINY, &[Binary, Binary, Binary, Regression], 22, |a| {
            [
                ids(&a.towers[0]),
                ids(&a.towers[1]),
                ids(&a.towers[2]),
                ids(&a.transfers[1]),
                ids(&a.transfers[2]),
                ids(&a.attention[0]),
                ids(&a.outputs[0]),
                ids(&a.outputs[1]),
            ]
            .concat()
        }),
        // m = 1: tower 0 only; the attention serves task 1 alone, no calibrator term: 7.
        (TINY, &[Binary, Regression], 7, |a| ids(&a.towers[0])),
        // Per-task attention, no calibrator: task 1's attention is shared, task 2's is not: 14.
        (
            "{embed_dim: 4, tower: [4], attention: per_task, alpha_cal: 0.0}",
            &[Binary, Binary, Regression],
            14,
            |a| {
                [
                    ids(&a.towers[0]),
                    ids(&a.towers[1]),
                    ids(&a.transfers[1]),
                    ids(&a.attention[0]),
                ]
                .concat()
            },
        ),
        // Core off the chain, m = 1: tower 0 and head 0 (task 1's calibrator term): 9.
        (
            "{embed_dim: 4, tower: [4], core_transfer: false}",
            &[Binary, Binary, Regression],
            9,
            |a| [ids(&a.towers[0]), ids(&a.outputs[0])].concat(),
        ),
        (TINY, &[Binary, Binary], 9, |a| {
            [ids(&a.towers[0]), ids(&a.outputs[0])].concat()
        }),
    ];
    for (opts, kinds, count, pick) in cases {
        let opts = testkit::with_shared(opts, "trunk");
        let m = testkit::build("aitm", &opts, kinds, &dev);
        let AnyModel::Aitm(a) = &m else {
            panic!("aitm")
        };
        testkit::assert_theta_s(&m, pick(a), &format!("{opts} {kinds:?}"));
        assert_eq!(m.shared_param_ids().len(), count, "{opts} {kinds:?}");
        let last = kinds.len() - 1;
        assert!(!m
            .shared_param_ids()
            .contains(&a.towers[last].layers[0].weight.id));
    }
    let e = testkit::build("aitm", TINY, &[Binary, Binary, Regression], &dev);
    assert_eq!(
        e.shared_param_ids().len(),
        5,
        "embedding mode: the embedding"
    );
}

#[test]
fn trunk_output_shapes_separability_and_per_task_gradients() {
    let trunk = testkit::with_shared(TINY, "trunk");
    let per_task = "{embed_dim: 4, tower: [6, 4], head: [3], attention: per_task, shared: trunk}";
    testkit::check_shapes("aitm", &trunk);
    testkit::check_shapes("aitm", per_task);
    testkit::check_separable("aitm", &trunk);
    testkit::check_separable("aitm", per_task);
    testkit::check_per_task_gradients("aitm", &trunk);
    testkit::check_per_task_gradients("aitm", per_task);
    testkit::check_per_task_gradients(
        "aitm",
        "{embed_dim: 4, tower: [4], core_transfer: false, shared: trunk}",
    );
    testkit::check_trains("aitm", &trunk);
}

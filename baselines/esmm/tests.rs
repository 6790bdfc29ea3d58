//! ESMM: shapes, the product chain, the expected-value core, hand-counted parameters,
//! defaults, training.

use burn::tensor::activation::sigmoid;
use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::{batch, ctx, info};
use crate::zoo::AnyModel;

const TINY: &str = "{embed_dim: 4, tower: [4]}";
const EV: &str = "{embed_dim: 4, tower: [4], core_mode: expected_value}";

fn tiny(kinds: &[crate::data::TaskKind], opts: &str) -> Esmm {
    match testkit::build("esmm", opts, kinds, &Device::flex()) {
        AnyModel::Esmm(m) => m,
        _ => panic!("esmm"),
    }
}

fn values(p: &Pred) -> Vec<f32> {
    let t = match p {
        Pred::Logit(z) => sigmoid(z.clone()),
        Pred::Prob(x) | Pred::Value(x) => x.clone(),
        Pred::Ziln(_) => panic!("a ZILN head has no single value"),
    };
    t.into_data().try_into_vec::<f32>().unwrap()
}

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("esmm", TINY);
    testkit::check_shapes("esmm", EV);
}

#[test]
fn first_task_is_a_logit_later_binary_tasks_are_chain_probabilities() {
    let kinds = [Binary, Binary, Binary, Regression];
    let out = tiny(&kinds, TINY).forward(&batch(&info(&kinds), 9, 4, &Device::flex()), &mut ctx(0));
    assert!(matches!(out.preds[0], Pred::Logit(_)));
    assert!(matches!(out.preds[1], Pred::Prob(_)) && matches!(out.preds[2], Pred::Prob(_)));
    assert!(matches!(out.preds[3], Pred::Value(_)));
}

#[test]
fn chain_probabilities_are_non_increasing() {
    let kinds = [Binary, Binary, Binary, Regression];
    for seed in 0..5 {
        let out = tiny(&kinds, TINY).forward(
            &batch(&info(&kinds), 16, seed, &Device::flex()),
            &mut ctx(seed),
        );
        let p: Vec<Vec<f32>> = out.preds[..3].iter().map(values).collect();
        for t in 1..3 {
            for (later, earlier) in p[t].iter().zip(&p[t - 1]) {
                assert!(
                    later <= earlier,
                    "P_{} = {later} > P_{} = {earlier}",
                    t + 1,
                    t
                );
            }
        }
    }
}

#[test]
fn initial_biases_reproduce_the_marginal_rates() {
    let logit = |r: f64| (r / (1.0 - r)).ln() as f32;
    let b = conditional_biases(&[logit(0.5), logit(0.1), logit(0.05)]);
    // conditional rates 0.5, 0.1 / 0.5 = 0.2, 0.05 / 0.1 = 0.5
    for (got, want) in b.iter().zip([logit(0.5), logit(0.2), logit(0.5)]) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    // A later rate above the earlier one cannot be a conditional probability: clamped below 1.
    let c = conditional_biases(&[logit(0.1), logit(0.3)]);
    assert!(c[1] > 10.0 && c[1].is_finite());
}

#[test]
fn expected_value_core_is_chain_probability_times_amount_plus_zero_value() {
    let kinds = [Binary, Binary, Regression];
    let m = tiny(&kinds, EV);
    let b = batch(&info(&kinds), 6, 2, &Device::flex());
    let mut c = ctx(0);
    c.training = false;
    let out = m.forward(&b, &mut c);
    let e = m.embedding.forward(&b.cat, b.num.as_ref());
    let amount = m.towers[2]
        .forward(e, &mut c)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let chain = values(&out.preds[1]);
    let z0 = m
        .zero_value
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()[0];
    let got = values(&out.preds[2]);
    for i in 0..6 {
        let want = chain[i] * amount[i] + (1.0 - chain[i]) * z0;
        assert!((got[i] - want).abs() < 1e-5, "{} vs {want}", got[i]);
    }
    // `separate` has no zero value; a chain without binary tasks cannot take the expected value.
    assert!(tiny(&kinds, TINY).zero_value.is_none());
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let cfg: EsmmConfig = serde_yaml::from_str(EV).unwrap();
    let err = Esmm::new(&cfg, &info(&[Regression]), &mut rng, &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(err.contains("core_mode"), "{err}");
}

#[test]
fn parameter_count_by_hand() {
    // embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 16.
    // each tower [4] on e: 16 * 4 + 4 + 4 * 1 + 1 = 73
    // 2 tasks: 104 + 2 * 73 = 250; 3 tasks: 104 + 3 * 73 = 323; expected_value adds z0: 251
    assert_eq!(testkit::count("esmm", TINY, &[Binary, Regression]), 250);
    assert_eq!(
        testkit::count("esmm", TINY, &[Binary, Binary, Regression]),
        323
    );
    assert_eq!(testkit::count("esmm", EV, &[Binary, Regression]), 251);
}

#[test]
fn invalid_core_mode_names_the_key_and_values() {
    let e = (crate::zoo::find_model("esmm").unwrap().resolve)(
        &serde_yaml::from_str("{core_mode: product}").unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("core_mode") && e.contains("separate, expected_value"),
        "{e}"
    );
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("esmm", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("esmm", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<EsmmConfig>(include_str!("README.md"), include_str!("defaults.yaml"));
}

#[test]
fn trains() {
    testkit::check_trains("esmm", TINY);
    testkit::check_trains("esmm", EV);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("esmm");
}

#[test]
fn trunk_computes_the_same_network_as_embedding() {
    testkit::check_trunk_same_function("esmm", TINY);
    testkit::check_trunk_same_function("esmm", EV);
}

/// θ_s under `shared: trunk`: binary tower t is multiplied into every later binary task's
/// chain probability (pCTCVR = pCTR · pCVR: the CTR tower reaches two losses), and with
/// `expected_value` every binary tower reaches the core task; the core tower and `z0` reach
/// the core task only. Tensors: embedding 5; a tower with one hidden layer 4.
#[test]
fn trunk_theta_s_is_every_tower_a_later_task_multiplies() {
    use crate::data::TaskKind;
    use burn::module::list_param_ids as ids;
    let dev = Device::flex();
    let cases: [(&str, &[TaskKind], &[usize]); 6] = [
        (TINY, &[Binary, Binary, Regression], &[0]),
        (EV, &[Binary, Binary, Regression], &[0, 1]),
        (TINY, &[Binary, Binary, Binary, Regression], &[0, 1]),
        (TINY, &[Binary, Binary], &[0]),
        (TINY, &[Binary, Regression], &[]),
        (EV, &[Binary, Regression], &[0]),
    ];
    for (opts, kinds, towers) in cases {
        let opts = testkit::with_shared(opts, "trunk");
        let m = testkit::build("esmm", &opts, kinds, &dev);
        let AnyModel::Esmm(e) = &m else {
            panic!("esmm")
        };
        let extra = towers.iter().flat_map(|&t| ids(&e.towers[t])).collect();
        testkit::assert_theta_s(&m, extra, &format!("{opts} {kinds:?}"));
        assert_eq!(m.shared_param_ids().len(), 5 + 4 * towers.len());
        assert!(m.separable());
    }
}

#[test]
fn trunk_separability_and_per_task_gradients() {
    for opts in [TINY, EV] {
        let trunk = testkit::with_shared(opts, "trunk");
        testkit::check_shapes("esmm", &trunk);
        testkit::check_separable("esmm", &trunk);
        testkit::check_per_task_gradients("esmm", &trunk);
    }
}

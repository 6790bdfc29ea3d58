//! HTLNet: gradient flow, ablation switches, chains of several lengths, README defaults.

use burn::module::{list_param_ids, Module};
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::{batch, ctx, info};
use crate::model::MultiTaskModel;
use crate::train::step_losses_for_tests as task_losses;
use crate::zoo::{build_model, AnyModel};

fn net(cfg: &HtlNetConfig, kinds: &[crate::data::TaskKind], device: &Device) -> HtlNet {
    HtlNet::new(cfg, &info(kinds), &mut ChaCha8Rng::seed_from_u64(1), device)
}

/// Sum of |grad| over the parameters of a module, from a gradient set.
fn grad_mass<M: Module>(m: &M, grads: &burn::tensor::Gradients) -> f32 {
    struct V<'a>(&'a burn::tensor::Gradients, f32);
    impl burn::module::ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            if let Some(g) = p.val().grad(self.0) {
                self.1 += g.abs().sum().into_scalar::<f32>();
            }
        }
    }
    let mut v = V(grads, 0.0);
    m.visit(&mut v);
    v.1
}

#[test]
fn stop_gradient_blocks_a_later_loss_from_earlier_towers() {
    let dev = Device::flex().autodiff();
    let kinds = [Binary, Binary, Regression];
    for stop in [true, false] {
        let cfg = HtlNetConfig {
            stop_grad: stop,
            ..Default::default()
        };
        let m = net(&cfg, &kinds, &dev);
        let b = batch(&info(&kinds), 16, 3, &dev);
        let out = m.forward(&b, &mut ctx(0));
        let losses = task_losses(&out, &b);
        // Only the core task's loss.
        let grads = losses[2].backward();
        let tower0 = grad_mass(&m.towers[0], &grads);
        let tower1 = grad_mass(&m.towers[1], &grads);
        let own = grad_mass(&m.towers[2], &grads);
        let emb = grad_mass(&m.embedding, &grads);
        assert!(own > 0.0 && emb > 0.0);
        if stop {
            assert_eq!(
                tower0, 0.0,
                "stop-gradient must block the core loss from tower 1"
            );
            assert_eq!(tower1, 0.0);
            // The label tables of earlier tasks are trained by later losses (README).
            let leu0 = grad_mass(m.leus[0].as_ref().unwrap(), &grads);
            assert!(leu0 > 0.0);
        } else {
            assert!(
                tower0 > 0.0 && tower1 > 0.0,
                "without stop-gradient the core loss reaches earlier towers"
            );
        }
    }
}

#[test]
fn separable_follows_stop_grad() {
    let dev = Device::flex();
    let a = net(&HtlNetConfig::default(), &[Binary, Regression], &dev);
    let b = net(
        &HtlNetConfig {
            stop_grad: false,
            ..Default::default()
        },
        &[Binary, Regression],
        &dev,
    );
    assert!(a.separable() && !b.separable());
    assert_eq!(a.shared_param_ids(), list_param_ids(&a.embedding));
}

#[test]
fn ablation_switches_change_the_parameter_set() {
    let dev = Device::flex();
    let kinds = [Binary, Binary, Regression];
    let full = net(&HtlNetConfig::default(), &kinds, &dev);
    // full: LEU on tasks 1 and 2 (both feed later tasks); IFU_R on tasks 2, 3; IFU_L on 2, 3.
    assert!(full.leus[0].is_some() && full.leus[1].is_some() && full.leus[2].is_none());
    assert!(full.ifu_rep[0].is_none() && full.ifu_rep[1].is_some() && full.ifu_rep[2].is_some());
    assert!(full.ifu_le[0].is_none() && full.ifu_le[1].is_some() && full.ifu_le[2].is_some());

    let no_leu = net(
        &HtlNetConfig {
            leu: false,
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert!(no_leu.leus.iter().all(Option::is_none) && no_leu.ifu_le.iter().all(Option::is_none));
    assert!(no_leu.ifu_rep[1].is_some());
    assert!(no_leu.num_params() < full.num_params());

    let no_ifu = net(
        &HtlNetConfig {
            ifu: "none".into(),
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert!(no_ifu
        .ifu_rep
        .iter()
        .chain(&no_ifu.ifu_le)
        .all(Option::is_none));
    assert!(
        no_ifu.leus.iter().all(Option::is_none),
        "no transfer → no label embeddings are read"
    );

    let no_rep = net(
        &HtlNetConfig {
            ifu_rep: false,
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert!(no_rep.ifu_rep.iter().all(Option::is_none) && no_rep.ifu_le[1].is_some());

    let concat = net(
        &HtlNetConfig {
            ifu: "concat".into(),
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert!(matches!(concat.ifu_rep[2], Some(ifu::Ifu::Concat(_))));
    assert!(matches!(full.ifu_rep[2], Some(ifu::Ifu::Attention(_))));
    assert_ne!(concat.num_params(), full.num_params());

    let last = net(
        &HtlNetConfig {
            rep_layer: "last".into(),
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert_eq!(last.rep_index, 2);
    assert_eq!(full.rep_index, 0);

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let opts = serde_yaml::to_value(HtlNetConfig {
        architecture: "shared_bottom".into(),
        ..Default::default()
    })
    .unwrap();
    let sb = build_model("htlnet", &opts, &info(&kinds), &mut rng, &dev).unwrap();
    assert!(matches!(sb, AnyModel::SharedBottom(_)));
}

#[test]
fn stop_grad_switch_changes_the_graph_not_the_parameters() {
    let dev = Device::flex();
    let kinds = [Binary, Regression];
    let a = net(&HtlNetConfig::default(), &kinds, &dev);
    let b = net(
        &HtlNetConfig {
            stop_grad: false,
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert_eq!(a.num_params(), b.num_params());
    assert!(a.stop_grad && !b.stop_grad);
}

#[test]
fn chains_of_two_three_four_tasks_and_binary_only_give_finite_outputs() {
    let dev = Device::flex().autodiff();
    for kinds in [
        vec![Binary, Regression],
        vec![Binary, Binary, Regression],
        vec![Binary, Binary, Binary, Regression],
        vec![Binary, Binary],
    ] {
        for ifu in ["attention", "concat", "none"] {
            let cfg = HtlNetConfig {
                ifu: ifu.into(),
                ..Default::default()
            };
            let m = net(&cfg, &kinds, &dev);
            let b = batch(&info(&kinds), 8, 5, &dev);
            let out = m.forward(&b, &mut ctx(1));
            assert_eq!(out.preds.len(), kinds.len());
            for p in &out.preds {
                assert_eq!(p.tensor().dims(), [8]);
            }
            let total = task_losses(&out, &b)
                .into_iter()
                .reduce(|a, b| a + b)
                .unwrap();
            assert!(total.clone().into_scalar::<f32>().is_finite());
            let _ = total.backward();
        }
    }
}

#[test]
fn attention_weights_are_recorded_and_sum_to_one() {
    let dev = Device::flex();
    let kinds = [Binary, Binary, Regression];
    let m = net(&HtlNetConfig::default(), &kinds, &dev);
    let b = batch(&info(&kinds), 6, 2, &dev);
    let out = m.forward(&b, &mut ctx(2));
    let (_, w) = out
        .aux
        .iter()
        .find(|(k, _)| k == "ifu_rep_weights_2")
        .expect("recorded");
    assert_eq!(w.dims(), [6, 2]);
    for row in w
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
        .chunks(2)
    {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn training_noise_changes_le_but_evaluation_is_deterministic() {
    let dev = Device::flex();
    let kinds = [Binary, Regression];
    let m = net(&HtlNetConfig::default(), &kinds, &dev);
    let b = batch(&info(&kinds), 6, 2, &dev);
    let run = |training: bool, seed: u64| {
        let mut c = ctx(seed);
        c.training = training;
        m.forward(&b, &mut c).preds[1]
            .tensor()
            .clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    };
    assert_eq!(run(false, 1), run(false, 2));
    assert_eq!(run(true, 1), run(true, 1));
    assert_ne!(run(true, 1), run(true, 2));
}

#[test]
fn readme_table_matches_defaults() {
    let readme = include_str!("README.md");
    let rows =
        crate::model::readme_defaults_table(readme).expect("a `| key | default | meaning |` table");
    let defaults = serde_yaml::to_value(HtlNetConfig::default()).unwrap();
    let map = defaults.as_mapping().unwrap();
    assert_eq!(
        rows.len(),
        map.len(),
        "README lists {} options, the code has {}",
        rows.len(),
        map.len()
    );
    for (key, value) in rows {
        let code = map
            .get(key.as_str())
            .unwrap_or_else(|| panic!("README option `{key}` is not in HtlNetConfig"));
        let readme_value: serde_yaml::Value = serde_yaml::from_str(&value).unwrap();
        assert_eq!(&readme_value, code, "README default of `{key}`");
    }
}

/// A 2-task chain (one binary task, then the core) and a 4-task chain (three binary
/// tasks, then the core) train end to end with HTLNet's adjustment and beat the base rate.
#[test]
fn two_and_four_task_chains_train() {
    for chain in [
        "[{name: click, rate: 0.3}]",
        "[{name: a, rate: 0.4}, {name: b, rate: 0.5}, {name: c, rate: 0.5}]",
    ] {
        let yaml = format!(
            "name: t\ndataset: {{synthetic: {{rows: 4000, users: 200, items: 100, seed: 3, chain: {chain}}}}}\ntrain: {{epochs: 2, batch_size: 256, grad_stats_every: 5}}\nvariants: [{{model: htlnet}}]\n"
        );
        let exp = crate::config::parse_experiment(&yaml, std::path::Path::new("t.yaml")).unwrap();
        let data = crate::data::load(&exp.dataset, std::path::Path::new(".")).unwrap();
        let cell = exp.cells.iter().find(|c| c.model == "htlnet").unwrap();
        let out = crate::train::train_cell(cell, &data, &Device::flex(), &|_, _| {}).unwrap();
        let n = data.tasks.len();
        assert_eq!(out.metrics["test"].len(), n);
        assert!(out.steps > 0 && !out.grad_stats.is_empty());
        let first = &data.tasks.tasks()[0].name;
        assert!(out.metrics["test"][first]["auc"].unwrap() > 0.5, "{chain}");
    }
}

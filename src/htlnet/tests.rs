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

/// |grad| summed per parameter of a module, in visiting order (`0` = no gradient at all).
fn grad_masses<M: Module>(m: &M, grads: &burn::tensor::Gradients) -> Vec<f32> {
    struct V<'a>(&'a burn::tensor::Gradients, Vec<f32>);
    impl burn::module::ModuleVisitor for V<'_> {
        fn visit_float<const D: usize>(&mut self, p: &burn::module::Param<Tensor<D>>) {
            let g = p.val().grad(self.0);
            self.1
                .push(g.map_or(0.0, |g| g.abs().sum().into_scalar::<f32>()));
        }
    }
    let mut v = V(grads, Vec::new());
    m.visit(&mut v);
    v.1
}

fn all_zero(v: &[f32]) -> bool {
    !v.is_empty() && v.iter().all(|&x| x == 0.0)
}

fn all_nonzero(v: &[f32]) -> bool {
    !v.is_empty() && v.iter().all(|&x| x > 0.0)
}

/// Gradients of the core task's loss alone (task 3 of binary → binary → core), training
/// mode (Gumbel noise on), for one `stop_grad` setting.
fn core_loss_grads(stop: StopGrad, ifu_rep: bool) -> (HtlNet, burn::tensor::Gradients) {
    let dev = Device::flex().autodiff();
    let kinds = [Binary, Binary, Regression];
    let cfg = HtlNetConfig {
        stop_grad: stop,
        ifu_rep,
        ..Default::default()
    };
    let m = net(&cfg, &kinds, &dev);
    let b = batch(&info(&kinds), 16, 3, &dev);
    let out = m.forward(&b, &mut ctx(0));
    let grads = task_losses(&out, &b)[2].backward();
    (m, grads)
}

#[test]
fn stop_grad_true_detaches_rep_le_and_p_parameter_by_parameter() {
    let (m, g) = core_loss_grads(StopGrad::All, true);
    for j in 0..2 {
        let tower = grad_masses(&m.towers[j], &g);
        assert!(all_zero(&tower), "tower {j}: {tower:?}");
        let leu = grad_masses(m.leus[j].as_ref().unwrap(), &g);
        assert!(
            all_zero(&leu),
            "LEU table {j} must not train on a later loss: {leu:?}"
        );
        // Task 2's own IFUs do not feed task 3 either (their output enters tower 2 only).
        if j == 1 {
            assert!(all_zero(&grad_masses(m.ifu_rep[j].as_ref().unwrap(), &g)));
            assert!(all_zero(&grad_masses(m.ifu_le[j].as_ref().unwrap(), &g)));
        }
    }
    // The core task trains its own tower, its IFUs and the shared embedding.
    assert!(all_nonzero(&grad_masses(&m.towers[2], &g)));
    assert!(all_nonzero(&grad_masses(
        m.ifu_rep[2].as_ref().unwrap(),
        &g
    )));
    assert!(all_nonzero(&grad_masses(m.ifu_le[2].as_ref().unwrap(), &g)));
    assert!(grad_masses(&m.embedding, &g).iter().any(|&x| x > 0.0));
    assert!(m.separable());
}

#[test]
fn stop_grad_false_keeps_rep_le_and_p_attached_parameter_by_parameter() {
    let (m, g) = core_loss_grads(StopGrad::None, true);
    for j in 0..2 {
        let tower = grad_masses(&m.towers[j], &g);
        assert!(all_nonzero(&tower), "tower {j}: {tower:?}");
        assert!(all_nonzero(&grad_masses(m.leus[j].as_ref().unwrap(), &g)));
    }
    assert!(!m.separable());
}

#[test]
fn stop_grad_false_differentiates_through_the_gumbel_softmax_sample() {
    // Without rep transfer, task 1's output layer reaches the core loss only through
    // p_1 → Gumbel-softmax sample → le_1: its gradient is non-zero exactly when the sample
    // is differentiable w.r.t. task 1's logit.
    let head = |stop| {
        let (m, g) = core_loss_grads(stop, false);
        let masses = grad_masses(&m.towers[0], &g);
        let n = masses.len();
        (
            masses[n - 2..].to_vec(),
            grad_masses(m.leus[0].as_ref().unwrap(), &g),
        )
    };
    let (h, leu) = head(StopGrad::None);
    assert!(all_nonzero(&h), "output layer of task 1: {h:?}");
    assert!(all_nonzero(&leu));
    let (h, leu) = head(StopGrad::Rep);
    assert!(all_zero(&h), "{h:?}");
    // `rep`: the label table is trained by the later loss, the tower is not.
    assert!(all_nonzero(&leu));
    let (h, leu) = head(StopGrad::All);
    assert!(all_zero(&h) && all_zero(&leu));
}

#[test]
fn stop_grad_rep_detaches_rep_and_p_but_not_le() {
    let (m, g) = core_loss_grads(StopGrad::Rep, true);
    for j in 0..2 {
        assert!(all_zero(&grad_masses(&m.towers[j], &g)), "tower {j}");
        assert!(all_nonzero(&grad_masses(m.leus[j].as_ref().unwrap(), &g)));
    }
    assert!(m.separable());
}

#[test]
fn stop_grad_is_written_true_false_or_rep() {
    let parse = |y: &str| serde_yaml::from_str::<HtlNetConfig>(y).map(|c| c.stop_grad);
    assert_eq!(parse("stop_grad: true").unwrap(), StopGrad::All);
    assert_eq!(parse("stop_grad: false").unwrap(), StopGrad::None);
    assert_eq!(parse("stop_grad: rep").unwrap(), StopGrad::Rep);
    let e = parse("stop_grad: maybe").unwrap_err().to_string();
    assert!(
        e.contains("unknown `stop_grad` `maybe`; valid: true, false, rep"),
        "{e}"
    );
    for s in [StopGrad::All, StopGrad::None, StopGrad::Rep] {
        let cfg = HtlNetConfig {
            stop_grad: s,
            ..Default::default()
        };
        let v = serde_yaml::to_value(&cfg).unwrap();
        let back: HtlNetConfig = serde_yaml::from_value(v.clone()).unwrap();
        assert_eq!(back.stop_grad, s);
        if s == StopGrad::All {
            assert_eq!(v["stop_grad"], serde_yaml::Value::Bool(true));
        }
    }
}

#[test]
fn separable_follows_stop_grad() {
    let dev = Device::flex();
    let a = net(&HtlNetConfig::default(), &[Binary, Regression], &dev);
    let b = net(
        &HtlNetConfig {
            stop_grad: StopGrad::None,
            ..Default::default()
        },
        &[Binary, Regression],
        &dev,
    );
    assert!(a.separable() && !b.separable());
    assert_eq!(a.shared_param_ids(), list_param_ids(&a.embedding));
}

#[test]
fn temperature_follows_the_planned_run() {
    let dev = Device::flex();
    let m = net(&HtlNetConfig::default(), &[Binary, Regression], &dev);
    let mut c = ctx(0);
    c.planned_steps = 100;
    c.step = 0;
    assert_eq!(m.temperature(&c), Some(10.0));
    c.step = 50;
    assert_eq!(m.temperature(&c), Some(0.5));
    let no_leu = net(
        &HtlNetConfig {
            leu: false,
            ..Default::default()
        },
        &[Binary, Regression],
        &dev,
    );
    assert_eq!(no_leu.temperature(&c), None);
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
            stop_grad: StopGrad::None,
            ..Default::default()
        },
        &kinds,
        &dev,
    );
    assert_eq!(a.num_params(), b.num_params());
    assert!(a.detach_rep && a.detach_le && a.detach_p);
    assert!(!b.detach_rep && !b.detach_le && !b.detach_p);
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
                assert_eq!(p.tensor().unwrap().dims(), [8]);
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
            .unwrap()
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

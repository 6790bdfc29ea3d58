//! Baseline models, one folder each (code, README, defaults.yaml), compiled into the crate.
//!
//! | model | folder | trunk (`shared()`) | separable |
//! | --- | --- | --- | --- |
//! | `dnn` | `dnn/` | nothing (no shared parameters) | yes |
//! | `shared_bottom` | `shared_bottom/` | `[bottom(e)]` | yes |
//! | `mmoe` | `mmoe/` | `[e, expert_1(e), …, expert_n(e)]` | yes |
//! | `ple` | `ple/` | `trunk`: every task's top CGC output; `embedding`: `[e]` | `trunk` only |
//! | `adatt` | `adatt/` | `trunk`: top-level expert outputs + top gate inputs; `embedding`: `[e]` | `trunk` only |
//! | `esmm` | `esmm/` | `trunk`: `[e]` + logits of the towers a later task multiplies; `embedding`: `[e]` | `trunk` only |
//! | `aitm` | `aitm/` | `trunk`: `[e]` + the chain up to the last link (see its README); `embedding`: `[e]` | `trunk` only |
//!
//! `e` is the shared field embedding. A model is *separable* when task t's loss reaches the
//! trunk only through its own copy `inputs[t]`; otherwise per-task gradient strategies run the
//! heads once per task (exact, slower).

pub mod adatt;
pub mod aitm;
pub mod common;
pub mod dnn;
pub mod esmm;
pub mod mmoe;
pub mod ple;
pub mod shared_bottom;

/// Test helpers shared by every baseline's tests.
#[cfg(test)]
pub(crate) mod testkit {
    use std::fmt::Debug;

    use burn::module::Module;
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::Device;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use crate::data::TaskKind::{self, Binary, Regression};
    use crate::model::testutil::{batch, ctx, info};
    use crate::model::{MultiTaskModel, Pred};
    use crate::train::task_losses;
    use crate::zoo::{build_model, find_model, AnyModel};

    /// The chains every model is checked on: 2, 3 and 4 tasks ending in the core task, and
    /// a chain of binary tasks only.
    pub fn chains() -> Vec<Vec<TaskKind>> {
        vec![
            vec![Binary, Regression],
            vec![Binary, Binary, Regression],
            vec![Binary, Binary, Binary, Regression],
            vec![Binary, Binary],
        ]
    }

    /// A model folder reads as one: `defaults.yaml` parses to exactly `C::default()` (every
    /// key present, nothing extra) and the README's `| key | default | meaning |` table lists
    /// exactly the same keys with the same values.
    pub fn check_defaults<C>(readme: &str, defaults_yaml: &str)
    where
        C: Serialize + DeserializeOwned + Default + PartialEq + Debug,
    {
        let code = serde_yaml::to_value(C::default()).expect("defaults serialise");
        let code = code.as_mapping().expect("options are a mapping");

        let yaml: serde_yaml::Value =
            serde_yaml::from_str(defaults_yaml).expect("defaults.yaml is YAML");
        let parsed: C =
            serde_yaml::from_value(yaml.clone()).expect("defaults.yaml parses as the options type");
        assert_eq!(parsed, C::default(), "defaults.yaml differs from Default");
        let ymap = yaml.as_mapping().expect("defaults.yaml is a mapping");
        let ykeys: Vec<&str> = ymap.keys().filter_map(|k| k.as_str()).collect();
        let ckeys: Vec<&str> = code.keys().filter_map(|k| k.as_str()).collect();
        assert_eq!(
            ykeys, ckeys,
            "defaults.yaml must list every option, in the code's order"
        );

        let rows = readme_table(readme);
        let rkeys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            rkeys, ckeys,
            "README table keys (in order) must equal the options"
        );
        for (key, value) in rows {
            let readme_value: serde_yaml::Value =
                serde_yaml::from_str(&value).unwrap_or_else(|e| {
                    panic!("README default of `{key}` (`{value}`) is not YAML: {e}")
                });
            assert_eq!(
                Some(&readme_value),
                code.get(key.as_str()),
                "README default of `{key}`"
            );
        }
    }

    /// `(key, default)` rows of the first `| key | default | meaning |` table; panics when
    /// there is none or a row is malformed.
    pub fn readme_table(markdown: &str) -> Vec<(String, String)> {
        let mut lines = markdown
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("| key | default | meaning |"));
        assert!(
            lines.next().is_some(),
            "no `| key | default | meaning |` table"
        );
        let sep = lines.next().expect("table separator");
        assert!(
            sep.trim_start().starts_with("| ---"),
            "malformed separator `{sep}`"
        );
        lines
            .take_while(|l| l.trim_start().starts_with('|'))
            .map(|l| {
                let cells: Vec<&str> = l
                    .trim()
                    .trim_matches('|')
                    .split('|')
                    .map(str::trim)
                    .collect();
                assert!(cells.len() >= 3, "row `{l}` needs key, default and meaning");
                (
                    cells[0].trim_matches('`').to_string(),
                    cells[1].trim_matches('`').to_string(),
                )
            })
            .collect()
    }

    /// Builds a registered model with `options` (YAML) for a chain.
    pub fn build(name: &str, options: &str, kinds: &[TaskKind], dev: &Device) -> AnyModel {
        let v: serde_yaml::Value = serde_yaml::from_str(options).expect("options YAML");
        let entry = find_model(name).expect("registered");
        let resolved = (entry.resolve)(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
        build_model(
            name,
            &resolved,
            &info(kinds),
            &mut ChaCha8Rng::seed_from_u64(11),
            dev,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Every chain: one prediction `[batch]` per task of the right kind, finite losses, and a
    /// backward pass that runs.
    pub fn check_shapes(name: &str, options: &str) {
        let dev = Device::flex().autodiff();
        for kinds in chains() {
            let m = build(name, options, &kinds, &dev);
            assert_eq!(m.n_tasks(), kinds.len());
            let b = batch(&info(&kinds), 8, 5, &dev);
            let out = m.forward(&b, &mut ctx(1));
            assert_eq!(out.preds.len(), kinds.len(), "{name} {kinds:?}");
            for (p, k) in out.preds.iter().zip(&kinds) {
                assert_eq!(p.tensor().map(|t| t.dims()), Some([8]), "{name} {kinds:?}");
                match (p, k) {
                    (Pred::Logit(_) | Pred::Prob(_), Binary) | (Pred::Value(_), Regression) => {}
                    _ => panic!("{name} {kinds:?}: prediction kind does not match the task"),
                }
            }
            let total = task_losses(&out, &b)
                .into_iter()
                .reduce(|a, b| a + b)
                .unwrap();
            assert!(
                total.clone().into_scalar::<f32>().is_finite(),
                "{name} {kinds:?}"
            );
            let _ = total.backward();
        }
    }

    /// A few Adam steps on one fixed batch: the summed loss stays finite and goes down.
    pub fn check_trains(name: &str, options: &str) {
        let dev = Device::flex().autodiff();
        let kinds = [Binary, Binary, Regression];
        let mut m = build(name, options, &kinds, &dev);
        let b = batch(&info(&kinds), 32, 9, &dev);
        let mut optim = AdamConfig::new().init();
        let mut c = ctx(3);
        c.training = false; // no dropout noise: the loss on a fixed batch must fall
        let mut first = None;
        let mut last = f32::NAN;
        for _ in 0..15 {
            let out = m.forward(&b, &mut c);
            let total = task_losses(&out, &b)
                .into_iter()
                .reduce(|a, b| a + b)
                .unwrap();
            last = total.clone().into_scalar::<f32>();
            assert!(last.is_finite(), "{name}: loss {last}");
            first.get_or_insert(last);
            let gp = GradientsParams::from_grads(total.backward(), &m);
            m = optim.step(1e-2, m, gp);
        }
        assert!(
            last < first.unwrap(),
            "{name}: loss did not fall ({} → {last})",
            first.unwrap()
        );
    }

    /// Parameter count of a registered model built for `kinds` (3 fields of vocab 11, 7, 5
    /// and 2 numeric features: see `crate::model::testutil::info`).
    pub fn count(name: &str, options: &str, kinds: &[TaskKind]) -> usize {
        build(name, options, kinds, &Device::flex()).num_params()
    }

    /// `separable()` tells the truth: with one leaf copy of the trunk per task, task t's loss
    /// reaches only its own copy when the model says it is separable, and reaches another
    /// task's copy otherwise (some task t: the chain, the shared experts).
    pub fn check_separable(name: &str, options: &str) {
        let dev = Device::flex().autodiff();
        let kinds = [Binary, Binary, Regression];
        let m = build(name, options, &kinds, &dev);
        let b = batch(&info(&kinds), 8, 4, &dev);
        let mut crossed = false;
        for t in 0..kinds.len() {
            let z = m.shared(&b, &mut ctx(0));
            let leaves: Vec<Vec<burn::tensor::Tensor<2>>> = (0..kinds.len())
                .map(|_| {
                    z.iter()
                        .map(|x| x.clone().detach().require_grad())
                        .collect()
                })
                .collect();
            let out = m.heads(&leaves, &b, &mut ctx(0));
            let grads = task_losses(&out, &b).swap_remove(t).backward();
            let mass = |u: usize| -> f32 {
                leaves[u]
                    .iter()
                    .filter_map(|x| x.grad(&grads))
                    .map(|g| g.abs().sum().into_scalar::<f32>())
                    .sum()
            };
            if !z.is_empty() {
                assert!(
                    mass(t) > 0.0,
                    "{name}: task {t}'s loss does not reach its own copy"
                );
            }
            crossed |= (0..kinds.len()).any(|u| u != t && mass(u) > 0.0);
        }
        assert_eq!(
            !crossed,
            m.separable(),
            "{name}: separable() = {} but cross-task flow = {crossed}",
            m.separable()
        );
    }

    /// The trainer's per-task gradients of the shared parameters (one heads pass over leaf
    /// copies, then one surrogate backward per task) equal separate backward passes of each
    /// task's loss: compared through their Gram matrices.
    pub fn check_per_task_gradients(name: &str, options: &str) {
        use burn::module::ParamId;
        let dev = Device::flex().autodiff();
        let kinds = [Binary, Binary, Regression];
        let model = build(name, options, &kinds, &dev);
        let b = batch(&info(&kinds), 16, 7, &dev);
        let stepper = crate::train::Stepper::new(&model, 2);
        let mut c = ctx(0);
        c.training = false;
        let (_, _, per_task) = stepper.per_task(&model, &b, &mut c);
        let fast = stepper.gram(&per_task);
        let ids: Vec<ParamId> = model.shared_param_ids();
        let reference: Vec<GradientsParams> = (0..kinds.len())
            .map(|t| {
                let mut c = ctx(0);
                c.training = false;
                let out = model.forward(&b, &mut c);
                let mut g = task_losses(&out, &b).swap_remove(t).backward();
                GradientsParams::from_params(&mut g, &model, &ids)
            })
            .collect();
        let slow = stepper.gram(&reference);
        for i in 0..kinds.len() {
            assert!(
                slow[i][i] > 0.0,
                "{name}: task {i} has no gradient on the shared parameters"
            );
            for j in 0..kinds.len() {
                let (a, r) = (fast[i][j], slow[i][j]);
                assert!(
                    (a - r).abs() <= 1e-4 * r.abs().max(1e-8),
                    "{name}: K[{i}][{j}] {a} vs {r}"
                );
            }
        }
    }

    /// `options` (a YAML mapping) with `shared: <shared>` added.
    pub fn with_shared(options: &str, shared: &str) -> String {
        let mut m: serde_yaml::Mapping = serde_yaml::from_str(options).expect("options YAML");
        m.insert("shared".into(), shared.into());
        serde_yaml::to_string(&m).expect("options serialise")
    }

    fn host<const D: usize>(t: &burn::tensor::Tensor<D>) -> Vec<f32> {
        t.clone().into_data().try_into_vec::<f32>().unwrap()
    }

    /// Every number of a prediction, whatever its kind (a ZILN head's three columns too).
    fn pred_host(p: &crate::model::Pred) -> Vec<f32> {
        match p {
            crate::model::Pred::Ziln(t) => host(t),
            _ => host(p.tensor().expect("a one-column prediction")),
        }
    }

    fn assert_close(what: &str, a: Vec<f32>, b: Vec<f32>) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-5 * x.abs().max(1.0),
                "{what}: {x} vs {y}"
            );
        }
    }

    /// `shared: trunk` only moves where parameters run, not what the network computes: built
    /// from the same seed, the trunk and embedding variants have the same parameter count
    /// and give the same predictions (same kinds), extra loss terms and recorded weights (same
    /// names, same order) on every chain.
    pub fn check_trunk_same_function(name: &str, options: &str) {
        let dev = Device::flex();
        for kinds in chains() {
            let e = build(name, &with_shared(options, "embedding"), &kinds, &dev);
            let t = build(name, &with_shared(options, "trunk"), &kinds, &dev);
            assert_eq!(e.num_params(), t.num_params(), "{name} {kinds:?}");
            let b = batch(&info(&kinds), 6, 3, &dev);
            let (oe, ot) = (e.forward(&b, &mut ctx(1)), t.forward(&b, &mut ctx(1)));
            assert_eq!(oe.preds.len(), ot.preds.len());
            for (i, (pe, pt)) in oe.preds.iter().zip(&ot.preds).enumerate() {
                assert_eq!(
                    std::mem::discriminant(pe),
                    std::mem::discriminant(pt),
                    "{name} {kinds:?}: prediction kind of task {i}"
                );
                assert_close(
                    &format!("{name} {kinds:?} task {i}"),
                    pred_host(pe),
                    pred_host(pt),
                );
            }
            let tasks = |o: &crate::model::ModelOutput| -> Vec<usize> {
                o.extra_losses.iter().map(|(t, _)| *t).collect()
            };
            assert_eq!(tasks(&oe), tasks(&ot), "{name} {kinds:?}: extra terms");
            for ((_, a), (_, b)) in oe.extra_losses.iter().zip(&ot.extra_losses) {
                assert_close(&format!("{name} {kinds:?} extra"), host(a), host(b));
            }
            let names = |o: &crate::model::ModelOutput| -> Vec<String> {
                o.aux.iter().map(|(k, _)| k.clone()).collect()
            };
            assert_eq!(names(&oe), names(&ot), "{name} {kinds:?}: recorded");
            for ((k, a), (_, b)) in oe.aux.iter().zip(&ot.aux) {
                assert_close(&format!("{name} {kinds:?} {k}"), host(a), host(b));
            }
        }
    }

    /// θ_s of a built model as a set, checked against `expected` exactly: the embedding's
    /// parameters plus `extra` (the tensors the rule adds), nothing else.
    pub fn assert_theta_s(model: &AnyModel, extra: Vec<burn::module::ParamId>, what: &str) {
        use std::collections::HashSet;
        let got: HashSet<_> = model.shared_param_ids().into_iter().collect();
        let emb = crate::model::MultiTaskModel::param_groups(model)
            .into_iter()
            .find(|(g, _)| *g == "embedding")
            .expect("embedding group")
            .1;
        let n_extra = extra.len();
        let want: HashSet<_> = emb.into_iter().chain(extra).collect();
        assert_eq!(
            want.len(),
            model.shared_param_ids().len(),
            "{what}: θ_s has {} tensors, the rule {} (embedding + {n_extra})",
            model.shared_param_ids().len(),
            want.len()
        );
        assert_eq!(got, want, "{what}: θ_s");
    }

    /// Row sums of a `[batch, n]` weight matrix recorded in `aux`.
    pub fn row_sums(out: &crate::model::ModelOutput, key: &str) -> Vec<f32> {
        let (_, w) = out.aux.iter().find(|(k, _)| k == key).unwrap_or_else(|| {
            panic!(
                "`{key}` not recorded; have {:?}",
                out.aux.iter().map(|(k, _)| k).collect::<Vec<_>>()
            )
        });
        let n = w.dims()[1];
        w.clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
            .chunks(n)
            .map(|r| r.iter().sum())
            .collect()
    }

    /// One short training run per gradient strategy through the real trainer on a tiny
    /// synthetic data set: every cell finishes and every metric is finite.
    pub fn check_train_cell(name: &str) {
        let text = format!(
            "dataset: {{synthetic: {{rows: 1500, seed: 3}}}}\n\
             train: {{epochs: 1, batch_size: 256, max_steps_per_epoch: 3}}\n\
             variants:\n  - {{label: a, model: {name}, options: {{embed_dim: 4}}}}\n  - {{label: b, model: {name}, options: {{embed_dim: 4}}, grad: pcgrad}}\n"
        );
        let exp = crate::config::parse_experiment(&text, std::path::Path::new("smoke.yaml"))
            .expect("experiment");
        let data = crate::data::load(&exp.dataset, &exp.base_dir).expect("data");
        let dev = Device::flex();
        let cells: Vec<_> = exp.cells.iter().filter(|c| c.model == name).collect();
        assert_eq!(
            cells.len(),
            2,
            "{name}: one cell with `sum`, one with `pcgrad`"
        );
        for cell in cells {
            let out = crate::train::train_cell(cell, &data, &dev, &|_, _| {})
                .unwrap_or_else(|e| panic!("{name} ({:?}): {e}", cell.grad));
            for (task, mets) in &out.metrics["test"] {
                let auc = mets.get("auc").copied().flatten();
                let nrmse = mets.get("nrmse").copied().flatten();
                assert!(
                    auc.or(nrmse).is_some_and(f64::is_finite),
                    "{name}: {task} {mets:?}"
                );
            }
        }
    }
}

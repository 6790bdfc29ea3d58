//! The zoo: one entry per folder, presets from the folders, validation through the list.

use serde_yaml::{Mapping, Value};

use super::*;
use crate::data::TaskKind::{Binary, Regression};
use crate::model::testutil::info;
use rand::SeedableRng;

fn get<'a>(m: &'a Mapping, k: &str) -> Option<&'a Value> {
    m.get(Value::from(k))
}

fn widths(w: &[u64]) -> Value {
    Value::Sequence(w.iter().map(|&x| Value::from(x)).collect())
}

fn resolve_err(model: &str, options: &str) -> String {
    (find_model(model).unwrap().resolve)(&serde_yaml::from_str(options).unwrap())
        .unwrap_err()
        .to_string()
}

#[test]
fn the_list_names_every_folder_once_in_order() {
    let names: Vec<&str> = registry().iter().map(|e| e.name).collect();
    assert_eq!(
        names,
        [
            "htlnet",
            "dnn",
            "shared_bottom",
            "mmoe",
            "ple",
            "adatt",
            "esmm",
            "aitm"
        ]
    );
    for e in registry() {
        let readme = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(e.folder)
            .join("README.md");
        assert!(readme.is_file(), "{}: {}", e.name, readme.display());
        assert!(!e.theta_s.is_empty() && !e.summary.is_empty());
    }
}

#[test]
fn mtreclib_mmoe_and_ple() {
    let (o, t) = preset("mmoe", "mtreclib").unwrap();
    assert_eq!(get(&o, "embed_dim"), Some(&Value::from(128u64)));
    assert_eq!(get(&o, "n_experts"), Some(&Value::from(8u64)));
    assert_eq!(get(&o, "expert"), Some(&widths(&[512, 256])));
    assert_eq!(get(&o, "tower"), Some(&widths(&[128, 64])));
    assert_eq!(get(&o, "dropout"), Some(&Value::from(0.2)));
    assert!(get(&o, "bottom").is_none(), "only keys the model has");
    assert_eq!(get(&t, "lr"), Some(&Value::from(1e-3)));
    assert_eq!(get(&t, "batch_size"), Some(&Value::from(2048u64)));
    let (p, _) = preset("ple", "mtreclib").unwrap();
    assert_eq!(get(&p, "levels"), Some(&Value::from(2u64)));
    assert_eq!(get(&p, "shared_experts"), Some(&Value::from(4u64)));
    assert_eq!(get(&p, "specific_experts"), Some(&Value::from(4u64)));
    let (sb, _) = preset("shared_bottom", "mtreclib").unwrap();
    assert_eq!(get(&sb, "bottom"), Some(&widths(&[512, 256])));
}

#[test]
fn aitm_official() {
    let (o, t) = preset("aitm", "aitm_official").unwrap();
    assert_eq!(get(&o, "embed_dim"), Some(&Value::from(5u64)));
    assert_eq!(get(&o, "tower"), Some(&widths(&[128, 64, 32])));
    assert_eq!(get(&o, "alpha_cal"), Some(&Value::from(0.6)));
    assert_eq!(get(&t, "batch_size"), Some(&Value::from(2000u64)));
    assert_eq!(
        get(&o, "dropout"),
        Some(&serde_yaml::from_str("[0.1, 0.3, 0.3]").unwrap())
    );
    assert_eq!(
        get(&t, "weight_decay_on"),
        Some(&serde_yaml::from_str("[embedding, attention]").unwrap())
    );
}

/// A preset on a model its library's code does not have is an error naming the models it
/// has.
#[test]
fn presets_apply_only_to_their_librarys_models() {
    assert_eq!(
        preset("mmoe", "aitm_official").unwrap_err().to_string(),
        "preset `aitm_official` is the AITM authors' code (AITM.py), which has no model `mmoe`; it has: aitm"
    );
    assert_eq!(
        preset("adatt", "mtreclib").unwrap_err().to_string(),
        "preset `mtreclib` is MTReclib main.py (Multitask-Recommendation-Library), which has no model `adatt`; it has: dnn, shared_bottom, mmoe, ple, aitm"
    );
    assert!(preset("htlnet", "mtreclib").is_err() && preset("esmm", "mtreclib").is_err());
}

#[test]
fn every_folder_has_its_librarys_presets_with_only_its_own_keys() {
    for e in registry() {
        let all: Mapping = serde_yaml::from_str(e.presets_yaml)
            .unwrap_or_else(|err| panic!("{}/presets.yaml: {err}", e.folder));
        let libs: Vec<&str> = all.keys().filter_map(Value::as_str).collect();
        let has: Vec<&str> = PRESETS
            .iter()
            .copied()
            .filter(|p| library(p).unwrap().has(e.name))
            .collect();
        assert_eq!(
            libs, has,
            "{}/presets.yaml lists exactly the libraries that have the model",
            e.folder
        );
        let defaults = (e.defaults)();
        for name in &has {
            let (o, _) = preset(e.name, name).unwrap();
            for k in o.keys() {
                assert!(
                    defaults.as_mapping().unwrap().contains_key(k),
                    "{} {name}: {k:?}",
                    e.name
                );
            }
            (e.resolve)(&Value::Mapping(o))
                .unwrap_or_else(|err| panic!("{} {name}: {err}", e.name));
        }
    }
}

#[test]
fn preset_errors_name_the_valid_presets_and_models() {
    assert_eq!(
        preset("mmoe", "fuxictr").unwrap_err().to_string(),
        "unknown preset `fuxictr`; valid presets: mtreclib, aitm_official"
    );
    assert_eq!(
        preset("mmoee", "mtreclib").unwrap_err().to_string(),
        "unknown model `mmoee`; registered models: htlnet, dnn, shared_bottom, mmoe, ple, adatt, esmm, aitm"
    );
}

/// The reproductions of issue 14 (accepted before, panicking or training a broken model):
/// each is now an option error naming the key, the value and the range.
#[test]
fn issue_14_reproductions_are_option_errors() {
    assert_eq!(
        resolve_err("htlnet", "{embed_dim: 0}"),
        "`embed_dim: 0` must be at least 1"
    );
    assert_eq!(
        resolve_err("shared_bottom", "{embed_dim: 0}"),
        "`embed_dim: 0` must be at least 1"
    );
    for model in ["htlnet", "shared_bottom", "mmoe", "dnn"] {
        for d in ["1.0", "1.5"] {
            let v = if d == "1.0" { "1" } else { d };
            assert_eq!(
                resolve_err(model, &format!("{{dropout: {d}}}")),
                format!("`dropout: {v}` must be in [0, 1)"),
                "{model}"
            );
        }
    }
    assert_eq!(
        resolve_err("htlnet", "{tower: [0]}"),
        "`tower: [0]` must be a non-empty list of widths, each at least 1"
    );
    assert_eq!(
        resolve_err("shared_bottom", "{tower: [0]}"),
        "`tower: [0]` must be a list of widths, each at least 1"
    );
    assert_eq!(
        resolve_err("shared_bottom", "{bottom: [8, 0]}"),
        "`bottom: [8, 0]` must be a list of widths, each at least 1"
    );
    assert_eq!(
        resolve_err("htlnet", "{architecture: shared_bottom, bottom: [0]}"),
        "`bottom: [0]` must be a list of widths, each at least 1"
    );
    assert_eq!(
        resolve_err("htlnet", "{tau_anneal: 0}"),
        "`tau_anneal: 0` must be in (0, 1]"
    );
    assert_eq!(
        resolve_err("htlnet", "{tau_start: 1, tau_min: 2}"),
        "`tau_min: 2` must be at most `tau_start` (1): the temperature anneals, never grows"
    );
    assert_eq!(
        resolve_err("htlnet", "{tau_min: -1}"),
        "`tau_min: -1` must be a finite number > 0"
    );
    assert_eq!(
        resolve_err("aitm", "{alpha_cal: -1.0}"),
        "`alpha_cal: -1` must be a finite number ≥ 0"
    );
    assert_eq!(
        resolve_err("htlnet", "{ifu: dot}"),
        "`ifu: dot` is not valid; use one of: attention, concat, none"
    );
}

#[test]
fn htlnet_shared_bottom_architecture_builds_a_shared_bottom_network() {
    let dev = Device::flex();
    let kinds = [Binary, Regression];
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let v: Value = serde_yaml::from_str(
        "{architecture: shared_bottom, embed_dim: 4, bottom: [8], tower: [4], dropout: 0.1}",
    )
    .unwrap();
    let m = build_model("htlnet", &v, &info(&kinds), &mut rng, &dev).unwrap();
    let AnyModel::SharedBottom(sb) = &m else {
        panic!("expected a Shared-Bottom network")
    };
    // The same network as `model: shared_bottom` with the same options and seed.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let v: Value =
        serde_yaml::from_str("{embed_dim: 4, bottom: [8], tower: [4], dropout: 0.1}").unwrap();
    let direct = build_model("shared_bottom", &v, &info(&kinds), &mut rng, &dev).unwrap();
    assert_eq!(sb.num_params(), direct.num_params());
    assert_eq!(m.shared_param_ids().len(), direct.shared_param_ids().len());
    // HtlNet's own build refuses it rather than silently building HTLNet.
    let c: crate::htlnet::HtlNetConfig = serde_yaml::from_value(v.clone()).unwrap_or_default();
    let c = crate::htlnet::HtlNetConfig {
        architecture: "shared_bottom".into(),
        ..c
    };
    let e = <crate::htlnet::HtlNetModel as ModelDef>::build(&c, &info(&kinds), &mut rng, &dev)
        .unwrap_err();
    assert!(e.to_string().contains("src/zoo/ablation.rs"), "{e}");
}

#[test]
fn build_errors_name_the_model_and_the_key() {
    let dev = Device::flex();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let v: Value = serde_yaml::from_str("{dropout: 2}").unwrap();
    let e = build_model("mmoe", &v, &info(&[Binary, Regression]), &mut rng, &dev).unwrap_err();
    assert_eq!(
        e.to_string(),
        "model `mmoe`, key `options`: `dropout: 2` must be in [0, 1)"
    );
    let e = build_model("nope", &v, &info(&[Binary]), &mut rng, &dev).unwrap_err();
    assert!(e
        .to_string()
        .starts_with("unknown model `nope`; registered models: htlnet"));
}

/// `dropout: 1.5` (and a bad entry of a per-layer list) is an option error naming the key on
/// every model.
#[test]
fn dropout_out_of_range_is_an_option_error_on_every_model() {
    for e in registry() {
        assert_eq!(
            resolve_err(e.name, "{dropout: 1.5}"),
            "`dropout: 1.5` must be in [0, 1)",
            "{}",
            e.name
        );
        if e.name != "htlnet" {
            assert_eq!(
                resolve_err(e.name, "{dropout: [0.1, 1.5]}"),
                "`dropout[1]: 1.5` must be in [0, 1)",
                "{}",
                e.name
            );
            assert!((e.resolve)(&serde_yaml::from_str("{dropout: [0.1, 0.3]}").unwrap()).is_ok());
        }
    }
}

/// `preset: mtreclib` on MMoE builds a batch-norm after every hidden linear layer of every
/// expert and tower.
#[test]
fn mtreclib_mmoe_builds_batch_norm_layers() {
    let (o, t) = preset("mmoe", "mtreclib").unwrap();
    assert_eq!(get(&t, "loss_reduction"), Some(&Value::from("mean")));
    let inf = info(&[Binary, Binary, Regression]);
    let dev = burn::tensor::Device::flex();
    let m = build_model(
        "mmoe",
        &Value::Mapping(o),
        &inf,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
        &dev,
    )
    .unwrap();
    let AnyModel::Mmoe(m) = m else { panic!("mmoe") };
    for ex in &m.experts {
        assert_eq!(ex.bns.len(), 2);
        assert_eq!(ex.dropout, vec![0.2, 0.2]);
    }
    for tw in &m.towers {
        assert_eq!(tw.mlp.bns.len(), 2);
    }
    let plain = build_model(
        "mmoe",
        &Value::Null,
        &inf,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
        &dev,
    )
    .unwrap();
    let AnyModel::Mmoe(p) = plain else {
        panic!("mmoe")
    };
    assert!(p.experts.iter().all(|e| e.bns.is_empty()));
}

/// MTReclib's AITM has a plain linear transfer without dropout on p; the official code's
/// ReLU transfer drops out with the last tower layer's rate.
#[test]
fn aitm_linear_transfer_has_no_dropout_on_p() {
    let inf = info(&[Binary, Binary, Regression]);
    let dev = burn::tensor::Device::flex();
    let build = |opts: &str| {
        let m = build_model(
            "aitm",
            &serde_yaml::from_str(opts).unwrap(),
            &inf,
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
            &dev,
        )
        .unwrap();
        let AnyModel::Aitm(a) = m else { panic!("aitm") };
        a.dropout
    };
    assert_eq!(build("{transfer: linear, dropout: 0.2}"), 0.0);
    assert_eq!(build("{transfer: relu, dropout: 0.2}"), 0.2);
    assert_eq!(build("{transfer: relu, dropout: [0.1, 0.3, 0.4]}"), 0.4);
}

/// `core_loss: ziln` gives the core task a three-output head in every registered model (and
/// in HTLNet's shared-bottom ablation and ESMM's expected-value core), the binary heads keep
/// one output, and the summed loss trains every head: finite, with gradients.
#[test]
fn ziln_widens_the_core_head_of_every_registered_model() {
    use crate::model::blocks::CoreHead;
    use crate::model::testutil::{batch, ctx};
    use crate::model::Pred;
    use burn::tensor::Device;
    let dev = Device::flex().autodiff();
    let kinds = [Binary, Binary, Regression];
    let mut cases: Vec<(&str, &str)> = registry().iter().map(|e| (e.name, "{}")).collect();
    cases.push(("htlnet", "{architecture: shared_bottom}"));
    cases.push(("esmm", "{core_mode: expected_value}"));
    for (name, options) in cases {
        let options: Value = serde_yaml::from_str(options).unwrap();
        for head in [
            CoreHead::Mse,
            CoreHead::Ziln {
                bias: [0.1, 0.2, 0.3],
            },
        ] {
            let mut inf = info(&kinds);
            inf.core_head = head;
            let m = build_model(
                name,
                &options,
                &inf,
                &mut rand_chacha::ChaCha8Rng::seed_from_u64(3),
                &dev,
            )
            .unwrap();
            let b = batch(&inf, 8, 5, &dev);
            let out = m.forward(&b, &mut ctx(1));
            for p in &out.preds[..2] {
                assert_eq!(p.tensor().map(|t| t.dims()), Some([8]), "{name}");
            }
            match (&out.preds[2], head) {
                (Pred::Value(v), CoreHead::Mse) => assert_eq!(v.dims(), [8], "{name}"),
                (Pred::Ziln(z), CoreHead::Ziln { .. }) => assert_eq!(z.dims(), [8, 3], "{name}"),
                (p, h) => panic!("{name} {options:?}: {h:?} gave {p:?}"),
            }
            // The labels of `batch` are standardised-ish (some < 0); the ZILN loss needs y ≥ 0.
            let mut b = b;
            b.labels[2] = b.labels[2].clone().clamp_min(0.0);
            let losses = crate::train::task_losses(&out, &b);
            let total = losses.into_iter().reduce(|a, b| a + b).unwrap();
            assert!(total.clone().into_scalar::<f32>().is_finite(), "{name}");
            let _ = total.backward();
        }
    }
}

/// ESMM's expected-value core with ZILN: p(y > 0) = P_k · sigmoid(z_p) never exceeds the
/// chain probability of the last binary task.
#[test]
fn esmm_expected_value_ziln_puts_p_through_the_chain() {
    use crate::model::blocks::CoreHead;
    use crate::model::testutil::{batch, ctx};
    use crate::model::Pred;
    use burn::tensor::activation::sigmoid;
    use burn::tensor::Device;
    let dev = Device::flex();
    let kinds = [Binary, Binary, Regression];
    let mut inf = info(&kinds);
    // A z_p bias of 5 makes sigmoid(z_p) ≈ 1, so p(y > 0) ≈ P_k.
    inf.core_head = CoreHead::Ziln {
        bias: [5.0, 0.0, 0.5],
    };
    let m = build_model(
        "esmm",
        &serde_yaml::from_str("{core_mode: expected_value, tower: []}").unwrap(),
        &inf,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
        &dev,
    )
    .unwrap();
    let b = batch(&inf, 16, 2, &dev);
    let out = m.forward(&b, &mut ctx(0));
    let (Pred::Prob(chain), Pred::Ziln(z)) = (&out.preds[1], &out.preds[2]) else {
        panic!("ESMM's predictions: {:?}", out.preds)
    };
    let p: Vec<f32> = sigmoid(z.clone().slice([0..16, 0..1]).squeeze_dim::<1>(1))
        .into_data()
        .try_into_vec()
        .unwrap();
    let chain: Vec<f32> = chain.clone().into_data().try_into_vec().unwrap();
    for (p, c) in p.iter().zip(&chain) {
        assert!(*p <= c + 1e-6 && *p > 0.9 * c, "p(y > 0) {p} vs P_k {c}");
    }
}

/// The one θ_s rule is available everywhere: every model with a `shared` option accepts both
/// `embedding` and `trunk` (AdaTT and AITM included), and its θ_s text (shown by
/// `htl models`) describes both.
#[test]
fn every_shared_option_takes_embedding_and_trunk() {
    let mut with_option = Vec::new();
    for e in registry() {
        let defaults = (e.defaults)();
        if defaults.get("shared").is_none() {
            continue;
        }
        with_option.push(e.name);
        for value in ["embedding", "trunk"] {
            let v: Value = serde_yaml::from_str(&format!("{{shared: {value}}}")).unwrap();
            let resolved = (e.resolve)(&v).unwrap_or_else(|err| panic!("{}: {err}", e.name));
            assert_eq!(resolved.get("shared"), Some(&Value::from(value)));
        }
        assert!(
            e.theta_s.contains("`shared: trunk`") && e.theta_s.contains("embedding"),
            "{}: {}",
            e.name,
            e.theta_s
        );
    }
    assert_eq!(
        with_option,
        ["shared_bottom", "mmoe", "ple", "adatt", "esmm", "aitm"]
    );
}

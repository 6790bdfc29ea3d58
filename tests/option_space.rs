//! Property test over the option space (issue 14): for every registered model and every
//! gradient strategy, random option values drawn from each option's documented type (the type
//! of its default) either fail validation when the experiment is read — with a one-line
//! message naming one of the keys drawn — or train two steps on a tiny synthetic set without
//! a panic and with finite losses.
//!
//! Nothing here lists a model, a key or a range: keys and types come from the zoo's defaults
//! and `GradSpec`'s serialisation, the values of enumerated keys from the model's own error
//! message. `HTL_PROPTEST_CASES` (per model and per strategy, default 30) and
//! `HTL_PROPTEST_SEED` explore further.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use burn::tensor::Device;
use htlbench::config::parse_experiment;
use htlbench::optim::GradSpec;
use htlbench::zoo::{registry, ModelEntry};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_yaml::{Mapping, Value};

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A random value of the same YAML type as `default`. Integers and widths come from a small
/// set that includes 0; reals from a set that includes negatives, 1, values above 1, NaN and
/// infinity; strings are one of `valid` or a made-up word.
fn draw(default: &Value, valid: &[String], rng: &mut ChaCha8Rng) -> Value {
    const INTS: [u64; 6] = [0, 1, 2, 3, 4, 7];
    const REALS: [f64; 11] = [
        -1.0,
        0.0,
        0.1,
        0.5,
        0.9,
        1.0,
        1.5,
        2.0,
        10.0,
        f64::NAN,
        f64::INFINITY,
    ];
    match default {
        Value::Bool(_) => Value::Bool(rng.random()),
        Value::Number(n) if n.is_u64() || n.is_i64() => {
            Value::from(INTS[rng.random_range(0..INTS.len())])
        }
        Value::Number(_) => Value::from(REALS[rng.random_range(0..REALS.len())]),
        Value::Sequence(_) => {
            let len = rng.random_range(0..=3);
            Value::Sequence(
                (0..len)
                    .map(|_| Value::from(INTS[rng.random_range(0..INTS.len())]))
                    .collect(),
            )
        }
        Value::String(_) => {
            if valid.is_empty() || rng.random_range(0..5) == 0 {
                Value::from("bogus")
            } else {
                Value::from(valid[rng.random_range(0..valid.len())].clone())
            }
        }
        other => panic!("option of undocumented type: {other:?}"),
    }
}

/// Small versions of the defaults (integers above 8 and every width become 4), so accepted
/// draws train fast.
fn small(defaults: &Mapping) -> Mapping {
    defaults
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Number(n) if n.as_u64().is_some_and(|x| x > 8) => Value::from(4u64),
                Value::Sequence(s) => {
                    Value::Sequence(s.iter().map(|_| Value::from(4u64)).collect())
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// The valid values of a string option, read from the model's own error message for an
/// invalid one ("… use one of: a, b").
fn valid_values(entry: &ModelEntry, key: &Value) -> Vec<String> {
    let mut m = Mapping::new();
    m.insert(key.clone(), Value::from("?"));
    match (entry.resolve)(&Value::Mapping(m)) {
        Err(e) => e
            .to_string()
            .split_once("use one of: ")
            .map(|(_, list)| list.split(", ").map(str::to_string).collect())
            .unwrap_or_default(),
        Ok(_) => Vec::new(),
    }
}

struct Case {
    model: String,
    options: Mapping,
    grad: Value,
    drawn: Vec<String>,
}

fn experiment(case: &Case) -> String {
    let mut variant = Mapping::new();
    variant.insert("label".into(), "v".into());
    variant.insert("model".into(), case.model.clone().into());
    variant.insert("options".into(), Value::Mapping(case.options.clone()));
    variant.insert("grad".into(), case.grad.clone());
    let text = serde_yaml::to_string(&Value::Sequence(vec![Value::Mapping(variant)])).unwrap();
    format!(
        "dataset: {{synthetic: {{rows: 600, seed: 3}}}}\n\
         train: {{epochs: 1, batch_size: 32, max_steps_per_epoch: 2, eval_batch_size: 512, grad_stats_every: 1}}\n\
         constant_reference: false\n\
         variants:\n{text}"
    )
}

/// Checks one case; returns whether it trained.
fn check(case: &Case, data: &htlbench::data::Dataset, dev: &Device) -> bool {
    let text = experiment(case);
    let exp = match parse_experiment(&text, Path::new("prop.yaml")) {
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "multi-line error for\n{text}\n{msg}");
            assert!(
                case.drawn.iter().any(|k| msg.contains(&format!("`{k}"))),
                "the error names none of the drawn keys {:?}:\n{text}\n{msg}",
                case.drawn
            );
            return false;
        }
        Ok(exp) => exp,
    };
    let cell = &exp.cells[0];
    let out = catch_unwind(AssertUnwindSafe(|| {
        htlbench::train::train_cell(cell, data, dev, &|_, _| {})
    }))
    .unwrap_or_else(|_| panic!("panic while training accepted options:\n{text}"))
    .unwrap_or_else(|e| panic!("accepted options failed to train: {e}\n{text}"));
    assert!(out.steps >= 1, "no step taken:\n{text}");
    for row in out.curves.iter().filter(|r| r.epoch > 0) {
        for l in row.train_loss.iter().chain(&row.valid_loss) {
            assert!(l.is_finite(), "non-finite loss {l}:\n{text}");
        }
    }
    true
}

#[test]
fn random_options_are_rejected_by_key_or_train_with_finite_losses() {
    let cases = env_or("HTL_PROPTEST_CASES", 30);
    let mut rng = ChaCha8Rng::seed_from_u64(env_or("HTL_PROPTEST_SEED", 14));
    let probe = experiment(&Case {
        model: "dnn".into(),
        options: Mapping::new(),
        grad: "sum".into(),
        drawn: vec![],
    });
    let exp = parse_experiment(&probe, Path::new("prop.yaml")).unwrap();
    let data = htlbench::data::load(&exp.dataset, &exp.base_dir).unwrap();
    let dev = Device::flex();

    let mut trained = 0;
    let mut rejected = 0;
    let mut tally = |ok: bool| if ok { trained += 1 } else { rejected += 1 };

    // Every model: a random subset of its options drawn, default strategy `sum`.
    for entry in registry() {
        let defaults = (entry.defaults)().as_mapping().cloned().unwrap();
        let base = small(&defaults);
        let valid: Vec<(Value, Vec<String>)> = defaults
            .keys()
            .map(|k| (k.clone(), valid_values(entry, k)))
            .collect();
        for _ in 0..cases {
            let mut options = base.clone();
            let mut drawn = Vec::new();
            for (k, values) in &valid {
                if rng.random_range(0..10) < 3 {
                    options.insert(k.clone(), draw(defaults.get(k).unwrap(), values, &mut rng));
                    drawn.push(k.as_str().unwrap().to_string());
                }
            }
            tally(check(
                &Case {
                    model: entry.name.into(),
                    options,
                    grad: "sum".into(),
                    drawn,
                },
                &data,
                &dev,
            ));
        }
    }

    // Every strategy: all of its options drawn, on a random model with small options.
    let modes = ["all".to_string(), "reduce".into(), "enlarge".into()];
    for name in ["sum", "pcgrad", "metabalance", "htl"] {
        let spec = GradSpec::from_yaml(&Value::from(name)).unwrap();
        let defaults = serde_yaml::to_value(&spec).unwrap();
        let defaults = defaults.as_mapping().unwrap();
        for _ in 0..cases {
            let mut grad = Mapping::new();
            let mut drawn = Vec::new();
            for (k, v) in defaults {
                if k.as_str() == Some("name") {
                    grad.insert(k.clone(), v.clone());
                } else {
                    grad.insert(k.clone(), draw(v, &modes, &mut rng));
                    drawn.push(k.as_str().unwrap().to_string());
                }
            }
            let entry = &registry()[rng.random_range(0..registry().len())];
            let defaults = (entry.defaults)().as_mapping().cloned().unwrap();
            tally(check(
                &Case {
                    model: entry.name.into(),
                    options: small(&defaults),
                    grad: Value::Mapping(grad),
                    drawn,
                },
                &data,
                &dev,
            ));
        }
    }
    eprintln!("option space: {trained} draws trained, {rejected} rejected");
    // The draws must exercise both outcomes.
    assert!(
        trained > 0 && rejected > 0,
        "trained {trained}, rejected {rejected}"
    );
}

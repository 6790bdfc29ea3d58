//! Published defaults of reference libraries, selectable per variant (`preset:`). A preset
//! fills model options and training keys; options the user writes override it.
//!
//! | preset | source | model options | train |
//! | --- | --- | --- | --- |
//! | `mtreclib` | MTReclib `main.py` (Multitask-Recommendation-Library) | embed 128, bottom/experts [512, 256], towers [128, 64], dropout 0.2, 8 experts, PLE 2 levels × (4 shared + 4 specific) | lr 1e-3, batch 2048 |
//! | `aitm_official` | the AITM authors' code (`AITM.py`) | embed 5, towers [128, 64, 32], calibrator 0.6, transfer dense + ReLU | lr 1e-3, batch 2000 |
//!
//! Only keys the model has are returned: `preset("esmm", "mtreclib")` gives ESMM's embedding
//! width, towers and dropout, not the expert counts. How each library's structure maps onto
//! our options (MTReclib's PLE levels, its AITM "bottom" then "tower") is spelt out below.

use serde_yaml::{Mapping, Value};

use super::find_model;

/// Names of the presets, in the order errors list them.
pub const PRESETS: &[&str] = &["mtreclib", "aitm_official"];

fn widths(w: &[u64]) -> Value {
    Value::Sequence(w.iter().map(|&x| Value::from(x)).collect())
}

fn map(pairs: Vec<(&str, Value)>) -> Mapping {
    pairs
        .into_iter()
        .map(|(k, v)| (Value::from(k), v))
        .collect()
}

/// Candidate model options of a preset for `model`, before filtering to the model's keys.
fn candidates(model: &str, name: &str) -> Mapping {
    match name {
        "mtreclib" => {
            // Common to every MTReclib model (main.py): embed_dim 128, dropout 0.2,
            // bottom_mlp_dims (512, 256), tower_mlp_dims (128, 64), expert_num 8.
            let mut m = map(vec![
                ("embed_dim", Value::from(128u64)),
                ("dropout", Value::from(0.2)),
                ("bottom", widths(&[512, 256])),
                ("tower", widths(&[128, 64])),
            ]);
            let extra = match model {
                // Every expert is the MLP bottom_mlp_dims.
                "mmoe" => map(vec![
                    ("n_experts", Value::from(8u64)),
                    ("expert", widths(&[512, 256])),
                ]),
                // One CGC level per entry of bottom_mlp_dims, each expert one layer of that
                // width; expert_num / 2 shared and specific experts.
                "ple" => map(vec![
                    ("levels", Value::from(2u64)),
                    ("shared_experts", Value::from(4u64)),
                    ("specific_experts", Value::from(4u64)),
                    ("expert", widths(&[512, 256])),
                    ("expert_layout", Value::from("split")),
                ]),
                // Not in MTReclib: laid out like its PLE (two levels 512 → 256, 4 experts per
                // task); shared experts keep AdaTT's default.
                "adatt" => map(vec![
                    ("levels", Value::from(2u64)),
                    ("task_experts", Value::from(4u64)),
                    ("expert", widths(&[512, 256])),
                    ("expert_layout", Value::from("split")),
                ]),
                // MTReclib's AITM: per-task bottom (512, 256) → AIT → tower (128, 64) → output;
                // transfer g is a plain linear layer; no calibrator in its loss.
                "aitm" => map(vec![
                    ("tower", widths(&[512, 256])),
                    ("head", widths(&[128, 64])),
                    ("transfer", Value::from("linear")),
                    ("alpha_cal", Value::from(0.0)),
                ]),
                _ => Mapping::new(),
            };
            m.extend(extra);
            m
        }
        "aitm_official" => {
            // AITM.py: embedding_dim 5, towers 128-64-32, info layer dense(32) + ReLU,
            // AIT on the conversion tower, dense(1) output, constraint weight 0.6.
            let mut m = map(vec![
                ("embed_dim", Value::from(5u64)),
                ("tower", widths(&[128, 64, 32])),
            ]);
            if model == "aitm" {
                m.extend(map(vec![
                    ("head", widths(&[])),
                    ("alpha_cal", Value::from(0.6)),
                    ("attention", Value::from("shared")),
                    ("transfer", Value::from("relu")),
                ]));
            }
            m
        }
        _ => Mapping::new(),
    }
}

/// Training keys of a preset (`lr`, `batch_size`).
fn train_keys(name: &str) -> Mapping {
    match name {
        "mtreclib" => map(vec![
            ("lr", Value::from(1e-3)),
            ("batch_size", Value::from(2048u64)),
        ]),
        "aitm_official" => map(vec![
            ("lr", Value::from(1e-3)),
            ("batch_size", Value::from(2000u64)),
        ]),
        _ => Mapping::new(),
    }
}

/// The preset `name` for `model`: `(model options, train keys)`. Model options hold only keys
/// the model has; merge them under the user's options (the user's win). Errors name the
/// unknown preset or model and list the valid ones.
pub fn preset(model: &str, name: &str) -> Result<(Mapping, Mapping), String> {
    if !PRESETS.contains(&name) {
        return Err(format!(
            "unknown preset `{name}`; valid presets: {}",
            PRESETS.join(", ")
        ));
    }
    let entry = find_model(model).ok_or_else(|| {
        let names: Vec<&str> = super::registry().iter().map(|e| e.name).collect();
        format!(
            "preset `{name}`: unknown model `{model}`; registered models: {}",
            names.join(", ")
        )
    })?;
    let defaults = (entry.defaults)();
    let keys = defaults.as_mapping().cloned().unwrap_or_default();
    let options = candidates(model, name)
        .into_iter()
        .filter(|(k, _)| keys.contains_key(k))
        .collect();
    Ok((options, train_keys(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::registry;

    fn get<'a>(m: &'a Mapping, k: &str) -> Option<&'a Value> {
        m.get(Value::from(k))
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
        let (m, _) = preset("mmoe", "aitm_official").unwrap();
        assert!(get(&m, "alpha_cal").is_none());
    }

    #[test]
    fn every_preset_resolves_for_every_model() {
        for e in registry() {
            for name in PRESETS {
                let (o, _) = preset(e.name, name).unwrap();
                let keys = (e.defaults)();
                for k in o.keys() {
                    assert!(
                        keys.as_mapping().unwrap().contains_key(k),
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
    fn errors_name_the_valid_presets_and_models() {
        let e = preset("mmoe", "fuxictr").unwrap_err();
        assert!(
            e.contains("`fuxictr`") && e.contains("mtreclib, aitm_official"),
            "{e}"
        );
        let e = preset("mmoee", "mtreclib").unwrap_err();
        assert!(e.contains("`mmoee`") && e.contains("mmoe"), "{e}");
    }
}

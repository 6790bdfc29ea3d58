//! Reference libraries whose published settings a variant can select (`preset:`). This file
//! owns the libraries, the models each one has and their *training* keys; each model folder
//! owns its own options under each library, in its `presets.yaml` (what the library's code
//! uses for that model), and the zoo (`crate::zoo::preset`) joins the two.
//!
//! Precedence, one rule for every key: model defaults < preset < experiment `train:` /
//! `base:` < the variant's own keys.
//!
//! | preset | source | models | train |
//! | --- | --- | --- | --- |
//! | `mtreclib` | MTReclib `main.py` (Multitask-Recommendation-Library) | dnn, shared_bottom, mmoe, ple, aitm | lr 1e-3, batch 2048, Adam weight_decay 1e-6 on every parameter, mean of task losses |
//! | `aitm_official` | the AITM authors' code (`AITM.py`) | aitm | lr 1e-3, batch 2000, L2 1e-6 on the embeddings and the attention, early stopping after 1 epoch without improvement |

use serde_yaml::Mapping;

/// A reference library.
#[derive(Debug, Clone, Copy)]
pub struct Library {
    /// The YAML `preset:` name.
    pub name: &'static str,
    /// Where its settings come from.
    pub source: &'static str,
    /// The registered models its code has (a preset applied to another model is an error).
    pub models: &'static [&'static str],
    /// Its training keys, as the YAML of a `train:` mapping.
    pub train_yaml: &'static str,
}

/// Every library, in the order errors list them.
pub const LIBRARIES: &[Library] = &[
    Library {
        name: "mtreclib",
        source: "MTReclib main.py (Multitask-Recommendation-Library)",
        models: &["dnn", "shared_bottom", "mmoe", "ple", "aitm"],
        train_yaml: "{lr: 0.001, batch_size: 2048, weight_decay: 0.000001, \
                     weight_decay_on: [all], loss_reduction: mean}",
    },
    Library {
        name: "aitm_official",
        source: "the AITM authors' code (AITM.py)",
        models: &["aitm"],
        train_yaml: "{lr: 0.001, batch_size: 2000, weight_decay: 0.000001, \
                     weight_decay_on: [embedding, attention], patience: 0}",
    },
];

/// Names of the presets, in the order errors list them.
pub const PRESETS: &[&str] = &["mtreclib", "aitm_official"];

/// Looks a library up by its `preset:` name.
pub fn library(name: &str) -> Option<&'static Library> {
    LIBRARIES.iter().find(|l| l.name == name)
}

impl Library {
    /// Its training keys as a YAML mapping under `train:`.
    pub fn train_keys(&self) -> Mapping {
        serde_yaml::from_str(self.train_yaml).expect("library train keys are valid YAML")
    }

    /// Whether its code has `model`.
    pub fn has(&self, model: &str) -> bool {
        self.models.contains(&model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml::Value;

    #[test]
    fn names_match_the_table() {
        let names: Vec<&str> = LIBRARIES.iter().map(|l| l.name).collect();
        assert_eq!(names, PRESETS);
        let t = library("aitm_official").unwrap().train_keys();
        assert_eq!(
            t.get(Value::from("batch_size")),
            Some(&Value::from(2000u64))
        );
        assert_eq!(t.get(Value::from("lr")), Some(&Value::from(1e-3)));
        assert_eq!(t.get(Value::from("patience")), Some(&Value::from(0u64)));
        let m = library("mtreclib").unwrap().train_keys();
        assert_eq!(m.get(Value::from("weight_decay")), Some(&Value::from(1e-6)));
        assert_eq!(
            m.get(Value::from("loss_reduction")),
            Some(&Value::from("mean"))
        );
        assert!(library("mtreclib").unwrap().has("mmoe"));
        assert!(!library("mtreclib").unwrap().has("adatt"));
        assert!(library("fuxictr").is_none());
    }
}

//! Reference libraries whose published settings a variant can select (`preset:`). This file
//! owns the libraries and their *training* keys; each model folder owns its own options under
//! each library, in its `presets.yaml` (what the library's code uses for that model), and the
//! zoo (`crate::zoo::preset`) joins the two. A preset fills model options and training keys;
//! options the user writes override it.
//!
//! | preset | source | train |
//! | --- | --- | --- |
//! | `mtreclib` | MTReclib `main.py` (Multitask-Recommendation-Library) | lr 1e-3, batch 2048 |
//! | `aitm_official` | the AITM authors' code (`AITM.py`) | lr 1e-3, batch 2000 |

use serde_yaml::{Mapping, Value};

/// A reference library.
#[derive(Debug, Clone, Copy)]
pub struct Library {
    /// The YAML `preset:` name.
    pub name: &'static str,
    /// Where its settings come from.
    pub source: &'static str,
    /// Learning rate of its published runs.
    pub lr: f64,
    /// Batch size of its published runs.
    pub batch_size: u64,
}

/// Every library, in the order errors list them.
pub const LIBRARIES: &[Library] = &[
    Library {
        name: "mtreclib",
        source: "MTReclib main.py (Multitask-Recommendation-Library)",
        lr: 1e-3,
        batch_size: 2048,
    },
    Library {
        name: "aitm_official",
        source: "the AITM authors' code (AITM.py)",
        lr: 1e-3,
        batch_size: 2000,
    },
];

/// Names of the presets, in the order errors list them.
pub const PRESETS: &[&str] = &["mtreclib", "aitm_official"];

/// Looks a library up by its `preset:` name.
pub fn library(name: &str) -> Option<&'static Library> {
    LIBRARIES.iter().find(|l| l.name == name)
}

impl Library {
    /// Its training keys (`lr`, `batch_size`) as a YAML mapping under `train:`.
    pub fn train_keys(&self) -> Mapping {
        let mut m = Mapping::new();
        m.insert(Value::from("lr"), Value::from(self.lr));
        m.insert(Value::from("batch_size"), Value::from(self.batch_size));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(library("fuxictr").is_none());
    }
}

//! What every model folder implements: [`ModelDef`] (name, summary, folder, default strategy,
//! θ_s, typed options, build, reference-library presets) and [`ModelOptions`] (the typed
//! options with their one `validate`). The zoo (`crate::zoo`) holds the one list of models
//! and generates the dispatch from it; this room knows no model.
//!
//! The range checks below are shared by every model so that the same mistake gives the same
//! one-line message everywhere: the YAML key, the value written and the valid range.

use std::fmt::Debug;

use burn::tensor::Device;
use rand_chacha::ChaCha8Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{BuildInfo, MultiTaskModel};

/// A model option outside its valid range. The message names the YAML key, the value and
/// what is valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    /// A value outside a range: "`dropout: 1.5` must be in [0, 1)".
    #[error("`{key}: {value}` must be {range}")]
    Range {
        /// YAML key.
        key: String,
        /// The value as written.
        value: String,
        /// The valid range, e.g. `in [0, 1)` or `at least 1`.
        range: String,
    },
    /// An enumerated option with an unknown value.
    #[error("`{key}: {value}` is not valid; use one of: {valid}")]
    Enum {
        /// YAML key.
        key: String,
        /// The value as written.
        value: String,
        /// The valid values, comma-separated.
        valid: String,
    },
    /// A rule over several keys (the message names them).
    #[error("{0}")]
    Rule(String),
}

/// A model that cannot be built for this data (e.g. a chain it does not support).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// The options are invalid.
    #[error(transparent)]
    Options(#[from] OptionError),
    /// The options are valid but do not fit the task chain or the data.
    #[error("{0}")]
    Unsupported(String),
}

/// Typed options of one model (YAML keys = field names, defaults filled in by `Default`).
///
/// Serialised, they are the resolved options stored in every cell's config and hashed into
/// its id, so a field's name, order and type are part of the results' identity.
pub trait ModelOptions:
    Serialize + DeserializeOwned + Default + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// Every range and cross-key rule of this model's options, in one place. Called when the
    /// experiment is read, so a bad value fails before any data is loaded.
    fn validate(&self) -> Result<(), OptionError>;
}

/// What a model folder implements. The zoo lists every implementor once.
pub trait ModelDef {
    /// YAML `model:` name.
    const NAME: &'static str;
    /// One line for `htl models`.
    const SUMMARY: &'static str;
    /// Folder holding the code and README, relative to the repository root.
    const FOLDER: &'static str;
    /// Gradient strategy used when a variant names none (a YAML `grad:` name).
    const DEFAULT_GRAD: &'static str;
    /// The shared parameters θ_s that per-task strategies act on, in words (the code is
    /// [`MultiTaskModel::shared_param_ids`]).
    const THETA_S: &'static str;
    /// The folder's `presets.yaml`: reference-library name → this model's options under
    /// that library (see `crate::model::presets` for the libraries and their training keys).
    const PRESETS_YAML: &'static str;
    /// Typed options.
    type Options: ModelOptions;
    /// The network.
    type Net: MultiTaskModel;
    /// Builds the network from validated options.
    fn build(
        options: &Self::Options,
        info: &BuildInfo,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> Result<Self::Net, ModelError>;
}

/// Checks an enumerated option.
pub fn check_enum(key: &str, value: &str, valid: &[&str]) -> Result<(), OptionError> {
    if valid.contains(&value) {
        Ok(())
    } else {
        Err(OptionError::Enum {
            key: key.into(),
            value: value.into(),
            valid: valid.join(", "),
        })
    }
}

/// Checks a dropout probability: `0 ≤ p < 1`.
pub fn check_dropout(p: f64) -> Result<(), OptionError> {
    check_range("dropout", p, RangeKind::HalfOpenUnit)
}

/// Checks a count that must be at least `min`.
pub fn check_at_least(key: &str, value: usize, min: usize) -> Result<(), OptionError> {
    if value >= min {
        Ok(())
    } else {
        Err(OptionError::Range {
            key: key.into(),
            value: value.to_string(),
            range: format!("at least {min}"),
        })
    }
}

/// Checks a list of hidden widths: every width ≥ 1, and at least one unless `may_be_empty`.
pub fn check_widths(key: &str, widths: &[usize], may_be_empty: bool) -> Result<(), OptionError> {
    if (!may_be_empty && widths.is_empty()) || widths.contains(&0) {
        let need = if may_be_empty {
            "a list of widths, each at least 1"
        } else {
            "a non-empty list of widths, each at least 1"
        };
        return Err(OptionError::Range {
            key: key.into(),
            value: format!("{widths:?}"),
            range: need.into(),
        });
    }
    Ok(())
}

/// The ranges real-valued options use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RangeKind {
    /// `[0, 1)`.
    HalfOpenUnit,
    /// `[0, 1]`.
    Unit,
    /// `(0, 1]`.
    PositiveUnit,
    /// `> 0` and finite.
    Positive,
    /// `≥ 0` and finite.
    NonNegative,
}

/// Checks a real-valued option against `kind` (NaN is always out of range).
pub fn check_range(key: &str, value: f64, kind: RangeKind) -> Result<(), OptionError> {
    let (ok, range) = match kind {
        RangeKind::HalfOpenUnit => ((0.0..1.0).contains(&value), "in [0, 1)"),
        RangeKind::Unit => ((0.0..=1.0).contains(&value), "in [0, 1]"),
        RangeKind::PositiveUnit => (value > 0.0 && value <= 1.0, "in (0, 1]"),
        RangeKind::Positive => (value > 0.0 && value.is_finite(), "a finite number > 0"),
        RangeKind::NonNegative => (value >= 0.0 && value.is_finite(), "a finite number ≥ 0"),
    };
    if ok {
        Ok(())
    } else {
        Err(OptionError::Range {
            key: key.into(),
            value: value.to_string(),
            range: range.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_key_value_and_range() {
        assert_eq!(
            check_dropout(1.5).unwrap_err().to_string(),
            "`dropout: 1.5` must be in [0, 1)"
        );
        assert_eq!(
            check_dropout(f64::NAN).unwrap_err().to_string(),
            "`dropout: NaN` must be in [0, 1)"
        );
        assert_eq!(
            check_widths("tower", &[0], true).unwrap_err().to_string(),
            "`tower: [0]` must be a list of widths, each at least 1"
        );
        assert_eq!(
            check_widths("expert", &[], false).unwrap_err().to_string(),
            "`expert: []` must be a non-empty list of widths, each at least 1"
        );
        assert_eq!(
            check_at_least("embed_dim", 0, 1).unwrap_err().to_string(),
            "`embed_dim: 0` must be at least 1"
        );
        assert_eq!(
            check_enum("ifu", "dot", &["attention", "concat"])
                .unwrap_err()
                .to_string(),
            "`ifu: dot` is not valid; use one of: attention, concat"
        );
        assert!(check_dropout(0.0).is_ok() && check_dropout(0.99).is_ok());
        assert!(check_range("tau_min", 0.0, RangeKind::Positive).is_err());
        assert!(check_range("alpha_cal", f64::INFINITY, RangeKind::NonNegative).is_err());
    }
}

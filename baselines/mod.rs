//! Baseline models, one folder each (code, README, defaults.yaml), compiled into the crate.

pub mod shared_bottom;

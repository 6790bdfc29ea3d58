//! The data room: dataset specs, loaders, presets of real data sets,
//! encoding, splits, the synthetic generator, the dataset cache and the
//! inspection table.
//!
//! How the pieces fit:
//!
//! ```text
//! DatasetSpec (YAML `dataset:`) ──load()──► Dataset { cat_fields, num_fields, tasks, train, valid, test }
//!   ├─ Synthetic ─► synthetic::generate() ──────────────┐
//!   ├─ Tabular ───► tabular::read_table() ──────────────┤
//!   └─ Preset ────► presets::ALL entry: read the release's┴─► encode::encode(): validate labels, split
//!                   files, join / aggregate, derive         (or take the release's own split),
//!                   labels                                  fit vocabularies / statistics on train, encode
//!
//! load_cached() = cache::cache_key() ─► hit: read the .htlds file │ miss: load() then store it
//! inspect()     = load_cached() ─► inspect::summarise() ─► format_inspection()
//! ```
//!
//! Files (one per layer; an arrow = may import, nothing points up; the test
//! `layering_tests` checks it):
//!
//! ```text
//! error, types ← spec ← io (io, csvread) ← split ← encode
//!   ← sources (synthetic, tabular, presets/*, source = DatasetSpec + load) ← cache ← inspect
//! ```
//!
//! This file only declares the modules and re-exports; no module imports
//! from it.
//!
//! Files and generated data take the same path after the `DataFrame`, so a
//! generated table written with [`synthetic::write_table`] and loaded back as
//! a tabular spec encodes the same way.
//!
//! ```no_run
//! use htlbench::data::{self, DatasetSpec};
//! let spec: DatasetSpec = serde_yaml::from_str("synthetic: { rows: 10000, seed: 3 }").unwrap();
//! let ds = data::load(&spec, std::path::Path::new(".")).unwrap();
//! assert_eq!(ds.train.n + ds.valid.n + ds.test.n, 10_000);
//!
//! // a real data set, through the cache ($HTL_CACHE_DIR or <repo>/.htl-cache)
//! let spec: DatasetSpec = serde_yaml::from_str("{preset: hillstrom}").unwrap();
//! let (ds, status) = data::load_cached(&spec, std::path::Path::new("."), true).unwrap();
//! println!("{status}");
//! print!("{}", data::format_inspection(&data::inspect::summarise(&ds, status)));
//! ```

pub mod cache;
pub(crate) mod csvread;
pub mod encode;
pub mod error;
pub mod inspect;
pub mod io;
pub mod presets;
pub mod source;
pub mod spec;
pub mod split;
pub mod synthetic;
pub mod tabular;
pub mod types;

pub use cache::{load_cached, CacheStatus};
pub use error::{DataError, Role};
pub use inspect::{format_inspection, inspect, Inspection};
pub use presets::{PresetRef, PresetSpec};
pub use source::{load, DatasetSpec};
pub use spec::{data_dir, NumericTransform, SplitSpec, TaskSpec, TimeType};
pub use synthetic::{Funnel, SyntheticConfig, SyntheticSpec};
pub use tabular::TabularSpec;
pub use types::{CatField, Dataset, Split, Task, TaskChain, TaskKind, TimeColumn};

#[cfg(test)]
mod bench_tests;
#[cfg(test)]
mod layering_tests;
#[cfg(test)]
mod preset_tests;
#[cfg(test)]
mod tests;

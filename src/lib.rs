//! # htlbench
//!
//! A benchmark suite for multi-task recommendation with *hybrid targets* — a chain of binary
//! user actions ending in a continuous core target — with the first open implementation of
//! HTLNet (Tang et al., RecSys 2024) beside the classic baselines.
//!
//! How the pieces fit: a YAML experiment ([`config`]) names a data set ([`data`]), model
//! variants ([`model`], [`htlnet`], [`baselines`], listed once in [`zoo`]) and seeds. It
//! expands into cells with stable ids; the runner ([`run`]) trains each unfinished cell
//! ([`train`], using a gradient strategy from [`optim`]), scores it with the metric catalogue
//! ([`metrics`]) and writes results atomically through the result store ([`store`]); the
//! report ([`report`]) reads only stored results. The command line ([`cli`]), device names
//! ([`device`]), benchmarks ([`bench`]) and the SLURM executor ([`slurm`]) sit at the edge;
//! [`util`] and [`build_info`] are below everything.
//!
//! Imports point one way (an arrow `A ← B`: B may import A; checked by
//! `tests/architecture.rs`):
//!
//! ```text
//! util, build_info ← metrics, optim, data ← model ← htlnet, baselines ← zoo ← config ← train ← run
//!                    store (util, data, metrics) ← run, report (store + metrics only)
//! cli, device, bench, slurm: the edge, may import anything
//! ```
//!
//! ```no_run
//! use std::path::Path;
//! let exp = htlbench::config::load_experiment(Path::new("experiments/quickstart.yaml")).unwrap();
//! let data = htlbench::data::load(&exp.dataset, &exp.base_dir).unwrap();
//! println!("{} cells over {} training rows", exp.cells.len(), data.train.n);
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod build_info;
pub mod cli;
pub mod config;
pub mod data;
pub mod device;
pub mod htlnet;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod report;
pub mod run;
pub mod slurm;
pub mod store;
pub mod train;
pub mod util;
pub mod zoo;

#[path = "../baselines/mod.rs"]
pub mod baselines;

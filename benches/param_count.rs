//! Parameter count of every registered model as `htl bench` builds it (same options, same
//! shape: `fields` categorical fields of `vocab` values, no numeric feature, the three bench
//! tasks click → long_view → watch_time), so that `benches/check_params.py` can compare the
//! PyTorch mirrors of `benches/models.py` with htl's models, parameter for parameter.
//!
//! ```sh
//! cargo run --release --example param_count -- --fields 20 --vocab 10000 --dim 16 [MODEL ...]
//! ```
//!
//! Output: CSV `model,params` on stdout, one row per model (default: every registered model).
//! A bad argument stops with a one-line message and exit code 2.

use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::Device;
use htlbench::bench::{bench_options, bench_tasks};
use htlbench::model::BuildInfo;
use htlbench::zoo::{build_model, registry};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `--fields`, `--vocab`, `--dim` and the models, or a one-line error.
fn parse(args: &[String]) -> Result<(usize, usize, usize, Vec<String>), String> {
    let (mut fields, mut vocab, mut dim) = (20usize, 10_000usize, 16usize);
    let mut models = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--fields" => &mut fields,
            "--vocab" => &mut vocab,
            "--dim" => &mut dim,
            s if s.starts_with("--") => {
                return Err(format!(
                    "param_count: unknown option {s}; valid: --fields, --vocab, --dim"
                ))
            }
            m => {
                models.push(m.to_string());
                continue;
            }
        };
        let v = it
            .next()
            .ok_or_else(|| format!("param_count: {a} needs a value (a positive integer)"))?;
        *slot = v
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("param_count: {a} {v:?} is not a positive integer"))?;
    }
    if models.is_empty() {
        models = registry().iter().map(|e| e.name.to_string()).collect();
    }
    Ok((fields, vocab, dim, models))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (fields, vocab, dim, models) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let tasks = bench_tasks();
    let info = BuildInfo {
        vocabs: vec![vocab; fields],
        n_numeric: 0,
        tasks,
        init_bias: vec![0.0; 3],
        core_head: htlbench::model::blocks::CoreHead::Mse,
    };
    println!("model,params");
    for m in &models {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        match build_model(m, &bench_options(m, dim), &info, &mut rng, &Device::flex()) {
            Ok(model) => println!("{m},{}", model.num_params()),
            Err(e) => {
                eprintln!("param_count: model {m:?}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

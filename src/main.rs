//! `htl`: parse the command line, run, print the error chain.

/// mimalloc instead of the system allocator: measured faster for burn-flex's many large
/// short-lived buffers (benches/README.md, attempts).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(e) = htlbench::cli::main() {
        eprintln!("htl: error: {}", htlbench::cli::error_line(&e));
        std::process::exit(match e.downcast_ref::<htlbench::cli::Exit>() {
            Some(x) => x.0,
            None => 2,
        });
    }
}

//! `htl`: parse the command line, run, print the error chain.

fn main() {
    if let Err(e) = htlbench::cli::main() {
        eprintln!("htl: error: {e:#}");
        std::process::exit(match e.downcast_ref::<htlbench::cli::Exit>() {
            Some(x) => x.0,
            None => 2,
        });
    }
}

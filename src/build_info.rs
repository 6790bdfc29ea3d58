//! What this binary was built from, recorded by `build.rs` at compile time.
//!
//! * [`GIT_REVISION`]: the commit of the source tree (`git rev-parse HEAD`),
//!   not the repository state when the binary runs.
//! * [`GIT_DIRTY`]: `true` when the compiled sources (`src/`, `baselines/`,
//!   `build.rs`, `Cargo.toml`, `Cargo.lock`) had uncommitted changes to
//!   tracked files at build time, else `false`.
//! * [`RUSTC_VERSION`], [`BURN_VERSION`], [`POLARS_VERSION`]: the compiler
//!   and the locked crate versions (read from `Cargo.lock`).
//!
//! Each is the text `unknown` when it cannot be found: built from a tarball
//! without `.git`, without `git` on the PATH, or without `Cargo.lock`. The
//! build script reruns when those sources, `Cargo.lock`, git's `HEAD`, index
//! or the current branch's ref change, so the values follow commits without
//! forcing a rebuild on every build.

include!(concat!(env!("OUT_DIR"), "/build_info.rs"));

/// `<revision>` or `<revision>-dirty` (or `unknown`), for one-line reports.
pub fn revision_label() -> String {
    match GIT_DIRTY {
        "true" => format!("{GIT_REVISION}-dirty"),
        _ => GIT_REVISION.to_string(),
    }
}

/// The flex backend's kernel features compiled in (they change floating-point summation
/// order, so results of builds that differ here differ in the last digits): `flex-fast` (the
/// default build) or `stable` (`--no-default-features`, the build the stored reference
/// results were made with; their manifests predate this entry).
pub const FLEX_KERNELS: &str = if cfg!(feature = "flex-fast") {
    "flex-fast (burn rayon, simd, x86-v4)"
} else {
    "stable (no flex-fast)"
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_recorded() {
        // A revision is a 40-hex hash or `unknown`; the dirty flag one of three words.
        assert!(
            GIT_REVISION == "unknown"
                || (GIT_REVISION.len() == 40
                    && GIT_REVISION.chars().all(|c| c.is_ascii_hexdigit())),
            "{GIT_REVISION}"
        );
        assert!(
            ["true", "false", "unknown"].contains(&GIT_DIRTY),
            "{GIT_DIRTY}"
        );
        assert!(RUSTC_VERSION.starts_with("rustc ") || RUSTC_VERSION == "unknown");
        // This repository has a Cargo.lock with both crates.
        assert!(BURN_VERSION.starts_with("0.22."), "{BURN_VERSION}");
        assert!(POLARS_VERSION.starts_with("0."), "{POLARS_VERSION}");
        assert!(revision_label().starts_with(GIT_REVISION));
    }
}

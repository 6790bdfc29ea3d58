//! Build script: records what the binary was built from, for `src/build_info.rs`
//! and the dataset cache.
//!
//! Writes two files to `OUT_DIR`:
//!
//! * `build_info.rs`: constants for the git revision and dirty flag of the
//!   compiled sources, the rustc version, and the burn and polars versions
//!   read from `Cargo.lock` (each `"unknown"` when it cannot be found, e.g. a
//!   source tarball without `.git`, or no `git` on the PATH).
//! * `data_sources.rs`: every file under `src/data/` (path and bytes, via
//!   `include_bytes!`), so the dataset cache fingerprint covers all of the
//!   data room's code without a hand-kept list.
//!
//! The script reruns only when its inputs change (see the `rerun-if-changed`
//! lines): the compiled sources, the manifest and lock file, and git's HEAD,
//! index and the ref HEAD points to. A plain rebuild with nothing changed
//! does not rerun it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Paths whose contents go into the binary: they decide the dirty flag and are watched.
const COMPILED: [&str; 5] = ["src", "baselines", "build.rs", "Cargo.toml", "Cargo.lock"];

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    for p in COMPILED {
        println!("cargo:rerun-if-changed={p}");
    }

    let (revision, dirty) = git_state(&root);
    let rustc = rustc_version();
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let burn = locked_version(&lock, "burn");
    let polars = locked_version(&lock, "polars");
    let info = format!(
        "/// Git revision (full hash) of the source tree the binary was built from, or `unknown`.\n\
         pub const GIT_REVISION: &str = {revision:?};\n\
         /// `true` / `false`: whether the compiled sources (src/, baselines/, build.rs, Cargo.toml, Cargo.lock) differed from that revision; `unknown` without git.\n\
         pub const GIT_DIRTY: &str = {dirty:?};\n\
         /// `rustc --version` of the compiler that built the binary, or `unknown`.\n\
         pub const RUSTC_VERSION: &str = {rustc:?};\n\
         /// The burn version in Cargo.lock, or `unknown`.\n\
         pub const BURN_VERSION: &str = {burn:?};\n\
         /// The polars version in Cargo.lock, or `unknown`.\n\
         pub const POLARS_VERSION: &str = {polars:?};\n"
    );
    write_if_changed(&out.join("build_info.rs"), &info);

    let mut files = Vec::new();
    list_files(&root.join("src/data"), &mut files);
    files.sort();
    let mut sources = String::from(
        "/// Every file under `src/data/`: (path relative to it, contents), sorted by path.\n\
         pub(crate) const DATA_SOURCES: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        let rel = f
            .strip_prefix(root.join("src/data"))
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        sources.push_str(&format!(
            "    ({rel:?}, include_bytes!({:?})),\n",
            f.to_string_lossy()
        ));
    }
    sources.push_str("];\n");
    write_if_changed(&out.join("data_sources.rs"), &sources);
}

/// Writes only when the text differs, so an unchanged file keeps its time stamp.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).expect("OUT_DIR is writable");
    }
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            list_files(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// Runs git in `root`; None when git is missing, fails, or prints nothing.
fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        // no index refresh: running the script must not touch a watched file
        .arg("--no-optional-locks")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// (revision, dirty), each `unknown` without a usable git repository.
fn git_state(root: &Path) -> (String, String) {
    let unknown = || ("unknown".to_string(), "unknown".to_string());
    // Only trust a repository whose top level is this package (not a parent
    // repository that happens to contain an unpacked tarball).
    let Some(top) = git(root, &["rev-parse", "--show-toplevel"]) else {
        return unknown();
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), root) {
        return unknown();
    }
    // Watch HEAD, the index and the ref HEAD points to (worktree-aware
    // paths); only files that exist, since cargo reruns for a missing one.
    let mut watch = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    watch.extend(git(root, &["symbolic-ref", "-q", "HEAD"]));
    for what in &watch {
        if let Some(p) = git(root, &["rev-parse", "--git-path", what]) {
            let p = root.join(p);
            if p.is_file() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let Some(rev) = git(root, &["rev-parse", "HEAD"]).filter(|r| !r.is_empty()) else {
        return unknown();
    };
    let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    args.extend(COMPILED);
    let dirty = match git(root, &args) {
        Some(s) => (!s.is_empty()).to_string(),
        None => "unknown".into(),
    };
    (rev, dirty)
}

fn rustc_version() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The version of package `name` in Cargo.lock text (the first entry of that name).
fn locked_version(lock: &str, name: &str) -> String {
    let want = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l.trim() == want {
            if let Some(v) = lines
                .next()
                .and_then(|v| v.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
            {
                return v.to_string();
            }
        }
    }
    "unknown".into()
}

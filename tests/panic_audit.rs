//! No `panic`, `unwrap` or `expect` reachable from user input (issue "No value the YAML accepts
//! may panic"): every such call in library code (outside tests) must be listed in
//! `tests/fixtures/panic_allowlist.txt` with the reason it cannot fail on any input — an
//! invariant the code itself establishes (a fixed-size slice, a constant that parses, a value
//! checked a few lines above). A new call fails this test until it is either replaced by an
//! error or listed with its reason, so a reviewer reads each one.
//!
//! The allowlist line format is `path | code | reason`, where `code` is the trimmed source
//! line. Lines are matched by path and code, so moving a call does not break the list.
//! What this check cannot see is covered by the property test over the option space
//! (`tests/option_space.rs`) and the runner, which records a panic inside a cell as that
//! cell's failure (`tests/run_panics.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const PATTERNS: &[&str] = &[
    ".unwrap()",
    ".expect(",
    "panic!(",
    "unreachable!(",
    "unimplemented!(",
    "todo!(",
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_name().unwrap().to_string_lossy();
    name == "tests.rs" || name.ends_with("_tests.rs") || name == "testutil.rs"
}

/// Trimmed source lines holding a pattern, outside comments and `#[cfg(test)]` items.
fn calls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth: i64 = 0;
    let mut skip_depth: Option<i64> = None;
    let mut pending = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("#[cfg(test)]") {
            pending = true;
            continue;
        }
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        if pending {
            if opens > 0 {
                skip_depth = Some(depth);
                pending = false;
            } else if t.ends_with(';') {
                pending = false;
            }
        }
        let code = t.split("//").next().unwrap_or("");
        if skip_depth.is_none() && !t.starts_with("//") && PATTERNS.iter().any(|p| code.contains(p))
        {
            out.push(t.to_string());
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
        }
    }
    out
}

#[test]
fn every_panic_site_in_library_code_is_listed_with_its_reason() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list_path = root.join("tests/fixtures/panic_allowlist.txt");
    let list = std::fs::read_to_string(&list_path).unwrap();
    let mut allowed: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, line) in list.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").collect();
        assert!(
            parts.len() == 3 && !parts[2].trim().is_empty(),
            "{}:{}: expected `path | code | reason`",
            list_path.display(),
            i + 1
        );
        *allowed
            .entry((parts[0].to_string(), parts[1].to_string()))
            .or_default() += 1;
    }
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    rs_files(&root.join("baselines"), &mut files);
    files.sort();
    let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
    for f in files.iter().filter(|f| !is_test_file(f)) {
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        for code in calls(&std::fs::read_to_string(f).unwrap()) {
            *found.entry((rel.clone(), code)).or_default() += 1;
        }
    }
    let mut unlisted = Vec::new();
    for (k, n) in &found {
        let ok = allowed.get(k).copied().unwrap_or(0);
        if *n > ok {
            unlisted.push(format!("{} | {} | <why it cannot fail>", k.0, k.1));
        }
    }
    let stale: Vec<String> = allowed
        .iter()
        .filter(|(k, n)| found.get(*k).copied().unwrap_or(0) < **n)
        .map(|(k, _)| format!("{} | {}", k.0, k.1))
        .collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "panic sites not in tests/fixtures/panic_allowlist.txt (replace with an error, or list with the reason):\n{}\n\nlisted but no longer in the code:\n{}",
        unlisted.join("\n"),
        stale.join("\n")
    );
}

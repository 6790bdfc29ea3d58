//! The rooms of the crate and the directions their imports may take (README "Architecture").
//!
//! Every `crate::<room>` path in a room's source files is an import of that room. The table
//! below lists, for each room, the rooms it may import; anything else fails this test with
//! the file and line, and the imports actually present must form no cycle between rooms.
//! Test modules (`tests.rs`, `*_tests.rs`, `#[cfg(test)]` blocks) may reach further and are
//! not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `room -> rooms it may import`. An arrow in the README's picture is one entry here.
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut m = BTreeMap::new();
    m.insert("build_info", vec![]);
    m.insert("util", vec![]);
    m.insert("metrics", vec!["util"]);
    m.insert("optim", vec!["util"]);
    m.insert("data", vec!["util", "build_info"]);
    m.insert("model", vec!["util", "data"]);
    m.insert("htlnet", vec!["util", "data", "model"]);
    m.insert("baselines", vec!["util", "data", "model"]);
    m.insert(
        "zoo",
        vec!["util", "data", "model", "optim", "htlnet", "baselines"],
    );
    m.insert(
        "config",
        vec!["util", "data", "metrics", "optim", "model", "zoo"],
    );
    m.insert(
        "train",
        vec!["util", "data", "metrics", "optim", "model", "zoo", "config"],
    );
    m.insert("store", vec!["util", "build_info", "data", "metrics"]);
    m.insert(
        "run",
        vec![
            "util",
            "build_info",
            "data",
            "metrics",
            "optim",
            "model",
            "zoo",
            "config",
            "train",
            "store",
        ],
    );
    m.insert("report", vec!["util", "store", "metrics"]);
    let everything = vec![
        "util",
        "build_info",
        "data",
        "metrics",
        "optim",
        "model",
        "htlnet",
        "baselines",
        "zoo",
        "config",
        "train",
        "store",
        "run",
        "report",
    ];
    // At the edge: may import anything below them (but nothing imports them except `cli`).
    let mut edge = everything.clone();
    m.insert("bench", edge.clone());
    m.insert("device", edge.clone());
    edge.extend(["bench", "device"]);
    m.insert("slurm", edge.clone());
    edge.push("slurm");
    m.insert("cli", edge);
    m
}

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

/// The room a source file belongs to: `src/<room>/…`, `src/<room>.rs`, or `baselines/…`.
fn room_of(root: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root).ok()?;
    let mut parts = rel.iter().map(|s| s.to_string_lossy().into_owned());
    match parts.next()?.as_str() {
        "baselines" => Some("baselines".into()),
        "src" => {
            let first = parts.next()?;
            let room = first.trim_end_matches(".rs").to_string();
            if room == "lib" || room == "main" {
                None
            } else {
                Some(room)
            }
        }
        _ => None,
    }
}

fn is_test_file(file: &Path) -> bool {
    let name = file.file_name().unwrap().to_string_lossy();
    name == "tests.rs" || name.ends_with("_tests.rs") || name == "testutil.rs"
}

/// Lines (0-based) inside `#[cfg(test)]` items, which may import anything.
fn test_lines(text: &str) -> BTreeSet<usize> {
    let mut skipped = BTreeSet::new();
    let mut skip_depth: Option<i64> = None;
    let mut depth: i64 = 0;
    let mut pending = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            pending = true;
            skipped.insert(i);
            continue;
        }
        let opens = line.matches('{').count() as i64;
        let closes = line.matches('}').count() as i64;
        if pending {
            skipped.insert(i);
            if opens > 0 {
                skip_depth = Some(depth);
                pending = false;
            } else if trimmed.ends_with(';') {
                pending = false; // `#[cfg(test)] mod tests;` or a one-line item
            }
        }
        if skip_depth.is_some() {
            skipped.insert(i);
        }
        depth += opens - closes;
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
        }
    }
    skipped
}

/// The leading identifier of `s`.
fn ident(s: &str) -> String {
    s.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// `(line number, room)` for every `crate::<room>` path and every top-level item of a
/// `crate::{…}` group (over several lines too), outside comments and `#[cfg(test)]` items.
fn imports(text: &str) -> Vec<(usize, String)> {
    let skipped = test_lines(text);
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |pos: usize| line_starts.partition_point(|&s| s <= pos) - 1;
    let mut out = Vec::new();
    for (pos, _) in text.match_indices("crate::") {
        let line = line_of(pos);
        let line_text = &text[line_starts[line]..];
        if skipped.contains(&line) || line_text.trim_start().starts_with("//") {
            continue;
        }
        let after = &text[pos + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            // Split the group's top level at commas.
            let mut depth = 0;
            let mut item_start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push((line + 1, ident(&group[item_start..j])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((line + 1, ident(&group[item_start..j])));
                        item_start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((line + 1, ident(after)));
        }
    }
    out.retain(|(_, r)| !r.is_empty());
    out
}

#[test]
fn rooms_import_only_in_the_allowed_directions_and_without_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let allowed = allowed();
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    rs_files(&root.join("baselines"), &mut files);
    files.sort();
    let mut violations = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        if is_test_file(file) {
            continue;
        }
        let Some(room) = room_of(root, file) else {
            continue;
        };
        let Some(may) = allowed.get(room.as_str()) else {
            violations.push(format!(
                "{}: room `{room}` is not in the architecture table (tests/architecture.rs, README \"Architecture\")",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in imports(&text) {
            if target == room || !allowed.contains_key(target.as_str()) {
                continue; // own room, or a crate-level item such as a macro
            }
            edges
                .entry(room.clone())
                .or_default()
                .insert(target.clone());
            if !may.contains(&target.as_str()) {
                violations.push(format!(
                    "{}:{line}: `{room}` imports `{target}`, which it may not (allowed: {})",
                    file.strip_prefix(root).unwrap().display(),
                    may.join(", ")
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "import directions violated:\n{}",
        violations.join("\n")
    );
    // No cycles among the imports actually present (depth-first search).
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            return Some(stack[i..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        let cycle = visit(n, &edges, &mut Vec::new(), &mut done);
        assert!(cycle.is_none(), "import cycle between rooms: {cycle:?}");
    }
}

#[test]
fn the_import_scanner_skips_test_blocks_and_reads_groups() {
    let text = "use crate::data::Task;\nuse crate::{\n    metrics,\n    optim::{Sum, Pc},\n};\n// crate::run\n#[cfg(test)]\nmod tests {\n    use crate::run::X;\n}\nfn f() { crate::util::g(); }\n";
    let got: Vec<(usize, String)> = imports(text);
    let want: Vec<(usize, String)> = [(1, "data"), (2, "metrics"), (2, "optim"), (11, "util")]
        .into_iter()
        .map(|(l, r)| (l, r.to_string()))
        .collect();
    assert_eq!(got, want);
}

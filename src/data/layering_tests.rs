//! The data room's import rule, checked on the source files: every file has
//! a layer, imports only point to its own layer or below, and the imports
//! form no cycle. A new file without a layer fails here (a new preset file
//! under `presets/` is a source and needs nothing).
//!
//! ```text
//! 0 error, types ← 1 spec ← 2 io, csvread ← 3 split, encode
//!   ← 4 synthetic, tabular, presets/*, source ← 5 cache, inspect      (6: mod.rs, the facade)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Test files: not part of the layering.
const TESTS: [&str; 4] = [
    "tests.rs",
    "preset_tests.rs",
    "bench_tests.rs",
    "layering_tests.rs",
];

/// The layer of a module key (`error`, `presets/avs`; `` is `data/mod.rs`).
fn layer(key: &str) -> Option<u8> {
    Some(match key {
        "error" | "types" => 0,
        "spec" => 1,
        "io" | "csvread" => 2,
        "split" | "encode" => 3,
        "synthetic" | "tabular" | "source" => 4,
        k if k == "presets" || k.starts_with("presets/") => 4,
        "cache" | "inspect" => 5,
        "" => 6,
        _ => return None,
    })
}

/// Every file of the room as (module key, path), tests excluded.
fn modules() -> BTreeMap<String, std::path::PathBuf> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, &format!("{prefix}{name}/"), out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                if prefix.is_empty() && TESTS.contains(&name.as_str()) {
                    continue;
                }
                let key = if stem == "mod" {
                    prefix.trim_end_matches('/').to_string()
                } else {
                    format!("{prefix}{stem}")
                };
                out.insert(key, p);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/data"),
        "",
        &mut out,
    );
    out
}

/// The code of a file without comment lines and without its trailing
/// `#[cfg(test)] mod tests { ... }`.
fn code(text: &str) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        if t == "#[cfg(test)]"
            && lines
                .get(i + 1)
                .is_some_and(|n| n.trim_start().starts_with("mod tests {"))
        {
            break;
        }
        if !t.starts_with("//") {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// The first path segments of each entry after a `prefix::` (a `{...}` group
/// gives one list per top-level entry).
fn entries(rest: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> Vec<String> {
        let mut segs = Vec::new();
        let mut cur = s;
        loop {
            let end = cur
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(cur.len());
            if end == 0 {
                break;
            }
            segs.push(cur[..end].to_string());
            match cur[end..].strip_prefix("::") {
                Some(r) if r.starts_with(|c: char| c.is_alphanumeric() || c == '_') => cur = r,
                _ => break,
            }
        }
        segs
    };
    let rest = rest.trim_start();
    let Some(group) = rest.strip_prefix('{') else {
        return vec![ident(rest)];
    };
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(ident(group[start..i].trim()));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(ident(group[start..i].trim()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.retain(|e| !e.is_empty());
    out
}

/// The modules `key`'s file refers to through `super::` or `crate::data::`.
fn imports(key: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    // A file `a/b.rs` is module a::b; `a/mod.rs` is module a.
    let own: Vec<&str> = if key.is_empty() {
        vec![]
    } else {
        key.split('/').collect()
    };
    let code = code(text);
    let mut out = BTreeSet::new();
    let mut pos = 0;
    while pos < code.len() {
        let rest = &code[pos..];
        let (base, after): (Vec<&str>, usize) = if let Some(r) = rest.strip_prefix("crate::data::")
        {
            (vec![], code.len() - r.len())
        } else if rest.starts_with("super::")
            && !code[..pos].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        {
            let mut r = rest;
            let mut base = own.clone();
            while let Some(x) = r.strip_prefix("super::") {
                base.pop();
                r = x;
            }
            (base, code.len() - r.len())
        } else {
            pos += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        for segs in entries(&code[after..]) {
            let mut target = base.clone();
            for s in &segs {
                let mut t = target.clone();
                t.push(s.as_str());
                if known.contains(&t.join("/")) {
                    target = t;
                } else {
                    break;
                }
            }
            out.insert(target.join("/"));
        }
        pos = after;
    }
    // Children named by relative paths (`common::Folder` in presets/mod.rs).
    for k in known {
        let Some(child) = k
            .strip_prefix(&format!("{key}/"))
            .filter(|c| !c.is_empty() && !c.contains('/') && !key.is_empty())
        else {
            continue;
        };
        let pat = format!("{child}::");
        let hit = code.match_indices(&pat).any(|(i, _)| {
            !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
        });
        if hit {
            out.insert(k.clone());
        }
    }
    out.remove(key);
    out
}

#[test]
fn imports_point_down_and_form_no_cycle() {
    let mods = modules();
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, path) in &mods {
        assert!(
            layer(key).is_some(),
            "src/data file {} has no layer: add it to `layer` in layering_tests.rs",
            path.display()
        );
        if key.is_empty() {
            continue; // the facade declares and re-exports; nothing may import it
        }
        let text = std::fs::read_to_string(path).unwrap();
        graph.insert(key.clone(), imports(key, &text, &known));
    }
    // The parser sees real edges (so the checks below are not vacuous).
    for (from, to) in [
        ("cache", "source"),
        ("presets/hillstrom", "tabular"),
        ("presets/avs", "presets/common"),
        ("encode", "split"),
        ("source", "presets"),
        ("presets", "presets/hillstrom"),
    ] {
        assert!(graph[from].contains(to), "{from} → {to}: {:?}", graph[from]);
    }
    for (from, tos) in &graph {
        for to in tos {
            let (a, b) = (layer(from).unwrap(), layer(to).unwrap());
            assert!(
                b <= a,
                "src/data/{from} (layer {a}) imports `{}` (layer {b}): imports must point down",
                if to.is_empty() { "data/mod.rs" } else { to }
            );
        }
    }
    // No cycle: repeatedly remove modules that import nothing left.
    let mut left = graph.clone();
    while !left.is_empty() {
        let free: Vec<String> = left
            .iter()
            .filter(|(_, tos)| tos.iter().all(|t| !left.contains_key(t)))
            .map(|(k, _)| k.clone())
            .collect();
        assert!(!free.is_empty(), "import cycle among {:?}", left.keys());
        for k in free {
            left.remove(&k);
        }
    }
}

#[test]
fn import_parser() {
    let known: BTreeSet<String> = ["encode", "spec", "presets", "presets/common", "types"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let text = "use super::encode::{self, Layout};\n\
                use super::{spec::X, types::Y};\n\
                // use super::cache;\n\
                fn f() { crate::data::presets::common::g(); }\n";
    let got = imports("tabular", text, &known);
    let want: BTreeSet<String> = ["encode", "spec", "types", "presets/common"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, want);
    // an item of the parent module is an import of the parent's file
    let got = imports("presets/avs", "use super::{Folder, PresetSpec};", &known);
    assert_eq!(got, BTreeSet::from(["presets".to_string()]));
    let got = imports("presets/avs", "use super::super::spec::X;", &known);
    assert_eq!(got, BTreeSet::from(["spec".to_string()]));
}

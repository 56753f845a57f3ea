//! The layout's one rule, checked: no import cycles between modules. Modules that share a parent
//! (`server::hub::commit` and `server::hub::room`, `server::http` and `server::ws`, `client` and
//! `ui`) may depend on each other one way only; a child may use its parent's items, and a parent
//! its children's (that is what a module is). Read from the source's own paths: every `use` (with
//! its braces expanded) and every `crate::`/`super::` path in code, comments and tests left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path from the crate root (`["server", "hub", "commit"]`).
type ModPath = Vec<String>;

/// Every source file of the library, with the module it is.
fn modules(src: &Path) -> Vec<(PathBuf, ModPath)> {
    let mut found = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(src).expect("under src").to_path_buf();
            if path.is_dir() {
                // The binaries are not the library's modules.
                if rel != Path::new("bin") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || rel == Path::new("main.rs") {
                continue;
            }
            let mut parts: ModPath = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            // Test modules may reach anywhere: they are not the layout.
            if parts.iter().any(|p| p == "tests" || p == "testing") {
                continue;
            }
            found.push((path, parts));
        }
    }
    found
}

/// The code of a file without comments and without its inline `#[cfg(test)]` module.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut test_next = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find(" //") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        if trimmed.starts_with("#[cfg(test)]") {
            test_next = true;
            continue;
        }
        let opens = line.matches('{').count();
        let closes = line.matches('}').count();
        if test_next && trimmed.starts_with("mod ") && opens > closes {
            skip_depth = Some(depth);
        }
        test_next = false;
        depth = (depth + opens).saturating_sub(closes);
        if let Some(at) = skip_depth {
            if depth <= at {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Expands a `use` tree (`crate::a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..]
        .strip_suffix('}')
        .unwrap_or(&tree[open + 1..]);
    let mut parts = Vec::new();
    let (mut level, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{p}")))
        .collect()
}

/// Every `crate::`/`super::`/`self::` path a file's code names.
fn paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    // `use` statements, braces and all.
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree = rest[..end].trim();
        if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::")
        {
            found.extend(expand(tree));
        }
        rest = &rest[end..];
    }
    // Paths written in code.
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(start) {
            let at = from + at;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            // `crate::{a, b}`: a `use` tree, read above.
            if code[from..].starts_with('{') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            found.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    found
}

/// `path` as written in module `from`, from the crate root.
fn resolve(from: &ModPath, path: &str) -> ModPath {
    let mut segments = path.split("::").filter(|s| !s.is_empty());
    let mut at: ModPath = match segments.next() {
        Some("crate") => Vec::new(),
        Some("self") => from.clone(),
        Some("super") => from[..from.len().saturating_sub(1)].to_vec(),
        _ => return Vec::new(),
    };
    for segment in segments {
        if segment == "super" {
            at.pop();
        } else {
            at.push(segment.to_owned());
        }
    }
    at
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let known: BTreeSet<ModPath> = files.iter().map(|(_, m)| m.clone()).collect();
    // Per parent: an edge between two of its children, with where it was seen.
    let mut edges: BTreeMap<ModPath, BTreeMap<(String, String), String>> = BTreeMap::new();
    for (file, module) in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for path in paths(&code(&text)) {
            let target = resolve(module, &path);
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            // A child using its parent, or a parent its child: not between siblings.
            if common >= module.len() || common >= target.len() {
                continue;
            }
            let parent = module[..common].to_vec();
            let (from, to) = (module[common].clone(), target[common].clone());
            let mut child = parent.clone();
            child.push(to.clone());
            if !known.contains(&child) {
                // An item of the parent (`crate::server::AppState`-like), not a module.
                continue;
            }
            edges
                .entry(parent)
                .or_default()
                .entry((from, to))
                .or_insert_with(|| {
                    format!(
                        "{} uses {path}",
                        file.strip_prefix(&src).unwrap_or(file).display()
                    )
                });
        }
    }
    let mut cycles = Vec::new();
    for (parent, pairs) in &edges {
        for ((a, b), seen) in pairs {
            // A cycle of any length among siblings: b reaches a.
            let mut reach = vec![b.clone()];
            let mut visited = BTreeSet::new();
            let mut back = None;
            while let Some(node) = reach.pop() {
                if !visited.insert(node.clone()) {
                    continue;
                }
                for ((x, y), how) in pairs {
                    if *x == node {
                        if y == a {
                            back = Some(how.clone());
                        }
                        reach.push(y.clone());
                    }
                }
            }
            if let Some(back) = back {
                if a < b {
                    cycles.push(format!(
                        "{}: {a} <-> {b} ({seen}; and {back})",
                        if parent.is_empty() {
                            "crate".to_owned()
                        } else {
                            parent.join("::")
                        }
                    ));
                }
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between modules:\n  {}",
        cycles.join("\n  ")
    );
}

#[test]
fn paths_resolve_as_rust_resolves_them() {
    // The parser itself: a `use` tree and paths in code resolve to the modules they name.
    let code = code(
        "use crate::{server::hub::{Hub, room::Room}, chat};\n// use crate::ui;\n\
         fn f() { super::commit::Queue::new(); crate::client::x(); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::ui::App;\n}\n",
    );
    let from: ModPath = vec!["server".into(), "hub".into(), "repair".into()];
    let resolved: BTreeSet<ModPath> = paths(&code).iter().map(|p| resolve(&from, p)).collect();
    let expected: BTreeSet<ModPath> = [
        vec!["server", "hub", "Hub"],
        vec!["server", "hub", "room", "Room"],
        vec!["chat"],
        vec!["server", "hub", "commit", "Queue", "new"],
        vec!["client", "x"],
    ]
    .into_iter()
    .map(|p| p.into_iter().map(str::to_owned).collect())
    .collect();
    assert_eq!(resolved, expected, "comments and test modules are left out");
}

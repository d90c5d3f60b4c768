//! Every dependency a crate of the workspace declares is used by that
//! crate's code (as `cargo-machete` checks): its name, as Rust spells it,
//! appears, outside comments, in a path, a `use` or an `extern crate` of
//! the package's sources (for `[build-dependencies]`, of its `build.rs`).
//! Every dependency section counts, `[target.'cfg(..)'.dependencies]` and
//! `[dependencies.name]` included. A dependency kept for another reason is
//! listed in `KEPT`, with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Dependencies declared without being named by the code, and why.
/// A manifest ending in `/*` stands for every package under that
/// directory.
const KEPT: &[(&str, &str, &str)] = &[
    (
        "crates/liveswap-macros",
        "syn3",
        "asks syn 3 for \"full\" as the library's thiserror and the workspace's clap do, so \
         that one build of syn 3 serves the workspace, the demo and a plugin built alone",
    ),
    (
        "tests/fixtures/*",
        "liveswap",
        "a fixture plugin made by a `fixture_api` or `rules_api` macro (`greeter_plugin!`) \
         names `liveswap` only through the macro's expansion, which needs it",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The workspace's members, and the fixture plugins' workspace's.
fn manifests() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for workspace in [root(), root().join("tests/fixtures")] {
        let text = std::fs::read_to_string(workspace.join("Cargo.toml")).expect("read");
        let members = text
            .split("members = [")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .expect("a members list");
        for member in members.split(',') {
            let member = member.trim().trim_matches('"');
            if let Some(parent) = member.strip_suffix("/*") {
                let dirs = std::fs::read_dir(workspace.join(parent)).expect("a member glob");
                out.extend(
                    dirs.flatten()
                        .map(|d| d.path().join("Cargo.toml"))
                        .filter(|m| m.exists()),
                );
            } else if !member.is_empty() {
                out.push(workspace.join(member).join("Cargo.toml"));
            }
        }
    }
    out
}

/// The dependencies a manifest declares, by section, as Rust names them.
fn declared(manifest: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut out: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut section = None;
    for line in manifest.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']');
            // `target.'cfg(unix)'.dependencies` counts as `dependencies`.
            let header = match header.strip_prefix("target.") {
                Some(rest) => rest.rsplit_once("'.").map_or(rest, |(_, kind)| kind),
                None => header,
            };
            let (kind, named) = match header.split_once('.') {
                Some((kind, name)) => (kind, Some(name)),
                None => (header, None),
            };
            section = match kind {
                "dependencies" => Some("dependencies"),
                "dev-dependencies" => Some("dev-dependencies"),
                "build-dependencies" => Some("build-dependencies"),
                _ => None,
            };
            // `[dependencies.name]`: the dependency is the header's.
            if let (Some(section), Some(name)) = (section, named) {
                out.entry(section).or_default().push(name.replace('-', "_"));
            }
            if named.is_some() {
                section = None;
            }
            continue;
        }
        let Some(section) = section else { continue };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, _)) = line.split_once('=') {
            let key = key.trim().split('.').next().unwrap_or_default();
            out.entry(section).or_default().push(key.replace('-', "_"));
        }
    }
    out
}

/// The `path` of a manifest's `[lib]` section, if it names one.
fn lib_path(manifest: &str) -> Option<&str> {
    let lib = manifest.split("[lib]").nth(1)?;
    let lib = lib.split("\n[").next()?;
    lib.lines()
        .find_map(|l| l.trim().strip_prefix("path = "))
        .map(|p| p.trim_matches('"'))
}

/// The Rust sources under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // Another package's directory (its own manifest) is not this
            // package's code.
            if path.file_name().is_some_and(|n| n != "target") && !path.join("Cargo.toml").exists()
            {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with(file!()) {
            // Not this file: its examples name crates in strings.
            out.push(path);
        }
    }
}

/// `text` without its `//` comments (doc comments included).
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // Not a URL or a string's `//`: good enough for these sources,
            // where a `//` inside a string is followed by no crate path.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `text` names the crate `name`: `name::`, `use name`,
/// `extern crate name`, or `name` alone in a `use` group or an attribute
/// path (`#[tokio::main]` is `tokio::`).
fn names(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find(name) {
        let start = from + at;
        let end = start + name.len();
        from = end;
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if bytes
            .get(end)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
        {
            continue;
        }
        let after = &text[end..];
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line = text[line_start..start].trim_start();
        if after.starts_with("::")
            || line.starts_with("use ")
            || line.starts_with("pub use ")
            || line.starts_with("pub(crate) use ")
            || line.starts_with("extern crate ")
        {
            return true;
        }
    }
    false
}

#[test]
fn every_declared_dependency_is_used() {
    let mut unused = Vec::new();
    for manifest in manifests() {
        let dir = manifest.parent().expect("a directory");
        let text = std::fs::read_to_string(&manifest).expect("read a manifest");
        let relative = dir
            .strip_prefix(root())
            .expect("under the root")
            .display()
            .to_string();
        let mut all = Vec::new();
        sources(dir, &mut all);
        // A `[lib] path` outside the package (the rules variants share the
        // rules plugin's source).
        if let Some(path) = lib_path(&text)
            && path.starts_with("..")
            && let Some(parent) = dir.join(path).parent()
        {
            sources(parent, &mut all);
        }
        let read = |filter: &dyn Fn(&Path) -> bool| -> String {
            all.iter()
                .filter(|p| filter(p))
                .map(|p| without_comments(&std::fs::read_to_string(p).expect("read a source")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let build = read(&|p| p.file_name().is_some_and(|n| n == "build.rs"));
        let everything = read(&|_| true);
        for (section, deps) in declared(&text) {
            for dep in deps {
                let kept = |m: &str| match m.strip_suffix("/*") {
                    Some(prefix) => relative.starts_with(prefix),
                    None => m == relative,
                };
                if KEPT.iter().any(|(m, d, _)| kept(m) && *d == dep) {
                    continue;
                }
                let code = match section {
                    "build-dependencies" => &build,
                    _ => &everything,
                };
                if !names(code, &dep) {
                    unused.push(format!("{relative}: [{section}] {dep}"));
                }
            }
        }
    }
    assert!(unused.is_empty(), "declared, never named: {unused:#?}");
}

#[test]
fn the_check_finds_a_dependency_named_only_in_a_comment_or_a_longer_name() {
    let sections = declared(
        "[dependencies]\nfoo-bar = \"1\"\n[dependencies.baz]\nversion = \"1\"\n\
         [target.'cfg(unix)'.dependencies]\nqux = \"1\"\n[dev-dependencies]\nquux.workspace = true\n",
    );
    assert_eq!(sections["dependencies"], ["foo_bar", "baz", "qux"]);
    assert_eq!(sections["dev-dependencies"], ["quux"]);
    assert!(names("use serde::Deserialize;", "serde"));
    assert!(names("#[tokio::main]\nasync fn main() {}", "tokio"));
    assert!(names("extern crate libc;", "libc"));
    assert!(names("use regex;", "regex"));
    assert!(names("pub(crate) use regex;", "regex"));
    assert!(!names(
        &without_comments("// serde::Deserialize is not used here"),
        "serde"
    ));
    assert!(!names(
        &without_comments("/// see [`tokio::spawn`]"),
        "tokio"
    ));
    assert!(!names("use serde_json::json;", "serde"));
    assert!(!names("let my_tokio = 1;", "tokio"));
}

//! The README's quick start is real code: its manifests and sources are the
//! files of `examples/quickstart` (a workspace member, so CI compiles them),
//! shown verbatim (as are the demo plugin's warm-start files, built with
//! the workspace); and the host, built as a user would, loads and swaps the
//! plugin.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The files the README shows, in the order it shows them.
const SHOWN: &[&str] = &[
    "examples/quickstart/interface/Cargo.toml",
    "examples/quickstart/interface/src/lib.rs",
    "examples/quickstart/plugin/Cargo.toml",
    "examples/quickstart/plugin/src/lib.rs",
    "examples/quickstart/host/Cargo.toml",
    "examples/quickstart/host/src/main.rs",
    // "Warm start": the demo plugin's state, built with the workspace and
    // run by the demo's end-to-end test.
    "demo/plugin/src/state.rs",
    "demo/plugin/src/handles.rs",
];

/// Every fenced code block of the README: its language and its text.
fn readme_blocks() -> Vec<(String, String)> {
    let readme = fs::read_to_string(root().join("README.md")).expect("read README.md");
    let mut blocks = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(lang) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - line.trim_start().len();
        let mut text = String::new();
        for body in lines.by_ref() {
            if body.trim_start().starts_with("```") {
                break;
            }
            text.push_str(body.get(indent..).unwrap_or(body.trim_start()));
            text.push('\n');
        }
        blocks.push((lang.trim().to_string(), text));
    }
    blocks
}

#[test]
fn the_readme_shows_each_quickstart_file_exactly_as_it_is() {
    let blocks = readme_blocks();
    let mut from = 0;
    for file in SHOWN {
        let text = fs::read_to_string(root().join(file)).expect("read quickstart file");
        let found = blocks[from..]
            .iter()
            .position(|(_, block)| *block == text)
            .unwrap_or_else(|| {
                panic!("README.md does not show {file} as it is (or not in order):\n{text}")
            });
        from += found + 1;
    }
}

/// The visible lines of the doc examples of a source file: compiled by
/// the doc tests, so a README block equal to one is checked too.
fn doc_examples(file: &str) -> Vec<String> {
    let text = fs::read_to_string(root().join(file)).unwrap();
    let mut examples = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let Some(doc) = line.trim_start().strip_prefix("//!") else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        if doc.starts_with("```") {
            match current.take() {
                Some(example) => examples.push(example),
                None => current = Some(String::new()),
            }
        } else if let Some(example) = current.as_mut()
            && !(doc.starts_with("# ") || doc == "#")
        {
            example.push_str(doc);
            example.push('\n');
        }
    }
    examples
}

#[test]
fn every_rust_and_toml_block_of_the_readme_is_a_checked_file() {
    let mut files: Vec<String> = SHOWN
        .iter()
        .map(|f| fs::read_to_string(root().join(f)).unwrap())
        .collect();
    files.extend(doc_examples("crates/liveswap/src/deploy/mod.rs"));
    for (lang, block) in readme_blocks() {
        if lang == "rust" || lang == "toml" {
            assert!(
                files.contains(&block),
                "a {lang} block of README.md is not one of the quickstart files nor a doc \
                 example of the deploy module, so no build checks it:\n{block}"
            );
        }
    }
}

/// Builds the quickstart plugin and host as a user would (`cargo build`),
/// and returns the host binary and the plugin's `.so`.
fn built() -> (PathBuf, PathBuf) {
    let out = liveswap_tests::build_plugins(
        &root().join("Cargo.toml"),
        &["-p", "quickstart-plugin", "-p", "quickstart-host"],
    );
    (
        out.join("quickstart-host"),
        out.join("libquickstart_plugin.so"),
    )
}

#[test]
fn the_quickstart_host_loads_calls_and_swaps_the_quickstart_plugin() {
    let (host, plugin) = built();
    let out = Command::new(&host).arg(&plugin).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Adding to 10: 17");
    assert!(lines[1].starts_with("generation 2 in "), "{stdout}");
    assert_eq!(lines[2], "I live in a shared object");
}

#[test]
fn the_quickstart_host_prints_a_missing_plugin_with_the_directory_it_looked_in() {
    let (host, _) = built();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&host)
        .arg("target/debug/libquickstart_plugin.so")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: plugin target/debug/libquickstart_plugin.so: no such file (looked for \
             relative to {}, the current directory)",
            dir.path().canonicalize().unwrap().display()
        ),
        "printed with Display, naming the directory"
    );
}

//! The `liveswap` binary end to end, on real plugins and a real host
//! (`calc-host`, a fixture binary that hosts `fixture::Calc`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use liveswap_tests::{TestKey, fixture, fixtures_dir, install};

fn liveswap(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liveswap"))
        .args(args)
        .output()
        .expect("run liveswap")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn host() -> PathBuf {
    fixtures_dir().join("calc-host")
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

#[test]
fn inspect_prints_what_a_plugin_declares() {
    let out = liveswap(&[p("inspect"), &fixture("calc")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "interface:   fixture::Calc version 1".to_string(),
        format!("compiler:    {}", liveswap::wire::RUSTC_VERSION),
        format!("target:      {}", liveswap::wire::TARGET),
        format!("liveswap:    {}", liveswap::wire::LIVESWAP_VERSION),
        "panic:       unwind".to_string(),
        "fn add(i64, i64) -> i64".to_string(),
        "fn half(Option<u32>) -> Option<(u32, bool)>".to_string(),
        "hazards:     none found".to_string(),
        "signature:   none".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn inspect_names_the_hazards_read_from_imports() {
    let out = liveswap(&[p("inspect"), &fixture("signal-handler")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("imports signal)"), "{}", stdout(&out));
    let out = liveswap(&[p("inspect"), &fixture("spawns-thread")]);
    assert!(
        stdout(&out).contains("imports pthread_create"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn inspect_json_carries_the_type_table() {
    let out = liveswap(&[p("inspect"), &fixture("rules-plugin"), p("--json")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json["interface"], "rules_api::Rules");
    assert_eq!(json["interface_version"], 1);
    assert_eq!(
        json["methods"][0]["signature"],
        "fn check(&rules_api::Request) -> rules_api::Verdict"
    );
    let request = json["types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "rules_api::Request")
        .expect("Request is in the table");
    assert_eq!(request["kind"], "struct");
    assert_eq!(request["crate"], "rules_api");
    let fields: Vec<&str> = request["detail"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["user", "urls", "score", "age_days"]);
}

#[test]
fn inspect_reports_the_signature_beside_the_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("libcalc.so");
    install("calc", &plugin);
    let key = TestKey::generate();
    let key_file = dir.path().join("release.pub");
    key.write_public(&key_file);
    key.sign(&plugin, "calc 1.2.3");

    let out = liveswap(&[p("inspect"), &plugin]);
    let text = stdout(&out);
    assert!(text.contains("not verified"), "{text}");
    assert!(
        text.contains(&key.id()) && text.contains("\"calc 1.2.3\""),
        "{text}"
    );

    let out = liveswap(&[p("inspect"), &plugin, p("--trusted-key"), &key_file]);
    assert!(
        stdout(&out).contains("signature:   verified"),
        "{}",
        stdout(&out)
    );

    let mut bytes = fs::read(&plugin).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    fs::write(&plugin, bytes).unwrap();
    let out = liveswap(&[p("inspect"), &plugin, p("--trusted-key"), &key_file]);
    assert!(
        stdout(&out).contains("signature:   refused: does not match"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn check_exits_0_when_the_host_would_accept_the_plugin() {
    let out = liveswap(&[p("check"), &fixture("calc"), p("--against"), &host()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).starts_with("ok: host "), "{}", stdout(&out));
    // The host agrees.
    let hosted = Command::new(host()).arg(fixture("calc")).output().unwrap();
    assert_eq!(stdout(&hosted).trim(), "accepted");
}

#[test]
fn check_exits_1_with_the_message_the_host_prints() {
    for plugin in ["calc-changed", "other-interface"] {
        let plugin = fixture(plugin);
        let out = liveswap(&[p("check"), &plugin, p("--against"), &host()]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}{}",
            stdout(&out),
            stderr(&out)
        );
        let hosted = Command::new(host()).arg(&plugin).output().unwrap();
        assert_eq!(hosted.status.code(), Some(1), "the host refuses it too");
        assert_eq!(stdout(&out), stdout(&hosted), "the same message");
    }
}

#[test]
fn check_with_trusted_keys_refuses_an_unsigned_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("release.pub");
    TestKey::generate().write_public(&key_file);
    let out = liveswap(&[
        p("check"),
        &fixture("calc"),
        p("--against"),
        &host(),
        p("--trusted-key"),
        &key_file,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("signature") && stdout(&out).contains("missing"));
}

/// The system's C library: an ELF shared object that is neither a plugin
/// nor a host.
fn system_libc() -> PathBuf {
    liveswap::stats::mapped_files()
        .into_iter()
        .find(|p| p.contains("/libc.so"))
        .map(PathBuf::from)
        .expect("libc is mapped")
}

#[test]
fn bad_input_is_one_line_and_exit_2_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text_file = dir.path().join("notes.txt");
    fs::write(&text_file, "not a binary").unwrap();
    let missing = dir.path().join("missing.so");
    let libc = system_libc();
    let host = host();
    let calc = fixture("calc");
    let cases: Vec<(Vec<&Path>, &str)> = vec![
        (vec![p("inspect"), &missing], "no such file"),
        (vec![p("inspect"), &text_file], "not an ELF file"),
        (vec![p("inspect"), &libc], "no liveswap descriptor"),
        (
            vec![p("check"), &missing, p("--against"), &host],
            "no such file",
        ),
        (
            vec![p("check"), &text_file, p("--against"), &host],
            "not an ELF",
        ),
        (
            vec![p("check"), &libc, p("--against"), &host],
            "no liveswap descriptor",
        ),
        (
            vec![p("check"), &calc, p("--against"), &missing],
            "no such file",
        ),
        (
            vec![p("check"), &calc, p("--against"), &text_file],
            "not an ELF file",
        ),
        (
            vec![p("check"), &calc, p("--against"), &libc],
            "carries no liveswap interface descriptors",
        ),
        (
            vec![p("inspect"), &calc, p("--trusted-key"), &text_file],
            "not a minisign public key",
        ),
    ];
    for (args, expected) in cases {
        let out = liveswap(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.starts_with("liveswap: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

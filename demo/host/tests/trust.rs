//! The demo's trust options: `--trusted-key` and `--allow-unsafe-path`,
//! and the policy line it prints.

use std::process::{Command, Stdio};

use liveswap_tests::{TestKey, fixture};

fn demo() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_liveswap-demo"));
    cmd.args(["--interval", "10s", "--workers", "1"])
        .stdin(Stdio::null());
    cmd
}

#[test]
fn with_a_trusted_key_an_unsigned_plugin_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("release.pub");
    let key = TestKey::generate();
    key.write_public(&key_file);
    // Any file: the signature is looked for before anything else is read.
    let out = demo()
        .arg("--trusted-key")
        .arg(&key_file)
        .arg(fixture("greeter-v1"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot load the first plugin") && err.contains(".minisig: missing"),
        "{err}"
    );
}

#[test]
fn the_demo_says_which_policy_is_in_force_before_loading() {
    let missing = std::path::Path::new("/nonexistent/plugin.so");
    let out = demo().arg(missing).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("policy: safe-path policy on; signatures not required"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = demo()
        .arg("--allow-unsafe-path")
        .arg(missing)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("safe-path policy RELAXED"), "{text}");
}

#[test]
fn a_key_file_that_is_not_a_key_is_bad_input() {
    let out = demo()
        .args(["--trusted-key", "/nonexistent/release.pub"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/release.pub"));
}

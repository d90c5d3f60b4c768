//! Every command README.md shows, run as written: the lines of its `sh`
//! blocks and the requests of its control-protocol example. A command
//! added to README, or one changed, fails
//! `the_readme_shows_exactly_the_commands_run_here` until it is run here.
//!
//! What is substituted, and only that: `target/` is the target directory
//! this test was built into (`CARGO_TARGET_DIR` or `target/`); `PLUGIN`,
//! README's placeholder, and `/srv/plugins/libhandles.so` are the bundled
//! demo plugin; `/run/app/control.sock` is a socket in a temporary
//! directory served by the demo; `release.pub` is a freshly made public
//! key, and with it the plugin is a copy signed by that key;
//! `liveswapctl` is `target/debug/liveswapctl`, where README says
//! `cargo build --workspace` puts it. A bracketed option (`[--json]`) is
//! run both without and with it. `cargo test --workspace` is not run from
//! here (it runs this test): `.ci/run` runs it as written.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// Generous: a nested `cargo` may have to build.
const WAIT: Duration = Duration::from_secs(600);

/// The commands README shows, in its order (comments dropped).
const SHOWN: &[&str] = &[
    "cargo build --workspace && cargo run -p liveswap-demo",
    "cargo test --workspace",
    "cargo build --workspace && cargo run -p liveswap-demo -- --watch",
    "cargo build --workspace",
    "cargo run -p liveswap-cli -- inspect target/debug/libliveswap_demo_plugin.so [--json] [--trusted-key release.pub]",
    "cargo run -p liveswap-cli -- check PLUGIN --against target/debug/liveswap-demo [--trusted-key release.pub]",
    "liveswapctl --socket /run/app/control.sock status",
    "liveswapctl --socket /run/app/control.sock swap /srv/plugins/libhandles.so",
    "liveswapctl --socket /run/app/control.sock rollback",
    "liveswapctl --socket /run/app/control.sock --json history",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The lines of README's fenced blocks of `language`.
fn blocks(language: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in readme().lines() {
        let trimmed = line.trim();
        if let Some(fence) = trimmed.strip_prefix("```") {
            inside = !inside && fence == language;
            continue;
        }
        if inside && !trimmed.is_empty() {
            lines.push(trimmed.to_string());
        }
    }
    lines
}

/// README's shell commands, their comments dropped.
fn shown() -> Vec<String> {
    blocks("sh")
        .into_iter()
        .map(|line| match line.find(" #") {
            Some(at) => line[..at].trim_end().to_string(),
            None => line,
        })
        .collect()
}

/// A command for `sh -c` in the workspace root, with nothing of the
/// cargo that runs this test in its environment (a nested cargo then
/// sees what a user's shell gives it).
fn shell(line: &str) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(line).current_dir(root());
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            command.env_remove(&key);
        }
    }
    command.env_remove("RUSTC_WRAPPER");
    // Cargo's own lines as this test reads them, whatever the user's
    // configuration says.
    command.env("CARGO_TERM_COLOR", "never");
    command.env("CARGO_TERM_QUIET", "false");
    // Its own process group, so that `sh`, `cargo` and what it runs are
    // stopped together.
    command.process_group(0);
    command
}

/// The target directory, as README's `target/` stands for it.
fn target() -> PathBuf {
    liveswap_tests::target_dir()
}

/// README's substitutions (see the file's docs).
fn substitute(line: &str, socket: Option<&Path>, key: Option<&Path>) -> String {
    let plugin = target().join("debug/libliveswap_demo_plugin.so");
    let mut line = line
        .replace("target/", &format!("{}/", target().display()))
        .replace("PLUGIN", &plugin.display().to_string())
        .replace("/srv/plugins/libhandles.so", &plugin.display().to_string());
    if let Some(socket) = socket {
        line = line.replace("/run/app/control.sock", &socket.display().to_string());
    }
    if let Some(key) = key {
        line = line.replace("release.pub", &key.display().to_string());
    }
    if let Some(rest) = line.strip_prefix("liveswapctl ") {
        line = format!("{} {rest}", target().join("debug/liveswapctl").display());
    }
    line
}

/// `line` without its bracketed options, then once with each of them.
fn variants(line: &str) -> Vec<String> {
    let mut base = String::new();
    let mut options = Vec::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        base.push_str(&rest[..open]);
        let close = rest[open..].find(']').expect("a closing bracket") + open;
        options.push(rest[open + 1..close].to_string());
        rest = &rest[close + 1..];
    }
    base.push_str(rest);
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut all = vec![base.clone()];
    all.extend(options.iter().map(|o| format!("{base} {o}")));
    all
}

/// README's build command, run once for every test here.
fn built() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = shell("cargo build --workspace")
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "`cargo build --workspace` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A command running in its own process group; the group is killed when
/// this is dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// The first line of standard output that satisfies `want`.
    fn expect(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => panic!(
                    "no line {what}; output:\n{}\nerrors:\n{}",
                    seen.join("\n"),
                    self.stderr.try_iter().collect::<Vec<_>>().join("\n")
                ),
            }
        }
    }

    /// What it wrote to standard error up to and with the first line
    /// containing `marker`, which must come.
    fn errors_until(&self, marker: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.stderr.recv_timeout(WAIT) {
                Ok(line) => {
                    let done = line.contains(marker);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "no {marker:?} on standard error; it said:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: `kill` is async-signal-safe and takes plain integers;
        // the group is the child's own (`process_group(0)`).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_shows_exactly_the_commands_run_here() {
    assert_eq!(
        shown(),
        SHOWN,
        "README's commands changed: run the new ones in this file"
    );
}

#[test]
fn cargo_test_workspace_is_the_command_ci_runs() {
    // Not run from here (it runs this test); `.ci/run` runs it as written.
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim_start().starts_with(SHOWN[1])),
        "`.ci/run` no longer runs `{}`",
        SHOWN[1]
    );
}

#[test]
fn the_demo_command_builds_and_serves_and_its_cargo_run_compiles_nothing() {
    built();
    let demo = Running::start(shell(SHOWN[0]));
    demo.expect("from generation 1", |l| l.starts_with("[gen 1]"));
    // The README's promise: after `cargo build --workspace`, the demo's
    // `cargo run` compiles nothing (the workspace asks the same features
    // of every shared dependency).
    // Cargo says `Running` after whatever it compiled.
    let compiled: Vec<_> = demo
        .errors_until("Running `")
        .into_iter()
        .filter(|l| l.trim_start().starts_with("Compiling"))
        .collect();
    assert!(compiled.is_empty(), "cargo run compiled: {compiled:?}");
}

#[test]
fn the_watching_demo_command_serves() {
    built();
    let demo = Running::start(shell(SHOWN[2]));
    demo.expect("from generation 1", |l| l.starts_with("[gen 1]"));
}

#[test]
fn the_rebuild_command_succeeds() {
    built();
    let out = shell(SHOWN[3]).output().expect("run cargo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_offline_commands_inspect_and_check_the_demo_plugin() {
    built();
    // With `--trusted-key`, the plugin is a signed copy of the demo's (in
    // the target directory: signing the demo's own would change what the
    // other tests load), signed by the key `release.pub` holds.
    let dir = tempfile::tempdir_in(target()).expect("a directory in the target directory");
    let key = dir.path().join("release.pub");
    let signer = liveswap_tests::TestKey::generate();
    signer.write_public(&key);
    let plugin = target().join("debug/libliveswap_demo_plugin.so");
    let signed = dir.path().join("libliveswap_demo_plugin.so");
    std::fs::copy(&plugin, &signed).expect("copy the plugin");
    signer.sign(&signed, "release:1");
    for line in [SHOWN[4], SHOWN[5]] {
        for (n, variant) in variants(line).into_iter().enumerate() {
            let mut command = substitute(&variant, None, Some(&key));
            if variant.contains("--trusted-key") {
                command =
                    command.replace(&plugin.display().to_string(), &signed.display().to_string());
            }
            let out = shell(&command).output().expect("run");
            let code = out.status.code();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let text = format!("`{command}` exited {code:?}:\n{stdout}\n{stderr}");
            assert_eq!(code, Some(0), "{text}");
            if variant.contains("--trusted-key") && variant.contains(" inspect ") {
                assert!(stdout.contains("signature:   verified"), "{text}");
            }
            if variant.contains("--json") {
                assert!(stdout.trim_start().starts_with('{'), "{text}");
            }
            if n == 0 && variant.contains(" inspect ") {
                assert!(stdout.contains("Handles"), "{text}");
            }
        }
    }
}

#[test]
fn the_liveswapctl_commands_and_the_protocol_example_drive_the_demo() {
    built();
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("app/control.sock");
    let mut command = Command::new(target().join("debug/liveswap-demo"));
    command
        .arg("--control")
        .arg(&socket)
        .args(["--interval", "100ms"]);
    command.process_group(0);
    let demo = Running::start(command);
    demo.expect("naming the control socket", |l| {
        l.starts_with("control socket:")
    });
    for line in &SHOWN[6..] {
        let command = substitute(line, Some(&socket), None);
        let out = shell(&command).output().expect("run liveswapctl");
        assert!(
            out.status.success(),
            "`{command}`:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The protocol example: each `>` line sent as written; the reply must
    // agree with its `<` line on `ok` and the error's kind.
    let example = blocks("text");
    let requests: Vec<_> = example
        .iter()
        .filter_map(|l| l.strip_prefix("> "))
        .collect();
    let replies: Vec<_> = example
        .iter()
        .filter_map(|l| l.strip_prefix("< "))
        .collect();
    assert!(!requests.is_empty() && requests.len() == replies.len());
    let stream = std::os::unix::net::UnixStream::connect(&socket).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    for (request, shown) in requests.iter().zip(&replies) {
        writeln!(writer, "{request}").expect("send");
        let mut reply = String::new();
        reader.read_line(&mut reply).expect("reply");
        for part in ["\"ok\":true", "\"ok\":false", "\"kind\":\"refused\""] {
            assert_eq!(
                reply.contains(part),
                shown.contains(part),
                "{request} answered {reply} where README shows {shown}"
            );
        }
    }
}

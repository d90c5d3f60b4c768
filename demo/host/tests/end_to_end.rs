//! The demo as a user meets it: the real `liveswap-demo` binary as a child
//! process, a plugin rebuilt with a changed message at the same path, and
//! bad lines on its standard input.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// An editable copy of `demo/plugin`, built as a crate of its own the way
/// a user edits `my_code.rs` and rebuilds. Each test names its own copy (a
/// package of its own name, so its `.so` has its own name too), and all
/// build into the tests' shared plugin target directory with the fixtures'
/// dev profile, where `liveswap` and its dependencies are built once for
/// every test plugin asking the same features.
struct EditablePlugin {
    dir: PathBuf,
    package: String,
}

impl EditablePlugin {
    fn new(name: &str) -> Self {
        let root = root();
        let dir = liveswap_tests::target_dir().join("demo-e2e").join(name);
        let _ = fs::remove_dir_all(dir.join("src"));
        fs::create_dir_all(dir.join("src")).unwrap();
        for file in ["lib.rs", "handles.rs", "my_code.rs", "state.rs"] {
            fs::copy(
                root.join("demo/plugin/src").join(file),
                dir.join("src").join(file),
            )
            .unwrap();
        }
        let package = format!("liveswap-demo-plugin-{name}");
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
                 [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
                 liveswap = {{ path = {:?}, features = [\"state\"] }}\nliveswap-demo-types = {{ path = {:?} }}\n\
                 serde = {{ version = \"1\", features = [\"derive\"] }}\n\n[workspace]\n\n{}",
                root.join("crates/liveswap"),
                root.join("demo/types"),
                liveswap_tests::fixtures_dev_profile()
            ),
        )
        .unwrap();
        // The fixtures' lock file: the same dependency versions as the
        // fixture plugins, so the shared build is reused.
        fs::copy(
            root.join("tests/fixtures/Cargo.lock"),
            dir.join("Cargo.lock"),
        )
        .unwrap();
        EditablePlugin { dir, package }
    }

    /// Replaces a source file of the plugin.
    fn write(&self, file: &str, code: &str) {
        fs::write(self.dir.join("src").join(file), code).unwrap();
    }

    fn edit(&self, from: &str, to: &str) {
        let path = self.dir.join("src/my_code.rs");
        let code = fs::read_to_string(&path).unwrap();
        assert!(
            code.contains(from),
            "my_code.rs no longer contains {from:?}"
        );
        fs::write(&path, code.replace(from, to)).unwrap();
    }

    /// Builds and returns the path cargo writes the plugin to (the same
    /// path every time).
    fn build(&self) -> PathBuf {
        liveswap_tests::build_plugins(&self.dir.join("Cargo.toml"), &[])
            .join(format!("lib{}.so", self.package.replace('-', "_")))
    }
}

/// The running demo; killed if the test fails half-way.
struct Demo {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Demo {
    fn start(plugin: &Path) -> Self {
        Self::start_with(plugin, &[])
    }

    fn start_with(plugin: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_liveswap-demo"))
            .arg(plugin)
            .args(["--interval", "100ms", "--workers", "2"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line that satisfies `want`.
    fn expect(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line {what} within {WAIT:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The next tick line; asserts the workers are calling and none failed.
    fn expect_busy_tick(&mut self, generation: u64) -> String {
        let prefix = format!("[gen {generation}]");
        let line = self.expect(&format!("starting {prefix}"), |l| l.starts_with(&prefix));
        let rate: f64 = line
            .split(" workers: ")
            .nth(1)
            .and_then(|rest| rest.split(" calls/s").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no calls/s in {line:?}"));
        assert!(rate > 0.0, "workers made no calls: {line}");
        assert!(line.ends_with(", 0 failed"), "a call failed: {line}");
        line
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_demo_swaps_a_rebuilt_plugin_at_the_same_path_and_survives_bad_lines() {
    let plugin = EditablePlugin::new("edited");
    let path = plugin.build();
    let mut demo = Demo::start(&path);
    demo.expect("on load", |l| {
        l.starts_with("loaded ") && l.contains("\"Adding to 10: 17\"")
    });
    demo.expect_busy_tick(1);

    let scratch = tempfile::tempdir().unwrap();
    let text = scratch.path().join("notes.so");
    fs::write(&text, "not a plugin\n").unwrap();
    let other_interface = liveswap_tests::fixture("calc");
    let bad: [(PathBuf, &str); 4] = [
        (scratch.path().join("missing.so"), "no such file"),
        (scratch.path().to_path_buf(), "not a regular file"),
        (text, "not an ELF shared object"),
        (other_interface, "handshake failed on interface name"),
    ];
    for (bad_path, reason) in &bad {
        demo.send(&bad_path.display().to_string());
        let line = demo.expect("refusing the swap", |l| l.starts_with("swap "));
        assert!(line.starts_with("swap refused: "), "{line}");
        assert!(
            line.contains(&bad_path.display().to_string()),
            "names the path: {line}"
        );
        assert!(line.contains(reason), "says why ({reason}): {line}");
        assert!(line.ends_with("still serving generation 1"), "{line}");
        demo.expect_busy_tick(1);
    }

    plugin.edit("Adding to 10: {}\", i + 10", "Adding to 100: {}\", i + 100");
    assert_eq!(plugin.build(), path, "the rebuild lands at the same path");
    demo.send(&path.display().to_string());
    let line = demo.expect("after the swap", |l| l.starts_with("swap "));
    assert!(line.starts_with("swap ok: generation 2 (was 1)"), "{line}");
    assert!(
        line.contains("\"Adding to 100: 107\""),
        "the new version answers at once: {line}"
    );
    let tick = demo.expect_busy_tick(2);
    assert!(tick.contains("\"Adding to 100: 107\""), "{tick}");
    // The new build calls the host's service too, and its async method,
    // awaited by the host, answers with the new code.
    assert!(host_uptime_in(&tick).is_some(), "{tick}");
    assert!(
        tick.contains("someAsync 7: \"Adding to 100: 107\""),
        "{tick}"
    );

    // The old generation is unloaded once both workers have moved on (their
    // cached readers refresh on their next call): ask until it shows.
    let deadline = Instant::now() + WAIT;
    loop {
        demo.send("");
        let status = demo.expect("for the status", |l| l.starts_with("status: "));
        assert!(
            status.starts_with("status: generation 2 current;"),
            "{status}"
        );
        if status.contains("; 1 live, 0 draining, 0 pinned, 1 unloaded;") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "generation 1 never unloaded: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    drop(demo.stdin.take());
    let bye = demo.expect("on exit", |l| l.starts_with("bye: "));
    assert!(bye.contains(", 0 failed, last generation 2"), "{bye}");
    let status = demo.child.wait().unwrap();
    assert!(
        status.success(),
        "end of input exits with status 0, got {status}"
    );
    let stderr = demo.stderr.take().unwrap().join().unwrap();
    assert!(
        stderr.is_empty(),
        "one line per event: without --verbose the library's log stays off the console, got:\n{stderr}"
    );
}

#[test]
fn with_watch_a_rebuild_serves_by_itself_with_no_failed_call() {
    let plugin = EditablePlugin::new("watched");
    let path = plugin.build();
    let mut demo = Demo::start_with(&path, &["--watch"]);
    demo.expect("watching", |l| l.starts_with("watching "));
    demo.expect_busy_tick(1);

    // The seed's loop, hands-free: edit, build, and nothing else.
    plugin.edit("Adding to 10: {}\", i + 10", "Adding to 100: {}\", i + 100");
    assert_eq!(plugin.build(), path);
    let line = demo.expect("after the rebuild", |l| l.starts_with("watch: swap"));
    assert!(
        line.starts_with("watch: swap ok: generation 2 (was 1)"),
        "{line}"
    );
    assert!(line.contains("\"Adding to 100: 107\""), "{line}");
    let tick = demo.expect_busy_tick(2);
    assert!(tick.contains("\"Adding to 100: 107\""), "{tick}");
    // The new build calls the host's service too, and its async method,
    // awaited by the host, answers with the new code.
    assert!(host_uptime_in(&tick).is_some(), "{tick}");
    assert!(
        tick.contains("someAsync 7: \"Adding to 100: 107\""),
        "{tick}"
    );

    // A broken file that lands is refused, and the demo goes on serving.
    fs::write(path.with_extension("tmp"), b"not a plugin").unwrap();
    fs::rename(path.with_extension("tmp"), &path).unwrap();
    let line = demo.expect("after a bad file", |l| l.starts_with("watch: swap"));
    assert!(line.starts_with("watch: swap refused: "), "{line}");
    demo.expect_busy_tick(2);

    plugin.edit(
        "Adding to 100: {}\", i + 100",
        "Adding to 1000: {}\", i + 1000",
    );
    plugin.build();
    let line = demo.expect("after the fix", |l| l.starts_with("watch: swap ok"));
    assert!(line.contains("\"Adding to 1000: 1007\""), "{line}");

    // The same bytes landing again (a rebuild that changed nothing, copied
    // over by a deploy tool) are skipped, with a line that says so.
    let bytes = fs::read(&path).unwrap();
    fs::write(path.with_extension("tmp"), &bytes).unwrap();
    fs::rename(path.with_extension("tmp"), &path).unwrap();
    let line = demo.expect("after the same bytes", |l| l.starts_with("watch: "));
    assert!(
        line.contains("holds the bytes already serving; not loaded again"),
        "{line}"
    );

    drop(demo.stdin.take());
    let bye = demo.expect("on exit", |l| l.starts_with("bye: "));
    assert!(bye.contains(", 0 failed, last generation 3"), "{bye}");
    assert!(demo.child.wait().unwrap().success());
}

/// The demo's `state.rs` after a user added a field: schema 2, which
/// reads schema 1 and migrates it.
const STATE_SCHEMA_2: &str = r#"
use liveswap::{RemoteError, Snapshot, state};
use serde::{Deserialize, Serialize};

pub const SCHEMA: u32 = 2;

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Saved {
    pub calls: u64,
    /// Added in schema 2: how many swaps this state has been carried across.
    pub carried: u64,
}

impl Saved {
    pub fn describe(&self, calls: u64) -> String {
        format!("called {calls} times, carried across {} swaps", self.carried)
    }
}

#[derive(Deserialize)]
struct SavedV1 {
    calls: u64,
}

pub fn restore(prior: Snapshot<'_>) -> Result<Saved, RemoteError> {
    let mut saved: Saved = match prior.schema {
        1 => {
            let old: SavedV1 = state::decode(prior.bytes)?;
            Saved { calls: old.calls, carried: 0 }
        }
        2 => state::decode(prior.bytes)?,
        n => return Err(RemoteError::new(format!("state schema {n} is unknown"))),
    };
    saved.carried += 1;
    Ok(saved)
}
"#;

/// The host's uptime `someData` shows in a line: the plugin reads it from
/// the host service the demo lends it.
fn host_uptime_in(line: &str) -> Option<u64> {
    line.split(", host up ")
        .nth(1)
        .and_then(|rest| rest.split(" s)").next())
        .and_then(|n| n.parse().ok())
}

/// The call count `someData` shows in a line.
fn calls_in(line: &str) -> u64 {
    line.split("(called ")
        .nth(1)
        .and_then(|rest| rest.split(" times").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no call count in {line:?}"))
}

#[test]
fn the_call_count_survives_swaps_and_a_schema_change() {
    let plugin = EditablePlugin::new("state");
    let path = plugin.build();
    let mut demo = Demo::start(&path);
    demo.expect("on load", |l| l.starts_with("loaded "));
    let before = calls_in(&demo.expect_busy_tick(1));
    assert!(before > 0, "the workers' calls are counted");

    demo.send(&path.display().to_string());
    let line = demo.expect("after the swap", |l| l.starts_with("swap "));
    assert!(line.starts_with("swap ok: generation 2"), "{line}");
    let carried = demo.expect("the state line", |l| l.starts_with("  state "));
    assert!(
        carried.starts_with("  state carried: schema 1 -> 1, "),
        "{carried}"
    );
    assert!(calls_in(&line) >= before, "the count went on: {line}");
    let before = calls_in(&demo.expect_busy_tick(2));

    plugin.write("state.rs", STATE_SCHEMA_2);
    plugin.build();
    demo.send(&path.display().to_string());
    let line = demo.expect("after the schema change", |l| l.starts_with("swap "));
    assert!(line.starts_with("swap ok: generation 3"), "{line}");
    assert!(line.contains("carried across 1 swaps"), "migrated: {line}");
    assert!(calls_in(&line) >= before, "the count went on: {line}");
    let carried = demo.expect("the state line", |l| l.starts_with("  state "));
    assert!(
        carried.starts_with("  state carried: schema 1 -> 2, "),
        "{carried}"
    );
    demo.expect_busy_tick(3);
    drop(demo.stdin.take());
    let bye = demo.expect("on exit", |l| l.starts_with("bye: "));
    assert!(bye.contains(", 0 failed, last generation 3"), "{bye}");
}

#[test]
fn without_the_bundled_plugin_the_demo_says_how_to_build_it() {
    // A copy of the binary in a directory without the plugin beside it.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("liveswap-demo");
    fs::copy(env!("CARGO_BIN_EXE_liveswap-demo"), &exe).unwrap();
    let out = Command::new(&exe).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo build -p liveswap-demo-plugin"), "{err}");
    assert!(err.contains("libliveswap_demo_plugin.so"), "{err}");
}

#[test]
fn ctrl_c_stops_the_workers_and_exits_with_status_0() {
    let path = EditablePlugin::new("pristine").build();
    let mut demo = Demo::start_with(&path, &["--verbose"]);
    demo.expect_busy_tick(1);
    // SAFETY: sending a signal to our own child process.
    let sent = unsafe { libc::kill(demo.child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    demo.expect("on interrupt", |l| l == "interrupted");
    let bye = demo.expect("on exit", |l| l.starts_with("bye: "));
    assert!(bye.contains(", 0 failed,"), "{bye}");
    assert!(demo.child.wait().unwrap().success());
    let stderr = demo.stderr.take().unwrap().join().unwrap();
    assert!(
        stderr.contains("plugin loaded"),
        "--verbose shows the library's log: {stderr}"
    );
}

/// `liveswapctl`, built beside this demo binary (by `cargo build` or
/// `cargo test` of the workspace; built here when missing).
fn liveswapctl() -> PathBuf {
    let demo = Path::new(env!("CARGO_BIN_EXE_liveswap-demo"));
    let ctl = demo.with_file_name("liveswapctl");
    if !ctl.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "liveswap-cli",
                "--bin",
                "liveswapctl",
            ])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success(), "building liveswapctl failed");
    }
    ctl
}

/// Runs `liveswapctl --socket SOCKET ARGS`, as `uid` when given; returns
/// the exit code and standard output and error together.
fn ctl(ctl: &Path, socket: &Path, args: &[&str], uid: Option<u32>) -> (i32, String) {
    let mut command = Command::new(ctl);
    command.arg("--socket").arg(socket).args(args);
    if let Some(uid) = uid {
        use std::os::unix::process::CommandExt;
        command.uid(uid).gid(uid);
    }
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A local address no one listens on now, for the demo's metrics.
fn free_local_address() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The body of `GET /metrics` from `addr`, over a plain TCP connection.
fn scrape(addr: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap_or("").to_string()
}

/// The value of the sample `name{...}` whose labels include every one of
/// `labels`, read from Prometheus's text format.
fn sample(body: &str, name: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(&format!("{name}{{")) && labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn an_operator_drives_the_demo_with_liveswapctl_and_scrapes_its_metrics() {
    let plugin = EditablePlugin::new("operated");
    let path = plugin.build();
    let ctl_bin = liveswapctl();
    // A directory other users can reach (for the check of another uid).
    let scratch = tempfile::tempdir().unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(scratch.path(), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let socket = scratch.path().join("run").join("control.sock");
    let metrics = free_local_address();
    let allowed_uid = 65533;
    let mut demo = Demo::start_with(
        &path,
        &[
            "--control",
            socket.to_str().unwrap(),
            "--metrics",
            &metrics,
            "--control-allow-uid",
            &allowed_uid.to_string(),
        ],
    );
    demo.expect("naming the control socket", |l| {
        l.starts_with("control socket: ")
    });
    demo.expect_busy_tick(1);

    let (code, out) = ctl(&ctl_bin, &socket, &["status"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("generation 1 current"), "{out}");

    plugin.edit("Adding to 10: {}\", i + 10", "Adding to 100: {}\", i + 100");
    let rebuilt = plugin.build();
    let (code, out) = ctl(
        &ctl_bin,
        &socket,
        &["swap", rebuilt.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("generation 2 now serving (was 1)"), "{out}");
    demo.expect("the control socket's swap reported", |l| {
        l.starts_with("control: swap ok: generation 2 (was 1)")
    });
    let (code, out) = ctl(&ctl_bin, &socket, &["status"], None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("[state schema 1, restored from schema 1]"),
        "the history shows the state carried: {out}"
    );
    let tick = demo.expect_busy_tick(2);
    assert!(tick.contains("Adding to 100: 107"), "{tick}");

    let calc = liveswap_tests::fixture("calc");
    let (code, out) = ctl(&ctl_bin, &socket, &["swap", calc.to_str().unwrap()], None);
    assert_eq!(code, 1, "a refused swap exits 1: {out}");
    assert!(
        out.contains("refused") && out.contains("libcalc.so"),
        "{out}"
    );
    demo.expect_busy_tick(2);

    demo.expect("the control socket's refused swap reported", |l| {
        l.starts_with("control: swap refused: ") && l.contains("libcalc.so")
    });

    let (code, out) = ctl(&ctl_bin, &socket, &["rollback"], None);
    assert_eq!(code, 0, "{out}");
    demo.expect("the control socket's rollback reported", |l| {
        l.starts_with("control: rollback ok: generation 3 (was 2)")
    });
    let tick = demo.expect_busy_tick(3);
    assert!(tick.contains("Adding to 10: 17"), "{tick}");

    let (code, out) = ctl(&ctl_bin, &socket, &["history"], None);
    assert_eq!(code, 0, "{out}");
    let refused = out
        .lines()
        .find(|l| l.starts_with("control") && l.contains("refused"))
        .unwrap_or_else(|| panic!("the refused swap in the history: {out}"));
    assert!(refused.contains("libcalc.so"), "{refused}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("control") && l.contains("rollback") && l.contains("published")),
        "the rollback is named a rollback: {out}"
    );
    let (code, out) = ctl(&ctl_bin, &socket, &["--json", "status"], None);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"current\":3"), "{out}");
    // Global flags anywhere, as cargo and kubectl take them.
    let (code, after) = ctl(&ctl_bin, &socket, &["status", "--json"], None);
    assert_eq!(code, 0, "{after}");
    assert!(after.contains("\"current\":3"), "{after}");
    assert!(
        out.contains("\"heap\":{\"allocated\":"),
        "each generation's heap in the status: {out}"
    );
    let (code, out) = ctl(
        &ctl_bin,
        Path::new("/nonexistent/ctl.sock"),
        &["status"],
        None,
    );
    assert_eq!(code, 2, "a connection error exits 2: {out}");
    assert_eq!(out.lines().count(), 1, "one line: {out}");

    let body = scrape(&metrics);
    let ok = |kind: &str| {
        sample(
            &body,
            "liveswap_swaps_total",
            &[&format!("kind=\"{kind}\""), "outcome=\"ok\""],
        )
    };
    assert_eq!(ok("swap"), Some(1.0), "{body}");
    assert!(
        body.contains("liveswap_swap_step_seconds_bucket{"),
        "step times as a histogram: {body}"
    );
    assert_eq!(ok("rollback"), Some(1.0), "{body}");
    assert_eq!(
        sample(
            &body,
            "liveswap_swaps_total",
            &["kind=\"swap\"", "outcome=\"refused\""]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "liveswap_rollbacks_total", &["cause=\"control\""]),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "liveswap_generation", &[]),
        Some(3.0),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("liveswap_heap_reclaimed_bytes "))
            && sample(&body, "liveswap_heap_live_bytes", &[]).is_some(),
        "the heap's gauges: {body}"
    );

    if unsafe { libc::geteuid() } == 0 && liveswap_tests::others_can_reach(scratch.path()) {
        // Another user's client: copied where that user can run it.
        let copy = scratch.path().join("liveswapctl");
        fs::copy(&ctl_bin, &copy).unwrap();
        let (code, out) = ctl(&copy, &socket, &["status"], Some(65534));
        assert_eq!(code, 2, "uid 65534 is not served: {out}");
        assert!(out.contains("without a reply"), "{out}");
        let (code, out) = ctl(&copy, &socket, &["status"], Some(allowed_uid));
        assert_eq!(code, 0, "an allowed uid is served: {out}");
    }
    demo.send("");
    drop(demo);
}

#[test]
fn the_metrics_endpoint_holds_no_more_than_16_connections_and_serves_after_they_go() {
    let plugin = EditablePlugin::new("metrics-bound");
    let path = plugin.build();
    let metrics = free_local_address();
    let mut demo = Demo::start_with(&path, &["--metrics", &metrics]);
    demo.expect_busy_tick(1);
    let fds = || {
        fs::read_dir(format!("/proc/{}/fd", demo.child.id()))
            .unwrap()
            .count()
    };
    let before = fds();
    // 100 clients that connect and say nothing.
    let idle: Vec<_> = (0..100)
        .map(|_| std::net::TcpStream::connect(&metrics).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let held = fds() - before;
    assert!(
        held <= 16 + 2,
        "the demo holds {held} more descriptors for 100 idle clients"
    );
    drop(idle);
    // Their places come back as they hang up: a scrape is served again.
    let deadline = Instant::now() + WAIT;
    loop {
        let served = std::panic::catch_unwind(|| scrape(&metrics));
        if let Ok(body) = served {
            assert!(body.contains("liveswap_generation"), "{body}");
            // Every counter is there at zero before anything happened.
            assert_eq!(
                sample(
                    &body,
                    "liveswap_swaps_total",
                    &["kind=\"rollback\"", "outcome=\"refused\""]
                ),
                Some(0.0),
                "{body}"
            );
            assert!(
                body.lines().any(|l| l == "liveswap_plugin_panics_total 0"),
                "{body}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scrape served after the idle clients left"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    demo.send("");
    drop(demo);
}

#[test]
fn with_watch_a_target_directory_removed_whole_and_rebuilt_is_served() {
    // The watched path lies in a `target/` of its own, which is removed
    // whole as `cargo clean` removes it, then made again by the next build.
    let plugin = EditablePlugin::new("cleaned");
    let first = fs::read(plugin.build()).unwrap();
    let root = tempfile::tempdir().unwrap();
    let target = root.path().join("target");
    let debug = target.join("debug");
    let path = debug.join("libliveswap_demo_plugin.so");
    fs::create_dir_all(&debug).unwrap();
    fs::write(&path, &first).unwrap();
    let mut demo = Demo::start_with(&path, &["--watch"]);
    demo.expect("watching", |l| l.starts_with("watching "));
    demo.expect_busy_tick(1);

    fs::remove_dir_all(&target).unwrap();
    demo.expect("the path gone", |l| l.starts_with("watch: "));
    plugin.edit("Adding to 10: {}\", i + 10", "Adding to 100: {}\", i + 100");
    let rebuilt = fs::read(plugin.build()).unwrap();
    fs::create_dir(&target).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    fs::create_dir(&debug).unwrap();
    fs::write(debug.join("incoming"), &rebuilt).unwrap();
    fs::rename(debug.join("incoming"), &path).unwrap();
    let line = demo.expect("after the rebuild", |l| l.starts_with("watch: swap"));
    assert!(
        line.starts_with("watch: swap ok: generation 2 (was 1)"),
        "{line}"
    );
    assert!(line.contains("\"Adding to 100: 107\""), "{line}");
    drop(demo.stdin.take());
    assert!(demo.child.wait().unwrap().success());
}

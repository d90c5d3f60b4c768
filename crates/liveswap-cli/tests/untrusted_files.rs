//! `liveswap` on files it should not trust: a FIFO is refused, not waited
//! on; a file of holes is refused from its size, unread; a plugin is read
//! only where it is shown; and names crafted to hold escape sequences are
//! printed escaped. Each run is timed and its peak memory measured.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use liveswap_tests::{fixture, fixtures_dir, install, install_bytes, with_descriptor};

/// How long a run may take before it counts as hung.
const PROMPTLY: Duration = Duration::from_secs(20);

/// Peak resident memory allowed for a run, whatever the file's size.
const RSS_LIMIT_KIB: i64 = 100 * 1024;

/// A finished run of `liveswap`.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    /// Its peak resident set size, in KiB.
    peak_rss_kib: i64,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `liveswap` with `args`; fails the test if it is still running
/// after [`PROMPTLY`] (and kills it).
#[expect(
    clippy::zombie_processes,
    reason = "the child is reaped by `wait4`, which also reports its peak memory"
)]
fn liveswap<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveswap"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run liveswap");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                pipe.read_to_end(&mut bytes)
                    .expect("read liveswap's output");
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let pid = libc::pid_t::try_from(child.id()).expect("a pid");
    let started = Instant::now();
    let (status, usage) = loop {
        if let Some(done) = wait(pid, libc::WNOHANG) {
            break done;
        }
        if started.elapsed() > PROMPTLY {
            child.kill().expect("kill liveswap");
            wait(pid, 0);
            panic!(
                "liveswap {:?} still running after {PROMPTLY:?}",
                args.iter().map(AsRef::as_ref).collect::<Vec<_>>()
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).into_owned(),
        peak_rss_kib: usage.ru_maxrss,
    }
}

/// Waits for child `pid` (`options`: `WNOHANG` or 0); its wait status and
/// resource usage once it has exited.
fn wait(pid: libc::pid_t, options: libc::c_int) -> Option<(libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: `rusage` is a C struct of integers, for which all zero bytes
    // are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid, writable and live for the
    // call; `pid` is a child of this process that nothing else waits for
    // (its `Child` is never waited on).
    let waited = unsafe { libc::wait4(pid, &mut status, options, &mut usage) };
    match waited {
        0 => None,
        w if w == pid => Some((status, usage)),
        _ => panic!("wait4 on liveswap: {}", io::Error::last_os_error()),
    }
}

fn fifo_at(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("make a FIFO");
}

/// A name of the same length as `fixture::Calc` (13 bytes) that clears
/// the screen (ESC [2J), starts a red colour through the one-byte CSI of
/// C1 (U+009B), and rings the bell.
const CRAFTED: &str = "\u{1b}[2J\u{9b}31mCal\u{7}";

/// The same, as it must be printed.
const CRAFTED_ESCAPED: &str = "\\u{1b}[2J\\u{9b}31mCal\\u{7}";

/// The name of the crafted plugin's file (a script that inspects every file
/// in a directory prints names others chose).
const CRAFTED_FILE: &str = "lib\u{1b}[2Jcrafted.so";

/// A copy of the `calc` fixture, in `dir` as [`CRAFTED_FILE`], whose
/// interface name (in its `.liveswap` section) is [`CRAFTED`].
fn crafted_plugin(dir: &Path) -> PathBuf {
    assert_eq!(CRAFTED.len(), "fixture::Calc".len());
    let bytes = with_descriptor("calc", |section| {
        let at = section
            .windows(14)
            .position(|w| w == b"fixture::Calc\0")
            .expect("the interface name is in the descriptor");
        section[at..at + 13].copy_from_slice(CRAFTED.as_bytes());
    });
    let path = dir.join(CRAFTED_FILE);
    install_bytes(&bytes, &path);
    path
}

/// Whether `out` holds a control character (other than the newlines that
/// end lines) or a C1 control, raw.
fn has_raw_controls(out: &[u8]) -> bool {
    String::from_utf8_lossy(out)
        .chars()
        .any(|c| c.is_control() && c != '\n')
}

#[test]
fn inspecting_a_fifo_is_refused_at_once_naming_it_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("libplugin.so");
    fifo_at(&fifo);
    let run = liveswap(&[OsStr::new("inspect"), fifo.as_os_str()]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&fifo.display().to_string()) && run.stderr.contains("a fifo"),
        "{}",
        run.stderr
    );
}

#[test]
fn checking_refuses_a_fifo_as_plugin_or_host_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    fifo_at(&fifo);
    let host = fixtures_dir().join("calc-host");
    let calc = fixture("calc");
    for (plugin, host, named) in [(&fifo, &host, "plugin"), (&calc, &fifo, "host")] {
        let run = liveswap(&[
            OsStr::new("check"),
            plugin.as_os_str(),
            OsStr::new("--against"),
            host.as_os_str(),
        ]);
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "{named} {}: not a regular file (it is a fifo)",
                fifo.display()
            )),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn inspecting_a_directory_is_refused_naming_it_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = liveswap(&[OsStr::new("inspect"), dir.path().as_os_str()]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(&dir.path().display().to_string())
            && run
                .stderr
                .contains("not a regular file (it is a directory)"),
        "{}",
        run.stderr
    );
}

#[test]
fn inspecting_a_3_gib_sparse_file_is_refused_from_its_size_in_little_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("libsparse.so");
    fs::write(&sparse, b"\x7fELF").unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(3 << 30)
        .unwrap();
    let run = liveswap(&[OsStr::new("inspect"), sparse.as_os_str()]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(&sparse.display().to_string())
            && run
                .stderr
                .contains(&format!("{} bytes, over the", 3u64 << 30)),
        "{}",
        run.stderr
    );
    assert!(
        run.peak_rss_kib < RSS_LIMIT_KIB,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn inspecting_a_plugin_padded_to_900_mib_reads_only_what_it_shows() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("libbig.so");
    install("calc", &big);
    fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(900 << 20)
        .unwrap();
    let run = liveswap(&[OsStr::new("inspect"), big.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = run.stdout();
    assert!(
        text.contains("interface:   fixture::Calc version 1")
            && text.contains("fn add(i64, i64) -> i64"),
        "{text}"
    );
    assert!(
        run.peak_rss_kib < RSS_LIMIT_KIB,
        "peak RSS {} KiB",
        run.peak_rss_kib
    );
}

#[test]
fn inspect_prints_a_name_and_path_holding_escape_sequences_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = crafted_plugin(dir.path());
    let run = liveswap(&[OsStr::new("inspect"), plugin.as_os_str()]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!has_raw_controls(&run.stdout), "{:?}", run.stdout());
    let text = run.stdout();
    assert!(
        text.contains(&format!("interface:   {CRAFTED_ESCAPED} version 1"))
            && text.contains("lib\\u{1b}[2Jcrafted.so"),
        "{text}"
    );
}

#[test]
fn inspect_json_carries_a_name_and_path_holding_escape_sequences_escaped_and_intact() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = crafted_plugin(dir.path());
    let run = liveswap(&[
        OsStr::new("inspect"),
        plugin.as_os_str(),
        OsStr::new("--json"),
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!has_raw_controls(&run.stdout), "{:?}", run.stdout());
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("valid JSON");
    assert_eq!(json["interface"], CRAFTED);
    assert_eq!(json["plugin"], plugin.to_str().unwrap());
}

#[test]
fn check_quotes_a_name_and_path_holding_escape_sequences_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let plugin = crafted_plugin(dir.path());
    let host = fixtures_dir().join("calc-host");
    let run = liveswap(&[
        OsStr::new("check"),
        plugin.as_os_str(),
        OsStr::new("--against"),
        host.as_os_str(),
    ]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout(), run.stderr);
    assert!(!has_raw_controls(&run.stdout), "{:?}", run.stdout());
    let text = run.stdout();
    assert!(
        text.contains("lib\\u{1b}[2Jcrafted.so") && text.contains("fixture::Calc"),
        "{text}"
    );
}

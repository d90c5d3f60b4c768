//! The isolated preflight: the host's check, run on the candidate in a
//! child process (the host binary re-executed) before the serving process
//! maps it, so that a candidate that segfaults, aborts, overflows its
//! stack or hangs harms only the child.
//!
//! The host calls [`serve_isolated`] at the top of `main`, once per
//! interface it checks, before anything else (before threads start and
//! before arguments are parsed): in the child it runs the check and exits;
//! in any other process it returns at once. This is how `procspawn` works.
//!
//! The child gets the candidate's private copy, the very bytes checked,
//! as its descriptor 3 (sealed, read-only), and the check's name in
//! `LIVESWAP_PREFLIGHT`. It loads the copy with a fresh [`Slot`], runs the
//! check on its main thread and exits with status 0 (passed), 1 (the check
//! said no; its message on standard error) or 2 (the copy did not load).
//! The parent reads the status; a signal, or no exit within the timeout
//! (the child is then killed), refuses the candidate. The child dumps no
//! core (`RLIMIT_CORE` 0). Costs a process
//! start, a load and the check: tens of milliseconds for a small plugin.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::interface::Interface;
use crate::loader::Candidate;
use crate::preflight::Preflight;
use crate::slot::{Options, Slot};

/// The environment variable that names the check a child runs.
pub const CHILD_ENV: &str = "LIVESWAP_PREFLIGHT";
/// The descriptor a child finds the candidate at.
const CHILD_FD: i32 = 3;
/// How long an isolated preflight may run by default.
pub const DEFAULT_ISOLATED_TIMEOUT: Duration = Duration::from_secs(10);
/// Exit status of a child whose check refused the candidate.
const REFUSED: i32 = 1;
/// Exit status of a child that could not load the candidate.
const NOT_LOADED: i32 = 2;

/// Runs the named check in a child process; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct IsolatedPreflight {
    name: String,
    program: Option<PathBuf>,
    timeout: Duration,
}

impl IsolatedPreflight {
    /// The check registered in the host's `main` by
    /// [`serve_isolated`] under `name`.
    pub fn new(name: impl Into<String>) -> Self {
        IsolatedPreflight {
            name: name.into(),
            program: None,
            timeout: DEFAULT_ISOLATED_TIMEOUT,
        }
    }

    /// Kills the child and refuses the candidate after this long (default
    /// [`DEFAULT_ISOLATED_TIMEOUT`], 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs this program instead of the host's own binary
    /// (`/proc/self/exe`); it must call [`serve_isolated`] likewise.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Runs the check on `candidate` in a child process. `Err` says why it
    /// refused: the check's message, the signal that killed the child, or
    /// the timeout.
    pub fn run(&self, candidate: &Candidate<'_>) -> Result<(), String> {
        let program = self
            .program
            .clone()
            .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
        let fd = candidate.fd().as_raw_fd();
        let mut command = Command::new(&program);
        command
            .env(CHILD_ENV, &self.name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // SAFETY: the closure runs in the child between fork and exec and
        // calls only `setrlimit`, `dup2` and `fcntl`, which are
        // async-signal-safe; `fd` is open in the parent (borrowed from the
        // candidate for this call), so it is open in the child.
        unsafe {
            command.pre_exec(move || {
                // A crashing candidate leaves no core file behind.
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                if fd == CHILD_FD {
                    // Already in place: only clear close-on-exec.
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, CHILD_FD) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Its own process group, so that what the candidate starts can be
        // killed with it: a grandchild holding standard error open would
        // otherwise keep the reader below, and so the swap, waiting.
        command.process_group(0);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let stderr = child.stderr.take();
        let (said_tx, said_by) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stderr) = stderr {
                let _ = stderr.by_ref().take(64 * 1024).read_to_string(&mut text);
            }
            let _ = said_tx.send(text);
        });
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    // The whole group: the child and whatever it started.
                    // SAFETY: `kill` has no memory preconditions; the group
                    // is the child's own (made at spawn), and the child is
                    // not reaped yet, so its id names nothing else.
                    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                    let _ = child.wait();
                    break None;
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("cannot wait for the child: {e}"));
                }
            }
        };
        // What the child wrote, once every holder of the pipe has closed
        // it; something the candidate started may still hold it, so wait a
        // little, then go on without (the reader thread ends with the pipe).
        let said = said_by
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or_default();
        let said = said.trim();
        let Some(status) = status else {
            return Err(format!(
                "the check did not finish within {:?} in the child process (killed)",
                self.timeout
            ));
        };
        match (status.code(), status.signal()) {
            (Some(0), _) => Ok(()),
            (Some(REFUSED), _) => Err(said.to_string()),
            (Some(NOT_LOADED), _) => Err(format!("the child could not load it: {said}")),
            (Some(code), _) => Err(format!(
                "the child exited with status {code} (did the host call serve_isolated(\"{}\") \
                 at the top of main?){}",
                self.name,
                tail(said)
            )),
            (None, Some(signal)) => Err(format!(
                "the child process was killed by signal {signal} ({}){}",
                signal_name(signal),
                tail(said)
            )),
            (None, None) => Err("the child process ended without a status".into()),
        }
    }
}

fn tail(said: &str) -> String {
    let last = said.lines().last().unwrap_or("");
    if last.is_empty() {
        String::new()
    } else {
        format!(": {last}")
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTRAP => "SIGTRAP",
        _ => "signal",
    }
}

/// Serves the isolated preflight named `name` when this process is its
/// child, and returns otherwise. Call it at the top of `main`, before
/// anything else, once per check the host registers:
///
/// ```no_run
/// # #[liveswap::interface(version = 1)]
/// # pub trait Handles: Send + Sync { fn some_fn(&self, i: i64) -> String; }
/// use liveswap::Preflight;
/// use liveswap::deploy::serve_isolated;
///
/// fn golden() -> Preflight<dyn Handles> {
///     Preflight::new(|api: &liveswap::Version<dyn Handles>| match api.some_fn(7) {
///         Ok(answer) if answer == "Adding to 10: 17" => Ok(()),
///         other => Err(format!("some_fn(7) returned {other:?}")),
///     })
/// }
///
/// fn main() {
///     serve_isolated("handles", &golden());
///     // ... the host's own work
/// }
/// ```
///
/// In the child it never returns: it exits with the verdict.
pub fn serve_isolated<I: Interface + ?Sized>(name: &str, preflight: &Preflight<I>) {
    if std::env::var_os(CHILD_ENV).is_none_or(|v| v != name) {
        return;
    }
    std::process::exit(match child(preflight) {
        ExitCode::SUCCESS => 0,
        _ => REFUSED,
    });
}

fn child<I: Interface + ?Sized>(preflight: &Preflight<I>) -> ExitCode {
    let path = format!("/proc/self/fd/{CHILD_FD}");
    // The parent checked who wrote the file and its signature; the copy
    // is sealed and reached by descriptor only.
    let slot = match Slot::<I>::load_with(&path, Options::new().inherited()) {
        Ok(slot) => slot,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(NOT_LOADED);
        }
    };
    let verdict = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        preflight.check(&slot.current())
    }))
    .unwrap_or_else(|panic| {
        Err(format!(
            "the check panicked: {}",
            crate::preflight::panic_message(&*panic)
        ))
    });
    match verdict {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

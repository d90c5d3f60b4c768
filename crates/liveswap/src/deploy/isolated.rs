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
//! as its descriptor 3 (sealed, read-only), the serving version's state
//! snapshot (when the plugin carries state) as descriptor 6 with its schema
//! in `LIVESWAP_PREFLIGHT_STATE_SCHEMA`, so that it restores the candidate
//! from the bytes the host will, a random token for this run
//! on a pipe at descriptor 4, a pipe for its verdict at descriptor 5, and
//! the check's name in `LIVESWAP_PREFLIGHT`. It loads the copy with a
//! fresh [`Slot`], runs the check on its main thread, writes the token and
//! its verdict (and the check's message) on the verdict pipe, and exits
//! with status 0 (passed), 1 (the check said no) or 2 (the copy did not
//! load). The candidate passes only with status 0 *and* a verdict
//! carrying the token: a candidate that ends the child with `exit(0)`
//! during its load or check gives no verdict, and is refused. A signal, or
//! no exit within the timeout, refuses it too. The child is the subreaper
//! of what the candidate starts and kills all of it before it exits, even
//! a process in a session of its own; after every run the parent also
//! kills the child's whole process group, so what the candidate started
//! does not outlive the check (unless the child crashed first and it left
//! the group). The child dumps no core (`RLIMIT_CORE` 0).
//!
//! The token guards against a candidate that ends the child early by
//! accident or carelessness; it is no defence against a hostile one,
//! which shares the child's memory and descriptors (signatures are).
//! Child mode refuses to run in a process started with elevated rights
//! (setuid, setgid or file capabilities: the kernel's `AT_SECURE`), where
//! the environment and inherited descriptors are the caller's, not the
//! host's; and without a token on descriptor 4, which catches a host
//! started with `LIVESWAP_PREFLIGHT` set by mistake (not a caller who
//! hands it one). The parent kills the child's process group before it
//! reaps the child, which assumes the host does not reap children it did
//! not start (`SIGCHLD` ignored, or `waitpid(-1)` elsewhere): then the run
//! fails as "cannot wait for the child" and nothing is killed.
//!
//! Costs a process start, a load and the check: tens of milliseconds for
//! a small plugin.

use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::interface::Interface;
use crate::options::Options;
use crate::pipeline::Candidate;
use crate::preflight::Preflight;
use crate::slot::Slot;

/// The environment variable that names the check a child runs.
pub const CHILD_ENV: &str = "LIVESWAP_PREFLIGHT";
/// The descriptor a child finds the candidate at.
const CHILD_FD: i32 = 3;
/// The descriptor a child reads its run's token from.
const TOKEN_FD: i32 = 4;
/// The descriptor a child writes its verdict to.
const VERDICT_FD: i32 = 5;
/// The descriptor a child finds the serving version's state snapshot at,
/// when [`STATE_ENV`] names its schema.
const STATE_FD: i32 = 6;
/// The environment variable that gives the snapshot's schema.
const STATE_ENV: &str = "LIVESWAP_PREFLIGHT_STATE_SCHEMA";
/// Set when a restore that fails starts the candidate cold, as the host
/// would.
const STATE_COLD_ENV: &str = "LIVESWAP_PREFLIGHT_STATE_COLD";
/// The most of a verdict the parent reads.
const VERDICT_MAX: u64 = 64 * 1024;
/// How long an isolated preflight may run by default.
pub const DEFAULT_ISOLATED_TIMEOUT: Duration = Duration::from_secs(10);
/// Exit status of a child whose check refused the candidate.
const REFUSED: i32 = 1;
/// Exit status of a child that could not load the candidate.
const NOT_LOADED: i32 = 2;
/// Exit status of a child mode that refused to run (elevated rights, or
/// not started by [`IsolatedPreflight::run`]).
const NOT_ALLOWED: i32 = 3;
/// The most of a refusal's message the child sends: the verdict must fit
/// the pipe's buffer (one page when the user's pipe quota is used up),
/// since the parent reads it only once the child has exited.
const MESSAGE_MAX: usize = 3072;

/// `text`, cut to at most `max` bytes at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The first word of a verdict line after the token.
const PASSED: &str = "passed";
const FAILED: &str = "refused";

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
        let token = run_token()?;
        let (token_in, token_out) = pipe()?;
        let (verdict_in, verdict_out) = pipe()?;
        // Fits the pipe's buffer: written whole before the child starts.
        File::from(token_out)
            .write_all(format!("{token}\n").as_bytes())
            .map_err(|e| format!("cannot hand the child its token: {e}"))?;
        let (token_fd, verdict_fd) = (token_in.as_raw_fd(), verdict_out.as_raw_fd());
        let mut command = Command::new(&program);
        command
            .env(CHILD_ENV, &self.name)
            .env_remove(STATE_ENV)
            .env_remove(STATE_COLD_ENV)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // The serving version's snapshot, which the candidate will be
        // restored from here: the child restores from the same bytes.
        let state = match candidate.state() {
            Some((schema, bytes)) => {
                command.env(STATE_ENV, schema.to_string());
                if candidate.cold_on_state_failure() {
                    command.env(STATE_COLD_ENV, "1");
                }
                Some(state_file(bytes)?)
            }
            None => None,
        };
        let state_fd = state.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        // SAFETY: the closure runs in the child between fork and exec and
        // calls only `setrlimit`, `fcntl` and `dup2`, which are
        // async-signal-safe; `fd`, `token_fd`, `verdict_fd` and `state_fd`
        // (when not -1) are open in the parent (borrowed for this call:
        // the candidate's copy, the two pipe ends and the state file, alive
        // until `spawn` returns), so they are open in the child.
        unsafe {
            command.pre_exec(move || {
                // A crashing candidate leaves no core file behind.
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                // Out of the way first (one of them may sit at 3, 4 or 5),
                // then into place; `dup2` clears close-on-exec on the copy.
                let mut moved = [-1; 4];
                for (slot, from) in moved.iter_mut().zip([fd, token_fd, verdict_fd, state_fd]) {
                    if from == -1 {
                        continue;
                    }
                    *slot = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 10);
                    if *slot == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (from, to) in moved
                    .into_iter()
                    .zip([CHILD_FD, TOKEN_FD, VERDICT_FD, STATE_FD])
                {
                    if from != -1 && libc::dup2(from, to) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        // Its own process group, so that what the candidate starts can be
        // killed with it: a grandchild holding standard error open would
        // otherwise keep the reader below, and so the swap, waiting.
        command.process_group(0);
        let spawned = command.spawn();
        // The child's ends are the child's alone now.
        drop((token_in, verdict_out, state));
        let mut child = spawned.map_err(|e| format!("cannot start {}: {e}", program.display()))?;
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
        let pid = child.id() as libc::pid_t;
        let exited = loop {
            match exited_unreaped(pid) {
                Ok(true) => break true,
                Ok(false) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(false) => break false,
                Err(e) => {
                    // Reaped by someone else (a host that ignores SIGCHLD,
                    // or waits for any child): its id may name another
                    // process by now, so nothing is killed.
                    return Err(format!("cannot wait for the child: {e}"));
                }
            }
        };
        // The whole group, after every run: whatever the candidate started
        // there ends with the check. The child is not reaped yet, so its id
        // (the group's) names nothing else.
        kill_group(pid);
        let status = child.wait().ok().filter(|_| exited);
        let verdict = read_verdict(verdict_in, &token);
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
        match (status.code(), status.signal(), verdict) {
            (Some(0), _, Verdict::Passed) => Ok(()),
            (Some(0), _, Verdict::Missing) => Err(format!(
                "the child exited with status 0 but gave no verdict: the candidate ended the \
                 process during its load or check (exit?){}",
                tail(said)
            )),
            (Some(_), _, Verdict::Forged) => Err(
                "the child's verdict did not carry this run's token: something else wrote it"
                    .into(),
            ),
            (Some(REFUSED), _, Verdict::Refused(message)) => Err(if message.is_empty() {
                "the check refused it without a message".into()
            } else {
                message
            }),
            (Some(REFUSED), _, _) => Err(format!(
                "the child exited with the refusal status but gave no verdict{}",
                tail(said)
            )),
            (Some(NOT_LOADED), _, _) => Err(format!("the child could not load it: {said}")),
            (Some(NOT_ALLOWED), _, _) => Err(format!("the child refused to run the check: {said}")),
            (Some(code), _, _) => Err(format!(
                "the child exited with status {code} (did the host call serve_isolated(\"{}\") \
                 at the top of main?){}",
                self.name,
                tail(said)
            )),
            (None, Some(signal), _) => Err(format!(
                "the child process was killed by signal {signal} ({}){}",
                signal_name(signal),
                tail(said)
            )),
            (None, None, _) => Err("the child process ended without a status".into()),
        }
    }
}

/// What the child said on its verdict pipe.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Passed,
    Refused(String),
    /// Nothing, or not a verdict.
    Missing,
    /// A verdict without this run's token.
    Forged,
}

/// 128 random bits, in hex: what a verdict must carry to count.
fn run_token() -> Result<String, String> {
    let mut bits = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bits))
        .map_err(|e| format!("cannot draw a token for the child: {e}"))?;
    Ok(bits.iter().map(|b| format!("{b:02x}")).collect())
}

/// An unnamed in-memory file holding `bytes`; the child opens it anew
/// through `/proc/self/fd`, so it reads from the start.
fn state_file(bytes: &[u8]) -> Result<OwnedFd, String> {
    let fd = rustix::fs::memfd_create("liveswap-state", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("cannot hand the child the state: {e}"))?;
    let mut file = File::from(fd);
    file.write_all(bytes)
        .map_err(|e| format!("cannot hand the child the state: {e}"))?;
    Ok(OwnedFd::from(file))
}

/// A pipe whose ends close on exec (the child gets copies made for it).
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| format!("cannot make a pipe for the child: {e}"))
}

/// Whether the child has exited, leaving it to be reaped (so that its
/// process id, and its group's, stay its own).
fn exited_unreaped(pid: libc::pid_t) -> std::io::Result<bool> {
    // SAFETY: `siginfo_t` is plain data for which all zeroes is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable `siginfo_t`, the only pointer the
    // call takes; `WNOWAIT` leaves the child unreaped.
    let status = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    if status == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `waitid` filled `info` (or left it zeroed, pid 0: not yet).
    Ok(unsafe { info.si_pid() } != 0)
}

/// Kills the child's process group: the child and what it started.
fn kill_group(pid: libc::pid_t) {
    // SAFETY: `kill` has no memory preconditions; the group is the child's
    // own (made at spawn), and the child is not reaped, so its id names
    // nothing else.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
}

/// Reads what the child wrote on its verdict pipe, without waiting: the
/// child wrote it before it exited, and something it started may still
/// hold the pipe open.
fn read_verdict(pipe: OwnedFd, token: &str) -> Verdict {
    if rustix::fs::fcntl_setfl(&pipe, rustix::fs::OFlags::NONBLOCK).is_err() {
        return Verdict::Missing;
    }
    let mut text = Vec::new();
    // Ends at the end of the pipe, at the cap, or where nothing more is
    // there yet (`WouldBlock`): what was read is kept either way.
    let _ = File::from(pipe).take(VERDICT_MAX).read_to_end(&mut text);
    parse_verdict(&String::from_utf8_lossy(&text), token)
}

fn parse_verdict(text: &str, token: &str) -> Verdict {
    let (first, message) = text.split_once('\n').unwrap_or((text, ""));
    let Some((said_token, word)) = first.split_once(' ') else {
        return Verdict::Missing;
    };
    if said_token != token {
        return Verdict::Forged;
    }
    match word {
        PASSED => Verdict::Passed,
        FAILED => Verdict::Refused(message.trim().to_string()),
        _ => Verdict::Missing,
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
pub fn serve_isolated<I: Interface + ?Sized + 'static>(name: &str, preflight: &Preflight<I>) {
    if std::env::var_os(CHILD_ENV).is_none_or(|v| v != name) {
        return;
    }
    if elevated() {
        eprintln!(
            "{CHILD_ENV} is set, but this process was started with elevated rights \
             (setuid, setgid or file capabilities): an isolated preflight runs only as a \
             child of its host"
        );
        std::process::exit(NOT_ALLOWED);
    }
    let (token, mut verdict) = match parent_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!(
                "{CHILD_ENV} is set, but this process has no token from a parent \
                 (IsolatedPreflight::run): {e}"
            );
            std::process::exit(NOT_ALLOWED);
        }
    };
    // Whatever the candidate starts and leaves behind (even in a session
    // of its own, out of the process group the parent kills) is
    // reparented to this process, which ends it before it exits.
    let subreaper = rustix::process::set_child_subreaper(Some(rustix::process::getpid())).is_ok();
    let verdict_of = child(preflight);
    if subreaper {
        end_descendants();
    }
    let (code, said) = match verdict_of {
        Ok(()) => (0, format!("{token} {PASSED}\n")),
        Err(message) => (
            REFUSED,
            format!("{token} {FAILED}\n{}\n", clip(&message, MESSAGE_MAX)),
        ),
    };
    // The parent refuses the candidate if this does not arrive.
    let _ = verdict.write_all(said.as_bytes());
    std::process::exit(code);
}

/// Kills this process's children, and those of theirs that are
/// reparented to it (it is their subreaper), until none is left or 50
/// rounds have passed (a candidate that forks faster than it is killed
/// leaves the rest to the parent's group kill, or to init).
fn end_descendants() {
    let me = std::process::id();
    for _ in 0..50 {
        let children = children_of(me);
        if children.is_empty() {
            return;
        }
        for pid in children {
            // SAFETY: `kill` takes no pointer and has no memory
            // preconditions. (`pid` was a child of this process a moment
            // ago; only a waiter in this process can have reaped it since.)
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        // Reap what died; its own children are reparented here meanwhile.
        std::thread::sleep(Duration::from_millis(10));
        loop {
            // SAFETY: a null status pointer is allowed; `WNOHANG` makes it
            // return at once.
            let reaped = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
            if reaped <= 0 {
                break;
            }
        }
    }
}

/// The processes whose parent is `parent`, read from `/proc`.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The fourth field, after the command in parentheses.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect()
}

/// Whether the kernel started this process with elevated rights
/// (`AT_SECURE`: setuid, setgid, or file capabilities).
fn elevated() -> bool {
    // SAFETY: `getauxval` reads the process's auxiliary vector; it has no
    // preconditions and returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The run's token, read from the pipe the parent made, and the verdict
/// pipe. The inherited descriptors are marked close-on-exec, so that what
/// the candidate runs does not get them.
fn parent_pipes() -> std::io::Result<(String, File)> {
    let mut token = String::new();
    // One line: a copy of the pipe's write end held by a process forked
    // meanwhile must not keep this read waiting for the end.
    std::io::BufReader::new(File::open(format!("/proc/self/fd/{TOKEN_FD}"))?.take(64))
        .read_line(&mut token)?;
    let token = token.trim().to_string();
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::other("the token pipe holds no token"));
    }
    let verdict = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{VERDICT_FD}"))?;
    for fd in [TOKEN_FD, VERDICT_FD] {
        // SAFETY: `fcntl(F_SETFD)` takes no pointer; on a descriptor that
        // is not open it fails with EBADF (it was open a moment ago: the
        // opens above went through it).
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((token, verdict))
}

fn child<I: Interface + ?Sized + 'static>(preflight: &Preflight<I>) -> Result<(), String> {
    let path = format!("/proc/self/fd/{CHILD_FD}");
    // The parent checked who wrote the file and its signature; the copy
    // is sealed and reached by descriptor only.
    let mut options = Options::new().inherited();
    if let Some(schema) = std::env::var(STATE_ENV).ok().and_then(|s| s.parse().ok()) {
        // The serving version's snapshot, as the parent will restore it.
        match std::fs::read(format!("/proc/self/fd/{STATE_FD}")) {
            Ok(bytes) => {
                options = options
                    .first_state(schema, bytes)
                    .cold_on_state_failure(std::env::var_os(STATE_COLD_ENV).is_some());
            }
            Err(e) => {
                eprintln!("cannot read the state snapshot the parent handed over: {e}");
                std::process::exit(NOT_LOADED);
            }
        }
    }
    let slot = match Slot::<I>::load_with(&path, options) {
        Ok(slot) => slot,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(NOT_LOADED);
        }
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        preflight.check(&slot.current())
    }))
    .unwrap_or_else(|panic| {
        Err(format!(
            "the check panicked: {}",
            crate::preflight::panic_message(&*panic)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::{Verdict, parse_verdict};

    const TOKEN: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn a_verdict_with_the_token_passes() {
        assert_eq!(
            parse_verdict(&format!("{TOKEN} passed\n"), TOKEN),
            Verdict::Passed
        );
    }

    #[test]
    fn a_refusal_carries_the_checks_message() {
        let said = format!("{TOKEN} refused\nsome_fn(7) returned 8\n");
        assert_eq!(
            parse_verdict(&said, TOKEN),
            Verdict::Refused("some_fn(7) returned 8".into())
        );
    }

    #[test]
    fn a_verdict_with_another_token_is_forged() {
        let other = "ffeeddccbbaa99887766554433221100";
        assert_eq!(
            parse_verdict(&format!("{other} passed\n"), TOKEN),
            Verdict::Forged
        );
    }

    #[test]
    fn nothing_or_noise_is_no_verdict() {
        assert_eq!(parse_verdict("", TOKEN), Verdict::Missing);
        assert_eq!(parse_verdict("passed\n", TOKEN), Verdict::Missing);
        assert_eq!(
            parse_verdict(&format!("{TOKEN} maybe\n"), TOKEN),
            Verdict::Missing
        );
    }
}

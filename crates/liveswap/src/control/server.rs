//! The control server: a Unix socket in a directory only this process's
//! user can enter, one thread per client, peers checked with
//! `SO_PEERCRED`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::admission::{Admission, Inspections};
use super::peer::{Peer, Rights};
use super::protocol::{self, ErrorKind};
use crate::manage::ManagedSlot;

/// Settings of a [`ControlServer`].
#[derive(Debug, Clone)]
pub struct ControlOptions {
    allowed_uids: Vec<u32>,
    readers: Vec<u32>,
    max_line: usize,
    idle_timeout: Duration,
    max_clients: usize,
    max_clients_per_uid: usize,
}

impl Default for ControlOptions {
    fn default() -> Self {
        ControlOptions {
            allowed_uids: Vec::new(),
            readers: Vec::new(),
            max_line: 64 * 1024,
            idle_timeout: Duration::from_secs(30),
            max_clients: 128,
            max_clients_per_uid: 8,
        }
    }
}

impl ControlOptions {
    /// Root and this process's effective user only.
    pub fn new() -> Self {
        Self::default()
    }
    /// Also serves these users as operators: they may swap, roll back
    /// and inspect, but only files they could read themselves (every
    /// directory on the way searchable by them, the file readable, by its
    /// mode bits); any other path is refused with one message, whether it
    /// exists or not.
    pub fn allow_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.allowed_uids.extend(uids);
        self
    }
    /// Also serves these users read-only: `status`, `history` and
    /// `slots`; anything else is refused.
    pub fn allow_readers(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.readers.extend(uids);
        self
    }
    /// Longest request line, in bytes (default 64 KiB); a longer one gets
    /// an error reply and is skipped.
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes;
        self
    }
    /// A client whose request line is not whole this long after the
    /// server began to wait for it is disconnected (default 30 s), however
    /// it trickles its bytes. Other clients are never blocked by it.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Clients served at once (default 128); one more gets a `busy` error
    /// reply and is disconnected. The last 8 places (half, for 16 or
    /// fewer) are for root and this process's user only, so that
    /// allow-listed users cannot fill them.
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.max_clients = clients;
        self
    }
    /// Connections one allow-listed uid may hold at once (default 8);
    /// root and this process's user are not capped by uid.
    pub fn max_clients_per_uid(mut self, clients: usize) -> Self {
        self.max_clients_per_uid = clients;
        self
    }
}

/// Why the control server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The socket's directory is reachable by other users.
    #[error(
        "control socket directory {dir}: owned by uid {owner} with mode {mode:o}; it must be owned by uid {euid} and closed to group and others (mode 700; 711 or 755 when other uids are allowed)"
    )]
    UnsafeDirectory {
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// This process's effective uid.
        euid: u32,
    },
    /// A directory above the socket's (or a link on the way) could be
    /// changed by another user, who could then put a socket of their own
    /// at this path.
    #[error("control socket directory {dir}: {reason}")]
    UnsafeAncestor {
        /// The socket's directory.
        dir: PathBuf,
        /// Which component, its owner and mode, and why.
        reason: String,
    },
    /// Another process serves this socket.
    #[error("control socket {path}: another process is listening on it")]
    InUse {
        /// The socket.
        path: PathBuf,
    },
    /// The socket's path has no parent directory or no file name.
    #[error("control socket {path}: not a path to a socket file")]
    BadPath {
        /// The path given.
        path: PathBuf,
    },
    /// An operating-system error.
    #[error("control socket {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// The slots a server serves, by name.
use super::handler::{Slots, handle};

/// A running control server; dropping it stops it and removes the socket.
pub struct ControlServer {
    path: PathBuf,
    listener: Arc<UnixListener>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("path", &self.path)
            .finish()
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ControlError + '_ {
    move |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes `dir` (mode 700) if it is missing, and checks that it is this
/// process's user's and closed to others: with an allow-list, others may
/// search it (so allowed users can reach the socket), never write it.
fn private_dir(dir: &Path, others_may_search: bool) -> Result<(), ControlError> {
    let mode = if others_may_search { 0o711 } else { 0o700 };
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_error(dir)(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io_error(dir))?;
    let euid = rustix::process::geteuid().as_raw();
    let mode = meta.permissions().mode() & 0o7777;
    let closed = if others_may_search { 0o022 } else { 0o077 };
    if !meta.is_dir() || meta.uid() != euid || mode & closed != 0 {
        return Err(ControlError::UnsafeDirectory {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            mode,
            euid,
        });
    }
    // Every directory and link on the way, by the plugins' safe-path rule:
    // owned by root or this user, written by nobody else (a sticky
    // directory such as /tmp excepted).
    crate::check::check_path(dir).map_err(|e| ControlError::UnsafeAncestor {
        dir: dir.to_path_buf(),
        reason: match e {
            crate::Error::UnsafePath {
                component,
                owner,
                mode,
                reason,
                ..
            } => format!(
                "{} (owner uid {owner}, mode {mode:04o}) is {reason}",
                component.display()
            ),
            other => other.to_string(),
        },
    })
}

impl ControlServer {
    /// Listens on the Unix socket `socket` and serves `slots` by name.
    ///
    /// The socket's directory is created with mode 700 if missing (711 with
    /// an allow-list), and must
    /// otherwise be owned by this process's effective user and closed to
    /// group and others; every directory and link above it must be owned
    /// by root or this user and written by nobody else (sticky directories
    /// excepted), the rule plugins' paths follow; the socket itself is
    /// made mode 600. With an
    /// allow-list of other uids, the directory may be searchable by others
    /// (never writable) and the socket is mode 666: every connection is then
    /// checked with `SO_PEERCRED`, and only root, this process's user and
    /// the allowed uids are served (others are closed and logged). A stale
    /// socket left by a process that died is replaced; a live one is an
    /// error.
    ///
    /// # Errors
    ///
    /// [`ControlError`], naming the path and what was wrong.
    pub fn start(
        socket: impl AsRef<Path>,
        slots: Vec<(String, Arc<dyn ManagedSlot>)>,
        options: ControlOptions,
    ) -> Result<Self, ControlError> {
        let path = socket.as_ref().to_path_buf();
        let dir = match (path.parent(), path.file_name()) {
            (Some(dir), Some(_)) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            (Some(_), Some(_)) => PathBuf::from("."),
            _ => return Err(ControlError::BadPath { path }),
        };
        let shared = !options.allowed_uids.is_empty() || !options.readers.is_empty();
        private_dir(&dir, shared)?;
        let listener = match UnixListener::bind(&path) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                if UnixStream::connect(&path).is_ok() {
                    return Err(ControlError::InUse { path });
                }
                std::fs::remove_file(&path).map_err(io_error(&path))?;
                UnixListener::bind(&path).map_err(io_error(&path))?
            }
            Err(e) => return Err(io_error(&path)(e)),
        };
        // With an allow-list, everyone may connect and `SO_PEERCRED`
        // decides; without, only this user can.
        let mode = if shared { 0o666 } else { 0o600 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(io_error(&path))?;
        let stop = Arc::new(AtomicBool::new(false));
        let slots: Slots = Arc::new(slots);
        let listener = Arc::new(listener);
        let thread = {
            let (stop, listener) = (Arc::clone(&stop), Arc::clone(&listener));
            std::thread::Builder::new()
                .name("liveswap-control".into())
                .spawn(move || accept_loop(&listener, &slots, &options, &stop))
                .map_err(io_error(&path))?
        };
        tracing::info!(socket = %path.display(), "control server listening");
        Ok(ControlServer {
            path,
            listener,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wake the accept loop (shutting a listening socket down makes a
        // blocked `accept` return, whatever became of its path); it sees
        // the flag and ends.
        let _ = rustix::net::shutdown(&*self.listener, rustix::net::Shutdown::Read);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(
    listener: &UnixListener,
    slots: &Slots,
    options: &ControlOptions,
    stop: &AtomicBool,
) {
    let admission = Arc::new(Admission::default());
    let inspections = Arc::new(Inspections::default());
    for stream in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            break;
        }
        let Ok(stream) = stream else {
            // `accept` failing over and over (out of descriptors) must not
            // spin a core.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let euid = rustix::process::geteuid().as_raw();
        let rights = |uid: u32| {
            if uid == 0 || uid == euid {
                Some(Rights::Owner)
            } else if options.allowed_uids.contains(&uid) {
                Some(Rights::Operator)
            } else if options.readers.contains(&uid) {
                Some(Rights::Reader)
            } else {
                None
            }
        };
        let Some(peer) = Peer::of(&stream, rights) else {
            if let Some(uid) = peer_uid(&stream) {
                tracing::warn!(uid, "control connection refused: uid not allowed");
            }
            continue;
        };
        let (uid, owner) = (peer.uid, peer.rights == Rights::Owner);
        let place =
            match admission.admit(uid, owner, options.max_clients, options.max_clients_per_uid) {
                Ok(place) => place,
                Err(why) => {
                    tracing::warn!(uid, %why, "control connection refused");
                    // Never blocks the accept loop: a client that does not
                    // read its reply loses it.
                    let _ = stream.set_nonblocking(true);
                    let mut stream = stream;
                    let _ = writeln!(stream, "{}", protocol::error(ErrorKind::BadRequest, why));
                    continue;
                }
            };
        let (slots, options, inspections) =
            (Arc::clone(slots), options.clone(), Arc::clone(&inspections));
        let spawned = std::thread::Builder::new()
            .name("liveswap-control-client".into())
            .spawn(move || {
                let _ = serve(stream, &slots, &options, &peer, &inspections);
                drop(place);
            });
        if spawned.is_err() {
            tracing::warn!("control connection dropped: cannot start a thread");
        }
    }
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    rustix::net::sockopt::socket_peercred(stream)
        .ok()
        .map(|cred| cred.uid.as_raw())
}

/// Serves one client until it hangs up or stays idle too long.
fn serve(
    stream: UnixStream,
    slots: &Slots,
    options: &ControlOptions,
    peer: &Peer,
    inspections: &Inspections,
) -> io::Result<()> {
    stream.set_write_timeout(Some(options.idle_timeout))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let deadline = Instant::now() + options.idle_timeout;
        let Some(too_long) = read_line(&mut reader, &mut line, options.max_line, deadline)? else {
            return Ok(());
        };
        let reply = if too_long {
            protocol::error(
                ErrorKind::BadRequest,
                format!("request line longer than {} bytes", options.max_line),
            )
        } else if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        } else {
            match protocol::parse(&line) {
                Ok(request) => handle(&request, slots, peer, inspections),
                Err(reply) => reply,
            }
        };
        writer.write_all(reply.as_bytes())?;
        writer.write_all(b"\n")?;
    }
}

/// Reads one line into `line` (without its newline), whole by
/// `deadline` or not at all (`TimedOut`). `None` at the end of the stream;
/// `Some(true)` when the line was longer than `max` (its bytes are
/// skipped, not kept).
fn read_line(
    reader: &mut BufReader<UnixStream>,
    line: &mut Vec<u8>,
    max: usize,
    deadline: Instant,
) -> io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        // What is left of the line's time, for this read (a timeout of
        // zero would mean none at all).
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        reader.get_ref().set_read_timeout(Some(left))?;
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(read_any.then_some(too_long));
        }
        read_any = true;
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if !too_long && line.len() + chunk.len() <= max {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(too_long));
        }
    }
}

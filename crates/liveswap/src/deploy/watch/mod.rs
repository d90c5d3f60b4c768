//! [`Watcher`]: swaps a slot to each new complete build that lands at a
//! path, however it lands.
//!
//! The watcher watches the *directory* holding the plugin (not the file,
//! whose inode changes with every rename), with `notify` and its
//! debouncer (inotify on Linux; a `PollWatcher` in
//! [`WatchOptions::poll`] mode). After a burst of events settles for the
//! debounce time (default 2 ms), it looks at the target again: `stat`
//! (following symbolic links, so a Kubernetes `..data` link swap is seen
//! through) gives an identity: the file's device, inode, size,
//! modification and change times, and those of its `.minisig` (so a
//! signature landing after its build makes a new candidate). Every
//! candidate must have been quiet (no change to the file or its signature,
//! by the change time, which no user can set back) for the settle time
//! (default 100 ms) before it is attempted, whatever its content looks
//! like: a file preallocated, renamed in and then filled in place is never
//! taken mid-write. An identity is attempted once, unless the refusal was
//! transient ([`Error::is_transient`]: a backlog, a later call first, a
//! file still changing, descriptors short), which is retried with backoff
//! (200 ms doubling to 30 s). An attempt is [`Slot::swap_with`] with the
//! watcher's preflights and `skip_unchanged`: a build whose bytes are
//! already serving is reported [`WatchEvent::Unchanged`] and not loaded.
//!
//! In pattern mode only regular files owned by root or this process's user
//! are candidates (another user's FIFO or file in a shared directory is
//! never opened), and the newest is the one changed last (change time, not
//! the modification time anyone can set to 2099). Nothing the watcher
//! opens can block. Dropping a [`Watcher`] waits at most
//! [`WatchOptions::stop_wait`] (default 10 s) for a swap in progress.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::Error;
use crate::history::Trigger;
use crate::interface::Interface;
use crate::pipeline::SwapOptions;
use crate::pipeline::SwapReport;
use crate::preflight::Preflight;
use crate::slot::Slot;

use super::isolated::IsolatedPreflight;

mod backend;
mod landing;

use backend::{Backend, Message, arm, io_error};
use landing::{Decision, Identity, Landing, stamp};

/// The debounce time by default: how long events must pause before the
/// target is looked at.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(2);
/// How long a candidate must go unchanged before it is attempted.
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(100);
/// How long dropping a watcher waits for a swap in progress, by default.
pub const DEFAULT_STOP_WAIT: Duration = Duration::from_secs(10);
/// The first wait before a transiently refused build is tried again; it
/// doubles with each refusal, up to [`RETRY_MAX`].
pub(super) const RETRY_FIRST: Duration = Duration::from_millis(200);
/// The longest wait between two tries of a transiently refused build.
pub(super) const RETRY_MAX: Duration = Duration::from_secs(30);
/// The least time between two swaps by a watcher, by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_millis(100);
/// The polling interval of [`WatchOptions::poll`] by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What a watcher saw and did; every attempt produces one, and a
/// `tracing` event too.
#[derive(Debug)]
#[non_exhaustive]
pub enum WatchEvent {
    /// A new build was published.
    Swapped(SwapReport),
    /// A build was refused; the serving generation goes on.
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        error: Error,
    },
    /// The file's bytes are those of the serving generation: not loaded.
    Unchanged {
        /// The file.
        path: PathBuf,
    },
    /// The file (or its signature) changed within the settle time: it
    /// will be looked at again when it has been quiet.
    Waiting {
        /// The file.
        path: PathBuf,
    },
    /// The target is gone (deleted, or its directory removed); the watcher
    /// waits for it to come back.
    Missing {
        /// The path watched.
        path: PathBuf,
    },
    /// The file system watcher reported an error; watching goes on.
    WatchError {
        /// Its message.
        message: String,
    },
}

/// What a watcher watches.
#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    Pattern { dir: PathBuf, pattern: String },
}

impl Target {
    fn dir(&self) -> PathBuf {
        match self {
            Target::File(path) => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf(),
            Target::Pattern { dir, .. } => dir.clone(),
        }
    }

    /// The file to look at now: the path, or the match changed last among
    /// regular files owned by root or this process's user.
    fn resolve(&self) -> Option<PathBuf> {
        match self {
            Target::File(path) => Some(path.clone()),
            Target::Pattern { dir, pattern } => {
                // SAFETY: `geteuid` has no preconditions and cannot fail.
                let euid = unsafe { libc::geteuid() };
                std::fs::read_dir(dir)
                    .ok()?
                    .filter_map(Result::ok)
                    .filter(|e| glob_match(pattern, &e.file_name().to_string_lossy()))
                    .filter_map(|e| {
                        let path = e.path();
                        let meta = std::fs::metadata(&path).ok()?;
                        let ours = meta.uid() == 0 || meta.uid() == euid;
                        (meta.is_file() && ours).then(|| ((meta.ctime(), meta.ctime_nsec()), path))
                    })
                    .max()
                    .map(|(_, path)| path)
            }
        }
    }
}

/// `*` (any run of characters) and `?` (one character) against a name.
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

type Callback = Box<dyn FnMut(&WatchEvent) + Send>;

/// Settings of a [`Watcher`].
pub struct WatchOptions<I: Interface + ?Sized> {
    target: Target,
    debounce: Duration,
    settle: Duration,
    cooldown: Duration,
    poll: Option<Duration>,
    stop_wait: Duration,
    preflight: Option<Preflight<I>>,
    isolated: Option<IsolatedPreflight>,
    on_event: Option<Callback>,
}

impl<I: Interface + ?Sized + 'static> WatchOptions<I> {
    /// Watches the plugin at `path` (a symbolic link is followed at each
    /// look, so the link or anything it points through may change).
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self::new(Target::File(path.into()))
    }

    /// Watches `dir` for files whose name matches `pattern` (`*` and `?`
    /// wildcards), and swaps to the match changed last (by change time)
    /// among regular files owned by root or this process's user.
    pub fn pattern(dir: impl Into<PathBuf>, pattern: impl Into<String>) -> Self {
        Self::new(Target::Pattern {
            dir: dir.into(),
            pattern: pattern.into(),
        })
    }

    fn new(target: Target) -> Self {
        WatchOptions {
            target,
            debounce: DEFAULT_DEBOUNCE,
            settle: DEFAULT_SETTLE,
            cooldown: DEFAULT_COOLDOWN,
            poll: None,
            stop_wait: DEFAULT_STOP_WAIT,
            preflight: None,
            isolated: None,
            on_event: None,
        }
    }

    /// How long events must pause before the target is looked at (default
    /// [`DEFAULT_DEBOUNCE`], 2 ms), added to the [`settle`](Self::settle)
    /// time in the latency from a rename to the first call served. The
    /// debouncer's thread wakes every half of it (at least every
    /// millisecond) while the watcher lives: about 1,000 wakeups a second
    /// at the default. Completeness is judged separately
    /// ([`settle`](Self::settle)), so a short debounce never loads a
    /// half-written file.
    pub fn debounce(mut self, debounce: Duration) -> Self {
        self.debounce = debounce.max(Duration::from_millis(1));
        self
    }

    /// How long a candidate (the file and its `.minisig`) must go
    /// unchanged before it is attempted (default [`DEFAULT_SETTLE`],
    /// 100 ms): the watcher's share of the latency from a rename to the
    /// first call served by the new build, and what keeps a file written
    /// in place from being taken mid-write (a writer that pauses longer
    /// than this mid-file is not detected: install by rename, or sign).
    pub fn settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// How long dropping the watcher waits for a swap in progress (a
    /// plugin constructor that does not return) before it lets the
    /// worker thread go on alone (default [`DEFAULT_STOP_WAIT`], 10 s).
    pub fn stop_wait(mut self, wait: Duration) -> Self {
        self.stop_wait = wait;
        self
    }

    /// The least time between two swaps (default [`DEFAULT_COOLDOWN`],
    /// 100 ms): a build that lands sooner after the last swap waits out
    /// the rest, and builds that land meanwhile are passed over for the
    /// newest. A build landing after a quiet spell is attempted at once.
    /// This is what keeps a storm of rebuilds from becoming a storm of
    /// swaps.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// Polls the directory every `interval` instead of asking the kernel
    /// for events: for file systems that do not deliver them (NFS, some
    /// FUSE and container mounts). A change is seen within `interval` plus
    /// the debounce time; each poll `stat`s every entry of the directory.
    /// [`DEFAULT_POLL_INTERVAL`] (500 ms) is a sensible start.
    pub fn poll(mut self, interval: Duration) -> Self {
        self.poll = Some(interval);
        self
    }

    /// Runs `preflight` against each candidate before it is published.
    pub fn preflight(mut self, preflight: Preflight<I>) -> Self {
        self.preflight = Some(preflight);
        self
    }

    /// Runs the isolated preflight (a child process) on each candidate
    /// before it is mapped here.
    pub fn isolated(mut self, isolated: IsolatedPreflight) -> Self {
        self.isolated = Some(isolated);
        self
    }

    /// Calls `f` with every event, on the watcher's thread (keep it short;
    /// send to a channel for more).
    pub fn on_event(mut self, f: impl FnMut(&WatchEvent) + Send + 'static) -> Self {
        self.on_event = Some(Box::new(f));
        self
    }
}

/// Watches a path and swaps a slot to each new complete build that lands
/// there. Errors never stop it; dropping it stops it and joins its worker
/// and debouncer threads (notify's own inotify reader is told to stop and
/// ends by itself: notify does not offer to join it).
pub struct Watcher {
    tx: Sender<Message>,
    worker: Option<JoinHandle<()>>,
    /// Disconnected when the worker thread ends.
    ended: Receiver<()>,
    stop_wait: Duration,
}

impl Watcher {
    /// Starts watching for `slot`. The build already at the path is not
    /// attempted unless its bytes differ from the serving generation's
    /// (so starting a watcher on the file just loaded does nothing).
    ///
    /// # Errors
    ///
    /// The file system watcher's error (`notify`), e.g. out of inotify
    /// watches, or the watcher's thread could not start.
    pub fn start<I: Interface + ?Sized + 'static>(
        slot: Arc<Slot<I>>,
        options: WatchOptions<I>,
    ) -> Result<Watcher, std::io::Error> {
        let (tx, rx) = mpsc::channel();
        let mut backend =
            Backend::start(options.debounce, options.poll, tx.clone()).map_err(io_error)?;
        let dir = options.target.dir();
        let armed = arm(&mut backend, &dir);
        let watching = armed.first() == Some(&dir);
        if !watching {
            tracing::warn!(dir = %dir.display(), "plugin directory not watched yet: watching the nearest directory above it that exists");
        }
        // The watcher's own checks; the rest comes from the slot's swap
        // policy at each attempt.
        let mut swap = SwapOptions::new();
        if let Some(preflight) = options.preflight.clone() {
            swap = swap.preflight(preflight);
        }
        if let Some(isolated) = options.isolated.clone() {
            swap = swap.before_load(move |candidate| isolated.run(candidate));
        }
        let state = State {
            backend: Some(backend),
            slot,
            target: options.target,
            dir,
            watching,
            armed,
            settle: options.settle,
            cooldown: options.cooldown,
            swap,
            on_event: options.on_event,
            landing: Landing::default(),
            missing: false,
        };
        let (ending, ended) = mpsc::channel::<()>();
        let worker = std::thread::Builder::new()
            .name("liveswap-watch".into())
            .spawn(move || {
                let _ending = ending;
                state.run(&rx);
            })?;
        let watcher = Watcher {
            tx: tx.clone(),
            worker: Some(worker),
            ended,
            stop_wait: options.stop_wait,
        };
        // Look once at what is there now.
        let _ = tx.send(Message::Events(Vec::new()));
        Ok(watcher)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        let Some(worker) = self.worker.take() else {
            return;
        };
        match self.ended.recv_timeout(self.stop_wait) {
            Err(RecvTimeoutError::Timeout) => {
                // A swap in progress that does not end (a plugin
                // constructor that never returns): the thread stops after
                // it, on its own.
                tracing::warn!(
                    waited = ?self.stop_wait,
                    "plugin watcher still busy with a swap; not waiting for it"
                );
            }
            _ => {
                let _ = worker.join();
            }
        }
    }
}

/// The watcher's thread.
struct State<I: Interface + ?Sized> {
    /// Taken and stopped (its thread joined) when the watcher stops.
    backend: Option<Backend>,
    slot: Arc<Slot<I>>,
    target: Target,
    dir: PathBuf,
    watching: bool,
    /// The directories watched now: the plugin's and its parent, or the
    /// nearest one above it that exists.
    armed: Vec<PathBuf>,
    settle: Duration,
    cooldown: Duration,
    swap: SwapOptions<I>,
    on_event: Option<Callback>,
    /// What was attempted, waited for, held back or is to be retried.
    landing: Landing,
    missing: bool,
}

impl<I: Interface + ?Sized + 'static> State<I> {
    fn run(mut self, rx: &Receiver<Message>) {
        self.serve(rx);
        if let Some(backend) = self.backend.take() {
            backend.stop();
        }
    }

    fn serve(&mut self, rx: &Receiver<Message>) {
        loop {
            let next = self.landing.next_look();
            let message = match next {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match message {
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                Ok(Message::Events(paths)) => {
                    // Whatever else queued meanwhile is covered by one look.
                    let mut stop = false;
                    for more in rx.try_iter() {
                        match more {
                            Message::Stop => stop = true,
                            Message::Errors(errors) => self.errors(errors),
                            Message::Events(_) => {}
                        }
                    }
                    if stop {
                        return;
                    }
                    // An event on the directory or on any directory above
                    // it (one removed whole, as `cargo clean` removes
                    // `target/`), or the directory gone: watch anew.
                    if !self.watching
                        || paths.iter().any(|p| self.dir.starts_with(p))
                        || !self.dir.is_dir()
                    {
                        self.rewatch();
                    }
                    self.look();
                }
                Ok(Message::Errors(errors)) => {
                    self.errors(errors);
                    self.rewatch();
                }
                Err(RecvTimeoutError::Timeout) => self.look(),
            }
        }
    }

    /// The watcher's trigger, skipping a build already serving, with its
    /// own preflight and isolated check where it names them; the slot's
    /// policy fills in what these leave unnamed (`Slot::swap_with`).
    fn options(&self) -> SwapOptions<I> {
        self.swap.clone().trigger(Trigger::Watch).skip_unchanged()
    }

    fn emit(&mut self, event: WatchEvent) {
        if let Some(f) = &mut self.on_event {
            f(&event);
        }
    }

    fn errors(&mut self, errors: Vec<String>) {
        for message in errors {
            tracing::warn!(%message, "plugin watcher error");
            self.emit(WatchEvent::WatchError { message });
        }
    }

    /// Watches again: the directory once it exists again, or, while it
    /// does not, the nearest directory above it, one level at a time as
    /// the path comes back (`cargo clean` removes the whole `target/`).
    fn rewatch(&mut self) {
        let Some(backend) = &mut self.backend else {
            return;
        };
        for dir in self.armed.drain(..) {
            backend.unwatch(&dir);
        }
        self.armed = arm(backend, &self.dir);
        self.watching = self.armed.first() == Some(&self.dir);
        if self.watching {
            tracing::debug!(dir = %self.dir.display(), "plugin directory watched");
        }
    }

    fn look(&mut self) {
        self.landing.unhold();
        let Some(path) = self.target.resolve() else {
            return self.gone(self.target.dir());
        };
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(_) => return self.gone(path),
        };
        self.missing = false;
        let signature = crate::check::signature_path(&path);
        let id: Identity = (
            stamp(&meta),
            std::fs::symlink_metadata(&signature)
                .ok()
                .map(|m| stamp(&m)),
        );
        let decision = self.landing.decide(
            id,
            Instant::now(),
            SystemTime::now(),
            self.settle,
            self.cooldown,
        );
        let backoff = match decision {
            Decision::Skip | Decision::Hold { .. } => return,
            Decision::Wait { first, .. } => {
                if first {
                    tracing::debug!(path = %path.display(), "plugin changed lately; waiting for it to settle");
                    self.emit(WatchEvent::Waiting { path: path.clone() });
                }
                return;
            }
            Decision::Attempt { backoff } => backoff,
        };
        let event = match self.slot.swap_with(&path, &self.options()) {
            Ok(report) => {
                self.landing.swapped(Instant::now());
                tracing::info!(path = %path.display(), generation = report.generation, "watched plugin swapped");
                WatchEvent::Swapped(report)
            }
            Err(Error::Unchanged { .. }) => {
                tracing::debug!(path = %path.display(), "watched plugin unchanged");
                WatchEvent::Unchanged { path }
            }
            Err(Error::NotFound { .. }) => return self.gone(path),
            Err(error) => {
                if error.is_transient() {
                    tracing::info!(path = %path.display(), %error, retry_in = ?backoff, "watched plugin refused for now; will retry");
                    self.landing.retry_after(Instant::now(), backoff);
                } else {
                    tracing::warn!(path = %path.display(), %error, "watched plugin refused");
                }
                WatchEvent::Refused { path, error }
            }
        };
        self.emit(event);
    }

    fn gone(&mut self, path: PathBuf) {
        self.landing.unwait();
        if !self.missing {
            self.missing = true;
            tracing::info!(path = %path.display(), "watched plugin missing");
            self.emit(WatchEvent::Missing { path });
        }
    }
}

//! The one error type of the library. Every variant that concerns a file
//! names it, and says what was wrong with it.

use std::io;
use std::path::PathBuf;

/// Why a load, swap or rollback was refused. The version that was serving
/// before the call keeps serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The path does not exist.
    #[error(
        "plugin {path}: no such file{}",
        relative_to.as_ref().map(|dir| format!(" (looked for relative to {}, the current directory)", dir.display())).unwrap_or_default()
    )]
    NotFound {
        /// The path asked for.
        path: PathBuf,
        /// For a relative path, the directory it was relative to: the
        /// process's current directory at the time.
        relative_to: Option<PathBuf>,
    },
    /// The path exists but is a directory, a socket, a device or a fifo.
    #[error("plugin {path}: not a regular file (it is {what})")]
    NotAFile {
        /// The path asked for.
        path: PathBuf,
        /// What the path is instead.
        what: &'static str,
    },
    /// The file could not be read (permissions, a symlink loop, I/O error).
    #[error("plugin {path}: cannot read it: {source}")]
    Unreadable {
        /// The path asked for.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file is not an ELF shared object (or is truncated).
    #[error("plugin {path}: not an ELF shared object: {reason}")]
    NotSharedObject {
        /// The path asked for.
        path: PathBuf,
        /// What the parser found.
        reason: String,
    },
    /// An ELF shared object for another machine.
    #[error("plugin {path}: built for {found}, this process is {expected}")]
    WrongArchitecture {
        /// The path asked for.
        path: PathBuf,
        /// This process's architecture.
        expected: String,
        /// The file's architecture.
        found: String,
    },
    /// A shared object without a liveswap descriptor section: not a plugin,
    /// or a plugin that does not use `liveswap::export!`.
    #[error("plugin {path}: no liveswap descriptor (section `.liveswap`): {reason}")]
    NoDescriptor {
        /// The path asked for.
        path: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// The plugin was built differently from what this host expects.
    #[error(
        "plugin {path}: handshake failed on {field}: this host expects {expected:?}, the plugin has {found:?}"
    )]
    DescriptorMismatch {
        /// The path asked for.
        path: PathBuf,
        /// The descriptor field that differs.
        field: &'static str,
        /// The host's value.
        expected: String,
        /// The plugin's value.
        found: String,
    },
    /// A type that crosses the boundary, or a method, differs between the
    /// host's declaration of the interface and the plugin's.
    #[error("plugin {path}: interface `{interface}` differs from the host's: {detail}")]
    LayoutMismatch {
        /// The path asked for.
        path: PathBuf,
        /// The interface's name.
        interface: String,
        /// The first difference: method, type, field, and both sides.
        detail: String,
    },
    /// The dynamic loader refused the file.
    #[error("plugin {path}: dlopen failed: {message}")]
    Dlopen {
        /// The path asked for.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library has no entry point.
    #[error("plugin {path}: entry symbol `{symbol}` missing: {message}")]
    EntryMissing {
        /// The path asked for.
        path: PathBuf,
        /// The symbol looked for.
        symbol: &'static str,
        /// The loader's message.
        message: String,
    },
    /// The plugin's constructor returned an error or panicked.
    #[error("plugin {path}: constructor {}: {message}{}", if *.panicked { "panicked" } else { "failed" }, location.as_ref().map(|l| format!(" (at {l})")).unwrap_or_default())]
    ConstructorFailed {
        /// The path asked for.
        path: PathBuf,
        /// Whether it panicked (rather than returned an error).
        panicked: bool,
        /// The error's or panic's message.
        message: String,
        /// Where it panicked, when known.
        location: Option<String>,
    },
    /// The serving version's state snapshot failed or panicked; the swap
    /// was refused before the new file's code ran, and the serving version
    /// keeps serving with its state.
    #[error("plugin {path}: the state snapshot of generation {generation} {}: {message}{}", if *.panicked { "panicked" } else { "failed" }, location.as_ref().map(|l| format!(" (at {l})")).unwrap_or_default())]
    Snapshot {
        /// The path asked for.
        path: PathBuf,
        /// The generation whose snapshot failed.
        generation: u64,
        /// Whether it panicked (rather than returned an error).
        panicked: bool,
        /// The error's or panic's message.
        message: String,
        /// Where it panicked, when known.
        location: Option<String>,
    },
    /// The serving version's state snapshot is bigger than the handle's cap.
    #[error(
        "plugin {path}: the state snapshot of generation {generation} is {size} bytes, over the {max}-byte cap (Options::max_state_size)"
    )]
    StateTooLarge {
        /// The path asked for.
        path: PathBuf,
        /// The generation whose snapshot it is.
        generation: u64,
        /// The snapshot's size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The new version could not restore the serving version's state (a
    /// schema it does not read, bytes it cannot decode, a migration that
    /// failed or panicked); it was unloaded.
    #[error("plugin {path}: restoring state of schema {schema} {}: {message}{}", if *.panicked { "panicked" } else { "failed" }, location.as_ref().map(|l| format!(" (at {l})")).unwrap_or_default())]
    Restore {
        /// The path asked for.
        path: PathBuf,
        /// The snapshot's schema.
        schema: u32,
        /// Whether it panicked (rather than returned an error).
        panicked: bool,
        /// The error's or panic's message.
        message: String,
        /// Where it panicked, when known.
        location: Option<String>,
    },
    /// Another swap or rollback published while this one was loading: its
    /// state snapshot is of a version no longer serving, so it was not
    /// published (its library was unloaded). Swap again.
    #[error(
        "plugin {path}: its state was taken from generation {taken_from}, but generation {serving} was published meanwhile; swap again"
    )]
    StateStale {
        /// The path asked for.
        path: PathBuf,
        /// The generation the snapshot was taken from.
        taken_from: u64,
        /// The generation serving now.
        serving: u64,
    },
    /// The private copy could not be made (no room, the file shrank while
    /// being copied, no usable storage).
    #[error("plugin {path}: cannot copy it to {dest}: {source}")]
    Copy {
        /// The path asked for.
        path: PathBuf,
        /// Where the copy was going: a memfd's name or a directory.
        dest: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The file was being written while it was copied (its size, mtime or
    /// ctime differ before and after the copy), or kept changing while the
    /// loader waited for it to settle. The copy is discarded before any of
    /// it is read: install by writing a new file and renaming it over the
    /// old one, and retry.
    #[error(
        "plugin {path}: it changed while it was being copied ({detail}); nothing of it was \
         loaded. Retry once the writer is done (install by write-then-rename, never in place)"
    )]
    Changed {
        /// The path asked for.
        path: PathBuf,
        /// What changed: "size 100 -> 120 bytes", "written in place (its mtime moved)".
        detail: String,
    },
    /// The file is bigger than the handle's size cap; nothing was read.
    #[error("plugin {path}: {size} bytes, over the {max}-byte cap (Options::max_file_size)")]
    TooLarge {
        /// The path asked for.
        path: PathBuf,
        /// The file's size.
        size: u64,
        /// The cap.
        max: u64,
    },
    /// The directory given for on-disk copies cannot be trusted or used.
    #[error("store directory {dir}: {reason}")]
    StoreDir {
        /// The directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Too many replaced versions are still waiting to be unloaded (held by
    /// guards, or not yet reached by the reaper), and none went in time.
    #[error(
        "swap refused: {waiting} replaced versions are still waiting to be unloaded \
         (cap {max}, waited {waited:?}); release long-held guards or readers"
    )]
    Backlog {
        /// Versions waiting to unload.
        waiting: usize,
        /// The cap (`Options::max_unloading`).
        max: usize,
        /// How long the swap waited (`Options::unload_wait`).
        waited: std::time::Duration,
    },
    /// The plugin imports a host service this host does not provide.
    #[error(
        "plugin {path}: it imports `{interface}`, which this host does not provide (provided: {})",
        if provided.is_empty() { "none".to_string() } else { provided.join(", ") }
    )]
    ImportMissing {
        /// The path asked for.
        path: PathBuf,
        /// The interface the plugin imports.
        interface: String,
        /// The interfaces the host provides.
        provided: Vec<String>,
    },
    /// The plugin imports a host service whose types differ from those of
    /// the object the host provides.
    #[error(
        "plugin {path}: its import `{interface}` differs from what the host provides: {detail}"
    )]
    ImportMismatch {
        /// The path asked for.
        path: PathBuf,
        /// The interface.
        interface: String,
        /// The first difference.
        detail: String,
    },
    /// The process has almost no pthread keys left: generations that cannot
    /// unload (their threads still run) keep theirs, and Rust's std aborts
    /// the process when none is left. Refused before anything is read.
    #[error(
        "plugin {path}: swap refused: the process has {free} pthread keys left, under the \
         reserve of {reserve}; generations that cannot unload keep theirs (see the pinned \
         reasons in stats), so stop their threads or restart the process"
    )]
    KeysExhausted {
        /// The path asked for.
        path: PathBuf,
        /// Keys the process can still create.
        free: usize,
        /// The reserve (`KEY_RESERVE`).
        reserve: usize,
    },
    /// The process has too few file descriptors left for a load to take
    /// its share (the source, its copy, the signature, `dlopen`'s) and
    /// leave the host the rest; refused before any is opened.
    #[error(
        "plugin {path}: refused before it was opened: the process has {open} of its {limit} \
         file descriptors open, and a load keeps {reserve} free for the host; close \
         connections or files, or raise the limit (ulimit -n)"
    )]
    DescriptorsExhausted {
        /// The path asked for.
        path: PathBuf,
        /// Descriptors open in the process.
        open: u64,
        /// The process's limit (`RLIMIT_NOFILE`, soft).
        limit: u64,
        /// What a load leaves free.
        reserve: u64,
    },
    /// A later `swap` or `rollback` published first; this one's plugin
    /// was loaded, then unloaded without being published.
    #[error("plugin {path}: superseded by generation {by}, published by a later call")]
    Superseded {
        /// The path asked for.
        path: PathBuf,
        /// The generation now serving.
        by: u64,
    },
    /// The handle was created by another process (this is a forked
    /// child): it can still be read, but not swapped.
    #[error("this handle belongs to process {owner}; a forked child may read it but not swap it")]
    Forked {
        /// The process that created the handle.
        owner: u32,
    },
    /// The handle's reaper thread could not be started.
    #[error("cannot start the reaper thread: {source}")]
    Reaper {
        /// The operating system's error.
        source: io::Error,
    },
    /// `rollback` was called with no earlier version to return to.
    #[error("no earlier version to roll back to")]
    NoRollback,
    /// The safe-path policy refused the file before reading it: a user
    /// other than root and this process's could have written it, or a
    /// directory or link on its way (see the crate docs, "Trust model").
    #[error(
        "plugin {path}: refused by the safe-path policy: {} (owner uid {owner}, mode {mode:04o}) is {reason}; fix its owner or mode, or relax the policy (Options::allow_unsafe_path)",
        component.display()
    )]
    UnsafePath {
        /// The path asked for.
        path: PathBuf,
        /// The directory, link or file that failed the check.
        component: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// Signatures are required and the plugin's did not verify.
    #[error("plugin {path}: signature {}: {problem}", signature.display())]
    Signature {
        /// The path asked for.
        path: PathBuf,
        /// The signature file looked for (`<plugin>.minisig`).
        signature: PathBuf,
        /// What was wrong.
        problem: SignatureProblem,
    },
    /// A trusted key could not be read.
    #[error("trusted key {origin}: not a minisign public key: {reason}")]
    BadKey {
        /// The file (or text) it came from.
        origin: String,
        /// What was wrong.
        reason: String,
    },
    /// Not loaded: the file's bytes are those of the serving generation
    /// (asked for with [`SwapOptions::skip_unchanged`](crate::SwapOptions::skip_unchanged)).
    #[error("plugin {path}: unchanged (content hash {hash} is already serving)")]
    Unchanged {
        /// The path asked for.
        path: PathBuf,
        /// The content hash the file and the serving generation share.
        hash: crate::hash::ContentHash,
    },
    /// The host's preflight check refused the candidate (a failed or
    /// panicking check, one that ran past its timeout, or, in a child
    /// process, one that crashed it); nothing of the candidate stays
    /// mapped, except a candidate still held by a check that did not return
    /// (see [`Preflight::timeout`](crate::Preflight::timeout)).
    #[error("plugin {path}: refused by the {} preflight: {message}", if *isolated { "isolated" } else { "in-process" })]
    Preflight {
        /// The path asked for.
        path: PathBuf,
        /// Whether the check ran in a child process.
        isolated: bool,
        /// What the check said, or how it failed.
        message: String,
    },
}

/// Why a plugin's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureProblem {
    /// There is no `<plugin>.minisig` beside the plugin.
    #[error("missing (signatures are required: sign the plugin with minisign -S -m PLUGIN)")]
    Missing,
    /// The signature file is not a minisign signature.
    #[error("malformed: {0}")]
    Malformed(String),
    /// It was made by a key this handle does not trust.
    #[error("made by key {key_id}, which is not trusted (trusted: {})", if trusted.is_empty() { "none".to_string() } else { trusted.join(", ") })]
    UnknownKey {
        /// The key that made it.
        key_id: String,
        /// The keys trusted.
        trusted: Vec<String>,
    },
    /// It is not a regular file (a FIFO, a device, a directory, a
    /// symbolic link: signatures are opened without following links), or
    /// bigger than a signature can be.
    #[error("not a signature file: {0}")]
    NotAFile(String),
    /// Someone other than root or this process's user could write it (its
    /// owner, mode or ACL), so it could be swapped for another signature.
    #[error("unsafe: {0}")]
    Unsafe(String),
    /// Its trusted comment names a release (`release:N`) older than the
    /// build serving now or than the minimum the host accepts.
    #[error("its release {release} is older than {floor}, {why}")]
    OldRelease {
        /// The release the signature names.
        release: u64,
        /// The oldest release accepted.
        floor: u64,
        /// Where that floor comes from.
        why: String,
    },
    /// Its trusted comment names no release, and the host requires one
    /// (a minimum is set, or the build serving now names one).
    #[error(
        "its trusted comment names no release; release {floor} or newer is required (sign with -t \"release:N ...\")"
    )]
    NoRelease {
        /// The oldest release accepted.
        floor: u64,
    },
    /// It does not match the file's bytes (the file changed after signing,
    /// or the signature was forged).
    #[error("does not match the file's bytes (key {key_id}): the file was changed after signing")]
    Invalid {
        /// The trusted key it claims.
        key_id: String,
    },
}

impl Error {
    /// [`Error::NotFound`] for `path`; a relative path records the current
    /// directory it was looked for in.
    pub(crate) fn not_found(path: &std::path::Path) -> Self {
        Error::NotFound {
            path: path.to_path_buf(),
            relative_to: path
                .is_relative()
                .then(std::env::current_dir)
                .and_then(Result::ok),
        }
    }

    /// Whether the same file may well be accepted if the swap is simply
    /// tried again later: the refusal came from the moment (a backlog of
    /// versions still unloading, a later call that published first, state
    /// taken from a version replaced meanwhile, a file still being
    /// written, descriptors, memory or pthread keys running short), not
    /// from the file. A watcher retries these with backoff; everything
    /// else is about the file and stays refused until it changes.
    pub fn is_transient(&self) -> bool {
        let scarce = |e: &io::Error| {
            matches!(
                e.raw_os_error(),
                Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN | libc::EINTR)
            )
        };
        match self {
            Error::Backlog { .. }
            | Error::Superseded { .. }
            | Error::StateStale { .. }
            | Error::Changed { .. }
            | Error::KeysExhausted { .. }
            | Error::DescriptorsExhausted { .. } => true,
            Error::Unreadable { source, .. } | Error::Copy { source, .. } => scarce(source),
            _ => false,
        }
    }

    /// The plugin path the error is about, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Error::NotFound { path, .. }
            | Error::NotAFile { path, .. }
            | Error::Unreadable { path, .. }
            | Error::NotSharedObject { path, .. }
            | Error::WrongArchitecture { path, .. }
            | Error::NoDescriptor { path, .. }
            | Error::DescriptorMismatch { path, .. }
            | Error::LayoutMismatch { path, .. }
            | Error::Dlopen { path, .. }
            | Error::EntryMissing { path, .. }
            | Error::ConstructorFailed { path, .. }
            | Error::Snapshot { path, .. }
            | Error::StateTooLarge { path, .. }
            | Error::Restore { path, .. }
            | Error::StateStale { path, .. }
            | Error::Copy { path, .. }
            | Error::Changed { path, .. }
            | Error::TooLarge { path, .. }
            | Error::Superseded { path, .. }
            | Error::UnsafePath { path, .. }
            | Error::Signature { path, .. }
            | Error::Unchanged { path, .. }
            | Error::Preflight { path, .. }
            | Error::KeysExhausted { path, .. }
            | Error::DescriptorsExhausted { path, .. }
            | Error::ImportMissing { path, .. }
            | Error::ImportMismatch { path, .. } => Some(path),
            Error::StoreDir { .. }
            | Error::Backlog { .. }
            | Error::Forked { .. }
            | Error::Reaper { .. }
            | Error::NoRollback
            | Error::BadKey { .. } => None,
        }
    }
}

/// Why a call into a plugin did not return a value.
///
/// One pointer wide, so that `Result<T, CallError>` of a small `T` comes
/// back in registers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The plugin's method panicked. The panic was caught inside the plugin
    /// and nothing unwound into the host; the plugin keeps serving.
    #[error("plugin panicked: {0}")]
    Panicked(Panic),
}

/// A panic caught inside a plugin: its message and where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic(Box<crate::abi::Message>);

impl Panic {
    pub(crate) fn new(message: crate::abi::Message) -> Self {
        Panic(Box::new(message))
    }

    /// The panic's message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// `file:line:column` in the plugin's source, when known.
    pub fn location(&self) -> Option<&str> {
        self.0.location.as_deref()
    }
}

impl std::fmt::Display for Panic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())?;
        if let Some(l) = self.location() {
            write!(f, " (at {l})")?;
        }
        Ok(())
    }
}

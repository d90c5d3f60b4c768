//! The deploy pipeline (feature `deploy`): from a build landing on disk to
//! serving it, without hands, and back when it misbehaves.
//!
//! - [`Watcher`] (`watch`): watches a plugin path (or a directory and a
//!   file name pattern) and swaps to each new complete build, however it
//!   lands: cargo's rebuild, a rename into place, rsync's temporary file
//!   and rename, a Kubernetes `..data` symbolic link swap, or an in-place
//!   write once it is finished. Events from `notify` (inotify), or polling
//!   for file systems without events.
//! - [`IsolatedPreflight`] (`isolated`): the host's check run in a child
//!   process before the candidate is mapped here; the in-process
//!   [`Preflight`](crate::Preflight) is in the core, on
//!   [`Slot::swap_with`](crate::Slot::swap_with).
//! - [`Probation`] (`probation`): rolls a new generation back by itself
//!   when it panics too often soon after publish.
//!
//! Costs: a watcher is three threads (notify's inotify reader, the
//! debouncer, which wakes every half debounce interval, 1 ms by default, and the
//! worker that attempts swaps), and one `stat` plus a 64-byte read per
//! look; probation is one thread reading one atomic counter every 10 ms;
//! an isolated preflight is a process start, a load and the check per
//! candidate (tens of milliseconds for a small plugin).
//!
//! Every attempt is recorded in [`Slot::history`](crate::Slot::history)
//! with its trigger (`watch`, `probation`). None of it touches the read
//! path: the watcher and probation each run on threads of their own.

pub mod isolated;
pub mod probation;
pub mod watch;

pub use isolated::{CHILD_ENV, DEFAULT_ISOLATED_TIMEOUT, IsolatedPreflight, serve_isolated};
pub use probation::{Probation, ProbationEvent, ProbationPolicy};
pub use watch::{
    DEFAULT_COOLDOWN, DEFAULT_DEBOUNCE, DEFAULT_POLL_INTERVAL, DEFAULT_SETTLE, WatchEvent,
    WatchOptions, Watcher,
};

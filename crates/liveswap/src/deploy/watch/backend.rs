//! The notify side of the watcher: a debounced inotify (or polling)
//! watcher sending the paths of each burst of events, and what it watches.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::{PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, NoCache, RecommendedCache, new_debouncer_opt,
};

/// What the backend tells the watcher's thread (and how it is stopped).
pub(super) enum Message {
    Events(Vec<PathBuf>),
    Errors(Vec<String>),
    Stop,
}

/// The debouncer, over inotify or polling.
pub(super) enum Backend {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl Backend {
    pub(super) fn start(
        debounce: Duration,
        poll: Option<Duration>,
        tx: Sender<Message>,
    ) -> notify::Result<Self> {
        let handler = move |result: DebounceEventResult| {
            let message = match result {
                Ok(events) => {
                    Message::Events(events.into_iter().flat_map(|e| e.event.paths).collect())
                }
                Err(errors) => Message::Errors(errors.iter().map(ToString::to_string).collect()),
            };
            let _ = tx.send(message);
        };
        // The debouncer's thread wakes every tick: an event is passed on
        // between one and one and a half debounce times after the burst
        // ends.
        let tick = (debounce / 2).max(Duration::from_millis(1));
        Ok(match poll {
            None => Backend::Native(new_debouncer_opt(
                debounce,
                Some(tick),
                handler,
                RecommendedCache::new(),
                notify::Config::default(),
            )?),
            Some(interval) => Backend::Poll(new_debouncer_opt(
                debounce,
                Some(tick),
                handler,
                NoCache,
                notify::Config::default().with_poll_interval(interval),
            )?),
        })
    }

    pub(super) fn watch(&mut self, dir: &Path) -> notify::Result<()> {
        match self {
            Backend::Native(d) => d.watch(dir, RecursiveMode::NonRecursive),
            Backend::Poll(d) => d.watch(dir, RecursiveMode::NonRecursive),
        }
    }

    pub(super) fn unwatch(&mut self, dir: &Path) {
        let _ = match self {
            Backend::Native(d) => d.unwatch(dir),
            Backend::Poll(d) => d.unwatch(dir),
        };
    }

    /// Stops the debouncer and joins its thread.
    pub(super) fn stop(self) {
        match self {
            Backend::Native(d) => d.stop(),
            Backend::Poll(d) => d.stop(),
        }
    }
}

/// Watches `dir` and its parent (so that its removal and return are
/// seen), or, when `dir` does not exist, the nearest directory above it
/// that does (so that the path is seen coming back); returns what is
/// watched, `dir` first when it is.
pub(super) fn arm(backend: &mut Backend, dir: &Path) -> Vec<PathBuf> {
    let parent_of = |d: &Path| {
        d.parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .map(Path::to_path_buf)
    };
    let wanted: Vec<PathBuf> = if dir.is_dir() {
        std::iter::once(dir.to_path_buf())
            .chain(parent_of(dir))
            .collect()
    } else {
        std::iter::successors(parent_of(dir), |d| parent_of(d).filter(|p| p != d))
            .find(|d| d.is_dir())
            .into_iter()
            .collect()
    };
    wanted
        .into_iter()
        .filter(|d| backend.watch(d).is_ok())
        .collect()
}

pub(super) fn io_error(e: notify::Error) -> std::io::Error {
    match e.kind {
        notify::ErrorKind::Io(io) => io,
        _ => std::io::Error::other(e.to_string()),
    }
}

//! The record of the last attempts to change a slot's code, whatever
//! asked and whatever came of it: each an [`Attempt`], read with
//! [`Slot::history`](crate::Slot::history), the
//! [`ManagedSlot`](crate::ManagedSlot) view and the control socket's
//! `history`. Touched by swaps and rollbacks, never by readers.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::check::Signer;
use crate::hash::ContentHash;

/// Attempts a slot remembers by default ([`Options::history_len`](crate::Options::history_len)).
pub const DEFAULT_HISTORY_LEN: usize = 64;

/// What asked for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trigger {
    /// The host called [`Slot::swap`](crate::Slot::swap) or
    /// [`Slot::swap_with`](crate::Slot::swap_with).
    Api,
    /// A watcher saw a new build land (feature `deploy`).
    Watch,
    /// The host called [`Slot::rollback`](crate::Slot::rollback).
    Rollback,
    /// Probation found the new generation panicking and rolled it back
    /// (feature `deploy`).
    Probation,
    /// An operator, through the control socket (feature `control`).
    Control,
}

impl Trigger {
    /// Its name in logs and on the control socket.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Api => "api",
            Trigger::Watch => "watch",
            Trigger::Rollback => "rollback",
            Trigger::Probation => "probation",
            Trigger::Control => "control",
        }
    }
}

/// What came of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Published as this generation.
    Published {
        /// The new generation.
        generation: u64,
        /// The generation it replaced.
        previous: u64,
    },
    /// Not loaded: its bytes are those of the serving generation.
    Unchanged,
    /// Refused; the serving generation went on (see [`Attempt::error`]).
    Refused,
}

impl Outcome {
    /// Its name in logs and on the control socket.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Published { .. } => "published",
            Outcome::Unchanged => "unchanged",
            Outcome::Refused => "refused",
        }
    }
}

/// Time spent in each step of an attempt (zero for a step not reached).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Steps {
    /// Reading the file into its private copy.
    pub copy: Duration,
    /// Signature, handshake and content hash.
    pub check: Duration,
    /// The preflight in a child process, before the candidate is mapped
    /// here.
    pub isolated_preflight: Duration,
    /// `dlopen`, the entry point and the constructor.
    pub load: Duration,
    /// The preflight against the loaded candidate.
    pub preflight: Duration,
    /// Publishing to readers.
    pub publish: Duration,
    /// The whole attempt, waits included.
    pub total: Duration,
}

/// What an attempt tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A swap to a file.
    Swap,
    /// A return to the previous generation's kept copy.
    Rollback,
}

impl Kind {
    /// Its name in logs, metrics and on the control socket.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Swap => "swap",
            Kind::Rollback => "rollback",
        }
    }
}

/// One attempt to change a slot's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it started.
    pub at: SystemTime,
    /// What asked for it.
    pub trigger: Trigger,
    /// What it tried: a swap or a rollback (a rollback asked through the
    /// control socket has the trigger `Control` and the kind `Rollback`).
    pub kind: Kind,
    /// The path it loaded from (for a rollback, the path the restored
    /// generation was first loaded from).
    pub source: PathBuf,
    /// The hash of the bytes checked, when it got that far.
    pub content_hash: Option<ContentHash>,
    /// Who signed it, when signatures are required and it verified.
    pub signer: Option<Signer>,
    /// What came of it.
    pub outcome: Outcome,
    /// How long each step took.
    pub steps: Steps,
    /// The warm-start state schema of the generation it published (`None`:
    /// it declares no state, or nothing was published).
    pub state_schema: Option<u32>,
    /// The schema of the snapshot that generation was restored from
    /// (`None`: it started from nothing, or cold).
    pub restored_from: Option<u32>,
    /// Why it was refused (the error's message), or, for a probation
    /// rollback, why the generation was rolled back.
    pub error: Option<String>,
}

/// A bounded record of attempts, oldest dropped first.
pub(crate) struct History {
    len: usize,
    attempts: Mutex<VecDeque<Attempt>>,
}

impl History {
    pub(crate) fn new(len: usize) -> Self {
        History {
            len,
            attempts: Mutex::new(VecDeque::with_capacity(len.min(1024))),
        }
    }

    pub(crate) fn record(&self, attempt: Attempt) {
        if self.len == 0 {
            return;
        }
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        while attempts.len() >= self.len {
            attempts.pop_front();
        }
        attempts.push_back(attempt);
    }

    /// Oldest first.
    pub(crate) fn snapshot(&self) -> Vec<Attempt> {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(n: u64) -> Attempt {
        Attempt {
            kind: Kind::Swap,
            at: SystemTime::now(),
            trigger: Trigger::Api,
            source: PathBuf::from(format!("/p/{n}")),
            content_hash: None,
            signer: None,
            outcome: Outcome::Published {
                generation: n,
                previous: n - 1,
            },
            steps: Steps::default(),
            state_schema: None,
            restored_from: None,
            error: None,
        }
    }

    #[test]
    fn keeps_the_last_n_attempts_oldest_first() {
        let history = History::new(3);
        for n in 1..=5 {
            history.record(attempt(n));
        }
        let kept: Vec<_> = history
            .snapshot()
            .iter()
            .map(|a| a.source.clone())
            .collect();
        assert_eq!(kept, ["/p/3", "/p/4", "/p/5"].map(PathBuf::from));
    }
}

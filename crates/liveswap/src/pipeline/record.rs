//! The one record of an attempt: each stage writes what it learned into
//! it once (the hash, the signer, its duration, the state carried), and
//! the history, the metrics, the report and the log all read it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::check::Signer;
use crate::error::Error;
use crate::hash::ContentHash;
use crate::history::{Attempt, Kind, Outcome, Steps, Trigger};
use crate::warm::StateReport;

/// What a successful [`Slot::swap`](crate::Slot::swap) or
/// [`Slot::rollback`](crate::Slot::rollback) did, and how long each step
/// took.
#[derive(Debug, Clone)]
pub struct SwapReport {
    /// The generation now serving.
    pub generation: u64,
    /// The generation it replaced.
    pub previous: u64,
    /// The path the new generation was loaded from.
    pub source: PathBuf,
    /// Reading the file and writing its private copy.
    pub copy: Duration,
    /// Parsing the file and checking its descriptor.
    pub check: Duration,
    /// `dlopen`, the entry point and the plugin's constructor.
    pub load: Duration,
    /// The preflight checks asked for by
    /// [`Slot::swap_with`](crate::Slot::swap_with), isolated and in-process
    /// together (zero without).
    pub preflight: Duration,
    /// Publishing the new version to readers.
    pub publish: Duration,
    /// Hazards the handshake read from the plugin's imports (such as
    /// starting threads, which keeps a library from unloading); the plugin
    /// was loaded all the same; and, when the safe-path policy is
    /// relaxed, the violation it let through.
    pub warnings: Vec<String>,
    /// Who signed the plugin, when signatures are required.
    pub signer: Option<Signer>,
    /// What became of the plugin's warm-start state.
    pub state: StateReport,
    /// The BLAKE3 hash of the bytes loaded.
    pub content_hash: Option<ContentHash>,
}

impl SwapReport {
    /// The whole swap (with the state snapshot, when one was taken).
    pub fn total(&self) -> Duration {
        self.copy + self.check + self.state.snapshot + self.load + self.preflight + self.publish
    }
}

/// One attempt as its stages learn it.
pub(crate) struct Record {
    pub kind: Kind,
    pub trigger: Trigger,
    /// The path it loads from (for a rollback, the path the build it
    /// returns to was first loaded from).
    pub source: PathBuf,
    at: SystemTime,
    started: Instant,
    /// Set by the check stage.
    pub hash: Option<ContentHash>,
    /// Set by the store stage (or carried, for a rollback).
    pub signer: Option<Signer>,
    pub steps: Steps,
    /// The store and check stages' warnings.
    pub warnings: Vec<String>,
    /// Set by the state and build stages.
    pub state: StateReport,
    /// Why it was asked for (a probation rollback's reason).
    pub note: Option<String>,
}

impl Record {
    pub(crate) fn new(kind: Kind, trigger: Trigger, source: &Path) -> Self {
        Record {
            kind,
            trigger,
            source: source.to_path_buf(),
            at: SystemTime::now(),
            started: Instant::now(),
            hash: None,
            signer: None,
            steps: Steps::default(),
            warnings: Vec::new(),
            state: StateReport::default(),
            note: None,
        }
    }

    /// Runs `stage`, adding the time it took to the step `step` names.
    pub(crate) fn timed<T>(
        &mut self,
        step: fn(&mut Steps) -> &mut Duration,
        stage: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let started = Instant::now();
        let out = stage(self);
        *step(&mut self.steps) += started.elapsed();
        out
    }

    /// The report of a publish as `generation`, in place of `previous`.
    pub(crate) fn report(&self, generation: u64, previous: u64) -> SwapReport {
        SwapReport {
            generation,
            previous,
            source: self.source.clone(),
            copy: self.steps.copy,
            check: self.steps.check,
            load: self.steps.load,
            preflight: self.steps.isolated_preflight + self.steps.preflight,
            publish: self.steps.publish,
            warnings: self.warnings.clone(),
            signer: self.signer.clone(),
            state: self.state.clone(),
            content_hash: self.hash,
        }
    }

    /// The history's entry for this attempt, ended with `result`.
    pub(crate) fn attempt(mut self, result: &Result<SwapReport, Error>) -> Attempt {
        self.steps.total = self.started.elapsed();
        let (mut state_schema, mut restored_from) = (None, None);
        let (outcome, error) = match result {
            Ok(report) => {
                state_schema = self.state.to_schema;
                restored_from = self
                    .state
                    .restored
                    .then_some(self.state.from_schema)
                    .flatten();
                (
                    Outcome::Published {
                        generation: report.generation,
                        previous: report.previous,
                    },
                    self.note,
                )
            }
            Err(Error::Unchanged { .. }) => (Outcome::Unchanged, None),
            Err(e) => (
                Outcome::Refused,
                Some(match self.note {
                    Some(note) => format!("{note}: {e}"),
                    None => e.to_string(),
                }),
            ),
        };
        Attempt {
            at: self.at,
            trigger: self.trigger,
            kind: self.kind,
            source: self.source,
            content_hash: self.hash,
            signer: self.signer,
            outcome,
            steps: self.steps,
            state_schema,
            restored_from,
            error,
        }
    }
}

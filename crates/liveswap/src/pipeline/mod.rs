//! The swap pipeline: every change of a slot's code (the first load, a
//! swap, a rollback; asked by the API, a watcher, the control socket or
//! probation) goes through the same stages, each a function that takes
//! what the one before produced:
//!
//! ```text
//!  reserve ─▶ store ─▶ check ─▶ gate ─▶ take state ─▶ build ─▶ preflight ─▶ publish
//!  room.rs   source.rs checked.rs gate.rs  (warm)     build.rs  (borrow)    publish.rs
//!  wait for  private   handshake, skip     snapshot   dlopen,   the host's  under the lock:
//!  room      copy,     imports,   unchanged; of the   hooks,    check of    still first?
//!            signature hash       host's gate serving  construct the Built   generation,
//!                                 (isolated)  version   ─▶ Built   candidate   swap, hand-over
//!       │        │        │         │          │          │          │           │
//!       └────────┴────────┴─────────┴──────────┴──────────┴──────────┴───────────┘
//!                      one Record: hash, signer, steps, warnings, state
//!                      ─▶ the history's Attempt, the metrics, the SwapReport
//! ```
//!
//! Undo is by `Drop`: a [`Room`](room::Room) taken is given back, and a
//! [`Built`](build::Built) candidate is unloaded, by whichever stage
//! refuses. A rollback enters at the store stage with the kept copy of
//! the build it returns to ([`source::Kept`]) and skips the gate and the
//! preflight; the first load has nothing to reserve, gate or check
//! against.

mod build;
mod checked;
mod gate;
mod options;
mod publish;
mod record;
mod room;
mod source;

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub use gate::Candidate;
use options::Effective;
pub use options::SwapOptions;
pub use record::SwapReport;

use self::build::Built;
use self::publish::Terms;
use self::record::Record;
use self::room::Room;
use self::source::Kept;
use crate::error::Error;
use crate::generation::Version;
use crate::history::{Attempt, History, Kind, Trigger};
use crate::interface::Interface;
use crate::loader::LoadPolicy;
use crate::read::cell::Current;
use crate::reaper::{self, ReaperSender};
use crate::registry::Registry;
use crate::warm::{self, Carry, Serving};

/// What the publish lock guards.
pub(crate) struct Control {
    next_generation: u64,
    /// The ticket of the last call that published.
    last_ticket: u64,
    /// The build a rollback returns to.
    rollback: Option<Kept>,
    reaper: ReaperSender,
}

/// A slot after its first load.
pub(crate) struct Started<I: Interface + ?Sized> {
    pub swapper: Swapper<I>,
    pub first: Arc<Version<I>>,
    pub reaper: JoinHandle<()>,
}

/// A slot's limits on swaps, from its `Options`.
pub(crate) struct Limits {
    pub max_unloading: usize,
    pub unload_wait: Duration,
    pub history_len: usize,
}

/// What changes one slot's code: its policy, its publish lock, its
/// registry and history. The slot's read side ([`Current`]) is passed
/// in, and is all the pipeline touches of the slot.
pub(crate) struct Swapper<I: Interface + ?Sized> {
    control: Mutex<Control>,
    tickets: AtomicU64,
    pub(crate) registry: Arc<Registry>,
    history: History,
    pub(crate) policy: LoadPolicy,
    /// What every swap not given options of its own does.
    swap_policy: Mutex<SwapOptions<I>>,
    max_unloading: usize,
    pub(crate) unload_wait: Duration,
    /// Versions of this slot alive (published or candidates).
    pub(crate) alive: Arc<AtomicUsize>,
    /// The process that created the slot; a forked child's copy is inert.
    pub(crate) owner: u32,
}

impl<I: Interface + ?Sized + 'static> Swapper<I> {
    /// The first load, from `path`: store, check, state (none, or the
    /// one the policy gives), build, and publish as generation 1. Returns
    /// the swapper, the first version and the reaper's thread.
    pub(crate) fn first(
        path: &Path,
        policy: LoadPolicy,
        limits: &Limits,
    ) -> Result<Started<I>, Error> {
        let mut record = Record::new(Kind::Swap, Trigger::Api, path);
        let registry = Arc::new(Registry::new(I::NAME));
        let alive = Arc::new(AtomicUsize::new(0));
        let (reaper_tx, reaper_rx) = reaper::channel();
        let mut built = (|| {
            let image = source::from_file(path, &policy, &mut record)?;
            let checked = checked::check::<I>(path, image, &policy, &mut record)?;
            let carry = take_state(None, &policy, path)?;
            build::build::<I>(
                checked,
                carry,
                path,
                &policy,
                reaper_tx.clone(),
                Arc::clone(&alive),
                &mut record,
            )
        })()
        .inspect_err(|e| {
            tracing::warn!(path = %path.display(), error = %e, "plugin load rejected");
        })?;
        if !built.sole() {
            return Err(build::held_elsewhere(path));
        }
        // Started only once there is something to reap: a refused first
        // load leaves no thread behind.
        let reaper = reaper::spawn(reaper_rx, Arc::clone(&registry))
            .map_err(|source| Error::Reaper { source })?;
        let Some(version) = record.timed(|s| &mut s.publish, |_| built.publish_as(1)) else {
            return Err(build::held_elsewhere(path));
        };
        if let Some(free) = registry.published(
            1,
            path.to_path_buf(),
            Version::loaded_at(&version),
            record.signer.clone(),
            record.hash,
            version.heap(),
        ) {
            Registry::warn_short_of_keys(free);
        }
        policy.trust.published(record.signer.as_ref());
        crate::telemetry::started(I::NAME);
        registry.record_state(1, Version::state_schema(&version), None);
        let history = History::new(limits.history_len);
        let report = record.report(1, 0);
        history.record(record.attempt(&Ok(report)));
        tracing::info!(generation = 1, path = %path.display(), interface = I::NAME, "plugin loaded");
        let swapper = Swapper {
            control: Mutex::new(Control {
                next_generation: 2,
                last_ticket: 0,
                rollback: None,
                reaper: reaper_tx,
            }),
            tickets: AtomicU64::new(0),
            registry,
            history,
            policy,
            swap_policy: Mutex::new(SwapOptions::new()),
            max_unloading: limits.max_unloading,
            unload_wait: limits.unload_wait,
            alive,
            owner: std::process::id(),
        };
        Ok(Started {
            swapper,
            first: version,
            reaper,
        })
    }

    /// A swap of `current` to the file at `path`.
    pub(crate) fn swap(
        &self,
        current: &Arc<Current<I>>,
        path: &Path,
        options: &SwapOptions<I>,
    ) -> Result<SwapReport, Error> {
        let options = options.over(&self.swap_policy());
        let mut record = Record::new(Kind::Swap, options.trigger, path);
        let result = self.try_swap(current, path, &options, &mut record);
        self.finish(record, result)
    }

    fn try_swap(
        &self,
        current: &Arc<Current<I>>,
        path: &Path,
        options: &Effective<I>,
        record: &mut Record,
    ) -> Result<SwapReport, Error> {
        self.check_owner()?;
        let ticket = self.ticket();
        Room::wait(&self.registry, self.max_unloading, self.unload_wait)?;
        let serving = current.load_full();
        let image = source::from_file(path, &self.policy, record)?;
        let checked = checked::check::<I>(path, image, &self.policy, record)?;
        let skip_if = options
            .skip_unchanged
            .then(|| Version::content_hash(&serving))
            .flatten();
        gate::unchanged(&checked, skip_if, path)?;
        // The serving version is asked for its state only once the file
        // passed every check: before the gate when the gate restores a
        // copy of it in a child process, else just before the build.
        let carry = match &options.before_load {
            Some(gate) => {
                let carry = take_state(serving.serving(), &self.policy, path)?;
                gate::before_load(gate.as_ref(), &checked, &carry, path, record)?;
                carry
            }
            None => take_state(serving.serving(), &self.policy, path)?,
        };
        drop(serving);
        let built = self.build(checked, carry, path, record)?;
        if let Some(preflight) = &options.preflight {
            record.timed(
                |steps| &mut steps.preflight,
                |_| preflight.run(built.version(), path),
            )?;
        }
        let terms = Terms {
            ticket,
            expect: None,
            recheck_release: true,
        };
        publish::publish(self, current, built, &terms, record)
    }

    /// A return to the build that served before the last publish,
    /// loaded again from a fresh copy of its kept copy. With `expect`, it
    /// publishes only while that generation serves; with `cold`, it
    /// carries no state.
    pub(crate) fn rollback(
        &self,
        current: &Arc<Current<I>>,
        trigger: Trigger,
        note: Option<String>,
        expect: Option<u64>,
        cold: bool,
    ) -> Result<SwapReport, Error> {
        let kept = self.lock_control().rollback.clone();
        let source = kept
            .as_ref()
            .map(|k| k.source.as_path())
            .unwrap_or(Path::new(""));
        let mut record = Record::new(Kind::Rollback, trigger, source);
        record.note = note;
        let result = match (self.check_owner(), kept) {
            (Err(forked), _) => Err(forked),
            (Ok(()), Some(kept)) => self.try_rollback(current, &kept, expect, cold, &mut record),
            (Ok(()), None) => Err(Error::NoRollback),
        };
        let result = self.finish(record, result);
        if result.is_ok() {
            crate::telemetry::rollback(I::NAME, trigger.as_str());
        }
        result
    }

    fn try_rollback(
        &self,
        current: &Arc<Current<I>>,
        kept: &Kept,
        expect: Option<u64>,
        cold: bool,
        record: &mut Record,
    ) -> Result<SwapReport, Error> {
        let ticket = self.ticket();
        Room::wait(&self.registry, self.max_unloading, self.unload_wait)?;
        let source = &kept.source;
        let image = source::from_kept(kept, &self.policy, record)?;
        let checked = checked::check::<I>(source, image, &self.policy, record)?;
        // The state, in the schema the previous build reads when the
        // serving one can write it (`WarmStart::snapshot_for`).
        let serving = current.load_full();
        let carried = serving.serving().filter(|_| !cold).map(|serving| Serving {
            schema: kept.schema,
            ..serving
        });
        let carry = take_state(carried, &self.policy, source)?;
        drop(serving);
        let built = self.build(checked, carry, source, record)?;
        let terms = Terms {
            ticket,
            expect,
            recheck_release: false,
        };
        publish::publish(self, current, built, &terms, record)
    }

    fn build(
        &self,
        checked: checked::Checked<I>,
        carry: Carry,
        source: &Path,
        record: &mut Record,
    ) -> Result<Built<I>, Error> {
        let reaper = self.lock_control().reaper.clone();
        build::build::<I>(
            checked,
            carry,
            source,
            &self.policy,
            reaper,
            Arc::clone(&self.alive),
            record,
        )
    }

    /// Ends an attempt: its record goes to the history, the metrics and
    /// the log, once.
    fn finish(
        &self,
        record: Record,
        result: Result<SwapReport, Error>,
    ) -> Result<SwapReport, Error> {
        let kind = record.kind.as_str();
        let attempt = record.attempt(&result);
        match &result {
            Ok(report) => tracing::info!(
                kind,
                generation = report.generation,
                previous = report.previous,
                path = %report.source.display(),
                total_us = report.total().as_micros() as u64,
                "plugin swapped"
            ),
            Err(Error::Unchanged { path, .. }) => {
                tracing::debug!(path = %path.display(), "plugin swap skipped: unchanged");
            }
            Err(e) => {
                tracing::warn!(kind, path = %attempt.source.display(), error = %e, "plugin swap refused");
            }
        }
        crate::telemetry::attempt(I::NAME, &attempt);
        self.history.record(attempt);
        result
    }

    /// Refuses to change a slot from a forked child: its reaper thread
    /// exists only in the parent.
    fn check_owner(&self) -> Result<(), Error> {
        if std::process::id() == self.owner {
            Ok(())
        } else {
            Err(Error::Forked { owner: self.owner })
        }
    }

    /// The next ticket: the order calls are made in.
    fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn lock_control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What [`check`](crate::Slot::check) answers.
    pub(crate) fn check(&self, path: &Path) -> Result<Vec<String>, Error> {
        checked::check_file::<I>(path, &self.policy)
    }

    pub(crate) fn history(&self) -> Vec<Attempt> {
        self.history.snapshot()
    }

    pub(crate) fn set_swap_policy(&self, policy: SwapOptions<I>) {
        *self
            .swap_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = policy;
    }

    pub(crate) fn swap_policy(&self) -> SwapOptions<I> {
        self.swap_policy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl<I: Interface + ?Sized> Swapper<I> {
    /// Lets go of the kept build and of this swapper's reaper sender, as
    /// the slot is dropped (versions hold the other senders).
    pub(crate) fn close(&mut self) {
        let control = self.control.get_mut().unwrap_or_else(|p| p.into_inner());
        control.rollback = None;
        drop(std::mem::replace(
            &mut control.reaper,
            std::sync::mpsc::channel().0,
        ));
    }
}

/// The state stage: the serving version's snapshot (or the one the
/// policy gives a first load, or none).
fn take_state(
    serving: Option<Serving<'_>>,
    policy: &LoadPolicy,
    source: &Path,
) -> Result<Carry, Error> {
    match (serving, &policy.first_state) {
        (Some(s), _) => warm::take(s.object, s.generation, s.schema, policy.state, source),
        (None, Some(first)) => Ok(warm::given(
            first.0,
            first.1.clone(),
            policy.state.cold_on_failure,
        )),
        (None, None) => Ok(Carry {
            cold_on_failure: policy.state.cold_on_failure,
            ..Carry::default()
        }),
    }
}

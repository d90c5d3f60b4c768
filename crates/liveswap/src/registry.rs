//! What a handle knows about its generations, for `stats()` and for
//! waiting on drains. Touched by swaps and by the reaper, never by readers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use crate::check::Signer;
use crate::hash::ContentHash;
use crate::heap::{Account, HeapReport};
use crate::loader::{LOADED_IN_PROCESS, MAPPED_IN_PROCESS};

/// Free pthread keys below which [`Stats::near_generation_limit`] is set
/// and a warning is logged. The process has 1,024 (glibc's table, read to
/// count them); the library deletes a generation's keys when it unloads, so
/// only generations that cannot unload (their threads still run) keep
/// theirs.
pub const KEY_WARNING: usize = 128;

/// Free pthread keys below which a swap or rollback is refused
/// ([`Error::KeysExhausted`](crate::Error::KeysExhausted)) before anything
/// is loaded: Rust's std aborts the process when it needs a key and none is
/// left.
pub const KEY_RESERVE: usize = 64;

/// Unloaded generations remembered for `stats()`; older ones are forgotten.
const UNLOADED_KEPT: usize = 64;

/// The state of one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Serving new calls.
    Current,
    /// Replaced; waiting for its last guard to drop.
    Draining,
    /// Destroyed and unmapped (verified).
    Unloaded,
    /// Destroyed, but the library is still mapped after `dlclose`.
    Pinned {
        /// The likely reason.
        reason: String,
    },
}

/// One generation as `stats()` reports it.
#[derive(Debug, Clone)]
pub struct GenerationInfo {
    /// Its number; generations strictly increase.
    pub generation: u64,
    /// The path it was loaded from.
    pub source: PathBuf,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Where it is in its life.
    pub state: State,
    /// Who signed it, when signatures are required.
    pub signer: Option<Signer>,
    /// The schema of its warm-start state (`None`: it declares no state).
    pub state_schema: Option<u32>,
    /// The schema of the snapshot it was restored from (`None`: it started
    /// from nothing, or cold).
    pub restored_from: Option<u32>,
    /// The BLAKE3 hash of the bytes it was loaded from.
    pub content_hash: Option<ContentHash>,
    /// What its code allocated, handed to the host, and what the library
    /// took back at its unload.
    pub heap: HeapReport,
}

/// A snapshot of a handle's generations.
#[derive(Debug, Clone)]
pub struct Stats {
    /// The generation serving new calls.
    pub current: u64,
    /// Each generation still known, oldest first (the most recent unloaded
    /// ones only).
    pub generations: Vec<GenerationInfo>,
    /// Plugin libraries this process loaded since it started, all handles
    /// together (unloaded ones included).
    pub loaded_in_process: u64,
    /// Plugin libraries this process holds mapped now, all handles
    /// together: serving, draining and pinned generations, and refused
    /// candidates that could not be closed. What a long-lived process
    /// carries; an unload counts only once it is verified.
    pub mapped_in_process: u64,
    /// pthread keys the process can still create (`None` if the C
    /// library's key table cannot be read).
    pub free_pthread_keys: Option<usize>,
    /// `free_pthread_keys` is below [`KEY_WARNING`](crate::defaults::KEY_WARNING): generations that
    /// cannot unload are using up the process's keys.
    pub near_generation_limit: bool,
}

impl Stats {
    fn count(&self, f: impl Fn(&State) -> bool) -> usize {
        self.generations.iter().filter(|g| f(&g.state)).count()
    }
    /// Generations whose library is mapped and in use (current + draining).
    pub fn live(&self) -> usize {
        self.count(|s| matches!(s, State::Current | State::Draining))
    }
    /// Replaced generations still held by a guard.
    pub fn draining(&self) -> usize {
        self.count(|s| matches!(s, State::Draining))
    }
    /// Generations whose library stayed mapped after unload.
    pub fn pinned(&self) -> usize {
        self.count(|s| matches!(s, State::Pinned { .. }))
    }
    /// Generations verified unmapped (of those remembered).
    pub fn unloaded(&self) -> usize {
        self.count(|s| matches!(s, State::Unloaded))
    }
}

#[derive(Default)]
struct Inner {
    current: u64,
    generations: BTreeMap<u64, GenerationInfo>,
    /// Replaced generations not yet unloaded, plus swaps in progress that
    /// will replace one: what `max_unloading` caps.
    waiting: usize,
    /// The generation whose retire hook (the instance's `Drop`) the reaper
    /// is running, and since when.
    retiring: Option<(u64, Instant)>,
    /// Each generation's heap account, read at each snapshot.
    heaps: BTreeMap<u64, Arc<Account>>,
}

/// A retire hook that runs longer than this is reported: its generation
/// shows as pinned, naming the hook, while it runs.
pub(crate) const RETIRE_REPORTED_AFTER: Duration = Duration::from_secs(1);

/// Shared record of a handle's generations.
pub(crate) struct Registry {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// The interface's name, for metrics.
    interface: &'static str,
}

impl Registry {
    pub(crate) fn new(interface: &'static str) -> Self {
        Registry {
            inner: Mutex::default(),
            changed: Condvar::new(),
            interface,
        }
    }

    /// Publishes the gauges after a change (feature `metrics`).
    fn changed_states(&self) {
        if cfg!(feature = "metrics") {
            let stats = self.snapshot();
            let gauges = crate::telemetry::Gauges {
                current: stats.current,
                draining: stats.draining(),
                pinned: stats.pinned(),
                loaded_in_process: stats.loaded_in_process,
                mapped_in_process: stats.mapped_in_process,
                free_pthread_keys: stats.free_pthread_keys,
                heap_live: stats.generations.iter().map(|g| g.heap.live).sum(),
                heap_reclaimed: crate::heap::RECLAIMED_IN_PROCESS.load(Ordering::Relaxed),
                heap_left: crate::heap::LEFT_IN_PROCESS.load(Ordering::Relaxed),
            };
            crate::telemetry::states(self.interface, &gauges);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a publish. Returns the free pthread keys when they are
    /// running short, for the caller to warn of once it holds no lock (a
    /// subscriber may call back into the slot).
    #[must_use]
    pub(crate) fn published(
        &self,
        generation: u64,
        source: PathBuf,
        loaded_at: SystemTime,
        signer: Option<Signer>,
        content_hash: Option<ContentHash>,
        heap: Option<Arc<Account>>,
    ) -> Option<usize> {
        let mut inner = self.lock();
        let previous = inner.current;
        if let Some(old) = inner.generations.get_mut(&previous)
            && old.state == State::Current
        {
            old.state = State::Draining;
        }
        inner.current = generation;
        inner.generations.insert(
            generation,
            GenerationInfo {
                generation,
                source,
                loaded_at,
                state: State::Current,
                signer,
                state_schema: None,
                restored_from: None,
                content_hash,
                heap: HeapReport::default(),
            },
        );
        if let Some(heap) = heap {
            inner.heaps.insert(generation, heap);
        }
        drop(inner);
        self.changed_states();
        crate::footprint::keys::free().filter(|&f| f < KEY_WARNING)
    }

    /// The warning for [`published`](Self::published)'s answer.
    pub(crate) fn warn_short_of_keys(free: usize) {
        tracing::warn!(
            free_pthread_keys = free,
            refused_below = KEY_RESERVE,
            "the process is running short of pthread keys: generations that cannot \
             unload (see their pinned reasons) keep theirs; swaps are refused below \
             the reserve"
        );
    }

    /// Who signed `generation`, if it is still known.
    /// Records a generation's state schema and the schema it was restored
    /// from.
    pub(crate) fn record_state(&self, generation: u64, schema: Option<u32>, from: Option<u32>) {
        if let Some(g) = self.lock().generations.get_mut(&generation) {
            g.state_schema = schema;
            g.restored_from = from;
        }
    }

    pub(crate) fn signer(&self, generation: u64) -> Option<Signer> {
        self.lock()
            .generations
            .get(&generation)
            .and_then(|g| g.signer.clone())
    }

    /// Takes a place among the versions waiting to unload for a loaded
    /// candidate about to replace the current one, waiting up to `wait`
    /// while `max` are taken. `Err` holds how many were waiting. Taken
    /// only once the candidate is loaded, so no place is ever held across
    /// reading a file or running a constructor.
    pub(crate) fn reserve(&self, max: usize, wait: Duration) -> Result<(), usize> {
        self.room(max, wait, true)
    }

    /// Waits up to `wait` for a place among the versions waiting to
    /// unload, without taking it: a swap refused for the backlog is
    /// refused before it reads anything.
    pub(crate) fn wait_for_room(&self, max: usize, wait: Duration) -> Result<(), usize> {
        self.room(max, wait, false)
    }

    fn room(&self, max: usize, wait: Duration, take: bool) -> Result<(), usize> {
        let deadline = Instant::now() + wait;
        let mut inner = self.lock();
        while inner.waiting >= max {
            let now = Instant::now();
            if now >= deadline {
                return Err(inner.waiting);
            }
            inner = self
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        if take {
            inner.waiting += 1;
        }
        Ok(())
    }

    /// Gives back a place taken by a swap that did not publish.
    pub(crate) fn release(&self) {
        let mut inner = self.lock();
        inner.waiting = inner.waiting.saturating_sub(1);
        drop(inner);
        self.changed.notify_all();
    }

    /// Records the end of a generation. A published swap's place (see
    /// `reserve`) passed to the generation it replaced, and is given back
    /// when that one leaves `Draining`.
    /// The reaper starts running `generation`'s retire hook.
    pub(crate) fn retiring(&self, generation: u64) {
        self.lock().retiring = Some((generation, Instant::now()));
    }

    pub(crate) fn finished(&self, generation: u64, state: State) {
        let mut inner = self.lock();
        if inner.retiring.is_some_and(|(g, _)| g == generation) {
            inner.retiring = None;
        }
        let mut was_draining = false;
        if let Some(info) = inner.generations.get_mut(&generation) {
            was_draining = info.state == State::Draining;
            info.state = state;
        }
        if was_draining {
            inner.waiting = inner.waiting.saturating_sub(1);
        }
        let unloaded: Vec<u64> = inner
            .generations
            .values()
            .filter(|g| g.state == State::Unloaded)
            .map(|g| g.generation)
            .collect();
        for old in unloaded
            .iter()
            .take(unloaded.len().saturating_sub(UNLOADED_KEPT))
        {
            inner.generations.remove(old);
            inner.heaps.remove(old);
        }
        drop(inner);
        self.changed.notify_all();
        self.changed_states();
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let inner = self.lock();
        let loaded_in_process = LOADED_IN_PROCESS.load(Ordering::Relaxed);
        let mapped_in_process = MAPPED_IN_PROCESS.load(Ordering::Relaxed);
        let free_pthread_keys = crate::footprint::keys::free();
        let mut generations: Vec<GenerationInfo> = inner.generations.values().cloned().collect();
        for info in &mut generations {
            if let Some(heap) = inner.heaps.get(&info.generation) {
                info.heap = heap.report();
            }
        }
        if let Some((stuck, since)) = inner.retiring
            && since.elapsed() >= RETIRE_REPORTED_AFTER
            && let Some(info) = generations.iter_mut().find(|g| g.generation == stuck)
        {
            info.state = State::Pinned {
                reason: format!(
                    "its retire hook (the instance's Drop) has not returned after {} s: the \
                     reaper waits for it, and this slot's later generations are not unloaded \
                     until it does; keep Drop bounded",
                    since.elapsed().as_secs()
                ),
            };
        }
        Stats {
            current: inner.current,
            generations,
            loaded_in_process,
            mapped_in_process,
            free_pthread_keys,
            near_generation_limit: free_pthread_keys.is_some_and(|f| f < KEY_WARNING),
        }
    }

    /// Waits until no generation is draining, up to `timeout`.
    pub(crate) fn wait_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        loop {
            if !inner
                .generations
                .values()
                .any(|g| g.state == State::Draining)
            {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            inner = self
                .changed
                .wait_timeout(inner, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

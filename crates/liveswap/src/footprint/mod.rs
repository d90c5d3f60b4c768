//! What a generation leaves in the process besides its mappings, and how
//! it is taken back at retire: thread-exit destructors, pthread keys and
//! threads.
//!
//! A `cdylib` links its own std, which registers what it needs with the C
//! library: a destructor per thread-local with `Drop` and per thread
//! (`__cxa_thread_atexit_impl`), pthread keys (`thread::current()`,
//! `thread::park`, blocking crossbeam calls), threads (`pthread_create`:
//! `std::thread`, rayon, tokio). Left to glibc, each pins or kills the
//! process: a thread-local destructor keeps the library mapped until the
//! thread that touched it exits (host worker threads never do), a key whose
//! destructor is in an unmapped library crashes every thread that set it
//! when it exits, and a process has 1,024 keys, after which Rust's std
//! aborts ("out of TLS keys").
//!
//! So right after `dlopen`, before the plugin's entry point runs, the
//! loader points the library's own references to those four functions at
//! the hooks of this module (`patch`: the relocated words of its global
//! offset table, found in the checked file's dynamic relocations). The
//! hooks know which generation called (the address of the destructor, the
//! DSO handle or the thread's start routine lies in its segments), and
//! record what it registered in that generation's [`Footprint`]:
//!
//! - `tls`: thread-exit destructors go to a host-side list per thread, run
//!   at thread exit while the generation is loaded, and skipped (their
//!   values leaked) once it has retired. Nothing pins the library.
//! - `keys`: keys are created with a destructor of this module (one per key
//!   index) that calls the plugin's while the generation is loaded; at
//!   retire the generation's keys are deleted (the values are leaked).
//! - `threads`: threads started by plugin code run a host start routine
//!   that counts them; a generation with a live thread is not closed, and
//!   is reported with its threads' names.
//!
//! Retiring is a protocol on one atomic word per generation ([`Footprint`]'s
//! pin): a hook that is about to run plugin code on behalf of the C library
//! (a destructor at thread exit) first *enters*, which fails once the
//! generation is retired; retiring sets the retired bit and waits for the
//! entered hooks to leave. After that no hook runs the generation's code
//! again, its keys can be deleted and its library closed.
//!
//! Costs: registrations are rare (one per thread and thread-local, key or
//! thread) and each costs a read-locked scan of the loaded generations; a
//! call into the plugin costs nothing more.

pub(crate) mod keys;
pub(crate) mod patch;
pub(crate) mod signals;
pub(crate) mod stack;
pub(crate) mod threads;
pub(crate) mod tls;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::load::image::{Placement, Ranges};

/// The retired bit of [`Footprint::pin`]; the rest counts entered hooks.
const RETIRED: usize = 1 << (usize::BITS - 1);

/// What one loaded generation registered with the C library through the
/// hooks, and the word that orders its retirement.
#[derive(Debug)]
pub(crate) struct Footprint {
    ranges: Ranges,
    /// The library's load bias.
    bias: usize,
    /// [`RETIRED`] | the number of hooks running its code now.
    pin: AtomicUsize,
    /// The keys it created and has not deleted.
    keys: Mutex<Vec<libc::pthread_key_t>>,
    /// The threads it started that are still running.
    threads: Mutex<Vec<Arc<threads::ThreadRecord>>>,
    /// Why the hooks are not (all) in place, if they are not: then what it
    /// registers is out of sight, and it is never closed.
    unhooked: Mutex<Option<String>>,
    /// A key with a destructor in it could not be routed (glibc's key
    /// table unreadable, or no index to be had): never closed.
    unroutable_key: AtomicBool,
    /// Tasks of its code handed to the host and not yet ended.
    tasks: AtomicUsize,
    /// Wakers of its code the host's futures were handed (wrapped by
    /// `abi::future::kept`) and not yet dropped.
    wakers: AtomicUsize,
    /// What runs them (`None`: the library's pool).
    executors: Mutex<Vec<Arc<dyn std::any::Any + Send + Sync>>>,
    /// Counters for reports.
    pub(crate) counts: Counts,
    /// What its code allocated, and what is taken back at unload.
    pub(crate) heap: Arc<crate::heap::Account>,
}

/// What a generation's hooks saw.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Thread-exit destructors registered.
    pub tls_registered: AtomicU64,
    /// ... run at thread exit.
    pub tls_run: AtomicU64,
    /// ... skipped because the generation had retired (values leaked).
    pub tls_skipped: AtomicU64,
    /// Keys created.
    pub keys_created: AtomicU64,
    /// Threads started.
    pub threads_started: AtomicU64,
}

/// The generations loaded and not yet closed, looked up by address.
static LOADED: RwLock<Vec<Arc<Footprint>>> = RwLock::new(Vec::new());

/// Whether this copy of the library ever loaded a generation: never in a
/// plugin's copy, so its look-ups (a plugin's poll of a host future)
/// cost one load.
static EVER_LOADED: AtomicBool = AtomicBool::new(false);

/// The generation whose segments hold `addr`, retired or not, until its
/// library is closed.
pub(crate) fn owner_of(addr: usize) -> Option<Arc<Footprint>> {
    if !EVER_LOADED.load(Ordering::Acquire) {
        return None;
    }
    LOADED
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .rev()
        .find(|f| f.ranges.contains(addr))
        .cloned()
}

impl Footprint {
    /// A footprint for a library just placed at `ranges`, known to the
    /// hooks from now on.
    pub(crate) fn register(placement: &Placement) -> Arc<Footprint> {
        let footprint = Arc::new(Footprint {
            ranges: placement.ranges.clone(),
            bias: placement.bias,
            pin: AtomicUsize::new(0),
            keys: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            unhooked: Mutex::new(None),
            unroutable_key: AtomicBool::new(false),
            tasks: AtomicUsize::new(0),
            wakers: AtomicUsize::new(0),
            executors: Mutex::new(Vec::new()),
            counts: Counts::default(),
            heap: crate::heap::Account::new(),
        });
        LOADED
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&footprint));
        EVER_LOADED.store(true, Ordering::Release);
        footprint
    }

    /// The library's segments.
    pub(crate) fn ranges(&self) -> &Ranges {
        &self.ranges
    }

    /// Takes a pin before running this generation's code from a hook;
    /// `false` once it has retired (the code must not run).
    pub(crate) fn enter(&self) -> bool {
        let mut current = self.pin.load(Ordering::Acquire);
        loop {
            if current & RETIRED != 0 {
                return false;
            }
            match self.pin.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// Gives back a pin taken by a successful [`enter`](Self::enter).
    pub(crate) fn leave(&self) {
        self.pin.fetch_sub(1, Ordering::Release);
    }

    /// Runs `f` under a pin, or returns `None` if the generation retired.
    pub(crate) fn pinned<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        if !self.enter() {
            return None;
        }
        struct Leave<'a>(&'a Footprint);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.leave();
            }
        }
        let _leave = Leave(self);
        Some(f())
    }

    /// Whether [`retire`](Self::retire) has begun.
    pub(crate) fn retired(&self) -> bool {
        self.pin.load(Ordering::Acquire) & RETIRED != 0
    }

    /// Stops every hook from running this generation's code again: sets the
    /// retired bit, then waits up to `within` for the hooks inside to
    /// leave. `true` once none is inside (then, and only then, its keys may
    /// be deleted and its library closed). Called again after a `false`,
    /// it waits again.
    pub(crate) fn retire(&self, within: Duration) -> bool {
        self.pin.fetch_or(RETIRED, Ordering::SeqCst);
        let deadline = Instant::now() + within;
        loop {
            if self.pin.load(Ordering::Acquire) == RETIRED {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Sets what runs its tasks and its spawned futures: the `tasks`
    /// module's own types, held here without being named, so that what a
    /// plugin registered does not depend on the runtime lent to it.
    pub(crate) fn set_executors(&self, executors: Vec<Arc<dyn std::any::Any + Send + Sync>>) {
        *self
            .executors
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = executors;
    }

    /// Its executor of type `T`, if it was given one.
    pub(crate) fn executor<T: std::any::Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let executors = self
            .executors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        executors
            .iter()
            .find_map(|e| Arc::clone(e).downcast::<T>().ok())
    }

    /// Counts a task of its code handed to the host, unless it has
    /// retired (then `false`, and nothing is counted). The count is raised
    /// before the retired bit is read, and `release` sets the bit before it
    /// reads the count (both sequentially consistent): a task is either
    /// seen by the release or refused.
    pub(crate) fn task_started(&self) -> bool {
        self.tasks.fetch_add(1, Ordering::SeqCst);
        if self.pin.load(Ordering::SeqCst) & RETIRED != 0 {
            self.tasks.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// A task of its code ran or was dropped.
    pub(crate) fn task_ended(&self) {
        self.tasks.fetch_sub(1, Ordering::AcqRel);
    }

    /// Counts a waker of its code handed to a host future. Only its own
    /// code, running (so not closed), hands one over; the count is raised
    /// before that code returns, so a release that waits for its calls
    /// to end sees it.
    pub(crate) fn waker_kept(&self) {
        self.wakers.fetch_add(1, Ordering::SeqCst);
    }

    /// The last clone of such a waker was dropped.
    pub(crate) fn waker_released(&self) {
        self.wakers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Records that the hooks could not be installed, and why.
    pub(crate) fn set_unhooked(&self, reason: String) {
        *self.unhooked.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
    }

    /// Forgets a generation whose library is closed: no hook can be
    /// reached from its code any more.
    pub(crate) fn forget(&self) {
        LOADED
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|f| !std::ptr::eq(&raw const **f, self));
    }

    /// The threads it started that are still running, named.
    pub(crate) fn live_threads(&self) -> Vec<threads::LiveThread> {
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|t| t.describe())
            .collect()
    }
}

/// What a retiring generation still has that stops it from being closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Holdup {
    /// Threads it started are still running; what started them, once
    /// [`explain`](Holdup::explain)ed.
    Threads {
        threads: Vec<threads::LiveThread>,
        causes: Vec<String>,
    },
    /// Tasks it handed to the host are queued or running.
    Tasks(usize),
    /// Wakers of its code are kept by host futures.
    Wakers(usize),
    /// A signal handler of the process points into it.
    SignalHandlers(Vec<signals::Handler>),
    /// A hook is still running its code (a thread-exit destructor).
    HookRunning,
    /// A pthread key with a destructor in it was created out of the hooks'
    /// sight (by a library constructor, before the hooks were in place).
    UnroutedKey { key: usize, destructor: usize },
    /// A pthread key with a destructor in it could not be routed.
    UnroutableKey,
    /// The hooks could not be installed.
    Unhooked(String),
}

impl std::fmt::Display for Holdup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holdup::Threads { threads, causes } => {
                let mut names: Vec<(String, usize)> = Vec::new();
                for t in threads {
                    match names.iter_mut().find(|(n, _)| *n == t.name) {
                        Some((_, count)) => *count += 1,
                        None => names.push((t.name.clone(), 1)),
                    }
                }
                let names: Vec<String> = names
                    .iter()
                    .map(|(name, count)| match count {
                        1 => format!("\"{name}\""),
                        n => format!("{n} x \"{name}\""),
                    })
                    .collect();
                let causes = if causes.is_empty() {
                    String::new()
                } else {
                    format!("; {}", causes.join("; "))
                };
                write!(
                    f,
                    "{} thread{} started by this plugin {} still running ({}){causes}: stop \
                     and join them when the plugin's instance is dropped (shut a tokio runtime \
                     down, drop a rayon ThreadPool, join a std::thread), or run the work on \
                     the host's runtime; the library is closed once they end",
                    threads.len(),
                    if threads.len() == 1 { "" } else { "s" },
                    if threads.len() == 1 { "is" } else { "are" },
                    names.join(", ")
                )
            }
            Holdup::Wakers(n) => write!(
                f,
                "{n} waker{} of this plugin {} kept by a host future (of an async host service \
                 the plugin awaited: the host keeps it, or the plugin kept that future, in a \
                 static say, without dropping it); the library is closed once {} dropped",
                if *n == 1 { "" } else { "s" },
                if *n == 1 { "is" } else { "are" },
                if *n == 1 { "it is" } else { "they are" }
            ),
            Holdup::Tasks(n) => write!(
                f,
                "{n} task{} spawned by this plugin (spawn or spawn_blocking) {} queued or running; the \
                 library is closed once {} ended",
                if *n == 1 { "" } else { "s" },
                if *n == 1 { "is" } else { "are" },
                if *n == 1 { "it has" } else { "they have" }
            ),
            Holdup::SignalHandlers(handlers) => {
                let names: Vec<String> = handlers.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the process's handler for {} is code of this plugin: closing it would \
                     crash the process at the next such signal; restore the previous handler \
                     when the plugin's instance is dropped",
                    names.join(", ")
                )
            }
            Holdup::HookRunning => write!(
                f,
                "a thread is running one of its thread-exit destructors; closed once it returns"
            ),
            Holdup::UnroutableKey => write!(
                f,
                "never unloaded: it created a pthread key with a destructor in it that could not \
                 be routed (the C library's key table is unreadable, or every key index was \
                 taken); closing it would crash each thread that set the key when it exits"
            ),
            Holdup::Unhooked(reason) => write!(
                f,
                "never unloaded: its hooks could not be installed ({reason}), so the threads, \
                 keys and thread-local destructors its code registered are unknown"
            ),
            Holdup::UnroutedKey { key, destructor } => write!(
                f,
                "never unloaded: pthread key {key} has its destructor at {destructor:#x} in this \
                 library and was created before its hooks were in place (in a library \
                 constructor); closing it would crash each thread that set the key when it exits"
            ),
        }
    }
}

impl Holdup {
    /// Names what started the threads, from the library's file (`bytes`,
    /// loaded with `footprint`'s bias).
    pub(crate) fn explain(&mut self, bytes: &[u8], footprint: &Footprint) {
        if let Holdup::Threads { threads, causes } = self {
            for t in threads.iter() {
                if let Some(cause) = stack::cause(bytes, footprint.bias, &t.started_from)
                    && !causes.contains(&cause)
                {
                    causes.push(cause);
                }
            }
        }
    }
}

/// How long a retiring generation's threads are given to end after its
/// instance is dropped, before it is reported.
const THREAD_GRACE: Duration = Duration::from_millis(250);
/// How long hooks already inside are given to leave.
const HOOK_GRACE: Duration = Duration::from_secs(1);

/// Takes back what a generation whose instance was dropped registered,
/// so that its library can be closed: waits a little for its threads (the
/// first time), retires it, checks again that no thread of its runs and no
/// signal handler points into it, deletes its keys. `Err` names what still
/// holds it (try again later); `Ok` means no hook, thread, key or handler
/// of the process can run its code any more. Every check is made on every
/// attempt, after the retire: nothing of the generation runs after that
/// but its own threads, which are counted.
pub(crate) fn release(footprint: &Footprint) -> Result<(), Holdup> {
    if let Some(reason) = footprint
        .unhooked
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
    {
        return Err(Holdup::Unhooked(reason));
    }
    let grace = if footprint.retired() {
        Duration::ZERO
    } else {
        THREAD_GRACE
    };
    let deadline = Instant::now() + grace;
    loop {
        let live = footprint.live_threads();
        if live.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(Holdup::Threads {
                threads: live,
                causes: Vec::new(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    loop {
        let tasks = footprint.tasks.load(Ordering::Acquire);
        let wakers = footprint.wakers.load(Ordering::Acquire);
        if tasks == 0 && wakers == 0 {
            break;
        }
        if Instant::now() >= deadline {
            return Err(if tasks != 0 {
                Holdup::Tasks(tasks)
            } else {
                Holdup::Wakers(wakers)
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !footprint.retire(HOOK_GRACE) {
        return Err(Holdup::HookRunning);
    }
    let late = footprint.live_threads();
    if !late.is_empty() {
        // Started by a destructor that ran while it retired.
        return Err(Holdup::Threads {
            threads: late,
            causes: Vec::new(),
        });
    }
    let tasks = footprint.tasks.load(Ordering::SeqCst);
    if tasks != 0 {
        // Spawned while it retired (by a destructor, or a thread that
        // ended since).
        return Err(Holdup::Tasks(tasks));
    }
    let wakers = footprint.wakers.load(Ordering::SeqCst);
    if wakers != 0 {
        return Err(Holdup::Wakers(wakers));
    }
    let handlers = signals::handlers_in(&footprint.ranges);
    if !handlers.is_empty() {
        return Err(Holdup::SignalHandlers(handlers));
    }
    keys::delete_all(footprint);
    if footprint.unroutable_key.load(Ordering::Acquire) {
        return Err(Holdup::UnroutableKey);
    }
    if let Some(&(key, destructor)) = keys::unrouted_in(&footprint.ranges).first() {
        return Err(Holdup::UnroutedKey { key, destructor });
    }
    Ok(())
}

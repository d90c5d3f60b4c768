//! Thread-exit destructors of plugin code (`__cxa_thread_atexit_impl`),
//! kept by this module instead of glibc.
//!
//! glibc counts the destructors registered against a library and keeps it
//! mapped until they have run, that is until every thread that touched one
//! of its thread-locals with `Drop` exits: never, for a host's worker
//! threads. Here they go to a list per thread, owned by the host: at thread
//! exit it runs each destructor whose generation is still loaded (under its
//! pin) and skips, leaking the value, those of generations that have
//! retired. The list is drained by one host thread-local with `Drop`,
//! registered with glibc on the thread's first plugin registration;
//! destructors registered while it drains (a destructor touching another
//! thread-local) join the same drain (`DRAINING`: std marks the drain's
//! own thread-local destroyed before its `drop` runs, so it cannot be
//! asked). One registered after the drain goes to glibc, which keeps the
//! library loaded until it has run (the unload check reports that).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::{Footprint, owner_of};

type Destructor = unsafe extern "C" fn(*mut c_void);

unsafe extern "C" {
    /// glibc's own.
    fn __cxa_thread_atexit_impl(func: Destructor, obj: *mut c_void, dso: *mut c_void) -> c_int;
}

struct Entry {
    owner: Weak<Footprint>,
    func: Destructor,
    obj: *mut c_void,
}

thread_local! {
    /// This thread's plugin destructors, in registration order; null until
    /// the first. A const-initialised `Cell` has no destructor, so it can
    /// be reached while the thread's other thread-locals are destroyed.
    static PENDING: Cell<*mut Vec<Entry>> = const { Cell::new(std::ptr::null_mut()) };
    /// Set while this thread's drain runs.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Set once this thread's drain has finished.
    static DRAINED: Cell<bool> = const { Cell::new(false) };
    /// Drains `PENDING` when the thread exits.
    static DRAIN: Drain = const { Drain };
}

struct Drain;

impl Drop for Drain {
    fn drop(&mut self) {
        DRAINING.with(|d| d.set(true));
        loop {
            let list = PENDING.with(Cell::get);
            if list.is_null() {
                break;
            }
            // SAFETY: `list` is this thread's own `Vec`, made by `push`
            // with `Box::into_raw`; no reference to it is held across the
            // destructor call below, which may push to it.
            let Some(entry) = (unsafe { (*list).pop() }) else {
                PENDING.with(|p| p.set(std::ptr::null_mut()));
                // SAFETY: made by `Box::into_raw` in `push`, and no longer
                // reachable from `PENDING`.
                drop(unsafe { Box::from_raw(list) });
                break;
            };
            run(entry);
        }
        DRAINING.with(|d| d.set(false));
        DRAINED.with(|d| d.set(true));
    }
}

fn run(entry: Entry) {
    let Some(owner) = entry.owner.upgrade() else {
        return;
    };
    let ran = owner.pinned(|| {
        // SAFETY: the generation is loaded while the pin is held; `func`
        // and `obj` are what its std registered for this thread.
        unsafe { (entry.func)(entry.obj) }
    });
    let counter = match ran {
        Some(()) => &owner.counts.tls_run,
        None => &owner.counts.tls_skipped,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds a destructor to this thread's list; `false` if the thread's drain
/// has already run (or cannot be registered).
fn push(entry: Entry) -> bool {
    if DRAINED.with(Cell::get) {
        return false;
    }
    // Touching `DRAIN` registers it (once); during the drain it is marked
    // destroyed, and the drain itself takes what is pushed.
    if !DRAINING.with(Cell::get) && DRAIN.try_with(|_| ()).is_err() {
        return false;
    }
    let mut list = PENDING.with(Cell::get);
    if list.is_null() {
        list = Box::into_raw(Box::default());
        PENDING.with(|p| p.set(list));
    }
    // SAFETY: this thread's own list (see `Drain::drop`); no other
    // reference to it is live here.
    let list = unsafe { &mut *list };
    // Entries of generations that have retired would only be skipped at
    // the drain: forget them now, so that a thread that lives through
    // thousands of generations keeps neither their entries nor, through
    // the `Weak`, their footprints' memory.
    if list.len() >= PRUNE_AT && list.len().is_power_of_two() {
        list.retain(|e| e.owner.upgrade().is_some_and(|o| !o.retired()));
    }
    list.push(entry);
    true
}

/// The list's length from which a push first prunes it (then at each
/// doubling): pruning costs a pass, amortized over the pushes between.
const PRUNE_AT: usize = 16;

/// `__cxa_thread_atexit_impl`, as plugin code sees it.
pub(crate) unsafe extern "C" fn hook_thread_atexit(
    func: Destructor,
    obj: *mut c_void,
    dso: *mut c_void,
) -> c_int {
    if let Some(owner) = owner_of(dso as usize).filter(|o| !o.retired()) {
        let entry = Entry {
            owner: Arc::downgrade(&owner),
            func,
            obj,
        };
        if push(entry) {
            owner.counts.tls_registered.fetch_add(1, Ordering::Relaxed);
            return 0;
        }
    }
    // Not a loaded plugin's, or this thread is past its drain: glibc's own
    // (which keeps the library mapped until it runs; the unload check sees
    // that).
    // SAFETY: the caller's arguments, passed on as they came.
    unsafe { __cxa_thread_atexit_impl(func, obj, dso) }
}

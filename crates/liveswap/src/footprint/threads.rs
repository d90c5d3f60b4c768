//! Threads started by plugin code (`pthread_create`): std's threads,
//! rayon's and tokio's pools. Each runs a start routine of this module
//! that records it in its generation's footprint until it ends, so that a
//! retiring generation with a live thread is not closed, and is reported
//! with each thread's name (its `comm`) and id.

use std::cell::RefCell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, PoisonError};

use super::{Footprint, owner_of};

type StartRoutine = extern "C" fn(*mut c_void) -> *mut c_void;

/// One thread a generation started.
#[derive(Debug)]
pub(crate) struct ThreadRecord {
    /// Its kernel thread id once it runs (0 before).
    tid: AtomicI32,
    /// The stack that started it (return addresses, innermost first).
    started_from: Vec<usize>,
}

/// A live thread, as reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveThread {
    pub tid: i32,
    /// Its name (`comm`: what it was named, or its creator's name).
    pub name: String,
    /// The stack that started it.
    pub started_from: Vec<usize>,
}

impl ThreadRecord {
    pub(crate) fn describe(&self) -> LiveThread {
        let tid = self.tid.load(Ordering::Acquire);
        let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
            .map(|n| n.trim_end().to_owned())
            .unwrap_or_else(|_| "?".into());
        LiveThread {
            tid,
            name,
            started_from: self.started_from.clone(),
        }
    }
}

/// What the host start routine is handed.
struct Start {
    routine: StartRoutine,
    arg: *mut c_void,
    owner: Arc<Footprint>,
    record: Arc<ThreadRecord>,
}

/// Removes the thread from its generation's live threads when it exits,
/// after the thread-locals plugin code registered on it (registered later,
/// destroyed earlier).
struct Running {
    owner: Arc<Footprint>,
    record: Arc<ThreadRecord>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.owner
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| !Arc::ptr_eq(r, &self.record));
    }
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

extern "C" fn start(arg: *mut c_void) -> *mut c_void {
    // SAFETY: `arg` is the `Start` boxed by `hook_create` for this thread,
    // handed over once.
    let Start {
        routine,
        arg,
        owner,
        record,
    } = *unsafe { Box::from_raw(arg.cast::<Start>()) };
    // SAFETY: `gettid` has no preconditions.
    record
        .tid
        .store(unsafe { libc::gettid() }, Ordering::Release);
    let running = Running { owner, record };
    // A new thread's thread-locals are all reachable.
    let _ = RUNNING.try_with(|r| r.replace(Some(running)));
    routine(arg)
}

/// `pthread_create`, as plugin code sees it.
pub(crate) unsafe extern "C" fn hook_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    routine: StartRoutine,
    arg: *mut c_void,
) -> c_int {
    // A retired generation's too: a destructor running under its pin may
    // start a thread while it retires, and that thread must hold it.
    let Some(owner) = owner_of(routine as usize) else {
        // SAFETY: the caller's arguments, passed on as they came.
        return unsafe { libc::pthread_create(thread, attr, routine, arg) };
    };
    let record = Arc::new(ThreadRecord {
        tid: AtomicI32::new(0),
        started_from: super::stack::addresses(),
    });
    owner
        .threads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arc::clone(&record));
    owner.counts.threads_started.fetch_add(1, Ordering::Relaxed);
    let start_arg = Box::into_raw(Box::new(Start {
        routine,
        arg,
        owner: Arc::clone(&owner),
        record: Arc::clone(&record),
    }));
    // SAFETY: `start` is this module's (never unloaded) and takes the box
    // it is given; the caller's `thread` and `attr` are passed on.
    let rc = unsafe { libc::pthread_create(thread, attr, start, start_arg.cast()) };
    if rc != 0 {
        // SAFETY: the thread did not start, so the box was not taken.
        drop(unsafe { Box::from_raw(start_arg) });
        owner
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| !Arc::ptr_eq(r, &record));
    }
    rc
}

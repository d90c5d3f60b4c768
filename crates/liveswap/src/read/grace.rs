//! The swapper's side: the barrier after a pointer is replaced, and the
//! release of a replaced version's reference once no hazard holds it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::fence::barrier;
use super::hazard;

/// A reference to release once no hazard holds `ptr`.
struct Retired {
    /// The address only: compared, never read through.
    ptr: usize,
    release: Box<dyn FnOnce() + Send>,
    /// The barrier after the pointer's replacement is still to be made
    /// (it failed when the swap tried).
    unbarriered: bool,
}

/// Replaced versions still read, and the grace thread's wake-up.
static RETIRED: Mutex<Vec<Retired>> = Mutex::new(Vec::new());
static PENDING: Condvar = Condvar::new();

/// How long a swap looks again before it leaves the release to the grace
/// thread: guards live for a call.
const SPIN: Duration = Duration::from_micros(50);

/// How often the grace thread looks while something waits.
const TICK: Duration = Duration::from_millis(1);

/// Releases (with `release`) the reference a slot held to `ptr`, which it
/// no longer holds: now if no hazard holds `ptr`, else once none does.
/// Call after the pointer was replaced.
pub(crate) fn retire(ptr: *const (), release: Box<dyn FnOnce() + Send>) {
    let barriered = barrier();
    if barriered {
        let started = Instant::now();
        loop {
            if !hazard::in_use(ptr) {
                run(release);
                return;
            }
            if started.elapsed() >= SPIN {
                break;
            }
            std::hint::spin_loop();
        }
    } else {
        tracing::warn!("membarrier failed: a replaced version waits for a barrier to be released");
    }
    RETIRED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Retired {
            ptr: ptr.addr(),
            release,
            unbarriered: !barriered,
        });
    if grace_thread() {
        PENDING.notify_one();
    } else {
        sweep();
    }
}

/// Whether the grace thread runs; starts it if not (tried again at the
/// next retire when no thread can be had).
fn grace_thread() -> bool {
    // Under Miri, whose leak check fails a process that leaves a thread
    // parked, every retire sweeps in place, as when no thread can be had.
    if cfg!(miri) {
        return false;
    }
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.load(Ordering::Acquire) {
        return true;
    }
    static STARTING: Mutex<()> = Mutex::new(());
    let _one = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if STARTED.load(Ordering::Acquire) {
        return true;
    }
    let spawned = std::thread::Builder::new()
        .name("liveswap-grace".into())
        .spawn(|| {
            loop {
                let retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
                // Parked while nothing waits; a tick while something does.
                let retired = if retired.is_empty() {
                    PENDING
                        .wait(retired)
                        .unwrap_or_else(PoisonError::into_inner)
                } else {
                    retired
                };
                drop(retired);
                std::thread::sleep(TICK);
                sweep();
            }
        });
    let ok = spawned.is_ok();
    STARTED.store(ok, Ordering::Release);
    ok
}

/// Runs a release: it drops a version, whose drop may log or, when its
/// reaper is gone, run the plugin's destructor here. A panic in it is
/// caught (the version is then leaked, never freed twice).
fn run(release: Box<dyn FnOnce() + Send>) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(release)) {
        crate::abi::panics::drop_payload(payload);
        tracing::error!("releasing a replaced version panicked: it stays loaded");
    }
}

/// Releases every retired reference no hazard holds (making first the
/// barrier of any whose swap could not). Also called by a slot that waits
/// for its versions to go, so that nothing waits for the grace thread's
/// next tick.
pub(crate) fn sweep() {
    let mut ready = Vec::new();
    {
        let mut retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
        if retired.is_empty() {
            return;
        }
        if retired.iter().any(|r| r.unbarriered) && barrier() {
            for entry in retired.iter_mut() {
                entry.unbarriered = false;
            }
        }
        let mut kept = Vec::new();
        for entry in std::mem::take(&mut *retired) {
            if !entry.unbarriered && !hazard::in_use(std::ptr::without_provenance(entry.ptr)) {
                ready.push(entry);
            } else {
                kept.push(entry);
            }
        }
        *retired = kept;
    }
    // Outside the lock: a release may drop a version, which may retire.
    for entry in ready {
        run(entry.release);
    }
}

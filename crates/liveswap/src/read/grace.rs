//! The swapper's side: the barrier after a pointer is replaced, and the
//! release of a replaced version's reference once no hazard holds it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::hazard;

/// How the read path is fenced: not decided yet, by `membarrier`, or by a
/// full fence on each side.
const UNKNOWN: u8 = 0;
const EXPEDITED: u8 = 1;
const FENCED: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Decides the mode, once per process, before the first version is
/// published: `membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)`,
/// else fences. Readers exist only after a version is published, so they
/// see the mode decided (the publication orders it).
pub(crate) fn init() {
    if MODE.load(Ordering::Acquire) != UNKNOWN {
        return;
    }
    static DECIDED: OnceLock<u8> = OnceLock::new();
    let mode = *DECIDED.get_or_init(|| {
        use rustix::thread::{MembarrierCommand, membarrier};
        match membarrier(MembarrierCommand::RegisterPrivateExpedited) {
            Ok(()) => EXPEDITED,
            Err(e) => {
                tracing::debug!(error = %e, "membarrier unavailable: the read path fences");
                FENCED
            }
        }
    });
    MODE.store(mode, Ordering::Release);
}

/// The reader's fence between publishing its hazard and checking it.
#[inline]
pub(crate) fn reader_fence() {
    if MODE.load(Ordering::Relaxed) == EXPEDITED {
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        std::sync::atomic::fence(Ordering::SeqCst);
    }
}

/// Every thread of the process passes a full barrier: those running now
/// by the kernel's IPI, the others at their next switch. `false` when it
/// could not be made.
fn barrier() -> bool {
    if MODE.load(Ordering::Acquire) == EXPEDITED {
        use rustix::thread::{MembarrierCommand, membarrier};
        // Registered, it cannot fail by the kernel's contract; if it does,
        // readers (fenced by a compiler fence only) may still be reading.
        return membarrier(MembarrierCommand::PrivateExpedited).is_ok();
    }
    std::sync::atomic::fence(Ordering::SeqCst);
    true
}

/// A reference to release once no hazard holds `ptr`.
struct Retired {
    ptr: usize,
    release: Box<dyn FnOnce() + Send>,
}

/// Replaced versions still read, and whether a grace thread runs.
static RETIRED: Mutex<Vec<Retired>> = Mutex::new(Vec::new());

/// How long a swap looks again before it leaves the release to the grace
/// thread: guards live for a call.
const SPIN: Duration = Duration::from_micros(50);

/// How often the grace thread looks.
const TICK: Duration = Duration::from_millis(1);

/// Releases (with `release`) the reference a slot held to `ptr`, which it
/// no longer holds: now if no hazard holds `ptr`, else once none does.
/// Call after the pointer was replaced.
pub(crate) fn retire(ptr: *const (), release: Box<dyn FnOnce() + Send>) {
    if !barrier() {
        tracing::error!("membarrier failed after registration: a replaced version is kept");
        std::mem::forget(release);
        return;
    }
    let started = Instant::now();
    loop {
        if !hazard::in_use(ptr) {
            release();
            return;
        }
        if started.elapsed() >= SPIN {
            break;
        }
        std::hint::spin_loop();
    }
    RETIRED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Retired {
            ptr: ptr as usize,
            release,
        });
    grace_thread();
}

/// Starts the grace thread, once; where no thread can be started, the
/// next retire sweeps instead.
fn grace_thread() {
    static STARTED: OnceLock<bool> = OnceLock::new();
    let started = *STARTED.get_or_init(|| {
        std::thread::Builder::new()
            .name("liveswap-grace".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TICK);
                    sweep();
                }
            })
            .is_ok()
    });
    if !started {
        sweep();
    }
}

/// Releases every retired reference no hazard holds.
fn sweep() {
    let ready: Vec<Retired> = {
        let mut retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
        if retired.is_empty() {
            return;
        }
        let (ready, kept) = std::mem::take(&mut *retired)
            .into_iter()
            .partition(|r| !hazard::in_use(r.ptr as *const ()));
        *retired = kept;
        ready
    };
    // Outside the lock: a release may drop a version, which may retire.
    for retired in ready {
        (retired.release)();
    }
}

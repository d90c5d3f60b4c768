//! The two halves of the read path's asymmetric fence: the reader's
//! (a compiler fence when `membarrier` is available, else a full fence)
//! and the swapper's barrier (`membarrier`, else a full fence).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

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
        // Miri cannot make the syscall: it checks the fenced protocol.
        if cfg!(miri) {
            return FENCED;
        }
        use rustix::thread::{MembarrierCommand, membarrier};
        match membarrier(MembarrierCommand::RegisterPrivateExpedited) {
            Ok(()) => EXPEDITED,
            Err(_) => FENCED,
        }
    });
    MODE.store(mode, Ordering::Release);
    if mode == FENCED {
        tracing::debug!("membarrier unavailable: each read of a slot makes a full fence");
    }
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
pub(crate) fn barrier() -> bool {
    if MODE.load(Ordering::Acquire) == EXPEDITED {
        use rustix::thread::{MembarrierCommand, membarrier};
        // It can still fail (the kernel's cpumask allocation, a seccomp
        // filter on the command): then readers, fenced by a compiler fence
        // only, may still be taking the old pointer, and nothing is
        // released until a barrier is made.
        return membarrier(MembarrierCommand::PrivateExpedited).is_ok();
    }
    std::sync::atomic::fence(Ordering::SeqCst);
    true
}

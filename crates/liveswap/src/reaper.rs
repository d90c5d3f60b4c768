//! The reaper: a thread owned by each handle that destroys replaced
//! versions and unloads their libraries, so that the caller that drops the
//! last guard (often a hot request thread) pays only for a channel send.
//!
//! After each unload the reaper verifies it and records the outcome. A
//! pinned library is looked at again every half second: one not closed yet
//! (its threads still running, a signal handler still pointing into it) is
//! closed once that stops, and one that stayed mapped after `dlclose` is
//! recorded as unloaded once it has gone.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::loader::{Outcome, Plugin, Remains};
use crate::registry::{Registry, State};

/// How often pinned libraries are looked at again.
const PINNED_RECHECK: Duration = Duration::from_millis(500);

pub(crate) type ReaperSender = Sender<Plugin>;

/// What the reaper receives from.
pub(crate) type ReaperReceiver = Receiver<Plugin>;

/// A reaper's channel: versions hold the sender before its thread starts.
pub(crate) fn channel() -> (ReaperSender, ReaperReceiver) {
    mpsc::channel()
}

/// Starts a reaper on `rx` that records outcomes in `registry`.
pub(crate) fn spawn(
    rx: ReaperReceiver,
    registry: Arc<Registry>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("liveswap-reaper".into())
        .spawn(move || run(&rx, &registry))
}

/// Libraries that did not go, looked at again: each is closed once what
/// held it lets go (its threads end, a handler is restored), and its copy
/// stays open meanwhile so that its name and inode are not reused.
#[derive(Default)]
struct Leftovers {
    pinned: Vec<(u64, Remains)>,
}

fn run(rx: &Receiver<Plugin>, registry: &Registry) {
    let mut left = Leftovers::default();
    loop {
        let next = if left.pinned.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(PINNED_RECHECK)
        };
        match next {
            Ok(plugin) => reap(plugin, registry, &mut left),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        recheck(registry, &mut left.pinned);
    }
    recheck(registry, &mut left.pinned);
    // The handle is gone; what could not be closed stays open on purpose.
    std::mem::forget(left);
}

/// Unloads one plugin and records the outcome.
fn reap(plugin: Plugin, registry: &Registry, left: &mut Leftovers) {
    let generation = plugin.generation;
    // Its calls have all returned: carry what they changed since its
    // state was taken, before its instance is dropped.
    crate::warm::final_merge(&plugin.object, generation, &plugin.handover);
    registry.retiring(generation);
    match plugin.unload() {
        (Outcome::Unloaded, remains) => {
            // Its copy is closed before anyone is told it is unloaded.
            drop(remains);
            tracing::debug!(generation, "plugin generation unloaded");
            registry.finished(generation, State::Unloaded);
        }
        (Outcome::Pinned(reason), remains) => {
            tracing::warn!(generation, %reason, "plugin generation pinned: still mapped after unload");
            registry.finished(generation, State::Pinned { reason });
            left.pinned.push((generation, remains));
        }
    }
}

fn recheck(registry: &Registry, pinned: &mut Vec<(u64, Remains)>) {
    let mut gone = Vec::new();
    pinned.retain_mut(|(generation, remains)| {
        if !remains.gone() {
            return true;
        }
        gone.push(*generation);
        false
    });
    // Their copies are closed (dropped by `retain_mut`) before anyone is
    // told they are unloaded.
    for generation in gone {
        tracing::info!(generation, "pinned plugin generation finally unloaded");
        registry.finished(generation, State::Unloaded);
    }
}

//! The reaper: a thread owned by each handle that destroys replaced
//! versions and unloads their libraries, so that the caller that drops the
//! last guard (often a hot request thread) pays only for a channel send.
//!
//! After each unload the reaper verifies it (`verify`) and records the
//! outcome. A pinned library is looked at again now and then: glibc unloads
//! a library held by thread-local destructors once those threads exit and
//! another `dlclose` happens, and the reaper then records it as unloaded.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::loader::{Outcome, Plugin};
use crate::stats::{Registry, State};
use crate::verify;

/// How often pinned libraries are looked at again.
const PINNED_RECHECK: Duration = Duration::from_millis(500);

pub(crate) type ReaperSender = Sender<Plugin>;

/// Starts a reaper that records outcomes in `registry`.
pub(crate) fn spawn(registry: Arc<Registry>) -> std::io::Result<(ReaperSender, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("liveswap-reaper".into())
        .spawn(move || run(&rx, &registry))?;
    Ok((tx, thread))
}

fn run(rx: &Receiver<Plugin>, registry: &Registry) {
    let mut pinned: Vec<(u64, PathBuf)> = Vec::new();
    loop {
        let next = if pinned.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(PINNED_RECHECK)
        };
        match next {
            Ok(plugin) => reap(plugin, registry, &mut pinned),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        recheck(registry, &mut pinned);
    }
    recheck(registry, &mut pinned);
}

/// Unloads one plugin and records the outcome.
fn reap(plugin: Plugin, registry: &Registry, pinned: &mut Vec<(u64, PathBuf)>) {
    let generation = plugin.generation;
    let copy = plugin.copy.clone();
    match plugin.unload() {
        Outcome::Unloaded => {
            tracing::info!(generation, "plugin generation unloaded");
            registry.finished(generation, State::Unloaded);
        }
        Outcome::Pinned(reason) => {
            tracing::warn!(generation, %reason, "plugin generation pinned: still mapped after unload");
            registry.finished(generation, State::Pinned { reason });
            pinned.push((generation, copy));
        }
    }
}

fn recheck(registry: &Registry, pinned: &mut Vec<(u64, PathBuf)>) {
    pinned.retain(|(generation, copy)| {
        if verify::residue(copy).is_some() {
            return true;
        }
        tracing::info!(generation, "pinned plugin generation finally unloaded");
        registry.finished(*generation, State::Unloaded);
        false
    });
}

//! The plugin's half: [`spawn_blocking`].

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicPtr, Ordering};

use super::wire::{HostSpawner, RawTask, SPAWNED};

/// The host's spawner, once the entry point ran.
static HOST: AtomicPtr<HostSpawner> = AtomicPtr::new(std::ptr::null_mut());

/// Keeps the host's spawner; called by the entry point.
pub(crate) fn install(spawner: *const HostSpawner) {
    HOST.store(spawner.cast_mut(), Ordering::Release);
}

/// The host did not take the task: this code does not run in a loaded
/// plugin, or its generation is being unloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the host did not take the task: not in a loaded plugin, or its generation is unloading")]
pub struct SpawnError;

unsafe extern "C" fn run<F: FnOnce() + Send + 'static>(data: *mut c_void) {
    // SAFETY: `data` is the `Box<F>` made by `spawn_blocking`, handed over
    // once.
    let f = unsafe { Box::from_raw(data.cast::<F>()) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
        crate::abi::plugin::count_panic();
        crate::abi::plugin::drop_payload(payload);
    }
}

unsafe extern "C" fn discard<F: FnOnce() + Send + 'static>(data: *mut c_void) {
    // SAFETY: as in `run`.
    let f = unsafe { Box::from_raw(data.cast::<F>()) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(f))) {
        crate::abi::plugin::drop_payload(payload);
    }
}

/// Runs `f` on a host thread: the host's executor, or the library's pool
/// (see [`Options::executor`](crate::Options::executor)). Use it in a
/// plugin instead of `std::thread::spawn`: the host counts the task
/// against this plugin's generation, which stays loaded until it ends. A
/// panic in `f` is caught and counted with the plugin's other panics.
///
/// # Errors
///
/// [`SpawnError`] when this code does not run in a plugin loaded by
/// liveswap, or its generation is being unloaded (`f` is dropped).
pub fn spawn_blocking<F: FnOnce() + Send + 'static>(f: F) -> Result<(), SpawnError> {
    // SAFETY: a non-null pointer was stored by `install` from the host's
    // `&'static` spawner, and the host outlives its plugins.
    let Some(host) = (unsafe { HOST.load(Ordering::Acquire).as_ref() }) else {
        return Err(SpawnError);
    };
    let task = RawTask {
        data: Box::into_raw(Box::new(f)).cast(),
        run: run::<F>,
        discard: discard::<F>,
    };
    // SAFETY: the host's function, given a task it now owns.
    match unsafe { (host.spawn)(task) } {
        SPAWNED => Ok(()),
        _ => Err(SpawnError),
    }
}

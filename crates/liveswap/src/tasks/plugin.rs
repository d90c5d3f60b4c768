//! The plugin's half: [`spawn_blocking`] and [`spawn`].

use std::ffi::c_void;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::task::{Context, Poll, Waker};

use super::wire::{
    HostSpawner, POLL_PANICKED, POLL_PENDING, POLL_READY, RawSpawned, RawTask, SPAWNED,
};

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
        crate::abi::panics::count_panic();
        crate::abi::panics::drop_payload(payload);
    }
}

unsafe extern "C" fn discard<F: FnOnce() + Send + 'static>(data: *mut c_void) {
    // SAFETY: as in `run`.
    let f = unsafe { Box::from_raw(data.cast::<F>()) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(f))) {
        crate::abi::panics::drop_payload(payload);
    }
}

/// The host's spawner, or `SpawnError` outside a loaded plugin.
fn host() -> Result<&'static HostSpawner, SpawnError> {
    // SAFETY: a non-null pointer was stored by `install` from the host's
    // `&'static` spawner, and the host outlives its plugins.
    unsafe { HOST.load(Ordering::Acquire).as_ref() }.ok_or(SpawnError)
}

unsafe extern "C" fn poll<F: Future<Output = ()> + Send + 'static>(
    data: *mut c_void,
    waker: *const c_void,
) -> u32 {
    // SAFETY: `data` is the `Box<F>` made by `spawn`, never moved since
    // (so pinned) and polled from one thread at a time (the host's
    // `SpawnedFuture` takes `Pin<&mut Self>`); `waker` is the host's
    // `&Waker` for this poll, of the same layout (same compiler).
    let (future, waker) = unsafe {
        (
            Pin::new_unchecked(&mut *data.cast::<F>()),
            &*waker.cast::<Waker>(),
        )
    };
    let mut cx = Context::from_waker(waker);
    match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
        Ok(Poll::Ready(())) => POLL_READY,
        Ok(Poll::Pending) => POLL_PENDING,
        Err(payload) => {
            crate::abi::panics::count_panic();
            crate::abi::panics::drop_payload(payload);
            POLL_PANICKED
        }
    }
}

unsafe extern "C" fn free<F>(data: *mut c_void) {
    // SAFETY: the `Box<F>` made by `spawn`, freed once.
    let future = unsafe { Box::from_raw(data.cast::<F>()) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(future))) {
        crate::abi::panics::drop_payload(payload);
    }
}

/// Runs `future` on the host's executor: the slot's
/// [`Options::future_executor`](crate::Options::future_executor) (the
/// host's tokio runtime, say), or else the library's pool, which polls it
/// once per wake (a waiting future holds no thread). Use it in a plugin instead of
/// `tokio::spawn`: the plugin needs no runtime of its own, and the host
/// counts the future against this plugin's generation, which stays
/// loaded until the future completes or is dropped. A panic in its `poll`
/// is caught and counted with the plugin's other panics, and ends it.
/// `Ok` means the host took it: an executor of the host's may still drop
/// it (cancel it) without running it, as a runtime shut down does.
///
/// # Errors
///
/// [`SpawnError`] when this code does not run in a plugin loaded by
/// liveswap, or its generation is being unloaded (`future` is dropped).
pub fn spawn<F: Future<Output = ()> + Send + 'static>(future: F) -> Result<(), SpawnError> {
    let host = host()?;
    let raw = RawSpawned {
        data: Box::into_raw(Box::new(future)).cast(),
        poll: poll::<F>,
        drop: free::<F>,
    };
    // SAFETY: the host's function, given a future it now owns.
    match unsafe { (host.spawn_future)(raw) } {
        SPAWNED => Ok(()),
        _ => Err(SpawnError),
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
    let host = host()?;
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

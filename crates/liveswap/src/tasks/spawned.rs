//! The host's half of `spawn`: a plugin's future, counted against the
//! generation whose code it is, handed to the slot's future executor as a
//! [`SpawnedFuture`], or else polled by the library's pool, one poll per
//! wake (a waiting future holds no thread).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use super::wire::{POLL_PENDING, REFUSED, RawSpawned, SPAWNED};
use crate::abi::future::guard;
use crate::footprint::{self, Footprint};

/// What runs a slot's spawned futures: called once per future, on the
/// plugin's thread; it must poll it to completion (a tokio runtime's
/// `spawn`), or drop it (which cancels it).
pub type FutureExecutor = Arc<dyn Fn(SpawnedFuture) + Send + Sync>;

/// A future of plugin code the plugin handed to the host
/// ([`spawn`](crate::spawn)). Until it completes or is dropped, its
/// plugin's generation is not unloaded. It is `Send`, `Unpin` and
/// `'static`: spawn it on any executor.
pub struct SpawnedFuture {
    raw: Option<RawSpawned>,
    /// The guarded waker handed to the plugin, rebuilt when the
    /// executor's waker changes.
    waker: Option<Waker>,
    owner: Arc<Footprint>,
}

// SAFETY: the plugin's future is `Send` (`spawn` requires it), and its two
// functions are plugin code, callable from any thread and kept mapped
// while the future exists (its generation counts it).
unsafe impl Send for SpawnedFuture {}

impl SpawnedFuture {
    /// Frees the plugin's future, once, and stops counting it.
    fn finish(&mut self) {
        if let Some(raw) = self.raw.take() {
            // SAFETY: the plugin's own function for its own box, called
            // once; the generation is loaded while `self` counts.
            unsafe { (raw.drop)(raw.data) };
            self.owner.task_ended();
        }
    }
}

impl Future for SpawnedFuture {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(raw) = &this.raw else {
            return Poll::Ready(());
        };
        let waker = match &this.waker {
            Some(guarded) if guard::wraps(guarded, cx.waker()) => guarded,
            _ => this.waker.insert(guard::waker(cx.waker().clone())),
        };
        // SAFETY: the plugin's poll for its own box, with a waker of host
        // code for this poll; the generation is loaded while `this`
        // counts.
        let status = unsafe { (raw.poll)(raw.data, std::ptr::from_ref(waker).cast()) };
        if status == POLL_PENDING {
            return Poll::Pending;
        }
        // Completed, or panicked (caught and counted in the plugin).
        this.finish();
        Poll::Ready(())
    }
}

impl Drop for SpawnedFuture {
    fn drop(&mut self) {
        self.finish();
    }
}

impl std::fmt::Debug for SpawnedFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnedFuture")
            .field("done", &self.raw.is_none())
            .finish_non_exhaustive()
    }
}

/// A spawned future the library's pool runs when the slot has no future
/// executor: each wake queues one poll on the pool, so a future that
/// waits holds no thread (and thousands of waiting futures cannot take
/// every pool thread from the one that would wake them).
struct Pooled {
    future: Mutex<Option<SpawnedFuture>>,
    /// A poll is queued and has not started.
    queued: AtomicBool,
}

impl Wake for Pooled {
    fn wake(self: Arc<Self>) {
        Pooled::schedule(self);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        Pooled::schedule(Arc::clone(self));
    }
}

impl Pooled {
    /// Queues one poll unless one is queued; `false` when no pool thread
    /// can be had (the future is then left as it is).
    fn schedule(this: Arc<Self>) -> bool {
        if this.queued.swap(true, Ordering::AcqRel) {
            return true;
        }
        super::pool::run_on_pool(Box::new(move || Pooled::poll(&this))).is_ok()
    }

    /// Polls the future once; drops it when it completes.
    fn poll(this: &Arc<Self>) {
        this.queued.store(false, Ordering::Release);
        let waker = Waker::from(Arc::clone(this));
        let mut cx = Context::from_waker(&waker);
        let mut future = this.future.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = future.as_mut()
            && Pin::new(running).poll(&mut cx).is_ready()
        {
            *future = None;
        }
    }
}

pub(super) unsafe extern "C" fn spawn_future(raw: RawSpawned) -> u32 {
    // Counted before the retired bit is read (`task_started` says so), so
    // that a retiring generation either sees this future or refuses it.
    let owner = footprint::owner_of(raw.poll as usize).filter(|o| o.task_started());
    let Some(owner) = owner else {
        // Not a loaded generation's code, or one being unloaded.
        // SAFETY: the plugin's own function for its own box.
        unsafe { (raw.drop)(raw.data) };
        return REFUSED;
    };
    let executor = owner.executor::<FutureExecutor>();
    let future = SpawnedFuture {
        raw: Some(raw),
        waker: None,
        owner,
    };
    match executor {
        Some(executor) => {
            // A host executor that panics must not unwind into the plugin;
            // the future, moved into it, is dropped (cancelled) on the way
            // unless the executor kept it.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(move || executor(future))) {
                crate::abi::panics::drop_payload(payload);
            }
            SPAWNED
        }
        None => {
            let pooled = Arc::new(Pooled {
                future: Mutex::new(Some(future)),
                queued: AtomicBool::new(false),
            });
            if Pooled::schedule(Arc::clone(&pooled)) {
                SPAWNED
            } else {
                // No thread to poll it: dropped here, freed, uncounted.
                drop(
                    pooled
                        .future
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take(),
                );
                REFUSED
            }
        }
    }
}

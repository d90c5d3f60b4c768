//! Futures across the boundary: an `async fn` of an interface.
//!
//! The plugin's shim starts the method and boxes its future ([`RawFuture`]:
//! the box and two functions of the plugin, poll and drop, each catching
//! panics). The host wraps it in a [`RemoteFuture`], which borrows the
//! view it was started from, so the guard (or owned version) that keeps
//! the plugin loaded outlives the future: a future dropped before it is
//! ready (cancelled) is dropped by the plugin's own code while that code
//! is mapped.
//!
//! `poll` hands the plugin a `&Waker` (not the host's `Context`; the
//! plugin builds its own around it): a waker of this module's whose
//! functions are host code (which outlives every plugin, so the plugin may
//! clone and keep it) and wrap the host executor's waker, catching its
//! panics: a host panic unwinding through plugin frames would be a
//! foreign exception there, and abort. Both sides are built by the same
//! compiler (the handshake checks it), so a `Waker` has one layout. A
//! panic in the plugin's `poll` is caught in the plugin and ends the
//! future with `Err(CallError::Panicked)`.
//!
//! The other direction, an `async fn` of a host service (an import) that
//! plugin code awaits: the host's future is polled with a waker the
//! plugin made (its own executor's, or this module's guard in the plugin's
//! copy of the library), whose functions are plugin code. The host's
//! future may keep it (a timer, a channel, a task's join handle) past the
//! plugin's unload, so the implementing side's poll, seeing a waker whose
//! vtable lies in a loaded generation, hands its future a waker of its own
//! code instead ([`kept`]) that counts against that generation: the
//! generation stays loaded (reported as pinned by the wakers the host
//! keeps) until the last clone is dropped.
//!
//! Costs: one allocation to box the future when the method is called; each
//! `poll` is an indirect call plus a `catch_unwind` in the implementing
//! side, and a comparison of the waker's vtable with the last one seen (a
//! look-up of the loaded generations when it changes).

use std::ffi::c_void;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::{MaybeUninit, align_of, size_of};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::host::MessageSink;
use super::{CALL_OK, Message};
use crate::layout::{CrossSafe, Kind, LayoutRef, TypeLayout};

/// A future of the implementing side (the plugin's, for an export; the
/// host's, for an import), boxed by it.
#[repr(C)]
pub struct RawFuture {
    data: *mut c_void,
    poll: unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void, *mut MessageSink<'_>) -> u32,
    drop: unsafe extern "C" fn(*mut c_void),
}

/// [`RawFuture`]'s poll: the output was written.
const READY: u32 = 0;
/// [`RawFuture`]'s poll: not ready; the waker will be woken.
const PENDING: u32 = 3;

/// What [`RawFuture::new`] boxes: the future, and the waker it was last
/// handed when that waker had to be replaced ([`kept`]).
struct Shim<F> {
    future: F,
    /// The waker of this copy's code handed to `future` in place of a
    /// plugin's.
    kept: Option<std::task::Waker>,
}

impl RawFuture {
    /// Boxes `future` with this copy of the library's poll and drop.
    pub fn new<F: Future + Send>(future: F) -> RawFuture {
        let shim = Shim { future, kept: None };
        RawFuture {
            data: Box::into_raw(Box::new(shim)).cast(),
            poll: poll_shim::<F>,
            drop: drop_shim::<F>,
        }
    }
}

unsafe extern "C" fn poll_shim<F: Future>(
    data: *mut c_void,
    cx: *mut c_void,
    out: *mut c_void,
    sink: *mut MessageSink<'_>,
) -> u32 {
    // SAFETY: `data` is the `Box<Shim<F>>` made by `RawFuture::new`,
    // never moved since (so its future is pinned), and polled from one
    // thread at a time (the caller's `RemoteFuture` takes `Pin<&mut
    // Self>`); `cx` is the caller's `&Waker` for this poll, of the same
    // layout (same compiler).
    let (shim, given) = unsafe {
        (
            &mut *data.cast::<Shim<F>>(),
            &*cx.cast::<std::task::Waker>(),
        )
    };
    let waker = kept::waker_for(given, &mut shim.kept);
    // SAFETY: the future stays where it is in its box (see above).
    let future = unsafe { Pin::new_unchecked(&mut shim.future) };
    let mut cx = Context::from_waker(waker);
    match catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))) {
        Ok(Poll::Ready(value)) => {
            // SAFETY: the host passes room for an `F::Output`.
            unsafe { out.cast::<F::Output>().write(value) };
            READY
        }
        Ok(Poll::Pending) => PENDING,
        Err(payload) => {
            // SAFETY: the host passes a live sink.
            super::plugin::report_panic(unsafe { &mut *sink }, payload);
            super::CALL_PANICKED
        }
    }
}

unsafe extern "C" fn drop_shim<F>(data: *mut c_void) {
    // SAFETY: the `Box<Shim<F>>` made by `RawFuture::new`, dropped once.
    let future = unsafe { Box::from_raw(data.cast::<Shim<F>>()) };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(future))) {
        super::panics::drop_payload(payload);
    }
}

/// The future of a plugin's `async fn`, as the host awaits it: resolves to
/// the method's result, or `Err(CallError::Panicked)` if the method
/// panicked when started or polled. It borrows the view it was called on:
/// keep the guard (or the `current_owned()` version) alive across `.await`.
/// Dropping it before it is ready cancels the call (the plugin drops its
/// future).
pub struct RemoteFuture<'a, R> {
    state: State,
    /// The guarded waker handed to the plugin, rebuilt when the executor's
    /// waker changes.
    waker: Option<std::task::Waker>,
    _borrow: Borrow<'a, R>,
}

/// What a [`RemoteFuture`] holds of its view and its output: a borrow of
/// the view, and an `R` to come.
type Borrow<'a, R> = PhantomData<(&'a (), fn() -> R)>;

enum State {
    Running(RawFuture),
    Failed(Message),
    Done,
}

// SAFETY: the plugin's future is `Send` (the interface macro requires it
// of every async method) and its poll and drop functions may be called
// from any thread; the output is `Send` (`R: Send`).
unsafe impl<R: Send> Send for RemoteFuture<'_, R> {}

impl<R> Unpin for RemoteFuture<'_, R> {}

impl<R> RemoteFuture<'_, R> {
    fn finish(&mut self) {
        if let State::Running(raw) = std::mem::replace(&mut self.state, State::Done) {
            // SAFETY: the implementing side's own drop for its own box,
            // once: for an export, the borrow `'a` of the view keeps the
            // plugin loaded; for an import, the host's code outlives every
            // plugin and its object lives until the plugin is closed.
            unsafe { (raw.drop)(raw.data) };
        }
    }
}

impl<R: crate::CrossSafe> Future for RemoteFuture<'_, R> {
    type Output = Result<R, crate::CallError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let raw = match &mut this.state {
            State::Running(raw) => raw,
            State::Failed(message) => {
                let message = std::mem::take(message);
                this.state = State::Done;
                return Poll::Ready(Err(panicked(message)));
            }
            // Polled after it completed: it never completes again.
            State::Done => return Poll::Pending,
        };
        let waker = match &this.waker {
            Some(guarded) if guard::wraps(guarded, cx.waker()) => guarded,
            _ => this.waker.insert(guard::waker(cx.waker().clone())),
        };
        let mut out = MaybeUninit::<R>::uninit();
        let mut message: Option<Message> = None;
        let mut sink = MessageSink::new(&mut message);
        // SAFETY: the plugin's poll for its own box, with the host's
        // context for this poll, room for an `R` and a live sink; the
        // borrow `'a` keeps the plugin loaded.
        let status = unsafe {
            (raw.poll)(
                raw.data,
                (waker as *const std::task::Waker).cast_mut().cast(),
                out.as_mut_ptr().cast(),
                &mut sink,
            )
        };
        match status {
            PENDING => Poll::Pending,
            READY => {
                this.finish();
                // SAFETY: the plugin wrote the output (status READY).
                let output = unsafe { out.assume_init() };
                // The host owns it now: its blocks leave the plugin's heap
                // account (a no-op in a plugin polling a host future).
                output.__adopt();
                Poll::Ready(Ok(output))
            }
            _ => {
                this.finish();
                Poll::Ready(Err(panicked(message.unwrap_or_default())))
            }
        }
    }
}

impl<R> Drop for RemoteFuture<'_, R> {
    fn drop(&mut self) {
        self.finish();
    }
}

fn panicked(message: Message) -> crate::CallError {
    crate::telemetry::plugin_panic();
    crate::CallError::Panicked(crate::error::Panic::new(message))
}

/// Builds the host's future from what an async method's shim returned.
///
/// # Safety
///
/// `raw` was written by the shim if and only if `status` is `CALL_OK`.
#[inline]
pub unsafe fn start_future<'a, R>(
    status: u32,
    raw: MaybeUninit<RawFuture>,
    message: Option<Message>,
) -> RemoteFuture<'a, R> {
    let state = if status == CALL_OK {
        // SAFETY: the shim wrote it (caller's guarantee).
        State::Running(unsafe { raw.assume_init() })
    } else {
        State::Failed(message.unwrap_or_default())
    };
    RemoteFuture {
        state,
        waker: None,
        _borrow: PhantomData,
    }
}

/// A waker of the caller's code around the executor's, whose functions
/// catch the executor's panics (they run in the callee's frames when the
/// callee wakes it). In the host's copy of the library it is host code; in
/// a plugin's copy (polling an import's future), plugin code, which the
/// host's side replaces by a counted waker of its own (`kept`).
pub(crate) mod guard {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

    /// A guarded waker around `inner`.
    pub(crate) fn waker(inner: Waker) -> Waker {
        let data = Arc::into_raw(Arc::new(inner)).cast::<()>();
        // SAFETY: `data` is an `Arc<Waker>` and `VTABLE`'s functions treat
        // it as one, each keeping the reference count right.
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    /// Whether `guarded` (made by `waker`) wraps a waker that wakes the
    /// same task as `inner`.
    pub(crate) fn wraps(guarded: &Waker, inner: &Waker) -> bool {
        if !std::ptr::eq(guarded.vtable(), &VTABLE) {
            return false;
        }
        // SAFETY: a waker with `VTABLE` holds an `Arc<Waker>`, alive while
        // `guarded` is.
        let wrapped = unsafe { &*guarded.data().cast::<Waker>() };
        wrapped.will_wake(inner)
    }

    fn quietly(f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            crate::abi::panics::drop_payload(payload);
        }
    }

    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Arc<Waker>` (see `waker`); one more
        // reference for the clone.
        unsafe { Arc::increment_strong_count(data.cast::<Waker>()) };
        RawWaker::new(data, &VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: consumes the reference this waker held.
        let inner = unsafe { Arc::from_raw(data.cast::<Waker>()) };
        quietly(|| inner.wake_by_ref());
        quietly(move || std::mem::drop(inner));
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: a live `Arc<Waker>`, borrowed.
        let inner = unsafe { &*data.cast::<Waker>() };
        quietly(|| inner.wake_by_ref());
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: releases the reference this waker held.
        let inner = unsafe { Arc::from_raw(data.cast::<Waker>()) };
        quietly(move || std::mem::drop(inner));
    }
}

/// Wakers of plugin code handed to the host's futures: replaced by wakers
/// of host code that keep the plugin's generation loaded while they live.
pub(crate) mod kept {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    use crate::footprint::{self, Footprint};

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

    /// A plugin's waker, and the generation whose code it is (counted).
    struct Kept {
        inner: Waker,
        owner: Arc<Footprint>,
    }

    impl Drop for Kept {
        fn drop(&mut self) {
            // The plugin's drop first, while its generation is counted.
            let inner = std::mem::replace(&mut self.inner, Waker::noop().clone());
            quietly(move || std::mem::drop(inner));
            self.owner.waker_released();
        }
    }

    /// The waker to hand the implementing side's future for `given`:
    /// `given` itself when its vtable is in no loaded generation (the
    /// host's executor's, a guard of host code), else the waker of this
    /// module kept in `kept`, rebuilt when `given` changes. In a copy of
    /// the library that never loaded a plugin (a plugin's own), the
    /// look-up is one load.
    ///
    /// The invariant this rests on: plugin code reaches a host future's
    /// poll only through this function (the host's `poll_shim`), so every
    /// waker of plugin code a host future can keep is a counted `Kept`.
    pub(crate) fn waker_for<'w>(given: &'w Waker, kept: &'w mut Option<Waker>) -> &'w Waker {
        if !kept.as_ref().is_some_and(|current| wraps(current, given)) {
            let vtable = std::ptr::from_ref(given.vtable());
            let Some(owner) = footprint::owner_of(vtable as usize) else {
                return given;
            };
            owner.waker_kept();
            let data = Arc::into_raw(Arc::new(Kept {
                inner: given.clone(),
                owner,
            }))
            .cast::<()>();
            // SAFETY: `data` is an `Arc<Kept>` and `VTABLE`'s functions
            // treat it as one, each keeping the count right.
            *kept = Some(unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) });
        }
        match &*kept {
            Some(current) => current,
            None => given,
        }
    }

    /// Whether `current` (made here) wraps a waker that wakes the same
    /// task as `given`.
    fn wraps(current: &Waker, given: &Waker) -> bool {
        if !std::ptr::eq(current.vtable(), &VTABLE) {
            return false;
        }
        // SAFETY: a waker with `VTABLE` holds an `Arc<Kept>`, alive while
        // `current` is.
        let kept = unsafe { &*current.data().cast::<Kept>() };
        kept.inner.will_wake(given)
    }

    fn quietly(f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            crate::abi::panics::drop_payload(payload);
        }
    }

    unsafe fn clone(data: *const ()) -> RawWaker {
        // SAFETY: `data` is a live `Arc<Kept>`; one more reference.
        unsafe { Arc::increment_strong_count(data.cast::<Kept>()) };
        RawWaker::new(data, &VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: consumes the reference this waker held.
        let kept = unsafe { Arc::from_raw(data.cast::<Kept>()) };
        quietly(|| kept.inner.wake_by_ref());
        std::mem::drop(kept);
    }

    unsafe fn wake_by_ref(data: *const ()) {
        // SAFETY: a live `Arc<Kept>`, borrowed.
        let kept = unsafe { &*data.cast::<Kept>() };
        quietly(|| kept.inner.wake_by_ref());
    }

    unsafe fn drop(data: *const ()) {
        // SAFETY: releases the reference this waker held.
        std::mem::drop(unsafe { Arc::from_raw(data.cast::<Kept>()) });
    }
}

/// The layout the handshake compares for an async method's result: "a
/// future of `R`", so that a method turned async (or back) is refused.
pub struct FutureOf<R>(PhantomData<R>);

impl<R: CrossSafe> FutureOf<R> {
    /// The layout of a future of `R`.
    pub const LAYOUT: LayoutRef = LayoutRef::new(&TypeLayout {
        name: "liveswap::Future",
        package: "liveswap",
        version: "",
        size: size_of::<RawFuture>(),
        align: align_of::<RawFuture>(),
        option_size: size_of::<Option<RawFuture>>(),
        kind: Kind::Std,
        walked: crate::layout::Walk::EXACT,
        args: &[R::LAYOUT],
    });
}

//! `async fn` in an interface: the host awaits a plugin's futures on its
//! own tokio runtime; the plugin has no runtime (its timer is a task handed
//! to the host, which wakes the host's waker). Each future keeps its
//! version loaded until it is dropped; a panic in `poll` is an error.

use std::time::Duration;

use liveswap::{CallError, Slot, Version, stats::State};
use liveswap_tests::{REAP_TIMEOUT, fixture, wait_for_state};
use quote_api::Lookup;

fn slot() -> Slot<dyn Lookup> {
    Slot::<dyn Lookup>::load(fixture("async-plugin")).unwrap()
}

#[test]
fn the_host_awaits_a_plugin_future_on_its_runtime() {
    let slot = slot();
    let version = slot.current_owned();
    let answer = liveswap_tests::tokio_runtime()
        .block_on(async move { version.slow_echo("apple".into(), 20).await });
    assert_eq!(answer.unwrap(), "apple");
}

#[test]
fn two_hundred_pending_futures_across_a_swap_each_finish_and_the_old_version_unloads_after() {
    let runtime = liveswap_tests::tokio_runtime();
    let slot = slot();
    let pending: Vec<_> = (0..200)
        .map(|i| {
            let version = slot.current_owned();
            runtime.spawn(async move { version.slow_echo(format!("k{i}"), 1).await })
        })
        .collect();
    // Swapped while they are pending: each finishes on the version that
    // created it.
    slot.swap(fixture("async-plugin")).unwrap();
    for (i, task) in pending.into_iter().enumerate() {
        assert_eq!(runtime.block_on(task).unwrap().unwrap(), format!("k{i}"));
    }
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let state = wait_for_state(&slot, 1, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
}

#[test]
fn a_future_dropped_before_it_is_ready_is_dropped_by_the_plugin() {
    let runtime = liveswap_tests::tokio_runtime();
    let slot = slot();
    let version = slot.current_owned();
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(5),
            version.slow_echo("late".into(), 2_000),
        )
        .await
    });
    assert!(timed_out.is_err(), "cancelled");
    assert_eq!(version.dropped().unwrap(), 1);
}

#[test]
fn a_panic_in_a_plugin_future_is_an_error_not_an_abort() {
    let slot = slot();
    let version = slot.current_owned();
    let result = liveswap_tests::tokio_runtime().block_on(async { version.explode().await });
    match result {
        Err(CallError::Panicked(panic)) => {
            assert!(
                panic.message().contains("the plugin's future failed"),
                "{panic}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Version::panics(&version), 1);
    assert_eq!(version.dropped().unwrap(), 0);
}

/// The host's idea of `Lookup` with `slow_echo` no longer async.
// Only its layout matters here: its view's methods are never called.
#[allow(dead_code)]
mod changed {
    #[liveswap::interface(version = 1, name = "fixture::Lookup")]
    pub trait Lookup: Send + Sync {
        fn slow_echo(&self, key: String, delay_ms: u64) -> String;
        async fn explode(&self) -> u32;
        fn dropped(&self) -> u64;
    }
}

#[test]
fn a_plugin_whose_method_is_async_where_the_host_expects_it_plain_is_refused() {
    let Err(err) = Slot::<dyn changed::Lookup>::load(fixture("async-plugin")) else {
        panic!("loaded with a method async on one side only");
    };
    let text = err.to_string();
    assert!(
        matches!(err, liveswap::Error::LayoutMismatch { .. })
            && text.contains("slow_echo")
            && text.contains("the host has `String`, the plugin `Future<String>`"),
        "{text}"
    );
}

/// How many times `panicking_waker`'s waker was woken.
static WOKEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A waker whose `wake` panics, as a careless executor's might.
fn panicking_waker() -> std::task::Waker {
    use std::task::{RawWaker, RawWakerVTable, Waker};
    fn raw() -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    unsafe fn clone(_: *const ()) -> RawWaker {
        raw()
    }
    unsafe fn wake(_: *const ()) {
        WOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // An unwind without the panic hook: with `RUST_BACKTRACE` set, std's
        // hook would symbolize the plugin frames below and map plugin
        // copies for good (see README), which other tests of this binary
        // count. What crosses the boundary is the same unwind.
        std::panic::resume_unwind(Box::new("the executor's waker failed"));
    }
    unsafe fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    // SAFETY: a waker of no data whose functions ignore it.
    unsafe { Waker::from_raw(raw()) }
}

#[test]
fn a_panicking_waker_of_the_host_does_not_abort_when_the_plugin_wakes_it() {
    use std::future::Future;
    let slot = slot();
    let version = slot.current_owned();
    let waker = panicking_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = version.slow_echo("woken".into(), 10);
    let deadline = std::time::Instant::now() + REAP_TIMEOUT;
    // The plugin's timer (a host task) wakes the waker: its panic is
    // caught in host code; the future is polled again by hand.
    let answer = loop {
        if let std::task::Poll::Ready(answer) = std::pin::Pin::new(&mut future).poll(&mut cx) {
            break answer;
        }
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(answer.unwrap(), "woken");
    assert!(
        WOKEN.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "the plugin woke the waker (and its panic was caught)"
    );
}

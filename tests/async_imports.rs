//! Async host services: a plugin with no runtime awaits the host's
//! futures (a data fetch on the host's tokio runtime), from its own async
//! methods, from a future it spawns on the host, and from a `block_on` of
//! its own. A waker of plugin code that the host keeps holds the plugin's
//! generation loaded until the host drops it; a panic in the host's
//! future is an error in the plugin.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use liveswap::{Options, Slot, stats::State};
use liveswap_tests::{REAP_TIMEOUT, fixture, state_of};
use quote_api::{HostFetch, Pricer};

/// The host's service: prices fetched on its runtime, and the wakers it
/// was asked to keep.
struct Fetcher {
    runtime: tokio::runtime::Handle,
    kept: Arc<Mutex<Vec<Waker>>>,
}

/// Keeps the waker it is polled with; ready at once.
struct KeepWaker(Arc<Mutex<Vec<Waker>>>);

impl std::future::Future for KeepWaker {
    type Output = u32;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.0.lock().unwrap().push(cx.waker().clone());
        Poll::Ready(7)
    }
}

impl HostFetch for Fetcher {
    async fn fetch(&self, item: String, delay_ms: u64) -> Option<u64> {
        let price = (item == "apple").then_some(21);
        self.runtime
            .spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                price
            })
            .await
            .ok()
            .flatten()
    }
    async fn explode(&self) -> u32 {
        // An unwind without the panic hook: with `RUST_BACKTRACE` set, std's
        // hook would symbolize the plugin frames below and map plugin
        // copies for good (see README), which other tests of this binary
        // count. What crosses the boundary is the same unwind.
        std::panic::resume_unwind(Box::new("the host's future failed"))
    }
    async fn keep_waker(&self) -> u32 {
        KeepWaker(Arc::clone(&self.kept)).await
    }
}

/// A slot of the fetch plugin, its host service on `runtime`, its spawned
/// futures on `runtime` too; and the host's kept wakers.
fn slot(runtime: &tokio::runtime::Runtime) -> (Slot<dyn Pricer>, Arc<Mutex<Vec<Waker>>>) {
    let kept = Arc::new(Mutex::new(Vec::new()));
    let handle = runtime.handle().clone();
    let fetcher = Fetcher {
        runtime: handle.clone(),
        kept: Arc::clone(&kept),
    };
    let options = Options::default()
        .provide::<dyn HostFetch, _>(Arc::new(fetcher))
        .future_executor(move |future| {
            handle.spawn(future);
        });
    let slot = Slot::<dyn Pricer>::load_with(fixture("fetch-plugin"), options).unwrap();
    (slot, kept)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + REAP_TIMEOUT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_plugin_awaits_the_hosts_async_service_on_the_hosts_runtime() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, _) = slot(&runtime);
    let version = slot.current_owned();
    let (apple, pear) = runtime.block_on(async {
        (
            version.price("apple".into(), 20).await,
            version.price("pear".into(), 1).await,
        )
    });
    assert_eq!(apple.unwrap(), Ok(42));
    assert_eq!(pear.unwrap(), Err("the host has no price for pear".into()));
}

#[test]
fn a_panic_in_the_hosts_future_is_an_error_in_the_plugin_not_an_abort() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, _) = slot(&runtime);
    let version = slot.current_owned();
    let text = runtime.block_on(version.host_panics()).unwrap();
    assert!(text.contains("the host's future failed"), "{text}");
}

#[test]
fn a_future_the_plugin_spawns_awaits_the_hosts_service() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, _) = slot(&runtime);
    for _ in 0..5 {
        assert!(slot.current().spawn_fetch("apple".into(), 10).unwrap());
    }
    wait_until("five fetches", || {
        slot.current().fetched().unwrap() == 5 * 21
    });
}

#[test]
fn two_thousand_awaits_of_the_host_pending_across_a_swap_each_finish_and_the_old_version_unloads() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, _) = slot(&runtime);
    let old = slot.current_owned();
    let tasks: Vec<_> = (0..2_000)
        .map(|_| {
            let version = old.clone();
            runtime.spawn(async move { version.price("apple".into(), 200).await })
        })
        .collect();
    drop(old);
    std::thread::sleep(Duration::from_millis(50));
    slot.swap(fixture("fetch-plugin")).unwrap();
    for task in tasks {
        assert_eq!(runtime.block_on(task).unwrap().unwrap(), Ok(42));
    }
    wait_until("the old version unloaded", || {
        state_of(&slot, 1) == State::Unloaded
    });
}

#[test]
fn a_waker_of_the_plugin_kept_by_the_host_keeps_its_generation_until_the_host_drops_it() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, kept) = slot(&runtime);
    assert_eq!(slot.current().keep_waker_blocking().unwrap(), 7);
    assert_eq!(kept.lock().unwrap().len(), 1);
    slot.swap(fixture("fetch-plugin")).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let state = state_of(&slot, 1);
    assert!(
        matches!(&state, State::Pinned { reason }
            if reason.contains("1 waker of this plugin is kept by a host future")),
        "{state:?}"
    );
    // Its code is still mapped: waking it runs it (unparks a thread).
    for waker in kept.lock().unwrap().iter() {
        waker.wake_by_ref();
    }
    kept.lock().unwrap().clear();
    wait_until("unloaded once the host dropped the waker", || {
        state_of(&slot, 1) == State::Unloaded
    });
}

#[test]
fn a_wakers_clones_count_until_the_last_is_dropped() {
    let runtime = liveswap_tests::tokio_runtime();
    let (slot, kept) = slot(&runtime);
    assert_eq!(slot.current().keep_waker_blocking().unwrap(), 7);
    let clones: Vec<Waker> = (0..3).map(|_| kept.lock().unwrap()[0].clone()).collect();
    kept.lock().unwrap().clear();
    slot.swap(fixture("fetch-plugin")).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert!(matches!(state_of(&slot, 1), State::Pinned { .. }));
    let woken = AtomicUsize::new(0);
    for waker in clones {
        waker.wake();
        woken.fetch_add(1, Ordering::Relaxed);
    }
    assert_eq!(woken.load(Ordering::Relaxed), 3);
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
}

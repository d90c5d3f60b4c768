//! Work a plugin hands to the host (`liveswap::spawn_blocking` for a
//! closure, `liveswap::spawn` for a future): it runs on a host thread or
//! the host's runtime, its generation stays loaded until it ends, a panic
//! in it is counted and never aborts, and a host can bring its own
//! executor.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use liveswap::{Options, Slot, Version, stats::State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, state_of};

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + REAP_TIMEOUT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_task_runs_on_a_host_thread() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(0), 1, "the host took the task");
    wait_until("the task ran", || slot.current().build() == 1);
}

#[test]
fn a_generation_with_a_running_task_stays_loaded_until_the_task_ends() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(1500), 1);
    slot.swap(fixture("greeter-v1")).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let state = state_of(&slot, 1);
    assert!(
        matches!(&state, State::Pinned { reason }
            if reason.contains("1 task spawned by this plugin (spawn or spawn_blocking) is queued or running")),
        "{state:?}"
    );
    // When the task ends, the reaper closes it; a crash would end the test.
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
    assert_eq!(slot.current().answer(1), 2);
}

#[test]
fn a_panic_in_a_task_is_counted_and_never_aborts() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(u64::MAX), 1);
    let current = slot.current_owned();
    wait_until("the panic counted", || Version::panics(&current) == 1);
    assert_eq!(slot.current().answer(0), 1, "the plugin goes on");
}

#[test]
fn a_host_executor_runs_the_plugins_tasks() {
    let submitted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&submitted);
    let slot = Slot::<Greeter>::load_with(
        fixture("spawner"),
        Options::default().executor(move |task| {
            count.fetch_add(1, Ordering::Relaxed);
            thread::spawn(move || task.run());
        }),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(slot.current().answer(0), 1);
    }
    wait_until("three tasks ran", || slot.current().build() == 3);
    assert_eq!(submitted.load(Ordering::Relaxed), 3);
}

#[test]
fn a_task_dropped_by_the_executor_does_not_keep_its_generation() {
    let slot =
        Slot::<Greeter>::load_with(fixture("spawner"), Options::default().executor(drop)).unwrap();
    assert_eq!(slot.current().answer(0), 1);
    slot.swap(fixture("greeter-v1")).unwrap();
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
}

#[test]
fn spawning_outside_a_plugin_is_refused() {
    assert!(liveswap::spawn_blocking(|| ()).is_err());
}

#[test]
fn a_short_task_is_not_held_behind_long_ones_the_pool_grows() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    for _ in 0..4 {
        assert_eq!(slot.current().answer(3_000), 1);
    }
    let started = Instant::now();
    assert_eq!(slot.current().answer(0), 1);
    // With a fixed pool of two threads it would wait three seconds.
    wait_until("the short task ran", || slot.current().build() >= 1);
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "the short task waited {:?}",
        started.elapsed()
    );
}

// ---- spawned futures ---------------------------------------------------

/// `answer` arguments of the spawner fixture.
const FUTURE: u64 = 1 << 62;
const PANICS: u64 = 1 << 61;
const FOREVER: u64 = 1 << 60;
const WAITS: u64 = 1 << 59;
const OPENS: u64 = 1 << 58;

/// Options that spawn the plugin's futures on `runtime`, counting them.
fn on_runtime(runtime: &tokio::runtime::Runtime, count: &Arc<AtomicUsize>) -> Options {
    let handle = runtime.handle().clone();
    let count = Arc::clone(count);
    Options::default().future_executor(move |future| {
        count.fetch_add(1, Ordering::Relaxed);
        handle.spawn(future);
    })
}

#[test]
fn a_spawned_future_runs_to_completion_without_a_runtime_on_a_library_thread() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(FUTURE | 10), 1, "the host took it");
    wait_until("the future completed", || slot.current().build() == 1);
}

#[test]
fn two_hundred_waiting_futures_on_the_library_pool_hold_no_thread_from_the_one_that_wakes_them() {
    // More than the pool's 64 threads wait; the future that opens their
    // gate is spawned last. Each wake queues one poll: none holds a thread.
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    for _ in 0..200 {
        assert_eq!(slot.current().answer(FUTURE | WAITS), 1);
    }
    assert_eq!(slot.current().answer(FUTURE | OPENS), 1);
    wait_until("all 201 completed", || slot.current().build() == 201);
}

#[test]
fn the_hosts_tokio_runtime_runs_the_plugins_futures() {
    let runtime = liveswap_tests::tokio_runtime();
    let submitted = Arc::new(AtomicUsize::new(0));
    let slot =
        Slot::<Greeter>::load_with(fixture("spawner"), on_runtime(&runtime, &submitted)).unwrap();
    for _ in 0..3 {
        assert_eq!(slot.current().answer(FUTURE | 10), 1);
    }
    wait_until("three futures completed", || slot.current().build() == 3);
    assert_eq!(submitted.load(Ordering::Relaxed), 3);
}

#[test]
fn a_generation_with_a_pending_spawned_future_stays_loaded_until_it_completes() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(FUTURE | 1500), 1);
    slot.swap(fixture("greeter-v1")).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let state = state_of(&slot, 1);
    assert!(
        matches!(&state, State::Pinned { reason }
            if reason.contains("spawned by this plugin (spawn or spawn_blocking)")),
        "{state:?}"
    );
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
}

#[test]
fn five_hundred_futures_pending_across_a_swap_each_complete_on_their_version() {
    let runtime = liveswap_tests::tokio_runtime();
    let submitted = Arc::new(AtomicUsize::new(0));
    let slot =
        Slot::<Greeter>::load_with(fixture("spawner"), on_runtime(&runtime, &submitted)).unwrap();
    let old = slot.current_owned();
    for _ in 0..500 {
        assert_eq!(old.answer(FUTURE | 100), 1);
    }
    slot.swap(fixture("greeter-v1")).unwrap();
    assert_eq!(slot.current().build(), 1, "new calls see the new version");
    wait_until("all 500 completed", || old.build() == 500);
    drop(old);
    wait_until("the old version unloaded", || {
        state_of(&slot, 1) == State::Unloaded
    });
    assert_eq!(submitted.load(Ordering::Relaxed), 500);
}

#[test]
fn a_panic_in_a_spawned_future_is_counted_and_never_aborts() {
    let slot = Slot::<Greeter>::load(fixture("spawner")).unwrap();
    assert_eq!(slot.current().answer(FUTURE | PANICS), 1);
    let current = slot.current_owned();
    wait_until("the panic counted", || Version::panics(&current) == 1);
    drop(current);
    assert_eq!(slot.current().answer(0), 1, "the plugin goes on");
    slot.swap(fixture("greeter-v1")).unwrap();
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
}

#[test]
fn a_runtime_shut_down_cancels_pending_futures_and_their_generation_unloads() {
    let runtime = liveswap_tests::tokio_runtime();
    let submitted = Arc::new(AtomicUsize::new(0));
    let slot =
        Slot::<Greeter>::load_with(fixture("spawner"), on_runtime(&runtime, &submitted)).unwrap();
    for _ in 0..10 {
        assert_eq!(slot.current().answer(FUTURE | FOREVER), 1);
    }
    slot.swap(fixture("greeter-v1")).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert!(
        matches!(state_of(&slot, 1), State::Pinned { .. }),
        "pending futures hold it"
    );
    drop(runtime);
    wait_until("unloaded once the futures are dropped", || {
        state_of(&slot, 1) == State::Unloaded
    });
}

#[test]
fn a_future_dropped_by_the_executor_does_not_keep_its_generation() {
    let slot =
        Slot::<Greeter>::load_with(fixture("spawner"), Options::default().future_executor(drop))
            .unwrap();
    assert_eq!(slot.current().answer(FUTURE | 10), 1);
    slot.swap(fixture("greeter-v1")).unwrap();
    wait_until("unloaded", || state_of(&slot, 1) == State::Unloaded);
}

#[test]
fn spawning_a_future_outside_a_plugin_is_refused() {
    assert!(liveswap::spawn(async {}).is_err());
}

//! Plugins that break the rules: their libraries cannot be unloaded, and
//! the library says so (pinned) instead of counting them as unloaded, while
//! serving goes on.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use liveswap::{Slot, stats::State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under, state_of, wait_for_state};

#[test]
fn a_thread_local_with_a_destructor_does_not_keep_the_library_of_a_live_thread() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("tls-pin")).unwrap();

    // A long-lived caller thread touches the plugin's thread-local (its
    // destructor is registered on that thread), then stays alive.
    let (release, wait) = mpsc::channel::<()>();
    let (called, has_called) = mpsc::channel::<u64>();
    let version = hs.current_owned();
    let caller = thread::spawn(move || {
        called.send(version.answer(1)).unwrap();
        drop(version);
        let _ = wait.recv();
    });
    assert_eq!(has_called.recv().unwrap(), 5);

    // Replaced while that thread lives: unloaded all the same.
    hs.swap(fixture("greeter-v2")).unwrap();
    let state = wait_for_state(&hs, 2, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        1,
        "only the current copy"
    );
    assert_eq!(hs.current().answer(1), 3);

    // The thread exits after the unload: the destructor of the retired
    // generation is skipped (its value leaked), not called into unmapped
    // code. A crash here would kill the test process.
    release.send(()).unwrap();
    caller.join().unwrap();
    assert_eq!(hs.current().answer(1), 3);
}

#[test]
fn a_thread_local_destructor_runs_when_its_thread_exits_while_the_generation_serves() {
    let hs = Slot::<Greeter>::load(fixture("tls-pin")).unwrap();
    for _ in 0..20 {
        let version = hs.current_owned();
        // Each thread registers the destructor and exits: it runs then.
        thread::spawn(move || version.answer(1)).join().unwrap();
    }
    hs.swap(fixture("greeter-v2")).unwrap();
    let state = wait_for_state(&hs, 1, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
}

#[test]
fn a_plugin_whose_thread_runs_on_is_reported_pinned_with_the_thread_and_serving_continues() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("spawns-thread")).unwrap();
    assert_eq!(hs.current().answer(1), 6);
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = state_of(&hs, 2);
    assert!(
        matches!(&state, State::Pinned { reason }
            if reason.contains("1 thread started by this plugin is still running")
                && reason.contains("started by `spawns_thread::construct`")),
        "{state:?}"
    );
    let stats = hs.stats();
    assert_eq!((stats.pinned(), stats.live()), (1, 1));
    for _ in 0..5 {
        hs.swap(fixture("greeter-v1")).unwrap();
        hs.swap(fixture("greeter-v2")).unwrap();
    }
    assert_eq!(hs.current().answer(1), 3);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(
        hs.stats().pinned(),
        1,
        "only the thread-spawning generation is pinned"
    );
}

#[test]
fn a_plugin_that_joins_its_thread_when_dropped_is_unloaded() {
    let hs = Slot::<Greeter>::load(fixture("joins-thread")).unwrap();
    assert_eq!(hs.current().answer(1), 9);
    hs.swap(fixture("greeter-v2")).unwrap();
    let state = wait_for_state(&hs, 1, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);
}

#[test]
fn a_signal_handler_in_the_plugin_keeps_its_generation_until_it_is_restored() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("signal-handler")).unwrap();
    assert_eq!(hs.current().answer(1), 15);
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = wait_for_state(&hs, 2, |s| matches!(s, State::Pinned { .. }));
    assert!(
        matches!(&state, State::Pinned { reason }
            if reason.contains("signal 12 ")
                && reason.contains(&format!("signal {} ", libc::SIGRTMAX()))),
        "{state:?}"
    );
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 2, "kept mapped");

    // One handler restored is not enough.
    // SAFETY: resets SIGUSR2 to its default action.
    unsafe { libc::signal(libc::SIGUSR2, libc::SIG_DFL) };
    thread::sleep(Duration::from_millis(1200));
    assert!(matches!(state_of(&hs, 2), State::Pinned { .. }));
    // The host restores the other: the reaper's next look closes it.
    // SAFETY: resets the last real-time signal to its default action.
    unsafe { libc::signal(libc::SIGRTMAX(), libc::SIG_DFL) };
    let state = wait_for_state(&hs, 2, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
}

#[test]
fn a_thread_started_by_a_destructor_while_its_generation_retires_keeps_it_until_it_ends() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("spawn-in-dtor")).unwrap();
    // A thread touches the thread-local and exits: its destructor waits
    // 300 ms, then starts a thread of plugin code.
    let version = hs.current_owned();
    let exiting = thread::spawn(move || version.answer(1));
    thread::sleep(Duration::from_millis(100));
    // Replaced while that destructor runs.
    hs.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(exiting.join().unwrap(), 18);
    let state = wait_for_state(&hs, 2, |s| {
        matches!(s, State::Pinned { .. } | State::Unloaded)
    });
    assert!(
        matches!(&state, State::Pinned { reason } if reason.contains("still running")
            || reason.contains("destructors")),
        "held while the destructor and then its thread run: {state:?}"
    );
    // Once the thread ends, closed; a crash here would kill the process.
    let state = wait_for_state(&hs, 2, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
}

//! Plugins that break the rules: their libraries cannot be unloaded, and
//! the library says so (pinned) instead of counting them as unloaded, while
//! serving goes on.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use liveswap::{Slot, State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

fn state_of(hs: &Slot<Greeter>, generation: u64) -> State {
    hs.stats()
        .generations
        .into_iter()
        .find(|g| g.generation == generation)
        .map(|g| g.state)
        .expect("generation known")
}

fn wait_for_state(hs: &Slot<Greeter>, generation: u64, want: fn(&State) -> bool) -> State {
    let deadline = Instant::now() + REAP_TIMEOUT;
    loop {
        let state = state_of(hs, generation);
        if want(&state) || Instant::now() > deadline {
            return state;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_thread_local_with_a_destructor_pins_the_library_until_its_thread_exits() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("tls-pin")).unwrap();

    // A caller thread touches the plugin's thread-local, then waits.
    let (release, wait) = mpsc::channel::<()>();
    let (called, has_called) = mpsc::channel::<u64>();
    let version = hs.current_owned();
    let caller = thread::spawn(move || {
        called.send(version.answer(1)).unwrap();
        drop(version);
        let _ = wait.recv();
    });
    assert_eq!(has_called.recv().unwrap(), 5);

    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = state_of(&hs, 2);
    assert!(
        matches!(&state, State::Pinned { reason } if reason.contains("thread-local")),
        "{state:?}"
    );
    assert_eq!(hs.stats().pinned(), 1);
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        2,
        "the pinned copy is still mapped"
    );

    // Serving goes on.
    assert_eq!(hs.current().answer(1), 3);
    hs.swap(fixture("greeter-v1")).unwrap();
    assert_eq!(hs.current().answer(1), 2);

    // Once the thread exits (its destructor runs while the code is still
    // mapped), glibc can unload the library at the next dlclose, and the
    // reaper's recheck records it.
    release.send(()).unwrap();
    caller.join().unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    let state = wait_for_state(&hs, 2, |s| *s == State::Unloaded);
    assert_eq!(state, State::Unloaded);
}

#[test]
fn a_plugin_that_spawns_a_thread_is_reported_pinned_and_serving_continues() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let report = hs.swap(fixture("spawns-thread")).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("pthread_create")),
        "the handshake warns that it can start threads: {:?}",
        report.warnings
    );
    assert_eq!(hs.current().answer(1), 6);
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = state_of(&hs, 2);
    assert!(matches!(state, State::Pinned { .. }), "{state:?}");
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

//! A plugin that calls `std::thread::current()` creates a pthread key whose
//! destructor lives in the plugin. Unmapping it would crash each thread that
//! used the key when that thread exits, so the library never closes it and
//! reports it `Pinned` with the reason. Its own binary: it leaves such
//! libraries loaded on purpose.

use std::sync::mpsc;
use std::thread;

use liveswap::{Slot, State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

#[test]
fn a_plugin_with_a_pthread_key_destructor_is_never_unmapped_and_its_thread_exits_cleanly() {
    let hs = std::sync::Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());

    // A non-main thread swaps the plugin in (its constructor calls
    // thread::current() there, setting the key on this thread), calls it,
    // and waits until the version has been unloaded before it exits.
    let (release, wait) = mpsc::channel::<()>();
    let worker = {
        let hs = std::sync::Arc::clone(&hs);
        thread::spawn(move || {
            hs.swap(fixture("thread-current")).unwrap();
            assert_eq!(hs.current().answer(1), 7);
            wait.recv().unwrap();
        })
    };
    while hs.generation() < 2 {
        thread::yield_now();
    }
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let state = hs
        .stats()
        .generations
        .into_iter()
        .find(|g| g.generation == 2)
        .unwrap()
        .state;
    assert!(
        matches!(&state, State::Pinned { reason } if reason.contains("pthread key")),
        "{state:?}"
    );
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        2,
        "the key's library stays mapped"
    );

    // The thread exits after the unload: its key destructor still has code
    // to run. A crash here would kill the test process.
    release.send(()).unwrap();
    worker.join().unwrap();
    hs.swap(fixture("greeter-v1")).unwrap();
    assert_eq!(hs.current().answer(1), 2);
}

#[test]
fn a_plugin_without_pthread_keys_is_unloaded() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let worker = thread::scope(|s| {
        s.spawn(|| {
            hs.swap(fixture("greeter-v2")).unwrap();
            hs.current().answer(1)
        })
        .join()
        .unwrap()
    });
    assert_eq!(worker, 3);
    hs.swap(fixture("greeter-v1")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let stats = hs.stats();
    assert_eq!((stats.pinned(), stats.unloaded()), (0, 2));
}

//! The process never runs out of pthread keys because of plugins that
//! create them: 1,100 generations (past glibc's 1,024 keys) of a plugin
//! that calls `std::thread::current()`, each called from a long-lived
//! thread and from a thread that exits, all unloaded, with the process's
//! free keys back where they started. Before the library deleted a
//! generation's keys, Rust's std aborted this process ("out of TLS keys")
//! near generation 1,022.
//!
//! Its own binary: it counts the process's keys.

use std::sync::mpsc;
use std::thread;

use liveswap::Slot;
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

const SWAPS: u64 = 1_100;

#[test]
fn eleven_hundred_generations_that_create_pthread_keys_all_unload_and_keys_stay_flat() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let free_before = hs
        .stats()
        .free_pthread_keys
        .expect("the key table is readable");

    // A long-lived thread calls every generation (as a host's worker does).
    let (calls, work) = mpsc::channel::<std::sync::Arc<liveswap::Version<Greeter>>>();
    let (answers, answered) = mpsc::channel::<u64>();
    let worker = thread::spawn(move || {
        for version in work {
            answers.send(version.answer(1)).unwrap();
        }
    });
    for _ in 0..SWAPS {
        // Every generation a new copy of the same build: each creates a key.
        hs.swap(fixture("thread-current")).unwrap();
        let expected = 7;
        calls.send(hs.current_owned()).unwrap();
        assert_eq!(answered.recv().unwrap(), expected);
        // And a thread that exits while the generation serves.
        let version = hs.current_owned();
        assert_eq!(
            thread::spawn(move || version.answer(1)).join().unwrap(),
            expected
        );
    }
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let stats = hs.stats();
    assert_eq!(stats.pinned(), 0, "{:?}", stats.generations);
    assert_eq!(
        mapped_under(hs.copy_prefix()).len(),
        1,
        "only the current copy"
    );
    let free_after = stats.free_pthread_keys.unwrap();
    assert!(
        free_after + 2 >= free_before,
        "keys flat: {free_before} free before, {free_after} after {SWAPS} swaps"
    );
    drop(calls);
    worker.join().unwrap();
}

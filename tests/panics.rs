//! Panics inside plugin methods under volume: no abort, no unbounded
//! growth. In a test binary of its own, its tests one at a time, so that
//! the memory figure is not disturbed by another test loading a plugin.

use std::sync::{Mutex, MutexGuard};

use fixture_api::Calc;
use liveswap::{CallError, Slot};
use liveswap_tests::{fixture, rss_kib};

/// One test at a time: no test maps a new library while the memory test
/// measures. Each loads its own plugin and drops it (and so its private
/// copy) when done.
fn calc() -> (Slot<dyn Calc>, MutexGuard<'static, ()>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    (Slot::<dyn Calc>::load(fixture("calc")).unwrap(), turn)
}

#[test]
fn ten_thousand_panics_neither_abort_nor_grow_memory() {
    let (hs, _turn) = calc();
    let mut reader = hs.reader();
    // Warm up: first panics allocate the plugin's hook and buffers.
    for i in 0..1_000 {
        assert!(reader.get().checked(true, format!("warm {i}")).is_err());
    }
    let before = rss_kib();
    for i in 0..10_000 {
        let err = reader
            .get()
            .checked(true, format!("panic {i}"))
            .unwrap_err();
        assert!(matches!(err, CallError::Panicked(ref p) if p.message() == format!("panic {i}")));
    }
    let grown = rss_kib().saturating_sub(before);
    println!("RSS growth over 10,000 panicking calls: {grown} KiB");
    assert!(
        grown < 4 * 1024,
        "RSS grew by {grown} KiB over 10,000 panics"
    );
    assert_eq!(reader.get().add(1, 1), Ok(2));
}

#[test]
fn panics_on_two_threads_mixed_with_normal_calls_all_come_back_as_errors() {
    let (hs, _turn) = calc();
    let hs = &hs;
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|t| {
                scope.spawn(move || {
                    let mut reader = hs.reader();
                    let (mut panics, mut normal) = (0, 0);
                    for i in 0..10_000u32 {
                        if i % 2 == 0 {
                            let message = format!("thread {t} call {i}");
                            match reader.get().checked(true, message.clone()) {
                                Err(CallError::Panicked(got)) => {
                                    assert_eq!(got.message(), message)
                                }
                                other => panic!("expected a panic error, got {other:?}"),
                            }
                            panics += 1;
                        } else {
                            assert_eq!(reader.get().add(i64::from(i), 1), Ok(i64::from(i) + 1));
                            normal += 1;
                        }
                    }
                    (panics, normal)
                })
            })
            .collect();
        let mut total = (0, 0);
        for t in threads {
            let (p, n) = t.join().expect("no thread aborted or failed");
            total = (total.0 + p, total.1 + n);
        }
        assert_eq!(total, (10_000, 10_000));
    });
}

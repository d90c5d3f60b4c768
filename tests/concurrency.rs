//! Many readers during many swaps, and swaps racing each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use liveswap::{Slot, Version};
use liveswap_tests::{Greeter, REAP_TIMEOUT, files_in, fixture, mapped_under};

/// Generation 1 is build 1; swaps then alternate build 2, build 1, ...
fn build_of(generation: u64) -> u32 {
    if generation % 2 == 1 { 1 } else { 2 }
}

#[test]
fn readers_always_answer_from_a_version_current_during_their_call() {
    const SWAPS: u64 = 300;
    let hs = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));

    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (hs, done, calls) = (Arc::clone(&hs), Arc::clone(&done), Arc::clone(&calls));
            thread::spawn(move || {
                let mut x = 0u64;
                while !done.load(Ordering::Relaxed) {
                    let before = hs.generation();
                    let guard = hs.current();
                    let answer = guard.answer(x);
                    let generation = Version::generation(&guard);
                    drop(guard);
                    let after = hs.generation();
                    assert!(
                        before <= generation && generation <= after,
                        "generation {generation} was not current between {before} and {after}"
                    );
                    let build = build_of(generation);
                    assert_eq!(
                        answer,
                        x + u64::from(build),
                        "generation {generation} answers as build {build}"
                    );
                    calls.fetch_add(1, Ordering::Relaxed);
                    x += 1;
                }
            })
        })
        .collect();

    for i in 0..SWAPS {
        let next = if i % 2 == 0 {
            "greeter-v2"
        } else {
            "greeter-v1"
        };
        hs.swap(fixture(next)).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader failed");
    }
    assert!(calls.load(Ordering::Relaxed) > 0);
    assert_eq!(hs.generation(), SWAPS + 1);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    let mapped = mapped_under(hs.copy_dir());
    assert_eq!(
        mapped.len(),
        1,
        "only the current copy stays mapped: {mapped:?}"
    );
    let stats = hs.stats();
    assert_eq!((stats.live(), stats.pinned()), (1, 0));
    // The current copy and the rollback copy, nothing else.
    assert_eq!(
        files_in(hs.copy_dir()).len(),
        2,
        "{:?}",
        files_in(hs.copy_dir())
    );
}

#[test]
fn concurrent_swaps_get_distinct_strictly_increasing_generations() {
    const PER_THREAD: usize = 40;
    let hs = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let swappers: Vec<_> = ["greeter-v1", "greeter-v2"]
        .into_iter()
        .map(|name| {
            let hs = Arc::clone(&hs);
            thread::spawn(move || {
                (0..PER_THREAD)
                    .map(|_| {
                        let report = hs.swap(fixture(name)).unwrap();
                        assert!(report.previous < report.generation);
                        report.generation
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut all = Vec::new();
    for s in swappers {
        let mine = s.join().unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each thread sees increasing generations"
        );
        all.extend(mine);
    }
    all.sort();
    let expected: Vec<u64> = (2..=(2 * PER_THREAD as u64 + 1)).collect();
    assert_eq!(all, expected, "every generation handed out exactly once");
    assert_eq!(hs.generation(), 2 * PER_THREAD as u64 + 1);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(hs.copy_dir()).len(), 1);
}

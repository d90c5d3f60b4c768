//! Many readers during many swaps, and swaps racing each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use liveswap::{Error, Slot, Version};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

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
    let mapped = mapped_under(hs.copy_prefix());
    assert_eq!(
        mapped.len(),
        1,
        "only the current copy stays mapped: {mapped:?}\n{:#?}",
        hs.stats()
            .generations
            .iter()
            .filter(|g| g.state != liveswap::stats::State::Unloaded)
            .collect::<Vec<_>>()
    );
    let stats = hs.stats();
    assert_eq!((stats.live(), stats.pinned()), (1, 0));
}

#[test]
fn racing_swaps_publish_in_call_order_with_strictly_increasing_generations() {
    const PER_THREAD: usize = 40;
    let hs = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let swappers: Vec<_> = ["greeter-v1", "greeter-v2"]
        .into_iter()
        .map(|name| {
            let hs = Arc::clone(&hs);
            thread::spawn(move || {
                let mut published = Vec::new();
                let mut superseded = 0;
                for _ in 0..PER_THREAD {
                    match hs.swap(fixture(name)) {
                        Ok(report) => {
                            assert!(report.previous < report.generation);
                            published.push(report.generation);
                        }
                        // Overtaken by a swap the other thread called later.
                        Err(Error::Superseded { by, .. }) => {
                            assert!(by >= 2);
                            superseded += 1;
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
                (published, superseded)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut superseded = 0;
    for s in swappers {
        let (mine, lost) = s.join().unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each thread sees increasing generations"
        );
        all.extend(mine);
        superseded += lost;
    }
    all.sort();
    let published = all.len() as u64;
    assert_eq!(published + superseded, 2 * PER_THREAD as u64);
    let expected: Vec<u64> = (2..=published + 1).collect();
    assert_eq!(all, expected, "every generation handed out exactly once");
    assert_eq!(hs.generation(), published + 1);
    assert!(hs.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(hs.copy_prefix()).len(), 1);
}

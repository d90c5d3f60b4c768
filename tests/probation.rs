//! Probation: a generation that panics too often soon after publish is
//! rolled back by the library, under load, and no call fails but the
//! faulty generation's own panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fixture_api::Calc;
use liveswap::deploy::{Probation, ProbationEvent, ProbationPolicy};
use liveswap::{
    CallError, Slot, Version,
    history::{Outcome, Trigger},
};
use liveswap_tests::fixture;

#[test]
fn a_generation_panicking_past_the_limit_is_rolled_back_under_load() {
    let slot = Arc::new(Slot::<dyn Calc>::load(fixture("calc")).unwrap());
    let (tx, events) = mpsc::channel();
    let probation = Probation::start(
        Arc::clone(&slot),
        ProbationPolicy::new()
            .window(Duration::from_secs(60))
            .max_panics(20),
        move |event| {
            if let ProbationEvent::RolledBack {
                generation, reason, ..
            } = event
            {
                let _ = tx.send((*generation, reason.clone()));
            }
        },
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let slot = Arc::clone(&slot);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut reader = slot.reader();
                let (mut calls, mut failures) = (0u64, Vec::new());
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let version = reader.get();
                    match version.add(i, 1) {
                        Ok(sum) => assert_eq!(sum, i + 1),
                        Err(CallError::Panicked(_)) => failures.push(Version::generation(version)),
                        Err(other) => panic!("unexpected {other:?}"),
                    }
                    calls += 1;
                }
                (calls, failures)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let faulty = slot.swap(fixture("calc-faulty")).unwrap().generation;
    let (rolled, reason) = events
        .recv_timeout(Duration::from_secs(30))
        .expect("probation rolled the faulty generation back");
    assert_eq!(rolled, faulty);
    assert!(reason.contains("panicked"), "{reason}");
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let mut calls = 0;
    let mut failures = Vec::new();
    for worker in workers {
        let (c, f) = worker.join().unwrap();
        calls += c;
        failures.extend(f);
    }
    assert!(
        failures.iter().all(|&g| g == faulty),
        "only the faulty generation's calls fail: {failures:?}"
    );
    assert!(failures.len() > 20, "{} panics", failures.len());
    assert!(calls > failures.len() as u64 * 2);
    assert_eq!(slot.current().label().unwrap(), "calc v1");
    let last = slot.history().pop().unwrap();
    assert_eq!(last.trigger, Trigger::Probation);
    assert!(matches!(last.outcome, Outcome::Published { .. }));
    assert!(last.error.unwrap().contains("probation"));
    drop(probation);
}

#[test]
fn a_generation_within_the_limits_passes_probation() {
    let slot = Arc::new(Slot::<dyn Calc>::load(fixture("calc")).unwrap());
    let (tx, events) = mpsc::channel();
    let _probation = Probation::start(
        Arc::clone(&slot),
        ProbationPolicy::new()
            .window(Duration::from_millis(200))
            .max_panics(5),
        move |event| {
            let _ = tx.send(match event {
                ProbationEvent::Passed { generation } => Ok(*generation),
                other => Err(format!("{other:?}")),
            });
        },
    )
    .unwrap();
    let generation = slot.swap(fixture("calc")).unwrap().generation;
    // Panics below the limit.
    for _ in 0..5 {
        assert!(slot.current().checked(true, "tolerated".into()).is_err());
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let event = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a verdict");
        if event == Ok(generation) {
            break;
        }
        assert!(event.is_ok(), "{event:?}");
    }
    assert_eq!(slot.generation(), generation);
}

#[test]
fn a_panic_rate_past_the_limit_rolls_back() {
    let slot = Arc::new(Slot::<dyn Calc>::load(fixture("calc")).unwrap());
    let (tx, events) = mpsc::channel();
    let _probation = Probation::start(
        Arc::clone(&slot),
        ProbationPolicy::new()
            .max_panics(1_000_000)
            .max_panics_per_second(10),
        move |event| {
            if let ProbationEvent::RolledBack { reason, .. } = event {
                let _ = tx.send(reason.clone());
            }
        },
    )
    .unwrap();
    slot.swap(fixture("calc-faulty")).unwrap();
    for i in 0..50 {
        let _ = slot.current().add(i * 3, 0);
    }
    let reason = events.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(reason.contains("per second"), "{reason}");
    assert_eq!(slot.current().label().unwrap(), "calc v1");
}

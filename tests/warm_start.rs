//! Warm start: a plugin's state carried from the serving version to the
//! next, with exactly the semantics the crate docs state (`liveswap::WarmStart`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use counter_api::{
    Counter, FAULT_GARBAGE, FAULT_NO_DOWNGRADE, FAULT_NONE, FAULT_RESTORE_PANICS,
    FAULT_SLOW_RESTORE, FAULT_SNAPSHOT_FAILS, FAULT_SNAPSHOT_HUGE, FAULT_SNAPSHOT_PANICS,
};
use liveswap::{Error, Options, Slot, Version};
use liveswap_tests::{REAP_TIMEOUT, fixture, mapped_under};

type Counters = Slot<dyn Counter>;

fn load(name: &str) -> Counters {
    Counters::load(fixture(name)).unwrap()
}

fn hits(slot: &Counters, n: u64) {
    for _ in 0..n {
        slot.current().hit().unwrap();
    }
}

fn count(slot: &Counters) -> u64 {
    slot.current().count().unwrap()
}

#[test]
fn the_count_survives_a_swap() {
    let slot = load("counter-v1");
    hits(&slot, 5);
    let report = slot.swap(fixture("counter-v1")).unwrap();
    assert_eq!(count(&slot), 5);
    assert!(report.state.restored);
    assert_eq!(
        (report.state.from_schema, report.state.to_schema),
        (Some(1), Some(1))
    );
    assert!(report.state.bytes > 0 && report.state.cold.is_none());
    assert_eq!(Version::state_schema(&slot.current()), Some(1));
}

#[test]
fn schema_1_state_is_migrated_by_a_schema_2_build() {
    let slot = load("counter-v1");
    hits(&slot, 7);
    let report = slot.swap(fixture("counter-v2")).unwrap();
    assert_eq!(
        (report.state.from_schema, report.state.to_schema),
        (Some(1), Some(2))
    );
    assert_eq!(slot.current().build().unwrap(), 2);
    assert_eq!(count(&slot), 7);
    assert_eq!(slot.current().label().unwrap(), "migrated from schema 1");
    let history: Vec<_> = slot
        .stats()
        .generations
        .iter()
        .map(|g| (g.generation, g.state_schema, g.restored_from))
        .collect();
    assert!(history.contains(&(1, Some(1), None)), "{history:?}");
    assert!(history.contains(&(2, Some(2), Some(1))), "{history:?}");
    hits(&slot, 1);
    slot.swap(fixture("counter-v2")).unwrap();
    assert_eq!(count(&slot), 8, "schema 2 to schema 2");
    assert_eq!(slot.current().label().unwrap(), "migrated from schema 1");
}

#[test]
fn the_history_records_each_attempts_state_schemas() {
    let slot = load("counter-v1");
    hits(&slot, 3);
    slot.swap(fixture("counter-v2")).unwrap();
    let refused = slot.swap(fixture("calc"));
    assert!(refused.is_err());
    let schemas: Vec<_> = slot
        .history()
        .iter()
        .map(|a| (a.outcome.as_str(), a.state_schema, a.restored_from))
        .collect();
    assert_eq!(
        schemas,
        [
            ("published", Some(1), None),
            ("published", Some(2), Some(1)),
            ("refused", None, None),
        ]
    );
}

#[test]
fn a_build_that_cannot_read_the_serving_schema_is_refused_and_the_old_keeps_its_state() {
    let slot = load("counter-v1");
    slot.swap(fixture("counter-v2")).unwrap();
    hits(&slot, 3);
    let err = slot.swap(fixture("counter-v1")).unwrap_err();
    match &err {
        Error::Restore {
            schema: 2,
            panicked: false,
            message,
            ..
        } => assert!(message.contains("schema 2 is unknown"), "{err}"),
        other => panic!("expected a restore error, got {other}"),
    }
    assert!(
        err.to_string().contains("counter_v1"),
        "names the path: {err}"
    );
    assert_eq!(slot.current().build().unwrap(), 2);
    assert_eq!(count(&slot), 3);
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(
        mapped_under(slot.copy_prefix()).len(),
        1,
        "the refused build is unmapped"
    );
}

#[test]
fn calls_on_the_old_version_after_its_snapshot_are_merged_once_it_drains() {
    let slot = load("counter-v1");
    hits(&slot, 5);
    let old = slot.current();
    slot.swap(fixture("counter-v1")).unwrap();
    for _ in 0..3 {
        old.hit().unwrap();
    }
    hits(&slot, 2);
    assert_eq!(
        count(&slot),
        7,
        "not yet: the old version still serves a guard"
    );
    drop(old);
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(
        count(&slot),
        10,
        "5 before, 3 late on the old, 2 on the new"
    );
}

#[test]
fn without_a_merge_hook_calls_on_the_old_version_after_its_snapshot_are_not_carried() {
    let slot = load("counter-v1");
    hits(&slot, 5);
    let old = slot.current();
    slot.swap(fixture("counter-v2")).unwrap(); // schema 2 does not merge
    for _ in 0..3 {
        old.hit().unwrap();
    }
    drop(old);
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(count(&slot), 5);
}

#[test]
fn the_count_is_exact_across_1000_swaps_under_load() {
    let slot = Arc::new(load("counter-v1"));
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (slot, stop, made) = (Arc::clone(&slot), Arc::clone(&stop), Arc::clone(&made));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    slot.current().hit().unwrap();
                    made.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for _ in 0..1000 {
        slot.swap(fixture("counter-v1")).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let made = made.load(Ordering::Relaxed);
    assert!(made > 1000, "the readers ran: {made} calls");
    assert_eq!(count(&slot), made, "every call counted once");
    assert_eq!(slot.generation(), 1001);
}

#[test]
fn rollback_carries_the_state_back() {
    let slot = load("counter-v1");
    hits(&slot, 3);
    slot.swap(fixture("counter-v1")).unwrap();
    hits(&slot, 2);
    let report = slot.rollback().unwrap();
    assert!(report.state.restored);
    assert_eq!(count(&slot), 5);
}

#[test]
fn a_rollback_past_a_schema_change_carries_the_state_written_in_the_older_schema() {
    let slot = load("counter-v1");
    hits(&slot, 4);
    slot.swap(fixture("counter-v2")).unwrap();
    hits(&slot, 1);
    // counter-v1 reads schema 1 only; counter-v2 writes it for the rollback.
    let report = slot.rollback().unwrap();
    assert!(report.state.restored);
    assert_eq!(
        (report.state.from_schema, report.state.to_schema),
        (Some(1), Some(1))
    );
    assert_eq!(slot.current().build().unwrap(), 1);
    assert_eq!(count(&slot), 5, "every hit carried back");
}

#[test]
fn a_rollback_the_newer_build_cannot_write_state_for_is_refused_and_a_cold_one_returns() {
    let slot = load("counter-v1");
    hits(&slot, 4);
    slot.swap(fixture("counter-v2")).unwrap();
    hits(&slot, 1);
    slot.current().set_fault(FAULT_NO_DOWNGRADE).unwrap();
    // counter-v1 reads schema 1 only; the serving build holds schema 2.
    let err = slot.rollback().unwrap_err();
    assert!(matches!(err, Error::Restore { schema: 2, .. }), "{err}");
    assert_eq!(slot.current().build().unwrap(), 2, "build 2 serves on");
    assert_eq!(count(&slot), 5, "with its state");
    let report = slot.rollback_cold().unwrap();
    assert!(!report.state.restored);
    assert_eq!(slot.current().build().unwrap(), 1);
    assert_eq!(count(&slot), 0, "started from nothing");
}

fn refused_and_intact(slot: &Counters, fault: u32, hits_before: u64) -> Error {
    slot.current().set_fault(fault).unwrap();
    let err = slot.swap(fixture("counter-v1")).unwrap_err();
    assert_eq!(slot.generation(), 1, "the old version keeps serving");
    assert_eq!(count(slot), hits_before, "and keeps its state");
    slot.current().set_fault(FAULT_NONE).unwrap();
    slot.swap(fixture("counter-v1")).unwrap();
    assert_eq!(count(slot), hits_before, "a later swap carries it");
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(slot.copy_prefix()).len(), 1);
    err
}

#[test]
fn a_snapshot_that_panics_refuses_the_swap() {
    let slot = load("counter-v1");
    hits(&slot, 4);
    let err = refused_and_intact(&slot, FAULT_SNAPSHOT_PANICS, 4);
    assert!(
        matches!(&err, Error::Snapshot { generation: 1, panicked: true, message, location: Some(_), .. }
            if message == "snapshot panicked on purpose"),
        "{err}"
    );
}

#[test]
fn a_snapshot_that_fails_refuses_the_swap() {
    let slot = load("counter-v1");
    hits(&slot, 2);
    let err = refused_and_intact(&slot, FAULT_SNAPSHOT_FAILS, 2);
    assert!(
        matches!(&err, Error::Snapshot { panicked: false, message, .. } if message == "snapshot failed on purpose"),
        "{err}"
    );
}

#[test]
fn a_snapshot_over_the_cap_refuses_the_swap() {
    let slot = Counters::load_with(
        fixture("counter-v1"),
        Options::new().max_state_size(64 << 10),
    )
    .unwrap();
    hits(&slot, 2);
    let err = refused_and_intact(&slot, FAULT_SNAPSHOT_HUGE, 2);
    assert!(
        matches!(
            err,
            Error::StateTooLarge {
                size: 1_048_576,
                max: 65_536,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_restore_that_panics_refuses_the_swap() {
    let slot = load("counter-v1");
    hits(&slot, 6);
    let err = refused_and_intact(&slot, FAULT_RESTORE_PANICS, 6);
    assert!(
        matches!(&err, Error::Restore { schema: 1, panicked: true, message, .. } if message == "restore panicked on purpose"),
        "{err}"
    );
}

#[test]
fn a_restore_given_garbage_refuses_the_swap() {
    let slot = load("counter-v1");
    hits(&slot, 1);
    let err = refused_and_intact(&slot, FAULT_GARBAGE, 1);
    assert!(
        matches!(&err, Error::Restore { panicked: false, message, .. } if message.starts_with("decoding state")),
        "{err}"
    );
}

#[test]
fn with_cold_on_state_failure_a_failed_snapshot_starts_the_new_version_cold() {
    let slot = Counters::load_with(
        fixture("counter-v1"),
        Options::new().cold_on_state_failure(true),
    )
    .unwrap();
    hits(&slot, 4);
    slot.current().set_fault(FAULT_SNAPSHOT_PANICS).unwrap();
    let report = slot.swap(fixture("counter-v1")).unwrap();
    let cold = report.state.cold.expect("the report says it started cold");
    assert!(cold.contains("snapshot panicked on purpose"), "{cold}");
    assert!(!report.state.restored);
    assert_eq!(count(&slot), 0);
}

#[test]
fn with_cold_on_state_failure_a_failed_restore_starts_the_new_version_cold() {
    let slot = Counters::load_with(
        fixture("counter-v1"),
        Options::new().cold_on_state_failure(true),
    )
    .unwrap();
    hits(&slot, 4);
    slot.current().set_fault(FAULT_RESTORE_PANICS).unwrap();
    let report = slot.swap(fixture("counter-v1")).unwrap();
    let cold = report.state.cold.expect("the report says it started cold");
    assert_eq!(
        cold,
        "restore from schema 1 panicked: restore panicked on purpose"
    );
    assert_eq!(count(&slot), 0);
    assert_eq!(
        Version::panics(&slot.current()),
        1,
        "the restore's panic is counted"
    );
}

#[test]
fn a_plugin_without_state_keeps_todays_behaviour_next_to_one_with_state() {
    let warm = load("counter-v1");
    let cold = load("counter-cold");
    hits(&warm, 3);
    hits(&cold, 3);
    let warm_report = warm.swap(fixture("counter-v1")).unwrap();
    let cold_report = cold.swap(fixture("counter-cold")).unwrap();
    assert_eq!(count(&warm), 3);
    assert_eq!(
        count(&cold),
        0,
        "no state declared: a fresh start, as before"
    );
    assert!(warm_report.state.restored);
    assert_eq!(cold_report.state, liveswap::StateReport::default());
    assert_eq!(Version::state_schema(&cold.current()), None);
}

#[test]
fn a_swap_to_a_build_without_state_drops_it_and_says_so() {
    let slot = load("counter-v1");
    hits(&slot, 3);
    let report = slot.swap(fixture("counter-cold")).unwrap();
    assert_eq!(
        (
            report.state.from_schema,
            report.state.to_schema,
            report.state.restored
        ),
        (Some(1), None, false)
    );
    assert_eq!(count(&slot), 0);
    let report = slot.swap(fixture("counter-v1")).unwrap();
    assert_eq!(
        (report.state.from_schema, report.state.to_schema),
        (None, Some(1))
    );
    assert_eq!(count(&slot), 0, "restored from nothing");
}

#[test]
fn a_swap_whose_snapshot_is_of_a_version_replaced_meanwhile_is_refused() {
    let slot = Arc::new(load("counter-v1"));
    hits(&slot, 4);
    slot.current().set_fault(FAULT_SLOW_RESTORE).unwrap();
    // The first swap snapshots generation 1 and restores for two seconds.
    let first = {
        let slot = Arc::clone(&slot);
        thread::spawn(move || slot.swap(fixture("counter-v1")))
    };
    thread::sleep(std::time::Duration::from_millis(300));
    // The second (a later call) snapshots generation 1 too, and finishes
    // after the first has published generation 2.
    let err = slot.swap(fixture("counter-v1")).unwrap_err();
    let published = first.join().unwrap().unwrap();
    assert_eq!(published.generation, 2);
    assert!(
        matches!(
            err,
            Error::StateStale {
                taken_from: 1,
                serving: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(count(&slot), 4, "carried once, by the swap that published");
    slot.current().set_fault(FAULT_NONE).unwrap();
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(
        mapped_under(slot.copy_prefix()).len(),
        1,
        "the refused build is unmapped"
    );
}

//! `log` and `tracing` events of plugin code reach the host's subscriber,
//! with their target, level, message and fields, and the host's level
//! filters them: none lost across swaps, none below the level. Its own
//! binary: it sets the process's subscriber.

use liveswap::Slot;
use liveswap_tests::{Captured, Greeter, fixture};

#[test]
fn plugin_log_and_tracing_events_reach_the_host_subscriber_filtered_by_its_level_none_lost() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(move || writer.clone())
        .init();

    let hs = Slot::<Greeter>::load(fixture("logs-plugin")).unwrap();
    let mut calls = 0;
    for swap in 0..10 {
        for _ in 0..20 {
            assert_eq!(hs.current().answer(1), 16);
            calls += 1;
        }
        // Every other swap goes through a plugin that does not log.
        let next = if swap % 2 == 0 {
            "greeter-v1"
        } else {
            "logs-plugin"
        };
        hs.swap(fixture(next)).unwrap();
        if next == "greeter-v1" {
            hs.swap(fixture("logs-plugin")).unwrap();
        }
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let count = |f: &dyn Fn(&str) -> bool| lines.iter().filter(|l| f(l)).count();
    assert_eq!(
        count(&|l| l.contains(" INFO fixture_logs: log answer 16")),
        calls,
        "every log record, with its level and target:\n{text}"
    );
    assert_eq!(
        count(&|l| l.contains(" WARN logs_plugin: request{id=1}:inner: tracing answer answer=16")),
        calls,
        "every tracing event, with its level, target, spans and fields:\n{text}"
    );
    assert_eq!(
        count(&|l| l.contains("filtered out")),
        0,
        "below the host's level"
    );
}

#[test]
fn a_plugin_that_sets_its_own_logger_in_its_constructor_loads_and_keeps_it() {
    let hs = Slot::<Greeter>::load(fixture("own-logger")).unwrap();
    assert_eq!(hs.current().answer(0), 1, "its own logger saw the record");
    assert_eq!(hs.current().answer(0), 2);
}

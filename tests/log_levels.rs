//! A plugin's events follow the host's level as it changes: a generation
//! already loaded delivers debug events once the host raises its level to
//! debug (a `tracing_subscriber::reload` filter), and stops once it lowers
//! it. Its own binary: it sets the process's subscriber.

use liveswap::Slot;
use liveswap_tests::{Captured, Greeter, fixture};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Lines written to `logs` since the last take, containing `needle`.
fn take_count(logs: &Captured, needle: &str) -> usize {
    let bytes = std::mem::take(&mut *logs.0.lock().unwrap());
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn a_loaded_generation_follows_the_hosts_level_when_it_is_raised_and_lowered() {
    let logs = Captured::default();
    let writer = logs.clone();
    let (filter, level) = tracing_subscriber::reload::Layer::new(LevelFilter::INFO);
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        )
        .init();
    let slot = Slot::<Greeter>::load(fixture("logs-plugin")).unwrap();
    let call = |n: usize| {
        for _ in 0..n {
            assert_eq!(slot.current().answer(1), 16);
        }
    };

    call(5);
    assert_eq!(
        take_count(&logs, "tracing debug, filtered out"),
        0,
        "at info"
    );

    level.modify(|f| *f = LevelFilter::DEBUG).unwrap();
    call(5);
    assert_eq!(
        take_count(&logs, "tracing debug, filtered out"),
        5,
        "the same generation, once the host is at debug"
    );

    level.modify(|f| *f = LevelFilter::WARN).unwrap();
    call(5);
    let text = String::from_utf8(std::mem::take(&mut *logs.0.lock().unwrap())).unwrap();
    let count = |needle: &str| text.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("tracing answer"), 5, "warn still shown:\n{text}");
    assert_eq!(count("log answer"), 0, "info no longer:\n{text}");
    assert_eq!(count("debug"), 0, "debug no longer:\n{text}");
}

//! Panics inside plugin methods under volume: no abort, no unbounded
//! growth. Alone in its test binary so that its memory figure is not
//! disturbed by other tests loading plugins.

use fixture_api::Calc;
use hotswap::{CallError, HotSwap};
use hotswap_tests::fixture;

fn calc() -> HotSwap<dyn Calc> {
    HotSwap::<dyn Calc>::load(fixture("calc")).unwrap()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn ten_thousand_panics_neither_abort_nor_grow_memory() {
    let hs = calc();
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
        assert!(
            matches!(err, CallError::Panicked { ref message, .. } if *message == format!("panic {i}"))
        );
    }
    let grown = rss_kib().saturating_sub(before);
    println!("RSS growth over 10,000 panicking calls: {grown} KiB");
    assert!(
        grown < 4 * 1024,
        "RSS grew by {grown} KiB over 10,000 panics"
    );
    assert_eq!(reader.get().add(1, 1), Ok(2));
}

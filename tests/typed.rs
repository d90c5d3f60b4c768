//! Interfaces declared with `#[liveswap::interface]`: values crossing both
//! ways, panics returned as errors, methods named like the library's own,
//! and the handshake.

use fixture_api::Calc;
use liveswap::{CallError, Error, Slot, Version};
use liveswap_tests::fixture;

fn calc() -> Slot<dyn Calc> {
    Slot::<dyn Calc>::load(fixture("calc")).unwrap()
}

#[test]
fn every_kind_of_value_crosses_both_ways() {
    let hs = calc();
    let c = hs.current();
    assert_eq!(c.add(40, 2), Ok(42));
    assert_eq!(c.ratio(1.0, 4.0), Ok(0.25));
    assert_eq!(c.greet("host").as_deref(), Ok("hello, host"));
    assert_eq!(c.sum(&[1, 2, 3, 4]), Ok(10));
    assert_eq!(
        c.words("a bc  def".to_string()),
        Ok(vec!["a".into(), "bc".into(), "def".into()])
    );
    assert_eq!(c.half(Some(7)), Ok(Some((3, true))));
    assert_eq!(c.half(None), Ok(None));
    assert_eq!(c.touch(), Ok(()));
}

#[test]
fn a_panic_in_a_method_of_scalars_is_an_error_too() {
    // `divide` takes and returns scalars: its shim passes them in registers.
    let hs = calc();
    assert_eq!(hs.current().divide(12, 4), Ok(3));
    match hs.current().divide(1, 0) {
        Err(CallError::Panicked(panic)) => assert_eq!(panic.message(), "attempt to divide by zero"),
        other => panic!("{other:?}"),
    }
    assert_eq!(hs.current().divide(-9, 3), Ok(-3));
}

#[test]
fn a_value_borrowed_from_the_plugin_is_readable_while_its_guard_lives() {
    let hs = calc();
    let guard = hs.current();
    let label: &str = guard.label().unwrap();
    assert_eq!(label, "calc v1");
}

#[test]
fn a_panicking_method_returns_its_message_and_the_next_call_works() {
    let hs = calc();
    let err = hs
        .current()
        .checked(true, "bad input 17".to_string())
        .unwrap_err();
    match &err {
        CallError::Panicked(panic) => {
            assert_eq!(panic.message(), "bad input 17");
            let location = panic.location();
            assert!(
                location.is_some_and(|l| l.contains("calc/src/lib.rs")),
                "{location:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("bad input 17"));
    assert_eq!(hs.current().checked(false, String::new()), Ok(7));
}

#[test]
fn a_plugin_built_from_a_changed_interface_is_rejected_naming_the_method_and_types() {
    let hs = calc();
    let err = hs.swap(fixture("calc-changed")).unwrap_err();
    match &err {
        Error::LayoutMismatch {
            interface, detail, ..
        } => {
            assert_eq!(interface, "fixture::Calc");
            assert_eq!(
                detail,
                "method `add`, argument 1: the host has `i64`, the plugin `i32`"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("libcalc_changed.so"), "{err}");
    assert_eq!(hs.current().add(2, 2), Ok(4));
}

#[test]
fn a_macro_interface_swaps_like_any_other() {
    let hs = calc();
    let report = hs.swap(fixture("calc")).unwrap();
    assert_eq!(report.generation, 2);
    assert_eq!(hs.current().greet("again").as_deref(), Ok("hello, again"));
}

#[test]
fn plugin_methods_named_like_version_metadata_are_not_shadowed() {
    let hs = calc();
    let guard = hs.current();
    assert_eq!(guard.generation(), Ok(4242));
    assert_eq!(guard.source().as_deref(), Ok("the plugin's own source"));
    assert_eq!(Version::generation(&guard), 1);
    assert_eq!(Version::source(&guard), fixture("calc"));
}

#[test]
fn a_version_counts_the_panics_of_its_calls() {
    let hs = calc();
    let guard = hs.current();
    assert_eq!(Version::panics(&guard), 0);
    for _ in 0..3 {
        assert!(guard.checked(true, "boom".into()).is_err());
    }
    assert!(guard.divide(1, 0).is_err());
    assert_eq!(guard.checked(false, String::new()), Ok(7));
    assert_eq!(Version::panics(&guard), 4);
    drop(guard);
    hs.swap(fixture("calc")).unwrap();
    assert_eq!(
        Version::panics(&hs.current()),
        0,
        "a new generation counts afresh"
    );
}

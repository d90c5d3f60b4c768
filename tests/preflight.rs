//! The in-process preflight (`Slot::swap_with`): a candidate that fails
//! the host's golden requests is never published, and nothing of it stays
//! mapped.

use std::time::Duration;

use fixture_api::Calc;
use liveswap::{Error, Preflight, Slot, SwapOptions, Version, history::Outcome};
use liveswap_tests::{REAP_TIMEOUT, fixture, mapped_under};

fn calc() -> Slot<dyn Calc> {
    Slot::<dyn Calc>::load(fixture("calc")).unwrap()
}

/// The golden requests: `add(3, 4)` is 7.
fn golden() -> Preflight<dyn Calc> {
    Preflight::new(|api: &Version<dyn Calc>| match api.add(3, 4) {
        Ok(7) => Ok(()),
        other => Err(format!("add(3, 4) returned {other:?}, expected Ok(7)")),
    })
}

fn with(preflight: Preflight<dyn Calc>) -> SwapOptions<dyn Calc> {
    SwapOptions::new().preflight(preflight)
}

/// Only the serving generation's copy is mapped.
fn only_one_copy_mapped(slot: &Slot<dyn Calc>) {
    assert!(slot.wait_drained(REAP_TIMEOUT));
    let deadline = std::time::Instant::now() + REAP_TIMEOUT;
    while mapped_under(slot.copy_prefix()).len() != 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        mapped_under(slot.copy_prefix()).len(),
        1,
        "{:?}",
        mapped_under(slot.copy_prefix())
    );
}

#[test]
fn a_candidate_passing_the_preflight_is_published() {
    let slot = calc();
    let report = slot.swap_with(fixture("calc"), &with(golden())).unwrap();
    assert_eq!(report.generation, 2);
    assert!(report.preflight > Duration::ZERO);
    let last = slot.history().pop().unwrap();
    assert!(last.steps.preflight > Duration::ZERO);
}

#[test]
fn a_candidate_failing_the_preflight_is_refused_and_unloaded() {
    let slot = calc();
    // The faulty build's add(3, _) panics: the check sees an error.
    let err = slot
        .swap_with(fixture("calc-faulty"), &with(golden()))
        .unwrap_err();
    match &err {
        Error::Preflight {
            isolated: false,
            message,
            path,
        } => {
            assert!(message.contains("add(3, 4) returned Err"), "{message}");
            assert_eq!(path, &fixture("calc-faulty"));
        }
        other => panic!("expected a preflight refusal, got {other:?}"),
    }
    assert_eq!(slot.generation(), 1);
    assert_eq!(slot.current().label().unwrap(), "calc v1");
    only_one_copy_mapped(&slot);
    let last = slot.history().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Refused);
    assert!(last.error.unwrap().contains("preflight"));
}

#[test]
fn a_preflight_that_panics_refuses_the_swap() {
    let slot = calc();
    let panicking = Preflight::new(|_: &Version<dyn Calc>| -> Result<(), String> {
        panic!("the golden file is missing")
    });
    let err = slot
        .swap_with(fixture("calc-faulty"), &with(panicking))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Preflight { message, .. } if message.contains("panicked: the golden file is missing")),
        "{err}"
    );
    assert_eq!(slot.current().add(1, 2), Ok(3));
    only_one_copy_mapped(&slot);
}

#[test]
fn a_preflight_that_hangs_is_refused_at_its_timeout() {
    let slot = calc();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Mutex::new(released);
    let hangs = Preflight::new(move |_: &Version<dyn Calc>| {
        let _ = released.lock().unwrap().recv();
        Ok(())
    })
    .timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = slot
        .swap_with(fixture("calc-faulty"), &with(hangs))
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(&err, Error::Preflight { message, .. } if message.contains("did not finish within 200ms")),
        "{err}"
    );
    assert_eq!(slot.generation(), 1);
    assert_eq!(slot.current().add(1, 2), Ok(3));
    // Once the check returns, the candidate goes too.
    release.send(()).unwrap();
    only_one_copy_mapped(&slot);
}

#[test]
fn skip_unchanged_refuses_the_serving_bytes_before_loading_them() {
    let slot = calc();
    let err = slot
        .swap_with(fixture("calc"), &SwapOptions::new().skip_unchanged())
        .unwrap_err();
    assert!(matches!(err, Error::Unchanged { .. }), "{err}");
    assert_eq!(slot.generation(), 1);
    assert_eq!(slot.history().pop().unwrap().outcome, Outcome::Unchanged);
}

/// A preflight that refuses every candidate, naming itself.
fn refuse_all(name: &'static str) -> Preflight<dyn Calc> {
    Preflight::new(move |_: &Version<dyn Calc>| Err(format!("refused by {name}")))
}

fn refused_by(result: Result<liveswap::SwapReport, Error>) -> String {
    match result {
        Err(Error::Preflight { message, .. }) => message,
        other => panic!("expected a preflight refusal, got {other:?}"),
    }
}

#[test]
fn a_call_naming_only_skip_unchanged_still_runs_the_policy_preflight() {
    let slot = calc();
    slot.set_swap_policy(with(refuse_all("the policy")));
    let message =
        refused_by(slot.swap_with(fixture("calc-faulty"), &SwapOptions::new().skip_unchanged()));
    assert_eq!(message, "refused by the policy");
    // And the skip it named applies too: the serving bytes are skipped
    // before any check runs.
    let err = slot
        .swap_with(fixture("calc"), &SwapOptions::new().skip_unchanged())
        .unwrap_err();
    assert!(matches!(err, Error::Unchanged { .. }), "{err:?}");
    assert_eq!(slot.generation(), 1);
}

#[test]
fn a_call_preflight_overrides_the_policy_preflight_for_that_call_only() {
    let slot = calc();
    slot.set_swap_policy(with(refuse_all("the policy")));
    let report = slot.swap_with(fixture("calc"), &with(golden())).unwrap();
    assert_eq!(report.generation, 2);
    assert_eq!(
        refused_by(slot.swap_with(fixture("calc"), &SwapOptions::new())),
        "refused by the policy"
    );
    assert_eq!(
        refused_by(slot.swap(fixture("calc"))),
        "refused by the policy"
    );
}

#[test]
fn without_checks_passes_the_policy_checks_for_one_call() {
    let slot = calc();
    slot.set_swap_policy(
        with(refuse_all("the policy")).before_load(|_| Err("refused by the gate".into())),
    );
    let report = slot
        .swap_with(fixture("calc"), &SwapOptions::new().without_checks())
        .unwrap();
    assert_eq!(report.generation, 2);
    assert_eq!(report.preflight, Duration::ZERO);
    // The next call, naming nothing, is checked again: the gate first.
    let err = slot.swap(fixture("calc")).unwrap_err();
    assert!(
        matches!(&err, Error::Preflight { isolated: true, message, .. } if message == "refused by the gate"),
        "{err:?}"
    );
}

#[test]
fn a_call_trigger_is_recorded_and_the_policy_trigger_is_not_used_by_swap() {
    let slot = calc();
    slot.set_swap_policy(SwapOptions::new().trigger(liveswap::history::Trigger::Control));
    slot.swap(fixture("calc")).unwrap();
    assert_eq!(
        slot.history().pop().unwrap().trigger,
        liveswap::history::Trigger::Api
    );
    slot.swap_with(fixture("calc"), &SwapOptions::new())
        .unwrap();
    assert_eq!(
        slot.history().pop().unwrap().trigger,
        liveswap::history::Trigger::Control
    );
    slot.swap_with(
        fixture("calc"),
        &SwapOptions::new().trigger(liveswap::history::Trigger::Watch),
    )
    .unwrap();
    assert_eq!(
        slot.history().pop().unwrap().trigger,
        liveswap::history::Trigger::Watch
    );
}

#[test]
fn a_call_preflight_leaves_the_policy_gate_in_place() {
    let slot = calc();
    slot.set_swap_policy(SwapOptions::new().before_load(|_| Err("refused by the gate".into())));
    let err = slot
        .swap_with(fixture("calc"), &with(golden()))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Preflight { isolated: true, message, .. } if message == "refused by the gate"),
        "{err:?}"
    );
    assert_eq!(slot.generation(), 1);
}

#[test]
fn allow_unchanged_turns_the_policy_skip_off_for_one_call() {
    let slot = calc();
    slot.set_swap_policy(SwapOptions::new().skip_unchanged());
    assert!(matches!(
        slot.swap(fixture("calc")),
        Err(Error::Unchanged { .. })
    ));
    let report = slot
        .swap_with(fixture("calc"), &SwapOptions::new().allow_unchanged())
        .unwrap();
    assert_eq!(report.generation, 2);
}

//! The isolated preflight: the host's check runs on the candidate in a
//! child process (this test binary, re-executed) before the serving
//! process maps it. A candidate that crashes or hangs there is refused,
//! and the serving process lives on. No test harness: `main` must call
//! `serve_isolated` first, as a host's does.

use std::time::{Duration, Instant};

use fixture_api::Calc;
use liveswap::deploy::{IsolatedPreflight, serve_isolated};
use liveswap::{Error, Preflight, Slot, SwapOptions, Version};
use liveswap_tests::{REAP_TIMEOUT, fixture, mapped_under};

/// A check that greets with `name`: the faulty build crashes in the way
/// the name says; a sound build answers.
fn greets(name: &'static str) -> Preflight<dyn Calc> {
    Preflight::new(move |api: &Version<dyn Calc>| {
        let answer = api.greet(name).map_err(|e| e.to_string())?;
        if answer == format!("hello, {name}") {
            Ok(())
        } else {
            Err(format!("greet({name:?}) returned {answer:?}"))
        }
    })
}

fn swap_isolated(slot: &Slot<dyn Calc>, plugin: &str, check: &str) -> Result<u64, Error> {
    let isolated = IsolatedPreflight::new(check).timeout(Duration::from_secs(3));
    slot.swap_with(
        fixture(plugin),
        &SwapOptions::new().before_load(move |candidate| isolated.run(candidate)),
    )
    .map(|report| report.generation)
}

fn refused_with(result: Result<u64, Error>, expected: &str) {
    match result {
        Err(Error::Preflight {
            isolated: true,
            message,
            ..
        }) => assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        ),
        other => panic!("expected an isolated preflight refusal, got {other:?}"),
    }
}

fn serving_and_clean(slot: &Slot<dyn Calc>) {
    assert_eq!(slot.generation(), 1);
    assert_eq!(slot.current().add(2, 2), Ok(4));
    assert!(slot.wait_drained(REAP_TIMEOUT));
    assert_eq!(mapped_under(slot.copy_prefix()).len(), 1);
}

fn a_candidate_that_segfaults_is_refused_and_the_serving_process_lives_on(slot: &Slot<dyn Calc>) {
    refused_with(
        swap_isolated(slot, "calc-faulty", "segfault"),
        "killed by signal 11 (SIGSEGV)",
    );
    serving_and_clean(slot);
}

fn a_candidate_that_aborts_is_refused(slot: &Slot<dyn Calc>) {
    refused_with(
        swap_isolated(slot, "calc-faulty", "abort"),
        "signal 6 (SIGABRT)",
    );
    serving_and_clean(slot);
}

fn a_candidate_that_exits_with_status_zero_gives_no_verdict_and_is_refused(slot: &Slot<dyn Calc>) {
    refused_with(
        swap_isolated(slot, "calc-faulty", "exit"),
        "exited with status 0 but gave no verdict",
    );
    serving_and_clean(slot);
}

fn what_a_passing_candidate_started_in_the_child_does_not_outlive_the_check(slot: &Slot<dyn Calc>) {
    started_in_the_child_does_not_outlive_the_check(slot, "orphan");
}

/// The same for a process that left the group for a session of its own.
fn what_the_candidate_started_in_a_session_of_its_own_does_not_outlive_the_check(
    slot: &Slot<dyn Calc>,
) {
    started_in_the_child_does_not_outlive_the_check(slot, "escapee");
}

fn started_in_the_child_does_not_outlive_the_check(slot: &Slot<dyn Calc>, check: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("orphan.pid");
    // SAFETY: no other thread of this harness reads the environment now;
    // the child process inherits it.
    unsafe { std::env::set_var("ORPHAN_PID_FILE", &pid_file) };
    let result = swap_isolated(slot, "calc-faulty", check);
    // SAFETY: as above.
    unsafe { std::env::remove_var("ORPHAN_PID_FILE") };
    // The faulty build passes this check in the child, and is published.
    assert_eq!(result.unwrap(), 2);
    let pid = std::fs::read_to_string(&pid_file).expect("the candidate started a process");
    let stat = format!("/proc/{}/stat", pid.trim());
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie its new parent has not reaped yet: not running.
    while let Ok(text) = std::fs::read_to_string(&stat) {
        let state = text.rsplit(") ").next().and_then(|r| r.chars().next());
        if state == Some('Z') {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} still runs: {text}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A build whose restore aborts on the serving version's real state (as
/// an allocation of terabytes would): the child restores from the very
/// same snapshot, so it is the child that dies, and the host goes on with
/// its state.
fn a_restore_that_aborts_on_the_real_state_is_refused_in_the_child(_: &Slot<dyn Calc>) {
    use counter_api::{Counter, FAULT_RESTORE_ABORTS};
    let counters = Slot::<dyn Counter>::load(fixture("counter-v1")).unwrap();
    counters.current().hit().unwrap();
    counters.current().set_fault(FAULT_RESTORE_ABORTS).unwrap();
    let isolated = IsolatedPreflight::new("counter").timeout(Duration::from_secs(3));
    let result = counters.swap_with(
        fixture("counter-v1"),
        &SwapOptions::new().before_load(move |candidate| isolated.run(candidate)),
    );
    match result {
        Err(Error::Preflight {
            isolated: true,
            message,
            ..
        }) => assert!(message.contains("SIGABRT"), "{message}"),
        other => panic!("expected the child to abort, got {other:?}"),
    }
    assert_eq!(
        counters.current().count().unwrap(),
        1,
        "the host keeps its state"
    );
}

/// A build whose bytes already serve is skipped before anything else: the
/// state an isolated check would want is not even asked for (here it
/// could not be given: the snapshot fails).
fn an_unchanged_build_is_skipped_before_its_state_is_taken(_: &Slot<dyn Calc>) {
    use counter_api::{Counter, FAULT_SNAPSHOT_FAILS};
    let counters = Slot::<dyn Counter>::load(fixture("counter-v1")).unwrap();
    counters.current().set_fault(FAULT_SNAPSHOT_FAILS).unwrap();
    let isolated = IsolatedPreflight::new("counter").timeout(Duration::from_secs(3));
    let result = counters.swap_with(
        fixture("counter-v1"),
        &SwapOptions::new()
            .skip_unchanged()
            .before_load(move |candidate| isolated.run(candidate)),
    );
    assert!(matches!(result, Err(Error::Unchanged { .. })), "{result:?}");
}

/// As root, the test binary made setuid to `nobody` runs with `AT_SECURE`:
/// its child mode refuses to load what it is handed.
fn child_mode_refuses_to_run_with_elevated_rights(_: &Slot<dyn Calc>) {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: `geteuid` has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("(not root: a setuid binary cannot be made; skipped)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vfs = rustix::fs::statvfs(dir.path()).unwrap();
    if vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID) {
        println!("(the temporary directory is mounted nosuid; skipped)");
        return;
    }
    let exe = dir.path().join("host");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::os::unix::fs::chown(&exe, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(&exe)
        .env("LIVESWAP_PREFLIGHT", "segfault")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{said}");
    assert!(said.contains("elevated rights"), "{said}");
}

fn a_candidate_that_overflows_its_stack_is_refused(slot: &Slot<dyn Calc>) {
    refused_with(
        swap_isolated(slot, "calc-faulty", "overflow"),
        "killed by signal",
    );
    serving_and_clean(slot);
}

fn a_candidate_that_hangs_is_killed_at_the_timeout_and_refused(slot: &Slot<dyn Calc>) {
    let started = Instant::now();
    refused_with(
        swap_isolated(slot, "calc-faulty", "hang"),
        "did not finish within 3s",
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    serving_and_clean(slot);
}

fn a_sound_candidate_passes_and_is_published(slot: &Slot<dyn Calc>) {
    assert_eq!(swap_isolated(slot, "calc", "segfault").unwrap(), 2);
    let last = slot.history().pop().unwrap();
    assert!(last.steps.isolated_preflight > Duration::ZERO);
}

/// Through the watcher: a slot of its own, watching a directory of its own.
fn a_watched_build_that_segfaults_in_the_child_is_refused(_: &Slot<dyn Calc>) {
    use liveswap::deploy::{WatchEvent, WatchOptions, Watcher};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libcalc.so");
    liveswap_tests::install("calc", &path);
    let watched = std::sync::Arc::new(Slot::<dyn Calc>::load(&path).unwrap());
    let (tx, events) = std::sync::mpsc::channel();
    let watcher = Watcher::start(
        std::sync::Arc::clone(&watched),
        WatchOptions::path(&path)
            .isolated(IsolatedPreflight::new("segfault").timeout(Duration::from_secs(3)))
            .on_event(move |event| {
                if let WatchEvent::Refused { error, .. } = event {
                    let _ = tx.send(error.to_string());
                }
            }),
    )
    .unwrap();
    liveswap_tests::install("calc-faulty", &path);
    let refusal = events.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(refusal.contains("SIGSEGV"), "{refusal}");
    assert_eq!(watched.current().label().unwrap(), "calc v1");
    drop(watcher);
}

/// One test case: a name and its body.
type Case = fn(&Slot<dyn Calc>);

fn main() {
    for name in [
        "segfault", "abort", "exit", "orphan", "escapee", "overflow", "hang",
    ] {
        serve_isolated(name, &greets(name));
    }
    serve_isolated(
        "counter",
        &Preflight::<dyn counter_api::Counter>::new(|_| Ok(())),
    );
    let tests: [(&str, Case); 12] = [
        (
            "an_unchanged_build_is_skipped_before_its_state_is_taken",
            an_unchanged_build_is_skipped_before_its_state_is_taken,
        ),
        (
            "what_the_candidate_started_in_a_session_of_its_own_does_not_outlive_the_check",
            what_the_candidate_started_in_a_session_of_its_own_does_not_outlive_the_check,
        ),
        (
            "a_restore_that_aborts_on_the_real_state_is_refused_in_the_child",
            a_restore_that_aborts_on_the_real_state_is_refused_in_the_child,
        ),
        (
            "what_a_passing_candidate_started_in_the_child_does_not_outlive_the_check",
            what_a_passing_candidate_started_in_the_child_does_not_outlive_the_check,
        ),
        (
            "a_candidate_that_exits_with_status_zero_gives_no_verdict_and_is_refused",
            a_candidate_that_exits_with_status_zero_gives_no_verdict_and_is_refused,
        ),
        (
            "child_mode_refuses_to_run_with_elevated_rights",
            child_mode_refuses_to_run_with_elevated_rights,
        ),
        (
            "a_candidate_that_segfaults_is_refused_and_the_serving_process_lives_on",
            a_candidate_that_segfaults_is_refused_and_the_serving_process_lives_on,
        ),
        (
            "a_candidate_that_aborts_is_refused",
            a_candidate_that_aborts_is_refused,
        ),
        (
            "a_candidate_that_overflows_its_stack_is_refused",
            a_candidate_that_overflows_its_stack_is_refused,
        ),
        (
            "a_candidate_that_hangs_is_killed_at_the_timeout_and_refused",
            a_candidate_that_hangs_is_killed_at_the_timeout_and_refused,
        ),
        (
            "a_sound_candidate_passes_and_is_published",
            a_sound_candidate_passes_and_is_published,
        ),
        (
            "a_watched_build_that_segfaults_in_the_child_is_refused",
            a_watched_build_that_segfaults_in_the_child_is_refused,
        ),
    ];
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (name, test) in tests {
        if filter.as_deref().is_some_and(|f| !name.contains(f)) {
            continue;
        }
        let slot = Slot::<dyn Calc>::load(fixture("calc")).unwrap();
        test(&slot);
        println!("test {name} ... ok");
    }
}

//! What a forked child may do with its parent's handle: read it and call
//! the plugin; not swap it (a typed error), not change the parent's copies,
//! and drop it without a panic. No test harness: `fork` copies only the
//! calling thread, so this binary forks from its only thread.

use std::io::Write;

use liveswap::{Error, Slot};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, mapped_under};

/// What the child checks; its exit status is the number of failures.
fn child(hs: Slot<Greeter>) -> i32 {
    let mut failed = 0;
    let mut check = |ok: bool, what: &str| {
        if !ok {
            eprintln!("child: {what} failed");
            failed += 1;
        }
    };
    check(hs.current().answer(1) == 3, "a call in the child");
    check(
        matches!(hs.swap(fixture("greeter-v1")), Err(Error::Forked { .. })),
        "swap refused as Forked",
    );
    check(
        matches!(hs.rollback(), Err(Error::Forked { .. })),
        "rollback refused as Forked",
    );
    // The copies the child inherited cannot be written or truncated.
    let prefix = hs.copy_prefix().to_string_lossy().into_owned();
    let mut copies = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if !target.to_string_lossy().starts_with(&prefix) {
            continue;
        }
        copies += 1;
        let changed = std::fs::OpenOptions::new()
            .write(true)
            .open(entry.path())
            .and_then(|mut f| {
                f.write_all(b"x")?;
                f.set_len(0)
            });
        check(changed.is_err(), "the parent's copy is immutable");
    }
    check(copies >= 1, "the child sees the copies");
    drop(hs); // must not panic or block
    failed
}

fn main() {
    let hs = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    hs.swap(fixture("greeter-v2")).unwrap();
    assert!(hs.wait_drained(REAP_TIMEOUT));

    // SAFETY: this process has one thread (no harness; the reaper is the
    // only other thread and the child never waits on it); the child only
    // uses the handle and exits with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let failed = child(hs);
        // SAFETY: leave without running the parent's atexit handlers.
        unsafe { libc::_exit(failed) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let child_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;

    // The parent is untouched: it still serves and swaps.
    let parent_ok = hs.current().answer(1) == 3
        && hs.swap(fixture("greeter-v1")).is_ok()
        && hs.current().answer(1) == 2
        && hs.wait_drained(REAP_TIMEOUT)
        && mapped_under(hs.copy_prefix()).len() == 1;
    drop(hs);
    println!(
        "test a_forked_child_reads_but_cannot_swap_or_change_the_copies_and_drops_quietly ... {}",
        if child_ok { "ok" } else { "FAILED" }
    );
    println!(
        "test the_parent_keeps_serving_and_swapping_after_a_fork ... {}",
        if parent_ok { "ok" } else { "FAILED" }
    );
    std::process::exit(if child_ok && parent_ok { 0 } else { 1 });
}

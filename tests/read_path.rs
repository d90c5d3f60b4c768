//! The read path (hazard slots published with release stores, released by
//! the swapper after a `membarrier`): every way a reader can hold, nest,
//! send or abandon a guard is correct and leaves nothing behind. Each test
//! ends by checking that the replaced generation unloads: a hazard left
//! published would keep it for good.

use std::sync::Arc;
use std::time::{Duration, Instant};

use liveswap::{Slot, Version, stats::State};
use liveswap_tests::{Greeter, REAP_TIMEOUT, fixture, state_of};

fn unloads(slot: &Slot<Greeter>, generation: u64) {
    let deadline = Instant::now() + REAP_TIMEOUT;
    while state_of(slot, generation) != State::Unloaded {
        assert!(
            Instant::now() < deadline,
            "generation {generation}: {:?}",
            state_of(slot, generation)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_guard_held_across_a_swap_reads_its_version_and_frees_it_when_dropped() {
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let guard = slot.current();
    slot.swap(fixture("greeter-v2")).unwrap();
    assert_eq!(guard.build(), 1, "the guard's version");
    assert_eq!(slot.current().build(), 2, "new reads see the new one");
    std::thread::sleep(Duration::from_millis(20));
    assert_ne!(state_of(&slot, 1), State::Unloaded, "held by the guard");
    drop(guard);
    unloads(&slot, 1);
}

#[test]
fn twelve_nested_guards_on_one_thread_more_than_its_8_slots_each_read_their_version() {
    // Twelve, not more: at most 16 replaced versions may wait to unload.
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let mut guards = Vec::new();
    for round in 0..12u64 {
        guards.push(slot.current());
        let next = if round % 2 == 0 {
            "greeter-v2"
        } else {
            "greeter-v1"
        };
        slot.swap(fixture(next)).unwrap();
    }
    for (round, guard) in guards.iter().enumerate() {
        let want = if round % 2 == 0 { 1 } else { 2 };
        assert_eq!(guard.build(), want, "guard {round}");
        assert_eq!(Version::generation(guard), round as u64 + 1);
    }
    drop(guards);
    for generation in 1..=12 {
        unloads(&slot, generation);
    }
}

#[test]
fn guards_on_three_slots_at_once_on_one_thread_are_independent() {
    let slots: Vec<_> = (0..3)
        .map(|_| Slot::<Greeter>::load(fixture("greeter-v1")).unwrap())
        .collect();
    let guards: Vec<_> = slots.iter().map(Slot::current).collect();
    for slot in &slots {
        slot.swap(fixture("greeter-v2")).unwrap();
    }
    for (slot, guard) in slots.iter().zip(&guards) {
        assert_eq!(guard.build(), 1);
        assert_eq!(slot.current().build(), 2);
    }
    drop(guards);
    for slot in &slots {
        unloads(slot, 1);
    }
}

#[test]
fn a_guard_sent_to_another_thread_and_dropped_there_frees_its_version() {
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let guard = slot.current();
    slot.swap(fixture("greeter-v2")).unwrap();
    std::thread::spawn(move || assert_eq!(guard.build(), 1))
        .join()
        .unwrap();
    unloads(&slot, 1);
}

#[test]
fn a_thread_that_ends_while_its_guard_lives_on_elsewhere_leaves_it_valid() {
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let reader = Arc::clone(&slot);
    // The guard's hazard slot belongs to a thread that ends before it.
    let guard = std::thread::spawn(move || reader.current()).join().unwrap();
    slot.swap(fixture("greeter-v2")).unwrap();
    // Other threads come and go, taking records.
    for _ in 0..20 {
        let reader = Arc::clone(&slot);
        std::thread::spawn(move || assert_eq!(reader.current().build(), 2))
            .join()
            .unwrap();
    }
    assert_eq!(guard.build(), 1);
    drop(guard);
    unloads(&slot, 1);
}

#[test]
fn two_hundred_threads_that_read_once_and_end_hold_nothing_after() {
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let threads: Vec<_> = (0..200)
        .map(|_| {
            let reader = Arc::clone(&slot);
            std::thread::spawn(move || reader.current().build())
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), 1);
    }
    slot.swap(fixture("greeter-v2")).unwrap();
    unloads(&slot, 1);
}

#[test]
fn a_thread_that_read_once_and_never_reads_again_does_not_hold_its_version() {
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let reader = Arc::clone(&slot);
    let (read, wait) = std::sync::mpsc::channel();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let idle = std::thread::spawn(move || {
        read.send(reader.current().build()).unwrap();
        // Alive, but never reads again.
        let _ = stopped.recv();
    });
    assert_eq!(wait.recv().unwrap(), 1);
    slot.swap(fixture("greeter-v2")).unwrap();
    unloads(&slot, 1);
    drop(stop);
    idle.join().unwrap();
}

#[test]
fn a_slot_dropped_while_a_guard_of_it_lives_keeps_the_guards_version_valid() {
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let guard = slot.current();
    let owned = slot.current_owned();
    drop(slot);
    assert_eq!(guard.build(), 1);
    drop(guard);
    assert_eq!(owned.build(), 1);
}

#[test]
fn readers_on_four_threads_during_200_swaps_see_only_whole_versions() {
    readers_during_swaps(4, 200);
}

/// `threads` readers, each holding two nested guards per read, while
/// `swaps` swaps alternate the two builds; then every replaced version
/// unloads.
fn readers_during_swaps(threads: usize, swaps: usize) {
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..threads)
        .map(|_| {
            let (slot, stop) = (Arc::clone(&slot), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let outer = slot.current();
                    let inner = slot.current();
                    let (a, b) = (outer.build(), inner.build());
                    assert!(matches!(a, 1 | 2) && matches!(b, 1 | 2));
                    // The generation number matches the build it serves.
                    let g = Version::generation(&outer);
                    assert_eq!(a, if g % 2 == 1 { 1 } else { 2 }, "generation {g}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for round in 0..swaps {
        let next = if round % 2 == 0 {
            "greeter-v2"
        } else {
            "greeter-v1"
        };
        slot.swap(fixture(next)).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    assert!(
        slot.wait_drained(REAP_TIMEOUT),
        "every replaced version unloads"
    );
}

#[test]
fn with_membarrier_refused_by_a_seccomp_filter_reads_fence_and_replaced_versions_unload() {
    let out = liveswap_tests::child_test("read_path::membarrier_refused")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("membarrier refused") && stdout.contains("1 passed"),
        "{stdout}\n{stderr}"
    );
}

/// Run by the test above in a child process, as the filter cannot be
/// taken off again.
#[test]
#[ignore = "run in a child process by with_membarrier_refused_by_a_seccomp_filter_..."]
fn membarrier_refused() {
    refuse_membarrier();
    // SAFETY: membarrier(MEMBARRIER_CMD_QUERY, 0) reads nothing of ours.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, 0, 0) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    assert_eq!((rc, errno), (-1, Some(libc::EPERM)), "the filter holds");
    println!("membarrier refused");
    readers_during_swaps(2, 50);
}

/// Installs, for every thread of the process, a seccomp filter that
/// fails `membarrier` with `EPERM`, as a sandbox's may.
fn refuse_membarrier() {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7; // AUDIT_ARCH_AARCH64
    // Classic BPF over `struct seccomp_data { int nr; u32 arch; ... }`.
    const LOAD_WORD: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JUMP_IF_EQUAL: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = [
        op(LOAD_WORD, 0, 0, 4),
        op(JUMP_IF_EQUAL, 1, 0, ARCH),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(LOAD_WORD, 0, 0, 0),
        op(JUMP_IF_EQUAL, 0, 1, libc::SYS_membarrier as u32),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        op(RETURN, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes plain integers; seccomp()
    // reads `fprog`, which points at `program`, both alive for the call.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        let rc = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog as *const libc::sock_fprog,
        );
        assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
    }
}

/// A thread-local whose destructor reads the slot it holds (a guard and
/// an owned reference) and sends the builds it saw.
struct ReadsAtExit(Option<(Arc<Slot<Greeter>>, std::sync::mpsc::Sender<u32>)>);

impl Drop for ReadsAtExit {
    fn drop(&mut self) {
        if let Some((slot, answer)) = self.0.take() {
            let guard = slot.current();
            let owned = slot.current_owned();
            let _ = answer.send(guard.build() * 10 + owned.build());
        }
    }
}

thread_local! {
    static AT_EXIT: std::cell::RefCell<ReadsAtExit> =
        const { std::cell::RefCell::new(ReadsAtExit(None)) };
}

#[test]
fn reads_from_a_thread_local_destructor_during_thread_exit_are_served_in_every_order() {
    let slot = Arc::new(Slot::<Greeter>::load(fixture("greeter-v1")).unwrap());
    let (send, answers) = std::sync::mpsc::channel();
    // Thread-local destructors run newest first. Read before the
    // destructor is set: the thread's record is taken, and still there
    // when it reads. Never read before: the destructor's read takes one.
    // Read after it is set: the library hands the record back before the
    // destructor runs, whose reads find none and take counted references.
    for order in ["read first", "never read before", "set first"] {
        let (slot, send) = (Arc::clone(&slot), send.clone());
        std::thread::spawn(move || {
            if order == "read first" {
                assert_eq!(slot.current().build(), 1);
            }
            let reader = Arc::clone(&slot);
            AT_EXIT.with(|a| a.borrow_mut().0 = Some((reader, send)));
            if order == "set first" {
                assert_eq!(slot.current().build(), 1);
            }
        })
        .join()
        .unwrap();
        assert_eq!(
            answers.recv().unwrap(),
            11,
            "{order}: both reads saw build 1"
        );
    }
    slot.swap(fixture("greeter-v2")).unwrap();
    unloads(&slot, 1);
}

#[test]
fn with_a_threads_eight_slots_held_owned_reads_and_readers_count_and_counted_guards_drop_anywhere()
{
    let slot = Slot::<Greeter>::load(fixture("greeter-v1")).unwrap();
    let held: Vec<_> = (0..8).map(|_| slot.current()).collect();
    let counted: Vec<_> = (0..3).map(|_| slot.current()).collect();
    let owned = slot.current_owned();
    let mut reader = slot.reader();
    assert_eq!(reader.get().build(), 1);
    slot.swap(fixture("greeter-v2")).unwrap();
    // The reader refreshes with every slot of this thread's held.
    assert_eq!(reader.get().build(), 2);
    assert_eq!(slot.current().build(), 2);
    assert!(held.iter().chain(&counted).all(|g| g.build() == 1));
    assert_eq!(owned.build(), 1);
    // Counted guards given up on another thread.
    std::thread::spawn(move || drop(counted)).join().unwrap();
    drop(held);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_ne!(
        state_of(&slot, 1),
        State::Unloaded,
        "the owned read keeps it"
    );
    drop(owned);
    unloads(&slot, 1);
    assert_eq!(reader.get().build(), 2);
}

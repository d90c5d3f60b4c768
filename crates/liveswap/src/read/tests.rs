//! The hazard slots and the grace period over plain boxed values, one
//! behaviour each. They need no plugin, so they also run under Miri
//! (`.ci/run`), which checks the unsafe code for use after free, data
//! races and leaks; there the fenced protocol runs, as Miri cannot make
//! the `membarrier` call.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::{fence, grace, hazard};

/// A cell holding a boxed value, as a slot holds its version.
fn cell(value: u64) -> AtomicPtr<u64> {
    fence::init();
    AtomicPtr::new(Box::into_raw(Box::new(value)))
}

/// Replaces what `cell` holds with `value` and retires the old box: the
/// returned flag is set when it is freed.
fn replace(cell: &AtomicPtr<u64>, value: u64) -> Arc<AtomicBool> {
    let old = cell.swap(Box::into_raw(Box::new(value)), Ordering::AcqRel);
    let freed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&freed);
    let owned = Owned(old);
    grace::retire(
        old.cast(),
        Box::new(move || {
            // SAFETY: the box came from `Box::into_raw` and is released
            // once, here.
            drop(unsafe { Box::from_raw(owned.get()) });
            flag.store(true, Ordering::Release);
        }),
    );
    freed
}

/// A boxed value's pointer, moved to the thread that frees it.
struct Owned(*mut u64);

// SAFETY: it stands for a `Box<u64>`, which is `Send`.
unsafe impl Send for Owned {}

impl Owned {
    fn get(self) -> *mut u64 {
        self.0
    }
}

/// Whether the value behind `freed` is freed soon: sweeps (as a slot that
/// waits for its versions does) until it is, as the grace thread may have
/// taken the entry and not yet run its release.
fn freed_soon(freed: &AtomicBool) -> bool {
    for _ in 0..100_000 {
        grace::sweep();
        if freed.load(Ordering::Acquire) {
            return true;
        }
        std::thread::yield_now();
    }
    false
}

/// Replaces what `cell` holds while `read` (whatever protects `ptr`, read
/// from `cell`) is held: the old value must stay unfreed and readable
/// until `read` drops, and be freed soon after.
fn replaced_while_read<R>(cell: &AtomicPtr<u64>, read: R, ptr: *mut u64) {
    // SAFETY: `read` protects the box.
    let value = unsafe { *ptr };
    let freed = replace(cell, value + 1);
    grace::sweep();
    assert!(!freed.load(Ordering::Acquire), "freed while read");
    // SAFETY: `read` still protects the box (Miri would see a use after
    // free here if it did not).
    assert_eq!(unsafe { *ptr }, value);
    drop(read);
    assert!(freed_soon(&freed), "not freed once unread");
}

/// Frees what `cell` holds at the end of a test.
fn free(cell: AtomicPtr<u64>) {
    // SAFETY: the cell's box came from `Box::into_raw`; no hazard reads it
    // any more (each test drops its hazards first).
    drop(unsafe { Box::from_raw(cell.into_inner()) });
}

/// These tests run one at a time: one counts records, which another's
/// threads would take (no other unit test of the crate reads a slot; one
/// that did would need this lock too).
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn a_value_read_under_a_hazard_is_freed_only_after_the_hazard_drops() {
    let _alone = alone();
    let cell = cell(1);
    let (hazard, ptr) = hazard::protect(&cell).expect("a free slot");
    replaced_while_read(&cell, hazard, ptr);
    free(cell);
}

/// Under Miri every retire sweeps in place, so there this also holds
/// when the swap's own check is broken; normal builds tell them apart
/// (the grace thread would wait a millisecond first).
#[test]
fn a_value_nobody_reads_is_freed_by_the_swap_itself() {
    let _alone = alone();
    let cell = cell(1);
    let freed = replace(&cell, 2);
    assert!(freed.load(Ordering::Acquire));
    free(cell);
}

#[test]
fn nested_reads_take_further_slots_and_a_ninth_gets_none() {
    let _alone = alone();
    let cell = cell(7);
    let held: Vec<_> = (0..hazard::SLOTS)
        .map(|_| hazard::protect(&cell).expect("a free slot"))
        .collect();
    assert!(hazard::protect(&cell).is_none(), "a ninth slot");
    let (spare, ptr) = hazard::protect_spare(&cell);
    // SAFETY: the spare slot protects it.
    assert_eq!(unsafe { *ptr }, 7);
    drop(spare);
    assert!(hazard::protect(&cell).is_none(), "the eight still held");
    drop(held);
    assert!(hazard::protect(&cell).is_some(), "slots emptied");
    free(cell);
}

#[test]
fn a_value_read_under_a_nested_slot_is_freed_only_after_that_read_ends() {
    let _alone = alone();
    let cell = cell(3);
    let (first, _) = hazard::protect(&cell).expect("a free slot");
    let (second, ptr) = hazard::protect(&cell).expect("a second slot");
    drop(first);
    replaced_while_read(&cell, second, ptr);
    free(cell);
}

#[test]
fn a_value_read_under_the_spare_slot_is_freed_only_after_it_empties() {
    let _alone = alone();
    let cell = cell(5);
    let held: Vec<_> = (0..hazard::SLOTS)
        .map(|_| hazard::protect(&cell).expect("a free slot"))
        .collect();
    let (spare, ptr) = hazard::protect_spare(&cell);
    // The guard slots read it too: empty them, so that only the spare does.
    drop(held);
    replaced_while_read(&cell, spare, ptr);
    free(cell);
}

#[test]
fn a_hazard_dropped_on_another_thread_empties_its_slot() {
    let _alone = alone();
    let cell = cell(1);
    let (hazard, _) = hazard::protect(&cell).expect("a free slot");
    let freed = replace(&cell, 2);
    std::thread::spawn(move || drop(hazard))
        .join()
        .expect("dropping thread");
    assert!(freed_soon(&freed));
    free(cell);
}

#[test]
fn a_value_read_by_another_thread_outlives_the_swap_until_that_read_ends() {
    let _alone = alone();
    let cell = Arc::new(cell(1));
    let (read, release) = (
        Arc::new(std::sync::Barrier::new(2)),
        Arc::new(std::sync::Barrier::new(2)),
    );
    let reader = {
        let (cell, read, release) = (Arc::clone(&cell), Arc::clone(&read), Arc::clone(&release));
        std::thread::spawn(move || {
            let (hazard, ptr) = hazard::protect(&*cell).expect("a free slot");
            read.wait();
            release.wait();
            // SAFETY: the hazard keeps the box alive across the swap.
            let value = unsafe { *ptr };
            drop(hazard);
            value
        })
    };
    read.wait();
    let freed = replace(&cell, 2);
    assert!(!freed.load(Ordering::Acquire), "freed while read");
    release.wait();
    assert_eq!(reader.join().expect("reader"), 1);
    assert!(freed_soon(&freed));
    free(Arc::into_inner(cell).expect("the last handle"));
}

#[test]
fn a_thread_that_ends_hands_its_record_to_the_next() {
    let _alone = alone();
    let cell = Arc::new(cell(1));
    let read_once = || {
        let cell = Arc::clone(&cell);
        std::thread::spawn(move || drop(hazard::protect(&*cell).expect("a free slot")))
            .join()
            .expect("reader");
    };
    read_once();
    let records = hazard::count();
    for _ in 0..3 {
        read_once();
    }
    assert_eq!(hazard::count(), records, "a record per thread");
    free(Arc::into_inner(cell).expect("the last handle"));
}

//! Hazard slots: per thread, the versions its guards are reading.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

/// Hazard slots per thread: guards a thread may hold at once before
/// further ones take an owned reference.
pub(crate) const SLOTS: usize = 8;

/// One thread's hazard slots. Records are never freed: a thread that ends
/// hands its record to the next thread that reads (unless one of its
/// guards still lives elsewhere). Aligned to 128 bytes, so that two
/// threads' records share no cache line (nor an adjacent-line prefetch
/// pair).
#[repr(align(128))]
pub(crate) struct Record {
    /// `SLOTS` for guards, and a spare used only inside [`protect_spare`]
    /// (never held past its caller's return).
    slots: [AtomicPtr<()>; SLOTS + 1],
    /// Owned by a live thread.
    taken: AtomicBool,
    next: AtomicPtr<Record>,
}

/// Every record ever made, newest first.
static HEAD: AtomicPtr<Record> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    /// This thread's record, once it read.
    static RECORD: Cell<Option<&'static Record>> = const { Cell::new(None) };
    /// Hands the record back when the thread ends.
    static RELEASE: Release = const { Release };
}

struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        let Ok(Some(record)) = RECORD.try_with(Cell::take) else {
            return;
        };
        // Handed on even if a guard of this thread's lives on elsewhere:
        // the next owner fills only empty slots, and that guard's slot is
        // not empty until the guard drops (on any thread).
        record.taken.store(false, Ordering::Release);
    }
}

/// The records, for the swapper's pass.
fn records() -> impl Iterator<Item = &'static Record> {
    // SAFETY: records are leaked boxes, never freed, linked once.
    let mut next = unsafe { HEAD.load(Ordering::Acquire).as_ref() };
    std::iter::from_fn(move || {
        let record = next?;
        // SAFETY: as above.
        next = unsafe { record.next.load(Ordering::Acquire).as_ref() };
        Some(record)
    })
}

/// How many records were ever made.
#[cfg(test)]
pub(crate) fn count() -> usize {
    records().count()
}

/// A free record, or a new one.
fn take_record() -> &'static Record {
    for record in records() {
        if !record.taken.load(Ordering::Relaxed)
            && record
                .taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            return record;
        }
    }
    let record: &'static Record = Box::leak(Box::new(Record {
        slots: Default::default(),
        taken: AtomicBool::new(true),
        next: AtomicPtr::new(std::ptr::null_mut()),
    }));
    let mut head = HEAD.load(Ordering::Acquire);
    loop {
        record.next.store(head, Ordering::Relaxed);
        match HEAD.compare_exchange_weak(
            head,
            std::ptr::from_ref(record).cast_mut(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => return record,
            Err(now) => head = now,
        }
    }
}

/// This thread's record; `None` during the thread's own exit (another
/// thread-local's destructor reading), when its hand-back can no longer
/// be registered.
#[inline]
fn record() -> Option<&'static Record> {
    if let Ok(Some(record)) = RECORD.try_with(Cell::get) {
        return Some(record);
    }
    if RELEASE.try_with(|_| ()).is_err() {
        return None;
    }
    let record = take_record();
    if RECORD.try_with(|r| r.set(Some(record))).is_err() {
        record.taken.store(false, Ordering::Release);
        return None;
    }
    Some(record)
}

/// A published hazard: a slot of some thread's record holding the version
/// a guard reads. Dropping it (on any thread) empties the slot. One word.
pub(crate) struct Hazard {
    slot: &'static AtomicPtr<()>,
}

impl Drop for Hazard {
    #[inline]
    fn drop(&mut self) {
        self.slot.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// A hazard in a spare slot, held only while its taker counts a
/// reference: dropping it empties the slot, then hands back a record
/// taken for it alone (during its thread's exit).
pub(crate) struct Spare {
    slot: &'static AtomicPtr<()>,
    transient: Option<&'static Record>,
}

impl Drop for Spare {
    fn drop(&mut self) {
        self.slot.store(std::ptr::null_mut(), Ordering::Release);
        if let Some(record) = self.transient {
            record.taken.store(false, Ordering::Release);
        }
    }
}

/// Protects the pointer `cell` holds: returns it with the hazard that
/// keeps it from being released, or `None` when this thread's slots are
/// all taken (by guards it took, wherever they are now) or its record is
/// gone (during its exit). `cell` never holds null.
#[inline]
pub(crate) fn protect<T>(cell: &AtomicPtr<T>) -> Option<(Hazard, *mut T)> {
    let record = record()?;
    // Only this thread fills its slots; any thread may empty one. The
    // acquire pairs with the release that emptied it (a guard dropped
    // here or elsewhere), so that guard's reads happen before the swapper
    // sees the slot hold something else.
    // The first slot is free unless guards nest: tested in line, the
    // others out of line, so that the usual read runs straight through.
    let first = &record.slots[0];
    let slot = if first.load(Ordering::Acquire).is_null() {
        first
    } else {
        nested(record)?
    };
    Some((Hazard { slot }, publish(slot, cell)))
}

/// A free guard slot of `record` other than the first, for a nested
/// guard.
#[cold]
#[inline(never)]
fn nested(record: &'static Record) -> Option<&'static AtomicPtr<()>> {
    record.slots[1..SLOTS]
        .iter()
        .find(|s| s.load(Ordering::Acquire).is_null())
}

/// Protects the pointer `cell` holds with a spare slot, for the moment it
/// takes to count a reference when every other slot of this thread's is
/// held, or during its exit: this thread's record's spare, or a record
/// taken for the hazard alone. The hazard must be dropped before the
/// caller returns. Not for signal handlers: a handler interrupting this
/// would share the spare.
pub(crate) fn protect_spare<T>(cell: &AtomicPtr<T>) -> (Spare, *mut T) {
    let (record, transient) = match record() {
        Some(record) => (record, None),
        None => {
            let record = take_record();
            (record, Some(record))
        }
    };
    let slot = &record.slots[SLOTS];
    (Spare { slot, transient }, publish(slot, cell))
}

/// Publishes in `slot` (empty, this thread's) what `cell` holds, until it
/// is still what `cell` holds after the fence; returns it.
#[inline]
fn publish<T>(slot: &'static AtomicPtr<()>, cell: &AtomicPtr<T>) -> *mut T {
    let ptr = cell.load(Ordering::Acquire);
    if holds(slot, cell, ptr) {
        return ptr;
    }
    republish(slot, cell)
}

/// [`publish`]'s loop, after a swap replaced the pointer between its load
/// and its check: out of line, as that is rare, so that the usual read
/// runs straight through.
#[cold]
#[inline(never)]
fn republish<T>(slot: &'static AtomicPtr<()>, cell: &AtomicPtr<T>) -> *mut T {
    loop {
        let ptr = cell.load(Ordering::Acquire);
        if holds(slot, cell, ptr) {
            return ptr;
        }
    }
}

/// Stores `ptr` in `slot`; whether `cell` still holds it after the fence.
#[inline]
fn holds<T>(slot: &AtomicPtr<()>, cell: &AtomicPtr<T>, ptr: *mut T) -> bool {
    // Release: whatever this thread read under the slot's previous hazard
    // happens before a swapper that sees this value.
    slot.store(ptr.cast(), Ordering::Release);
    // Orders the store before the check below: a compiler fence when the
    // swapper's `membarrier` stands for the hardware fence (see
    // `fence::barrier`), else a full fence.
    super::fence::reader_fence();
    cell.load(Ordering::Acquire) == ptr
}

/// Whether any hazard slot holds `ptr`. Called by the swapper after the
/// barrier that followed the pointer's replacement: from then on no slot
/// newly protects `ptr` (a reader may still store it, but its check then
/// fails and it tries again).
pub(crate) fn in_use(ptr: *const ()) -> bool {
    records().any(|record| {
        record
            .slots
            .iter()
            .any(|s| std::ptr::eq(s.load(Ordering::Acquire), ptr))
    })
}

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
        // A guard that outlives its thread (sent elsewhere) still points
        // at a slot: then the record is never handed on.
        if record
            .slots
            .iter()
            .all(|s| s.load(Ordering::Acquire).is_null())
        {
            record.taken.store(false, Ordering::Release);
        }
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

/// This thread's record.
#[inline]
fn record() -> &'static Record {
    if let Some(record) = RECORD.with(Cell::get) {
        return record;
    }
    let record = take_record();
    RECORD.with(|r| r.set(Some(record)));
    // Registers the hand-back at thread exit. During the thread's own
    // exit (another thread-local's destructor reading), it cannot be
    // registered: the record then stays taken.
    let _ = RELEASE.try_with(|_| ());
    record
}

/// A published hazard: a slot of some thread's record holding the version
/// a guard reads. Dropping it (on any thread) empties the slot.
pub(crate) struct Hazard {
    slot: &'static AtomicPtr<()>,
}

impl Drop for Hazard {
    #[inline]
    fn drop(&mut self) {
        self.slot.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// Protects the pointer `cell` holds: returns it with the hazard that
/// keeps it from being released, or `None` when this thread's slots are
/// all taken. `cell` never holds null.
#[inline]
pub(crate) fn protect<T>(cell: &AtomicPtr<T>) -> Option<(Hazard, *mut T)> {
    let record = record();
    // Only this thread fills its slots; any thread may empty one.
    let slot = record.slots[..SLOTS]
        .iter()
        .find(|s| s.load(Ordering::Relaxed).is_null())?;
    Some(publish(slot, cell))
}

/// Protects the pointer `cell` holds with this thread's spare slot, for
/// the moment it takes to count a reference when every other slot is
/// held. The hazard must be dropped before the caller returns.
pub(crate) fn protect_spare<T>(cell: &AtomicPtr<T>) -> (Hazard, *mut T) {
    publish(&record().slots[SLOTS], cell)
}

/// Publishes in `slot` (empty, this thread's) what `cell` holds, until it
/// is still what `cell` holds after the fence.
#[inline]
fn publish<T>(slot: &'static AtomicPtr<()>, cell: &AtomicPtr<T>) -> (Hazard, *mut T) {
    let mut ptr = cell.load(Ordering::Acquire);
    loop {
        slot.store(ptr.cast(), Ordering::Relaxed);
        // Orders the store before the check below: a compiler fence when
        // the swapper's `membarrier` stands for the hardware fence (see
        // `grace::barrier`), else a full fence.
        super::grace::reader_fence();
        let now = cell.load(Ordering::Acquire);
        if now == ptr {
            return (Hazard { slot }, ptr);
        }
        ptr = now;
    }
}

/// Whether any hazard slot holds `ptr`. Called by the swapper after
/// [`grace::barrier`](super::grace::barrier) that followed the pointer's
/// replacement: from then on no slot takes `ptr` anew.
pub(crate) fn in_use(ptr: *const ()) -> bool {
    records().any(|record| {
        record
            .slots
            .iter()
            .any(|s| std::ptr::eq(s.load(Ordering::Acquire), ptr))
    })
}

//! One generation's account: its allocator table, its counters, and what
//! becomes of its leftovers.

use std::alloc::Layout;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::ledger::{self, Entry};
use crate::abi::alloc::HostAllocator;

/// What one generation's code did with the heap, in bytes. The control
/// socket's `status` carries it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "control", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct HeapReport {
    /// Allocated by its code, all told.
    pub allocated: u64,
    /// Freed again by plugin code.
    pub freed: u64,
    /// In values that crossed to the host, which the host owns and frees.
    pub handed_to_host: u64,
    /// Still allocated and recorded: its statics' and thread-locals' heap
    /// while it is loaded.
    pub live: u64,
    /// Freed by the library after its unload was verified: what its
    /// statics held.
    pub reclaimed: u64,
    /// Left allocated after its unload because reclaim is off for it.
    pub left: u64,
    /// Blocks of its code the ledger could not record (out of memory):
    /// never reclaimed.
    pub untracked_blocks: u64,
    /// Why its heap is not reclaimed at unload, if it is not.
    pub reclaim_off: Option<String>,
}

/// A generation's heap account. Its allocator table is lent to the plugin
/// (one strong count, given back by [`Account::settle`] once the library is
/// gone), so it outlives every allocation call of the plugin's code.
pub(crate) struct Account {
    table: HostAllocator,
    allocated: AtomicU64,
    freed: AtomicU64,
    adopted: AtomicU64,
    reclaimed: AtomicU64,
    left: AtomicU64,
    untracked: AtomicU64,
    off: OnceLock<String>,
    /// The count lent with the table, not yet given back.
    lent: AtomicBool,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Account").field(&self.report()).finish()
    }
}

impl Account {
    /// A new account, its table ready to lend.
    pub(crate) fn new() -> Arc<Account> {
        super::ACTIVE.store(true, Ordering::Relaxed);
        Arc::new_cyclic(|me: &std::sync::Weak<Account>| Account {
            table: HostAllocator::new(
                me.as_ptr().cast(),
                host_alloc,
                host_alloc_zeroed,
                host_dealloc,
                host_realloc,
            ),
            allocated: AtomicU64::new(0),
            freed: AtomicU64::new(0),
            adopted: AtomicU64::new(0),
            reclaimed: AtomicU64::new(0),
            left: AtomicU64::new(0),
            untracked: AtomicU64::new(0),
            off: OnceLock::new(),
            lent: AtomicBool::new(false),
        })
    }

    /// The table to hand the plugin's entry point. It stays valid until
    /// [`Account::settle`] (a strong count is lent with it), so a library
    /// never verified gone keeps its account for good.
    pub(crate) fn lend(self: &Arc<Self>) -> *const HostAllocator {
        if !self.lent.swap(true, Ordering::AcqRel) {
            std::mem::forget(Arc::clone(self));
        }
        &self.table
    }

    /// Reclaim is off for this generation: its leftovers stay allocated.
    pub(crate) fn keep_heap(&self, reason: String) {
        let _ = self.off.set(reason);
    }

    /// The library is gone: frees what its code left allocated (or, with
    /// reclaim off, forgets it) and gives back the count lent with the
    /// table.
    ///
    /// # Safety
    ///
    /// The generation's library was verified unloaded: no code of it runs
    /// or can run again. Called once.
    pub(crate) unsafe fn settle(self: &Arc<Self>) {
        let left = ledger::drain(self.key());
        if self.off.get().is_some() {
            let bytes: usize = left.iter().map(|(_, e)| e.size).sum();
            self.left.fetch_add(bytes as u64, Ordering::Relaxed);
            super::LEFT_IN_PROCESS.fetch_add(bytes as u64, Ordering::Relaxed);
        } else {
            let mut bytes = 0u64;
            for (addr, entry) in left {
                // SAFETY: the block was allocated by the host's allocator
                // with this layout (recorded when plugin code allocated
                // it) and is in no value the host holds: every value that
                // crossed to the host was walked and its blocks adopted
                // (taken out of the ledger), which reclaim being on
                // guarantees for every type that can cross. So only the
                // library's statics and thread-locals pointed at it, and
                // with the library gone, no code reads them again.
                unsafe {
                    std::alloc::dealloc(
                        addr as *mut u8,
                        Layout::from_size_align_unchecked(entry.size, entry.align),
                    );
                }
                bytes += entry.size as u64;
            }
            self.reclaimed.fetch_add(bytes, Ordering::Relaxed);
            super::RECLAIMED_IN_PROCESS.fetch_add(bytes, Ordering::Relaxed);
        }
        if self.lent.swap(false, Ordering::AcqRel) {
            // SAFETY: the count `lend` forgot, given back once (the flag);
            // no code of the library can reach the table any more.
            drop(unsafe { Arc::from_raw(Arc::as_ptr(self)) });
        }
    }

    /// What the generation did with the heap so far.
    pub(crate) fn report(&self) -> HeapReport {
        let allocated = self.allocated.load(Ordering::Relaxed);
        let freed = self.freed.load(Ordering::Relaxed);
        let handed_to_host = self.adopted.load(Ordering::Relaxed);
        let reclaimed = self.reclaimed.load(Ordering::Relaxed);
        let left = self.left.load(Ordering::Relaxed);
        HeapReport {
            allocated,
            freed,
            handed_to_host,
            live: allocated.saturating_sub(freed + handed_to_host + reclaimed + left),
            reclaimed,
            left,
            untracked_blocks: self.untracked.load(Ordering::Relaxed),
            reclaim_off: self.off.get().cloned(),
        }
    }

    fn key(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }
}

/// The account an entry names.
///
/// # Safety
///
/// The entry came from the ledger and its shard is still locked: its
/// account is alive (the ledger's invariant).
unsafe fn owner(entry: &Entry) -> &Account {
    // SAFETY: the caller's guarantee.
    unsafe { &*(entry.account as *const Account) }
}

/// Takes a block out of the ledger because the host now owns it.
pub(super) fn adopt(addr: usize) {
    ledger::remove(addr, |entry| {
        // SAFETY: from the ledger, its shard still locked.
        let account = unsafe { owner(entry) };
        account
            .adopted
            .fetch_add(entry.size as u64, Ordering::Relaxed);
    });
}

/// Records a block `account`'s code allocated.
fn record(account: &Account, ptr: *mut u8, size: usize, align: usize) {
    account.allocated.fetch_add(size as u64, Ordering::Relaxed);
    let entry = Entry {
        account: account.key(),
        size,
        align,
    };
    if !ledger::insert(ptr as usize, entry) {
        account.untracked.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes a freed block out of the ledger, counting it against the account
/// that allocated it.
fn release(ptr: *mut u8) {
    ledger::remove(ptr as usize, |entry| {
        // SAFETY: from the ledger, its shard still locked.
        let account = unsafe { owner(entry) };
        account
            .freed
            .fetch_add(entry.size as u64, Ordering::Relaxed);
    });
}

// SAFETY (all four): `ctx` is the table's account, which lives while the
// plugin can call (`Account::lend`); the plugin's `RoutedAllocator` calls
// these with the size and alignment of a valid `Layout` its own std gave
// it, under `GlobalAlloc`'s contract, which these forward unchanged. None
// of them panics: the ledger's locks ignore poisoning, and its maps grow
// with `try_reserve`.
unsafe extern "C" fn host_alloc(ctx: *const c_void, size: usize, align: usize) -> *mut u8 {
    // SAFETY: see above.
    let ptr = unsafe { std::alloc::alloc(Layout::from_size_align_unchecked(size, align)) };
    if !ptr.is_null() {
        // SAFETY: see above.
        record(unsafe { &*ctx.cast::<Account>() }, ptr, size, align);
    }
    ptr
}
unsafe extern "C" fn host_alloc_zeroed(ctx: *const c_void, size: usize, align: usize) -> *mut u8 {
    // SAFETY: see above.
    let ptr = unsafe { std::alloc::alloc_zeroed(Layout::from_size_align_unchecked(size, align)) };
    if !ptr.is_null() {
        // SAFETY: see above.
        record(unsafe { &*ctx.cast::<Account>() }, ptr, size, align);
    }
    ptr
}
unsafe extern "C" fn host_dealloc(_ctx: *const c_void, ptr: *mut u8, size: usize, align: usize) {
    // Out of the ledger first: once freed, the address may be handed out
    // (and recorded) again at once.
    release(ptr);
    // SAFETY: see above.
    unsafe { std::alloc::dealloc(ptr, Layout::from_size_align_unchecked(size, align)) }
}
unsafe extern "C" fn host_realloc(
    ctx: *const c_void,
    ptr: *mut u8,
    size: usize,
    align: usize,
    new: usize,
) -> *mut u8 {
    // Counted freed now. If the move fails, the block stands but is no
    // longer recorded: reclaim never frees it, which is safe (putting the
    // entry back could name an account settled meanwhile).
    release(ptr);
    // SAFETY: see above.
    let moved =
        unsafe { std::alloc::realloc(ptr, Layout::from_size_align_unchecked(size, align), new) };
    if moved.is_null() {
        // SAFETY: see above.
        let account = unsafe { &*ctx.cast::<Account>() };
        account.untracked.fetch_add(1, Ordering::Relaxed);
        return moved;
    }
    // SAFETY: see above.
    record(unsafe { &*ctx.cast::<Account>() }, moved, new, align);
    moved
}

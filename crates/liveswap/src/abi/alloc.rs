//! One allocator for host and plugin.
//!
//! Values that cross (a `String`, a `Vec`) are allocated on one side and
//! freed on the other. A plugin is a `cdylib` with its own copy of std and
//! its own `#[global_allocator]`; if the host set another one (jemalloc,
//! mimalloc), the host would free plugin memory with the wrong allocator.
//! So `export!` makes [`RoutedAllocator`] the plugin's global allocator,
//! and the entry point hands it the host's [`HostAllocator`]: from then on
//! every allocation of the plugin's code goes through the host's global
//! allocator, whatever it is, and is recorded in the generation's heap
//! account (`heap`), so that what its statics held is freed at unload.
//!
//! Before the entry point runs (while `dlopen` runs the library's static
//! constructors) the plugin can only use the system allocator. Those
//! allocations are counted, and a plugin that still holds any when the
//! entry point runs is refused: its memory could later be freed through
//! the host's allocator. Rust code allocates nothing at load time unless a
//! constructor (such as the `ctor` crate's) asks it to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

/// The host's global allocator, as `extern "C"` functions, with the
/// account of the generation that uses it (`ctx`): the host records every
/// block the plugin's code allocates there (see the `heap` module).
///
/// Field order is part of the wire contract: `ctx`, `alloc`,
/// `alloc_zeroed`, `dealloc`, `realloc`.
#[repr(C)]
pub struct HostAllocator {
    ctx: *const c_void,
    alloc: unsafe extern "C" fn(ctx: *const c_void, size: usize, align: usize) -> *mut u8,
    alloc_zeroed: unsafe extern "C" fn(ctx: *const c_void, size: usize, align: usize) -> *mut u8,
    dealloc: unsafe extern "C" fn(ctx: *const c_void, ptr: *mut u8, size: usize, align: usize),
    realloc: unsafe extern "C" fn(
        ctx: *const c_void,
        ptr: *mut u8,
        size: usize,
        align: usize,
        new: usize,
    ) -> *mut u8,
}

// SAFETY: `ctx` is the host's account for one generation, whose state is
// atomic counters and a lock-guarded ledger: shared and used from any
// thread by design; the functions are plain code of the host.
unsafe impl Sync for HostAllocator {}
// SAFETY: as for `Sync`.
unsafe impl Send for HostAllocator {}

/// The host's allocation functions, each taking the table's `ctx`.
type AllocFn = unsafe extern "C" fn(*const c_void, usize, usize) -> *mut u8;
type DeallocFn = unsafe extern "C" fn(*const c_void, *mut u8, usize, usize);
type ReallocFn = unsafe extern "C" fn(*const c_void, *mut u8, usize, usize, usize) -> *mut u8;

impl HostAllocator {
    /// A table whose functions are called with `ctx`.
    pub(crate) const fn new(
        ctx: *const c_void,
        alloc: AllocFn,
        alloc_zeroed: AllocFn,
        dealloc: DeallocFn,
        realloc: ReallocFn,
    ) -> Self {
        HostAllocator {
            ctx,
            alloc,
            alloc_zeroed,
            dealloc,
            realloc,
        }
    }
}

/// A plugin's global allocator: the system allocator until the entry point
/// attaches the host's, the host's after.
pub struct RoutedAllocator {
    host: AtomicPtr<HostAllocator>,
    /// Blocks allocated from the system allocator and not yet freed, or
    /// [`ATTACHED`] once the switch to the host's allocator is decided.
    early: AtomicIsize,
}

/// `early` once the host's allocator is chosen: no block may be taken from
/// (or given back to) the system allocator from then on.
const ATTACHED: isize = isize::MIN;

/// Which allocator serves one call.
enum Route<'a> {
    Host(&'a HostAllocator),
    System,
}

impl RoutedAllocator {
    /// Not yet attached.
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        RoutedAllocator {
            host: AtomicPtr::new(std::ptr::null_mut()),
            early: AtomicIsize::new(0),
        }
    }

    /// Routes every later allocation to `host`. Refused, with the number of
    /// blocks still held, if the plugin holds memory from the system
    /// allocator. The decision is one compare-and-swap on the count, so no
    /// system block can be taken between the check and the switch, even by
    /// a thread of the plugin's own.
    pub(crate) fn attach(&self, host: *const HostAllocator) -> Result<(), isize> {
        self.early
            .compare_exchange(0, ATTACHED, Ordering::AcqRel, Ordering::Acquire)?;
        self.host.store(host.cast_mut(), Ordering::Release);
        Ok(())
    }

    #[inline]
    fn host(&self) -> Option<&HostAllocator> {
        // SAFETY: a non-null pointer was stored by `attach` from the table
        // the host lent this generation, which stays valid for as long as
        // the library can run (the host's account keeps it).
        unsafe { self.host.load(Ordering::Acquire).as_ref() }
    }

    /// The allocator for one call; `delta` is what a system-allocator call
    /// changes the count of early blocks by (+1 alloc, -1 free, 0 realloc).
    #[inline]
    fn route(&self, delta: isize) -> Route<'_> {
        if let Some(host) = self.host() {
            return Route::Host(host);
        }
        let mut early = self.early.load(Ordering::Acquire);
        loop {
            if early == ATTACHED {
                // Attached, the pointer about to be stored: wait for it.
                loop {
                    if let Some(host) = self.host() {
                        return Route::Host(host);
                    }
                    std::hint::spin_loop();
                }
            }
            match self.early.compare_exchange_weak(
                early,
                early + delta,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Route::System,
                Err(now) => early = now,
            }
        }
    }
}

// SAFETY: every method forwards to one allocator, chosen by `route`: blocks
// taken from the system allocator before `attach` are counted, and
// `attach` switches only when none is held (one compare-and-swap, after
// which no call can reach the system allocator), so a block is always freed
// by the allocator that made it.
unsafe impl GlobalAlloc for RoutedAllocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.route(1) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.alloc)(h.ctx, layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.alloc(layout) },
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.route(1) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.alloc_zeroed)(h.ctx, layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.alloc_zeroed(layout) },
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.route(-1) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.dealloc)(h.ctx, ptr, layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.dealloc(ptr, layout) },
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match self.route(0) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe {
                (h.realloc)(h.ctx, ptr, layout.size(), layout.align(), new_size)
            },
            // SAFETY: as above.
            Route::System => unsafe { System.realloc(ptr, layout, new_size) },
        }
    }
}

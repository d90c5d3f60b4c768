//! One allocator for host and plugin.
//!
//! Values that cross (a `String`, a `Vec`) are allocated on one side and
//! freed on the other. A plugin is a `cdylib` with its own copy of std and
//! its own `#[global_allocator]`; if the host set another one (jemalloc,
//! mimalloc), the host would free plugin memory with the wrong allocator.
//! So `export!` makes [`RoutedAllocator`] the plugin's global allocator,
//! and the entry point hands it the host's [`HostAllocator`]: from then on
//! every allocation of the plugin's code goes through the host's global
//! allocator, whatever it is.
//!
//! Before the entry point runs (while `dlopen` runs the library's static
//! constructors) the plugin can only use the system allocator. Those
//! allocations are counted, and a plugin that still holds any when the
//! entry point runs is refused: its memory could later be freed through
//! the host's allocator. Rust code allocates nothing at load time unless a
//! constructor (such as the `ctor` crate's) asks it to.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

/// The host's global allocator, as `extern "C"` functions.
#[repr(C)]
pub struct HostAllocator {
    alloc: unsafe extern "C" fn(size: usize, align: usize) -> *mut u8,
    alloc_zeroed: unsafe extern "C" fn(size: usize, align: usize) -> *mut u8,
    dealloc: unsafe extern "C" fn(ptr: *mut u8, size: usize, align: usize),
    realloc: unsafe extern "C" fn(ptr: *mut u8, size: usize, align: usize, new: usize) -> *mut u8,
}

/// This process's global allocator (in a host: the host's).
pub(crate) static HOST_ALLOCATOR: HostAllocator = HostAllocator {
    alloc: host_alloc,
    alloc_zeroed: host_alloc_zeroed,
    dealloc: host_dealloc,
    realloc: host_realloc,
};

// SAFETY (all four): the plugin's `RoutedAllocator` calls these with the
// size and alignment of a valid `Layout` it was given by its own std, under
// `GlobalAlloc`'s contract, which these forward unchanged.
unsafe extern "C" fn host_alloc(size: usize, align: usize) -> *mut u8 {
    // SAFETY: see above.
    unsafe { std::alloc::alloc(Layout::from_size_align_unchecked(size, align)) }
}
unsafe extern "C" fn host_alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    // SAFETY: see above.
    unsafe { std::alloc::alloc_zeroed(Layout::from_size_align_unchecked(size, align)) }
}
unsafe extern "C" fn host_dealloc(ptr: *mut u8, size: usize, align: usize) {
    // SAFETY: see above.
    unsafe { std::alloc::dealloc(ptr, Layout::from_size_align_unchecked(size, align)) }
}
unsafe extern "C" fn host_realloc(ptr: *mut u8, size: usize, align: usize, new: usize) -> *mut u8 {
    // SAFETY: see above.
    unsafe { std::alloc::realloc(ptr, Layout::from_size_align_unchecked(size, align), new) }
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
        // SAFETY: a non-null pointer was stored by `attach` from the host's
        // `&'static HOST_ALLOCATOR`, and the host outlives its plugins.
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
            Route::Host(h) => unsafe { (h.alloc)(layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.alloc(layout) },
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match self.route(1) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.alloc_zeroed)(layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.alloc_zeroed(layout) },
        }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.route(-1) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.dealloc)(ptr, layout.size(), layout.align()) },
            // SAFETY: as above.
            Route::System => unsafe { System.dealloc(ptr, layout) },
        }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match self.route(0) {
            // SAFETY: forwarded under `GlobalAlloc`'s contract.
            Route::Host(h) => unsafe { (h.realloc)(ptr, layout.size(), layout.align(), new_size) },
            // SAFETY: as above.
            Route::System => unsafe { System.realloc(ptr, layout, new_size) },
        }
    }
}
